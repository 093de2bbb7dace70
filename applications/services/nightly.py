"""The nightly batches of the applications app (ecandidat-features §1.12, §3), run by ``manage.py nightly``.

Each function does one batch: ``fn(report, *, dry_run, limit)``. They select their work with one set-based query,
then handle each item in its own transaction that re-reads the row under a lock and acts only if the item still
qualifies (a conditional update or a re-check), so a rerun after a crash finishes the job without sending a mail
or promoting a candidate twice. With ``dry_run`` they only count.
"""

from __future__ import annotations

import datetime
import functools
import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, TypedDict

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext

from accounts.models import CandidateAccount, User
from accounts.services import delete_mails_of_accounts
from applications.dates import (
    ACT_MARGIN,
    counted_confirmation_date,
    effective_confirmation_date,
    effective_return_deadline,
    first_day_to_act,
)
from applications.enums import DossierStatus, EventKind, OpiState, PegaseRemoval
from applications.export_jobs import exports_holding
from applications.history import record_event
from applications.models import (
    Application,
    ApplicationEvent,
    Candidate,
    CommissionPack,
    DecisionLetter,
    ExportJob,
    Opi,
    PieceSubmission,
)
from applications.models.candidature import latest_decision
from applications.notifications import cancel_decision_mails, format_date, notify_candidate
from applications.packs import packs_holding
from applications.services.staff import (
    lock_waiting_list,
    promote_from_waiting_list,
    promotion_left_to_staff,
    recompute_waiting_list_ranks,
)
from documents.models import Document
from ecandidat import parameters
from ecandidat.models import DestroyedCampaignCount
from offers.enums import ApplicationMode, Avis
from offers.models import Campaign, Formation

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    from ecandidat.batches import Report

logger = logging.getLogger(__name__)

TRANSMISSION_REMIND_BATCH = "remind_transmission"
REMIND_BATCH = "remind_favourable_decisions"
WITHDRAW_BATCH = "withdraw_expired_confirmations"
RANKS_BATCH = "recompute_waiting_list_ranks"
ARCHIVE_BATCH = "archive_campaigns"
DESTROY_BATCH = "destroy_archived_campaigns"

CHUNK = 500

# The count of a withdrawal whose freed place ``staff.promote_from_waiting_list`` left to staff, the campaign closed
# to candidates (``withdraw_expired_confirmations``); its words in the batch history: ``ecandidat.batch_labels``.
LEFT_TO_STAFF_COUNT = "places left to staff (campaign closed to candidates, promote by hand)"


class FavourableAnnotations(TypedDict):
    """What favourable_unanswered() annotates on each application."""

    latest_avis: str
    latest_validated_at: datetime.datetime


def favourable_unanswered() -> QuerySet[WithAnnotations[Application, FavourableAnnotations]]:
    """Live applications whose latest validated decision is favourable and that the candidate has not answered.

    Annotated with ``latest_validated_at`` (the validation of that decision), which the date de confirmation may
    depend on (formation délai)."""
    return (
        Application.objects.filter(cancelled_at__isnull=True, accepted__isnull=True, campaign__is_active=True)
        .annotate(latest_avis=latest_decision("decision_type__avis", validated_only=True))
        .filter(latest_avis=Avis.FAVOURABLE)
        .annotate(latest_validated_at=latest_decision("validated_at", validated_only=True))
    )


def _with_dates(
    queryset: QuerySet[WithAnnotations[Application, FavourableAnnotations]],
) -> Iterator[tuple[WithAnnotations[Application, FavourableAnnotations], datetime.date | None]]:
    """(application, effective confirmation date) pairs, streamed; the date rule lives in applications.dates. The
    campaign comes with each application (its closing date for candidates, ``_closed_to_candidates_on``)."""
    queryset = queryset.select_related("formation", "campaign").order_by("pk")
    for application in queryset.iterator(chunk_size=CHUNK):
        yield application, effective_confirmation_date(application, application.latest_validated_at)


def _closed_to_candidates_on(application: Application, day: datetime.date) -> bool:
    """Whether the candidate of ``application`` cannot log in on ``day`` (after the campaign's closing date for
    candidates, eCandidat's « Date fin candidats »), so cannot confirm through the site that day: the rule of
    ``accounts.services.candidate_can_log_in``, ``Campaign.is_open_on``."""
    return not application.campaign.is_open_on(day)


# --- CANDIDATURE_RELANCE_TRANSMISSION ----------------------------------------------------------------------------


def untransmitted(first_day: datetime.date, horizon: datetime.date) -> QuerySet[Application]:
    """Online applications of the active campaign that their candidate never transmitted (``AT``, no
    ``transmitted_at``), not cancelled, not reminded yet (no TRANSMISSION_REMINDED row), whose formation's return
    deadline or own extension falls between ``first_day`` and ``horizon``.

    The effective return deadline is the later of those two dates (``applications.dates``), so every application
    whose effective deadline is in the window is here; a few more are (an extension past the horizon), which the
    caller drops by reading the effective deadline, the one rule the candidate's pages use."""
    reminded = ApplicationEvent.objects.filter(application=OuterRef("pk"), kind=EventKind.TRANSMISSION_REMINDED)
    window = (first_day, horizon)
    return Application.objects.filter(
        Q(formation__return_deadline__range=window) | Q(return_deadline_override__range=window),
        ~Exists(reminded),
        cancelled_at__isnull=True,
        campaign__is_active=True,
        dossier_status=DossierStatus.WAITING,
        transmitted_at__isnull=True,
        formation__mode=ApplicationMode.ONLINE,
    )


