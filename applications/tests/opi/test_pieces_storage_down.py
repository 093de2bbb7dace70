"""The day's ZIP with its PJ-OPI while the file storage is down: the central office gets the 503 page (try again in a
few minutes), never a ZIP whose PJ_MANQUANTES.txt says the pieces are not in the storage, and the download is not
recorded (``record_collection``: the files' retention would start with a ZIP short of its pieces). A file really
missing (not found, the bucket's 404) is still left out and named."""

import errno
import io
import zipfile

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError  # type: ignore[import-untyped]
from django.core.files.storage import InMemoryStorage
from django.urls import reverse
from s3transfer.exceptions import RetriesExceededError  # type: ignore[import-untyped]

from applications.models import OpiExport
from applications.opi import admin as opi_admin
from applications.opi.pieces import MISSING_NOTE
from applications.opi.services import transfer_opis
from applications.tests.opi.helpers import BAC_BYTES, ID_BYTES, admit, confirm, make_candidate, piece
from ecandidat.batches import Report
from ecandidat.downloads import STORAGE_RETRY_AFTER_SECONDS
from offers.tests.factories import PieceTypeFactory

MESSAGE = "This file is temporarily unavailable: try again in a few minutes."
# Session, user, the request's savepoint, the staff's roles, the export locked, the day's pieces with their files,
# then the rollback to and release of the savepoint: no record of the download (test_pieces_screen.py counts 8 for
# the download that succeeds, its record instead of the rollback).
QUERIES_UNAVAILABLE = 8


@pytest.fixture(autouse=True)
def _apogee_with_pieces(settings):
    settings.OPI_BACKEND = "apogee"
    settings.OPI_PIECES = True


@pytest.fixture
def export(campaign, formation, centre_manager, opi_type):
    """A day's files with two PJ-OPI in the storage (Django's in-memory one)."""
    identity, marks = PieceTypeFactory(siscol_code="CNI", is_common=True), PieceTypeFactory(siscol_code="RBAC")
    application = admit(make_candidate(campaign, ine=""), formation, manager=centre_manager, decision_type=opi_type)
    piece(application, identity, ID_BYTES, shared=True)
    piece(application, marks, BAC_BYTES)
    confirm(application)
    return transfer_opis(Report())


def _unreachable(*args, **kwargs):
    raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")


class _CutFile(io.BytesIO):
    """A stored file whose bucket cuts the transfer at the first read (what django-storages' S3File raises then)."""

    def read(self, *args):
        raise RetriesExceededError(ReadTimeoutError(endpoint_url="http://127.0.0.1:9"))


class _FailingDiskFile(io.BytesIO):
    """A stored file on a disk (a network mount) that fails at the first read."""

    def read(self, *args):
        raise OSError(errno.EIO, "Input/output error")


def _cut_open(self, name, mode="rb"):
    return _CutFile(b"")


def _failing_disk_open(self, name, mode="rb"):
    return _FailingDiskFile(b"")


@pytest.mark.parametrize(
    ("method", "failure"),
    [("exists", _unreachable), ("_open", _unreachable), ("_open", _cut_open), ("_open", _failing_disk_open)],
    ids=["exists-unreachable", "open-unreachable", "cut-mid-copy", "io-error-mid-copy"],
)
def test_the_zip_with_the_storage_down_is_a_503_and_not_recorded(
    client, central_manager, export, monkeypatch, mocker, django_assert_num_queries, method, failure
):
    monkeypatch.setattr(InMemoryStorage, method, failure)
    recorded = mocker.spy(opi_admin, "record_collection")
    client.force_login(central_manager)
    client.raise_request_exception = False

    with django_assert_num_queries(QUERIES_UNAVAILABLE):
        response = client.get(reverse("admin:applications_opi_export_zip", args=[export.pk]))

    assert response.status_code == 503
    assert response["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)
    assert MESSAGE in response.content.decode()
    assert not recorded.called
    assert OpiExport.objects.get().collected_at is None


def _gone_from_the_bucket(self, name):
    raise ClientError({"Error": {"Code": "404"}, "ResponseMetadata": {"HTTPStatusCode": 404}}, "HeadObject")


def test_a_file_the_bucket_says_is_gone_is_still_left_out_and_named(client, central_manager, export, monkeypatch):
    monkeypatch.setattr(InMemoryStorage, "exists", _gone_from_the_bucket)
    client.force_login(central_manager)

    response = client.get(reverse("admin:applications_opi_export_zip", args=[export.pk]))

    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    missing = archive.read(MISSING_NOTE).decode()
    assert "ECAB123456_OPI/PJ_CNI_ECAB123456.pdf" in missing
    assert "ECAB123456_OPI/PJ_RBAC_ECAB123456.pdf" in missing
    assert OpiExport.objects.get().collected_at is not None
