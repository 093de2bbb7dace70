import pytest
from django.utils import translation

from applications.tests.factories import CandidateFactory, CandidateUserFactory


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def candidate_user(campaign):
    """A candidate account of the active campaign, without a dossier yet."""
    return CandidateUserFactory(campaign=campaign)


@pytest.fixture
def candidate(campaign):
    """The owning candidate: an account with its personal details."""
    return CandidateFactory(user__campaign=campaign)


@pytest.fixture
def other_candidate(campaign):
    return CandidateFactory(user__campaign=campaign, user__email="other@example.org", birth_name="AUTRE")


@pytest.fixture
def owner_client(client, candidate):
    client.force_login(candidate.user)
    return client


@pytest.fixture
def client(client):
    # The pages are asserted in English (msgids), whatever catalogue is compiled.
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client
