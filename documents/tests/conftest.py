import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.utils import translation

from documents.tests.s3_peer import fresh_bucket, start_s3_server
from ecandidat.tests.plugins.services import free_port


@pytest.fixture(autouse=True)
def _documents_settings(settings):
    settings.CLAMD_ADDRESS = None
    # A fresh, empty InMemoryStorage per test: changing STORAGES makes Django rebuild default_storage.
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def clear_memory_cache() -> None:
    """Only the in-memory cache: a test that points the default cache at the real Redis must never FLUSHDB it."""
    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


@pytest.fixture(autouse=True)
def _empty_rate_limits():
    """Fair-use counters live in the default cache (in memory in tests): each test starts with none. SQLite reuses
    primary keys after a rollback, so an account of one test would otherwise inherit another's count."""
    clear_memory_cache()
    yield
    clear_memory_cache()


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """An S3-compatible server (moto_server, a separate process) for the module's tests on files in a bucket."""
    server = start_s3_server(free_port(), tmp_path_factory.mktemp("s3") / "moto.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_server, settings):
    """A fresh private bucket per test, set as the default storage (Django rebuilds default_storage)."""
    return fresh_bucket(s3_server, settings)