def _application_failed(pk: int, exc: Exception) -> str:
    """The batch history's error of an application left for the next night, in the active language: the
    institution's, as a batch runs (cron, ``manage.py nightly``); the exception as Python gives it."""
    return gettext("application %(application)s: %(exception)s: %(message)s") % {
        "application": pk,
        "exception": type(exc).__name__,
        "message": exc,
    }


def _formation_failed(code: str, exc: Exception) -> str:
    """The batch history's error of a formation left for the next night (see ``_application_failed``)."""
    return gettext("formation %(formation)s: %(exception)s: %(message)s") % {
        "formation": code,
        "exception": type(exc).__name__,
        "message": exc,
    }


def remind_untransmitted_applications(
    report: Report, *, dry_run: bool, limit: int | None, today: datetime.date | None = None
) -> None:
    """Remind once (mail CANDIDATURE_RELANCE_TRANSMISSION) the candidates who have not transmitted an online
    application whose effective return deadline falls within ``TRANSMISSION_REMINDER_DAYS`` days of the first day
    the candidate can still act (``first_day_to_act``: tomorrow for a run at 23:00, inside the maintenance window),
    that day included (0: no reminder). The candidate may transmit until the deadline included.

    Only applications never transmitted: a dossier staff set back to ``AT`` or ``IN`` was already mailed its status
    (STATUT_AT, STATUT_IN with the deadline). As for the confirmation reminder, the first night within N days
    reminds, so a night the batch did not run loses nothing. Each application is handled in one transaction: the
    row is locked (skipped when someone holds it, e.g. the candidate transmitting right now: next night retries it),
    re-read, then the outbox row and the history row (TRANSMISSION_REMINDED, which staff see in the history and which
    marks it reminded) commit together. An application whose mail cannot be written is reported and left
    unreminded, for the next night; the others go on.
    """
    days = parameters.get("TRANSMISSION_REMINDER_DAYS")
    if days == 0:
        return
    first_day = today or first_day_to_act()
    horizon = first_day + datetime.timedelta(days=days)
    listed = untransmitted(first_day, horizon).select_related("formation").order_by("pk")
    done = 0
    for application in listed.iterator(chunk_size=CHUNK):
        if not first_day <= effective_return_deadline(application) <= horizon:
            continue
        if limit is not None and done >= limit:
            break
        done += 1
        if dry_run:
            report.add("reminders to send")
            continue
        try:
            with transaction.atomic():
                sent = _remind_transmission(application.pk, first_day=first_day, horizon=horizon)
        except Exception as exc:  # one application's failure stops nothing else; it is retried next night
            report.error(_application_failed(application.pk, exc))
            continue
        report.add("reminders sent" if sent else "transmitted, changed or busy meanwhile")


def _remind_transmission(pk: int, *, first_day: datetime.date, horizon: datetime.date) -> bool:
    """Mail and record the reminder of application ``pk`` if it still qualifies (inside the caller's transaction)."""
    application = (
        untransmitted(first_day, horizon)
        .select_for_update(of=("self",), skip_locked=True)
        .select_related("candidate__user", "formation__centre")
        .filter(pk=pk)
        .first()
    )
    if application is None:
        return False
    deadline = effective_return_deadline(application)
    if not first_day <= deadline <= horizon:  # staff extended it meanwhile
        return False
    notify_candidate(application=application, code="CANDIDATURE_RELANCE_TRANSMISSION")
    record_event(
        application,
        kind=EventKind.TRANSMISSION_REMINDED,
        batch=TRANSMISSION_REMIND_BATCH,
        comment=f"date limite de retour {deadline:%d/%m/%Y}",
    )
    return True


# --- CANDIDATURE_RELANCE_FAVO ------------------------------------------------------------------------------------


def remind_favourable_decisions(
    report: Report, *, dry_run: bool, limit: int | None, today: datetime.date | None = None
) -> None:
    """Remind once (mail CANDIDATURE_RELANCE_FAVO) the candidates with an unanswered favourable decision whose date
    de confirmation falls within ``FAVOURABLE_REMINDER_DAYS`` days (eCandidat SCOL_NB_JOUR_RELANCE_FAVO) of the
    first day the candidate can still act (``first_day_to_act``: tomorrow for a run at 23:00, inside the maintenance
    window, so a date that is today, gone by for the candidate, is not reminded; it was the night before).

    eCandidat reminds when the date is exactly today + N; we remind on the first night within N days, so a night
    the batch did not run does not lose the reminder. ``favourable_reminder_sent_at`` is claimed by a conditional
    update in the same transaction as the outbox row: a rerun never sends it twice. An application whose reminder
    fails is reported and left unclaimed, for the next night; the others go on.

    No reminder once the campaign is closed to candidates on that first day (after its ``ends_on``): the candidate
    can no longer log in, so a mail asking them to confirm on the site by a date would ask what they cannot do. It
    is counted, not claimed: if staff move the closing date later, the next night reminds as usual.
    """
    first_day = today or first_day_to_act()
    horizon = first_day + datetime.timedelta(days=parameters.get("FAVOURABLE_REMINDER_DAYS"))
    pending = favourable_unanswered().filter(favourable_reminder_sent_at__isnull=True)
    done = 0
    for listed, confirmation_date in _with_dates(pending):
        if confirmation_date is None or not first_day <= confirmation_date <= horizon:
            continue
        if _closed_to_candidates_on(listed, first_day):
            report.add("reminders not sent, campaign closed to candidates")
            continue
        if limit is not None and done >= limit:
            break
        done += 1
        if dry_run:
            report.add("reminders to send")
            continue
        try:
            with transaction.atomic():
                sent = _remind_favourable(listed.pk, confirmation_date)
        except Exception as exc:  # one application's failure stops nothing else; it is retried next night
            report.error(_application_failed(listed.pk, exc))
            continue
        report.add("reminders sent" if sent else "already reminded or answered")


