"""Every write of the OPI (ecandidat-features §2.12, siscol-pegase-apogee.md §2.1 and §3.3): creation on
confirmation, withdrawal, the central office's re-queue and cancel, and the transfer (nightly batch or on demand).

Each change writes a history row on the application (``EventKind.OPI_*``) with its actor, or the batch's name.

Lock order. A path that locks several OPIs locks them in one statement ordered by primary key (``order_by("pk")``):
the run (``_load``), the central office's actions (``requeue_selected_opis``, ``cancel_opis``,
``mark_removed_in_pegase``) and the CNIL erasure (``applications.services.erasure``). Two paths taking the same rows
in two orders (the model's ordering, newest queued first, against the key) could each hold one OPI of a person with
several and wait for the other's: PostgreSQL aborts one. The key never changes, while ``queued_at`` does (a
confirmation, a withdrawal, a re-queue), so two statements could read two orders from it. The OPIs come before the
day's files (``OpiExport``), and after the applications for the paths that hold those (the candidate's answers, the
erasure).
"""

from __future__ import annotations

import datetime
import functools
import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Max, Prefetch, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from applications.enums import EventKind, OpiState, PegaseRemoval, PieceStatus
from applications.history import record_event, record_events
from applications.models import Application, Candidate, Opi, OpiExport, OpiPiece
from applications.opi import folder
from applications.opi.backends import OpiBackend, get_backend
from applications.opi.countries import in_france
from applications.opi.periods import check_campaign_code, files_refusal
from applications.opi.pieces import (
    extension,
    folder_entries,
    list_name,
    list_text,
    pieces_on,
    record_pieces,
    send_pending,
    write_zip,
)
from applications.opi.transfer import OpiCandidate
from ecandidat import parameters
from offers.enums import Avis
from offers.models import Campaign

if TYPE_CHECKING:
    from accounts.models import User
    from ecandidat.batches import Report

logger = logging.getLogger(__name__)

BATCH = "transfer_opi"


def opi_code(application: Application) -> str:
    """The code an OPI gets when created: COD_OPI_INT_EPO, ``OPI_PREFIX`` + numéro de dossier (at most 2 + 8
    characters, siscol-pegase-apogee.md §3.2). The transfer stamps the code the student records system holds
    (:func:`transferred_code`)."""
    return f"{settings.OPI_PREFIX}{application.candidate.user.username}"[:10]


def transferred_code(application: Application, backend: OpiBackend) -> str:
    """The OPI code the backend's system holds once transferred: Pégase's is the files' ``numero_candidat``, the
    numéro de dossier with no prefix (§2.1, point 6); Apogée's is the COD_OPI_INT_EPO its file carried, the OPI's
    code as it stands (``OPI_PREFIX`` + numéro)."""
    if backend.name == "pegase":
        return application.candidate.user.username
    return application.opi.code


def _locked_opi(application: Application) -> Opi | None:
    return Opi.objects.select_for_update(of=("self",)).filter(application=application).first()


# --- Confirmation and withdrawal (receivers of applications.signals) -------------------------------------------


@transaction.atomic
def record_confirmation(*, application: Application, actor: User | None) -> Opi | None:
    """The candidate confirmed: when OPIs are on (``OPI_BACKEND``) and the latest validated decision is favourable
    with a type marked "Déversement OPI" (``tem_deverse_opi_typ_dec``), the application gets a pending OPI. An
    application confirmed again after a withdrawal (a new decision undid the confirmation) has its OPI queued
    again, no longer withdrawn. Idempotent: a confirmation received twice changes nothing.

    Side effects: history row ``OPI_CREATED`` or ``OPI_REQUEUED``.
    """
    if get_backend() is None:
        return None
    decision = application.decisions.select_related("decision_type").current_validated()
    if decision is None or decision.decision_type.avis != Avis.FAVOURABLE or not decision.decision_type.opi_transfer:
        return None
    code = opi_code(application)
    opi = _locked_opi(application)
    if opi is None:
        opi = Opi.objects.create(application=application, code=code)
        record_event(application, kind=EventKind.OPI_CREATED, actor=actor, batch=BATCH, comment=code)
        return opi
    if not opi.withdrawn:
        return opi  # the same confirmation told twice: nothing changed
    opi.code, opi.state, opi.withdrawn, opi.queued_at = code, OpiState.PENDING, False, timezone.now()
    opi.pegase_removal = ""  # the wish is wanted again: nothing (more) to remove in Pégase, the files carry it again
    opi.save(update_fields=["code", "state", "withdrawn", "queued_at", "pegase_removal"])
    with translation.override(settings.LANGUAGE_CODE):  # the history is read in the institution's language
        comment = _("Confirmed again.")
    record_event(application, kind=EventKind.OPI_REQUEUED, actor=actor, batch=BATCH, comment=comment)
    return opi


