"""Fixtures of the antivirus tests, for every app's tests (registered in the root conftest.py)."""

import os
import socket

import pytest

from documents import antivirus


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
