"""Pieces on S3 for real: the candidate's upload, download, dossier PDF, "Mes données" and the nightly destruction
against an S3-compatible server (moto_server, a separate process), with the storage options production uses."""

import datetime
import io
import zipfile

import pytest
from django.urls import reverse
from pypdf import PdfReader

from applications.models import PieceSubmission
from applications.services import nightly
from applications.tests.helpers import post_file
from documents.models import Document
from documents.tests import hostile_files as hostile
from ecandidat.batches import Report

pytestmark = pytest.mark.integration


def _keys(s3_server, bucket) -> list[str]:
    return [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_upload_lands_in_the_bucket_as_a_private_object(owner, application, piece, s3_server, bucket):
    response = post_file(owner, application, piece, hostile.valid_pdf_upload("relevé.pdf"))

    assert response.status_code == 302
    document = Document.objects.get()
    assert _keys(s3_server, bucket) == [document.file.name]
    stored = s3_server.client().get_object(Bucket=bucket, Key=document.file.name)["Body"].read()
    assert stored == hostile.pdf_bytes()
    grants = s3_server.client().get_object_acl(Bucket=bucket, Key=document.file.name)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]  # the owner only: no AllUsers, no AuthenticatedUsers
    assert all(g["Grantee"]["Type"] == "CanonicalUser" for g in grants)


def test_download_is_streamed_through_the_application_never_a_bucket_url(owner, application, piece, s3_server, bucket):
    post_file(owner, application, piece, hostile.valid_pdf_upload("relevé.pdf"))
    submission = PieceSubmission.objects.get()

    response = owner.get(reverse("pieces:download", args=[submission.public_id]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == hostile.pdf_bytes()
    assert response["Content-Disposition"].startswith("attachment;")
    headers = " ".join(f"{k}: {v}" for k, v in response.headers.items())
    assert s3_server.endpoint_url not in headers
    assert bucket not in headers


def test_dossier_pdf_reads_the_pieces_from_the_bucket(owner, application, piece, bucket):
    post_file(owner, application, piece, hostile.valid_pdf_upload("relevé.pdf"))

    response = owner.get(reverse("pieces:dossier_pdf", args=[application.public_id]))

    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) >= 2  # the summary pages, then the piece


def test_my_data_archive_holds_the_file_from_the_bucket(owner, application, piece, bucket):
    post_file(owner, application, piece, hostile.valid_pdf_upload("relevé.pdf"))

    response = owner.get(reverse("applications:my_data_download"))

    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert hostile.pdf_bytes() in [archive.read(name) for name in archive.namelist()]


def test_nightly_destruction_deletes_the_objects(
    owner, application, piece, candidate_user, s3_server, bucket, settings, django_capture_on_commit_callbacks
):
    post_file(owner, application, piece, hostile.valid_pdf_upload("relevé.pdf"))
    assert len(_keys(s3_server, bucket)) == 1
    campaign = candidate_user.campaign
    today = datetime.date(2040, 1, 1)
    settings.ARCHIVE_RETENTION_DAYS = 365
    type(campaign).objects.filter(pk=campaign.pk).update(is_active=False, archive_on=today - datetime.timedelta(400))

    with django_capture_on_commit_callbacks(execute=True):  # files are deleted once the rows are
        nightly.destroy_archived_campaigns(Report(), dry_run=False, limit=None, today=today)

    assert not Document.objects.exists()
    assert _keys(s3_server, bucket) == []
