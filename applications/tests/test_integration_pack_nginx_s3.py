"""The commission pack on S3 through the real nginx in front of the live server, with the internal location
/_protected_s3/ of deploy/nginx.conf.example and an S3-compatible server (moto_server): Django checks who asks and
answers with an empty X-Accel-Redirect naming a URL of the object signed for a minute; nginx fetches it from the
bucket and passes it on, byte ranges included. No gunicorn worker is held by a ~1.7 GB pack on a slow line, and the
client never sees the bucket's host, the URL's signature or the bucket's own headers and errors."""

import datetime
import io
import re
import zipfile
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.conf import settings
from django.core.files.storage import storages
from django.urls import reverse
from storages.backends.s3 import S3Storage

from applications.tests.nginx_peer import built_pack, example_block, get, start_nginx
from ecandidat.downloads import PRESIGNED_URL_SECONDS
from ecandidat.tests.plugins.services import wait_until

pytestmark = pytest.mark.integration

EXAMPLE_ERRORS = "/srv/ecandidat/deploy/errors/"
# What a client may get from nginx with the file: Django's headers kept by nginx (Content-Type, Cache-Control,
# Expires), the file's own from the bucket (length, range, validators for If-Range, and the Content-Type and
# Content-Disposition signed in the URL) and the location's security headers. Anything else would be the bucket's.
CLIENT_HEADERS = {
    "server",
    "date",
    "connection",
    "content-type",
    "content-length",
    "content-range",
    "accept-ranges",
    "content-disposition",
    "cache-control",
    "expires",
    "etag",
    "last-modified",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "content-security-policy",
    "strict-transport-security",
}


@pytest.fixture
def nginx(settings, tmp_path, live_server, bucket):
    """nginx with the example's S3 location, its error locations and its French error pages; everything else
    proxied to the live server. Yields its port and a log of what nginx asked for."""
    location = example_block(r"    location ~ \^(/[\w./-]*/)\(\?<s3_scheme>[^{]*\{[^}]*\}")
    error_location = example_block(r"(?s)    location @bucket_error \{.*?\n    \}").group(0)
    range_location = example_block(r"    location @range_not_satisfiable \{[^}]*\}").group(0)
    errors_pages = example_block(r"    location \^~ /_nginx_errors/ \{[^}]*\}").group(0)
    settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = location.group(1)
    blocks = "\n".join(
        [
            location.group(0),
            error_location,
            range_location,
            errors_pages.replace(EXAMPLE_ERRORS, f"{settings.BASE_DIR}/deploy/errors/"),
            "        error_page 502 504 /_nginx_errors/502.html;",
        ]
    )
    # Per request: the upstreams nginx asked (Django, then the bucket) and the URL the S3 location built.
    log = tmp_path / "nginx" / "logs" / "bucket.log"
    log_format = f"""    log_format bucket '$upstream_addr|$s3_scheme://$s3_host/$s3_path$is_args$args';
    access_log {log} bucket;"""
    with start_nginx(tmp_path / "nginx", blocks, live_server.url, http_directives=log_format) as port:
        yield port, log


def _asked_the_bucket(log, s3_server, *, requests: int) -> list[str]:
    """The URLs nginx asked the bucket for, one per request that reached it, once the log has its line for each of
    the ``requests`` made so far (nginx writes it after the answer)."""
    wait_until(
        lambda: log.exists() and len(log.read_text().splitlines()) >= requests, timeout=10, message="nginx's log"
    )
    lines = [line.split("|", 1) for line in log.read_text().splitlines()]
    return [url for upstreams, url in lines if upstreams.split(" : ")[-1] == urlsplit(s3_server.endpoint_url).netloc]


@pytest.fixture
def pack(transactional_db, bucket, centre_manager, centre, campaign):
    return built_pack(actor=centre_manager, centre=centre, campaign=campaign)


def _bucket_storage() -> S3Storage:
    """The default storage (Django's default_storage), as the bucket's."""
    storage = storages["default"]
    assert isinstance(storage, S3Storage)
    return storage


def _download_path(pack) -> str:
    return urlsplit(reverse("admin:applications_application_pack_download", args=[pack.public_id])).path


def _assert_nothing_of_the_bucket(headers, body, s3_server, bucket) -> None:
    text = "\n".join(f"{name}: {value}" for name, value in headers.items()) + body.decode("latin-1")
    for secret in (urlsplit(s3_server.endpoint_url).netloc, bucket, "X-Amz-", "Signature", "amz"):
        assert secret not in text


