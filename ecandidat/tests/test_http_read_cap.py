"""``read_by``'s ``max_bytes``: an answer longer than the caller takes is refused (``TooLarge``) before its body is
read when its ``Content-Length`` announces it, else as soon as what was read passes the bound; it was held whole,
however long (an answer of 400 MiB grew a web worker by 1.2 GiB). A small HTTP server on loopback, in a thread of the
test's process."""

import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from ecandidat.http import READ_CHUNK, TooLarge, read_by
from ecandidat.tests.helpers import loopback_http

CAP = 10_000  # bytes


class Peer:
    """What the loopback server sends, and what it managed to."""

    def __init__(self):
        self.stop = threading.Event()  # ends an endless answer when the test is over
        self.sent = 0  # bytes of body written


@pytest.fixture
def peer() -> Iterator[tuple[str, Peer]]:
    """``GET /size/N``: N bytes with their ``Content-Length``; ``GET /announce``: a ``Content-Length`` of 1 GB, then
    nothing (the connection held open); ``GET /endless``: no ``Content-Length``, bytes until the client goes;
    ``GET /gzip``: 1 MB of spaces gzip-compressed (a few kB sent)."""
    state = Peer()

    class Handler(BaseHTTPRequestHandler):
        def head(self, length: int | None, encoding: str = "") -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if encoding:
                self.send_header("Content-Encoding", encoding)
            if length is not None:
                self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.flush()

        def write(self, data: bytes) -> None:
            self.wfile.write(data)
            self.wfile.flush()
            state.sent += len(data)

        def do_GET(self):  # noqa: N802 (http.server's protocol)
            try:
                if self.path.startswith("/size/"):
                    size = int(self.path.removeprefix("/size/"))
                    self.head(size)
                    self.write(b"x" * size)
                elif self.path == "/announce":
                    self.head(10**9)
                    state.stop.wait(10)
                elif self.path == "/gzip":
                    body = gzip.compress(b" " * 1_000_000)
                    self.head(len(body), "gzip")
                    self.write(body)
                elif self.path == "/endless":
                    self.close_connection = True  # HTTP/1.0: the body ends when the connection does
                    self.head(None)
                    while not state.stop.is_set():
                        self.write(b"x" * READ_CHUNK)
                        state.stop.wait(0.01)  # some MB a second: a client reading it all holds little
            except OSError:  # the client gave up and closed the connection
                return

        def log_message(self, *args):
            pass

    with loopback_http(Handler) as url:
        try:
            yield url, state
        finally:
            state.stop.set()


def _read(url: str, *, max_bytes: int | None = CAP, seconds: float = 10) -> bytes:
    with requests.get(url, stream=True, timeout=5) as response:
        return read_by(response, time.monotonic() + seconds, max_bytes=max_bytes)


def test_an_answer_within_the_bound_is_read_whole(peer):
    url, _ = peer

    assert _read(f"{url}/size/{CAP}") == b"x" * CAP
    assert _read(f"{url}/size/100") == b"x" * 100


def test_an_answer_announced_longer_is_refused_before_its_body_is_read(peer):
    # The server announces 1 GB and sends nothing: refused at once, not waited for until the deadline.
    url, _ = peer

    started = time.monotonic()
    with pytest.raises(TooLarge, match="announces 1000000000 bytes"):
        _read(f"{url}/announce", seconds=5)

    assert time.monotonic() - started < 2


def test_an_answer_announced_one_byte_longer_is_refused(peer):
    url, _ = peer

    with pytest.raises(TooLarge, match=f"announces {CAP + 1} bytes"):
        _read(f"{url}/size/{CAP + 1}")


def test_an_unannounced_answer_is_cut_off_as_soon_as_it_passes_the_bound(peer, monkeypatch):
    # No Content-Length and no end: refused once a chunk passes the bound, long before the deadline, having read
    # at most the bound and one chunk.
    url, _ = peer
    read = 0
    with requests.get(f"{url}/endless", stream=True, timeout=5) as response:
        read1 = response.raw.read1

        def counting(*args, **kwargs):
            nonlocal read
            chunk = read1(*args, **kwargs)
            read += len(chunk)
            return chunk

        monkeypatch.setattr(response.raw, "read1", counting)
        started = time.monotonic()
        with pytest.raises(TooLarge, match=f"longer than the {CAP} bytes"):
            read_by(response, time.monotonic() + 10, max_bytes=CAP)

    assert time.monotonic() - started < 2
    assert CAP < read <= CAP + READ_CHUNK


def test_a_compressed_answer_is_bounded_as_it_inflates(peer):
    # A few kB sent (its Content-Length within the bound), 1 MB once decompressed: the bound is on what the caller
    # gets.
    url, state = peer

    with pytest.raises(TooLarge, match="longer than"):
        _read(f"{url}/gzip", max_bytes=100_000)

    assert state.sent < 100_000


def test_without_a_bound_the_answer_is_read_whole(peer):
    url, _ = peer

    assert _read(f"{url}/size/{3 * CAP}", max_bytes=None) == b"x" * 3 * CAP