@transaction.atomic
def record_withdrawal(*, application: Application, actor: User | None) -> Opi | None:
    """A confirmed application was withdrawn (§2.1: "a row never passed is deleted; a row already passed gets
    ``dat_passage_opi`` reset"). An OPI never transferred is cancelled (kept, with its history); one already
    transferred goes back to pending as a withdrawal, which the next transfer replays: Apogée gets the candidate's
    remaining wishes, Pégase's next files simply leave the wish out, and the OPI is then marked transferred, so
    the candidate is not written again every day (eCandidat issue #117). Nothing tells Pégase: a wish a Pégase file
    already handed over carried (an earlier day's, or the day's collected or written to ``OPI_EXPORT_DIR`` since the
    wish passed) is marked to remove there by hand (``pegase_removal``, the OPI screen's alert).

    Side effects: history row ``OPI_WITHDRAWN``.
    """
    opi = _locked_opi(application)
    if opi is None or opi.withdrawn:
        return None
    opi.withdrawn = True
    # The history is read in the institution's language, whoever withdrew (a candidate on the English site: found by
    # review, the central office read English).
    with translation.override(settings.LANGUAGE_CODE):
        if opi.passed_at is None:
            opi.state = OpiState.CANCELLED
            comment = _("Never transferred: cancelled.")
        else:
            opi.state, opi.queued_at = OpiState.PENDING, timezone.now()
            comment = _("Already transferred: the withdrawal goes with the next transfer.")
            day = timezone.localdate()
            handed_at = _handed_at(day) if opi.backend == "pegase" else None
            if _carried_by_a_handed_pegase_file(opi, day=day, handed_at=handed_at):
                opi.pegase_removal = PegaseRemoval.TO_DO
                comment += " " + _("A Pégase file already handed over carried the wish: remove it in Pégase by hand.")
    opi.save(update_fields=["withdrawn", "state", "queued_at", "pegase_removal"])
    record_event(application, kind=EventKind.OPI_WITHDRAWN, actor=actor, batch=BATCH, comment=comment)
    return opi


def _handed_at(day: datetime.date) -> datetime.datetime | None:
    """When a version of ``day``'s Pégase files last left the database (``OpiExport.handed_at``), if one did."""
    return OpiExport.objects.filter(backend="pegase", day=day).values_list("handed_at", flat=True).first()


def _carried_by_a_handed_pegase_file(opi: Opi, *, day: datetime.date, handed_at: datetime.datetime | None) -> bool:
    """Whether a Pégase file Pégase may have imported carried the OPI's wish, ``day``'s files (whose last handing is
    ``handed_at``) being the ones the withdrawal rewrites. An earlier day's files stay as they were. ``day``'s own
    are rewritten whole without the withdrawn wish, but a version of them that left the database (downloaded, or
    written to ``OPI_EXPORT_DIR``) at or after the wish passed carried it (``OpiExport.handed_at``)."""
    if opi.backend != "pegase" or opi.passed_at is None or opi.pegase_removal == PegaseRemoval.TO_DO:
        return False
    passed_on = timezone.localdate(opi.passed_at)
    return passed_on < day or (passed_on == day and handed_at is not None and opi.passed_at <= handed_at)


def on_application_confirmed(sender, *, application: Application, actor: User | None = None, **kwargs) -> None:
    record_confirmation(application=application, actor=actor)


def on_confirmation_withdrawn(sender, *, application: Application, actor: User | None = None, **kwargs) -> None:
    record_withdrawal(application=application, actor=actor)


# --- The central office's actions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requeue:
    """What « Rechargement des OPI » did with a selection: ``requeued`` OPIs back to pending, and
    ``of_past_campaign`` transferred or cancelled OPIs left as they are, their application's campaign being no longer
    active (``requeue_selected_opis``)."""

    requeued: int
    of_past_campaign: int