def _remind_favourable(pk: int, confirmation_date: datetime.date) -> bool:
    """Claim, mail and record (CONFIRMATION_REMINDED, with the date) the reminder of application ``pk`` if nobody
    did it or answered (inside the caller's transaction)."""
    claimed = Application.objects.filter(
        pk=pk, favourable_reminder_sent_at__isnull=True, accepted__isnull=True
    ).update(favourable_reminder_sent_at=timezone.now())
    if not claimed:
        return False
    application = Application.objects.select_related("candidate__user", "formation__centre").get(pk=pk)
    notify_candidate(
        application=application,
        code="CANDIDATURE_RELANCE_FAVO",
        confirmation_date=format_date(confirmation_date),
    )
    record_event(
        application,
        kind=EventKind.CONFIRMATION_REMINDED,
        batch=REMIND_BATCH,
        comment=f"date de confirmation {confirmation_date:%d/%m/%Y}",
    )
    return True


# --- BATCH_DESIST_AUTO --------------------------------------------------------------------------------------------


def withdraw_expired_confirmations(
    report: Report, *, dry_run: bool, limit: int | None, today: datetime.date | None = None
) -> None:
    """Withdraw the favourable decisions not confirmed by their date de confirmation (mail CANDIDATURE_DESIST_AUTO),
    then admit the first of the formation's complementary list (``staff.promote_from_waiting_list``).

    The candidate may answer until the date de confirmation included ("Confirmer" is refused from the next day on,
    ``candidature.answer_refusal``) and only while the site is open, so an application is withdrawn once its date is
    before the first day the candidate can still act (``first_day_to_act``). With the maintenance window enforced
    (22:45–06:00), the night of the date withdraws it whether the run starts at 23:00 or after midnight, and before
    ``archive_campaigns`` (later in ``nightly``), which takes the campaign's applications out of this batch's reach;
    without it, from midnight after the date on. ``today``: that first day, for tests.

    The batch never withdraws a candidate who could not log in on the last day of their confirmation period: a
    decision validated when its candidate could no longer act by its date (see below), and a date de confirmation
    after the campaign's closing date for candidates (``Campaign.ends_on``, past which a candidate cannot log in):
    the mails promised a date the candidate could not reach through the site, and withdrawing them would hand the
    place to the next of the list, just as locked out. Both are counted for staff to act on (a new date; a campaign
    reopened to candidates until then), never withdrawn by the batch. Each application is handled in one
    transaction: the row is locked, the answer, the latest validated decision and the date de confirmation re-read
    (staff may have given a new date, or a new decision, since the batch's read), the withdrawal, its history row,
    its mail and the promotion from the withdrawn application's campaign commit together — a crash leaves either
    all of them or none, and a rerun skips the applications already withdrawn. A promotion that the campaign's
    closing to candidates left to staff (a date de confirmation on its closing date, withdrawn once it has gone by:
    ``staff.promote_from_waiting_list`` promotes nobody then) is counted for staff (``LEFT_TO_STAFF_COUNT``). An
    application whose withdrawal fails is reported and left as it was, for the next night; the others go on.
    """
    first_day = today or first_day_to_act()
    done = 0
    for application, confirmation_date in _with_dates(favourable_unanswered()):
        if confirmation_date is None or confirmation_date >= first_day:
            continue
        if _given_too_late(application.latest_validated_at, confirmation_date):
            # Given after its date, or on its evening in the hour before the site closed or once it had (a decision
            # validated by staff then): the candidate had no real chance to answer, so staff must set a date; never
            # withdraw it.
            report.add("favourable decisions given after their confirmation date (set a date)")
            continue
        if _closed_to_candidates_on(application, confirmation_date):
            # The campaign closed to candidates before that date: they could not log in to confirm on their last day.
            report.add(
                "favourable decisions whose confirmation date is after the campaign's closing date for candidates "
                "(reopen the campaign and set a date)"
            )
            continue
        if limit is not None and done >= limit:
            break
        done += 1
        if dry_run:
            report.add("applications to withdraw")
            continue
        try:
            with transaction.atomic():
                outcomes = _withdraw(application.pk, first_day=first_day)
        except Exception as exc:  # one application's failure stops nothing else; it is retried next night
            report.error(_application_failed(application.pk, exc))
            continue
        for outcome in outcomes:
            report.add(outcome)


