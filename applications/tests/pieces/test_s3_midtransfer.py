"""The bucket failing in the middle of a transfer, after it answered the request: status and Content-Length sent, then
half the body and the connection closed ("cut"), half the body and nothing more ("stall_body"), or no answer at all
to the GET ("stall_headers"). Files read through django-storages' ``open()`` (the dossier PDF, « Mes données », a
piece's template, the decision letter) are downloaded by s3transfer, which raises its own ``RetriesExceededError``
(not botocore's): each of these downloads is the 503 page with Retry-After, never a 500, and a stalled bucket is
given up within botocore's attempts of one GET (``AWS_S3_TRANSFER_CONFIG``), not five times that. An object gone
between open()'s HEAD and the download's GET ("vanished") is a 404, not a 500.

A fault proxy over real sockets between the application and moto_server (a separate process), this module's rule
over ``documents.tests.s3_peer.S3Proxy``; the storage is the one ``ecandidat.settings.base`` builds from the
environment, with 1 s time limits so that a stall is quick. (The one test with no bucket, of that configuration
alone, runs with the unit tests.)"""

import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.urls import reverse

from applications.models import DecisionLetter
from applications.tests.helpers import post_file, released
from documents.tests import hostile_files as hostile
from documents.tests.s3_peer import S3Proxy, call_budget, production_storage
from ecandidat.downloads import STORAGE_RETRY_AFTER_SECONDS
from offers.models import DecisionLetterTemplate

MESSAGE = "This file is temporarily unavailable: try again in a few minutes."
FAULTS = ["cut", "stall_body", "stall_headers"]
# Each fault mode as the proxy's action (``documents.tests.s3_peer.S3Proxy``).
ACTIONS = {"cut": "cut", "stall_body": "stall_body", "stall_headers": "hold", "vanished": "vanished"}


class FaultProxy(S3Proxy):
    """Passes every request on to moto_server; in a fault mode, the GETs of an object (not of a bucket's listing)
    fail as ``mode`` says. A stalled answer is held until ``stop()``."""

    mode = "pass"
    time_budget: float
    botocore_attempts: int

    def plan(self, method: str, key: str) -> str:
        return ACTIONS[self.mode] if method == "GET" and key and self.mode != "pass" else "pass"

    @property
    def faulty_gets(self) -> int:
        return self.count(*ACTIONS.values())


@pytest.fixture
def proxied(s3_server, bucket, settings, monkeypatch):
    """The test's bucket reached through a fault proxy, with production's storage options."""
    proxy = FaultProxy(s3_server.endpoint_url)
    default = production_storage(monkeypatch, bucket=bucket, endpoint_url=proxy.endpoint_url)
    settings.STORAGES = {**settings.STORAGES, "default": default}
    proxy.botocore_attempts, proxy.time_budget = call_budget(default)
    yield proxy
    proxy.stop()


def test_the_production_storage_tries_a_download_once(monkeypatch):
    """s3transfer would repeat a GET whose body the bucket cut or stalled 5 times (its default), each with botocore's
    own attempts: once, as the storage ecandidat.settings.base builds is configured (no bucket needed)."""
    storage = storages.create_storage(production_storage(monkeypatch, bucket="b", endpoint_url="http://127.0.0.1:9"))

    assert storage.transfer_config.num_download_attempts == 1
    assert storage.transfer_config.use_threads  # otherwise django-storages' default


