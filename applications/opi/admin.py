"""The central office's OPI screen (eCandidat "OPI", ecandidat-features §2.2 and §2.12): counters of pending and
transferred OPIs, the list with "re-queue" and "cancel" actions (through the services, with the actor in the
history), the day's files with their ZIP, and "produce the files now".

Central office only (``CentralOfficeOnly``): other staff get the admin's 403 on the screen and its actions and a 404
on a day's files (``object_in_scope_or_404``) and on an OPI's page (``Opi.objects.visible_to``); candidates are sent
to the login page by the admin.
"""

import logging
import socket
import tempfile

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Prefetch, prefetch_related_objects
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator, capfirst
from django.utils.timezone import localtime
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from applications.enums import OpiState, PegaseRemoval
from applications.models import Opi, OpiExport, OpiPiece
from applications.opi.backends import BACKENDS, backend_label, get_backend
from applications.opi.periods import check_campaign_code, checks_apply, files_refusal
from applications.opi.pieces import MISSING_COUNT, piece_counts, pieces_on, write_zip
from applications.opi.services import (
    BATCH,
    cancel_opis,
    mark_removed_in_pegase,
    opi_counts,
    record_collection,
    requeue_selected_opis,
    transfer_opis,
)
from ecandidat.admin_base import CentralOfficeOnly, InStaffScope, NotFoundOutsideScope, ReadOnly, bound_view
from ecandidat.batches import BatchAlreadyRunning, run_batch
from ecandidat.staff import is_central, object_in_scope_or_404
from offers.models import Campaign

RECENT_EXPORTS = 30
logger = logging.getLogger(__name__)


def export_zip_view(request, pk, *, model_admin):
    """The ZIP of one day's files, with its PJ-OPI: written to a temporary file (the pieces are read from the storage
    one at a time, never all in memory), then sent in chunks. A piece missing from the storage is left out and named
    in the ZIP's ``PJ_MANQUANTES.txt``; the storage failing otherwise (``StorageUnavailable``) is the 503 page, try
    again later, before anything is recorded. The temporary file failing (the server's disk full or failing, an
    ``OSError``): back to the screen, which says so, nothing recorded and the temporary file closed (deleted). The
    first download marks the files collected (their retention starts, ``record_collection``). Files erased since
    (``prune_opi_files``): back to the screen, which says so."""
    # Locked until the download is recorded (the request's transaction): a run rewriting the files meanwhile waits,
    # so it judges its withdrawals knowing this version was handed over (OpiExport.handed_at).
    export = object_in_scope_or_404(OpiExport.objects.select_for_update(of=("self",)), request.user, pk=pk)
    if export.files_erased:
        messages.warning(
            request,
            _(
                "The OPI files of %(day)s (%(backend)s) were erased on %(erased)s: their retention period is over. "
                "To send these candidates again, select their OPIs and choose “Re-queue the selected OPIs”: the next "
                "run writes them in its day's files."
            )
            % {
                "day": date_format(export.day, "SHORT_DATE_FORMAT"),
                "backend": backend_label(export.backend),
                "erased": date_format(localtime(export.files_erased_at), "SHORT_DATE_FORMAT"),
            },
        )
        return HttpResponseRedirect(reverse("admin:applications_opi_changelist"))
    archive = None
    try:
        archive = tempfile.TemporaryFile()  # noqa: SIM115  # FileResponse closes it once sent
        write_zip(export, archive)
        archive.seek(0)
        response = FileResponse(archive, as_attachment=True, filename=export.zip_name, content_type="application/zip")
    except OSError:
        # The server's own disk (the temporary file's: full, failing, its folder gone), not the storage's, whose
        # failures are StorageUnavailable: the 503 page. Nothing recorded; the unnamed temporary file goes with close.
        _discard(archive)
        logger.exception("OPI files %s: the ZIP could not be written to a temporary file", export)
        messages.error(
            request,
            _(
                "The ZIP of the OPI files of %(day)s could not be written on the server (its temporary disk is full "
                "or failing): nothing was downloaded or recorded. Try again later; if it fails again, tell the "
                "technical team."
            )
            % {"day": date_format(export.day, "SHORT_DATE_FORMAT")},
        )
        return HttpResponseRedirect(reverse("admin:applications_opi_changelist"))
    except BaseException:
        _discard(archive)
        raise
    record_collection(export=export, actor=request.user)
    return response


def _discard(archive) -> None:
    """Close the ZIP's temporary file after a failure (which deletes it): closing flushes what is buffered, which
    fails again on a full disk; the file is closed all the same, and the failure being handled is the one to tell."""
    if archive is None:
        return
    try:
        archive.close()
    except OSError:
        logger.warning("could not flush the OPI ZIP's temporary file while discarding it", exc_info=True)