def _given_too_late(validated_at: datetime.datetime, confirmation_date: datetime.date) -> bool:
    """Whether a favourable decision validated at ``validated_at`` left its candidate no moment to answer by
    ``confirmation_date``: the first day they could act after the validation, with the hour before the site closes
    (``first_day_to_act`` with ``ACT_MARGIN``, the rule of the validation's ``staff._confirmation_date_refusal``;
    the calendar day without an enforced window) is past that date. Validated at 22:40 on its date (before that
    rule), it left 5 minutes to confirm: counted for staff, not withdrawn 20 minutes later."""
    return first_day_to_act(validated_at, margin=ACT_MARGIN) > confirmation_date


def _withdraw(pk: int, *, first_day: datetime.date) -> list[str]:
    """Withdraw application ``pk`` and promote from its formation's list if it still qualifies (inside the caller's
    transaction); returns the report's count keys.

    Lock order: the formation's row first when it manages its list automatically (the withdrawal then promotes
    from it), then the application's, as every path that changes ranks does (``staff.lock_waiting_list``); the
    other way round, a ranking validation of this very application at the same moment deadlocked with it. The
    campaign's closing date for candidates is read again too: staff may have moved it since the batch's read."""
    formation = Formation.objects.filter(applications__pk=pk, auto_waiting_list=True).only("pk").first()
    if formation is not None:
        lock_waiting_list(formation)
    locked = (
        Application.objects.select_for_update(of=("self",))
        .select_related("candidate__user", "formation__commission", "formation__centre", "campaign")
        .filter(pk=pk, accepted__isnull=True, cancelled_at__isnull=True)
        .first()
    )
    latest = locked.decisions.select_related("decision_type").current_validated() if locked else None
    if locked is None or latest is None or latest.decision_type.avis != Avis.FAVOURABLE:
        return ["answered meanwhile"]
    assert latest.validated_at is not None  # current_validated(): a validated decision
    confirmation_date = effective_confirmation_date(locked, latest.validated_at)
    if (
        confirmation_date is None
        or confirmation_date >= first_day
        or _given_too_late(latest.validated_at, confirmation_date)
        or _closed_to_candidates_on(locked, confirmation_date)
    ):
        return ["confirmation date changed meanwhile"]
    locked.accepted = False
    locked.answered_at = timezone.now()
    locked.answered_by = None
    locked.save(update_fields=["accepted", "answered_at", "answered_by"])
    # The candidate's own withdrawal, recorded the same way; ``batch`` tells who acted.
    record_event(
        locked,
        batch=WITHDRAW_BATCH,
        kind=EventKind.WITHDRAWN,
        comment=f"date de confirmation {confirmation_date:%d/%m/%Y}",
    )
    # A « confirmez avant le… » or « relance » still waiting in the outbox (the mail server down) must not follow.
    cancel_decision_mails(locked)
    notify_candidate(
        application=locked,
        code="CANDIDATURE_DESIST_AUTO",
        confirmation_date=format_date(confirmation_date),
    )
    promoted = promote_from_waiting_list(
        formation=locked.formation, campaign_id=locked.campaign_id, actor=None, batch=WITHDRAW_BATCH
    )
    if promoted is None:
        if promotion_left_to_staff(locked.formation) is not None:
            return ["applications withdrawn", LEFT_TO_STAFF_COUNT]
        return ["applications withdrawn"]
    return ["applications withdrawn", "candidates promoted from the waiting list"]


# --- BATCH_CALCUL_RANG_LC ----------------------------------------------------------------------------------------


def recompute_all_waiting_list_ranks(report: Report, *, dry_run: bool, limit: int | None) -> None:
    """Rang réel of every formation that has a complementary list in the active campaign, one transaction each; a
    formation that fails is reported and the others go on."""
    with_list = Application.objects.filter(
        cancelled_at__isnull=True, campaign__is_active=True, formation=OuterRef("pk")
    ).filter(Q(waiting_list_rank__isnull=False) | Q(decisions__decision_type__avis=Avis.COMPLEMENTARY_LIST))
    formations = Formation.objects.filter(pk__in=Subquery(with_list.values("formation_id"))).order_by("pk")
    if limit is not None:
        formations = formations[:limit]
    for formation in formations.iterator(chunk_size=CHUNK):
        if dry_run:
            report.add("formations to rank")
            continue
        try:
            ranked = recompute_waiting_list_ranks(formation=formation)
        except Exception as exc:  # one formation's failure stops nothing else; it is ranked again next night
            report.error(_formation_failed(formation.code, exc))
            continue
        report.add("formations ranked")
        report.add("ranked applications", ranked)


# --- waiting-list progress (issue 12) ----------------------------------------------------------------------------

RANK_PROGRESS_BATCH = "mail_waiting_list_progress"


