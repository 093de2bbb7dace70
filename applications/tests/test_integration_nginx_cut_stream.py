"""A streamed answer cut by a dying gunicorn worker, through the real nginx with deploy/nginx.conf.example's
``upstream`` and ``location /`` blocks as written: the CSV exports are StreamingHttpResponse, without Content-Length,
and a sync worker killed mid-stream (its 60 s timeout, the OOM killer) must reach the browser as a failed download,
not as a shorter file that looks complete.

Spoken to in HTTP/1.0 (nginx's default towards upstreams), gunicorn cannot chunk: it ends the body by closing the
connection, and nginx, unable to tell a dead worker from the end, closes its chunked answer properly. In HTTP/1.1
gunicorn chunks, nginx sees the missing last chunk ("upstream prematurely closed connection") and drops the client's
connection without its own last chunk. No database: a tiny WSGI application behind a real gunicorn (one sync worker)
stands in for Django."""

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from applications.tests.nginx_peer import example_block, start_nginx, wait_for_port

pytestmark = pytest.mark.integration

LINES = [f"{n};Nom {n};Prénom {n}\n".encode() for n in range(1, 6)]
KILLED_AFTER = 3  # lines sent before the worker dies on /cut

APPLICATION = f"""
import os
import time

LINES = {LINES!r}


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/csv; charset=utf-8")])  # no Content-Length, as the exports

    def rows():
        for number, line in enumerate(LINES, start=1):
            yield line
            time.sleep(0.05)
            if environ["PATH_INFO"] == "/cut" and number == {KILLED_AFTER}:
                os._exit(1)  # the worker dies as at its timeout: what it sent so far is all there is

    return rows()
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _gunicorn(folder: Path) -> Iterator[int]:
    """The venv's gunicorn, one sync worker, serving APPLICATION from ``folder``. Yields its port; stopped (its own
    process group) afterwards."""
    (folder / "streaming.py").write_text(APPLICATION)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "GUNICORN_CMD_ARGS"}
    log = folder / "gunicorn.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "streaming:application"],
            cwd=folder,  # no gunicorn.conf.py there: gunicorn's defaults, sync workers as deploy/gunicorn.conf.py's
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(
            port, process, timeout=15, why=lambda: f"gunicorn did not start:\n{log.read_text(errors='replace')}"
        )
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture
def nginx(tmp_path) -> Iterator[tuple[int, Path]]:
    """nginx with the example's upstream (pointed at this test's gunicorn) and its ``location /`` as written. Yields
    its port and its error log."""
    (tmp_path / "app").mkdir()
    with _gunicorn(tmp_path / "app") as gunicorn_port:
        upstream = example_block(r"upstream ecandidat \{[^}]*\}").group(0)
        assert "server 127.0.0.1:8000;" in upstream
        root = example_block(r"    location / \{[^}]*\}").group(0)
        assert "proxy_pass http://ecandidat;" in root
        with start_nginx(
            tmp_path / "nginx",
            root,
            None,
            http_directives=upstream.replace("127.0.0.1:8000", f"127.0.0.1:{gunicorn_port}"),
        ) as port:
            yield port, tmp_path / "nginx" / "logs" / "error.log"


@contextlib.contextmanager
def _ask(port: int, path: str) -> Iterator[http.client.HTTPResponse]:
    """nginx's answer to GET ``path``, its body left to read, as a browser downloading a CSV."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Host": "ecandidat.example.org"})
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Length") is None
        assert response.chunked  # nginx ends the body with its last chunk, or not
        yield response
    finally:
        connection.close()


def test_a_whole_stream_reads_whole(nginx):
    port, _ = nginx

    with _ask(port, "/whole") as response:
        body = response.read()

    assert body == b"".join(LINES)


def test_a_stream_cut_by_a_dying_worker_is_a_failed_download_not_a_shorter_file(nginx):
    port, error_log = nginx

    with _ask(port, "/cut") as response:
        try:
            body = response.read()
        except http.client.IncompleteRead as cut:
            partial = cut.partial
            body = None
    if body is not None:
        # Without `proxy_http_version 1.1;`: the first lines, ended properly by nginx, which a manager would have
        # saved as the whole CSV.
        pytest.fail(f"the cut stream read as a complete body: {body!r}")
    assert partial == b"".join(LINES[:KILLED_AFTER])
    assert re.search(r"upstream prematurely closed connection", error_log.read_text(errors="replace"))