REFUSALS_SHOWN = 5  # candidates the on-demand run names in its message; the batch history lists them all


@require_POST
def transfer_view(request, *, model_admin):
    """ "Produce today's files now": the nightly batch, run by the central office (recorded as a batch run, the actor
    in the OPIs' history); the day's files are rewritten whole."""
    if not is_central(request.user):
        raise PermissionDenied
    changelist = reverse("admin:applications_opi_changelist")
    backend = get_backend()
    if backend is not None and backend.name == "pegase" and checks_apply():
        # Before the batch runs: a code_periode Pégase refuses, or one nobody could check, produces no file.
        campaign = Campaign.objects.active().first()
        if campaign is not None and (refusal := files_refusal(check_campaign_code(campaign.code, fresh=False))):
            messages.error(request, refusal)
            return HttpResponseRedirect(changelist)
    holder: dict = {}

    def work(report, *, dry_run, limit):
        holder["report"] = report
        holder["export"] = transfer_opis(report, dry_run=dry_run, limit=limit, actor=request.user)

    try:
        run = run_batch(BATCH, work)
    except BatchAlreadyRunning:
        messages.error(request, _("The OPI transfer is already running; try again in a moment."))
    except Exception:  # recorded in the batch history with its traceback; the page says so, never a 500
        logger.exception("on-demand OPI transfer failed")
        messages.error(request, _("The OPI transfer failed: see the batch history."))
    else:
        written = run.counts.get("candidates in the day's files", 0)
        newly = run.counts.get("OPIs transferred by this run", 0)
        # The candidates refused apart from the pieces missing from the storage (applications.opi.pieces).
        errors = holder["report"].errors_by_kind
        missing_lines = errors.get(MISSING_COUNT, [])
        lines = [line for kind, kind_lines in errors.items() if kind != MISSING_COUNT for line in kind_lines]
        missing = len(missing_lines)
        if lines:
            # Who and why, here (the page said only "see the batch history"); the first few, the rest there.
            shown = "; ".join(lines[:REFUSALS_SHOWN]) + ("; …" if len(lines) > REFUSALS_SHOWN else "")
            messages.warning(
                request,
                _("Not transferred, their OPIs stay pending: %(errors)s. Details in the batch history.")
                % {"errors": shown},
            )
        if missing_lines:
            shown = "; ".join(missing_lines[:REFUSALS_SHOWN]) + ("; …" if missing > REFUSALS_SHOWN else "")
            messages.warning(
                request,
                ngettext(
                    "%(count)d piece not sent, its file is missing from the storage (it stays pending, the next run "
                    "tries again): %(pieces)s.",
                    "%(count)d pieces not sent, their files are missing from the storage (they stay pending, the "
                    "next run tries again): %(pieces)s.",
                    missing,
                )
                % {"count": missing, "pieces": shown},
            )
        if pieces := run.counts.get("pieces sent by this run", 0):
            messages.info(
                request,
                ngettext(
                    "%(count)d piece sent to Apogée with the OPIs (PJ-OPI).",
                    "%(count)d pieces sent to Apogée with the OPIs (PJ-OPI).",
                    pieces,
                )
                % {"count": pieces},
            )
        if waiting := run.counts.get("wishes waiting for a formation code", 0):
            # Otherwise the OPI stays « pending » with nothing to say why (its formation cannot be named in the files).
            messages.warning(
                request,
                ngettext(
                    "%(count)d confirmed wish stays pending: its formation has no code in the student records system "
                    "yet (the formation's “Student records system (OPI)” fields). The next run sends it once the "
                    "code is filled in.",
                    "%(count)d confirmed wishes stay pending: their formations have no code in the student records "
                    "system yet (the formation's “Student records system (OPI)” fields). The next run sends them "
                    "once the code is filled in.",
                    waiting,
                )
                % {"count": waiting},
            )
        messages.success(
            request,
            ngettext(
                "%(count)d candidate in the day's files",
                "%(count)d candidates in the day's files",
                written,
            )
            % {"count": written}
            + " "
            + ngettext(
                "(%(count)d OPI transferred by this run).",
                "(%(count)d OPIs transferred by this run).",
                newly,
            )
            % {"count": newly},
        )
        if settings.OPI_EXPORT_DIR:
            # This run wrote the folder of the web server that served the click: with several web servers, the
            # import job sees the files only if that folder is the shared one it reads (review: a run on another
            # node marked the day collected while its files stayed on that node's disk). Named, so staff can tell.
            messages.info(
                request,
                _("The day's files were written to %(folder)s on the server %(host)s.")
                % {"folder": settings.OPI_EXPORT_DIR, "host": socket.gethostname()},
            )
    return HttpResponseRedirect(changelist)