@transaction.atomic
def requeue_selected_opis(*, opi_ids: Iterable[int], actor: User) -> Requeue:
    """ "Rechargement des OPI / PJ-OPI": transferred or cancelled OPIs go back to pending, to be sent again with
    their pieces (after the student records system's tables were purged, say): those whose piece is still validated
    with the file that went (a piece refused since goes no more, and keeps its row as it went). An OPI withdrawn
    before it was ever transferred has nothing to send and is left alone. So is an OPI of a past campaign's
    application (its campaign no longer active): the transfer takes the active campaign's only (``transfer_opis``),
    so it would never be sent again, and its application, read only, would get a history row and hold its candidate
    back from the destruction (``destroy_archived_campaigns`` waits for pending OPIs); it is counted in
    ``of_past_campaign``, for the caller to say so. One locking statement whatever the number of OPIs.

    Side effects: history row ``OPI_REQUEUED`` per OPI re-queued, with the actor.
    """
    ids = sorted(set(opi_ids))
    locked = list(
        Opi.objects.select_for_update(of=("self",))
        .filter(pk__in=ids, state__in=[OpiState.PASSED, OpiState.CANCELLED])
        .exclude(withdrawn=True, passed_at__isnull=True)
        .annotate(of_active_campaign=F("application__campaign__is_active"))
        .order_by("pk")
    )
    requeued = [opi for opi in locked if opi.of_active_campaign]
    now = timezone.now()
    for opi in requeued:
        opi.state, opi.queued_at = OpiState.PENDING, now
    Opi.objects.bulk_update(requeued, ["state", "queued_at"])
    # "Rechargement des OPI / PJ-OPI": their pieces go again with them (applications.opi.pieces), those still
    # validated with the file that went. A piece refused since keeps its row as it went (what went, and when), and
    # goes no more; one validated again with another file goes with it when the OPI is transferred (record_pieces).
    OpiPiece.objects.filter(
        opi__in=requeued, submission__status=PieceStatus.VALIDATED, submission__document=F("document")
    ).update(day=None, transferred_at=None)
    record_events([opi.application_id for opi in requeued], kind=EventKind.OPI_REQUEUED, actor=actor)
    return Requeue(requeued=len(requeued), of_past_campaign=len(locked) - len(requeued))


@transaction.atomic
def cancel_opis(*, opi_ids: Iterable[int], actor: User) -> int:
    """ "Annuler les OPI en attente": the selected pending OPIs are not transferred (eCandidat stamps them). Returns
    how many were cancelled.

    Side effects: history row ``OPI_CANCELLED`` per OPI, with the actor.
    """
    ids = sorted(set(opi_ids))
    locked = list(
        Opi.objects.select_for_update(of=("self",)).filter(pk__in=ids, state=OpiState.PENDING).order_by("pk")
    )
    for opi in locked:
        opi.state = OpiState.CANCELLED
    Opi.objects.bulk_update(locked, ["state"])
    record_events([opi.application_id for opi in locked], kind=EventKind.OPI_CANCELLED, actor=actor)
    return len(locked)


@transaction.atomic
def mark_removed_in_pegase(*, opi_ids: Iterable[int], actor: User) -> int:
    """The central office removed these withdrawn wishes in Pégase by hand: they leave the OPI screen's alert. Only
    OPIs still to remove change. Returns how many.

    Side effects: history row ``OPI_REMOVED_IN_PEGASE`` per OPI, with the actor.
    """
    ids = sorted(set(opi_ids))
    locked = list(
        Opi.objects.select_for_update(of=("self",))
        .filter(pk__in=ids, pegase_removal=PegaseRemoval.TO_DO)
        .order_by("pk")
    )
    for opi in locked:
        opi.pegase_removal = PegaseRemoval.DONE
    Opi.objects.bulk_update(locked, ["pegase_removal"])
    record_events([opi.application_id for opi in locked], kind=EventKind.OPI_REMOVED_IN_PEGASE, actor=actor)
    return len(locked)


# An OPI still pending in a campaign that is no longer active: the transfer takes the active campaign's only
# (``transfer_opis``), so it will never be written; the central office enters it by hand, then cancels it.
LEFT_IN_AN_ARCHIVED_CAMPAIGN = Q(state=OpiState.PENDING, application__campaign__is_active=False)


def opi_counts(campaign: Campaign | None) -> dict[str, int]:
    """Pending (new wishes and withdrawals to replay), transferred and cancelled OPIs of the campaign, and, of every
    campaign, the withdrawals to remove by hand in Pégase (an archived campaign's stay in Pégase too) and the OPIs
    left pending in an archived campaign (``pending_archived``): one query."""
    removals = Count("pk", filter=Q(pegase_removal=PegaseRemoval.TO_DO))
    archived = Count("pk", filter=LEFT_IN_AN_ARCHIVED_CAMPAIGN)
    if campaign is None:
        return {
            "pending": 0,
            "pending_withdrawals": 0,
            "passed": 0,
            "cancelled": 0,
            **Opi.objects.aggregate(pegase_removals=removals, pending_archived=archived),
        }
    return Opi.objects.aggregate(
        pegase_removals=removals,
        pending_archived=archived,
        pending=Count("pk", filter=Q(state=OpiState.PENDING, application__campaign_id=campaign.pk)),
        pending_withdrawals=Count(
            "pk", filter=Q(state=OpiState.PENDING, withdrawn=True, application__campaign_id=campaign.pk)
        ),
        passed=Count("pk", filter=Q(state=OpiState.PASSED, application__campaign_id=campaign.pk)),
        cancelled=Count("pk", filter=Q(state=OpiState.CANCELLED, application__campaign_id=campaign.pk)),
    )