def mail_waiting_list_progress(report: Report, *, dry_run: bool, limit: int | None) -> None:
    """One mail (LISTE_COMP_PROGRESSION) to each candidate of a complementary list whose rang réel is better than
    the rank they were last told, however many steps it moved since: not one mail per step. The told rank is
    claimed by a conditional update in the same transaction as the outbox row, so a rerun sends nothing twice; a
    mail that fails is reported and its rank left unclaimed, for the next night, and the others go on.
    Runs after ``recompute_waiting_list_ranks``. Only when candidates see their rang réel
    (``WAITING_LIST_RANK_DISPLAY=R``): a mail must not tell what the recap does not show."""
    moved = (
        Application.objects.filter(
            cancelled_at__isnull=True,
            campaign__is_active=True,
            waiting_list_rank__isnull=False,
            waiting_list_rank_mailed__isnull=False,
            waiting_list_rank__lt=F("waiting_list_rank_mailed"),
        )
        .order_by("pk")
        .values_list("pk", "waiting_list_rank", "waiting_list_rank_mailed")
    )
    if (display := parameters.get("WAITING_LIST_RANK_DISPLAY")) != "R":
        if count := moved.count():
            report.add(f"progress mails not sent (WAITING_LIST_RANK_DISPLAY={display})", count)
        return
    if limit is not None:
        moved = moved[:limit]
    for pk, rank, told in moved.iterator(chunk_size=CHUNK):
        if dry_run:
            report.add("progress mails to send")
            continue
        try:
            with transaction.atomic():
                sent = _mail_progress(pk, rank=rank, told=told)
        except Exception as exc:  # one application's failure stops nothing else; it is retried next night
            report.error(_application_failed(pk, exc))
            continue
        report.add("progress mails sent" if sent else "rank changed meanwhile")


def _mail_progress(pk: int, *, rank: int | None, told: int | None) -> bool:
    """Claim the told rank of application ``pk``, then mail and record its progress (inside the caller's
    transaction); False when its rank changed since the batch's read. Both ranks are set (the batch's query
    excludes the others); their fields are nullable, hence the types."""
    claimed = Application.objects.filter(pk=pk, waiting_list_rank=rank, waiting_list_rank_mailed=told).update(
        waiting_list_rank_mailed=rank
    )
    if not claimed:
        return False
    application = Application.objects.select_related("candidate__user", "formation__centre").get(pk=pk)
    notify_candidate(application=application, code="LISTE_COMP_PROGRESSION", rank=rank, previous_rank=told)
    record_event(
        application, kind=EventKind.RANK_PROGRESS_MAILED, batch=RANK_PROGRESS_BATCH, comment=f"{told} → {rank}"
    )
    return True


# --- BATCH_ARCHIVAGE ---------------------------------------------------------------------------------------------


def archive_campaigns(report: Report, *, dry_run: bool, limit: int | None, today: datetime.date | None = None) -> None:
    """On the active campaign's archiving date: activate the next campaign, freeze the formation dates into the old
    campaign's applications (so changing a formation for the new year does not move them), close its accounts.

    Refuses (an error in the batch history, nothing changed) when there is no next campaign to activate: the site
    needs an active campaign; likewise when the next campaign closes for candidates on or before today (activated,
    it would be closed already), in a dry run too. Idempotent: once archived, the campaign is no longer active.
    """
    today = today or timezone.localdate()
    old = Campaign.objects.active().filter(archive_on__lte=today).first()
    if old is None:
        return
    following = Campaign.objects.awaiting_activation(old, today).first()
    if following is None:
        report.error(
            gettext("campaign %(campaign)s: no next campaign to activate; nothing archived.") % {"campaign": old.code}
        )
        return
    if following.ends_on <= today:
        # Activated tonight (23:00) on or after its closing date for candidates, it would give them nothing. The
        # campaign form refuses such dates (offers.services.campaign_rollover_errors), but a date changed by
        # ``update()``, an older database or the admin before that check can still hold one.
        report.error(
            gettext(
                "campaign %(campaign)s: the next campaign, %(next)s, closed for candidates on %(date)s; activated, it "
                "would be closed already. Nothing archived: correct the dates on “Campaigns”."
            )
            % {
                "campaign": old.code,
                "next": following.code,
                "date": date_format(following.ends_on, "SHORT_DATE_FORMAT"),
            }
        )
        return
    applications = Application.objects.filter(campaign=old)
    accounts = User.objects.filter(campaign=old, is_active=True)
    # The transfer (run before this batch, ``transfer_opis``) takes the active campaign's OPIs only: those still
    # pending tonight (a candidate refused, a formation without its code…) will never be written in a file.
    left_pending = list(
        Opi.objects.filter(application__campaign=old, state=OpiState.PENDING)
        .order_by("application__candidate__user__username", "pk")
        .values_list("application__candidate__user__username", flat=True)
    )
    if dry_run:
        report.add("campaigns to archive")
        report.add("applications to freeze", applications.count())
        report.add("accounts to close", accounts.count())
        if left_pending:
            report.add("OPIs left pending", len(left_pending))
        return
    deadline = Subquery(Formation.objects.filter(pk=OuterRef("formation_id")).values("return_deadline")[:1])
    fixed_date = Subquery(
        Formation.objects.filter(pk=OuterRef("formation_id"), confirmation_delay_days__isnull=True).values(
            "confirmation_date"
        )[:1]
    )
    with transaction.atomic():
        # Lock the active campaign so that two archivers cannot both proceed.
        if not Campaign.objects.select_for_update(of=("self",)).filter(pk=old.pk, is_active=True).exists():
            return
        # Each application's dates as they stand tonight (applications.dates), stored as its own: a deadline
        # extended for it if later, its date de confirmation (its own, else counted from its favourable decision,
        # else the formation's). Marked frozen, they are read as they are (dates_frozen_on), next year's dates aside.
        frozen = applications.update(
            return_deadline_override=Greatest(Coalesce(F("return_deadline_override"), deadline), deadline),
            confirmation_date_override=Coalesce(
                F("confirmation_date_override"), counted_confirmation_date(), fixed_date
            ),
            dates_frozen_on=Value(today),
        )
        closed = accounts.update(is_active=False)
        # The archiving date becomes the night it really happened: the retention (ARCHIVE_RETENTION_DAYS) counts
        # from it, so a date set in the past by mistake (a wrong year) cannot get the data destroyed this very night.
        Campaign.objects.filter(pk=old.pk).update(is_active=False, archive_on=Greatest(F("archive_on"), Value(today)))
        Campaign.objects.filter(pk=following.pk).update(is_active=True)
    logger.info("campaign %s archived, %s activated", old.code, following.code)
    report.add("campaigns archived")
    report.add("applications frozen", frozen)
    report.add("accounts closed", closed)
    if left_pending:
        report.add("OPIs left pending", len(left_pending))
        report.error(_left_pending_message(old.code, left_pending))


