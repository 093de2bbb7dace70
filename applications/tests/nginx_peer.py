"""The real nginx (Debian's package) for integration tests: unprivileged, its own prefix in a temporary folder, in
front of the live server, with blocks taken from deploy/nginx.conf.example as written.

``start_nginx(home, blocks, upstream_url)`` is a context manager yielding the port (one of 18480-18489) once nginx
answers (``upstream_url=None``: ``blocks`` bring their own ``location /``, the example's as written);
``example_block(pattern)`` finds a block of the example; ``get(port, path, user)`` asks nginx as ``user`` (logged in
with the staff's second factor), as a browser would; ``built_pack(...)`` is the commission pack they serve.
"""

import contextlib
import http.client
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

from accounts.tests.mfa import Client
from applications.models import CommissionPack
from applications.services.packs import request_pack
from applications.tests.factories_candidature import make_application, stored_piece
from offers.tests.factories import FormationFactory

PORTS = range(18480, 18490)
EXAMPLE = Path(settings.BASE_DIR) / "deploy" / "nginx.conf.example"


def _nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if found is None:
        pytest.fail("nginx is not installed (apt-get install nginx; .ci/run installs it as root)")
    return found


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {PORTS.start}-{PORTS.stop - 1} for nginx")


def example_block(pattern: str) -> re.Match:
    """The first block of deploy/nginx.conf.example matching ``pattern`` (indented as in the server block)."""
    match = re.search(pattern, EXAMPLE.read_text())
    assert match, f"deploy/nginx.conf.example has no block matching {pattern!r}"
    return match


@contextlib.contextmanager
def start_nginx(home: Path, blocks: str, upstream_url: str | None, *, http_directives: str = "") -> Iterator[int]:
    """nginx with ``blocks`` (locations of the example) in its server, everything else proxied to ``upstream_url``
    (None: no ``location /`` of its own, ``blocks`` have one); ``http_directives`` go in its http block. Yields its
    port; stopped afterwards."""
    binary = _nginx_binary()
    (home / "logs").mkdir(parents=True)
    port = _free_port()
    # As root, nginx's workers would switch to "nobody", who cannot read pytest's private temporary folder.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    temp_paths = "\n".join(
        f"    {kind}_temp_path {home / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    own_location = (
        ""
        if upstream_url is None
        else f"""        location / {{
            proxy_pass {upstream_url};
            proxy_set_header Host $http_host;
        }}
"""
    )
    # No mime.types: the Content-Type the client gets can only be Django's.
    config = f"""{user}
worker_processes 1;
pid {home / "nginx.pid"};
error_log {home / "logs" / "error.log"} info;
events {{ worker_connections 64; }}
http {{
    default_type application/octet-stream;
{http_directives}
    access_log {home / "logs" / "access.log"};
{temp_paths}
    server {{
        listen 127.0.0.1:{port};
{blocks}
{own_location}    }}
}}
"""
    (home / "nginx.conf").write_text(config)
    command = [binary, "-p", f"{home}/", "-c", str(home / "nginx.conf"), "-e", str(home / "logs" / "error.log")]
    checked = subprocess.run([*command, "-t"], check=False, capture_output=True, text=True)
    if checked.returncode:
        pytest.fail(f"nginx -t refused the configuration:\n{checked.stderr}\n{config}")
    process = subprocess.Popen([*command, "-g", "daemon off;"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:

        def why() -> str:
            log = (home / "logs" / "error.log").read_text(errors="replace")
            return f"nginx did not start: {process.stdout.read().decode() if process.stdout else ''}{log}"

        wait_for_port(port, process, timeout=10, why=why)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_for_port(port: int, process: subprocess.Popen, *, timeout: float, why: Callable[[], str]) -> None:
    """Wait until ``process`` (a server just started) accepts connections on ``port``; fail the test with ``why()``
    if it ends or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(why())
            time.sleep(0.05)


def get(
    port: int, path: str, user=None, headers: dict | None = None, *, method: str = "GET"
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """GET (or ``method``) ``path`` from nginx, logged in as ``user`` if given: the status, the headers (every line,
    names without case) and the body."""
    cookies = {}
    if user is not None:
        client = Client()
        client.force_login(user)  # with the staff's second factor
        cookies["Cookie"] = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, headers={**cookies, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.msg, response.read()
    finally:
        connection.close()


def built_pack(*, actor, centre, campaign) -> CommissionPack:
    """A commission pack of three dossiers with one stored piece each, built in-process by ``actor``."""
    formation = FormationFactory(centre=centre, code="M1ENER")
    applications = [make_application(formation, campaign=campaign) for _ in range(3)]
    for application in applications:
        stored_piece(application, "Relevé de notes")
    pack = request_pack(actor=actor, application_ids=[a.pk for a in applications])
    pack.refresh_from_db()
    assert pack.status == CommissionPack.Status.DONE
    return pack
