"""The commission pack through the real nginx (Debian's package, unprivileged, its own prefix) in front of the live
server, with the internal location of deploy/nginx.conf.example and DOWNLOAD_ACCEL_REDIRECT_PREFIX set: Django checks
who asks and answers with an empty X-Accel-Redirect response; nginx sends the file from MEDIA_ROOT with Django's
Content-Type, Content-Disposition and Cache-Control and its own security headers. A pack of ~1.7 GB so no longer
holds a sync gunicorn worker past its 60 s timeout."""

import http.client
import io
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.tests.mfa import Client
from applications.models import CommissionPack
from applications.services.packs import request_pack
from applications.tests.factories_candidature import make_application, stored_piece
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.integration

PORTS = range(18480, 18490)
EXAMPLE = Path(settings.BASE_DIR) / "deploy" / "nginx.conf.example"
EXAMPLE_MEDIA_ROOT = "/srv/ecandidat/var/media/"


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


def _example_location() -> tuple[str, str]:
    """The example's internal location for large downloads, as written: its prefix and the whole block."""
    match = re.search(
        r"    location \^~ (/\S*/) \{[^}]*alias " + re.escape(EXAMPLE_MEDIA_ROOT) + r";[^}]*\}", EXAMPLE.read_text()
    )
    assert match, "deploy/nginx.conf.example has no location aliased to the documented MEDIA_ROOT"
    return match.group(1), match.group(0)


@pytest.fixture
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": root}},
    }
    return root


@pytest.fixture
def nginx(settings, tmp_path, live_server, media_root):
    """nginx on a port of 18480-18489: the example's location (alias pointed at this test's MEDIA_ROOT), everything
    else proxied to the live server. Yields its base URL; stopped afterwards."""
    binary = _nginx_binary()
    prefix, location = _example_location()
    settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = prefix
    home = tmp_path / "nginx"
    (home / "logs").mkdir(parents=True)
    port = _free_port()
    # As root, nginx's workers would switch to "nobody", who cannot read pytest's private temporary folder.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    temp_paths = "\n".join(
        f"    {kind}_temp_path {home / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # No mime.types: the Content-Type the client gets can only be Django's.
    config = f"""{user}
worker_processes 1;
pid {home / "nginx.pid"};
error_log {home / "logs" / "error.log"} info;
events {{ worker_connections 64; }}
http {{
    default_type application/octet-stream;
    access_log {home / "logs" / "access.log"};
{temp_paths}
    server {{
        listen 127.0.0.1:{port};
{location.replace(EXAMPLE_MEDIA_ROOT, f"{media_root}/")}
        location / {{
            proxy_pass {live_server.url};
            proxy_set_header Host $http_host;
        }}
    }}
}}
"""
    (home / "nginx.conf").write_text(config)
    command = [binary, "-p", f"{home}/", "-c", str(home / "nginx.conf"), "-e", str(home / "logs" / "error.log")]
    subprocess.run([*command, "-t"], check=True, capture_output=True)
    process = subprocess.Popen([*command, "-g", "daemon off;"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (home / "logs" / "error.log").read_text(errors="replace")
                    pytest.fail(
                        f"nginx did not start: {process.stdout.read().decode() if process.stdout else ''}{log}"
                    )
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _get(port: int, path: str, user=None, headers: dict | None = None) -> tuple[int, dict[str, str], bytes]:
    cookies = {}
    if user is not None:
        client = Client()
        client.force_login(user)  # with the staff's second factor
        cookies["Cookie"] = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={**cookies, **(headers or {})})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@pytest.fixture
def pack(transactional_db, media_root, centre_manager, centre, campaign):
    formation = FormationFactory(centre=centre, code="M1ENER")
    applications = [make_application(formation, campaign=campaign) for _ in range(3)]
    for application in applications:
        stored_piece(application, "Relevé de notes")
    pack = request_pack(actor=centre_manager, application_ids=[a.pk for a in applications])  # built in-process
    pack.refresh_from_db()
    assert pack.status == CommissionPack.Status.DONE
    return pack


def test_nginx_sends_the_pack_from_disk_after_django_checked_the_requester(
    nginx, media_root, pack, centre_manager, other_centre_manager
):
    url = urlsplit(reverse("admin:applications_application_pack_download", args=[pack.public_id])).path
    on_disk = (media_root / pack.file.name).read_bytes()

    status, headers, body = _get(nginx, url, centre_manager)

    assert status == 200
    assert body == on_disk
    assert len(zipfile.ZipFile(io.BytesIO(body)).namelist()) == 3
    assert headers["content-length"] == str(len(on_disk))
    assert headers["content-type"] == "application/zip"  # Django's (nginx knows no type here)
    assert re.fullmatch(r'attachment; filename="dossiers-commission-\d{8}-\d{4}\.zip"', headers["content-disposition"])
    assert "no-store" in headers["cache-control"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert headers["x-frame-options"] == "DENY"
    assert "x-accel-redirect" not in headers
    # nginx's static module, not Django's FileResponse, sent it: it answers a byte range.
    status, headers, body = _get(nginx, url, centre_manager, {"Range": "bytes=0-3"})
    assert (status, body) == (206, on_disk[:4])

    # Anyone else: Django's 404, nothing from the disk.
    status, headers, body = _get(nginx, url, other_centre_manager)
    assert status == 404
    assert on_disk[:4] not in body
    # The internal location cannot be asked directly.
    prefix = settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX
    status, headers, body = _get(nginx, f"{prefix}{pack.file.name}", centre_manager)
    assert status == 404
