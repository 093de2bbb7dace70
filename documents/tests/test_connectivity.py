"""The antivirus's and the S3 storage's connection tests (documents/connectivity.py, ecandidat/connectivity.py's
storage check) against the clamd peer speaking the real protocol, a real clamd (``clamd`` marker) and an
S3-compatible server (moto, ``integration``); with their failure paths. In English, as every test of documents/
(documents/tests/conftest.py)."""

import contextlib
import socket
import threading
import uuid

import pytest

from documents.tests.clamd_peer import ClamdPeer, read_command
from documents.tests.s3_peer import SECRET_KEY, s3_options
from ecandidat import connectivity
from ecandidat.connectivity import Outcome, run_check
from ecandidat.tests.plugins.services import free_port

SHORT = 0.5


def clamd_check():
    return connectivity.get("clamd")


@pytest.fixture
def clamd_peer(settings):
    peer = ClamdPeer()
    settings.CLAMD_ADDRESS = peer.address
    try:
        yield peer
    finally:
        peer.close()


def test_clamd_answers_pong_and_its_version(clamd_peer):
    result = run_check(clamd_check())

    assert result.outcome == Outcome.OK, result
    assert result.detail == "PONG, ClamAV 1.0.7/27000/Sun Nov 24 09:37:00 2024"
    assert result.configuration == clamd_peer.address


@pytest.mark.clamd
def test_real_clamd_answers(clamd_address):
    result = run_check(clamd_check())

    assert result.outcome == Outcome.OK, result
    assert result.detail.startswith("PONG, ClamAV ")


def test_clamd_refused(settings):
    settings.CLAMD_ADDRESS = f"tcp://127.0.0.1:{free_port()}"

    result = run_check(clamd_check(), timeout=SHORT)

    assert (result.outcome, result.message) == (
        Outcome.FAILED,
        "Connection refused: nothing answers at this address.",
    )
    assert result.detail.startswith("ConnectionRefusedError")


def test_clamd_that_never_answers_times_out(settings):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        settings.CLAMD_ADDRESS = f"tcp://127.0.0.1:{listener.getsockname()[1]}"

        result = run_check(clamd_check(), timeout=SHORT)

    assert (result.outcome, result.message) == (Outcome.FAILED, "No answer in time.")


def test_something_else_than_clamd_is_an_unexpected_answer(settings):
    """A daemon that answers every command with the same line: VERSION looks fine, PING does not say PONG."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                try:  # a client that timed out or hung up ends its connection, not the server (as ClamdPeer)
                    read_command(conn)
                    conn.sendall(b"HELLO\0")
                except OSError:
                    continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    settings.CLAMD_ADDRESS = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    try:
        result = run_check(clamd_check(), timeout=SHORT)
    finally:
        with contextlib.suppress(OSError):  # shutdown() wakes the thread in accept(); close() alone does not on Linux
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(timeout=5)

    assert (result.outcome, result.message, result.detail) == (
        Outcome.FAILED,
        "Unexpected answer.",
        "PING did not answer PONG",
    )


@pytest.mark.parametrize("address", [None, ""])
def test_clamd_not_configured(settings, address):
    settings.CLAMD_ADDRESS = address

    result = run_check(clamd_check())

    assert (result.outcome, result.configuration) == (Outcome.NOT_CONFIGURED, "CLAMD_ADDRESS")


# --- the file storage on S3 -----------------------------------------------------------------------------------------


def storage_check():
    return connectivity.get("storage")


@pytest.mark.integration
def test_s3_storage_writes_reads_and_deletes_without_showing_its_keys(s3_server, settings):
    bucket = f"ecandidat-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    settings.STORAGES = {**settings.STORAGES, "default": s3_options(s3_server.endpoint_url, bucket)}

    result = run_check(storage_check())

    assert result.outcome == Outcome.OK, result
    assert result.configuration == f"S3 — {s3_server.endpoint_url}, bucket {bucket}"
    assert s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", []) == []
    assert SECRET_KEY not in result.detail + result.configuration


@pytest.mark.integration
def test_a_missing_bucket_is_a_failure(s3_server, settings):
    settings.STORAGES = {**settings.STORAGES, "default": s3_options(s3_server.endpoint_url, "no-such-bucket")}

    result = run_check(storage_check())

    assert (result.outcome, result.message) == (Outcome.FAILED, "The connection failed.")
    assert "NoSuchBucket" in result.detail


def test_an_s3_endpoint_that_refuses_is_a_failure_within_the_timeout(settings):
    settings.STORAGES = {**settings.STORAGES, "default": s3_options(f"http://127.0.0.1:{free_port()}", "bucket")}

    result = run_check(storage_check(), timeout=SHORT)

    assert result.outcome == Outcome.FAILED
    assert result.message == "Connection refused: nothing answers at this address."
    assert result.elapsed_ms < 3000  # no botocore retries