# --- The transfer ----------------------------------------------------------------------------------------------


def _queue(campaign: Campaign, *, day: datetime.date) -> tuple[list[int], list[int]]:
    """The candidates of a run on ``day``, in OPI order: those already transferred that day (the day's files are
    rewritten whole), and those with a pending OPI, for ``_collect`` to walk. Candidate ids only: one query."""
    rows = (
        Opi.objects.for_campaign(campaign.pk)
        .to_transfer(day=day)
        .order_by("queued_at", "pk")
        .values_list("state", "application__candidate_id")
    )
    today: dict[int, None] = {}  # dicts as ordered sets: the OPI order is kept
    pending: dict[int, None] = {}
    for state, candidate_id in rows:
        (today if state == OpiState.PASSED else pending).setdefault(candidate_id)
    return list(today), [candidate_id for candidate_id in pending if candidate_id not in today]


def _load(candidate_ids: list[int], campaign: Campaign) -> dict[int, Candidate]:
    """The candidates with their OPI applications, by id, their OPIs locked first (a confirmation or withdrawal made
    meanwhile waits for the files). Three queries, whatever the number of candidates.

    Only the OPIs locked come with them: an OPI created once the lock is taken (the candidate confirmed another wish
    meanwhile) waits for the next run. The run writes and stamps (``_stamp``) the OPIs it holds and no other: one it
    read without holding could be withdrawn while the files are written, and the stamp would then mark it
    transferred over the withdrawal (the files carrying the wish, no removal alert in Pégase)."""
    locked = _lock_opis(candidate_ids, campaign)
    opi_applications = (
        Application.objects.filter(campaign=campaign, opi__pk__in=locked)
        .select_related("formation", "opi")
        .order_by("pk")
    )
    candidates = (
        Candidate.objects.filter(pk__in=candidate_ids)
        .select_related("user", "address", "baccalaureate")
        .prefetch_related(Prefetch("applications", queryset=opi_applications, to_attr="opi_applications"))
    )
    return {candidate.pk: candidate for candidate in candidates}


