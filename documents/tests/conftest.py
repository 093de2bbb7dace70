import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.utils import translation


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
