"""The export of the filtered applications list (ecandidat-features §2.3, "Exporter"): the rows the list shows
with its filters, its search and the user's scope, as XLSX or CSV (formulas neutralised by ``ecandidat.exports``),
capped at ``EXPORT_LIMIT`` rows and logged. Above ``EXPORT_IN_REQUEST_MAX_ROWS`` rows (``applications.export_jobs``)
it is built in the background, as « Exporter avec les colonnes choisies » is, with this export's columns
(``plain_columns``): the job's page shows its progress, then the link to the file.

Neither format holds the rows in memory: the CSV is streamed a line at a time as the rows come from the database
(in chunks), the XLSX is written row by row into a temporary file (openpyxl's write-only mode) that the response
streams: the memory of an export does not grow with its rows (up to ``EXPORT_LIMIT`` of them)."""

import logging

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseRedirect, StreamingHttpResponse
from django.urls import path
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from applications.admin.export_columns import FILTERS_MAX_LENGTH, queue_export
from applications.admin.listing import export_review_columns, with_export_data
from applications.export_columns import COLUMNS
from applications.export_jobs import in_request_max_rows
from applications.models.candidature import answer_label
from ecandidat import exports, parameters
from ecandidat.admin_base import ForgedListQuery, bound_view, changelist_of

logger = logging.getLogger(__name__)

EXPORT_LIMIT = 20_000
# Rows read from the database at a time, with their prefetched tags and notes: the memory of the export is about this
# many applications' objects, whatever the list's length.
EXPORT_CHUNK = 500

# This export's columns, as keys of the chosen-columns export's (``applications.export_columns.COLUMNS``): its titles
# are theirs (the same words for the same column), and a large export is built in the background from them
# (``plain_columns``), with the same values as ``export_rows`` writes in the request.
PLAIN_COLUMNS = [
    "numero",
    "birth_name",
    "usual_name",
    "first_name",
    "email",
    "ine",
    "centre",
    "formation_code",
    "formation",
    "dossier_status",
    "transmitted_at",
    "decision",
    "decision_validated_flag",  # Yes, No, or empty without a decision
    "waiting_list_rank",  # the rang réel, not the rank the commission entered
    "answer",
    "cancelled_at",
    "created_at",
    "tags",
]
EXPORT_HEADERS = [COLUMNS[key].label for key in PLAIN_COLUMNS]
# The last column, with the internal notes and their authors: only when « Paramètres » says so (EXPORT_NOTES, eCandidat
# GEST_IS_EXPORT_BLOC_NOTE, off by default), as the export with chosen columns offers it.
NOTES_HEADER = COLUMNS["notes"].label


def plain_columns(*, notes: bool) -> list[str]:
    """The keys of ``EXPORT_HEADERS``, and of ``NOTES_HEADER`` with ``notes``."""
    return [*PLAIN_COLUMNS, *(["notes"] if notes else [])]


def export_rows(queryset, *, notes: bool = False):
    """The rows of ``EXPORT_HEADERS``, and of ``NOTES_HEADER`` with ``notes``."""
    for obj in queryset.iterator(chunk_size=EXPORT_CHUNK):
        candidate = obj.candidate
        yield [
            candidate.user.username,
            candidate.birth_name,
            candidate.usual_name,
            candidate.first_name,
            candidate.user.email,
            candidate.ine,
            obj.formation.centre.label,
            obj.formation.code,
            obj.formation.title,
            obj.get_dossier_status_display(),
            timezone.localtime(obj.transmitted_at) if obj.transmitted_at else None,
            obj.current_label or "",
            _("Yes") if obj.current_validated_at else ("" if not obj.current_avis else _("No")),
            obj.waiting_list_rank,
            answer_label(obj.accepted),
            timezone.localtime(obj.cancelled_at) if obj.cancelled_at else None,
            timezone.localtime(obj.created_at),
            *export_review_columns(obj, notes=notes),
        ]


def export_view(request, fmt, *, model_admin):
    """The list as the user filtered it (the changelist's own queryset, so the same scope and filters)."""
    if fmt not in ("xlsx", "csv"):
        raise Http404
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    changelist = changelist_of(model_admin, request)  # the list's query string, refused as the list would
    queryset = with_export_data(changelist.get_queryset(request))
    count = queryset.count()
    if count > EXPORT_LIMIT:
        model_admin.message_user(
            request,
            _("%(count)d applications: at most %(limit)d can be exported; add filters.")
            % {"count": count, "limit": EXPORT_LIMIT},
            messages.ERROR,
        )
        return HttpResponseRedirect(exports.list_url(changelist))  # the list as filtered, to narrow it
    notes = bool(parameters.get("EXPORT_NOTES"))  # read once: the headers and every row agree
    if count > in_request_max_rows():
        # Minutes of work: built in the background with its progress, as the chosen-columns export is. In the request,
        # the XLSX of some 15,000 rows outlasted the worker timeout (a 502, the worker lost for a minute). The job
        # keeps the list's query string as that export does (its ``_changelist_filters``): this URL's, the list's
        # own, and rebuilds the same rows within the requester's scope.
        filters = changelist.get_query_string()[1:]
        if len(filters) > FILTERS_MAX_LENGTH:  # the list's links carry a few hundred characters
            raise ForgedListQuery("list filters too long to be kept by an export")
        return queue_export(request, filters=filters, keys=plain_columns(notes=notes), fmt=fmt, count=count)
    headers = [str(header) for header in (*EXPORT_HEADERS, *([NOTES_HEADER] if notes else []))]
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    logger.info("export of %s applications (%s) by %s", count, fmt, request.user.username)
    if fmt == "xlsx":
        output = exports.write_xlsx(headers, export_rows(queryset, notes=notes), title=_("Applications"))
        return FileResponse(
            output, as_attachment=True, filename=f"candidatures-{stamp}.xlsx", content_type=exports.XLSX_CONTENT_TYPE
        )
    rows = exports.in_language(translation.get_language(), export_rows(queryset, notes=notes))
    response = StreamingHttpResponse(
        (line.encode("utf-8") for line in exports.stream_csv(headers, rows)), content_type=exports.CSV_CONTENT_TYPE
    )
    response["Content-Disposition"] = f'attachment; filename="candidatures-{stamp}.csv"'
    return response


def export_urls(model_admin) -> list:
    return [
        path(
            "export/<str:fmt>/",
            bound_view(model_admin, require_GET(export_view)),
            name="applications_application_export",
        )
    ]
