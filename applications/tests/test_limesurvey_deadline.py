"""The LimeSurvey client's timeout bounds a whole JSON-RPC call, not each wait on the socket: a server sending its
answer a byte at a time (each well within the timeout) held ``sync_complementary_forms``, and every nightly batch after
it, for as long as it liked (found by review). A small HTTP server on loopback, in a thread of the test's process."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest

from applications.limesurvey import LimeSurveyClient, LimeSurveyError
from ecandidat.tests.helpers import loopback_http

ANSWER = json.dumps({"id": 1, "result": "a-session-key", "error": None}).encode()


@pytest.fixture
def peer():
    """``POST /drip``: the session key padded with spaces, one byte every 0.2 s (10 s in all); ``POST /quick``: at
    once."""
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's protocol)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = ANSWER.ljust(50) if self.path == "/drip" else ANSWER
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.path != "/drip":
                self.wfile.write(body)
                return
            try:
                for byte in body:
                    if stop.wait(0.2):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            except OSError:  # the client gave up
                return

        def log_message(self, *args):
            pass

    with loopback_http(Handler) as url:
        try:
            yield url
        finally:
            stop.set()  # ends a drip still going, before the server stops


def test_an_answer_dripped_past_the_timeout_is_given_up_at_the_timeout(peer):
    client = LimeSurveyClient(f"{peer}/drip", "u", "p", timeout=1.0)
    started = time.monotonic()

    with pytest.raises(LimeSurveyError, match="TooSlow"):
        client.call("get_session_key", "u", "p")

    assert time.monotonic() - started < 3.0  # the drip lasts 10 s


def test_an_answer_in_time_is_read(peer):
    assert (
        LimeSurveyClient(f"{peer}/quick", "u", "p", timeout=1.0).call("get_session_key", "u", "p") == "a-session-key"
    )
