"""ecandidat.downloads: a stored file handed to nginx (X-Accel-Redirect) or streamed by Django; on S3, by a signed
URL of the object (moto's in-process S3 here; the integration test runs moto_server and nginx)."""

import os
import subprocess
import sys
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from django.http import Http404
from django.utils.http import content_disposition_header
from moto import mock_aws
from storages.backends.s3 import S3Storage

from ecandidat.checks import check_download_accel_redirect
from ecandidat.downloads import PRESIGNED_URL_SECONDS, stored_file_response

PREFIX = "/_protected_media/"
S3_PREFIX = "/_protected_s3/"
BUCKET = "ecandidat-pieces"
# What ecandidat.settings.base builds from AWS_STORAGE_BUCKET_NAME and friends, on AWS itself (no endpoint).
S3_OPTIONS = {
    "bucket_name": BUCKET,
    "region_name": "eu-west-3",
    "access_key": "ecandidat-test",
    "secret_key": "ecandidat-test-secret",
    "default_acl": "private",
    "file_overwrite": False,
    "querystring_auth": True,
    "querystring_expire": 60,
}


@pytest.fixture
def disk(tmp_path):
    return FileSystemStorage(location=tmp_path)


@pytest.fixture
def bucket():
    """A private bucket in moto's in-process S3 (no network), and the storage production builds for it."""
    with mock_aws():
        boto3.client("s3", region_name="eu-west-3").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"}
        )
        yield S3Storage(**S3_OPTIONS)


def test_a_name_and_a_filename_beyond_ascii_are_escaped(settings, disk):
    settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = PREFIX
    name = disk.save("packs/dossiers été #1.pdf", ContentFile(b"%PDF-1.7"))

    response = stored_file_response(name, filename="dossiers-été.pdf", content_type="application/pdf", storage=disk)

    assert response["X-Accel-Redirect"] == "/_protected_media/packs/dossiers%20%C3%A9t%C3%A9%20%231.pdf"
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''dossiers-%C3%A9t%C3%A9.pdf"
    assert response["Content-Type"] == "application/pdf"
    assert response.content == b""


def test_a_name_leading_out_of_the_storage_is_refused(settings, disk):
    settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = PREFIX

    with pytest.raises(SuspiciousFileOperation):
        stored_file_response("../secret", filename="x.zip", content_type="application/zip", storage=disk)


def test_a_missing_file_is_a_404_either_way(settings, disk):
    for prefix in ("", PREFIX):
        settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = prefix
        with pytest.raises(Http404):
            stored_file_response("packs/gone.zip", filename="x.zip", content_type="application/zip", storage=disk)


def test_files_not_on_this_disk_are_streamed_whatever_the_prefix(settings):
    # As on S3 (django-storages): nginx has no path to the object, so Django streams it.
    settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = PREFIX
    storage = InMemoryStorage()
    name = storage.save("packs/pack.zip", ContentFile(b"zip"))

    response = stored_file_response(name, filename="p.zip", content_type="application/zip", storage=storage)

    assert b"".join(response.streaming_content) == b"zip"
    assert "X-Accel-Redirect" not in response
    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_file_on_s3_is_handed_to_nginx_by_a_url_of_the_object_signed_for_a_minute(settings, bucket):
    settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = S3_PREFIX
    name = bucket.save("packs/dossiers été #1.zip", ContentFile(b"zip"))

    response = stored_file_response(name, filename="dossiers-été.zip", content_type="application/zip", storage=bucket)

    assert response.content == b""
    assert response["Content-Type"] == "application/zip"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store"
    # <prefix><scheme>/<host>/<path>?<query>: the path escaped once more, as nginx decodes it before passing it on.
    uri = urlsplit(response["X-Accel-Redirect"])
    scheme, host, path = uri.path.removeprefix(S3_PREFIX).split("/", 2)
    assert (scheme, host) == ("https", f"{BUCKET}.s3.amazonaws.com")
    assert path == "packs/dossiers%2520%25C3%25A9t%25C3%25A9%2520%25231.zip"
    assert unquote(path) == "packs/dossiers%20%C3%A9t%C3%A9%20%231.zip"  # what S3 signs for that key
    query = parse_qs(uri.query)
    assert query["X-Amz-Expires"] == [str(PRESIGNED_URL_SECONDS)]
    assert PRESIGNED_URL_SECONDS <= 60
    assert query["X-Amz-Credential"][0].startswith("ecandidat-test/")
    assert len(query["X-Amz-Signature"][0]) == 64
    # The type and the name Django chose come back from the bucket, signed: not in this answer, which nginx would
    # also keep on its own error page (saved by the browser as the pack).
    assert query["response-content-type"] == ["application/zip"]
    assert query["response-content-disposition"] == [content_disposition_header(True, "dossiers-été.zip")]
    assert "Content-Disposition" not in response


