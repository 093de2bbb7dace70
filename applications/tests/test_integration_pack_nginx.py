"""The commission pack through the real nginx (Debian's package, unprivileged, its own prefix) in front of the live
server, with the internal location of deploy/nginx.conf.example and DOWNLOAD_ACCEL_REDIRECT_PREFIX set: Django checks
who asks and answers with an empty X-Accel-Redirect response; nginx sends the file from MEDIA_ROOT with Django's
Content-Type, Content-Disposition and Cache-Control and its own security headers. A pack of ~1.7 GB so no longer
holds a sync gunicorn worker past its 60 s timeout."""

import io
import re
import zipfile
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import reverse

from applications.tests.nginx_peer import built_pack, example_block, get, start_nginx

pytestmark = pytest.mark.integration

EXAMPLE_MEDIA_ROOT = "/srv/ecandidat/var/media/"


def _example_location() -> tuple[str, str]:
    """The example's internal location for large downloads, as written: its prefix and the whole block."""
    match = example_block(r"    location \^~ (/\S*/) \{[^}]*alias " + re.escape(EXAMPLE_MEDIA_ROOT) + r";[^}]*\}")
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
    else proxied to the live server. Yields its port; stopped afterwards."""
    prefix, location = _example_location()
    settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = prefix
    with start_nginx(
        tmp_path / "nginx", location.replace(EXAMPLE_MEDIA_ROOT, f"{media_root}/"), live_server.url
    ) as port:
        yield port


@pytest.fixture
def pack(transactional_db, media_root, centre_manager, centre, campaign):
    return built_pack(actor=centre_manager, centre=centre, campaign=campaign)


def test_nginx_sends_the_pack_from_disk_after_django_checked_the_requester(
    nginx, media_root, pack, centre_manager, other_centre_manager
):
    url = urlsplit(reverse("admin:applications_application_pack_download", args=[pack.public_id])).path
    on_disk = (media_root / pack.file.name).read_bytes()

    status, headers, body = get(nginx, url, centre_manager)

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
    status, headers, body = get(nginx, url, centre_manager, {"Range": "bytes=0-3"})
    assert (status, body) == (206, on_disk[:4])

    # Anyone else: Django's 404, nothing from the disk.
    status, headers, body = get(nginx, url, other_centre_manager)
    assert status == 404
    assert on_disk[:4] not in body
    # The internal location cannot be asked directly.
    prefix = settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX
    status, headers, body = get(nginx, f"{prefix}{pack.file.name}", centre_manager)
    assert status == 404
