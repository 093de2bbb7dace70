"""The file storage failing under the pieces, the letters and the nightly destruction: a bucket that cannot be reached
is a 503 page with Retry-After on a download (candidate and staff), never a 500, while a missing object stays a 404;
a bucket that refuses a deletion neither stops the destruction of archived campaigns nor fails a letter's rebuild
(the file is left for remove_orphan_files). Downloads run against moto_server (a separate process), then the same
bucket's endpoint switched to a closed port."""

import datetime

import pytest
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError, EndpointConnectionError  # type: ignore[import-untyped]
from botocore.response import StreamingBody  # type: ignore[import-untyped]
from django.core.files.storage import InMemoryStorage
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from applications.letters import build_letter
from applications.models import DecisionLetter, PieceSubmission
from applications.services import nightly
from applications.tests.factories_candidature import application_of
from applications.tests.helpers import post_file, released, upload_pdf
from documents.models import Document
from documents.tests import hostile_files as hostile
from ecandidat.batches import Report
from ecandidat.downloads import STORAGE_RETRY_AFTER_SECONDS, STREAM_CHUNK_BYTES
from ecandidat.tests.plugins.services import free_port
from offers.models import DecisionLetterTemplate

MESSAGE = "This file is temporarily unavailable: try again in a few minutes."
# Connection refused at once; one attempt: the test does not wait on botocore's back-off.
QUICK_FAILURE = Config(connect_timeout=2, read_timeout=2, retries={"total_max_attempts": 1})


def _bucket_unreachable(settings) -> None:
    """The same bucket, its endpoint now a port where nothing listens (the bucket down)."""
    default = settings.STORAGES["default"]
    options = {**default["OPTIONS"], "endpoint_url": f"http://127.0.0.1:{free_port()}", "client_config": QUICK_FAILURE}
    settings.STORAGES = {**settings.STORAGES, "default": {**default, "OPTIONS": options}}


def _assert_unavailable_page(response) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)
    assert response["Cache-Control"] == "no-store"
    assert MESSAGE in response.content.decode()


# --- piece downloads ------------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_candidate_download_is_streamed_from_the_bucket_by_chunks(
    owner, application, piece, s3_server, bucket, django_assert_num_queries
):
    post_file(owner, application, piece, hostile.valid_pdf_upload("relevé.pdf"))
    submission = PieceSubmission.objects.get()

    with django_assert_num_queries(5):  # session, user, request savepoints, piece, session save of the messages
        response = owner.get(reverse("pieces:download", args=[submission.public_id]))

    assert isinstance(response, StreamingHttpResponse)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(hostile.pdf_bytes()))
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == hostile.pdf_bytes()


@pytest.mark.integration
def test_a_large_object_is_read_from_the_bucket_as_it_is_sent(
    settings, owner, application, piece, s3_server, bucket, monkeypatch
):
    """A multi-MB object: the first chunk reaches the client while most of the body is still unread on the bucket's
    connection (django-storages' open() read it whole into memory first)."""
    post_file(owner, application, piece, hostile.valid_pdf_upload("relevé.pdf"))
    submission = PieceSubmission.objects.get()
    payload = bytes(range(256)) * (8 * 1024 * 1024 // 256)  # 8 MiB
    s3_server.client().put_object(Bucket=bucket, Key=submission.document.file.name, Body=payload)
    read: list[int] = []
    original_read = StreamingBody.read

    def counting_read(self, amt=None):
        data = original_read(self, amt)
        read.append(len(data))
        return data

    monkeypatch.setattr(StreamingBody, "read", counting_read)

    response = owner.get(reverse("pieces:download", args=[submission.public_id]))
    chunks = iter(response.streaming_content)
    first = next(chunks)

    assert len(first) == STREAM_CHUNK_BYTES
    assert sum(read) < len(payload) // 4
    assert first + b"".join(chunks) == payload
    assert response["Content-Length"] == str(len(payload))


@pytest.mark.integration
def test_candidate_download_with_the_bucket_down_is_a_503(
    settings, owner, application, piece, s3_server, bucket, django_assert_num_queries
):
    post_file(owner, application, piece, hostile.valid_pdf_upload("relevé.pdf"))
    submission = PieceSubmission.objects.get()
    _bucket_unreachable(settings)

    with django_assert_num_queries(6):  # session, user, savepoint, piece, rollback to and release of the savepoint
        response = owner.get(reverse("pieces:download", args=[submission.public_id]))

    _assert_unavailable_page(response)


@pytest.mark.integration
def test_staff_download_with_the_bucket_down_is_a_503(
    settings, client, owner, application, piece, centre_manager, s3_server, bucket, django_assert_num_queries
):
    post_file(owner, application, piece, hostile.valid_pdf_upload("relevé.pdf"))
    submission = PieceSubmission.objects.get()
    _bucket_unreachable(settings)
    client.force_login(centre_manager)

    with django_assert_num_queries(7):
        response = client.get(reverse("pieces:staff_download", args=[submission.public_id]))

    _assert_unavailable_page(response)


@pytest.mark.integration
def test_an_object_missing_from_the_bucket_is_still_a_404(
    owner, application, piece, s3_server, bucket, django_assert_num_queries
):
    post_file(owner, application, piece, hostile.valid_pdf_upload("relevé.pdf"))
    submission = PieceSubmission.objects.get()
    s3_server.client().delete_object(Bucket=bucket, Key=submission.document.file.name)

    with django_assert_num_queries(6):  # session, user, savepoint, piece, rollback to and release of the savepoint
        response = owner.get(reverse("pieces:download", args=[submission.public_id]))

    assert response.status_code == 404


# --- decision letters -----------------------------------------------------------------------------------------------


@pytest.fixture
def admission_text(centre):
    return DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.ADMISSION,
        centre=centre,
        title="Lettre d'admission",
        body="Vous êtes admis(e) en ${formation_title}.",
    )