def test_an_object_missing_from_the_bucket_is_a_404_either_way(settings, bucket):
    for prefix in ("", S3_PREFIX):
        settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = prefix
        with pytest.raises(Http404):
            stored_file_response("packs/gone.zip", filename="x.zip", content_type="application/zip", storage=bucket)


def test_without_the_prefix_a_file_on_s3_is_streamed_as_before(settings, bucket):
    settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = ""
    name = bucket.save("packs/pack.zip", ContentFile(b"zip"))

    response = stored_file_response(name, filename="p.zip", content_type="application/zip", storage=bucket)

    assert b"".join(response.streaming_content) == b"zip"
    assert "X-Accel-Redirect" not in response
    assert response["Content-Disposition"] == 'attachment; filename="p.zip"'


@pytest.mark.parametrize("options", [{"querystring_auth": False}, {"custom_domain": "files.example.org"}])
def test_a_bucket_without_signed_urls_is_streamed_whatever_the_prefix(settings, bucket, options):
    # Its URLs are not signed: nginx would get S3's 403 for a private object.
    settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = S3_PREFIX
    storage = S3Storage(**{**S3_OPTIONS, **options})
    name = storage.save("packs/pack.zip", ContentFile(b"zip"))

    response = stored_file_response(name, filename="p.zip", content_type="application/zip", storage=storage)

    assert b"".join(response.streaming_content) == b"zip"
    assert "X-Accel-Redirect" not in response


def test_the_prefix_with_a_storage_nginx_cannot_be_sent_to_is_a_warning(settings):
    s3 = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": S3_OPTIONS}
    unsigned = {**s3, "OPTIONS": {**S3_OPTIONS, "querystring_auth": False}}
    disk = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    memory = {"BACKEND": "django.core.files.storage.InMemoryStorage"}
    for prefix, storage, warnings in [
        (PREFIX, disk, []),
        (S3_PREFIX, s3, []),
        (S3_PREFIX, unsigned, ["ecandidat.W004"]),
        (PREFIX, memory, ["ecandidat.W004"]),
        ("", unsigned, []),
        ("", memory, []),
    ]:
        settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = prefix
        settings.STORAGES = {**settings.STORAGES, "default": storage}

        assert [warning.id for warning in check_download_accel_redirect(None)] == warnings, (prefix, storage)


@pytest.mark.parametrize("value", ["_protected_media/", "/_protected_media", "/a b/"])
def test_a_prefix_that_is_not_a_path_stops_the_start(value):
    # nginx would look for "<prefix><name>" in no location and answer 404 for every pack: refused at start instead.
    env = {**os.environ, "DOWNLOAD_ACCEL_REDIRECT_PREFIX": value, "SECRET_KEY": "x" * 60}
    code = "import ecandidat.settings.base"

    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)

    assert result.returncode == 1
    assert "ImproperlyConfigured: DOWNLOAD_ACCEL_REDIRECT_PREFIX=" in result.stderr