def _faulty_get(client, proxy, url: str, mode: str, queries):
    """GET ``url`` with the bucket failing as ``mode`` says, within ``queries`` (``django_assert_num_queries``);
    checks the 503 page, how long it took, and how many GETs of the object were tried."""
    proxy.mode = mode
    client.raise_request_exception = False
    start = time.monotonic()
    with queries:
        response = client.get(url)
    elapsed = time.monotonic() - start

    assert response.status_code == 503
    assert response["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)
    assert response["Cache-Control"] == "no-store"
    assert MESSAGE in response.content.decode()
    # One transfer attempt: a stalled body costs one read time limit, an answer that never comes botocore's
    # attempts; s3transfer's own five attempts (each with botocore's) took 5 s and 10 s here, 100 s and 250 s with
    # production's limits.
    if mode != "cut":
        assert elapsed < proxy.time_budget
    assert proxy.faulty_gets == (proxy.botocore_attempts if mode == "stall_headers" else 1)
    return response


@pytest.mark.parametrize("mode", FAULTS)
@pytest.mark.integration
def test_dossier_pdf_with_the_bucket_failing_mid_transfer_is_a_503(
    owner, application, piece, proxied, mode, django_assert_num_queries
):
    assert post_file(owner, application, piece, hostile.valid_pdf_upload("relevé.pdf")).status_code == 302

    queries = django_assert_num_queries(18)  # as any dossier of one piece, and the rollback to the savepoint
    _faulty_get(owner, proxied, reverse("pieces:dossier_pdf", args=[application.public_id]), mode, queries)


@pytest.mark.parametrize("mode", FAULTS)
@pytest.mark.integration
def test_my_data_with_the_bucket_failing_mid_transfer_is_a_503(
    owner, application, piece, proxied, mode, django_assert_num_queries
):
    assert post_file(owner, application, piece, hostile.valid_pdf_upload("relevé.pdf")).status_code == 302

    queries = django_assert_num_queries(21)  # as the archive, and the rollback to the savepoint
    _faulty_get(owner, proxied, reverse("applications:my_data_download"), mode, queries)


@pytest.mark.parametrize("mode", FAULTS)
@pytest.mark.integration
def test_piece_template_with_the_bucket_failing_mid_transfer_is_a_503(
    owner, piece, proxied, mode, django_assert_num_queries
):
    piece.template = default_storage.save("templates/modele.pdf", ContentFile(hostile.pdf_bytes()))
    piece.save()

    queries = django_assert_num_queries(6)  # as with the disk failing (test_disk_faults_elsewhere.py)
    _faulty_get(owner, proxied, reverse("pieces:template_download", args=[piece.pk]), mode, queries)


@pytest.fixture
def letter_on_s3(formation, campaign, centre_manager, centre, proxied, django_capture_on_commit_callbacks):
    """A released admission whose letter was built into the bucket (through the proxy, passing everything)."""
    DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.ADMISSION, centre=centre, title="Lettre", body="Vous êtes admis(e)."
    )
    with django_capture_on_commit_callbacks(execute=True):
        application = released(formation, campaign, centre_manager)
    assert default_storage.exists(DecisionLetter.objects.get().file.name)
    return application


@pytest.mark.parametrize("mode", FAULTS)
@pytest.mark.integration
def test_candidate_letter_with_the_bucket_failing_mid_transfer_is_a_503(
    client, letter_on_s3, proxied, mode, django_assert_num_queries
):
    client.force_login(letter_on_s3.candidate.user)

    queries = django_assert_num_queries(9)  # as with the disk failing (test_disk_faults_elsewhere.py)
    _faulty_get(client, proxied, reverse("applications:letter", args=[letter_on_s3.public_id]), mode, queries)


def _gone_get(client, proxy, url: str):
    """GET ``url`` with the object gone from the bucket between open()'s HEAD and the download's GET: FileResponse
    downloads it as it reads its size, and the bucket's 404 then is the view's 404, not a 500."""
    proxy.mode = "vanished"
    client.raise_request_exception = False

    response = client.get(url)

    assert response.status_code == 404
    assert proxy.faulty_gets == 1


@pytest.mark.integration
def test_a_template_gone_between_the_check_and_the_download_is_a_404(owner, piece, proxied):
    piece.template = default_storage.save("templates/modele.pdf", ContentFile(hostile.pdf_bytes()))
    piece.save()

    _gone_get(owner, proxied, reverse("pieces:template_download", args=[piece.pk]))


@pytest.mark.integration
def test_a_letter_gone_between_the_check_and_the_download_is_a_404(client, letter_on_s3, proxied):
    """(Its next request finds it missing at open() and builds it again, ``open_letter``.)"""
    client.force_login(letter_on_s3.candidate.user)

    _gone_get(client, proxied, reverse("applications:letter", args=[letter_on_s3.public_id]))


@pytest.mark.integration
def test_the_same_downloads_pass_through_the_proxy_when_the_bucket_answers(owner, application, piece, proxied):
    """The proxy itself is sound: with no fault, the dossier PDF is built from the bucket."""
    assert post_file(owner, application, piece, hostile.valid_pdf_upload("relevé.pdf")).status_code == 302

    response = owner.get(reverse("pieces:dossier_pdf", args=[application.public_id]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")
