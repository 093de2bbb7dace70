"""The LimeSurvey client's timeout bounds a whole JSON-RPC call, not each wait on the socket: a server sending its
answer a byte at a time (each well within the timeout) held ``sync_complementary_forms``, and every nightly batch after
it, for as long as it liked (found by review). A small HTTP server on loopback, in a thread of the test's process."""

import contextlib
import json
import threading
import time

import pytest

from applications.limesurvey import LimeSurveyClient, LimeSurveyError
from ecandidat.tests.helpers import dripping_handler, loopback_http

ANSWER = json.dumps({"id": 1, "result": "a-session-key", "error": None}).encode()


@contextlib.contextmanager
def peer(every: float):
    """LimeSurvey answering the session key padded to 50 bytes, one byte every ``every`` seconds (0: at once)."""
    stop = threading.Event()
    with loopback_http(dripping_handler(ANSWER.ljust(50), stop, content_type="application/json", every=every)) as url:
        try:
            yield url
        finally:
            stop.set()  # ends a drip still going, before the server stops


def test_an_answer_dripped_past_the_timeout_is_given_up_at_the_timeout():
    with peer(0.2) as url:  # 10 s in all
        client = LimeSurveyClient(url, "u", "p", timeout=1.0)
        started = time.monotonic()

        with pytest.raises(LimeSurveyError, match="TooSlow"):
            client.call("get_session_key", "u", "p")

        assert time.monotonic() - started < 3.0


def test_an_answer_in_time_is_read():
    with peer(0) as url:
        assert LimeSurveyClient(url, "u", "p", timeout=1.0).call("get_session_key", "u", "p") == "a-session-key"
