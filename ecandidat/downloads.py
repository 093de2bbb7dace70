"""Downloads of large stored files (the commission packs: up to ~1.7 GB for 500 dossiers), after the view has
checked who may have them.

By default the file is streamed by Django (``FileResponse``). A sync gunicorn worker is killed at its ``timeout``
(deploy/gunicorn.conf.py): a download still streaming then is cut, and nginx buffers at most 1 GB of an answer to
disk (``proxy_max_temp_file_size``), so a large file to a slow line holds the worker until it is killed. With
``DOWNLOAD_ACCEL_REDIRECT_PREFIX`` set, the view answers at once with an empty response whose ``X-Accel-Redirect``
names the file for nginx's ``internal`` location under that prefix (deploy/nginx.conf.example), which sends it however
long it takes:

- files on the local disk (FileSystemStorage): ``<prefix><name>``, a location whose alias is MEDIA_ROOT;
- files on S3 (django-storages, signed URLs): ``<prefix><scheme>/<host>/<path>?<query>`` of a URL of the object
  signed for ``PRESIGNED_URL_SECONDS``, a location that proxies to it. nginx asks the bucket at once and the browser
  never sees that URL: the bucket is reached only through the application's access check. The file's Content-Type
  and Content-Disposition travel in the signed URL (the bucket answers with them), not in Django's answer: nginx
  would keep Django's on its own error page too, and a browser would save that page as the pack.

Any other storage (Django's in-memory one in tests, an S3 storage configured without signed URLs) is streamed as
before, whatever the prefix (``ecandidat.W004`` says so at start). Streamed from a bucket, the object is passed on by
chunks as the bucket sends it (django-storages' ``open()`` would first copy it whole into memory or a temporary file).

A storage that cannot be reached or refuses (the bucket down or slow beyond ``AWS_S3_READ_TIMEOUT``, a disk error,
a transfer the bucket cut or stalled mid-way: s3transfer's ``RetriesExceededError`` from ``open()``'s download) is
``StorageUnavailable``: ``StorageUnavailableMiddleware`` answers it, wherever a view meets it, with a 503 page that
says to try again in a few minutes (``Retry-After``), never a 500; a file missing from the storage stays a 404."""

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any, TypeGuard
from urllib.parse import quote, urlsplit

from boto3 import exceptions as boto3_errors
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]
from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from s3transfer import exceptions as transfer_errors  # type: ignore[import-untyped]
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

logger = logging.getLogger(__name__)

# nginx requests the signed URL as soon as it reads Django's answer, so it need not live longer than a request; the
# margin covers clock skew between this host and the bucket's.
PRESIGNED_URL_SECONDS = 60
# What the 503 page's Retry-After says: a bucket's outage rarely ends within seconds.
STORAGE_RETRY_AFTER_SECONDS = 120
# The pieces of an object passed on as the bucket sends them.
STREAM_CHUNK_BYTES = 64 * 1024
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
# What boto3's transfers (django-storages' open() then read, its save()) raise when the bucket fails them: plain
# Exceptions, not botocore's. A GET whose body the bucket cut or stalled (a read timeout) is tried again by
# s3transfer (AWS_S3_TRANSFER_CONFIG), then RetriesExceededError; a missing object stays botocore's 404 ClientError.
_TRANSFER_FAILURES = (
    transfer_errors.RetriesExceededError,
    transfer_errors.S3DownloadFailedError,
    transfer_errors.S3UploadFailedError,
    boto3_errors.RetriesExceededError,
    boto3_errors.S3TransferFailedError,
    boto3_errors.S3UploadFailedError,
)


class StorageUnavailable(Exception):
    """The storage could not be reached or refused a file that it should have (not a missing file)."""


def is_missing(error: ClientError) -> bool:
    """Whether the bucket said the object is not there (as opposed to refusing or failing)."""
    answer = error.response
    return (
        answer.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404
        or answer.get("Error", {}).get("Code") in _MISSING_CODES
    )


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """Reading a stored file: a missing file is ``Http404``; a storage that cannot be reached or refuses (botocore's
    errors, a transfer that failed mid-way, an ``OSError`` other than a missing file) is ``StorageUnavailable``."""
    try:
        yield
    except FileNotFoundError as error:
        raise Http404 from error
    except ClientError as error:
        if is_missing(error):
            raise Http404 from error
        raise StorageUnavailable(f"{type(error).__name__}: {error}") from error
    except (BotoCoreError, OSError, *_TRANSFER_FAILURES) as error:
        raise StorageUnavailable(f"{type(error).__name__}: {error}") from error


