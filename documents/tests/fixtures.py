"""Fixtures of the files tests, for every app's tests (registered in the root conftest.py): the antivirus peers,
the S3 peer (moto_server) and the setting the documents and pieces tests start from."""

import os
import socket

import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.utils import translation

from documents import antivirus
from documents.tests.s3_peer import fresh_bucket, start_s3_server
from ecandidat.tests.plugins.services import free_port


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
    if not antivirus.ping(address=address):
        pytest.fail(f"clamd does not answer PING at {address}: run devtools/clamd/start.sh.")
    settings.CLAMD_ADDRESS = address
    return address


def clear_memory_cache() -> None:
    """Only the in-memory cache: a test that points the default cache at the real Redis must never FLUSHDB it."""
    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


@pytest.fixture
def empty_rate_limits():
    """Fair-use counters live in the default cache (in memory in tests): the test starts with none. SQLite reuses
    primary keys after a rollback, so an account of one test would otherwise inherit another's count."""
    clear_memory_cache()
    yield
    clear_memory_cache()


@pytest.fixture
def files_test_setting(settings, empty_rate_limits):
    """Where the documents and pieces tests start (their conftests make it autouse): no clamd, a fresh empty
    InMemoryStorage (changing STORAGES makes Django rebuild default_storage), English, no fair-use counters."""
    settings.CLAMD_ADDRESS = None
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    with translation.override("en"):
        yield


@pytest.fixture(scope="module")
def s3_log(tmp_path_factory):
    """moto_server's log: one line per request it got, with its method (a module may read it)."""
    return tmp_path_factory.mktemp("s3") / "moto.log"


@pytest.fixture(scope="module")
def s3_server(s3_log):
    """An S3-compatible server (moto_server, a separate process) for the module's tests on files in a bucket."""
    server = start_s3_server(free_port(), s3_log)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_server, settings):
    """A fresh private bucket per test, set as the default storage (Django rebuilds default_storage)."""
    return fresh_bucket(s3_server, settings)
