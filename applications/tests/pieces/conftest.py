import pytest
from django.utils import translation

from applications.tests.factories_candidature import application_of
from documents.tests.conftest import clear_memory_cache
from documents.tests.s3_peer import fresh_bucket, start_s3_server
from ecandidat.tests.plugins.services import free_port
from offers.tests.factories import FormationFactory, PieceTypeFactory


@pytest.fixture(autouse=True)
def _documents_settings(settings):
    settings.CLAMD_ADDRESS = None
    # A fresh, empty InMemoryStorage per test: changing STORAGES makes Django rebuild default_storage.
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _empty_rate_limits():
    """Fair-use counters live in the default cache (in memory in tests): each test starts with none. SQLite reuses
    primary keys after a rollback, so an account of one test would otherwise inherit another's count."""
    clear_memory_cache()
    yield
    clear_memory_cache()


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


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """An S3-compatible server (moto_server) for the module's tests on files in a bucket."""
    server = start_s3_server(free_port(), tmp_path_factory.mktemp("s3") / "moto.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_server, settings):
    """A fresh private bucket per test, set as the default storage (Django rebuilds default_storage)."""
    return fresh_bucket(s3_server, settings)
