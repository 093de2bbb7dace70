"""PEGASE_TIMEOUT bounds a whole call to Pégase, not each wait on the socket: a server sending its answer one byte at
a time (each byte well within the timeout) is given up at the timeout, and a slow authentication keeps no other
thread's lookup waiting for the token cache's lock. The server is a small HTTP server on loopback, in a thread of the
test's process (the development peer, devtools/pegase/server.py, always answers at once)."""

import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from applications.pegase import PegaseClient
from applications.sis import StudentRecordsUnavailable
from ecandidat.tests.helpers import loopback_http

pytestmark = pytest.mark.usefixtures("fresh_pegase_memory")

TOKEN = b"a.jwt.token"


class Peer:
    """What the loopback server was asked, and how long its dripped answers last."""

    def __init__(self):
        self.drip = 0.2  # seconds between two bytes of a dripped answer
        self.drip_seconds = 10.0
        self.stop = threading.Event()  # ends the drips when the test is over
        self.drip_started = threading.Event()  # a dripped answer has begun


@pytest.fixture
def peer() -> Iterator[tuple[str, Peer]]:
    """``POST /token``: a token at once; ``POST /drip/token``: a token one byte every ``drip`` seconds (padded to
    last ``drip_seconds``); ``GET /quick``: JSON at once; ``GET /gzip``: JSON compressed; ``GET /drip``: JSON
    dripped."""
    state = Peer()

    class Handler(BaseHTTPRequestHandler):
        def answer(self, body: bytes, content_type: str, *, drip: bool = False, encoding: str = "") -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            if encoding:
                self.send_header("Content-Encoding", encoding)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not drip:
                self.wfile.write(body)
                return
            state.drip_started.set()
            try:
                for byte in body:
                    if state.stop.wait(state.drip):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            except OSError:  # the client gave up and closed the connection
                return

        def dripped(self, body: bytes) -> bytes:
            """``body`` padded with spaces to last ``drip_seconds``."""
            return body.ljust(round(state.drip_seconds / state.drip))

        def do_POST(self):  # noqa: N802 (http.server's protocol)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/drip/token":
                self.answer(self.dripped(TOKEN), "text/plain", drip=True)
            else:
                self.answer(TOKEN, "text/plain")

        def do_GET(self):  # noqa: N802
            body = json.dumps({"nbTotalPages": 1}).encode()
            if self.path == "/drip":
                self.answer(self.dripped(body), "application/json", drip=True)
            elif self.path == "/gzip":
                self.answer(gzip.compress(body), "application/json", encoding="gzip")
            else:
                self.answer(body, "application/json")

        def log_message(self, *args):
            pass

    with loopback_http(Handler) as url:
        try:
            yield url, state
        finally:
            state.stop.set()  # ends a drip still going, before the server stops


def client(url: str, auth_path: str = "/token", *, timeout: float = 1, username: str = "u") -> PegaseClient:
    return PegaseClient(auth_url=url + auth_path, username=username, password="p", timeout=timeout)


def test_an_answer_dripped_past_the_timeout_is_given_up_at_the_timeout(peer):
    url, _ = peer  # ten seconds of drip, each byte 0.2 s after the last: requests' timeout of 1 s never fires

    started = time.monotonic()
    with pytest.raises(StudentRecordsUnavailable, match="did not come in time"):
        client(url).get_json(url + "/drip")

    assert time.monotonic() - started < 3


def test_a_token_dripped_past_the_timeout_is_given_up_at_the_timeout(peer):
    url, _ = peer

    started = time.monotonic()
    with pytest.raises(StudentRecordsUnavailable, match="Pégase authentication: .*did not come in time"):
        client(url, "/drip/token").token()

    assert time.monotonic() - started < 3


def test_an_answer_dripped_within_the_timeout_is_read(peer):
    url, state = peer
    state.drip, state.drip_seconds = 0.05, 0.5  # its 19 bytes in about 1 s

    assert client(url, timeout=5).get_json(url + "/drip") == {"nbTotalPages": 1}


def test_a_compressed_answer_is_read(peer):
    url, _ = peer

    assert client(url).get_json(url + "/gzip") == {"nbTotalPages": 1}


def test_a_slow_authentication_keeps_no_other_lookup_waiting(peer):
    # One login waits for a token that takes 4 s to come (within its timeout): the token cache's lock is not held
    # meanwhile, so another account's lookup, with its token at once, is not kept waiting behind it.
    url, state = peer
    state.drip_seconds = 4
    slow = client(url, "/drip/token", timeout=10, username="slow")
    tokens: dict[str, str] = {}
    login = threading.Thread(target=lambda: tokens.update(slow=slow.token()))
    login.start()
    try:
        assert state.drip_started.wait(5)

        started = time.monotonic()
        found = client(url, username="quick").get_json(url + "/quick")
        waited = time.monotonic() - started
    finally:
        login.join(timeout=15)

    assert found == {"nbTotalPages": 1}
    assert waited < 2
    assert tokens == {"slow": TOKEN.decode()}  # the slow login got its token all the same
