"""The back office's side of an application (ecandidat-features §2.4–2.7, house-style §3).

Every service locks the application row first (``select_for_update(of=("self",), no_key=True)``, ``_lock``),
re-reads the state it acts on (so that a manager working on a stale page gets ``InvalidTransition`` instead of
overwriting a colleague), writes an ``ApplicationEvent`` and enqueues its mail through ``applications.notifications``
(sent once the transaction commits). Who may call them is decided by the caller through the staff scopes
(``Application.objects.editable_by(user)``…).

Lock order: the formation's row (on the paths that change ranks, ``_lock_formation``), then the application's row,
then the rows that depend on it, as the candidate's services (``candidature._lock``): the OPI, through
``confirmation_withdrawn`` when a decision's validation undoes a confirmation (``validate_decision``). The
OPI actions of the central office ("Annuler les OPI en attente", "Rechargement des OPI") lock the OPIs first, then
write a history row on each of their applications, whose foreign key's check takes a ``KEY SHARE`` lock on the
application's row. So the application's row is locked ``FOR NO KEY UPDATE`` here (none of these services
changes its key: its id, ``public_id``), which every other lock of the row still waits for but not that check; with
``FOR UPDATE`` each waited for the other, and PostgreSQL aborted one of the two ("deadlock detected": an error page,
or the central office's action failed).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from applications.dates import (
    ACT_MARGIN,
    closes_tonight,
    effective_confirmation_date,
    effective_return_deadline,
    first_day_to_act,
)
from applications.enums import DecisionAction, DossierStatus, EventKind, PieceStatus
from applications.history import record_event
from applications.letters import LetterMail, build_letter, letter_mail, schedule_letter
from applications.models import Application, Decision, DecisionLetter
from applications.models.candidature import latest_decision
from applications.notifications import (
    REPLACED_BEFORE_SENT,
    cancel_decision_mails,
    format_date,
    notify_candidate,
    notify_commission,
    notify_decision,
)
from applications.pieces import piece_rows
from applications.services.pieces import delete_application_files
from applications.signals import confirmation_withdrawn
from applications.workflow import STAFF_TRANSITION_BY_TARGET, Role, Transition, change_status
from ecandidat import parameters
from ecandidat.exceptions import BusinessRuleError, FieldRuleError, InvalidTransition
from ecandidat.maintenance import hour_label
from ecandidat.staff_text import shown_in_mail
from offers.enums import Avis, TreatmentType
from offers.models import DecisionLetterTemplate, Formation
from offers.services import campaign_end_refusal

if TYPE_CHECKING:
    from accounts.models import User
    from offers.models import Campaign, DecisionType, Formation, RefusalReason

logger = logging.getLogger(__name__)

WAITING_LIST_BATCH = "auto_waiting_list"


def _lock(application: Application, *, with_campaign: bool = False) -> Application:
    """The application's row, locked for this transaction, with its candidate and formation (and the formation's
    commission and centre, which the mails read); ``with_campaign``: its campaign too, in the same query (the
    closing date for candidates a new date is checked against, ``extend_deadlines``).

    ``FOR NO KEY UPDATE`` (none of these services changes the row's key), as ``candidature._lock``: a row inserted
    meanwhile that points to it (an ``ApplicationEvent`` of the OPI actions, which hold the OPI this service may
    then lock) does not wait for it (the module's lock order)."""
    related = ["candidate__user", "formation__commission", "formation__centre"]
    if with_campaign:
        related.append("campaign")
    return (
        Application.objects.select_for_update(of=("self",), no_key=True)
        .select_related(*related)
        .get(pk=application.pk)
    )


def _effective_confirmation_date(
    application: Application, validated_at: datetime.datetime | None
) -> datetime.date | None:
    return effective_confirmation_date(application, validated_at)


def _refused_pieces(application: Application) -> list[dict]:
    """The refused pieces of this application as its pieces table lists them (``piece_rows``, two queries): its own
    and the candidate's shared ones it asks for, with their comments. Not another centre's common piece, shared with
    the candidate's application there: nothing to send for it here."""
    # "deadline": the piece's own date to replace it (targeted correction), "" when staff gave none.
    return [
        {
            "label": shown_in_mail(row.piece_type.label, row.piece_type.label_en),
            "comment": row.comment,
            "deadline": format_date(row.replace_by),
        }
        for row in piece_rows(application)
        if row.status == PieceStatus.REFUSED
    ]


# --- dossier status ---------------------------------------------------------------------------------------------


@transaction.atomic
def set_dossier_status(
    application: Application,
    *,
    target: str,
    actor: User,
    comment: str = "",
    on: datetime.date | None = None,
    expected_status: str | None = None,
) -> Application:
    """Staff set any dossier status at any time (§2.5): stamps the date (today, or ``on``: the day a paper dossier
    was received, logged later; never in the future), writes the history, mails STATUT_<code>.

    ``IN`` (incomplete) mails the refused pieces with their comments; the candidate may change pieces again
    (``workflow.CANDIDATE_EDITABLE``).

    ``expected_status``: the status the page showed (``StatusForm.shown_statuses``). When the locked row has
    another (a colleague's change meanwhile), ``InvalidTransition`` says so and nothing is written nor mailed: a
    « Complet » is not replaced unread by the « Incomplet » chosen from « Réceptionné ». None: not checked.

    ``IN`` and ``AT`` ask the candidate to send the dossier again by the date limite de retour: refused
    (``FieldRuleError`` on ``return_deadline``, nothing written) once they could no longer do it by the
    application's (``status_return_deadline_refusal``); staff give it a later date first (``give_return_deadline``,
    the status form's field beside the status).

    Returns the application (locked); set « Complet », its accès direct only entered because its candidate could no
    longer confirm by the date de confirmation (``grant_direct_access``) is said by ``held_back_decision`` on it."""
    transition = STAFF_TRANSITION_BY_TARGET.get(target)
    if transition is None:
        raise BusinessRuleError(_("Unknown dossier status."))
    application = _lock(application, with_campaign=True)  # the accès direct's date de confirmation reads it
    if application.is_cancelled:
        raise InvalidTransition(_("This application has been cancelled."))
    if expected_status is not None and application.dossier_status != expected_status:
        shown = DossierStatus(expected_status).label if expected_status in DossierStatus.values else "—"
        raise InvalidTransition(
            _(
                "The status of this dossier has changed since the page was shown (“%(shown)s” then, “%(now)s” "
                "now): nothing was changed. Check the dossier before setting its status again."
            )
            % {"shown": shown, "now": DossierStatus(application.dossier_status).label}
        )
    if transition.target in RETURN_DEADLINE_STATUSES and (refusal := status_return_deadline_refusal(application)):
        raise FieldRuleError(refusal, field="return_deadline")
    _apply_staff_status(application, transition, actor=actor, comment=comment, on=on)
    return application


# The statuses that ask the candidate to send the dossier again by its date limite de retour: « Incomplet » (the
# STATUT_IN mail lists the pieces to replace, and « Date limite de retour ») and « En attente » (transmit again).
RETURN_DEADLINE_STATUSES = frozenset({DossierStatus.INCOMPLETE, DossierStatus.WAITING})


def status_return_deadline_refusal(application: Application, now: datetime.datetime | None = None) -> str:
    """Why ``application`` may not be set « Incomplet » or « En attente » at ``now`` (default: now), or "": its
    candidate could no longer transmit by its date limite de retour (``effective_return_deadline``), before the
    first day they can still act with the hour before the site closes (``first_day_to_act``, ``ACT_MARGIN``).
    The mail asked to replace pieces and transmit again by a date gone, and « Transmettre » was refused."""
    deadline = effective_return_deadline(application)
    if deadline >= first_day_to_act(now, margin=ACT_MARGIN):
        return ""
    return _(
        "The candidate can no longer transmit by this application's return deadline (%(date)s): give it a later "
        "return deadline with this status."
    ) % {"date": format_date(deadline)}


@transaction.atomic
def give_return_deadline(application: Application, *, day: datetime.date, actor: User) -> Application:
    """The date limite de retour given with a status « Incomplet » or « En attente » (the status form's
    ``return_deadline``), before the status is set in the same transaction (``set_dossier_status``): the
    application's own date (``return_deadline_override``), with its history row and actor, as « Prolonger les
    délais » (``extend_deadlines``), only when it is later than the application's date (a selection's application
    given a later one keeps it). A date the candidate could not act by is refused (``FieldRuleError`` on
    ``return_deadline``: ``new_return_deadline_refusal``), as is one after the closing date for candidates of the
    application's campaign, read with the row's lock (no query more): a mistyped 2207 was stored and mailed. Returns
    the application (locked)."""
    application = _lock(application, with_campaign=True)
    if refusal := new_return_deadline_refusal(day, campaign=application.campaign):
        raise FieldRuleError(refusal, field="return_deadline")
    if application.is_cancelled:
        raise InvalidTransition(_("This application has been cancelled."))
    if day <= effective_return_deadline(application):
        return application
    application.return_deadline_override = day
    application.save(update_fields=["return_deadline_override"])
    with translation.override(settings.LANGUAGE_CODE):
        text = _("return deadline: %(date)s") % {"date": format_date(day)}
    record_event(application, kind=EventKind.DEADLINES, actor=actor, comment=text)
    return application


def _apply_staff_status(
    application: Application,
    transition: Transition,
    *,
    actor: User,
    comment: str = "",
    on: datetime.date | None = None,
) -> None:
    """A staff status change on the locked ``application``: the transition (status, date, history row with the
    actor), its STATUT_<code> mail, and the direct access once complete. The one path of ``set_dossier_status`` and
    of the reset to "En attente" that ``set_treatment_type`` makes with ``TREATMENT_TYPE_RESETS_STATUS``."""
    mail_code = change_status(application, transition, role=Role.STAFF, actor=actor, comment=comment, on=on)
    refused_pieces = _refused_pieces(application) if transition.target == DossierStatus.INCOMPLETE else []
    direct_access = application.treatment_type == TreatmentType.DIRECT  # STATUT_CO: no commission examines it
    notify_candidate(
        application=application,
        code=mail_code,
        comment=comment,
        refused_pieces=refused_pieces,
        direct_access=direct_access,
    )
    if transition.target == DossierStatus.COMPLETE:
        grant_direct_access(application, actor=actor)


def _direct_access_refusal(application: Application) -> str:
    if application.formation.favourable_decision_type_id is None:
        return _("Direct access needs the formation's default favourable decision; set it on the formation first.")
    return ""


# The mail that tells the candidate their application's new type de traitement (eCandidat TYPE_TRAIT_*).
TREATMENT_TYPE_MAILS: dict[str, str] = {
    TreatmentType.CONTROLLED: "TYPE_TRAIT_AC",
    TreatmentType.DIRECT: "TYPE_TRAIT_AD",
    TreatmentType.WAITING: "TYPE_TRAIT_ATT",
}


@transaction.atomic
def set_treatment_type(application: Application, *, treatment_type: str, reason: str, actor: User) -> Application:
    """Change one application's type de traitement (§2.6), with the reason written to the history.

    Refused once a decision has been validated (as eCandidat's bulk "Type de traitement"). The candidate is mailed
    the new type (``TYPE_TRAIT_AC``, ``_AD`` or ``_ATT``). With ``TREATMENT_TYPE_RESETS_STATUS`` (eCandidat
    ``SCOL_IS_STATUT_ATT_WHEN_CHANGE_TT``, off by default) a dossier that is not "En attente" is then set back to it
    as staff set a status by hand (history row with the actor, mail ``STATUT_AT`` after the type's mail): the
    candidate sends it again under the new type. Otherwise, setting ``AD`` on a dossier that is already complete
    grants the direct access at once (after a reset the dossier is no longer complete: it is granted when staff set
    it complete again). Returns the application (locked): ``held_back_decision`` on it says whether that direct
    access was only entered, its candidate could no longer confirm by the date de confirmation.
    """
    if treatment_type not in TreatmentType.values:
        raise BusinessRuleError(_("Unknown processing type."))
    if not reason.strip():
        raise BusinessRuleError(_("Give the reason for this change."))
    application = _lock(application, with_campaign=True)  # the accès direct's date de confirmation reads it
    if application.is_cancelled:
        raise InvalidTransition(_("This application has been cancelled."))
    previous = application.treatment_type
    if previous == treatment_type:
        raise InvalidTransition(
            _("The processing type is already “%(type)s”; nothing was done.")
            % {"type": TreatmentType(treatment_type).label}
        )
    if application.decisions.validated().exists():
        raise InvalidTransition(_("A decision has already been validated: the processing type can no longer change."))
    if treatment_type == TreatmentType.DIRECT:
        refusal = _direct_access_refusal(application)
        if refusal:
            raise BusinessRuleError(refusal)
    application.treatment_type = treatment_type
    application.save(update_fields=["treatment_type"])
    with translation.override(settings.LANGUAGE_CODE):  # the history is read in the institution's language
        change = f"{TreatmentType(previous).label} → {TreatmentType(treatment_type).label}"
    record_event(application, kind=EventKind.TREATMENT_TYPE, actor=actor, comment=f"{change} — {reason.strip()}")
    notify_candidate(application=application, code=TREATMENT_TYPE_MAILS[treatment_type])  # §2.6: TYPE_TRAIT_*
    if parameters.get("TREATMENT_TYPE_RESETS_STATUS") and application.dossier_status != DossierStatus.WAITING:
        _apply_staff_status(application, STAFF_TRANSITION_BY_TARGET[DossierStatus.WAITING], actor=actor)
    if treatment_type == TreatmentType.DIRECT and application.dossier_status == DossierStatus.COMPLETE:
        grant_direct_access(application, actor=actor)
    return application


def grant_direct_access(application: Application, *, actor: User | None, batch: str = "") -> Decision | None:
    """Accès direct (§2.6): once the dossier of an ``AD`` application is complete, the formation's default
    favourable decision is created and validated (history action ``A``), and mailed; the candidate then confirms.

    Called inside the transaction that set the status (the application row is locked). Does nothing (None) for
    another type de traitement, when the application already has a decision, or when the formation has no default
    favourable decision (logged: the formation is misconfigured, staff decide by hand).

    When its candidate could no longer answer it by its date de confirmation (``_confirmation_date_refusal``, the
    rule of ``validate_decision``: a date gone, or today's once the site has closed for the night), the decision is
    only entered, not released: the candidate sees no decision yet (they only see validated ones, §1.12; the status
    mail said that a favourable one would follow), it is not mailed, and its history row tells staff why. Staff
    validating it get ``validate_decision``'s usual refusal until they set a later date ("Extend deadlines"), then
    the candidate is mailed that date. The status change (or the type de traitement) that granted it stands: it is
    not refused for a decision the candidate could not answer, and nothing is half written. Released at once, the
    decision asked to answer by a date gone, and the nightly withdrawal left it for staff (``_given_too_late``).
    Held back so, it is said by ``held_back_decision(application)`` (the instance given, which the status and
    type de traitement services return): the back office tells whoever acted, who believed the candidate mailed.
    """
    if application.treatment_type != TreatmentType.DIRECT or application.decisions.exists():
        return None
    if application.formation.favourable_decision_type is None:
        logger.warning("formation %s: direct access without a default favourable decision", application.formation.code)
        return None
    return _grant_default_favourable(
        application, actor=actor, action=DecisionAction.DIRECT_ACCESS, event=EventKind.DIRECT_ACCESS, batch=batch
    )


def admit_on_proposal(application: Application, *, actor: User) -> Decision:
    """Proposition d'admission (§1.5): the new application is set Complete without the status mail, and given the
    formation's default favourable decision, created and validated at once (history action ``P``) and mailed; the
    candidate then confirms as after any favourable decision. Raises ``BusinessRuleError`` without that default
    decision. Called by ``candidature.propose_admission``, in its transaction.

    A proposal released at once whose candidate could no longer answer it by its date de confirmation (a date gone,
    or today's once the site has closed for the night: ``_confirmation_date_refusal``, the rule of
    ``validate_decision``) is refused with ``BusinessRuleError`` (``admission_proposal_refusal``), before anything
    is written here; the caller may ask the same before it creates the application, and its transaction rolls back
    whatever it created otherwise. Staff cannot set a later date first on an application that
    does not exist yet: the message says to create a classic application, give it a date, then enter and validate
    its favourable decision. With ``DECISION_TWO_PERSON_RULE`` the decision is only entered (not checked here): its
    validation makes the check, once staff can set the application's date.

    The proposal is told when that decision is released here: the candidate's CANDIDATURE mail before the
    decision's, the commission's alert after it (``_announce_proposal``). Otherwise (the two-person rule) nobody is
    told yet: the validation tells them (``validate_decision``), or the deletion of the decision withdraws the
    proposal unmailed (``delete_last_decision``)."""
    application = _lock(application, with_campaign=True)  # its date de confirmation reads the campaign's closing
    now = timezone.now()
    refusal = admission_proposal_refusal(application.formation, actor=actor, now=now, application=application)
    if refusal:
        raise BusinessRuleError(refusal)
    change_status(application, STAFF_TRANSITION_BY_TARGET[DossierStatus.COMPLETE], role=Role.STAFF, actor=actor)
    # Released at once exactly when ``_grant_default_favourable`` validates it: the refusal above leaves out a
    # decision released at once that the candidate could no longer answer, which it would only enter.
    released = _released_at_once(actor)
    with _announce_proposal(application, released=released):
        return _grant_default_favourable(
            application, actor=actor, action=DecisionAction.PROPOSAL, event=EventKind.ADMISSION_PROPOSED, now=now
        )


@contextmanager
def _announce_proposal(application: Application, *, released: bool) -> Iterator[None]:
    """Around the mail of an admission proposal's favourable decision, once ``released``: the candidate is told
    before it that the application was created for them (CANDIDATURE in its proposal wording: no piece to upload,
    nothing to transmit, the decision in another mail), the commission after it that an admission was proposed
    (COMMISSION_ALERT_PROPOSITION, when it asked for it). ``application``: the locked row."""
    if released:
        notify_candidate(application=application, code="CANDIDATURE", proposal=True)
    yield
    if released:
        notify_commission(application=application, code="COMMISSION_ALERT_PROPOSITION")


def _withdraw_proposal(application: Application, *, actor: User) -> None:
    """An admission proposal whose favourable decision is deleted before anyone validated it (with
    ``DECISION_TWO_PERSON_RULE``, the second person did not agree) is withdrawn: its application, created « Complet »
    for it and never asked for by the candidate, is cancelled in the name of whoever deleted the decision, recorded
    as a candidate's cancellation is (date, actor, its own files deleted, history row ``application_cancelled``,
    with the reason in the institution's language). Only an application « En attente » is ever cancelled (the
    constraint ``application_cancelled_only_while_waiting``): its status goes back to it first, as staff set a
    status (history row with the actor), without its mail. Nobody is mailed: neither the candidate nor the
    commission was told of the proposal (``_announce_proposal`` waits for the validation). ``application``: the
    locked row."""
    if application.dossier_status != DossierStatus.WAITING:
        change_status(application, STAFF_TRANSITION_BY_TARGET[DossierStatus.WAITING], role=Role.STAFF, actor=actor)
    application.cancelled_at = timezone.now()
    application.cancelled_by = actor
    application.save(update_fields=["cancelled_at", "cancelled_by"])
    delete_application_files(application=application, actor=actor)
    with translation.override(settings.LANGUAGE_CODE):  # the history is read in the institution's language
        comment = _("Admission proposal withdrawn (its favourable decision was deleted before being validated)")
    record_event(
        application, kind=EventKind.CANCELLED, actor=actor, from_status=application.dossier_status, comment=comment
    )


def admission_proposal_refusal(
    formation: Formation,
    *,
    actor: User,
    now: datetime.datetime | None = None,
    application: Application | None = None,
) -> str:
    """Why ``actor`` may not propose an admission to ``formation`` at ``now`` (default: now), or "": it has no default
    favourable decision, or that decision, released at once, could no longer be answered by its date de confirmation
    (``_confirmation_date_refusal``; not checked when it waits for someone else's validation, which checks it).

    ``application``: the proposal's application once created (``admit_on_proposal``, under its lock); without it,
    the date is a new application's, the formation's rule (``candidature.propose_admission`` may ask before it
    creates anything)."""
    if formation.favourable_decision_type_id is None:
        return _("An admission proposal needs the formation's default favourable decision; set it on the formation.")
    if not _released_at_once(actor):
        return ""
    now = now or timezone.now()
    confirmation_date = _effective_confirmation_date(application or Application(formation=formation), now)
    return _confirmation_date_refusal(confirmation_date, now, proposal=True)


@dataclass(frozen=True)
class HeldBackDecision:
    """A favourable decision given at once but only entered (``_grant_default_favourable``): its candidate could no
    longer answer it by ``confirmation_date``."""

    decision: Decision
    confirmation_date: datetime.date | None


# The attribute of the application instance on which ``_grant_default_favourable`` leaves its ``HeldBackDecision``.
HELD_BACK = "_held_back_decision"


def held_back_decision(application: Application) -> HeldBackDecision | None:
    """The favourable decision given at once that the service which returned ``application`` (``set_dossier_status``
    and ``set_treatment_type``, through ``grant_direct_access``) only entered, neither validated nor mailed, because
    its candidate could no longer answer it by its date de confirmation; None otherwise. Read from that instance, as
    written in that call: no query."""
    return getattr(application, HELD_BACK, None)


def _released_at_once(actor: User | None) -> bool:
    """Whether a default favourable decision given by ``actor`` may be released at once: not with
    ``DECISION_TWO_PERSON_RULE`` and a person acting (it then waits for someone else's validation)."""
    return not (settings.DECISION_TWO_PERSON_RULE and actor is not None)


def _grant_default_favourable(
    application: Application,
    *,
    actor: User | None,
    action: str,
    event: EventKind,
    batch: str = "",
    now: datetime.datetime | None = None,
) -> Decision:
    """The formation's default favourable decision, created validated with history ``action``, recorded as
    ``event`` and mailed with its letter. ``now``: the moment of the grant (the caller's, when it checked the date
    de confirmation at that moment; default: now).

    With ``DECISION_TWO_PERSON_RULE`` and a person as ``actor`` (an admission proposal, a type de traitement set to
    accès direct by hand), the decision is only entered: it waits, unmailed, for someone else's validation
    (``validate_decision``, which mails it), as any decision a person enters. Granted by a batch, it is released at
    once: no person judged it. Whoever grants it, it is only entered, its history row saying why, when its
    candidate could no longer answer it by its date de confirmation (``_confirmation_date_refusal``): its
    validation then refuses it until staff set a later date (an accès direct, ``grant_direct_access``; an admission
    proposal is refused before, ``admit_on_proposal``)."""
    decision_type = application.formation.favourable_decision_type
    assert decision_type is not None  # checked by the callers, with their own message
    now = now or timezone.now()
    confirmation_date = _effective_confirmation_date(application, now)
    too_late = bool(_confirmation_date_refusal(confirmation_date, now))
    released = _released_at_once(actor) and not too_late
    decision = Decision.objects.create(
        application=application,
        decision_type=decision_type,
        action=action,
        created_by=actor,
        validated_at=now if released else None,
        validated_by=actor if released else None,
    )
    comment = decision_type.label
    with translation.override(settings.LANGUAGE_CODE):  # the history is read in the institution's language
        if too_late:
            comment = _(
                "%(decision)s (not released: the candidate could no longer confirm it by the confirmation date, "
                "%(date)s; set a later date with “Extend deadlines”, then validate it)"
            ) % {"decision": comment, "date": format_date(confirmation_date)}
        elif not released:
            comment = _("%(decision)s (to be validated by someone else: two-person rule)") % {"decision": comment}
    record_event(application, kind=event, actor=actor, batch=batch, comment=comment)
    if released:
        _rearm_confirmation_reminder(application)
    if too_late:  # said to whoever acted (``held_back_decision``)
        setattr(application, HELD_BACK, HeldBackDecision(decision, confirmation_date))
    if not released:
        return decision
    letter = _decision_letter(decision, application, actor=actor)
    notify_decision(
        application=application,
        decision=decision,
        confirmation_date=confirmation_date,
        letter=letter.context,
        attachments=letter.attachments,
    )
    return decision


def _rearm_confirmation_reminder(application: Application, fields: list[str] | None = None) -> None:
    """The nightly confirmation reminder (``nightly.remind_favourable_decisions``) is sent once per favourable
    decision and date de confirmation: a favourable decision released, or a new date given, after it was sent makes
    it due again before the new date. Read from ``application`` (the caller's locked row): no query when it was not
    sent; with ``fields``, the field is only added to the caller's ``save``."""
    if application.favourable_reminder_sent_at is None:
        return
    application.favourable_reminder_sent_at = None
    if fields is not None:
        fields.append("favourable_reminder_sent_at")
    else:
        application.save(update_fields=["favourable_reminder_sent_at"])


def _decision_letter(decision: Decision, application: Application, *, actor: User | None) -> LetterMail:
    """Record the decision's letter (built after the commit) and give what its mail says of it
    (``letters.letter_mail``: the link, and the letter attached when the commission asks for it).

    Nothing without a letter text for this avis, nor for an admission letter the candidate gets only once they have
    confirmed (``ADMISSION_LETTER_AFTER_CONFIRMATION``: the link would answer 404 until then, and the attachment
    would give what the download withholds; the confirmation mail carries it). ``application`` is the locked row,
    with its candidate's user and its formation's commission loaded (no query more)."""
    letter = schedule_letter(decision, actor=actor)
    if letter is not None and (
        parameters.get("ADMISSION_LETTER_AFTER_CONFIRMATION") and letter.kind == DecisionLetterTemplate.Kind.ADMISSION
    ):
        letter = None
    return letter_mail(letter, application)


def two_person_refusal(decision: Decision, *, actor: User) -> str:
    """With ``DECISION_TWO_PERSON_RULE``, why ``actor`` may not validate ``decision`` (they entered it), or ""."""
    if settings.DECISION_TWO_PERSON_RULE and decision.created_by_id is not None and decision.created_by_id == actor.pk:
        return _("Two-person rule: this decision must be validated by someone other than the person who entered it.")
    return ""


# --- decisions --------------------------------------------------------------------------------------------------


def current_decision(application: Application) -> Decision | None:
    return application.decisions.select_related("decision_type").current()


def lifts_automatic_withdrawal(application: Application, *, avis: str, after_appeal: bool) -> bool:
    """Whether a decision (``avis``, ``after_appeal``) lifts the application's withdrawal: only a favourable decision
    given after the candidate's appeal, and only the nightly automatic withdrawal (no answer by the date de
    confirmation: ``nightly._withdraw``, the only one with no actor). That is the appeal's usual case, the candidate
    who missed the date: staff give a later date (« Prolonger les dates »), enter the favourable decision after the
    appeal and validate it, and the candidate confirms again. The candidate's own withdrawal, or staff's in their
    name, stays irreversible (§1.12)."""
    return (
        after_appeal
        and avis == Avis.FAVOURABLE
        and application.accepted is False
        and application.answered_by_id is None
    )


def _reset_answer(application: Application, *, lift_withdrawal: bool = False) -> bool | None:
    """A new decision, once validated (``validate_decision``), resets the candidate's confirmation (§2.7, eCandidat
    ``tem_accept_cand``): the answer, its date and its actor, on the locked row; the caller then sends
    ``confirmation_withdrawn`` (the OPI is withdrawn), once its history row is written. Not at its entry
    (``record_decision``), unlike the reference: the candidate only sees validated decisions (§1.12), so a decision
    entered and not validated must not change what they see. A withdrawal stands, with its reason: it is
    irreversible (§1.12) and may already have given the place to the complementary list, so a new decision neither
    lets the candidate confirm the old one again nor gives the place back; except, with ``lift_withdrawal``
    (``lifts_automatic_withdrawal``: a favourable decision after an appeal, validated), the nightly automatic
    withdrawal, which is reset as a confirmation is. Returns the answer found: True (the confirmation, reset), False
    (the withdrawal, kept or lifted) or None (no answer); the caller's history row says which (``_answer_note``)."""
    previous = application.accepted
    if previous is True or (previous is False and lift_withdrawal):
        application.accepted = None
        application.answered_at = None
        application.answered_by = None
        application.withdrawal_reason = ""
        application.save(update_fields=["accepted", "answered_at", "answered_by", "withdrawal_reason"])
    return previous


def _answer_note(comment: str, previous: bool | None, *, validated: bool, lifted: bool | None = None) -> str:
    """The history comment ``comment`` of a decision's entry (``validated`` False) or validation (True), with what
    becomes of the candidate's answer ``previous`` (the answer on the row at the entry; ``_reset_answer``'s result at
    the validation), in the institution's language. A confirmation is cancelled by the validation only, whether it
    was given before the entry or since: the entry says it will be."""
    if previous is None:
        return comment
    with translation.override(settings.LANGUAGE_CODE):  # the history is read in the institution's language
        if previous is False and lifted:
            return _("%(decision)s (the automatic withdrawal is lifted: the candidate may confirm)") % {
                "decision": comment
            }
        if previous is False and lifted is False:  # entered: lifted once validated
            return _("%(decision)s (the automatic withdrawal will be lifted once this decision is validated)") % {
                "decision": comment
            }
        if previous is False:
            return _("%(decision)s (the candidate's withdrawal stands)") % {"decision": comment}
        if not validated:
            return _(
                "%(decision)s (the candidate's confirmation will be cancelled once this decision is validated)"
            ) % {"decision": comment}
        return _("%(decision)s (the candidate's confirmation is cancelled)") % {"decision": comment}


@transaction.atomic
def record_decision(
    application: Application,
    *,
    decision_type: DecisionType,
    actor: User | None,
    refusal_reason: RefusalReason | None = None,
    comment: str = "",
    rank: int | None = None,
    preselection_at: datetime.datetime | None = None,
    preselection_place: str = "",
    after_appeal: bool = False,
    expected_latest: int | None = None,
) -> Decision:
    """Append a new decision (not validated yet). It changes nothing of the candidate's answer: their confirmation,
    and the OPI it created, are cancelled when the decision is validated (``validate_decision``), not now. A
    deliberate departure from the reference (§2.7, eCandidat resets the confirmation at the entry): the candidate
    only ever sees validated decisions (§1.12), and until this one is validated they still see the previous one and
    their confirmation of it; reset here, a decision they could not see changed what they saw, and a draft deleted
    afterwards (``delete_last_decision``) left the admission and its OPI undone. The history row says what will
    become of the answer (``_answer_note``): a confirmation cancelled once validated, a withdrawal that stands, or
    the automatic withdrawal lifted once validated. ``after_appeal`` marks a decision given after the candidate's
    appeal (eCandidat "Appel", only when ``DECISION_APPEALS`` is on), refused under the lock while the application
    has no validated decision: the candidate has been told of none, so has appealed against none, and the mail would
    speak of an appeal they never made.

    ``expected_latest``: the pk of the application's latest decision when the page was shown (0: it had none). When
    given, a decision entered or deleted since (a double submit, a colleague's entry) is refused under the row's lock
    with ``InvalidTransition``, rather than entered twice or over one the user has not seen; None: not checked.

    Locks the application only (``no_key``, ``_lock``): entering a decision changes no rank and no answer (the
    validation does, ``validate_decision``), so it touches no OPI."""
    avis = decision_type.avis
    if after_appeal and not parameters.get("DECISION_APPEALS"):
        raise BusinessRuleError(_("Appeals are not in use in this institution."))
    if not decision_type.in_service:
        raise BusinessRuleError(_("This decision type is out of service."))
    if avis == Avis.UNFAVOURABLE and refusal_reason is None:
        raise BusinessRuleError(_("An unfavourable decision needs a reason."))
    if avis == Avis.COMPLEMENTARY_LIST and not rank:
        raise BusinessRuleError(_("A complementary-list decision needs a rank."))
    if avis == Avis.PRESELECTION and (preselection_at is None or not preselection_place.strip()):
        raise BusinessRuleError(_("A preselection needs a date, a time and a place."))
    if len(comment) > 1000:
        raise BusinessRuleError(_("The comment is limited to 1000 characters."))
    application = _lock(application)
    if application.is_cancelled:
        raise InvalidTransition(_("This application has been cancelled."))
    if expected_latest is not None:
        latest = application.decisions.newest_first().values_list("pk", flat=True).first()
        if (latest or 0) != expected_latest:
            raise InvalidTransition(
                _(
                    "The decisions of this application have changed since this page was shown (a decision entered "
                    "or deleted meanwhile, or the form sent twice): nothing was recorded. Check its latest decision "
                    "before entering one again."
                )
            )
    if after_appeal and not application.decisions.validated().exists():
        # Under the lock: a first decision marked after an appeal told the candidate of an appeal they never made.
        raise BusinessRuleError(_("No decision has been released to the candidate: there is no appeal to examine."))
    decision = Decision.objects.create(
        application=application,
        decision_type=decision_type,
        refusal_reason=refusal_reason if avis == Avis.UNFAVOURABLE else None,
        comment=comment,
        rank=rank if avis == Avis.COMPLEMENTARY_LIST else None,
        preselection_at=preselection_at if avis == Avis.PRESELECTION else None,
        preselection_place=preselection_place.strip() if avis == Avis.PRESELECTION else "",
        after_appeal=after_appeal,
        action=DecisionAction.ENTERED,
        created_by=actor,
    )
    label = decision_type.label
    with translation.override(settings.LANGUAGE_CODE):  # the history is read in the institution's language
        comment = _("%(decision)s (after an appeal)") % {"decision": label} if after_appeal else label
    lifted_later = lifts_automatic_withdrawal(application, avis=avis, after_appeal=after_appeal)
    comment = _answer_note(comment, application.accepted, validated=False, lifted=False if lifted_later else None)
    record_event(application, kind=EventKind.DECISION_ENTERED, actor=actor, comment=comment)
    return decision


@transaction.atomic
def validate_decision(decision: Decision, *, actor: User) -> Decision:
    """Validate the application's latest decision and mail it; a favourable one gives the date de confirmation.

    The candidate's confirmation of the decision this one replaces is reset here, not at the entry
    (``record_decision``): until this validation the candidate still sees the previous validated decision (they
    only ever see validated ones, §1.12) and their answer to it. Whether given before the entry or since, a
    confirmation is reset (answer, date, actor; ``confirmation_withdrawn``, so the OPI it created is withdrawn) and
    the validation's history row says so (« … (la confirmation du candidat est annulée) »). A withdrawal stands
    (``_reset_answer``): it may already have given the place to the next of the complementary list. Refusing to
    answer while a decision waits for validation would tell the candidate of a decision not yet given, and leave
    the button shown.

    On the complementary list, the rang réel is recomputed before the mail, among the application's campaign only;
    when the mail gives it (``WAITING_LIST_RANK_DISPLAY=R``), it becomes the rank the candidate was last told, so the
    nightly progress mail (``mail_waiting_list_progress``) counts from it.

    Lock order: when the validation recomputes the ranks (a complementary-list decision, or an application that has
    a rank), the formation's row is locked before the application's, as ``promote_from_waiting_list`` and every
    other path that changes ranks do; the other way round, a validation and a withdrawal's promotion of the same
    formation deadlocked. Otherwise only the application is locked; then, when the validation undoes a confirmation,
    the OPI (``confirmation_withdrawn``), the application's row locked ``no_key`` (``_lock``, the module's lock order).
    Validating a selection in one transaction, call ``lock_waiting_lists_to_validate`` first: the formations of the
    whole selection in one order.

    A withdrawn application's withdrawal stands: the decision is validated, but it is given no rank
    (``waiting_list_queryset``) and not mailed (``notifications.notify_decision``: it would promise a place).

    A favourable decision its candidate could no longer answer by its date de confirmation (a date gone, or today's
    once the site has closed for the night) is refused, nothing written: staff give a later date first
    (``_confirmation_date_refusal``). Its date counted from the validation (the formation's délai) is capped at the
    campaign's closing date for candidates (``applications.dates.effective_confirmation_date``), so once the
    campaign has closed to candidates it is refused too, the refusal saying to move that closing date first: no
    date is left that « Extend deadlines » could give.

    An admission proposal's decision (action ``P``, only entered under ``DECISION_TWO_PERSON_RULE``) releases the
    proposal with it: the candidate's CANDIDATURE mail before the decision's, the commission's alert after it
    (``_announce_proposal``)."""
    # Read before any lock, to know whether this validation recomputes the ranks (the lock order). A decision is
    # never changed but by its validation: its validation stamp is read again under the application's lock below.
    current = (
        Decision.objects.select_related("decision_type", "refusal_reason", "application__formation")
        .filter(pk=decision.pk)
        .first()
    )
    formation_locked = current is not None and (
        current.decision_type.avis == Avis.COMPLEMENTARY_LIST or current.application.waiting_list_rank is not None
    )
    if current is not None and formation_locked:
        _lock_formation(current.application.formation)
    # With its campaign: the date de confirmation is capped at its closing date for candidates, and a validation
    # after it is refused (``_confirmation_date_refusal``).
    application = _lock(decision.application, with_campaign=True)
    latest = application.decisions.newest_first().values_list("pk", "validated_at").first()
    if current is None or latest is None or current.pk != latest[0]:
        raise InvalidTransition(_("This decision is no longer the application's latest one; nothing was done."))
    current.validated_at = latest[1]  # as committed before the lock: a colleague may have validated it meanwhile
    current.application = application  # the locked row, its formation loaded: the letter and the mail read it
    decision = current
    if decision.validated_at is not None:
        raise InvalidTransition(_("This decision has already been validated."))
    if application.is_cancelled:
        raise InvalidTransition(_("This application has been cancelled."))
    refusal = two_person_refusal(decision, actor=actor)
    if refusal:
        raise BusinessRuleError(refusal)
    now = timezone.now()
    avis = decision.decision_type.avis
    confirmation_date = None
    if avis == Avis.FAVOURABLE:
        confirmation_date = _effective_confirmation_date(application, now)
        refusal = _confirmation_date_refusal(confirmation_date, now, campaign=application.campaign)
        if refusal:
            raise BusinessRuleError(refusal)
    decision.validated_at = now
    decision.validated_by = actor
    decision.save(update_fields=["validated_at", "validated_by"])
    if avis == Avis.FAVOURABLE:
        _rearm_confirmation_reminder(application)
    lift = lifts_automatic_withdrawal(application, avis=avis, after_appeal=decision.after_appeal)
    previous_answer = _reset_answer(application, lift_withdrawal=lift)
    label = _answer_note(decision.decision_type.label, previous_answer, validated=True, lifted=lift or None)
    record_event(application, kind=EventKind.DECISION_VALIDATED, actor=actor, comment=label)
    if previous_answer is True:
        confirmation_withdrawn.send(sender=Application, application=application, actor=actor)
    if avis == Avis.COMPLEMENTARY_LIST or application.waiting_list_rank is not None:
        if not formation_locked:
            # Ranked between the read above and the application's lock (by the nightly ranks): rare, and the
            # formation is then locked after the application.
            _lock_formation(application.formation)
        # Before the mail: it gives the rang réel this validation makes (the recap's, with the R display).
        told = application.pk if mails_real_rank(decision) else None
        ranks = _recompute_ranks(application.formation, campaign_id=application.campaign_id, told=told)
        application.waiting_list_rank = ranks.get(application.pk)
        if told is not None:
            application.waiting_list_rank_mailed = application.waiting_list_rank
    letter = _decision_letter(decision, application, actor=actor)
    # The mails about the decision this one replaces, still waiting in the outbox (the mail server down), would
    # leave after it, or even arrive after it: withdrawn before this one's is written.
    cancel_decision_mails(application, reason=REPLACED_BEFORE_SENT)
    # An admission proposal's decision is validated here only when it was not released at once (the two-person
    # rule): the proposal's own mails waited for it (``_announce_proposal``).
    with _announce_proposal(application, released=decision.action == DecisionAction.PROPOSAL):
        notify_decision(
            application=application,
            decision=decision,
            confirmation_date=confirmation_date,
            letter=letter.context,
            attachments=letter.attachments,
            rank=mailed_rank(
                decision, real_rank=application.waiting_list_rank, withdrawn=application.accepted is False
            ),
        )
    return decision


def _confirmation_date_refusal(
    confirmation_date: datetime.date | None,
    now: datetime.datetime,
    *,
    proposal: bool = False,
    campaign: Campaign | None = None,
) -> str:
    """Why a favourable decision whose date de confirmation is ``confirmation_date`` may not be validated at
    ``now``, or "": its candidate could no longer answer it by that date, which is before the first day they can
    still act with the hour before the site closes (``first_day_to_act`` with ``ACT_MARGIN``, the rule of the
    nightly withdrawal's ``_given_too_late``): validated at 22:40 on its date, it left 5 minutes to confirm, and the
    batch of 23:00 withdrew it.

    A late decision (after an appeal, a re-admission after an automatic withdrawal…) would be mailed asking to
    answer by a date gone: the candidate could not confirm, and the nightly batch leaves it alone. So would one
    validated on the evening of its date once the site has closed for the night (the maintenance window, enforced):
    "Confirmer" is refused from the next morning on. Both wait for staff to give a later date.

    The same rule for the decisions given at once: an accès direct is then only entered (``grant_direct_access``);
    an admission proposal (``proposal``) is refused, with its own way out (its application does not exist yet, so
    no date can be set on it first: a classic application is).

    ``campaign`` (the application's, ``validate_decision``): once it has closed to candidates (its ``ends_on``
    before that first day), no new date can be given (``_new_date_refusal`` refuses every one), and a date counted
    from the validation is capped at ``ends_on`` (``applications.dates``): the refusal says to move the campaign's
    closing date for candidates first, as ``_new_date_refusal`` does."""
    first_day = first_day_to_act(now, margin=ACT_MARGIN)
    if confirmation_date is None or confirmation_date >= first_day:
        return ""
    if campaign is not None and campaign.ends_on < first_day:
        return _(
            "The campaign “%(campaign)s” closed to candidates after %(date)s: they can no longer log in to confirm "
            "this favourable decision. Move its closing date for candidates later first (Campaigns), then validate "
            "the decision (giving a new confirmation date first if its own has passed)."
        ) % {"campaign": campaign.label, "date": format_date(campaign.ends_on)}
    if proposal:
        return _proposal_refusal(confirmation_date, now)
    if confirmation_date < timezone.localdate(now):
        return _(
            "The confirmation date (%(date)s) has passed: the candidate could not answer this favourable "
            "decision. Set a new confirmation date first (“Extend deadlines”), then validate it."
        ) % {"date": format_date(confirmation_date)}
    if closes_tonight(now):
        return _(
            "The candidate would have less than an hour to confirm by the confirmation date (%(date)s): the site "
            "closes at %(time)s tonight. Set a later confirmation date first (“Extend deadlines”), then validate "
            "this favourable decision."
        ) % {"date": format_date(confirmation_date), "time": hour_label(settings.MAINTENANCE_START)}
    return _(
        "The candidate can no longer confirm by the confirmation date (%(date)s): the site is closed until "
        "%(time)s tomorrow. Set a later confirmation date first (“Extend deadlines”), then validate this "
        "favourable decision."
    ) % {"date": format_date(confirmation_date), "time": hour_label(settings.MAINTENANCE_END)}


def new_confirmation_date_refusal(
    day: datetime.date, now: datetime.datetime | None = None, *, campaign: Campaign | None = None
) -> str:
    """Why ``day`` may not be given now as an application's new date de confirmation (« Prolonger les délais »),
    or "": a date before today, or today's once the site has closed for the night (``first_day_to_act``, the
    maintenance window enforced). Given at 22:50, today's date was one the candidate could no longer answer by, and
    the nightly batch of that very night withdrew the application (``_given_too_late`` reads the decision's
    validation, not the date's change) and gave its place away. With the application's ``campaign``: a date after
    its closing date for candidates too (``_new_date_refusal``)."""
    return _new_date_refusal(
        day,
        now,
        campaign=campaign,
        closed=lambda: _(
            "The candidate could no longer confirm by today: the site is closed until %(time)s tomorrow. Give "
            "tomorrow's date or a later one."
        ),
        closing=lambda: _(
            "The candidate would have less than an hour to confirm by today: the site closes at %(time)s tonight. "
            "Give tomorrow's date or a later one."
        ),
    )


def new_return_deadline_refusal(
    day: datetime.date, now: datetime.datetime | None = None, *, campaign: Campaign | None = None
) -> str:
    """Why ``day`` may not be given now as an application's new date limite de retour, or "", by the same rule as
    ``new_confirmation_date_refusal``: given for today at 22:50, the candidate could not reach the site again before
    it had passed (found by review); with the application's ``campaign``, a date after its closing date for
    candidates."""
    return _new_date_refusal(
        day,
        now,
        campaign=campaign,
        closed=lambda: _(
            "The candidate could no longer transmit by today: the site is closed until %(time)s tomorrow. Give "
            "tomorrow's date or a later one."
        ),
        closing=lambda: _(
            "The candidate would have less than an hour to transmit by today: the site closes at %(time)s tonight. "
            "Give tomorrow's date or a later one."
        ),
    )


def _new_date_refusal(
    day: datetime.date,
    now: datetime.datetime | None,
    *,
    closed: Callable[[], str],
    closing: Callable[[], str],
    campaign: Campaign | None = None,
) -> str:
    """Nothing ("") for a date the candidate can still act by with the hour before the site closes
    (``first_day_to_act`` with ``ACT_MARGIN``) and, ``campaign`` given (the application's), on or before its closing
    date for candidates (``Campaign.ends_on``), after which they can no longer log in; a date before today's refusal;
    today's once the site has closed for the night: ``closed()``, with the hour the site opens again; today's in the
    hour before it closes: ``closing()``, with the hour it closes.

    A date after the campaign's closing date was stored as typed: a year mistyped (2207 for 2027) or 31/12/9999 gave
    the candidate « Répondez au plus tard le 30/06/2207 », and ``withdraw_expired_confirmations`` never withdrew the
    application, its place held and the complementary list still for the whole campaign (found by review). When no
    date is left to give (the campaign closed to candidates), the refusal says to move its closing date first."""
    now = now or timezone.now()
    first_day = first_day_to_act(now, margin=ACT_MARGIN)
    if campaign is not None and day > campaign.ends_on:
        if campaign.ends_on < first_day:
            return _(
                "The campaign “%(campaign)s” closed to candidates after %(date)s: they can no longer log in to act "
                "by a new date. Move its closing date for candidates later first (Campaigns), then give the new date."
            ) % {"campaign": campaign.label, "date": format_date(campaign.ends_on)}
        return campaign_end_refusal(campaign)
    if day >= first_day:
        return ""
    if day < timezone.localdate(now):
        return _("The new date must be today or later.")
    if closes_tonight(now):
        return closing() % {"time": hour_label(settings.MAINTENANCE_START)}
    return closed() % {"time": hour_label(settings.MAINTENANCE_END)}


def _proposal_refusal(confirmation_date: datetime.date, now: datetime.datetime) -> str:
    """``_confirmation_date_refusal`` for an admission proposal: the same reason, then what staff can do instead."""
    if confirmation_date < timezone.localdate(now):
        return _(
            "The confirmation date (%(date)s) has passed: the candidate could not answer this admission proposal. "
            "Create a classic application instead, give it a new confirmation date (“Extend deadlines”), then enter "
            "and validate its favourable decision."
        ) % {"date": format_date(confirmation_date)}
    if closes_tonight(now):
        return _(
            "The candidate would have less than an hour to confirm by the confirmation date (%(date)s): the site "
            "closes at %(time)s tonight. Create a classic application instead, give it a later confirmation date "
            "(“Extend deadlines”), then enter and validate its favourable decision."
        ) % {"date": format_date(confirmation_date), "time": hour_label(settings.MAINTENANCE_START)}
    return _(
        "The candidate can no longer confirm by the confirmation date (%(date)s): the site is closed until "
        "%(time)s tomorrow. Create a classic application instead, give it a later confirmation date (“Extend "
        "deadlines”), then enter and validate its favourable decision."
    ) % {"date": format_date(confirmation_date), "time": hour_label(settings.MAINTENANCE_END)}


def mails_real_rank(decision: Decision) -> bool:
    """Whether the mail of ``decision`` gives the rang réel (``mailed_rank``): a complementary list, shown with R."""
    return (
        decision.decision_type.avis == Avis.COMPLEMENTARY_LIST and parameters.get("WAITING_LIST_RANK_DISPLAY") == "R"
    )


def mailed_rank(decision: Decision, *, real_rank: int | None, withdrawn: bool = False) -> int | None:
    """The rank a complementary-list decision's mail gives: the one the candidate's recap shows, as
    ``WAITING_LIST_RANK_DISPLAY`` says (eCandidat LC_MODE_AFFICHAGE_RANG): ``R`` the rang réel (``real_rank``, just
    recomputed), ``S`` the rank the commission entered, ``N`` none (a mail must not tell what the recap does not
    show; the nightly progress mail counts from the rang réel it was told). None for a ``withdrawn`` application:
    its withdrawal stands, it is on no list (``waiting_list_queryset``) and its recap shows no rank."""
    if decision.decision_type.avis != Avis.COMPLEMENTARY_LIST or withdrawn:
        return None
    mode = parameters.get("WAITING_LIST_RANK_DISPLAY")
    if mode == "R":
        return real_rank
    return decision.rank if mode == "S" else None


@transaction.atomic
def delete_last_decision(application: Application, *, actor: User, expected: int | None = None) -> None:
    """Only the latest decision, and only while it is not validated, can be deleted (§2.7). Not validated, it changed
    nothing of the candidate's answer nor of their OPI (``record_decision``): deleting it leaves them as they are,
    the previous decision in force again.

    ``expected``: the pk of the decision the page named (``operations._decision_to_delete``; 0: it named none). When
    given, it must still be the latest under the row's lock: a decision entered since (a colleague's) is not deleted
    in its place, and a second click does not delete the one before; None: not checked.

    An admission proposal's decision (action ``P``: only entered, under ``DECISION_TWO_PERSON_RULE``) is the
    proposal itself: deleting it withdraws the proposal, its application cancelled unmailed (``_withdraw_proposal``),
    rather than left « Complet » with no decision, which its candidate never asked for and could not cancel."""
    application = _lock(application)
    decision = current_decision(application)
    if decision is None:
        raise InvalidTransition(_("This application has no decision."))
    if expected is not None and decision.pk != expected:
        raise InvalidTransition(
            _(
                "The latest decision of this application has changed since this page was shown (a decision entered "
                "or deleted meanwhile, or the form sent twice): nothing was deleted. Check the decision named above "
                "before deleting it."
            )
        )
    if decision.validated_at is not None:
        raise InvalidTransition(_("A validated decision cannot be deleted."))
    label = decision.decision_type.label
    decision.delete()
    record_event(application, kind=EventKind.DECISION_DELETED, actor=actor, comment=label)
    if decision.action == DecisionAction.PROPOSAL:
        _withdraw_proposal(application, actor=actor)


# --- waiting list -----------------------------------------------------------------------------------------------


def _of_campaign(campaign_id: int | None) -> Q:
    """The applications of campaign ``campaign_id``, or of the active campaign when None (a join, no query)."""
    return Q(campaign_id=campaign_id) if campaign_id is not None else Q(campaign__is_active=True)


def waiting_list_queryset(formation: Formation, *, campaign_id: int | None = None) -> QuerySet[Application]:
    """The formation's live applications of one campaign (``campaign_id``, by default the active one) whose latest
    validated decision is a ranked complementary list, in order.

    A formation is reused from one campaign to the next and a validated decision is never undone: without the
    campaign, last year's list would be ranked with this year's, and promoted in its place.

    A withdrawn application (``accepted`` False) is not on the list, whatever its latest decision: a withdrawal stands
    (``_reset_answer``), so a complementary-list decision validated after it (a commission correcting its avis) is
    recorded and mailed, but never promoted (``_first_of_waiting_list``). Counted in the ranks, it held a rank nobody
    could use: the real first in line was shown and mailed 2, for ever, and the withdrawn candidate a rank.

    An application whose newer decision waits for validation stays on the list, at its rank (the candidate sees only
    validated decisions, and its validation recomputes the ranks), but is not promoted while it waits
    (``_first_of_waiting_list``)."""
    return (
        Application.objects.filter(_of_campaign(campaign_id), formation=formation, cancelled_at__isnull=True)
        .exclude(accepted=False)
        .annotate(
            latest_avis=latest_decision("decision_type__avis", validated_only=True),
            latest_rank=latest_decision("rank", validated_only=True),
        )
        .filter(latest_avis=Avis.COMPLEMENTARY_LIST, latest_rank__isnull=False)
        .order_by("latest_rank", "created_at", "id")
    )


def _lock_formation(formation: Formation) -> None:
    """Serialise the waiting-list work of one formation (promotions and rank computations).

    Lock order: the formation's row before any application's row of that formation, on the paths that change ranks
    (``validate_decision``, ``promote_from_waiting_list``, ``recompute_waiting_list_ranks``, a candidate's or
    staff's withdrawal, ``candidature.withdraw_application``, and the nightly automatic one, ``nightly._withdraw``);
    a path that took an application first and then waited for the formation deadlocked with one that holds the
    formation and moves the list's ranks up. Several formations in one transaction: in ascending pk order, at once
    (``lock_waiting_lists_to_validate``)."""
    list(Formation.objects.select_for_update(of=("self",)).filter(pk=formation.pk).values_list("pk", flat=True))


def lock_waiting_list(formation: Formation) -> None:
    """``_lock_formation`` for a caller outside this module that is about to lock an application of ``formation``
    and may then promote from its list (``candidature.withdraw_application``)."""
    _lock_formation(formation)


# What PostgreSQL answers when a lock could not be had: the deadlock it broke by failing this statement (40P01), a
# lock wait given up (55P03, ``lock_timeout``), a serialisation failure (40001).
LOCK_CONFLICTS = frozenset({"40P01", "55P03", "40001"})


def is_lock_conflict(error: OperationalError) -> bool:
    """Whether ``error`` is a lock conflict (``LOCK_CONFLICTS``): the driver's error is its cause (psycopg2 names
    its code ``pgcode``, psycopg 3 ``sqlstate``)."""
    cause = error.__cause__
    return (getattr(cause, "pgcode", None) or getattr(cause, "sqlstate", None)) in LOCK_CONFLICTS


@contextmanager
def lock_conflict_refused() -> Iterator[None]:
    """A lock conflict raised inside the block (``is_lock_conflict``) becomes a refusal, ``BusinessRuleError``, that
    the back office says as any other, never a 500: the lock order of this module leaves none between its own paths,
    but work of another kind, or a ``lock_timeout``, may still meet one.

    Entered outside the block's savepoint (``with lock_conflict_refused(), transaction.atomic():``): the error is
    converted once the savepoint has rolled back, so the caller's transaction (a back-office request) goes on, the
    work done before the savepoint kept."""
    try:
        yield
    except OperationalError as error:
        if not is_lock_conflict(error):
            raise
        logger.warning("lock conflict refused (%s)", type(error.__cause__).__name__)
        raise BusinessRuleError(
            _(
                "Another action held this application or its formation's complementary list at the same moment (a "
                "colleague's validation, a withdrawal…): nothing was done for it. Try again in a moment."
            )
        ) from error


def lock_waiting_lists_to_validate(applications: Iterable[Application]) -> None:
    """Before ``validate_decision`` runs on the latest decision of each of ``applications`` inside one transaction
    (the back office's "Validate the decisions" on a selection: its request is one transaction, ``ATOMIC_REQUESTS``,
    each application in a savepoint), lock every formation whose row those validations will lock, at once, in
    ascending pk order: one query.

    ``validate_decision`` locks the formation (a complementary-list decision, or an application that has a rank)
    before the application, and the request keeps each lock until it ends. A selection validated in its own order
    took its formations in the order of its applications: two managers validating selections that cover two
    formations the other way round each held one and waited for the other's, and PostgreSQL broke the deadlock by
    failing one request (its validations and mails rolled back). Every formation taken first, in one order, then the
    applications in the release's order (``release.release_order``: pk order, but for the complementary lists, in
    their own order, whose formations are held already), two such runs wait for each other instead, and a
    validation or a promotion of one application (the formation, then the application) waits for them.

    The formations are found as ``validate_decision`` decides, read before any lock as it reads it: the
    application's latest decision is a complementary list, or it has a rang réel. One ranked after this read (by
    the nightly ranks) has its formation locked by ``validate_decision`` itself, after the application, as there."""
    pks = [application.pk for application in applications]
    ranking = (
        Application.objects.filter(pk__in=pks)
        .annotate(latest_avis=latest_decision("decision_type__avis"))
        .filter(Q(latest_avis=Avis.COMPLEMENTARY_LIST) | Q(waiting_list_rank__isnull=False))
        .values("formation_id")
    )
    list(
        Formation.objects.select_for_update(of=("self",))
        .filter(pk__in=ranking)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@transaction.atomic
def recompute_waiting_list_ranks(*, formation: Formation, campaign_id: int | None = None) -> int:
    """Rang réel: 1, 2, … among the complementary list of the formation in campaign ``campaign_id`` (by default the
    active one); everyone else of the formation in that campaign gets no rank. Another campaign's ranks are left as
    they are (an archived campaign's applications are never changed). Returns how many are ranked."""
    _lock_formation(formation)
    return len(_recompute_ranks(formation, campaign_id=campaign_id))


def _recompute_ranks(formation: Formation, *, campaign_id: int | None, told: int | None = None) -> dict[int, int]:
    """``recompute_waiting_list_ranks`` inside the caller's transaction: the rang réel of each ranked application,
    by its pk.

    ``told``: the pk of the application whose decision's mail, sent by the caller, gives its new rang réel: that is
    the rank it was last told, whatever it was before (the nightly progress mail counts from it).

    The caller holds the formation's lock (``_lock_formation``), taken before any application's."""
    ordered = list(waiting_list_queryset(formation, campaign_id=campaign_id).values_list("pk", flat=True))
    ranks = {pk: position for position, pk in enumerate(ordered, start=1)}
    stale = list(
        Application.objects.filter(_of_campaign(campaign_id), formation=formation)
        .filter(Q(pk__in=ordered) | Q(waiting_list_rank__isnull=False))
        .only("pk", "waiting_list_rank", "waiting_list_rank_mailed")
    )
    changed = []
    now = timezone.now()
    for application in stale:
        rank = ranks.get(application.pk)
        mailed = application.waiting_list_rank_mailed
        if application.pk == told or application.waiting_list_rank is None or rank is None:
            # Told by its decision's mail, entering the list (that mail gives the rank) or leaving it: nothing to
            # announce later.
            mailed = rank
        if application.waiting_list_rank == rank and application.waiting_list_rank_mailed == mailed:
            continue
        if application.waiting_list_rank != rank:
            application.waiting_list_rank = rank
            application.waiting_list_rank_at = now if rank is not None else None
        application.waiting_list_rank_mailed = mailed
        changed.append(application)
    if changed:
        Application.objects.bulk_update(
            changed, ["waiting_list_rank", "waiting_list_rank_at", "waiting_list_rank_mailed"]
        )
    return ranks


# Days a candidate promoted from the complementary list has to confirm when the date they would be given has
# already passed (a promotion after the formation's date de confirmation LC, or its date de confirmation, with no
# délai LC): the mail gave a date gone, and "Confirmer" was refused.
LATE_PROMOTION_CONFIRMATION_DAYS = 7


def _promotion_confirmation_date(application: Application, now: datetime.datetime) -> datetime.date | None:
    """The application's own date de confirmation (``confirmation_date_override``) once ``application`` is promoted
    at ``now`` (§2.7): today + the formation's délai LC (``waiting_list_confirmation_delay_days``) when it has one,
    else its date LC (``waiting_list_confirmation_date``), else the application's own date as it was (one staff
    gave is kept; None: the formation's rule applies, as for any favourable decision). Never a date gone: when the
    date the candidate would be given is before the first day they can still act with the hour before the site
    closes (``first_day_to_act`` with ``ACT_MARGIN``: tomorrow for the nightly withdrawal's promotion at 23:00,
    inside the maintenance window, where today's date left them no moment to answer and the next night withdrew
    them, and for a promotion at 22:00), today + ``LATE_PROMOTION_CONFIRMATION_DAYS``.

    Never after the closing date for candidates of the application's campaign either (``Campaign.ends_on``, loaded
    with the application: ``_first_of_waiting_list``), after which the candidate can no longer log in: capped at it
    (a promotion on 23/06 with a délai LC of 10 days, or late, in a campaign closed to candidates after 25/06
    promised 03/07 or 30/06, and the nightly withdrawal never withdrew the candidate). Whatever the rule gave, the
    date stored is then the capped one (an application's own date or the formation's included: the closing date may
    have been moved earlier since they were given). ``promote_from_waiting_list`` promotes nobody once the campaign
    has closed to candidates, so the capped date is never before that first day."""
    formation = application.formation
    today = timezone.localdate(now)
    stored: datetime.date | None
    given: datetime.date | None
    if formation.waiting_list_confirmation_delay_days is not None:
        stored = given = today + datetime.timedelta(days=formation.waiting_list_confirmation_delay_days)
    elif formation.waiting_list_confirmation_date is not None:
        stored = given = formation.waiting_list_confirmation_date
    else:
        stored = application.confirmation_date_override
        given = _effective_confirmation_date(application, now)  # its own date, else the formation's rule
    if given is not None and given < first_day_to_act(now, margin=ACT_MARGIN):
        stored = given = today + datetime.timedelta(days=LATE_PROMOTION_CONFIRMATION_DAYS)
    if given is not None and given > application.campaign.ends_on:
        return application.campaign.ends_on
    return stored


def _decision_awaiting_validation() -> Exists:
    """Whether the application (``OuterRef("pk")``) has a decision awaiting validation that no validated decision
    came after: its latest decision (newest ``created_at``, then ``id``: ``latest_decision``) is not validated. One
    subquery of the query it filters, no query per row."""
    validated_after = Decision.objects.validated().filter(
        Q(created_at__gt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), pk__gt=OuterRef("pk")),
        application=OuterRef("application"),
    )
    return Exists(
        Decision.objects.filter(application=OuterRef("pk"), validated_at__isnull=True).filter(~Exists(validated_after))
    )


def _first_of_waiting_list(formation: Formation, *, campaign_id: int | None) -> Application | None:
    """The first unanswered candidate of the formation's complementary list in campaign ``campaign_id`` (None: the
    active one) whose latest decision is that validated complementary-list decision, row locked, or None.

    A candidate of the list whose newer decision waits for validation (a refusal the commission entered, which
    another person validates: ``DECISION_TWO_PERSON_RULE``) is passed over, and keeps their rank: admitted, their
    promotion's validated decision overrode the commission's, which could then be neither validated (no longer the
    latest) nor deleted (a validated decision came after it). §2.7 counts only the candidatures whose latest avis is
    a validated complementary list. Both queries below leave them out (``_decision_awaiting_validation``), so a run
    of them does not use up the attempts; the check under the lock decides.

    The caller holds the formation's lock, so no other promotion runs on this list; the first row is then locked
    (``FOR NO KEY UPDATE``, as ``_lock``: the module's lock order), which waits for whatever unrelated work holds it
    (staff entering a decision or a note, a candidate's answer) rather than skipping it: SKIP LOCKED admitted the
    second of the list while the first was being read. No deadlock: every path that changes ranks locks the
    formation before the application (``_lock_formation``).

    Fast path: the rang réel (``waiting_list_rank``), which every validation and promotion keeps up to date, read
    through its index. The latest decision, validated or not, is re-read under the lock (``record_decision`` locks
    the same row: none is entered meanwhile), so a stale rank can only make a candidate be skipped here, never
    wrongly admitted; when the fast path finds nobody, the exact list (computed from the decisions, as
    ``waiting_list_queryset``) is read instead.
    """
    by_rank = (
        Application.objects.filter(
            _of_campaign(campaign_id),
            formation=formation,
            cancelled_at__isnull=True,
            accepted__isnull=True,
            waiting_list_rank__isnull=False,
        )
        .filter(~_decision_awaiting_validation())
        .order_by("waiting_list_rank", "created_at", "id")
    )
    exact = (
        waiting_list_queryset(formation, campaign_id=campaign_id)
        .filter(accepted__isnull=True)
        .filter(~_decision_awaiting_validation())
    )
    for candidates in (by_rank, exact):
        for _attempt in range(20):
            application = (
                candidates.select_for_update(of=("self",), no_key=True)
                .select_related("candidate__user", "formation__commission", "formation__centre", "campaign")
                .first()
            )
            if application is None:
                break
            # The latest decision, validated or not: a validated complementary list with a rank, nothing after it.
            latest = application.decisions.select_related("decision_type").current()
            if (
                latest is not None
                and latest.validated_at is not None
                and latest.decision_type.avis == Avis.COMPLEMENTARY_LIST
                and latest.rank is not None
            ):
                return application
            candidates = candidates.exclude(pk=application.pk)
    return None


@dataclass(frozen=True)
class PromotionLeftToStaff:
    """A place ``promote_from_waiting_list`` did not give: ``application``, the first of the complementary list, was
    not promoted because its ``campaign`` had closed to candidates (they could no longer log in to confirm)."""

    application: Application
    campaign: Campaign


# The attribute of the formation instance on which ``promote_from_waiting_list`` leaves its ``PromotionLeftToStaff``.
LEFT_TO_STAFF = "_promotion_left_to_staff"


def promotion_left_to_staff(formation: Formation) -> PromotionLeftToStaff | None:
    """The promotion that the last ``promote_from_waiting_list`` call on this ``formation`` instance (the one given
    to it: ``application.formation`` of the withdrawal's locked application, which the withdrawal services return)
    left to staff because the campaign had closed to candidates; None when it promoted someone, or nobody was left
    to promote. Read from that instance, as written in that call: no query."""
    return getattr(formation, LEFT_TO_STAFF, None)


def promotion_left_to_staff_message(left: PromotionLeftToStaff) -> str:
    """What staff are told when the withdrawal they made freed a place that ``promote_from_waiting_list`` left to
    them (``promotion_left_to_staff``), in the active language."""
    return _(
        "Nobody was promoted from the waiting list of %(formation)s: the campaign “%(campaign)s” closed to "
        "candidates after %(date)s, so its first candidate (%(candidate)s) could no longer log in to confirm. The "
        "place is left to you: move the campaign's closing date for candidates later (Campaigns), then enter and "
        "validate a favourable decision for them, or leave the place free."
    ) % {
        "formation": left.application.formation.code,
        "campaign": left.campaign.label,
        "date": format_date(left.campaign.ends_on),
        "candidate": left.application.candidate.user.username,
    }


@transaction.atomic
def promote_from_waiting_list(
    *, formation: Formation, actor: User | None, batch: str = "", campaign_id: int | None = None
) -> Application | None:
    """A favourable candidate withdrew: the first of the complementary list is admitted (§2.7).

    Does nothing (returns None) unless the formation manages its list automatically and has a decision type to
    give. Each call admits at most one candidate. The formation's row is locked first (promotions and rank
    computations of one formation run one after the other), then the first candidate's row (waiting for it when
    other work holds it: the first of the list is admitted, never the second in its place), and its latest
    decision is re-read under the lock, so concurrent calls (two withdrawals at once, a rerun of the nightly batch)
    never admit the same candidate twice and leave consistent ranks.

    The first of the list is the first whose latest decision, validated or not, is their validated
    complementary-list decision (§2.7): one whose newer decision waits for validation (a refusal entered, to be
    validated by someone else) is passed over, the next admitted, and the decision waiting stays theirs to validate
    or delete (``_first_of_waiting_list``). Ranks are not changed for it: the one passed over keeps theirs (its
    validation recomputes them), the promoted candidate's is freed and those after it move up.

    The promoted candidate's date de confirmation is ``_promotion_confirmation_date``: never a date already gone
    (the mail would ask to answer by yesterday, and "Confirmer" would be refused), never after the campaign's
    closing date for candidates (capped at it), and a date staff gave the application is kept when the formation
    has no date or délai LC.

    Once the campaign has closed to candidates (its ``ends_on`` before the first day they could still act with the
    hour before the site closes, ``first_day_to_act`` with ``ACT_MARGIN``: no date is left to give them), nobody is
    promoted: the first of the list could not log in to confirm, the mail would promise a place they cannot take,
    and the nightly withdrawal would never withdraw them (``nightly._closed_to_candidates_on``), the place held for
    ever. Nothing is written (the decisions and ranks stay as they are); the call returns None and leaves a
    ``PromotionLeftToStaff`` on the ``formation`` instance given (``promotion_left_to_staff``), so that the nightly
    batch counts it and the staff's withdrawal says it (``promotion_left_to_staff_message``): staff decide (move the
    closing date later, then admit by hand). The campaign comes with the first of the list (one query).

    Only the list of one campaign is read and moved up: ``campaign_id``, the campaign of the withdrawing
    application, whose place is freed (a formation is reused from one campaign to the next, and last year's list
    keeps its validated complementary-list decisions for ever: it must not take this year's place, nor have its
    ranks shifted). Without it, the active campaign's: the only one whose applications can still be withdrawn (an
    archived campaign's are read only and its accounts closed), so the same campaign, found by a join rather than
    by one query more.
    """
    if not formation.auto_waiting_list:
        return None
    decision_type = formation.waiting_list_decision_type or formation.favourable_decision_type
    if decision_type is None:
        logger.warning("formation %s: automatic waiting list without a favourable decision type", formation.code)
        return None
    if actor is None and not batch:
        batch = WAITING_LIST_BATCH
    setattr(formation, LEFT_TO_STAFF, None)
    _lock_formation(formation)
    application = _first_of_waiting_list(formation, campaign_id=campaign_id)
    if application is None:
        return None
    now = timezone.now()
    if application.campaign.ends_on < first_day_to_act(now, margin=ACT_MARGIN):
        logger.info(
            "formation %s: waiting-list promotion left to staff, campaign %s closed to candidates",
            formation.code,
            application.campaign.code,
        )
        setattr(formation, LEFT_TO_STAFF, PromotionLeftToStaff(application, application.campaign))
        return None
    decision = Decision.objects.create(
        application=application,
        decision_type=decision_type,
        action=DecisionAction.WAITING_LIST_PROMOTION,
        created_by=actor,
        validated_at=now,
        validated_by=actor,
    )
    application.confirmation_date_override = _promotion_confirmation_date(application, now)
    previous_rank = application.waiting_list_rank
    application.waiting_list_rank = None
    application.waiting_list_rank_at = None
    application.waiting_list_rank_mailed = None
    fields = ["confirmation_date_override", "waiting_list_rank", "waiting_list_rank_at", "waiting_list_rank_mailed"]
    _rearm_confirmation_reminder(application, fields)
    application.save(update_fields=fields)
    record_event(
        application,
        kind=EventKind.WAITING_LIST_PROMOTION,
        actor=actor,
        batch=batch,
        comment=decision_type.label,
    )
    confirmation_date = _effective_confirmation_date(application, now)
    letter = _decision_letter(decision, application, actor=actor)
    cancel_decision_mails(application, reason=REPLACED_BEFORE_SENT)  # « si une place se libère… », not sent yet
    notify_decision(
        application=application,
        decision=decision,
        confirmation_date=confirmation_date,
        letter=letter.context,
        attachments=letter.attachments,
    )
    notify_commission(
        application=application,
        code="COMMISSION_ALERT_LISTE_PRINC",
        confirmation_date=format_date(confirmation_date),
    )
    if previous_rank is not None:
        # The list of the promoted candidate's campaign moves up by one: one set-based UPDATE, not a rewrite of every
        # rank (the nightly ranks batch recomputes them all anyway).
        Application.objects.filter(
            formation=formation, campaign_id=application.campaign_id, waiting_list_rank__gt=previous_rank
        ).update(waiting_list_rank=F("waiting_list_rank") - 1, waiting_list_rank_at=now)
    else:
        recompute_waiting_list_ranks(formation=formation, campaign_id=application.campaign_id)
    return application


# --- deadlines --------------------------------------------------------------------------------------------------


@transaction.atomic
def extend_deadlines(
    application: Application,
    *,
    actor: User,
    return_deadline: datetime.date | None = None,
    confirmation_date: datetime.date | None = None,
    comment: str = "",
) -> Application:
    """Per-application date limite de retour / date de confirmation (dat_new_retour_cand / dat_new_confirm_cand).
    Dates must be ones the candidate can still act by (``new_return_deadline_refusal``,
    ``new_confirmation_date_refusal``: today or later, not today once the site has closed for the night, not after
    the closing date for candidates of the application's campaign, read with the row's lock: no query more); the
    change is written to the history.

    « Prolonger » never shortens: a date earlier than the application's effective one (``effective_return_deadline``,
    ``effective_confirmation_date``: a promotion's date, the délai counted from the favourable decision, the
    formation's date, capped at the campaign's closing date) is refused next to its field (``FieldRuleError``),
    nothing changed. The candidate was mailed that date; an earlier one was stored without a mail to them, and the
    nightly withdrawal withdrew them before it, their place given away. The same date is accepted (the application
    then holds it as its own). A new date de confirmation reads the latest validated decision
    (``with_current_decision``: one query)."""
    if return_deadline is None and confirmation_date is None:
        raise BusinessRuleError(_("Give a new return deadline or a new confirmation date."))
    application = _lock(application, with_campaign=True)
    campaign = application.campaign
    if return_deadline is not None and (refusal := new_return_deadline_refusal(return_deadline, campaign=campaign)):
        raise BusinessRuleError(refusal)
    if confirmation_date is not None and (
        refusal := new_confirmation_date_refusal(confirmation_date, campaign=campaign)
    ):
        raise BusinessRuleError(refusal)
    if application.is_cancelled:
        raise InvalidTransition(_("This application has been cancelled."))
    if return_deadline is not None and return_deadline < (current := effective_return_deadline(application)):
        raise FieldRuleError(
            _(
                "The new return deadline (%(new)s) is earlier than the application's current one (%(current)s): "
                "“Extend deadlines” does not shorten a deadline."
            )
            % {"new": format_date(return_deadline), "current": format_date(current)},
            field="return_deadline",
        )
    if confirmation_date is not None:
        decided = Application.objects.with_current_decision().only("pk").get(pk=application.pk)
        given = _effective_confirmation_date(application, decided.favourable_validated_at)
        if given is not None and confirmation_date < given:
            raise FieldRuleError(
                _(
                    "The new confirmation date (%(new)s) is earlier than the one the candidate was given "
                    "(%(current)s): “Extend deadlines” does not shorten a deadline."
                )
                % {"new": format_date(confirmation_date), "current": format_date(given)},
                field="confirmation_date",
            )
    changes, fields = [], []
    # The history is read in the institution's language, its dates too (``format_date`` is written when formatted).
    with translation.override(settings.LANGUAGE_CODE):
        if return_deadline is not None:
            changes.append(_("return deadline: %(date)s") % {"date": format_date(return_deadline)})
        if confirmation_date is not None:
            changes.append(_("confirmation date: %(date)s") % {"date": format_date(confirmation_date)})
        separator = translation.pgettext("between two parts of a list", "; ")
    if return_deadline is not None:
        application.return_deadline_override = return_deadline
        fields.append("return_deadline_override")
    if confirmation_date is not None:
        if confirmation_date != application.confirmation_date_override:
            _rearm_confirmation_reminder(application, fields)
        application.confirmation_date_override = confirmation_date
        fields.append("confirmation_date_override")
    application.save(update_fields=fields)
    text = separator.join(changes) + (f" — {comment}" if comment else "")
    record_event(application, kind=EventKind.DEADLINES, actor=actor, comment=text)
    if "confirmation_date_override" in fields:
        _rebuild_admission_letter(application, actor=actor)
    return application


def _rebuild_admission_letter(application: Application, *, actor: User) -> None:
    """The admission letter of the application's validated favourable decision, already built, is built again with
    its new date de confirmation (« Confirmez avant le … »), in the caller's transaction: the recap and the nightly
    withdrawal read the new date, the letter must not say the old one (downloaded, attached to a mail still to leave,
    in « Mes données »). A letter not built yet is built with the new date anyway; a storage that fails refuses the
    whole change (``StorageUnavailable``), never leaves the letter behind the date."""
    decision = application.decisions.select_related("decision_type").current_validated()
    if decision is None or decision.decision_type.avis != Avis.FAVOURABLE:
        return
    letter = DecisionLetter.objects.filter(decision=decision).exclude(file="").first()
    if letter is None or build_letter(letter.pk, force=True, actor=actor) is None:
        return
    with translation.override(settings.LANGUAGE_CODE):
        comment = _("%(letter)s: built again for the new confirmation date") % {"letter": letter.get_kind_display()}
    record_event(application, kind=EventKind.LETTER_REGENERATED, actor=actor, comment=comment)
