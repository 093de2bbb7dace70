"""The candidate's side of an application (ecandidat-features §1.5–1.12, house-style §3).

Every service takes keyword-only arguments and an ``actor``, locks the row it changes
(``select_for_update(of=("self",))``), re-checks its rules under the lock (so a double submit or a stale page gets a
``BusinessRuleError`` with a clear message, never a second effect), writes an ``ApplicationEvent`` and enqueues its
mails through ``applications.notifications`` (sent once the transaction commits).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from applications.dates import (
    ACT_MARGIN,
    closes_tonight,
    effective_confirmation_date,
    effective_return_deadline,
    first_day_to_act,
)
from applications.enums import EventKind, WithdrawalReason
from applications.forms_tab import missing_forms
from applications.history import record_event
from applications.letters import NO_LETTER, LetterMail, letter_mail, letter_obtainable
from applications.models import Application, Candidate
from applications.notifications import (
    CANCELLED_BEFORE_SENT,
    cancel_decision_mails,
    cancel_status_mails,
    notify_candidate,
    notify_candidate_with,
    notify_commission,
)
from applications.pieces import blocking_pieces
from applications.questions import QuestionRow, missing_questions, question_rows
from applications.services.pieces import delete_application_files
from applications.services.staff import (
    admission_proposal_refusal,
    admit_on_proposal,
    lock_waiting_list,
    new_return_deadline_refusal,
    promote_from_waiting_list,
)
from applications.signals import application_confirmed, confirmation_withdrawn
from applications.workflow import (
    ANSWER_TRANSITIONS,
    CANCELLABLE,
    Role,
    already_answered_message,
    change_answer,
    change_status,
    get_transition,
    withdrawal_transition,
)
from ecandidat import parameters
from ecandidat.exceptions import AlreadyDone, BusinessRuleError, FieldRuleError, InvalidTransition
from ecandidat.maintenance import hour_label
from ecandidat.staff_text import shown_in_mail
from offers.enums import ApplicationMode, Avis, LetterKind
from offers.models import Campaign, Formation

if TYPE_CHECKING:
    from accounts.models import User
    from applications.forms_tab import FormRow
    from applications.models import Decision
    from applications.pieces import PieceRow


def _format_date(day: datetime.date | None) -> str:
    return date_format(day, "SHORT_DATE_FORMAT") if day else ""


def _notify(application: Application, *, candidate_code: str, commission_code: str = "", **extra: Any) -> None:
    notify_candidate(application=application, code=candidate_code, **extra)
    if commission_code:
        notify_commission(application=application, code=commission_code, **extra)


def _lock(application: Application) -> Application:
    """The application's row, locked for this transaction, re-read with what the rules and the mails need.

    ``FOR NO KEY UPDATE`` (none of these services changes the row's key): every other lock of the row still waits
    for it, but not a row inserted meanwhile that points to it (an ``ApplicationEvent``: the foreign key's check takes
    a ``KEY SHARE`` lock). After this lock each service waits for rows that staff lock first and then write a history
    row on this application: the submissions (``transmit_application``, and ``delete_application_files`` in
    ``cancel_application``: staff's ``set_piece_status`` holds its piece, then writes), the OPI (the signals of
    ``confirm_application`` and ``withdraw_application``: "Annuler les OPI en attente" and "Rechargement des OPI"
    hold the OPIs, then write). With ``FOR UPDATE`` each of these waited for the other, and PostgreSQL aborted one
    of the two ("deadlock detected": an error page)."""
    return (
        Application.objects.select_for_update(of=("self",), no_key=True)
        .select_related("candidate__user", "formation__centre", "formation__commission")
        .get(pk=application.pk)
    )


class DoneAlready(str):
    """A refusal's message saying the action was done already ("already applied", "already transmitted"): raised
    as ``AlreadyDone``, so that a view can tell the second tap of a double tap from other refusals without reading
    the message (it is translated). Still a ``str`` for every other reader of the refusal."""

    __slots__ = ()


# --- Applying ---------------------------------------------------------------------------------------------------


def _wish_limit_error(candidate: Candidate, formation: Formation) -> str:
    """The message of rule 5 (at most N wishes, per centre or for the whole institution), or ""."""
    live = Application.objects.active().filter(candidate=candidate)
    # Read once: the two parameters may change (back office) while this runs.
    maximum, per_institution = parameters.get("MAX_WISHES"), parameters.get("MAX_WISHES_PER_INSTITUTION")
    if per_institution and live.count() >= maximum:
        return _("You have reached the maximum number of applications for the institution (%(max)s).") % {
            "max": maximum
        }
    centre_limit = formation.centre.max_wishes
    if centre_limit is None and not per_institution:
        centre_limit = maximum
    if centre_limit is not None and live.filter(formation__centre_id=formation.centre_id).count() >= centre_limit:
        return _("You have reached the maximum number of applications for %(centre)s (%(max)s).") % {
            "centre": formation.centre.label,
            "max": centre_limit,
        }
    return ""


def application_refusal(
    *, user: User, candidate: Candidate | None, formation: Formation, today: datetime.date | None = None
) -> str:
    """Why ``user`` may not apply to ``formation`` now ("" when they may), checking the rules in their order:

    1. a dossier complete enough (personal details, address, baccalaureate);
    2. the campaign is active and open;
    3. the formation is in service and within its application window;
    4. no live application to this formation yet;
    5. at most ``MAX_WISHES`` wishes (per centre, or per institution with ``MAX_WISHES_PER_INSTITUTION``;
       a centre's own ``max_wishes`` wins for its formations).
    """
    today = today or timezone.localdate()
    if candidate is None:
        return _("Fill in your personal details before applying.")
    if not hasattr(candidate, "address"):
        return _("Fill in your address before applying.")
    if not hasattr(candidate, "baccalaureate"):
        return _("Fill in your baccalaureate (or equivalent) before applying.")
    # A staff account (no campaign) cannot apply: "not open", as filter(pk=None) would have found nothing.
    campaign = Campaign.objects.active().filter(pk=user.campaign_id).first() if user.campaign_id is not None else None
    if campaign is None or not campaign.is_open_on(today):
        return _("The application campaign is not open.")
    if not (formation.in_service and formation.centre.in_service) or not formation.is_open_on(today):
        return _("You can only select the formations open in the application campaign")
    if Application.objects.active().filter(candidate=candidate, formation=formation).exists():
        return DoneAlready(_("You have already applied to this formation."))
    return _wish_limit_error(candidate, formation)


@transaction.atomic
def create_application(*, candidate: Candidate, formation: Formation, actor: User) -> Application:
    """Apply ``candidate`` to ``formation`` (§1.5): dossier status ``AT`` "En attente", no decision.

    The candidate's row is locked first, so two simultaneous submits are checked one after the other (the second
    one is refused as "already applied"); the partial unique constraint is the last line of defence.
    Side effects: history row ``application_created``, mail CANDIDATURE to the candidate.
    """
    return _create_application(
        candidate,
        formation,
        actor=actor,
        refusal=lambda candidate, formation: application_refusal(
            user=candidate.user, candidate=candidate, formation=formation
        ),
        already_applied=_("You have already applied to this formation."),
    )


def _create_application(
    candidate: Candidate,
    formation: Formation,
    *,
    actor: User,
    refusal: Callable[[Candidate, Formation], str],
    already_applied: str,
    comment: str = "",
    proposal: bool = False,
    return_deadline: datetime.date | None = None,
) -> Application:
    """The candidate's row locked, ``refusal`` asked again under the lock, the row created (the partial unique
    constraint turning a race into ``already_applied``), the history row and the CANDIDATURE mail. The dossier
    deleted meanwhile (its account's deletion committed first): ``BusinessRuleError``, nothing written.

    ``return_deadline``: the application's own date limite de retour (``return_deadline_override``), set before
    the mail is written, so that the mail gives it, and written to the history. ``proposal``: an admission proposal,
    whose CANDIDATURE mail ``staff.admit_on_proposal`` sends once its decision is released (not here)."""
    related = ["user", "address", "baccalaureate"]
    if return_deadline is not None:
        related.append("user__campaign")  # the closing date the date is checked against, in the same query
    locked = Candidate.objects.select_for_update(of=("self",)).select_related(*related).filter(pk=candidate.pk).first()
    if locked is None:  # the account was deleted meanwhile (``erasure`` locks the same row): nothing to apply for
        raise BusinessRuleError(_("This dossier no longer exists (its account was deleted): nothing was recorded."))
    candidate = locked
    # Not after the closing date for candidates of the application's campaign (the candidate's): a mistyped 2207
    # was stored and mailed (``staff._new_date_refusal``). Nothing written.
    if (
        return_deadline is not None
        and candidate.user.campaign is not None
        and (date_refusal := new_return_deadline_refusal(return_deadline, campaign=candidate.user.campaign))
    ):
        raise FieldRuleError(date_refusal, field="return_deadline")
    formation = Formation.objects.select_related("centre", "commission").get(pk=formation.pk)
    reason = refusal(candidate, formation)
    if reason:
        raise (AlreadyDone if isinstance(reason, DoneAlready) else BusinessRuleError)(reason)
    campaign_id = candidate.user.campaign_id
    assert campaign_id is not None  # both refusals refuse an account without an active campaign
    try:
        with transaction.atomic():
            application = Application.objects.create(
                candidate=candidate,
                formation=formation,
                campaign_id=campaign_id,
                created_by=actor,
                treatment_type=formation.treatment_type,
                return_deadline_override=return_deadline,
            )
    except IntegrityError as exc:
        raise AlreadyDone(already_applied) from exc
    record_event(
        application, kind=EventKind.CREATED, actor=actor, to_status=application.dossier_status, comment=comment
    )
    if return_deadline is not None:
        with translation.override(settings.LANGUAGE_CODE):  # the history is read in the institution's language
            given = _("return deadline: %(date)s") % {"date": _format_date(return_deadline)}
        record_event(application, kind=EventKind.DEADLINES, actor=actor, comment=given)
    if not proposal:
        # A proposal's own mail (no piece to upload, nothing to transmit) waits for its decision's release: with
        # ``DECISION_TWO_PERSON_RULE`` someone else may still delete that decision, and the proposal with it.
        _notify(application, candidate_code="CANDIDATURE")
    return application


def on_behalf_return_deadline_refusal(
    formation: Formation,
    day: datetime.date | None,
    *,
    now: datetime.datetime | None = None,
    campaign: Campaign | None = None,
) -> str:
    """Why staff may not create a classic application on a candidate's behalf for ``formation`` with ``day`` as its
    own date limite de retour (None: none given), or "".

    Created after the formation's date (a paper application, a phone call), the application needs its own: its mail
    asked to transmit by a date gone, and the candidate could neither upload nor transmit (``transmit_refusal``).
    So a date is required once the candidate can no longer act by the formation's with the hour before the site
    closes (``first_day_to_act`` with ``ACT_MARGIN``, as every date staff give a candidate: today's from the hour
    before the enforced window, whose CANDIDATURE mail left minutes to transmit); a date given is checked as any new
    date limite de retour (``staff.new_return_deadline_refusal``), and must come after the formation's, which the
    application would keep otherwise (``dates.effective_return_deadline``). With the application's ``campaign``:
    not after its closing date for candidates either (the form's; the service checks it again under the candidate's
    lock)."""
    now = now or timezone.now()
    deadline = effective_return_deadline(Application(formation=formation))
    if day is None:
        if deadline >= first_day_to_act(now, margin=ACT_MARGIN):
            return ""
        if deadline == timezone.localdate(now) and closes_tonight(now):
            return _(
                "The candidate would have less than an hour to transmit by the formation's return deadline "
                "(%(date)s): the site closes at %(time)s tonight. Give this application its own, later return "
                "deadline."
            ) % {"date": _format_date(deadline), "time": hour_label(settings.MAINTENANCE_START)}
        return _(
            "The candidate can no longer transmit by the formation's return deadline (%(date)s): give this "
            "application its own return deadline."
        ) % {"date": _format_date(deadline)}
    refusal = new_return_deadline_refusal(day, now, campaign=campaign)
    if refusal:
        return refusal
    if day <= deadline:
        return _("The formation's return deadline (%(date)s) is not before this date: leave this field empty.") % {
            "date": _format_date(deadline)
        }
    return ""


def on_behalf_refusal(*, candidate: Candidate, formation: Formation) -> str:
    """Why staff may not apply ``candidate`` to ``formation`` ("" when they may): eCandidat's "Candidature
    classique" by staff skips the dates and the wish limit, not the rest."""
    if not hasattr(candidate, "address") or not hasattr(candidate, "baccalaureate"):
        return _("The candidate's dossier is not complete enough (address and baccalaureate) to apply.")
    campaign_id = candidate.user.campaign_id
    if campaign_id is None or not Campaign.objects.active().filter(pk=campaign_id).exists():
        return _("The candidate's account does not belong to the active campaign.")
    if not (formation.in_service and formation.centre.in_service):
        return _("This formation is not in service.")
    if Application.objects.active().filter(candidate=candidate, formation=formation).exists():
        return DoneAlready(_("The candidate has already applied to this formation."))
    return ""


@transaction.atomic
def create_application_on_behalf(
    *,
    candidate: Candidate,
    formation: Formation,
    actor: User,
    proposal: bool = False,
    return_deadline: datetime.date | None = None,
) -> Application:
    """Staff apply on the candidate's behalf (issue 12; ecandidat-features §1.5 "Candidature classique"): as
    ``create_application`` without the application window and wish-limit checks; the history row names the member
    of staff. Side effects: history row ``application_created`` (actor: staff), mail CANDIDATURE to the candidate.

    ``return_deadline``: the application's own date limite de retour, required once the candidate can no longer act
    by the formation's (``on_behalf_return_deadline_refusal``: ``FieldRuleError`` on ``return_deadline``, nothing
    written); its mail gives it, and the history row ``deadlines_extended`` records it. Not for a ``proposal``
    (``propose_admission``): created « Complet », it has nothing to transmit.
    """
    if not proposal:
        refusal = on_behalf_return_deadline_refusal(formation, return_deadline)
        if refusal:
            raise FieldRuleError(refusal, field="return_deadline")
    with translation.override(settings.LANGUAGE_CODE):  # the history is read in the institution's language
        comment = _("Created by staff on the candidate's behalf")
    return _create_application(
        candidate,
        formation,
        actor=actor,
        refusal=lambda candidate, formation: on_behalf_refusal(candidate=candidate, formation=formation),
        already_applied=_("The candidate has already applied to this formation."),
        comment=comment,
        proposal=proposal,
        return_deadline=None if proposal else return_deadline,
    )


@transaction.atomic
def propose_admission(*, candidate: Candidate, formation: Formation, actor: User) -> Application:
    """Staff propose an admission (ecandidat-features §1.5 "Proposition d'admission"): the application is created on
    the candidate's behalf, set Complete and given the formation's default favourable decision, validated at once
    (``staff.admit_on_proposal``: history action ``P``); the candidate is then mailed the proposal (CANDIDATURE)
    and its decision, and the commission alerted (COMMISSION_ALERT_PROPOSITION) when it asked for it. With
    ``DECISION_TWO_PERSON_RULE`` the decision is only entered, and these three mails wait for someone else's
    validation (``staff.validate_decision``); that person deleting it instead withdraws the proposal
    (``staff.delete_last_decision``: the application cancelled, nobody mailed). All or nothing: without the
    formation's default favourable decision, or when its candidate could no longer confirm it by the date de
    confirmation (the date gone, or today's once the site has closed: ``staff.admission_proposal_refusal``),
    nothing is created."""
    refusal = admission_proposal_refusal(formation, actor=actor)  # asked first: nothing is written when refused
    if refusal:
        raise BusinessRuleError(refusal)
    application = create_application_on_behalf(candidate=candidate, formation=formation, actor=actor, proposal=True)
    admit_on_proposal(application, actor=actor)
    return application


# --- Transmitting -----------------------------------------------------------------------------------------------


def transmit_refusal(
    application: Application,
    *,
    blocking_rows: list[PieceRow] | None = None,
    missing_form_rows: list[FormRow] | None = None,
    missing_question_rows: list[QuestionRow] | None = None,
    today: datetime.date | None = None,
    lock: bool = False,
) -> str:
    """Why the candidate cannot transmit ``application`` now ("" when they can). ``blocking_rows`` are the
    application's blocking pieces when the caller already has them (read from ``applications.pieces`` otherwise,
    the submissions locked with ``lock``: ``transmit_application``); ``missing_form_rows`` likewise the forms
    that block it (``forms_tab.missing_forms``: none unless ``FORMS_BLOCK_TRANSMISSION`` is on),
    ``missing_question_rows`` the questions neither answered nor declared not concerned
    (``applications.questions``, the answers locked with ``lock``)."""
    today = today or timezone.localdate()
    if application.is_cancelled:
        return _("This application has been cancelled.")
    if application.formation.mode != ApplicationMode.ONLINE:
        return _("Paper dossier: print your dossier and post it with your supporting documents.")
    transition = get_transition("transmit")
    if not transition.allows(source=application.dossier_status, role=Role.CANDIDATE):
        return DoneAlready(_("Your application has already been transmitted."))
    deadline = effective_return_deadline(application)
    if today > deadline:
        return _("The return deadline (%(date)s) has passed: the application can no longer be transmitted.") % {
            "date": _format_date(deadline)
        }
    if blocking_rows is None:
        blocking_rows = blocking_pieces(application, lock=lock)
    if blocking_rows:
        return _("A supporting document is missing: %(pieces)s.") % {
            "pieces": "; ".join(str(row.piece_type.shown_label) for row in blocking_rows)
        }
    if missing_form_rows is None:
        missing_form_rows = missing_forms(application)
    if missing_form_rows:
        return _(
            "A complementary form has not been answered: %(forms)s. Answer it, or declare that it does not "
            "concern you when it is conditional."
        ) % {"forms": "; ".join(str(row.label) for row in missing_form_rows)}
    if missing_question_rows is None:
        missing_question_rows = missing_questions(question_rows(application, unlisted=False, lock=lock))
    if missing_question_rows:
        return _(
            "A complementary question has no answer: %(questions)s. Answer it, or declare that it does not "
            "concern you when it is conditional."
        ) % {"questions": "; ".join(str(row.label) for row in missing_question_rows)}
    return ""


@transaction.atomic
def transmit_application(*, application: Application, actor: User) -> Application:
    """ "Transmettre ma candidature" (§1.10): ``AT``/``IN`` → ``RE`` once no piece is waiting or refused (and, with
    ``FORMS_BLOCK_TRANSMISSION``, every complementary form is answered or declared "Non concerné").

    Stamps ``transmitted_at``; the pieces are then locked (``applications.pieces.pieces_locked_reason``).
    Side effects: history row, mail STATUT_RE to the candidate, COMMISSION_ALERT_TRANSMISSION to the commission.

    A shared piece (the candidate's one file for all their applications) can change through another, open,
    application meanwhile (``services.pieces``: removed, declared (not) concerned); that change refuses itself once
    a transmitted application asks for the piece (``_check_not_held``). So the submissions the pieces are read from
    (the application's own and the candidate's shared ones) are locked as they are read, in the same query: a
    change that got there first is waited for and its result read (the piece is missing: refused, "A supporting
    document is missing"), one that comes after waits for this commit and then sees the application transmitted
    (refused, the piece is held).

    The dossier's row is locked first (``FOR NO KEY UPDATE``), as ``create_application`` and the account's deletion
    (``erasure``) lock it before an application: a change of the dossier (``services.dossier``: address, bac, cursus,
    the staff's import from the SIS) locks it too, so one that comes during the transmission waits for this commit,
    then sees the application transmitted and writes itself to its history (``DOSSIER_CHANGED_BY_CANDIDATE``).
    Before, it took the dossier's lock, read no application transmitted, and committed after the transmission with
    no trace of the change.

    Lock order, as every path that locks both: the dossier's row, then the application's, then its submissions.
    Those are locked in display order (piece type's order, then id), in one query, as ``validate_shown_pieces``
    locks them; upload, removal and (not) concerned lock one piece's rows (the application's own and the shared one,
    of which only the shared one is also ours), ``delete_application_files`` (``cancel_application``) the cancelled
    application's own rows. Staff's ``set_piece_status`` and the antivirus (``take_off_quarantined_piece``) lock one
    submission, not its application's row, then write a history row on its application (on each of the candidate's
    live applications for a shared piece), as the upload, removal and (not) concerned do when they change a shared
    submission. So every path that locks an application's row and then submissions locks the row ``no_key``
    (``_lock`` here, ``services.pieces._lock``), which such an insert does not wait for; else the insert would wait
    for that path while it waits for the submission the insert's transaction holds (a deadlock, PostgreSQL then
    aborting one of the two: so did a cancellation, its row locked ``FOR UPDATE``, with staff checking one of its
    pieces).

    A shared answer to a complementary question likewise (``services.questions``: emptied or declared not
    concerned through another application, refused once a transmitted application asks it): the answers the
    questions are read from are locked as they are read, after the submissions, in id order, the order the saves
    (``answer_questions``, ``enter_answers_for_candidate``) lock them in, after their application's row, which
    they lock ``no_key`` too (a save of a shared answer writes a history row on each of the candidate's other live
    applications). No other path locks both submissions and answers.
    """
    list(
        Candidate.objects.select_for_update(of=("self",), no_key=True)
        .filter(pk=application.candidate_id)
        .values_list("pk", flat=True)
    )
    application = _lock(application)
    refusal = transmit_refusal(application, lock=True)
    if refusal:
        raise (AlreadyDone if isinstance(refusal, DoneAlready) else InvalidTransition)(refusal)
    mail_code = change_status(application, get_transition("transmit"), role=Role.CANDIDATE, actor=actor)
    _notify(
        application,
        candidate_code=mail_code,
        commission_code="COMMISSION_ALERT_TRANSMISSION",
        transmitted=True,
    )
    return application


# --- Cancelling -------------------------------------------------------------------------------------------------


def cancel_refusal(application: Application, *, has_decision: bool) -> str:
    """Why the candidate cannot cancel (§1.11: only while ``AT`` and without any decision), or ""."""
    if application.is_cancelled:
        return _("This application has already been cancelled.")
    if application.dossier_status not in CANCELLABLE:
        return _("A transmitted application can no longer be cancelled.")
    if has_decision:
        return _("An application with a decision can no longer be cancelled.")
    return ""


@transaction.atomic
def cancel_application(*, application: Application, actor: User) -> Application:
    """ "Annuler la candidature" (§1.11): the application is kept as cancelled (date, actor), its own files are
    deleted after the commit (shared pieces are kept), and the candidate may apply to the formation again.

    Side effects: history row, mail CANDIDATURE_ANNULATION, COMMISSION_ALERT_ANNULATION to the commission; the
    mails about a decision not sent yet are cancelled (an application with a decision cannot be cancelled, but one
    deleted since may have left its mail waiting in the outbox), and so are those about its dossier status and
    processing type (« dossier incomplet », the nightly « pas encore transmise », « accès contrôlé »: the server
    refused them for a while), which no longer hold either.
    """
    application = _lock(application)
    refusal = cancel_refusal(application, has_decision=application.decisions.exists())
    if refusal:
        raise InvalidTransition(refusal)
    application.cancelled_at = timezone.now()
    application.cancelled_by = actor
    application.save(update_fields=["cancelled_at", "cancelled_by"])
    delete_application_files(application=application, actor=actor)
    record_event(application, kind=EventKind.CANCELLED, actor=actor, from_status=application.dossier_status)
    cancel_decision_mails(application, reason=CANCELLED_BEFORE_SENT)
    cancel_status_mails(application, reason=CANCELLED_BEFORE_SENT)
    _notify(application, candidate_code="CANDIDATURE_ANNULATION", commission_code="COMMISSION_ALERT_ANNULATION")
    return application


# --- Confirming or withdrawing ----------------------------------------------------------------------------------


def _latest_validated_decision(application: Application, *, with_letter: bool = False) -> Decision | None:
    """The latest validated decision with its type (and ``with_letter``, its letter: a join, no query more)."""
    related = ("decision_type", "letter") if with_letter else ("decision_type",)
    return application.decisions.select_related(*related).current_validated()


def answer_refusal(
    application: Application,
    *,
    favourable_validated_at: datetime.datetime | None,
    today: datetime.date | None = None,
) -> str:
    """Why the candidate cannot confirm or withdraw now ("" when they can). ``favourable_validated_at`` is the
    validation time of the latest validated decision when it is favourable, None otherwise."""
    today = today or timezone.localdate()
    if application.is_cancelled:
        return _("This application has been cancelled.")
    if application.accepted is not None:
        return _("You have already answered: this choice cannot be changed.")
    if favourable_validated_at is None:
        return _("Only an application with a favourable decision can be confirmed or withdrawn.")
    deadline = effective_confirmation_date(application, favourable_validated_at)
    if deadline is not None and today > deadline:
        return _("The confirmation date (%(date)s) has passed.") % {"date": _format_date(deadline)}
    return ""


def _favourable_validated_at(decision: Decision | None) -> datetime.datetime | None:
    return decision.validated_at if decision and decision.decision_type.avis == Avis.FAVOURABLE else None


def _answer_refusal_for(application: Application, *, role: Role, decision: Decision | None) -> str:
    """``answer_refusal`` for the candidate; staff may answer "at any time" (§1.12): only the favourable decision
    and the absence of an answer are checked for them. ``decision``: the latest validated one."""
    favourable_at = _favourable_validated_at(decision)
    if role == Role.CANDIDATE:
        return answer_refusal(application, favourable_validated_at=favourable_at)
    if application.is_cancelled:
        return _("This application has been cancelled.")
    if favourable_at is None:
        return _("Only an application with a favourable decision can be confirmed or withdrawn.")
    return ""


def _confirmation_letter(application: Application, decision: Decision) -> LetterMail:
    """What the confirmation mail says of the admission letter: with ``ADMISSION_LETTER_AFTER_CONFIRMATION`` the
    decision mail could not carry it (the download withholds it until now), so this mail does, as the decision mail
    would have (the link, and the letter attached when the commission asks for it). Nothing otherwise: the decision
    mail already did, nor for a letter that can never be had (its text deleted before it was built: the mail would
    link a page that says so). ``decision`` has its letter loaded."""
    if not parameters.get("ADMISSION_LETTER_AFTER_CONFIRMATION"):
        return NO_LETTER
    letter = getattr(decision, "letter", None)  # None without a letter text at the release (RelatedObjectDoesNotExist)
    if letter is None or letter.kind != LetterKind.ADMISSION or not letter_obtainable(letter, application):
        return NO_LETTER
    return letter_mail(letter, application)


@transaction.atomic
def confirm_application(
    *, application: Application, actor: User, role: Role = Role.CANDIDATE, comment: str = ""
) -> Application:
    """ "Confirmer" after a validated favourable decision, before the date de confirmation (§1.12; staff on the
    candidate's behalf at any time, ``role=Role.STAFF``, with ``comment`` kept in the history: how the candidate
    answered).

    Side effects: history row, mail CANDIDATURE_CONFIRM with the administrative registration instructions of the
    formation (or, when it has none, of its centre), and with ``ADMISSION_LETTER_AFTER_CONFIRMATION`` the
    admission letter (its link, and the letter attached when the commission attaches letters: the decision mail could
    not), then ``application_confirmed`` in the same transaction (the OPI, when the decision type is marked
    "Déversement OPI").
    """
    application = _lock(application)
    decision = _latest_validated_decision(application, with_letter=True)
    refusal = _answer_refusal_for(application, role=role, decision=decision)
    if refusal:
        raise InvalidTransition(refusal)
    assert decision is not None  # a favourable one: checked by _answer_refusal_for
    mail_code = change_answer(application, ANSWER_TRANSITIONS["confirm"], role=role, actor=actor, comment=comment)
    application_confirmed.send(sender=Application, application=application, actor=actor)
    formation = application.formation
    # The formation's instructions when it has some, else its centre's, each in the mail's language (chosen when
    # the mail is rendered: ``ecandidat.staff_text.shown_in_mail``).
    source = formation if formation.registration_instructions else formation.centre
    instructions = shown_in_mail(source.registration_instructions, source.registration_instructions_en)
    letter = _confirmation_letter(application, decision)
    notify_candidate_with(
        application=application,
        code=mail_code,
        extra={"registration_instructions": instructions, **letter.context},
        attachments=letter.attachments,
    )
    return application


def withdraw_refusal(application: Application, *, favourable_validated_at: datetime.datetime | None) -> str:
    """Why the candidate cannot withdraw now ("" when they can): before confirming, ``answer_refusal``; once
    confirmed, "Désister" remains available (§1.12) as long as the application is not cancelled."""
    if application.accepted is True:
        return _("This application has been cancelled.") if application.is_cancelled else ""
    return answer_refusal(application, favourable_validated_at=favourable_validated_at)


@transaction.atomic
def withdraw_application(
    *,
    application: Application,
    actor: User,
    reason: str = "",
    comment: str = "",
    role: Role = Role.CANDIDATE,
) -> Application:
    """ "Désister" after a validated favourable decision, before or after confirming (§1.12, issue 12), by the
    candidate or by staff on the candidate's behalf (``role=Role.STAFF``, no date limit). Irreversible.

    ``reason`` is a ``WithdrawalReason`` code, required after a confirmation and from staff; ``comment`` is staff's
    free text, kept in the history.

    Side effects: history row (``application_withdrawn`` or ``withdrawn_after_confirmation``), the mails about the
    decision not sent yet cancelled (queued while the mail server was down: « confirmez avant le… », « si une place
    se libère… », ``notifications.cancel_decision_mails``), mail CANDIDATURE_DESIST, COMMISSION_ALERT_DESISTEMENT,
    signal ``confirmation_withdrawn`` after a confirmation, then the first candidate of the complementary list is
    admitted when the formation manages its list automatically. That promotion is made by the system (actor None,
    batch ``auto_waiting_list``), not in the withdrawing person's name.

    Lock order: the formation's row (its list's lock, ``staff.lock_waiting_list``), then the application's, the order
    of every path that changes ranks. The formation is locked whether it manages its list automatically or not, and
    that setting is read under the lock (the formation ``_lock`` loads with the application), never from the
    formation in memory: staff may switch it on between the page's load and the withdrawal, and the promotion then
    ran with the application locked first.

    The withdrawal stands: a decision entered or validated afterwards does not reset it (``staff.record_decision``).
    """
    if reason and reason not in WithdrawalReason.values:
        raise BusinessRuleError(_("Choose the reason for the withdrawal."))
    if role == Role.STAFF and not reason:
        raise BusinessRuleError(_("Choose the reason for the withdrawal."))
    lock_waiting_list(application.formation)
    # Re-read under the formation's lock: ``promote_from_waiting_list`` below decides on this formation's setting.
    application = _lock(application)
    transition = withdrawal_transition(application.accepted)
    if transition is None:
        raise InvalidTransition(already_answered_message(role))
    was_confirmed = application.accepted is True
    if was_confirmed:
        refusal = _("This application has been cancelled.") if application.is_cancelled else ""
    else:
        refusal = _answer_refusal_for(application, role=role, decision=_latest_validated_decision(application))
    if refusal:
        raise InvalidTransition(refusal)
    mail_code = change_answer(application, transition, role=role, actor=actor, reason=reason, comment=comment)
    if was_confirmed:
        confirmation_withdrawn.send(sender=Application, application=application, actor=actor, reason=reason)
    cancel_decision_mails(application)
    reason_label = WithdrawalReason(reason).label if reason else ""  # lazy: rendered in the mail's language
    _notify(
        application,
        candidate_code=mail_code,
        commission_code="COMMISSION_ALERT_DESISTEMENT",
        withdrawal_reason=reason_label,
        after_confirmation=was_confirmed,
    )
    if transition.frees_place:
        promote_from_waiting_list(formation=application.formation, actor=None, campaign_id=application.campaign_id)
    return application
