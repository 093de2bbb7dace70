"""A file storage that does not answer: every S3 call has a time limit (AWS_S3_CONNECT_TIMEOUT, AWS_S3_READ_TIMEOUT,
two attempts), a download from the bucket is passed on by chunks (never copied whole first), and a storage that
cannot be reached is a 503 page with Retry-After, a missing file still a 404 (ecandidat/downloads.py)."""

import runpy
import socket
import threading

import boto3
import pytest
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from django.conf import settings as django_settings
from django.contrib.auth.models import AnonymousUser
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, storages
from django.http import Http404, StreamingHttpResponse
from django.test import RequestFactory
from django.utils import translation
from moto import mock_aws
from storages.backends.s3 import S3File, S3Storage

from ecandidat.connectivity_checks import _storage_for_check
from ecandidat.downloads import (
    STORAGE_RETRY_AFTER_SECONDS,
    STREAM_CHUNK_BYTES,
    StorageUnavailable,
    StorageUnavailableMiddleware,
    storage_errors,
    stored_file_response,
)

BASE_SETTINGS = django_settings.BASE_DIR / "ecandidat" / "settings" / "base.py"
BUCKET = "ecandidat-pieces"
REGION = "eu-west-3"
MESSAGE = "This file is temporarily unavailable: try again in a few minutes."


