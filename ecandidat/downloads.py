"""Downloads of large stored files (the commission packs: up to ~1.7 GB for 500 dossiers), after the view has
checked who may have them.

By default the file is streamed by Django (``FileResponse``). A sync gunicorn worker is killed at its ``timeout``
(deploy/gunicorn.conf.py): a download still streaming then is cut, and nginx buffers at most 1 GB of an answer to
disk (``proxy_max_temp_file_size``), so a large file to a slow line holds the worker until it is killed. With
``DOWNLOAD_ACCEL_REDIRECT_PREFIX`` set and files on the local disk (FileSystemStorage), the view answers at once
with an empty response whose ``X-Accel-Redirect`` names the file under that prefix; nginx's ``internal`` location
(deploy/nginx.conf.example) sends it from disk, however long it takes. Files on S3 are streamed as before (the
prefix is then ignored, ``ecandidat.W004``)."""

import os
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.utils.http import content_disposition_header


def stored_file_response(
    name: str, *, filename: str, content_type: str, storage: Storage | None = None
) -> HttpResponse | FileResponse:
    """The stored file ``name`` as an attachment called ``filename`` (RFC 5987 beyond ASCII), never cached, never
    sniffed; 404 when the file is missing from the storage. Handed to nginx by ``X-Accel-Redirect`` when the
    prefix is set and the storage is this disk's, streamed otherwise."""
    storage = default_storage if storage is None else storage
    response: HttpResponse | FileResponse
    if settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX and isinstance(storage, FileSystemStorage):
        # path() refuses a name leading out of the storage (SuspiciousFileOperation). A missing file is the same 404
        # as when streamed, Django's page, not nginx's.
        if not os.path.isfile(storage.path(name)):
            raise Http404
        response = HttpResponse(content_type=content_type)
        response["Content-Disposition"] = content_disposition_header(True, filename)
        # Storage names use "/" whatever the system; nginx decodes the escaped URI (nginx >= 1.5.9).
        response["X-Accel-Redirect"] = settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX + quote(name, safe="/")
    else:
        try:
            handle = storage.open(name, "rb")
        except FileNotFoundError as error:
            raise Http404 from error
        response = FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