def _first_numbers(numbers: list[str]) -> str:
    """The first twenty dossier numbers of a batch history's error, "…" when there are more."""
    return ", ".join(numbers[:20]) + (", …" if len(numbers) > 20 else "")


def _left_pending_message(campaign_code: str, numbers: list[str]) -> str:
    """The batch history's error about the OPIs an archived campaign leaves pending (their candidates' dossier
    numbers, one per OPI): read by the central office."""
    dossiers = list(dict.fromkeys(numbers))
    shown = _first_numbers(dossiers)
    return ngettext(
        "campaign %(campaign)s archived with %(count)d OPI still pending: the transfer only takes the active "
        "campaign's, so it will never be written in a file. Enter it by hand in the student records system, then "
        "cancel it on the OPI screen (filter « archived campaigns »). Dossier: %(numbers)s",
        "campaign %(campaign)s archived with %(count)d OPIs still pending: the transfer only takes the active "
        "campaign's, so they will never be written in a file. Enter them by hand in the student records system, "
        "then cancel them on the OPI screen (filter « archived campaigns »). Dossiers: %(numbers)s",
        len(numbers),
    ) % {"campaign": campaign_code, "count": len(numbers), "numbers": shown}


# --- BATCH_DESTRUCT_DOSSIER --------------------------------------------------------------------------------------


def _destroyable_campaigns(today: datetime.date) -> QuerySet[Campaign]:
    limit = today - datetime.timedelta(days=settings.ARCHIVE_RETENTION_DAYS)
    return Campaign.objects.filter(is_active=False, archive_on__isnull=False, archive_on__lt=limit).order_by(
        "archive_on"
    )


# The OPI work a destruction waits for: an OPI not transferred yet, or a withdrawal the central office has still to
# remove by hand in Pégase (``applications.opi.services``: those outlive the archiving).
OPI_WORK_TO_DO = Q(state=OpiState.PENDING) | Q(pegase_removal=PegaseRemoval.TO_DO)


def _holding_opi_work() -> Exists:
    """Whether the account (the outer ``User``) has an application whose OPI work is not done."""
    return Exists(Opi.objects.filter(OPI_WORK_TO_DO, application__candidate__user_id=OuterRef("pk")))


