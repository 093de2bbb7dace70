"""The dossier-status state machine as data (house-style §3, ecandidat-features §2.5).

Each transition names who may trigger it, from which statuses, to which status, which date it stamps, which history
event it writes and which mail it sends. ``change_status`` is the one path that applies a transition, for the
candidate, staff and the nightly batches alike; templates and permissions reuse the named status groups.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from applications.enums import DecisionAction, DossierStatus, EventKind, WithdrawalReason
from applications.history import record_event
from applications.models import Decision
from ecandidat.exceptions import BusinessRuleError, InvalidTransition

if TYPE_CHECKING:
    from accounts.models import User
    from applications.models import Application

# Statuses in which the candidate may still change pieces and transmit ("AT"/"IN"), eCandidat §1.7 and §1.10.
CANDIDATE_EDITABLE = frozenset({DossierStatus.WAITING, DossierStatus.INCOMPLETE})
# The candidate may cancel only while waiting and without any decision (§1.11).
CANCELLABLE = frozenset({DossierStatus.WAITING})
# History rows about the staff's internal notes and tags (eCandidat's bloc-notes and « Étiquettes », §2.3): neither
# is ever the candidate's to read, and neither is a row saying that a note was deleted or which tags were put on or
# taken off ("Mes données" leaves these kinds out).
STAFF_ONLY_EVENTS = frozenset({EventKind.NOTE_DELETED, EventKind.TAGS_CHANGED})
# History rows of a decision before its release (§1.12: the candidate only ever sees validated decisions): its entry,
# whose comment is the decision type's label, and its deletion (only a decision never validated is deleted). Work in
# progress of the commission, never the candidate's to read: a validated decision is told by its validation's row
# (DECISION_VALIDATED) and by the decision itself.
UNRELEASED_DECISION_EVENTS = frozenset({EventKind.DECISION_ENTERED, EventKind.DECISION_DELETED})
# The rows of the formation's default favourable decision given by direct access or on an admission proposal
# (``services.staff._grant_default_favourable``), with that decision's history action. Created validated, the row
# tells its release; with DECISION_TWO_PERSON_RULE and a person acting, the decision is only entered: the row is an
# entry, with a note for staff (« à valider par une autre personne »), and the validation's own row tells the release.
# The same for a direct access whose candidate could no longer answer by the date de confirmation (the date gone, or
# today's once the site has closed): only entered, with the reason, for staff to set a later date and validate.
DEFAULT_FAVOURABLE_EVENTS = {
    EventKind.DIRECT_ACCESS: DecisionAction.DIRECT_ACCESS,
    EventKind.ADMISSION_PROPOSED: DecisionAction.PROPOSAL,
}


def candidate_visible_events() -> models.Q:
    """The history rows the candidate may read, as a filter of ``ApplicationEvent`` (their "Mes données" archive):
    never the staff's notes (STAFF_ONLY_EVENTS) nor a decision they may not see on their pages
    (UNRELEASED_DECISION_EVENTS; a DEFAULT_FAVOURABLE_EVENTS row only when its decision was validated by the time the
    row was written, that is created validated). Subqueries of the rows' own query: no query more."""
    hidden = STAFF_ONLY_EVENTS | UNRELEASED_DECISION_EVENTS | DEFAULT_FAVOURABLE_EVENTS.keys()
    visible = ~models.Q(kind__in=sorted(hidden))  # sorted: the same SQL text each time
    for kind, action in DEFAULT_FAVOURABLE_EVENTS.items():
        # A default favourable decision is only given to an application that has none (a direct access) or to a new
        # one (a proposal): the one of that action validated before the row was written is the row's own.
        released = Decision.objects.filter(
            application=models.OuterRef("application"), action=action, validated_at__lte=models.OuterRef("created_at")
        )
        visible |= models.Q(models.Q(kind=kind), models.Exists(released))
    return visible


class Role(StrEnum):
    CANDIDATE = "candidate"
    STAFF = "staff"  # a manager of the application's centre (or the central office)
    BATCH = "batch"  # a nightly command


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[DossierStatus]
    target: DossierStatus
    roles: frozenset[Role]
    stamp: str | None  # the Application date field set to today/now
    mail_code: str  # eCandidat mail code sent to the candidate
    kind: EventKind = EventKind.STATUS  # the history row it writes
    also_stamps: tuple[str, ...] = ()  # other date fields set to today/now with it

    def allows(self, *, source: str, role: Role) -> bool:
        return source in self.sources and role in self.roles


ALL_STATUSES = frozenset(DossierStatus)