@pytest.fixture
def with_letter(formation, campaign, centre_manager, admission_text, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        application = released(formation, campaign, centre_manager)
    assert DecisionLetter.objects.get().file
    return application


def _refused(*args, **kwargs):
    raise ClientError({"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "DeleteObject")


def test_a_bucket_refusing_to_delete_the_former_letter_does_not_fail_its_rebuild(
    client, with_letter, centre_manager, monkeypatch, django_capture_on_commit_callbacks
):
    old = DecisionLetter.objects.get().file.name
    monkeypatch.setattr(InMemoryStorage, "delete", _refused)
    client.force_login(centre_manager)
    operation = reverse("admin:applications_application_operation", args=[with_letter.pk, "regenerate_letter"])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(operation)

    assert response.status_code == 302
    assert callbacks  # the former file's deletion was attempted after the commit, and refused
    letter = DecisionLetter.objects.get()
    assert letter.file.name != old
    assert letter.file.storage.exists(letter.file.name)


def test_candidate_letter_with_the_storage_down_is_a_503(client, with_letter, monkeypatch):
    build_letter(DecisionLetter.objects.get().pk)

    def unreachable(self, name, mode="rb"):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    monkeypatch.setattr(InMemoryStorage, "_open", unreachable)
    client.force_login(with_letter.candidate.user)

    response = client.get(reverse("applications:letter", args=[with_letter.public_id]))

    _assert_unavailable_page(response)


# --- the nightly destruction ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_destruction_goes_on_when_the_bucket_refuses_deletions(
    candidate_user, other_candidate_user, formation, piece, settings, monkeypatch
):
    """Each chunk's files go after its commit (at once here: no test transaction around it); the storage failing
    on each counts the files left for remove_orphan_files, and every chunk and campaign is still destroyed."""
    for user in (candidate_user, other_candidate_user):
        upload_pdf(application_of(user, formation), piece)
    assert Document.objects.count() == 2
    monkeypatch.setattr(nightly, "CHUNK", 1)  # one candidate a chunk: two chunks

    def unreachable(self, name):
        raise EndpointConnectionError(endpoint_url="x")

    monkeypatch.setattr(InMemoryStorage, "delete", unreachable)
    campaign = candidate_user.campaign
    today = datetime.date(2040, 1, 1)
    settings.ARCHIVE_RETENTION_DAYS = 365
    type(campaign).objects.filter(pk=campaign.pk).update(is_active=False, archive_on=today - datetime.timedelta(400))
    report = Report()

    with translation.override("fr"):  # the institution's language, as manage.py nightly runs
        nightly.destroy_archived_campaigns(report, dry_run=False, limit=None, today=today)

    assert not User.objects.filter(campaign=campaign).exists()
    assert not Document.objects.exists()
    assert report.counts["campaigns destroyed"] == 1
    assert report.counts["files left for remove_orphan_files"] == 2
    assert len(report.errors) == 2  # one line a chunk
    assert "EndpointConnectionError" in report.errors[0]
    # In French, as the batch history shows it to the central office.
    assert report.errors[0].startswith("1 fichier non supprimé, laissé à remove_orphan_files : ")
