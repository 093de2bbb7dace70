"""The persona set (house-style §6) as a pytest plugin: ``pytest_plugins = ["accounts.tests.personas"]``.

Candidates are validated e-mail accounts of the active campaign with the known password ``PASSWORD``; staff get
their rights from StaffMembership rows. ``centre`` is the centre managed by ``centre_manager`` and examined by
``commission``.
"""

import pytest

from accounts.tests.factories import DEFAULT_PASSWORD, CandidateFactory, StaffMembershipFactory
from offers.tests.factories import CentreFactory, CommissionFactory

PASSWORD = DEFAULT_PASSWORD


@pytest.fixture
def persona_password():
    """The candidates' password, for tests of lower layers that log in through the form (they cannot import this
    module: tests follow the layers too)."""
    return PASSWORD


@pytest.fixture
def candidate(campaign):
    return CandidateFactory(campaign=campaign, first_name="Estelle", last_name="Candidate")


@pytest.fixture
def other_candidate(campaign):
    return CandidateFactory(campaign=campaign, first_name="Paul", last_name="Other")


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
def central_manager(db):
    return StaffMembershipFactory(central=True, user__username="scolarite").user
