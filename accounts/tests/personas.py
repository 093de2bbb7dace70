"""The persona set (house-style §6) as a pytest plugin: ``pytest_plugins = ["accounts.tests.personas"]``.

Candidates (``candidate_user``, ``other_candidate_user``) are validated e-mail accounts of the active campaign with
the known password ``PASSWORD``; their dossiers (``candidate``, ``other_candidate``: ``Candidate`` rows) are
applications/tests' fixtures. Staff get their rights from StaffMembership rows. ``centre`` is the centre managed by
``centre_manager`` and examined by ``commission``.
"""

import pytest

from accounts.models import StaffRole
from accounts.tests.factories import DEFAULT_PASSWORD, CandidateUserFactory, StaffMembershipFactory
from offers.tests.factories import CentreFactory, CommissionFactory

PASSWORD = DEFAULT_PASSWORD


@pytest.fixture
def persona_password():
    """The candidates' password, for tests of lower layers that log in through the form (they cannot import this
    module: tests follow the layers too)."""
    return PASSWORD


@pytest.fixture
def candidate_user(campaign):
    """A candidate's account (``User``) of the active campaign, without a dossier: the dossier (``Candidate``) is
    the ``candidate`` fixture of applications/tests."""
    return CandidateUserFactory(campaign=campaign, first_name="Estelle", last_name="Candidate")


@pytest.fixture
def other_candidate_user(campaign):
    return CandidateUserFactory(campaign=campaign, first_name="Paul", last_name="Other")


@pytest.fixture
def centre(db):
    return CentreFactory(code="SEE", label="UFR Sciences Exactes et Expérimentales")


@pytest.fixture
def other_centre(db):
    return CentreFactory()


@pytest.fixture
def commission(centre):
    return CommissionFactory(centre=centre)


@pytest.fixture
def centre_manager(centre):
    return StaffMembershipFactory(centre=centre, user__username="gestionnaire").user


@pytest.fixture
def other_centre_manager(other_centre):
    return StaffMembershipFactory(centre=other_centre, user__username="autre.gestionnaire").user


@pytest.fixture
def commission_member(commission):
    return StaffMembershipFactory(commission_member=True, commission=commission, user__username="membre").user


@pytest.fixture
def read_only_staff(centre):
    """A read-only member of ``centre``'s staff (consultation)."""
    return StaffMembershipFactory(role=StaffRole.READ_ONLY, centre=centre, user__username="lecture").user


@pytest.fixture
def central_manager(db):
    return StaffMembershipFactory(central=True, user__username="scolarite").user


@pytest.fixture
def candidates_manager(db):
    """A gestionnaire de candidats (GCA, the helpdesk): every candidate's dossier, corrected; no application."""
    return StaffMembershipFactory(candidates_manager=True, user__username="accueil").user


@pytest.fixture
def candidates_reader(db):
    """A gestionnaire de candidats en lecture seule (GCAL): every candidate's dossier, read only; no application."""
    return StaffMembershipFactory(candidates_reader=True, user__username="accueil.lecture").user


@pytest.fixture
def other_commission(centre):
    """A second commission of ``centre`` ("B"), not the limited manager's."""
    return CommissionFactory(centre=centre, code="COM-B", label="Commission B")


@pytest.fixture
def limited_manager(centre, commission, other_commission):
    """A manager of ``centre`` for ``commission`` only (eCandidat's gestionnaire without tem_all_comm_gest)."""
    membership = StaffMembershipFactory(centre=centre, all_commissions=False, user__username="gestionnaire.a")
    membership.commissions.set([commission])
    return membership.user


@pytest.fixture
def limited_reader(centre, commission, other_commission):
    """A read-only member of ``centre``'s staff for ``commission`` only."""
    membership = StaffMembershipFactory(
        role=StaffRole.READ_ONLY, centre=centre, all_commissions=False, user__username="lecture.a"
    )
    membership.commissions.set([commission])
    return membership.user
