"""The export with chosen columns (issue 12): a page of the applications list where staff tick the columns (their
last choice is offered again) and the format; the file holds the applications of the list as filtered when the page
was opened, within the user's scope. Up to ``EXPORT_IN_REQUEST_MAX_ROWS`` applications (``applications.export_jobs``)
the file is the answer: the CSV streamed, the XLSX written row by row into a temporary file. Above, the export is
built in the background (an ``ExportJob``): its page shows the progress, then the link to the file, to its requester
only (anyone else: 404)."""

from __future__ import annotations

import copy
import logging

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponseRedirect, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.formats import number_format
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
from applications.export_jobs import (
    EXPORT_RETENTION,
    in_request_max_rows,
    is_stalled,
    request_export,
    requeue_lost_export,
)
from applications.models import Application, ExportColumns, ExportJob
from ecandidat import exports
from ecandidat.admin_base import bound_view, changelist_of, is_too_long_search, too_long_search_message
from ecandidat.downloads import stored_file_response

logger = logging.getLogger(__name__)

# The most one export holds (in the background above ``EXPORT_IN_REQUEST_MAX_ROWS``: minutes, never in a request).
STREAMED_EXPORT_LIMIT = 100_000
# The list's query string the page carries (its filters, search and order): a few hundred characters; a forged one
# holding thousands of search words ran for minutes in the database.
FILTERS_MAX_LENGTH = 4000
# Seconds between two updates of the progress page's live region by static/js/job_progress.js (no reload of the page).
REFRESH_SECONDS = 3


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

    def clean_filters(self):
        filters = self.cleaned_data["filters"]
        # Checked here rather than by the field's max_length, whose validator goes with the NUL one above.
        if len(filters) > FILTERS_MAX_LENGTH or is_too_long_search(QueryDict(filters).get("q", "")):
            raise forms.ValidationError(too_long_search_message())
        return filters


def _filtered_queryset(model_admin, request, filters: str):
    """The list's queryset with the filters of the page the export was asked from (the user's scope applies)."""
    filtered = copy.copy(request)
    filtered.GET = QueryDict(filters)
    return changelist_of(model_admin, filtered).get_queryset(filtered)