class BackendFilter(admin.SimpleListFilter):
    """ "Déversée vers" by the backends' names ("Pégase"), not their stored codes ("pegase")."""

    title = _("transferred to")
    parameter_name = "backend"

    def lookups(self, request, model_admin):
        return [(name, backend.label) for name, backend in BACKENDS.items()]

    def queryset(self, request, queryset):
        return queryset.filter(backend=self.value()) if self.value() else queryset


class StateFilter(admin.ChoicesFieldListFilter):
    """ "Par état": « En attente », « Déversée », « Annulée », with a capital as the other filters' choices and the
    list's column (the states' labels are lower case, for the sentences that quote them); « Par suppression dans
    Pégase » likewise."""

    def choices(self, changelist):
        for choice in super().choices(changelist):
            yield {**choice, "display": capfirst(choice["display"])}


class CampaignFilter(admin.SimpleListFilter):
    """ "Par campagne": the active campaign's OPIs, or the archived campaigns' (whose pending OPIs the transfer no
    longer takes, ``LEFT_IN_AN_ARCHIVED_CAMPAIGN``). A condition on the list's own join: no query more."""

    title = _("campaign")
    parameter_name = "campaign"

    def lookups(self, request, model_admin):
        return [("active", _("Active campaign")), ("archived", _("Archived campaigns"))]

    def queryset(self, request, queryset):
        if self.value() not in {"active", "archived"}:
            return queryset
        return queryset.filter(application__campaign__is_active=self.value() == "active")


class PiecesPendingFilter(admin.SimpleListFilter):
    """ "PJ-OPI en attente": the OPIs with at least one piece not in the day's files yet (yes), or none (no). An
    ``Exists`` subquery in the list's own query: no query more."""

    title = _("pending PJ-OPI")
    parameter_name = "pieces_pending"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() not in {"yes", "no"}:
            return queryset
        pending = Exists(OpiPiece.objects.pending().filter(opi=OuterRef("pk")))
        return queryset.filter(pending if self.value() == "yes" else ~pending)


def _lines(*lines):
    """A cell of several lines: its own box, so that on a phone's card its second line stays beside the column's
    name rather than run under it (static/css/admin_phone.css, ``card-value``)."""
    return format_html(
        '<span class="card-value">{}</span>', format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))
    )


def _short(moment) -> str:
    return date_format(localtime(moment), "SHORT_DATETIME_FORMAT") if moment else ""


def _piece_state(piece: OpiPiece):
    """ "En attente" (with "fichier absent du stockage" when its file was deleted since: the page does not ask the
    storage, one request per file on S3), or "Déversée le 06/07/2026" (the day of the files that carried it)."""
    if piece.transferred_at is not None and piece.day is not None:
        day = format_html('<span class="nowrap">{}</span>', date_format(piece.day, "SHORT_DATE_FORMAT"))
        return format_html(gettext("Transferred on {}"), day)
    if piece.document_id is None:
        return format_html("{}<br><strong>{}</strong>", gettext("Pending"), gettext("file missing from the storage"))
    return gettext("Pending")


