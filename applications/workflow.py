"""The dossier-status state machine as data (house-style §3, ecandidat-features §2.5).

Each transition names who may trigger it, from which statuses, to which status, which date it stamps, which history
event it writes and which mail it sends. ``change_status`` is the one path that applies a transition, for the
candidate, staff and the nightly batches alike; templates and permissions reuse the named status groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.enums import DossierStatus, EventKind
from applications.history import record_event
from ecandidat.exceptions import InvalidTransition

if TYPE_CHECKING:
    from accounts.models import User
    from applications.models import Application

# Statuses in which the candidate may still change pieces and transmit ("AT"/"IN"), eCandidat §1.7 and §1.10.
CANDIDATE_EDITABLE = frozenset({DossierStatus.WAITING, DossierStatus.INCOMPLETE})
# The candidate may cancel only while waiting and without any decision (§1.11).
CANCELLABLE = frozenset({DossierStatus.WAITING})


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


def change_status(
    application: Application,
    transition: Transition,
    *,
    role: Role,
    actor: User | None,
    batch: str = "",
    comment: str = "",
) -> str:
    """Apply ``transition`` to ``application`` (locked by the caller): check the actor's role and the current status
    against the table, set the status, stamp the transition's date (now for a date-time field, today for a date),
    save, and write the history row. Returns the mail code the caller sends once its own context is ready.

    Raises ``InvalidTransition`` when the role may not trigger the transition or the status does not allow it;
    callers check first to give their own message, this is the guard every path goes through.
    """
    source = application.dossier_status
    if role not in transition.roles:
        raise InvalidTransition(_("You are not allowed to do this."))
    if not transition.allows(source=source, role=role):
        raise InvalidTransition(
            _("The dossier is already “%(status)s” (changed meanwhile?); nothing was done.")
            % {"status": DossierStatus(source).label}
        )
    application.dossier_status = transition.target
    fields = ["dossier_status"]
    if transition.stamp:
        field = application._meta.get_field(transition.stamp)
        now = timezone.now()
        setattr(
            application, transition.stamp, now if isinstance(field, models.DateTimeField) else timezone.localdate(now)
        )
        fields.append(transition.stamp)
    application.save(update_fields=fields)
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
