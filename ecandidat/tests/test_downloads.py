"""ecandidat.downloads: a stored file handed to nginx (X-Accel-Redirect) or streamed by Django."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from django.http import Http404

from ecandidat.checks import check_download_accel_redirect
from ecandidat.downloads import stored_file_response

PREFIX = "/_protected_media/"


@pytest.fixture
def disk(tmp_path):
    return FileSystemStorage(location=tmp_path)


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


def test_the_prefix_with_files_on_s3_is_a_warning(settings):
    settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = PREFIX

    assert [warning.id for warning in check_download_accel_redirect(None)] == ["ecandidat.W004"]  # in-memory here

    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    assert check_download_accel_redirect(None) == []
    settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = ""
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    assert check_download_accel_redirect(None) == []


@pytest.mark.parametrize("value", ["_protected_media/", "/_protected_media", "/a b/"])
def test_a_prefix_that_is_not_a_path_stops_the_start(value):
    # nginx would look for "<prefix><name>" in no location and answer 404 for every pack: refused at start instead.
    env = {**os.environ, "DOWNLOAD_ACCEL_REDIRECT_PREFIX": value, "SECRET_KEY": "x" * 60}
    code = "import ecandidat.settings.base"

    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)

    assert result.returncode == 1
    assert "ImproperlyConfigured: DOWNLOAD_ACCEL_REDIRECT_PREFIX=" in result.stderr
