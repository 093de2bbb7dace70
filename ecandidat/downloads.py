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
before, whatever the prefix (``ecandidat.W004`` says so at start)."""

import os
from typing import TypeGuard
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage

# nginx requests the signed URL as soon as it reads Django's answer, so it need not live longer than a request; the
# margin covers clock skew between this host and the bucket's.
PRESIGNED_URL_SECONDS = 60


def signs_urls(storage: Storage) -> TypeGuard[S3Storage]:
    """Whether ``storage`` is a bucket whose objects get a signed URL (query-string authentication on the bucket's own
    endpoint): the only URLs nginx can be sent to for a private object."""
    return isinstance(storage, S3Storage) and bool(storage.querystring_auth) and not storage.custom_domain


def stored_file_response(
    name: str, *, filename: str, content_type: str, storage: Storage | None = None
) -> HttpResponse | FileResponse:
    """The stored file ``name`` as an attachment called ``filename`` (RFC 5987 beyond ASCII), never cached, never
    sniffed; 404 when the file is missing from the storage. Handed to nginx by ``X-Accel-Redirect`` when the
    prefix is set and the storage is this disk's or a bucket with signed URLs, streamed otherwise."""
    storage = default_storage if storage is None else storage
    prefix = settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX
    response: HttpResponse | FileResponse
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
        if not storage.exists(name):
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
        try:
            handle = storage.open(name, "rb")
        except FileNotFoundError as error:
            raise Http404 from error
        response = FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
