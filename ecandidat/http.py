"""HTTP clients that a library builds for us, given a time limit.

python-cas (through django-cas-ng) validates a CAS ticket with a ``requests`` session and no timeout: a CAS server
that accepts the connection and never answers held the login, and a web worker, until the process manager killed it
(a bare 502, never the French message; each retry held another worker). django-cas-ng lets the settings give the
session (``CAS_SESSION_FACTORY``): ours sets a default timeout on every request, so a silent server becomes an
``OSError`` that the callback turns into « L'ENT n'a pas pu confirmer votre connexion ». So does an answer longer
than the setting ``CAS_MAX_ANSWER_BYTES`` (1 MiB by default): a ticket's validation is a few kilobytes of XML, and an
answer of 300 MiB, held whole, grew a web worker by 600 MiB.

requests' ``timeout`` bounds each wait on the socket, not the whole answer: a server sending it drop by drop (a byte
every second) holds the caller as long as it likes. The clients we write ourselves (Pégase, LimeSurvey) stream the
answer and read it with ``read_by``, against a deadline of their own, and at most ``max_bytes`` of it: an answer of
400 MiB, held whole then parsed, grew a web worker by 1.2 GiB.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from django.conf import settings


class AnswerTooLarge(requests.RequestException):
    """An answer longer than a ``TimeoutSession``'s ``max_bytes``: a ``requests`` error, so an ``OSError``, as a
    server that does not answer is."""


class TimeoutSession(requests.Session):
    """A session whose requests time out after ``timeout`` seconds unless the caller gives its own: each wait on the
    socket, and the whole answer too (``read_by``: a server dripping it is ``requests.Timeout``, an ``OSError``, as a
    silent one is). ``max_bytes``: the most an answer may hold, a longer one is ``AnswerTooLarge`` (an ``OSError``
    too), read no further than that and a chunk. A caller asking for ``stream=True`` reads the body itself, as it
    likes."""

    def __init__(self, timeout: float, *, max_bytes: int | None = None):
        super().__init__()
        self.timeout = timeout
        self.max_bytes = max_bytes

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        if kwargs.get("stream"):
            return super().request(*args, **kwargs)
        deadline = time.monotonic() + self.timeout
        kwargs["stream"] = True
        response = super().request(*args, **kwargs)
        try:
            # What requests does when it reads the body itself (``Response.content``), within the deadline.
            response._content = read_by(response, deadline, max_bytes=self.max_bytes)
        except TooSlow as error:
            raise requests.Timeout(f"the whole answer did not come within {self.timeout} s") from error
        except TooLarge as error:
            raise AnswerTooLarge(str(error), response=response) from error
        finally:
            response.close()
        return response


def cas_session() -> TimeoutSession:
    """``CAS_SESSION_FACTORY``: the session python-cas validates tickets with, limited to ``CAS_TIMEOUT_SECONDS`` and
    to answers of ``CAS_MAX_ANSWER_BYTES``."""
    return TimeoutSession(settings.CAS_TIMEOUT_SECONDS, max_bytes=settings.CAS_MAX_ANSWER_BYTES)


READ_CHUNK = 64 * 1024  # bytes read at most at once from an answer


class TooSlow(Exception):
    """An answer still arriving at the call's deadline."""


class TooLarge(Exception):
    """An answer longer than the caller takes (``read_by``'s ``max_bytes``)."""


def read_by(response: requests.Response, deadline: float, *, max_bytes: int | None = None) -> bytes:
    """The body of a ``stream=True`` ``response`` as it arrives (``read1``: what has come, not a full chunk);
    ``TooSlow`` once ``deadline`` (``time.monotonic()`` seconds) is passed. A wait on the socket is still bounded by
    the request's own timeout: a server silent at the deadline makes the call last at most one timeout more.

    ``max_bytes``: ``TooLarge`` before reading when the ``Content-Length`` announces more, else as soon as the body
    read (decompressed, as the caller gets it) passes it; what was read is dropped, so the answer never takes more
    than ``max_bytes`` and one chunk in memory."""
    if max_bytes is not None:
        announced = response.headers.get("Content-Length", "").strip()
        if announced.isascii() and announced.isdigit() and int(announced) > max_bytes:
            raise TooLarge(f"the answer announces {announced} bytes, more than the {max_bytes} taken")
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise TooSlow("the whole answer did not come in time")
        chunk = response.raw.read1(READ_CHUNK, decode_content=True)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            chunks.clear()
            raise TooLarge(f"the answer is longer than the {max_bytes} bytes taken")
        chunks.append(chunk)