def _bucket_settings(monkeypatch, **env) -> dict:
    """STORAGES["default"] as ecandidat.settings.base builds it from these environment variables."""
    monkeypatch.setenv("AWS_STORAGE_BUCKET_NAME", BUCKET)
    monkeypatch.setenv("AWS_S3_REGION_NAME", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ecandidat-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ecandidat-test-secret")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(BASE_SETTINGS))["STORAGES"]["default"]


def _client_config(storage: S3Storage):
    return storage.connection.meta.client.meta.config


def test_the_bucket_client_has_time_limits_and_two_attempts_by_default(monkeypatch):
    monkeypatch.delenv("AWS_S3_CONNECT_TIMEOUT", raising=False)
    monkeypatch.delenv("AWS_S3_READ_TIMEOUT", raising=False)
    storage = storages.create_storage(_bucket_settings(monkeypatch))

    config = _client_config(storage)
    assert (config.connect_timeout, config.read_timeout) == (5, 20)
    assert config.retries == {"total_max_attempts": 2, "mode": "standard"}
    assert storage.max_memory_size == 2 * 1024 * 1024  # a file opened from the bucket goes to disk beyond 2 MiB


def test_the_time_limits_come_from_the_environment(monkeypatch):
    storage = storages.create_storage(
        _bucket_settings(monkeypatch, AWS_S3_CONNECT_TIMEOUT="3", AWS_S3_READ_TIMEOUT="11")
    )

    assert (_client_config(storage).connect_timeout, _client_config(storage).read_timeout) == (3, 11)


def test_the_connection_test_starts_from_the_same_client_configuration(monkeypatch, settings):
    default = _bucket_settings(monkeypatch, AWS_S3_ENDPOINT_URL="http://127.0.0.1:9")
    options = default["OPTIONS"]
    options["client_config"] = options["client_config"].merge(Config(s3={"addressing_style": "path"}))
    settings.STORAGES = {**settings.STORAGES, "default": default}

    config = _client_config(_storage_for_check(2.5))

    assert (config.connect_timeout, config.read_timeout) == (2.5, 2.5)
    assert config.retries["total_max_attempts"] == 1
    assert config.s3 == {"addressing_style": "path"}  # the rest of the storage's configuration is kept


def test_a_bucket_that_never_answers_fails_the_save_instead_of_holding_the_worker(monkeypatch):
    """A listening socket that accepts the connection and never answers, as a bucket in a brownout: the save raises
    once the read time limit is over (twice: two attempts), not after botocore's 3 × 60 s."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        options = _bucket_settings(
            monkeypatch,
            AWS_S3_ENDPOINT_URL=f"http://127.0.0.1:{silent.getsockname()[1]}",
            AWS_S3_CONNECT_TIMEOUT="1",
            AWS_S3_READ_TIMEOUT="1",
        )
        storage = storages.create_storage(options)
        outcome: dict[str, BaseException] = {}

        def save():
            try:
                storage.save("probe.txt", ContentFile(b"probe"))
            except BaseException as error:  # noqa: BLE001  (handed to the test's thread)
                outcome["error"] = error

        thread = threading.Thread(target=save, daemon=True)
        thread.start()
        thread.join(timeout=30)  # generous: the limits say about 2 s

        assert not thread.is_alive(), "the save still waits on a bucket that does not answer"
    assert isinstance(outcome.get("error"), ReadTimeoutError)


# --- streamed from the bucket --------------------------------------------------------------------------------------


@pytest.fixture
def bucket(monkeypatch):
    """moto's in-process S3 with the storage production builds (settings' options, AWS itself: no endpoint)."""
    options = _bucket_settings(monkeypatch)["OPTIONS"]
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield S3Storage(**options)


def test_a_large_object_is_passed_on_by_chunks_never_copied_whole(settings, bucket, monkeypatch):
    settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = ""
    payload = bytes(range(256)) * (5 * 1024 * 1024 // 256)  # 5 MiB
    name = bucket.save("packs/commission.zip", ContentFile(payload))

    def copied_whole(self):
        raise AssertionError("the object was copied whole before the first byte")

    monkeypatch.setattr(S3File, "_get_file", copied_whole)

    response = stored_file_response(name, filename="dossiers.zip", content_type="application/zip", storage=bucket)

    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Length"] == str(len(payload))
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="dossiers.zip"'
    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    chunks = iter(response.streaming_content)
    assert len(next(chunks)) == STREAM_CHUNK_BYTES
    assert next(chunks) + b"".join(chunks) == payload[STREAM_CHUNK_BYTES:]


def test_a_missing_object_is_a_404(settings, bucket):
    settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = ""

    with pytest.raises(Http404):
        stored_file_response("packs/gone.zip", filename="x.zip", content_type="application/zip", storage=bucket)


# --- the storage unreachable ---------------------------------------------------------------------------------------


def _client_error(status: int, code: str) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (FileNotFoundError("gone"), Http404),
        (_client_error(404, "NoSuchKey"), Http404),
        (_client_error(403, "AccessDenied"), StorageUnavailable),
        (_client_error(500, "InternalError"), StorageUnavailable),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), StorageUnavailable),
        (PermissionError("disk"), StorageUnavailable),
    ],
)
def test_storage_errors_tell_a_missing_file_from_an_unreachable_storage(error, expected):
    with pytest.raises(expected), storage_errors():
        raise error


def test_an_unreachable_storage_is_a_503_when_streamed_by_django(settings, monkeypatch):
    settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX = ""
    storage = InMemoryStorage()

    def unreachable(*args, **kwargs):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    monkeypatch.setattr(storage, "open", unreachable)

    with pytest.raises(StorageUnavailable):
        stored_file_response("packs/x.zip", filename="x.zip", content_type="application/zip", storage=storage)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "error",
    [StorageUnavailable("down"), EndpointConnectionError(endpoint_url="x"), _client_error(503, "SlowDown")],
)
def test_the_middleware_answers_503_with_retry_after(error):
    request = RequestFactory().get("/telechargement/")
    request.user = AnonymousUser()

    with translation.override("en"):
        response = StorageUnavailableMiddleware(lambda r: None).process_exception(request, error)

    assert response.status_code == 503
    assert response["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)
    assert response["Cache-Control"] == "no-store"
    assert MESSAGE in response.content.decode()


@pytest.mark.django_db
def test_after_a_form_sent_the_503_says_it_was_not_saved():
    """A piece uploaded while the bucket is down: the request's transaction is rolled back, the page says to send it
    again (not "this file is unavailable", which speaks of a file to download)."""
    request = RequestFactory().post("/pieces/envoyer/")
    request.user = AnonymousUser()

    with translation.override("en"):
        response = StorageUnavailableMiddleware(lambda r: None).process_exception(
            request, EndpointConnectionError(endpoint_url="x")
        )

    assert response.status_code == 503
    page = response.content.decode()
    assert "what you sent was not saved. Send it again in a few minutes." in page
    assert MESSAGE not in page


@pytest.mark.parametrize("error", [_client_error(404, "NoSuchKey"), ValueError("a bug"), Http404()])
def test_the_middleware_leaves_other_errors_alone(error):
    request = RequestFactory().get("/")

    assert StorageUnavailableMiddleware(lambda r: None).process_exception(request, error) is None