def scoped_queryset(user, filters: str):
    """The list's queryset for ``user`` now, with ``filters`` (a background export, at build time): None when
    ``user`` may no longer read the list (left the staff, lost every right)."""
    model_admin = admin.site.get_model_admin(Application)
    request = HttpRequest()
    request.method = "GET"
    request.user = user
    request.path = reverse("admin:applications_application_changelist")
    if not (user.is_active and user.is_staff and model_admin.has_view_permission(request)):
        return None
    return _filtered_queryset(model_admin, request, filters)


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
        elif count > in_request_max_rows():
            # Minutes of work: in the background, with its progress (the worker timeout cut it in the request).
            return queue_export(
                request, filters=form.cleaned_data["filters"], keys=keys, fmt=form.cleaned_data["fmt"], count=count
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


def queue_export(request, *, filters: str, keys: list[str], fmt: str, count: int) -> HttpResponseRedirect:
    """Record the export of the list filtered by ``filters`` (its query string, without ``?``) with the columns
    ``keys``, to be built in the background (``request_export``), and open the job's page, which says so; for this
    export and the list's plain one above ``EXPORT_IN_REQUEST_MAX_ROWS`` (``applications.admin.exports``)."""
    job = request_export(actor=request.user, filters=filters, columns=keys, fmt=fmt, total=count)
    logger.info("export of %s applications × %s columns by %s queued", count, len(keys), request.user.username)
    messages.info(
        request,
        gettext("The export of %(count)s applications is being prepared; its link appears on this page.")
        % {"count": number_format(count, force_grouping=True)},
    )
    return HttpResponseRedirect(reverse("admin:applications_application_export_job", args=[job.public_id]))


def export_response(queryset, keys: list[str], fmt: str):
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    rows = export_rows(queryset, keys, list_order=True)
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


def _own_job(request, public_id) -> ExportJob:
    """The requester's export (404 for anyone else, as for a job that does not exist or was deleted), while every
    application its file holds still exists and is in their scope: a right withdrawn since the build (another
    centre, another commission) withdraws the file too, as it does the dossiers' pages and the packs (found by
    review: the file stayed downloadable for its whole retention); an application deleted since (its campaign
    destroyed) withdraws it too, though the destruction deletes the export as well
    (``applications.export_jobs.exports_holding``; found by review: the destroyed candidates' data stayed
    downloadable). A file built before its applications were recorded (``application_ids`` empty while it holds
    some) is no longer handed out. One query more: the applications that still exist and those outside the scope,
    counted together by the database, as for a pack (``applications.admin.packs``)."""
    job = get_object_or_404(ExportJob, public_id=public_id, requested_by=request.user)
    if job.status == ExportJob.Status.DONE and job.done and not job.application_ids:
        raise Http404
    listed = set(job.application_ids or ())
    if listed:
        counts = Application.objects.filter(pk__in=listed).aggregate(
            existing=Count("pk"),
            outside=Count("pk", filter=~Q(pk__in=Application.objects.visible_to(request.user).values("pk"))),
        )
        if counts["existing"] < len(listed) or counts["outside"]:
            raise Http404
    return job


def export_job_view(request, public_id, *, model_admin):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    job = _own_job(request, public_id)
    requeue_lost_export(job)  # its task never queued (the broker was unreachable): queued again
    stalled = ""
    if is_stalled(job):
        # Its worker was killed, or its task never queued: shown failed (« relancez la demande »), not refreshed for
        # ever. Only shown so: a late delivery may still build it.
        stalled = (
            gettext("The export did not start.")
            if job.status == ExportJob.Status.PENDING
            else gettext("The export stopped without finishing.")
        )
        job.status = ExportJob.Status.FAILED
    in_progress = job.status in (ExportJob.Status.PENDING, ExportJob.Status.RUNNING)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        # The plain « Exporter » and the chosen columns' both come here (their jobs are alike).
        "title": gettext("Export of the applications list"),
        "subtitle": None,
        "is_nav_sidebar_enabled": False,
        "job": job,
        "stalled": stalled,
        "done": number_format(job.done, force_grouping=True),
        "total": number_format(job.total, force_grouping=True),
        "in_progress": in_progress,
        "refresh_seconds": REFRESH_SECONDS,
        "retention_days": EXPORT_RETENTION.days,
        "download_url": reverse("admin:applications_application_export_job_download", args=[job.public_id])
        if job.status == ExportJob.Status.DONE
        else "",
        "list_url": reverse("admin:applications_application_changelist") + (f"?{job.filters}" if job.filters else ""),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/applications/application/export_columns_job.html", context)


def export_job_download_view(request, public_id, *, model_admin):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    job = _own_job(request, public_id)
    if job.status != ExportJob.Status.DONE or not job.file.name:
        raise Http404
    stamp = timezone.localtime(job.created_at).strftime("%Y%m%d-%H%M")
    return stored_file_response(
        job.file.name, filename=f"candidatures-{stamp}.{job.fmt}", content_type=job.content_type
    )


def export_columns_urls(model_admin) -> list:
    wrap = model_admin.admin_site.admin_view
    return [
        path(
            "export-colonnes/",  # not under export/<fmt>/, which comes first
            wrap(lambda request: export_columns_view(model_admin, request)),
            name="applications_application_export_columns",
        ),
        path(
            "export-colonnes/<uuid:public_id>/",
            bound_view(model_admin, export_job_view),
            name="applications_application_export_job",
        ),
        path(
            "export-colonnes/<uuid:public_id>/fichier/",
            bound_view(model_admin, export_job_download_view),
            name="applications_application_export_job_download",
        ),
    ]