def _lock_opis(candidate_ids: list[int], campaign: Campaign) -> list[int]:
    """Lock the candidates' OPIs of the campaign, as they are now, in the order of every path (the module's
    docstring); returns their ids. One query."""
    return list(
        Opi.objects.select_for_update(of=("self",))
        .filter(application__candidate_id__in=candidate_ids, application__campaign=campaign)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _collect(
    report: Report, campaign: Campaign, backend: OpiBackend, *, day: datetime.date, cap: int | None
) -> tuple[list[OpiCandidate], list[Application], int]:
    """The run's entries, in OPI order: every candidate already transferred that day (the day's files are rewritten
    whole; they take no slot of the cap), then the pending candidates, walked in OPI order until ``cap`` of them
    are written (``cap`` None: every one). Also returns the withdrawals the backend does not send (marked
    transferred without a file), and how many pending candidates the walk did not reach (left for the next run).

    A candidate with nothing to write (their wishes wait for a formation code) or refused (no address,
    baccalaureate year in the future) is reported under that reason, keeps their OPIs pending and takes no slot.
    eCandidat caps first and skips afterwards (siscol-pegase-apogee.md §2.1, point 3): there, as many such
    candidates as ``OPI_NB_BATCH_MAX`` at the head of the queue block everyone queued after them, night after
    night. We deliberately do better. The walk loads the queue by chunks of ``cap`` candidates (the day's ones
    first), three queries a chunk whatever its size (``_load``): a queue held up by many such candidates costs a
    few more chunks, never a query per candidate, and nothing past the chunk where the cap is reached is loaded.
    """
    day_start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    entries: list[OpiCandidate] = []
    to_stamp: list[Application] = []  # withdrawals the backend does not send (nothing to write for them)

    def written(candidate: Candidate) -> bool:
        entry, waiting, news = _entry(candidate, backend, day_start=day_start)
        if waiting:
            report.add("wishes waiting for a formation code", len(waiting))
        if not news:
            return False
        # The backend's own refusal (Apogée: names it cannot write) here too, before the cap counts the candidate.
        refusal = _refusal(entry, day=day) or backend.refusal(entry)
        if refusal:
            # Read by the central office (batch history, the OPI screen's message): in their language.
            report.error(_("dossier %(number)s: %(reason)s") % {"number": entry.numero_dossier, "reason": refusal})
            return False
        if entry.wishes or backend.sends_withdrawals:
            entries.append(entry)
            return True
        to_stamp.extend(entry.withdrawals)
        return False

    today, pending = _queue(campaign, day=day)
    queue = [*today, *pending]
    new = 0  # pending candidates written: the cap counts them
    reached = 0  # how many of the queue the walk looked at
    while reached < len(queue) and not (cap and new >= cap):
        chunk = queue[reached : reached + cap] if cap else queue
        loaded = _load(chunk, campaign)
        for candidate_id in chunk:
            if cap and new >= cap:
                break
            reached += 1
            candidate = loaded.get(candidate_id)
            if candidate is not None and written(candidate) and reached > len(today):
                new += 1
    return entries, to_stamp, len(queue) - reached


def _entry(
    candidate: Candidate, backend: OpiBackend, *, day_start: datetime.datetime
) -> tuple[OpiCandidate, list[Application], bool]:
    """The candidate's transfer entry, the pending wishes the backend cannot name yet, and whether anything is new
    (something pending to send, or already sent today: the day's files are rewritten)."""
    entry = OpiCandidate(candidate=candidate)
    waiting: list[Application] = []
    news = False
    for application in candidate.opi_applications:  # type: ignore[attr-defined]  # the Prefetch's to_attr
        opi = application.opi
        pending = opi.state == OpiState.PENDING
        today = (
            opi.state == OpiState.PASSED
            and opi.passed_at is not None
            and day_start <= opi.passed_at < day_start + datetime.timedelta(days=1)
        )
        if opi.withdrawn:
            if pending or today:
                entry.withdrawals.append(application)
                news = True
        elif application.accepted is True:
            # Every accepted wish, a cancelled OPI's too: eCandidat's "annuler" stamps the row as passed, and a later
            # file without the wish would remove it from Apogée's VOEUX_INS (§2.1 point 5, §3.3 point 5).
            if not backend.qualifies(application.formation):
                if pending:
                    waiting.append(application)
                continue
            entry.wishes.append(application)
            news = news or pending or today
    return entry, waiting, news


def _refusal(entry: OpiCandidate, *, day: datetime.date) -> str:
    """Why the candidate cannot be transferred now (their OPIs stay pending), or "" (§2.1, point 4)."""
    address = entry.address
    if entry.wishes and address is None:
        return _("no address")
    if entry.wishes and address is not None and in_france(address.country) and not address.postal_code:
        # Stored before the address form required it for an overseas department (Guadeloupe, La Réunion…).
        return _("an address in France without its postal code (complete it in the dossier)")
    bac = entry.baccalaureate
    if entry.wishes and bac is not None and bac.year and bac.year > day.year:
        return _("the baccalaureate year is after the current year")
    return ""


# How far back a leftover temporary file is looked for among the days' exports (the nightly run comes every night).
LEFTOVER_DAYS = datetime.timedelta(days=7)


def _publish_leftovers() -> int:
    """Put in place the temporary files a committed run staged but never renamed (its process was killed between
    the commit and ``folder.publish``): a text file whose bytes are the ones an ``OpiExport`` holds under that name,
    a piece that an ``OpiPiece`` marked transferred names. A rolled-back run's files match neither and are left for
    the next staging to overwrite. Returns how many were put in place."""
    found = folder.leftovers()
    if not found:
        return 0
    names = [name for _temporary, name in found]
    texts: dict[str, str] = {}
    for export in OpiExport.objects.filter(day__gte=timezone.localdate() - LEFTOVER_DAYS).only("files"):
        texts.update((name, text) for name, text in export.files.items() if name in names)
    pieces = {
        piece.file_name(extension(piece))
        for piece in OpiPiece.objects.filter(
            code__in={name.split("_OPI/", 1)[0] for name in names if "_OPI/" in name}, transferred_at__isnull=False
        ).select_related("document")
    }
    committed: folder.Staged = []
    for temporary, name in found:
        if name in pieces or (name in texts and temporary.read_bytes() == texts[name].encode("utf-8")):
            committed.append((temporary, Path(settings.OPI_EXPORT_DIR) / name))
    folder.publish(committed)
    return len(committed)


def _text_entries(files: dict[str, str]) -> list[tuple[str, Callable[[IO[bytes]], object]]]:
    """The day's text files for ``applications.opi.folder.stage``, in UTF-8."""
    return [(name, functools.partial(_write_text, text)) for name, text in files.items()]


def _write_text(text: str, out: IO[bytes]) -> None:
    out.write(text.encode("utf-8"))


def transfer_opis(
    report: Report,
    *,
    dry_run: bool = False,
    limit: int | None = None,
    actor: User | None = None,
    today: datetime.date | None = None,
) -> OpiExport | None:
    """``BATCH_ASYNC_OPI``: hand the active campaign's pending OPIs to the configured backend and keep the day's
    files (rewritten whole by each run that day, as eCandidat does). At most ``OPI_BATCH_MAX`` (or ``limit``) new
    candidates written per run, in OPI order; the others wait for the next run. A candidate skipped (wishes waiting
    for a formation code, refused) takes no slot: eCandidat caps then skips, so such candidates at the head of the
    queue blocked everyone after them for good; we walk on past them (``_collect``).

    A candidate is written with every qualifying wish (§2.1, point 5) when something changed: a pending wish, a
    withdrawal to replay, or a transfer earlier the same day. A candidate refused (no address, baccalaureate year
    in the future) keeps their OPIs pending. For Pégase, no file is written while the campaign's code is not one of
    Pégase's periods, or cannot be checked (``applications.opi.periods``): every OPI stays pending. Once written,
    the pending OPIs are marked transferred, withdrawals included, so that nobody is written again on later days
    unless something changes (eCandidat issue #117). A withdrawal the backend does not send (Pégase leaves the wish
    out) is marked transferred even when the run writes no file, and counted as such in ``report``.

    The day of the files is ``today``, else the local date when the run starts. The OPIs the run marks transferred
    are stamped on that day (``passed_at``), even when the run ends past midnight: "transferred that day" is read
    from ``passed_at`` (``Opi.objects.to_transfer``, ``_entry``, ``_carried_by_a_handed_pegase_file``); stamped the
    next day, an OPI was written again in the next day's files and, withdrawn that next day, raised no removal alert
    though the day's handed files carried it. The stamp (``_on_day``) is the clock once the day's files are locked,
    or the day's last microsecond when the clock is past the day (``today`` an earlier day too; a later day: its
    first microsecond). Not the run's start: a download of the files' previous version between the start and that
    lock (``record_collection``) would then count as a handing of the wishes this run adds, and a withdrawal of one
    of them that day would be flagged though no handed file carried it. Past the day, withdrawals come on a later
    day, which compares the days, not the handings. The files' ``handed_at``, set after the stamp, is never before it.

    The whole run is one transaction: the files and the OPI states must agree. Side effects: history rows
    ``OPI_PASSED`` (actor, or the batch's name), the ``OpiExport`` of the day, the files in ``OPI_EXPORT_DIR``
    (written before the commit and put in place after it, ``applications.opi.folder``: a folder that cannot take
    them rolls the run back, reported in ``report``, and every OPI stays pending).
    """
    backend = get_backend()
    if backend is None:
        report.add("OPI off (OPI_BACKEND=none)")
        return None
    campaign = Campaign.objects.active().first()
    if campaign is None:
        report.add("no active campaign")
        return None
    if backend.name == "pegase" and (refusal := files_refusal(check_campaign_code(campaign.code, fresh=False))):
        # The files would carry a code_periode Pégase refuses, or one nobody could check (issue #108).
        report.error(refusal)
        return None
    day = today or timezone.localdate()
    cap = limit or parameters.get("OPI_BATCH_MAX") or None
    if settings.OPI_EXPORT_DIR and not dry_run and (recovered := _publish_leftovers()):
        report.add("files put in place after an interrupted run", recovered)
    with transaction.atomic():
        entries, to_stamp, left = _collect(report, campaign, backend, day=day, cap=cap)
        if left:
            report.add("candidates left for the next run", left)
        if dry_run:
            report.add("candidates to transfer", len(entries))
            return None
        result = backend.transfer(entries, campaign=campaign, day=day)
        numbers = {entry.candidate.pk: entry.numero_dossier for entry in entries}
        for candidate_id, message in result.errors.items():
            # As the refusals of ``_collect``: read by the central office, in their language.
            number = numbers.get(candidate_id, candidate_id)
            report.error(_("dossier %(number)s: %(reason)s") % {"number": number, "reason": message})
        sent = [
            application
            for entry in entries
            if entry.candidate.pk not in result.errors
            for application in [*entry.wishes, *entry.withdrawals]
            if application.pk in result.passed
        ]
        written = [entry for entry in entries if entry.candidate.pk not in result.errors]
        passing = [application for application in sent if application.opi.state == OpiState.PENDING]
        # Locked before the withdrawals are judged against its handing (``_stamp``) and until it is saved: a download
        # meanwhile (``record_collection``) waits for the rewritten files, never records a handing this run misses.
        export = OpiExport.objects.select_for_update(of=("self",)).filter(backend=backend.name, day=day).first()
        handed_at = export.handed_at if export is not None else None
        stamped_at = _on_day(day, timezone.now())  # after the lock above: see the docstring
        newly = _stamp([*sent, *to_stamp], backend=backend, actor=actor, day=day, handed_at=handed_at, at=stamped_at)
        pieces: list[OpiPiece] = []  # the day's
        sent_pieces: list[OpiPiece] = []  # by this run
        if pieces_on(backend):  # PJ-OPI: the pieces of the wishes just passed, and those still pending
            report.add("pieces recorded by this run", record_pieces(passing))
            sent_pieces, pieces = send_pending(report, campaign=campaign, day=day)
        if not written and not pieces and export is None:
            if newly:  # withdrawals marked transferred with no file to write (``_collect``): the run says so
                report.add("OPIs transferred by this run", newly)
            return None  # as eCandidat: no candidate, no file
        export = export or OpiExport(backend=backend.name, day=day)
        files = {**result.files, **({list_name(day): list_text(pieces)} if pieces else {})}
        if files != export.files:
            # Files that changed have not left the database yet: their retention waits for them (prune_opi_files).
            export.collected_at = None
        export.files, export.files_erased_at = files, None
        if settings.OPI_EXPORT_DIR:
            try:  # in the folder before the commit marks anything transferred (applications.opi.folder)
                staged = folder.stage([*_text_entries(export.files), *folder_entries(sent_pieces)])
            except folder.FolderError as error:
                transaction.set_rollback(True)  # the OPIs and pieces stay pending: the next run writes them again
                for key in ("pieces recorded by this run", "pieces sent by this run"):
                    report.counts.pop(key, None)  # rolled back
                # Read by the central office (batch history, the OPI screen's message): in their language.
                report.error(
                    _("OPI_EXPORT_DIR: %(file)s could not be written (%(error)s); nothing was transferred")
                    % {"file": error.name, "error": error.__cause__}
                )
                return None
            transaction.on_commit(lambda: folder.publish(staged), robust=True)
            export.collected_at = export.collected_at or timezone.now()  # in the folder for the import job
            export.handed_at = max(timezone.now(), stamped_at)  # this version carries the OPIs just stamped
        # The day's files are rewritten whole: a second run that day writes the same candidates again and
        # transfers none twice; the counts say both, so an operator does not read a double transfer.
        report.add("candidates in the day's files", len(written))
        report.add("wishes in the day's files", sum(len(entry.wishes) for entry in written))
        report.add("OPIs transferred by this run", newly)
        export.candidates = len(written)
        export.wishes = sum(len(entry.wishes) for entry in written)
        export.pieces = len(pieces)
        export.updated_by = actor
        export.save()
    return export


def _stamp(
    applications: list[Application],
    *,
    backend: OpiBackend,
    actor: User | None,
    day: datetime.date,
    handed_at: datetime.datetime | None,
    at: datetime.datetime,
) -> int:
    """Mark the pending OPIs of ``applications`` transferred at ``at`` (``passed_at``: an instant of ``day``, the
    day of the files that carry them, see ``transfer_opis``), with the code the backend's system holds
    (:func:`transferred_code`: for Pégase, the numéro de dossier without prefix); the ones already transferred today
    stay as they are. A withdrawal whose wish a Pégase file already handed over carried (an earlier day's, withdrawn
    the same day as that file, after it; or ``day``'s, collected since the wish passed: ``handed_at``) is marked to
    remove by hand in Pégase. ``applications`` are OPIs the run holds locked (``_load``). Returns how many were
    marked."""
    pending = [application for application in applications if application.opi.state == OpiState.PENDING]
    for application in pending:
        opi = application.opi
        if opi.withdrawn and _carried_by_a_handed_pegase_file(opi, day=day, handed_at=handed_at):
            opi.pegase_removal = PegaseRemoval.TO_DO
        opi.state, opi.passed_at, opi.backend = OpiState.PASSED, at, backend.name
        opi.code = transferred_code(application, backend)
    Opi.objects.bulk_update(
        [application.opi for application in pending], ["state", "passed_at", "backend", "pegase_removal", "code"]
    )
    wishes = [application.pk for application in pending if not application.opi.withdrawn]
    withdrawals = [application.pk for application in pending if application.opi.withdrawn]
    batch = BATCH if actor is None else ""
    record_events(wishes, kind=EventKind.OPI_PASSED, actor=actor, batch=batch, comment=backend.label)
    with translation.override(settings.LANGUAGE_CODE):  # the history's language, whoever ran it
        withdrawal = _("%(backend)s: withdrawal") % {"backend": backend.label}
    record_events(withdrawals, kind=EventKind.OPI_PASSED, actor=actor, batch=batch, comment=withdrawal)
    return len(pending)


def _on_day(day: datetime.date, instant: datetime.datetime) -> datetime.datetime:
    """``instant`` when it falls on ``day`` (local time); else the day's last microsecond (``instant`` is later: a
    run that ended past midnight, or given an earlier day) or its first (a run given a later day)."""
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    end = timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min))
    return min(max(instant, start), end - datetime.timedelta(microseconds=1))