TRANSITIONS: dict[str, Transition] = {
    transition.name: transition
    for transition in (
        # The candidate transmits a complete online dossier (§1.10).
        Transition(
            "transmit",
            CANDIDATE_EDITABLE,
            DossierStatus.RECEIVED,
            frozenset({Role.CANDIDATE}),
            "transmitted_at",
            "STATUT_RE",
            EventKind.TRANSMITTED,
            # The dossier is received the day it is transmitted (eCandidat's dat_recept_dossier_cand, §1.10).
            also_stamps=("received_on",),
        ),
        # Staff may set any status at any time (§2.5); each change mails the candidate.
        Transition(
            "set_waiting",
            ALL_STATUSES - {DossierStatus.WAITING},
            DossierStatus.WAITING,
            frozenset({Role.STAFF}),
            None,
            "STATUT_AT",
        ),
        Transition(
            "set_received",
            ALL_STATUSES - {DossierStatus.RECEIVED},
            DossierStatus.RECEIVED,
            frozenset({Role.STAFF}),
            "received_on",
            "STATUT_RE",
        ),
        Transition(
            "set_incomplete",
            ALL_STATUSES - {DossierStatus.INCOMPLETE},
            DossierStatus.INCOMPLETE,
            frozenset({Role.STAFF}),
            "incomplete_on",
            "STATUT_IN",
        ),
        Transition(
            "set_complete",
            ALL_STATUSES - {DossierStatus.COMPLETE},
            DossierStatus.COMPLETE,
            frozenset({Role.STAFF}),
            "complete_on",
            "STATUT_CO",
        ),
    )
}

# What staff pick in the admin: target status → transition.
STAFF_TRANSITION_BY_TARGET: dict[str, Transition] = {
    transition.target: transition for transition in TRANSITIONS.values() if Role.STAFF in transition.roles
}


def get_transition(name: str) -> Transition:
    return TRANSITIONS[name]


def earliest_status_date(application: Application) -> datetime.date | None:
    """The first day a status change of ``application`` may be dated: the local day it was created."""
    return timezone.localdate(application.created_at) if application.created_at else None


def before_creation_message(created: datetime.date) -> str:
    """The refusal of a status date earlier than ``created`` (``earliest_status_date``), in the active language."""
    return _("The date of the change cannot precede the application's creation (%(date)s).") % {
        "date": formats.date_format(created, "SHORT_DATE_FORMAT")
    }


def change_status(
    application: Application,
    transition: Transition,
    *,
    role: Role,
    actor: User | None,
    batch: str = "",
    comment: str = "",
    on: datetime.date | None = None,
) -> str:
    """Apply ``transition`` to ``application`` (locked by the caller): check the actor's role and the current status
    against the table, set the status, stamp the transition's date (now for a date-time field, today for a date, or
    ``on``: the day a paper dossier was received, logged later), save, and write the history row. Returns the mail
    code the caller sends once its own context is ready.

    Raises ``InvalidTransition`` when the role may not trigger the transition or the status does not allow it, and
    ``BusinessRuleError`` for an ``on`` in the future, before the application's creation day or on a transition
    that stamps no date; callers check first to give their own message, this is the guard every path goes through.
    """
    source = application.dossier_status
    if role not in transition.roles:
        raise InvalidTransition(_("You are not allowed to do this."))
    if not transition.allows(source=source, role=role):
        raise InvalidTransition(
            _("The dossier is already “%(status)s” (changed meanwhile?); nothing was done.")
            % {"status": DossierStatus(source).label}
        )
    now = timezone.now()
    stamp_field = application._meta.get_field(transition.stamp) if transition.stamp else None
    if on is not None:
        if stamp_field is None or isinstance(stamp_field, models.DateTimeField):
            raise BusinessRuleError(
                _("The status “%(status)s” has no date.") % {"status": DossierStatus(transition.target).label}
            )
        if on > timezone.localdate(now):
            raise BusinessRuleError(_("The date of the change cannot be in the future."))
        # Nothing happened to a dossier before it existed: a typo (2015, 0001-01-01) made the SVA alerts count from
        # it (thousands of days) and the history say it.
        if (created := earliest_status_date(application)) is not None and on < created:
            raise BusinessRuleError(before_creation_message(created))
    application.dossier_status = transition.target
    fields = ["dossier_status"]
    if transition.stamp:
        if isinstance(stamp_field, models.DateTimeField):
            setattr(application, transition.stamp, now)
        else:
            setattr(application, transition.stamp, on or timezone.localdate(now))
        fields.append(transition.stamp)
    for name in transition.also_stamps:
        also = application._meta.get_field(name)
        setattr(application, name, now if isinstance(also, models.DateTimeField) else timezone.localdate(now))
        fields.append(name)
    application.save(update_fields=fields)
    if on is not None and on != timezone.localdate(now):
        with translation.override(settings.LANGUAGE_CODE):  # history rows are in the institution's language
            dated = _("dated %(date)s") % {"date": formats.date_format(on, "SHORT_DATE_FORMAT")}
        comment = " — ".join(part for part in (dated, comment) if part)
    record_event(
        application,
        kind=transition.kind,
        actor=actor,
        batch=batch,
        from_status=source,
        to_status=transition.target,
        comment=comment,
    )
    return transition.mail_code


