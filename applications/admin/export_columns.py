"""The export with chosen columns (issue 12): a page of the applications list where staff tick the columns (their
last choice is offered again) and the format; the file holds the applications of the list as filtered when the page
was opened, within the user's scope. CSV is streamed; XLSX is written row by row into a temporary file."""

from __future__ import annotations

import copy
import logging

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, QueryDict, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from applications.export_columns import (
    COLUMNS,
    DEFAULT_COLUMNS,
    available_columns,
    export_rows,
    grouped_columns,
    headers,
    stream_csv,
    write_xlsx,
)
from applications.models import ExportColumns
from ecandidat import exports
from ecandidat.admin_base import changelist_of

logger = logging.getLogger(__name__)

STREAMED_EXPORT_LIMIT = 100_000


class ExportForm(forms.Form):
    columns = forms.MultipleChoiceField(
        label=_("Columns"),
        choices=[(key, column.label) for key, column in COLUMNS.items()],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Tick at least one column.")},
    )
    fmt = forms.ChoiceField(
        label=_("Format"), choices=[("xlsx", "XLSX"), ("csv", "CSV")], initial="xlsx", widget=forms.RadioSelect
    )
    filters = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The list's query string, never typed: one holding NUL is refused as the list refuses it, a 400
        # (``changelist_of``), not with an error on this hidden field.
        self.fields["filters"].validators = []


def _filtered_queryset(model_admin, request, filters: str):
    """The list's queryset with the filters of the page the export was asked from (the user's scope applies)."""
    filtered = copy.copy(request)
    filtered.GET = QueryDict(filters)
    return changelist_of(model_admin, filtered).get_queryset(filtered)


def export_columns_view(model_admin, request):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    saved = ExportColumns.objects.filter(user=request.user).values_list("columns", flat=True).first()
    if request.method == "POST":
        form = ExportForm(request.POST)
    else:
        filters = request.GET.get("_changelist_filters", "")
        form = ExportForm(initial={"columns": saved or DEFAULT_COLUMNS, "fmt": "xlsx", "filters": filters})
    keys = []
    if request.method == "POST" and form.is_valid():
        # A saved choice may hold a column no longer offered (the régime and fees once SIS_REGIME_ENTRY is off).
        keys = [key for key in available_columns() if key in form.cleaned_data["columns"]]
        if not keys:
            form.add_error("columns", _("Tick at least one column."))
    if keys:
        # The list's filters first: filters the list refuses are a 400 (ForgedListQuery) before the choice is saved.
        queryset = _filtered_queryset(model_admin, request, form.cleaned_data["filters"])
        ExportColumns.objects.update_or_create(user=request.user, defaults={"columns": keys})
        count = queryset.count()
        if count > STREAMED_EXPORT_LIMIT:
            form.add_error(
                None,
                gettext("%(count)d applications: at most %(limit)d can be exported; add filters.")
                % {"count": count, "limit": STREAMED_EXPORT_LIMIT},
            )
        else:
            logger.info("export of %s applications × %s columns by %s", count, len(keys), request.user.username)
            return export_response(queryset, keys, form.cleaned_data["fmt"])
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": gettext("Export with chosen columns"),
        "subtitle": None,
        "form": form,
        "groups": [
            (label, [(column, column.key in (form["columns"].value() or [])) for column in columns])
            for label, columns in grouped_columns()
        ],
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/applications/application/export_columns.html", context)


def export_response(queryset, keys: list[str], fmt: str):
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    rows = export_rows(queryset, keys)
    if fmt == "csv":
        # Streamed: the rows are made while the response is read, in the request's language as the headers are.
        rows = exports.in_language(translation.get_language(), rows)
        response = StreamingHttpResponse(
            (line.encode("utf-8") for line in stream_csv(headers(keys), rows)), content_type=exports.CSV_CONTENT_TYPE
        )
        response["Content-Disposition"] = f'attachment; filename="candidatures-{stamp}.csv"'
        return response
    output = write_xlsx(headers(keys), rows, title=gettext("Applications"))
    return FileResponse(
        output,
        as_attachment=True,
        filename=f"candidatures-{stamp}.xlsx",
        content_type=exports.XLSX_CONTENT_TYPE,
    )


def export_columns_urls(model_admin) -> list:
    wrap = model_admin.admin_site.admin_view
    return [
        path(
            "export-colonnes/",  # not under export/<fmt>/, which comes first
            wrap(lambda request: export_columns_view(model_admin, request)),
            name="applications_application_export_columns",
        )
    ]