def export_zip(export: OpiExport) -> bytes:
    """The day's files in one ZIP, in memory (eCandidat's "Fichier zip" held candidat and candidature; ours holds
    every file of the day, the inscription file and the PJ-OPI included). The download writes it to a temporary
    file instead (``applications.opi.pieces.write_zip``): the pieces may be large."""
    buffer = io.BytesIO()
    write_zip(export, buffer)
    return buffer.getvalue()


def record_collection(*, export: OpiExport, actor: User) -> bool:
    """The central office downloaded the day's ZIP: its files, as they are, have left the database, and their
    retention starts (``prune_opi_files``). Only the first download of these files counts (downloading again does
    not keep them longer), and only if no run rewrote them since the page read them (``updated_at``): files a run
    changed meanwhile wait for their own download. Returns whether the files were marked collected. The download
    view holds the row locked from the read of the files to here: a run meanwhile waits (``transfer_opis``).

    Side effects: ``OpiExport.collected_at`` and ``handed_at`` (a wish of the day withdrawn after this version left
    is to remove in Pégase by hand); a log line naming the actor (the export has no history of its own).
    """
    if export.collected_at is not None or export.files_erased_at is not None:
        return False
    now = timezone.now()
    stamped = OpiExport.objects.filter(
        pk=export.pk, updated_at=export.updated_at, collected_at__isnull=True, files_erased_at__isnull=True
    ).update(collected_at=now, handed_at=now)
    if stamped:
        logger.info("OPI files %s collected: downloaded by user %s", export, actor.pk)
    return bool(stamped)


