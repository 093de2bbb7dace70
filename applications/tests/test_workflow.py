"""The one path for a dossier-status change: the table's roles are checked against the actor (issue 10)."""

import pytest

from applications.enums import DossierStatus, EventKind
from applications.tests.factories_candidature import make_application
from applications.workflow import STAFF_TRANSITION_BY_TARGET, Role, change_status, get_transition
from ecandidat.exceptions import InvalidTransition
from offers.tests.factories import FormationFactory


@pytest.fixture
def application(campaign):
    return make_application(FormationFactory(), campaign=campaign, status=DossierStatus.WAITING)


def test_a_role_the_table_does_not_name_is_refused_and_nothing_is_written(application, central_manager):
    with pytest.raises(InvalidTransition, match="not allowed"):
        change_status(application, get_transition("transmit"), role=Role.STAFF, actor=central_manager)
    with pytest.raises(InvalidTransition):
        change_status(
            application,
            STAFF_TRANSITION_BY_TARGET[DossierStatus.COMPLETE],
            role=Role.CANDIDATE,
            actor=application.candidate.user,
        )

    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.WAITING
    assert not application.events.exclude(kind=EventKind.CREATED).exists()


def test_a_transition_stamps_its_date_and_writes_its_event(application, central_manager):
    code = change_status(
        application,
        STAFF_TRANSITION_BY_TARGET[DossierStatus.INCOMPLETE],
        role=Role.STAFF,
        actor=central_manager,
        comment="Relevé",
    )

    application.refresh_from_db()
    assert code == "STATUT_IN"
    assert application.dossier_status == DossierStatus.INCOMPLETE
    assert application.incomplete_on is not None
    event = application.events.get(kind=EventKind.STATUS)
    assert (event.actor, event.from_status, event.to_status, event.comment) == (
        central_manager,
        DossierStatus.WAITING,
        DossierStatus.INCOMPLETE,
        "Relevé",
    )
