"""XLSX exports of the formations, commissions and centres lists (ecandidat-features §2.8, "Exports (XLSX)"): the
rows the list shows, with its filters, its search and the user's scope (the changelist's own queryset), capped at
``EXPORT_LIMIT`` rows and logged. One query for the rows whatever their number (the list's ``select_related`` plus
``export_select_related``, read by chunks of the database cursor), written by openpyxl's write-only mode into a
temporary file that the response streams (``ecandidat.exports.write_xlsx``); formula-looking text made inert."""

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from ecandidat import exports
from ecandidat.admin_base import bound_view, changelist_of

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    _ModelAdminBase = ModelAdmin
else:
    _ModelAdminBase = object

logger = logging.getLogger(__name__)

EXPORT_LIMIT = 20_000

# A column: its header (lazy, translated when the file is written) and how a row gives its value.
ExportColumn = tuple[Any, Callable[[Any], Any]]


def yes_no(value: bool) -> str:
    return _("Yes") if value else _("No")


def label_of(obj: Any) -> str:
    """A related row's name, or "" when there is none."""
    return "" if obj is None else str(obj)


def export_view(request, *, model_admin):
    """The list as the user filtered it, as an XLSX; someone who may not read the list gets a 404."""
    if not model_admin.has_view_permission(request):
        raise Http404
    # The list's query string, refused as the list would; its queryset (scope, filters, search, order) and count.
    changelist = changelist_of(model_admin, request)
    queryset = changelist.queryset
    if model_admin.export_select_related:
        queryset = queryset.select_related(*model_admin.export_select_related)
    count = changelist.result_count
    opts = model_admin.opts
    if count > EXPORT_LIMIT:
        model_admin.message_user(
            request,
            _("%(count)d rows: at most %(limit)d can be exported; add filters.")
            % {"count": count, "limit": EXPORT_LIMIT},
            messages.ERROR,
        )
        return HttpResponseRedirect(exports.list_url(changelist))  # the list as filtered, to narrow it
    columns: Sequence[ExportColumn] = model_admin.export_columns
    headers = [capfirst(str(header)) for header, _value in columns]
    rows = ([value(obj) for _header, value in columns] for obj in queryset.iterator(chunk_size=2000))
    title = str(opts.verbose_name_plural).capitalize()
    output = exports.write_xlsx(headers, rows, title=title)
    logger.info("export of %s %s (xlsx) by %s", count, opts.model_name, request.user.username)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return FileResponse(
        output,
        as_attachment=True,
        filename=f"{model_admin.export_filename}-{stamp}.xlsx",
        content_type=exports.XLSX_CONTENT_TYPE,
    )


class XlsxExport(_ModelAdminBase):
    """Mixed into a ModelAdmin: « Exporter la liste (XLSX) » above its list, the columns ``export_columns``."""

    export_columns: Sequence[ExportColumn] = ()
    export_select_related: Sequence[str] = ()
    export_filename = "export"
    change_list_template = "admin/offers/change_list_export.html"

    def get_urls(self):
        opts = self.opts
        view = bound_view(self, require_GET(export_view))
        name = f"{opts.app_label}_{opts.model_name}_export"
        return [path("export/xlsx/", view, name=name), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        opts = self.opts
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_export")
        return super().changelist_view(request, {**(extra_context or {}), "export_url": url})