# --- the candidate's answer to a favourable decision (ecandidat-features §1.12) ---------------------------------
#
# A second, independent axis (house-style §3): ``Application.accepted`` is None (no answer), True (confirmed) or
# False (withdrawn). Désistement after confirmation (issue 12) is one more row of this table: it frees the place
# exactly like a withdrawal before confirmation.

NO_ANSWER: None = None


@dataclass(frozen=True)
class AnswerTransition:
    name: str
    sources: frozenset[bool | None]  # the values of ``accepted`` it starts from
    accepted: bool  # the value it sets
    roles: frozenset[Role]
    kind: EventKind  # the history row it writes
    mail_code: str  # eCandidat mail code sent to the candidate
    frees_place: bool = False  # a withdrawal: the waiting list moves up
    needs_reason: bool = False  # a WithdrawalReason is required

    def allows(self, *, source: bool | None, role: Role) -> bool:
        return source in self.sources and role in self.roles


ANSWER_TRANSITIONS: dict[str, AnswerTransition] = {
    transition.name: transition
    for transition in (
        # Staff "at any time" (§1.12); the candidate until the date de confirmation (checked by the service).
        AnswerTransition(
            "confirm",
            frozenset({NO_ANSWER}),
            True,
            frozenset({Role.CANDIDATE, Role.STAFF}),
            EventKind.CONFIRMED,
            "CANDIDATURE_CONFIRM",
        ),
        AnswerTransition(
            "withdraw",
            frozenset({NO_ANSWER}),
            False,
            frozenset({Role.CANDIDATE, Role.STAFF}),
            EventKind.WITHDRAWN,
            "CANDIDATURE_DESIST",
            frees_place=True,
        ),
        # "After confirming, Désister remains available" (§1.12); a reason is asked (issue 12).
        AnswerTransition(
            "withdraw_after_confirmation",
            frozenset({True}),
            False,
            frozenset({Role.CANDIDATE, Role.STAFF}),
            EventKind.WITHDRAWN_AFTER_CONFIRMATION,
            "CANDIDATURE_DESIST",
            frees_place=True,
            needs_reason=True,
        ),
    )
}


def withdrawal_transition(accepted: bool | None) -> AnswerTransition | None:
    """The withdrawal that applies from ``accepted`` (before or after confirmation), None once withdrawn."""
    for transition in ANSWER_TRANSITIONS.values():
        if not transition.accepted and accepted in transition.sources:
            return transition
    return None


def already_answered_message(role: Role) -> str:
    """The refusal of an answer to an application already answered: staff recording the candidate's answer (a double
    click, a colleague who recorded it first) read that the candidate answered, not "you"."""
    if role == Role.STAFF:
        return _("The candidate has already answered: this choice can no longer be changed.")
    return _("You have already answered: this choice cannot be changed.")


def change_answer(
    application: Application,
    transition: AnswerTransition,
    *,
    role: Role,
    actor: User,
    reason: str = "",
    comment: str = "",
) -> str:
    """Apply an answer ``transition`` to ``application`` (locked by the caller): check the role and the current
    answer against the table, set ``accepted`` with its date and actor (and the withdrawal reason, which a
    confirmation clears), save, write the history row. Returns the mail code the caller sends. Raises
    ``InvalidTransition`` like ``change_status``."""
    if role not in transition.roles:
        raise InvalidTransition(_("You are not allowed to do this."))
    if not transition.allows(source=application.accepted, role=role):
        raise InvalidTransition(already_answered_message(role))
    if transition.needs_reason and not reason:
        raise InvalidTransition(_("Choose the reason for the withdrawal."))
    application.accepted = transition.accepted
    application.answered_at = timezone.now()
    application.answered_by = actor
    # A confirmation has no reason: one left by an earlier withdrawal (before a new decision) must not show with it.
    application.withdrawal_reason = "" if transition.accepted else reason
    application.save(update_fields=["accepted", "answered_at", "answered_by", "withdrawal_reason"])
    # History rows are read by staff in the institution's language, whoever acted in which language.
    with translation.override(settings.LANGUAGE_CODE):
        label = str(WithdrawalReason(reason).label) if reason else ""
    record_event(
        application,
        kind=transition.kind,
        actor=actor,
        comment=" — ".join(part for part in (label, comment) if part),
    )
    return transition.mail_code
