"""The dossier-status state machine as data (house-style §3, ecandidat-features §2.5).

Each transition names who may trigger it, from which statuses, to which status, which date it stamps and which
mail it sends. Services look transitions up here; templates and permissions reuse the named status groups.
"""

from dataclasses import dataclass
from enum import StrEnum

from applications.enums import DossierStatus

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