def destroy_archived_campaigns(
    report: Report, *, dry_run: bool, limit: int | None, today: datetime.date | None = None
) -> None:
    """Destroy the campaigns archived more than ``ARCHIVE_RETENTION_DAYS`` ago: files, accounts, applications (their
    decision letters' files included), the commission packs and the background exports holding one of their dossiers
    (row and file), and the mails about the accounts or written to them (eCandidat SCOL_NB_JOUR_ARCHIVAGE). An
    anonymous count (DestroyedCampaignCount) is written first, then the data go by chunks of candidates, one
    transaction each, so a crash leaves a partly destroyed campaign that the next run finishes (without counting
    again). The campaign row stays, for its label in statistics.

    A candidate whose OPI work is not done (an OPI still pending, or a withdrawal to remove by hand in Pégase) is
    kept, whole: deleting their application would take the OPI row with it, the central office's only trace of
    what is still to do in the student records system. They are counted, and an error of the batch history (in the
    site's language) names them for the central office to act on the OPI screen (cancel the pending OPI, or mark
    the withdrawal removed in Pégase). Each night reports those still kept and destroys those whose work is done.
    Until the last of them goes the campaign is not counted destroyed (« campaigns destroyed », and the anonymous
    count's ``destroyed_at``, come with its last account) and the files they hold stay; the campaign's other files go.
    """
    today = today or timezone.localdate()
    for campaign in _destroyable_campaigns(today):
        users = User.objects.filter(campaign=campaign)
        documents = Document.objects.filter(campaign_code=campaign.code)
        if not users.exists() and not documents.exists():
            continue
        destroyable = users.filter(~_holding_opi_work())
        if dry_run:
            holding = users.filter(_holding_opi_work())
            kept = holding.count()
            report.add("campaigns to destroy")
            report.add("accounts to delete", users.count() - kept)
            applications = Application.objects.filter(campaign=campaign).exclude(candidate__user__in=holding)
            report.add("applications to delete", applications.count())
            if kept:
                report.add("accounts kept, OPI work to do (pending OPI or removal in Pégase)", kept)
            continue
        DestroyedCampaignCount.objects.get_or_create(
            campaign_code=campaign.code,
            defaults={
                "accounts": users.count(),
                "applications": Application.objects.filter(campaign=campaign).count(),
                "documents": documents.count(),
            },
        )
        chunks = 0
        while True:
            ids = list(destroyable.order_by("pk").values_list("pk", flat=True)[:CHUNK])
            if not ids:
                break
            # After the emptiness check: a run that deleted the last chunk within its limit goes on to the leftover
            # documents and counts the campaign destroyed (the next run skips a campaign with nothing left).
            if limit is not None and chunks >= limit:
                report.add("chunks left for the next run")
                return
            chunks += 1
            with transaction.atomic():
                ids = _lock_without_opi_work(ids)
                submissions = PieceSubmission.objects.filter(candidate__user_id__in=ids)
                owned = Document.objects.filter(
                    Q(pk__in=submissions.exclude(document=None).values("document_id")) | Q(uploaded_by_id__in=ids)
                )
                files = list(owned.values_list("file", flat=True))
                document_ids = list(owned.values_list("pk", flat=True))
                # The decision letters go with their applications (cascade): their files with the documents'.
                letters = DecisionLetter.objects.filter(application__candidate__user_id__in=ids).exclude(file="")
                files += letters.values_list("file", flat=True)
                # Read once: the packs and the background exports holding them go (a JSON list each, no foreign key).
                chunk_applications = list(
                    Application.objects.filter(candidate__user_id__in=ids).values_list("pk", flat=True)
                )
                packs = _delete_packs(chunk_applications)
                files += [name for name in packs if name]
                exports = _delete_exports(chunk_applications)
                files += [name for name in exports if name]
                _delete_history(ids)
                submissions.delete()
                Document.objects.filter(pk__in=document_ids).delete()
                Application.objects.filter(candidate__user_id__in=ids).delete()
                Candidate.objects.filter(user_id__in=ids).delete()
                # Before the accounts: deleting one unlinks the mails about it (``about``, SET_NULL).
                mails = _delete_mails(ids)
                deleted_users = User.objects.filter(pk__in=ids).delete()[1].get(User._meta.label, 0)
                # Files go once the rows are gone for good; a failed removal leaves an orphan for remove_orphan_files.
                transaction.on_commit(functools.partial(_delete_files, files, report))
            report.add("accounts deleted", deleted_users)
            if mails:
                report.add("mails deleted", mails)
            if packs:
                report.add("commission packs deleted", len(packs))
            if exports:
                report.add("exports deleted", len(exports))
        kept_numbers = list(users.order_by("username").values_list("username", flat=True))
        leftover_documents = documents
        if kept_numbers:  # their files stay with them: those of their pieces, those they uploaded or own
            held = PieceSubmission.objects.filter(candidate__user__in=users).exclude(document=None)
            leftover_documents = documents.exclude(
                Q(pk__in=held.values("document_id")) | Q(uploaded_by__in=users) | Q(owner__in=users)
            )
        leftover = list(leftover_documents.values_list("file", flat=True))
        Document.objects.filter(pk__in=list(leftover_documents.values_list("pk", flat=True))).delete()
        _delete_files(leftover, report)
        if kept_numbers:
            report.add("accounts kept, OPI work to do (pending OPI or removal in Pégase)", len(kept_numbers))
            report.error(_kept_for_opi_message(campaign.code, kept_numbers))
        else:
            # The anonymous count, written when the destruction began, dates from its end.
            DestroyedCampaignCount.objects.filter(campaign_code=campaign.code).update(destroyed_at=timezone.now())
            report.add("campaigns destroyed")


def _delete_packs(applications: list[int]) -> list[str]:
    """Delete the commission packs holding one of these dossiers (``applications.packs.packs_holding``: a pack lists
    its applications in JSON, no foreign key takes it with them); their file names (empty for a pack not built), to
    delete once the chunk commits. Their file is read under the packs' lock: a build finishing meanwhile either
    committed its file, read here, or finds its pack gone and keeps nothing (``applications.packs.PackTakenOver``).
    Three queries at most, whatever the chunk's size."""
    holding = [pack.pk for pack in packs_holding(applications)]
    if not holding:
        return []
    locked = CommissionPack.objects.select_for_update(of=("self",)).filter(pk__in=holding)
    names = list(locked.values_list("file", flat=True))
    CommissionPack.objects.filter(pk__in=holding).delete()
    return names


