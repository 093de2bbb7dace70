import os
import socket

import pytest
from django.utils import translation

from applications.models import Application, Candidate
from applications.tests.factories import CandidateFactory as DossierFactory
from offers.tests.factories import FormationFactory, PieceTypeFactory


@pytest.fixture(autouse=True)
def _documents_urls(settings):
    settings.ROOT_URLCONF = "documents.tests.urls"
    settings.CLAMD_ADDRESS = None
    # A fresh, empty InMemoryStorage per test: changing STORAGES makes Django rebuild default_storage.
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission)


def make_application(user, formation, **fields) -> Application:
    """An application of the candidate account ``user`` (its dossier is created on first use)."""
    dossier = Candidate.objects.filter(user=user).first()
    if dossier is None:
        dossier = DossierFactory(user=user, first_name=user.first_name, birth_name=user.last_name.upper())
    return Application.objects.create(
        candidate=dossier, formation=formation, campaign=user.campaign, created_by=user, **fields
    )


@pytest.fixture
def application(candidate, formation):
    return make_application(candidate, formation)


@pytest.fixture
def other_application(other_candidate, formation):
    return make_application(other_candidate, formation)


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


@pytest.fixture
def closed_port_address():
    """A loopback address where nothing listens (clamd down)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


@pytest.fixture
def clamd_address(settings):
    """The real clamd of ``devtools/clamd/start.sh`` (``CLAMD_TEST_ADDRESS``), set as ``CLAMD_ADDRESS``."""
    address = os.environ.get("CLAMD_TEST_ADDRESS")
    if not address:
        pytest.fail("Set CLAMD_TEST_ADDRESS (e.g. tcp://127.0.0.1:3310) after running devtools/clamd/start.sh.")
    from documents import antivirus

    if not antivirus.ping(address=address):
        pytest.fail(f"clamd does not answer PING at {address}: run devtools/clamd/start.sh.")
    settings.CLAMD_ADDRESS = address
    return address


@pytest.fixture(autouse=True)
def _empty_rate_limits():
    """Fair-use counters live in the default cache (in memory in tests): each test starts with none. SQLite reuses
    primary keys after a rollback, so an account of one test would otherwise inherit another's count."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    def clear() -> None:
        # Only the in-memory cache: a test that points the default cache at the real Redis must never FLUSHDB it.
        if isinstance(caches["default"], LocMemCache):
            caches["default"].clear()

    clear()
    yield
    clear()