@admin.register(Opi)
class OpiAdmin(ReadOnly, CentralOfficeOnly, InStaffScope, NotFoundOutsideScope, admin.ModelAdmin):
    # Other staff find no OPI (``Opi.objects.visible_to``): a centre manager's lookup of an OPI's page is a 404, as an
    # outsider's, where the admin answered 403 (the list, its actions and the history still refuse them first: 403).
    # Five columns, each of two short lines, fit 1,280 px with the side menu open (eight, one fact each, made a table
    # of 949 px in 631): the candidate over their numéro de dossier, the formation's code over its title (cut), the
    # state with its withdrawal and its backend, the dates of queueing and of transfer. The state with a capital
    # ("En attente", as the rest of the back office), dates in the short form ("01/12/2026 18:47"). The page of an
    # OPI has the rest (its creation date, the formation's whole title).
    list_display = ["code", "candidate", "formation", "state_shown", "dates"]
    list_filter = [
        ("state", StateFilter),
        "withdrawn",
        ("pegase_removal", StateFilter),
        CampaignFilter,
        BackendFilter,
    ]
    list_select_related = ["application__candidate__user", "application__formation"]
    search_fields = ["code", "application__candidate__birth_name", "application__candidate__user__username"]
    # The application by its candidate and formation, linked to its dossier (its own text, "5 → 3", says the
    # candidate's and the formation's ids, which tell a scolarité nothing).
    fields = (  # an OPI changes only through the batch and the actions
        "dossier",
        "code",
        "state",
        "withdrawn",
        "pegase_removal",
        "created_at",
        "queued_at",
        "passed_at",
        "transferred_to",
    )
    readonly_fields = (*fields, "pieces_sent")  # its PJ-OPI, when it has some (get_fields)
    show_full_result_count = False
    actions = ["requeue", "cancel", "removed_in_pegase"]

    def has_opi_permission(self, request) -> bool:
        return is_central(request.user)

    def get_list_filter(self, request):
        """ "PJ-OPI en attente" beside the others when the pieces go with the OPIs (Apogée, ``OPI_PIECES``), as the
        screen's counters."""
        filters = list(super().get_list_filter(request))
        backend = get_backend()
        return [*filters, PiecesPendingFilter] if backend is not None and pieces_on(backend) else filters

    def get_fields(self, request, obj=None):
        """The OPI's PJ-OPI last, only when it has some (whether ``OPI_PIECES`` is on now or not)."""
        fields = list(super().get_fields(request, obj))
        return [*fields, "pieces_sent"] if obj is not None and self.pieces_of(obj) else fields

    @staticmethod
    def pieces_of(opi: Opi) -> list[OpiPiece]:
        """The OPI's PJ-OPI with their piece types: one query, made once per page (the prefetch is kept on ``opi``)."""
        prefetch_related_objects(
            [opi],
            Prefetch(
                "pieces",
                queryset=OpiPiece.objects.select_related("submission__piece_type").order_by("siscol_code", "pk"),
            ),
        )
        return list(opi.pieces.all())

    @admin.display(description=_("PJ-OPI"))
    def pieces_sent(self, opi):
        """One row per piece: its COD_TPJ, its type's label (the staff's French) and where it stands. Three short
        columns, the label's and the state's wrapping (static/css/admin_phone.css, ``opi-pieces``): the table keeps
        to a phone's width."""
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td lang="fr">{}</td><td>{}</td></tr>',
            (
                (piece.siscol_code, piece.submission.piece_type.label, _piece_state(piece))
                for piece in self.pieces_of(opi)
            ),
        )
        return format_html(
            '<table class="opi-pieces"><thead><tr><th scope="col">COD_TPJ</th><th scope="col">{}</th>'
            '<th scope="col">{}</th></tr></thead><tbody>{}</tbody></table>',
            capfirst(_("piece type")),
            capfirst(_("state")),
            rows,
        )

    def history_view(self, request, object_id, extra_context=None):
        """An OPI's changes (« OPI créée », « OPI déversée », « OPI désistée » … with their actor) are written in its
        application's history, not in Django's log: the page's « Historique » said « Cet objet n'a pas d'historique
        de modification ». It opens the application's history instead."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        opi = self.get_object(request, unquote(object_id))
        if opi is None:
            raise Http404
        dossier = reverse("admin:applications_application_change", args=[opi.application_id])
        return HttpResponseRedirect(f"{dossier}#history")

    @admin.display(description=_("candidate"), ordering="application__candidate__birth_name")
    def candidate(self, opi):
        candidate = opi.application.candidate
        return _lines(str(candidate), format_html('<span class="quiet">{}</span>', candidate.user.username))

    @admin.display(description=_("application"))
    def dossier(self, opi):
        application = opi.application
        return format_html(
            '<a href="{}">{} ({}) – {} {}</a>',
            reverse("admin:applications_application_change", args=[application.pk]),
            application.candidate.staff_name,
            application.candidate.user.username,
            application.formation.code,
            application.formation.title,
        )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("application__candidate__user", "application__formation")

    @admin.display(description=_("transferred to"), ordering="backend")
    def transferred_to(self, opi):
        return backend_label(opi.backend) if opi.backend else ""

    @admin.display(description=_("formation"), ordering="application__formation__code")
    def formation(self, opi):
        formation = opi.application.formation
        title = format_html('<span class="quiet" lang="fr">{}</span>', Truncator(formation.title).chars(40))
        return _lines(formation.code, title)

    @admin.display(description=_("state"), ordering="state")
    def state_shown(self, opi):
        """ "Déversée", "vers Pégase" below it; "Désistement" for a withdrawal (the wish leaves the student records
        system at the next transfer)."""
        lines = [capfirst(opi.get_state_display())]
        if opi.withdrawn:
            lines.append(format_html("<strong>{}</strong>", capfirst(_("withdrawal"))))
        if opi.pegase_removal:  # « à supprimer dans Pégase » until the central office says it is done
            lines.append(format_html("<strong>{}</strong>", capfirst(opi.get_pegase_removal_display())))
        if opi.backend:
            backend = _("to %(backend)s") % {"backend": backend_label(opi.backend)}
            lines.append(format_html('<span class="quiet">{}</span>', backend))
        return _lines(*lines)

    @admin.display(description=_("dates"), ordering="queued_at")
    def dates(self, opi):
        """When it was queued, and transferred: "Mise en attente : 01/12/2026 18:47", "Déversée : 02/12/2026 02:00"."""
        lines = [
            format_html(gettext("Queued: {}"), format_html('<span class="nowrap">{}</span>', _short(opi.queued_at)))
        ]
        if opi.passed_at:
            when = format_html('<span class="nowrap">{}</span>', _short(opi.passed_at))
            lines.append(format_html(gettext("Transferred: {}"), when))
        return _lines(*lines)

    @admin.action(description=_("Re-queue the selected OPIs (send them again)"), permissions=["opi"])
    def requeue(self, request, queryset):
        """The OPIs of a past campaign's applications are left as they are (``requeue_selected_opis``) and the
        message says so: the transfer no longer takes them."""
        result = requeue_selected_opis(opi_ids=queryset.values_list("pk", flat=True), actor=request.user)
        done, past = result.requeued, result.of_past_campaign
        if done or not past:
            self.message_user(
                request,
                ngettext("%(count)d OPI re-queued.", "%(count)d OPIs re-queued.", done) % {"count": done},
                messages.SUCCESS if done else messages.WARNING,
            )
        if past:
            self.message_user(
                request,
                ngettext(
                    "%(count)d OPI of a past campaign not re-queued: it is no longer transferred.",
                    "%(count)d OPIs of a past campaign not re-queued: they are no longer transferred.",
                    past,
                )
                % {"count": past},
                messages.WARNING,
            )

    @admin.action(description=_("Cancel the selected pending OPIs"), permissions=["opi"])
    def cancel(self, request, queryset):
        done = cancel_opis(opi_ids=queryset.values_list("pk", flat=True), actor=request.user)
        self.message_user(
            request,
            ngettext("%(count)d pending OPI cancelled.", "%(count)d pending OPIs cancelled.", done) % {"count": done},
            messages.SUCCESS if done else messages.WARNING,
        )

    @admin.action(description=_("Mark the selected withdrawals as removed in Pégase"), permissions=["opi"])
    def removed_in_pegase(self, request, queryset):
        done = mark_removed_in_pegase(opi_ids=queryset.values_list("pk", flat=True), actor=request.user)
        if done:
            self.message_user(
                request,
                ngettext(
                    "%(count)d withdrawal marked as removed in Pégase.",
                    "%(count)d withdrawals marked as removed in Pégase.",
                    done,
                )
                % {"count": done},
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                _("None of the selected OPIs was a withdrawal to remove in Pégase: nothing changed."),
                messages.WARNING,
            )

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied  # before the counters' queries
        campaign = Campaign.objects.active().first()
        backend = get_backend()
        exports = OpiExport.objects.visible_to(request.user).defer("files")[:RECENT_EXPORTS]
        extra_context = {
            **(extra_context or {}),
            "title": _("OPI: pre-registrations in the student records system"),
            "opi_counts": opi_counts(campaign),
            # PJ-OPI (Apogée, OPI_PIECES on): one query more, whatever the number of pieces.
            "piece_counts": piece_counts(campaign) if backend is not None and pieces_on(backend) else None,
            "opi_campaign": campaign,
            "opi_backend": backend.label if backend else "",
            "pegase_removals_url": reverse("admin:applications_opi_changelist")
            + f"?pegase_removal__exact={PegaseRemoval.TO_DO}",
            "pending_archived_url": reverse("admin:applications_opi_changelist")
            + f"?campaign=archived&state__exact={OpiState.PENDING}",
            "opi_exports": [
                {
                    "export": export,
                    "backend": backend_label(export.backend),
                    "url": reverse("admin:applications_opi_export_zip", args=[export.pk]),
                }
                for export in exports
            ],
        }
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        return [
            path("files/<int:pk>/zip/", bound_view(self, export_zip_view), name="applications_opi_export_zip"),
            path("transfer/", bound_view(self, transfer_view), name="applications_opi_transfer"),
            *super().get_urls(),
        ]