def test_nginx_fetches_the_pack_from_the_bucket_after_django_checked_the_requester(
    nginx, s3_server, s3_log, bucket, pack, centre_manager
):
    port, log = nginx
    in_bucket = s3_server.client().get_object(Bucket=bucket, Key=pack.file.name)["Body"].read()

    status, headers, body = get(port, _download_path(pack), centre_manager)

    assert status == 200
    assert body == in_bucket
    assert len(zipfile.ZipFile(io.BytesIO(body)).namelist()) == 3
    assert headers["content-length"] == str(len(in_bucket))
    assert headers["content-type"] == "application/zip"  # Django's, signed in the URL
    assert re.fullmatch(r'attachment; filename="dossiers-commission-\d{8}-\d{4}\.zip"', headers["content-disposition"])
    assert "no-store" in headers["cache-control"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert headers["x-frame-options"] == "DENY"
    assert {name.lower() for name in headers} <= CLIENT_HEADERS
    assert len(headers.get_all("content-disposition")) == len(headers.get_all("content-type")) == 1
    _assert_nothing_of_the_bucket(headers, b"", s3_server, bucket)
    # nginx asked the bucket itself, after Django, with the URL Django signed: the same bytes a signature made at that
    # second gives (moto does not check signatures; S3 does, on those bytes).
    [url] = _asked_the_bucket(log, s3_server, requests=1)
    assert urlsplit(url).path == f"/{bucket}/{pack.file.name}"
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == [str(PRESIGNED_URL_SECONDS)]
    signed_at = datetime.datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    signed = {
        "ResponseContentType": headers["content-type"],
        "ResponseContentDisposition": headers["content-disposition"],
    }
    with time_machine.travel(signed_at, tick=False):
        assert url == _bucket_storage().url(pack.file.name, parameters=signed, expire=PRESIGNED_URL_SECONDS)

    # A byte range is passed to the bucket: an interrupted download resumes.
    status, headers, body = get(port, _download_path(pack), centre_manager, {"Range": "bytes=4-9"})

    assert (status, body) == (206, in_bucket[4:10])
    assert headers["content-range"] == f"bytes 4-9/{len(in_bucket)}"
    assert headers["content-disposition"].startswith("attachment;")
    assert {name.lower() for name in headers} <= CLIENT_HEADERS
    _assert_nothing_of_the_bucket(headers, b"", s3_server, bucket)
    assert len(_asked_the_bucket(log, s3_server, requests=2)) == 2

    # A HEAD (a download manager's first question) is asked as the GET the URL was signed for; no body comes back.
    status, headers, body = get(port, _download_path(pack), centre_manager, method="HEAD")

    assert (status, body) == (200, b"")
    assert headers["content-length"] == str(len(in_bucket))
    assert len(_asked_the_bucket(log, s3_server, requests=3)) == 3
    # (The log colours some lines: the method may follow an escape sequence.)
    methods = wait_until(
        lambda: (
            len(found := re.findall(rf"(GET|HEAD) /{bucket}/{pack.file.name}\?", s3_log.read_text())) >= 3 and found
        ),
        timeout=10,
        message="moto_server's log",
    )
    assert methods == ["GET"] * 3


def test_anyone_else_gets_djangos_404_and_the_bucket_is_not_asked(
    nginx, s3_server, bucket, pack, other_centre_manager, commission_member
):
    port, log = nginx
    in_bucket = s3_server.client().get_object(Bucket=bucket, Key=pack.file.name)["Body"].read()

    for user in (other_centre_manager, commission_member):
        status, headers, body = get(port, _download_path(pack), user)

        assert status == 404
        assert in_bucket[:4] not in body
        _assert_nothing_of_the_bucket(headers, body, s3_server, bucket)
    assert _asked_the_bucket(log, s3_server, requests=2) == []


def test_the_internal_location_asked_from_outside_is_a_404_even_with_a_valid_signature(
    nginx, s3_server, bucket, pack, centre_manager
):
    port, log = nginx
    prefix = settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX
    valid = urlsplit(_bucket_storage().url(pack.file.name, expire=PRESIGNED_URL_SECONDS))
    with time_machine.travel(datetime.datetime.now(tz=datetime.UTC) - datetime.timedelta(hours=1)):
        expired = urlsplit(_bucket_storage().url(pack.file.name, expire=PRESIGNED_URL_SECONDS))
    forged = valid._replace(query=re.sub(r"X-Amz-Signature=\w+", "X-Amz-Signature=" + "0" * 64, valid.query))

    for url in (valid, expired, forged):
        for path in (url.path, url.path.replace("%", "%25")):  # as Django writes it, and as the bucket takes it
            status, _headers, body = get(port, f"{prefix}{url.scheme}/{url.netloc}{path}?{url.query}", centre_manager)

            assert status == 404
            assert b"PK" not in body
    assert _asked_the_bucket(log, s3_server, requests=6) == []


def test_the_buckets_errors_never_reach_the_client(nginx, s3_server, bucket, pack, centre_manager, monkeypatch):
    port, log = nginx
    size = len(s3_server.client().get_object(Bucket=bucket, Key=pack.file.name)["Body"].read())

    # A range past the end (a download resumed once complete): nginx's 416, not the bucket's XML.
    status, headers, body = get(port, _download_path(pack), centre_manager, {"Range": f"bytes={size}-"})

    assert status == 416
    _assert_nothing_of_the_bucket(headers, body, s3_server, bucket)

    # The object gone between Django's check and nginx's request (the live server runs in this process): the
    # bucket's 404 (its body names the bucket and the key) becomes the French 502 page; trying again asks Django.
    s3_server.client().delete_object(Bucket=bucket, Key=pack.file.name)
    monkeypatch.setattr(S3Storage, "exists", lambda storage, name: True)

    status, headers, body = get(port, _download_path(pack), centre_manager)

    assert status == 502
    assert "Service momentanément indisponible" in body.decode()
    assert "content-disposition" not in headers  # the page is shown, not saved as the pack
    _assert_nothing_of_the_bucket(headers, body, s3_server, bucket)
    assert len(_asked_the_bucket(log, s3_server, requests=2)) == 2