def _delete_exports(applications: list[int]) -> list[str]:
    """Delete the background exports whose file holds one of these dossiers (``applications.export_jobs
    .exports_holding``: a job lists its applications in JSON, no foreign key takes it with them; found by review: the
    destroyed candidates' names and addresses stayed downloadable until ``EXPORT_RETENTION``); their file names, to
    delete once the chunk commits, as the CNIL erasure deletes them. Read under the jobs' lock; a job lists its
    applications only once built, its file with them (``export_jobs.build_export``), and a built job changes no more.
    Two queries, whatever the number of jobs and the chunk's size."""
    holding = exports_holding(applications).select_for_update(of=("self",)).order_by("pk")
    jobs = list(holding.values_list("pk", "file"))
    if not jobs:
        return []
    ExportJob.objects.filter(pk__in=[pk for pk, _name in jobs]).delete()
    return [name for _pk, name in jobs]


def _lock_without_opi_work(ids: list[int]) -> list[int]:
    """The chunk's accounts still without OPI work, under lock: their applications, then their OPIs (the order of
    the staff's and the erasure's paths), so an OPI re-queued meanwhile keeps its candidate, and a re-queue or a
    transfer waiting for these rows finds them gone."""
    list(
        Application.objects.select_for_update(of=("self",))
        .filter(candidate__user_id__in=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    opis = (
        Opi.objects.select_for_update(of=("self",))
        .filter(application__candidate__user_id__in=ids)
        .order_by("pk")
        .values_list("application__candidate__user_id", "state", "pegase_removal")
    )
    busy = {
        user_id
        for user_id, state, removal in opis
        if state == OpiState.PENDING or removal == PegaseRemoval.TO_DO  # OPI_WORK_TO_DO, read on the locked rows
    }
    return [pk for pk in ids if pk not in busy]


def _kept_for_opi_message(campaign_code: str, numbers: list[str]) -> str:
    """The batch history's error about the candidates kept for their OPI work: read by the central office."""
    shown = _first_numbers(numbers)
    return ngettext(
        "campaign %(campaign)s: %(count)d candidate kept, OPI work still to do (a pending OPI, or a withdrawal to "
        "remove in Pégase). On the OPI screen, cancel the pending OPI or mark the withdrawal removed in Pégase: the "
        "candidate is destroyed the night after. Dossier: %(numbers)s",
        "campaign %(campaign)s: %(count)d candidates kept, OPI work still to do (pending OPIs, or withdrawals to "
        "remove in Pégase). On the OPI screen, cancel their pending OPIs or mark their withdrawals removed in "
        "Pégase: they are destroyed the night after. Dossiers: %(numbers)s",
        len(numbers),
    ) % {"campaign": campaign_code, "count": len(numbers), "numbers": shown}


def _delete_mails(ids: list[int]) -> int:
    """Delete the mails the CNIL erasure deletes with an account, for a chunk of accounts at once, with the outbox's
    history of them (``accounts.services.delete_mails_of_accounts``, the purge's rule too). Kept, a mail not sent
    yet went out to a destroyed account, and a failed one, its text naming the person and the decision, could be
    resent. Returns how many."""
    return delete_mails_of_accounts(ids)


def _delete_history(ids: list[int]) -> None:
    """The back office's change history (admin ``LogEntry``) of a chunk of accounts, as the CNIL erasure deletes it
    (``erasure._delete_history``): the accounts' lines (under the users and under « Comptes candidats », their logins
    included), their dossiers' and their applications'; their titles hold the person's name, their messages
    addresses. The mails' lines go with the mails (``_delete_mails``). Before the rows: the ids are read from them.
    Their addresses and ENT identities too (allauth's « Adresses e-mail » and « Comptes sociaux », titled with the
    address), as the purge of unvalidated accounts does (``accounts.services._delete_accounts``)."""
    _delete_log_entries(User, ids)
    _delete_log_entries(CandidateAccount, ids)
    for model in (EmailAddress, SocialAccount):
        _delete_log_entries(model, list(model.objects.filter(user_id__in=ids).values_list("pk", flat=True)))
    _delete_log_entries(Candidate, list(Candidate.objects.filter(user_id__in=ids).values_list("pk", flat=True)))
    applications = Application.objects.filter(candidate__user_id__in=ids)
    _delete_log_entries(Application, list(applications.values_list("pk", flat=True)))


def _delete_log_entries(model: type, pks: list[int]) -> None:
    if pks:
        content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
        LogEntry.objects.filter(content_type=content_type, object_id__in=[str(pk) for pk in pks]).delete()


def _delete_files(names: Iterable[str], report: Report) -> None:
    """Delete the stored files of rows already gone. One the storage refuses (a disk error, the bucket unreachable or
    refusing) is counted and left for ``remove_orphan_files``: the destruction goes on with the next files, chunks
    and campaigns (it runs after the chunk's commit, where an exception would stop the whole batch)."""
    failed: list[str] = []
    for name in names:
        try:
            default_storage.delete(name)
        except Exception as exc:
            logger.warning("could not delete file %s: %s: %s", name, type(exc).__name__, exc)
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    if failed:
        report.add("files left for remove_orphan_files", len(failed))
        report.error(
            ngettext(
                "%(count)d file not deleted, left for remove_orphan_files: %(first)s",
                "%(count)d files not deleted, left for remove_orphan_files; the first: %(first)s",
                len(failed),
            )
            % {"count": len(failed), "first": failed[0]}
        )
