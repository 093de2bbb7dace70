"""The clamd client: protocol details against an in-process fake daemon, verdicts against a real clamd.

Tests marked ``clamd`` need a real daemon: start it with ``devtools/clamd/start.sh`` and set
``CLAMD_TEST_ADDRESS=tcp://127.0.0.1:3310``. When they are selected and the daemon is unreachable they fail.
"""

import contextlib
import os
import socket
import struct
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured

from documents import antivirus
from documents.antivirus import ScanStatus
from documents.tests import hostile_files as hostile
from documents.tests.clamd_peer import read_command, read_exactly

# --- A fake clamd, to pin down the wire format ----------------------------------------------------------------


class FakeClamd:
    """Answers one connection at a time with ``reply`` and records the command and the INSTREAM chunks."""

    def __init__(self, listener: socket.socket, reply: bytes | None):
        self.listener = listener
        self.reply = reply
        self.commands: list[bytes] = []
        self.chunks: list[bytes] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def close(self):
        with contextlib.suppress(OSError):  # shutdown() wakes the thread in accept(); close() alone does not on Linux
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(timeout=5)

    def serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                try:  # a client that timed out or hung up ends its connection, not the daemon (as ClamdPeer)
                    conn.settimeout(5)
                    command = read_command(conn)
                    self.commands.append(command)
                    if command == b"zINSTREAM":
                        while True:
                            (length,) = struct.unpack("!L", read_exactly(conn, 4))
                            if length == 0:
                                break
                            self.chunks.append(read_exactly(conn, length))
                    if self.reply is None:
                        threading.Event().wait(2)  # Never answer: the client must time out.
                        continue
                    conn.sendall(self.reply + b"\0")
                except OSError:
                    continue


@pytest.fixture
def fake_clamd():
    """Start a fake daemon on a free loopback port; ``fake_clamd(reply)`` returns (fake, address)."""
    fakes = []

    def start(reply: bytes | None = b"stream: OK"):
        listener = socket.create_server(("127.0.0.1", 0))
        fakes.append(FakeClamd(listener, reply))
        return fakes[-1], f"tcp://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    for fake in fakes:
        fake.close()


@pytest.fixture
def free_tcp_address():
    """An address where nothing listens (a port just released)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


def test_instream_frames_the_data_in_length_prefixed_chunks(fake_clamd):
    fake, address = fake_clamd(b"stream: OK")
    data = bytes(range(256)) * 600  # 150 KiB: three chunks.

    result = antivirus.scan_bytes(data, address=address)

    assert result.status is ScanStatus.CLEAN
    assert result.is_clean
    assert fake.commands == [b"zINSTREAM"]
    assert [len(chunk) for chunk in fake.chunks] == [65536, 65536, 22528]
    assert b"".join(fake.chunks) == data


def test_scan_file_streams_a_file_object(fake_clamd, tmp_path):
    fake, address = fake_clamd(b"stream: OK")
    path = tmp_path / "doc.pdf"
    path.write_bytes(hostile.pdf_bytes())

    with path.open("rb") as fileobj:
        result = antivirus.scan_file(fileobj, address=address)

    assert result.is_clean
    assert b"".join(fake.chunks) == hostile.pdf_bytes()


def test_found_reply_gives_the_signature_name(fake_clamd):
    _, address = fake_clamd(b"stream: Win.Test.EICAR_HDB-1 FOUND")

    result = antivirus.scan_bytes(b"data", address=address)

    assert result.status is ScanStatus.INFECTED
    assert result.is_infected
    assert result.signature == "Win.Test.EICAR_HDB-1"


def test_error_reply_is_an_error_result(fake_clamd):
    _, address = fake_clamd(b"INSTREAM size limit exceeded. ERROR")

    result = antivirus.scan_bytes(b"data", address=address)

    assert result.status is ScanStatus.ERROR
    assert "size limit" in result.detail
    assert not result.is_clean


@pytest.mark.parametrize("reply", ["", "stream:", "stream: maybe", "PONG", "stream: x ERROR"])
def test_unexpected_replies_are_errors(reply):
    assert antivirus.parse_scan_reply(reply).status is ScanStatus.ERROR


def test_a_silent_daemon_times_out_as_an_error(fake_clamd):
    _, address = fake_clamd(None)

    result = antivirus.scan_bytes(b"data", address=address, timeout=0.2)

    assert result.status is ScanStatus.ERROR
    assert "timed out" in result.detail


def test_client_error_when_nothing_listens(free_tcp_address):
    result = antivirus.scan_bytes(b"data", address=free_tcp_address, timeout=2)

    assert result.status is ScanStatus.ERROR
    assert free_tcp_address in result.detail
    assert antivirus.ping(address=free_tcp_address) is False


def test_unix_socket_address(tmp_path):
    path = tmp_path / "clamd.ctl"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen()
    fake = FakeClamd(listener, b"PONG")
    try:
        assert antivirus.ping(address=f"unix://{path}") is True
        assert fake.commands == [b"zPING"]
    finally:
        fake.close()


def test_unix_socket_missing_is_an_error(tmp_path):
    result = antivirus.scan_bytes(b"data", address=f"unix://{tmp_path}/missing.ctl")

    assert result.status is ScanStatus.ERROR


def test_the_address_comes_from_settings(settings, fake_clamd):
    _, address = fake_clamd(b"PONG")
    settings.CLAMD_ADDRESS = address

    assert antivirus.is_configured()
    assert antivirus.ping() is True


def test_without_an_address_scanning_refuses_to_run(settings):
    settings.CLAMD_ADDRESS = None

    assert not antivirus.is_configured()
    with pytest.raises(ImproperlyConfigured):
        antivirus.scan_bytes(b"data")


@pytest.mark.parametrize("address", ["127.0.0.1:3310", "tcp://127.0.0.1", "http://127.0.0.1:3310", "unix://"])
def test_malformed_address_is_a_configuration_error(address):
    with pytest.raises(ImproperlyConfigured):
        antivirus.scan_bytes(b"data", address=address)


# --- A real clamd (devtools/clamd/start.sh) -------------------------------------------------------------------


@pytest.fixture
def clamd_address():
    address = os.environ.get("CLAMD_TEST_ADDRESS")
    if not address:
        pytest.fail("Set CLAMD_TEST_ADDRESS (e.g. tcp://127.0.0.1:3310) after running devtools/clamd/start.sh.")
    if not antivirus.ping(address=address):
        pytest.fail(f"clamd does not answer PING at {address}: run devtools/clamd/start.sh.")
    return address


@pytest.mark.clamd
def test_real_clamd_detects_eicar(clamd_address):
    result = antivirus.scan_bytes(hostile.EICAR, address=clamd_address)

    assert result.status is ScanStatus.INFECTED
    assert "EICAR" in result.signature


@pytest.mark.clamd
def test_real_clamd_finds_a_clean_pdf_clean(clamd_address, settings):
    settings.CLAMD_ADDRESS = clamd_address

    result = antivirus.scan_bytes(hostile.pdf_bytes())

    assert result.status is ScanStatus.CLEAN
    assert result.detail == "stream: OK"


@pytest.mark.clamd
def test_real_clamd_answers_ping_and_version(clamd_address):
    assert antivirus.ping(address=clamd_address) is True
    assert antivirus.version(address=clamd_address).startswith("ClamAV ")