def storage_unavailable_page(request: HttpRequest) -> HttpResponse:
    """503 « this file is unavailable for a moment, try again in a few minutes », with ``Retry-After``; after a form
    sent (a piece uploaded while the bucket is down), that what was sent was not saved (the request's transaction
    was rolled back) and must be sent again."""
    context = {"sent": request.method == "POST"}
    response = render(request, "ecandidat/storage_unavailable.html", context, status=503)
    response["Retry-After"] = str(STORAGE_RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def _storage_failure(exception: Exception) -> bool:
    if isinstance(exception, ClientError):
        return not is_missing(exception)
    return isinstance(exception, (StorageUnavailable, BotoCoreError, *_TRANSFER_FAILURES))


class StorageUnavailableMiddleware:
    """The storage unreachable or refusing while a view reads a file (``StorageUnavailable``, or botocore's own error
    from a read no view wraps, such as a decision letter's): the 503 page instead of a 500. A missing object (a
    botocore 404) is left to the view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not _storage_failure(exception):
            return None
        logger.warning("storage unavailable on %s: %s: %s", request.path, type(exception).__name__, exception)
        return storage_unavailable_page(request)


class _ObjectBody:
    """An S3 object's body passed on by chunks; closed (its connection back to the pool) with the response."""

    def __init__(self, body: Any):
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        return self._body.iter_chunks(STREAM_CHUNK_BYTES)

    def close(self) -> None:
        self._body.close()


def streamed_file_response(
    name: str, *, filename: str, content_type: str, storage: Storage | None = None
) -> StreamingHttpResponse | FileResponse:
    """The stored file ``name`` streamed by Django as an attachment called ``filename``, never cached, never sniffed.
    From a bucket, one GET whose body is passed on by chunks (no copy of the object in memory or on disk first); from
    any other storage, its file (``FileResponse``). Missing: ``Http404``; storage unreachable: ``StorageUnavailable``
    (the 503 page)."""
    storage = default_storage if storage is None else storage
    response: StreamingHttpResponse | FileResponse
    if isinstance(storage, S3Storage):
        with storage_errors():
            answer = storage.bucket.Object(storage._normalize_name(clean_name(name))).get()
        response = StreamingHttpResponse(_ObjectBody(answer["Body"]), content_type=content_type)
        response["Content-Length"] = str(answer["ContentLength"])
        response["Content-Disposition"] = content_disposition_header(True, filename)
    else:
        with storage_errors():
            handle = storage.open(name, "rb")
        response = FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


def signs_urls(storage: Storage) -> TypeGuard[S3Storage]:
    """Whether ``storage`` is a bucket whose objects get a signed URL (query-string authentication on the bucket's own
    endpoint): the only URLs nginx can be sent to for a private object."""
    return isinstance(storage, S3Storage) and bool(storage.querystring_auth) and not storage.custom_domain


def stored_file_response(
    name: str, *, filename: str, content_type: str, storage: Storage | None = None
) -> HttpResponse | StreamingHttpResponse | FileResponse:
    """The stored file ``name`` as an attachment called ``filename`` (RFC 5987 beyond ASCII), never cached, never
    sniffed; 404 when the file is missing from the storage, 503 when the storage cannot be reached. Handed to nginx by
    ``X-Accel-Redirect`` when the prefix is set and the storage is this disk's or a bucket with signed URLs, streamed
    otherwise (``streamed_file_response``)."""
    storage = default_storage if storage is None else storage
    prefix = settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX
    response: HttpResponse
    if prefix and isinstance(storage, FileSystemStorage):
        # path() refuses a name leading out of the storage (SuspiciousFileOperation). A missing file is the same 404
        # as when streamed, Django's page, not nginx's.
        if not os.path.isfile(storage.path(name)):
            raise Http404
        response = HttpResponse(content_type=content_type)
        response["Content-Disposition"] = content_disposition_header(True, filename)
        # Storage names use "/" whatever the system; nginx decodes the escaped URI (nginx >= 1.5.9).
        response["X-Accel-Redirect"] = prefix + quote(name, safe="/")
    elif prefix and signs_urls(storage):
        # One HEAD request to the bucket, so that a pack whose object is gone is Django's 404 as when streamed.
        with storage_errors():
            found = storage.exists(name)
        if not found:
            raise Http404
        parameters = {
            "ResponseContentType": content_type,
            "ResponseContentDisposition": content_disposition_header(True, filename),
        }
        url = urlsplit(storage.url(name, parameters=parameters, expire=PRESIGNED_URL_SECONDS))
        response = HttpResponse(content_type=content_type)
        # The path as signed (already escaped) is escaped once more: nginx decodes X-Accel-Redirect's path, and its
        # location passes what it captured to the bucket as is, so the bucket gets the very bytes that were signed.
        # The query (the signature) is left alone: nginx passes it on without decoding it.
        response["X-Accel-Redirect"] = f"{prefix}{url.scheme}/{url.netloc}{quote(url.path, safe='/')}?{url.query}"
    else:
        return streamed_file_response(name, filename=filename, content_type=content_type, storage=storage)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