# --- Retention of the day's files (not in eCandidat) -----------------------------------------------------------

PRUNE_BATCH = "prune_opi_files"


def _last_destroyed_day(today: datetime.date) -> datetime.date | None:
    """The last day whose files belong to a campaign whose dossiers are destroyed (archived more than
    ``ARCHIVE_RETENTION_DAYS`` ago, ``destroy_archived_campaigns``): the latest such campaign's archiving date. The
    night of that date wrote its last files before archiving it; the next campaign's files are of later days."""
    limit = today - datetime.timedelta(days=settings.ARCHIVE_RETENTION_DAYS)
    return Campaign.objects.filter(is_active=False, archive_on__isnull=False, archive_on__lt=limit).aggregate(
        last=Max("archive_on")
    )["last"]


def prune_opi_files(
    report: Report, *, dry_run: bool = False, limit: int | None = None, now: datetime.datetime | None = None
) -> int:
    """Empty the day's files (``OpiExport.files``: the admitted candidates' names, birth dates, addresses, INE)
    kept longer than needed. Files collected (written to ``OPI_EXPORT_DIR``, or downloaded) go
    ``OPI_FILES_RETENTION_DAYS`` days after; files nobody collected are kept, so that no day is lost before it
    reached the student records system, but never longer than their campaign's dossiers (``ARCHIVE_RETENTION_DAYS``
    after its archiving). The row stays with its counts, as a trace; its PJ-OPI (``OpiPiece``) stay with the OPI
    and the dossier, whose retention they follow (the day's ZIP no longer bundles their files). ``OPI_EXPORT_DIR``
    is not touched: files handed to the import job are the student records system's.

    Idempotent: erased files are not counted again. ``limit``: at most this many days, oldest first. Returns how
    many days were emptied (to empty, with ``dry_run``).

    Side effects: ``files`` emptied and ``files_erased_at`` stamped; the count of days past their retention kept
    because nobody collected them, for the batch history.
    """
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=settings.OPI_FILES_RETENTION_DAYS)
    kept = OpiExport.objects.with_files()
    not_collected = kept.filter(collected_at__isnull=True, day__lt=timezone.localdate(cutoff))
    expired = Q(collected_at__lt=cutoff)
    if (destroyed := _last_destroyed_day(timezone.localdate(now))) is not None:
        expired |= Q(day__lte=destroyed)
        not_collected = not_collected.filter(day__gt=destroyed)
    due = kept.filter(expired)
    ids = list(due.order_by("day", "pk").values_list("pk", flat=True)[:limit])
    if waiting := not_collected.count():
        report.add("days of OPI files past their retention, kept until collected", waiting)
    if dry_run:
        report.add("days of OPI files to erase", len(ids))
        return len(ids)
    # The conditions again in the statement: a run that rewrote a day meanwhile made its files not collected.
    erased = due.filter(pk__in=ids).update(files={}, files_erased_at=now)
    if erased:
        logger.info("OPI files of %s day(s) erased (retention over)", erased)
    report.add("days of OPI files erased", erased)
    return erased
