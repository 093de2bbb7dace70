import pytest

from applications.tests.factories_candidature import application_of
from offers.tests.factories import FormationFactory, PieceTypeFactory


@pytest.fixture(autouse=True)
def _files_test_setting(files_test_setting):
    """Every pieces test starts from the files tests' setting (documents/tests/fixtures.py)."""


@pytest.fixture
def client(client):
    client.language = "en"
    return client


@pytest.fixture
def owner(client, candidate_user):
    """The candidate's browser: a client logged in as ``application``'s account."""
    client.force_login(candidate_user)
    return client


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission)


@pytest.fixture
def application(candidate_user, formation):
    return application_of(candidate_user, formation)


@pytest.fixture
def other_application(other_candidate_user, formation):
    return application_of(other_candidate_user, formation)


@pytest.fixture
def piece(formation):
    """A formation piece (not common)."""
    piece_type = PieceTypeFactory(label="Lettre de motivation", order=1)
    formation.piece_types.add(piece_type)
    return piece_type


@pytest.fixture
def shared_piece(db):
    """An institution-wide common piece, shared by all the candidate's applications."""
    return PieceTypeFactory(label="Relevé de notes", is_common=True, order=0)


@pytest.fixture
def conditional_piece(formation):
    piece_type = PieceTypeFactory(label="Attestation de bourse", is_conditional=True, order=2)
    formation.piece_types.add(piece_type)
    return piece_type
