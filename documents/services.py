"""Storing an uploaded file (ecandidat-features §1.7; security reference A.3 and A.7).

Durability rules, for every caller:
- the file is validated, written and flushed to storage (``store_upload``) before the rows that point to it
  commit; the caller deletes it at once (``delete_quietly``) if its database write fails, and a crash in between
  leaves an orphan that ``remove_orphan_files`` deletes; the disk failing during the write or the flush deletes
  what was written and raises ``StorageUnavailable`` (the 503 page); the bucket not answering in time raises it too,
  and what it may hold of the file is left to ``remove_orphan_files`` (``_write``);
- a file that is replaced or removed is deleted from storage only after the commit that unlinks it
  (``documents.storage.delete_document``), by the worker when it is in a bucket.

What a file is for (a requested piece of an application) is the business of the layer above.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy

from documents import antivirus
from documents.enums import ScanStatus
from documents.merge import merge_photos
from documents.models import Document, document_path
from documents.storage import delete_quietly, flush, storage_unreachable
from documents.tasks import scan_document
from documents.validation import validate_upload
from ecandidat.downloads import StorageUnavailable
from ecandidat.exceptions import BusinessRuleError
from ecandidat.maintenance import uploads_state

if TYPE_CHECKING:
    from accounts.models import User


class UploadRefused(BusinessRuleError):
    """The uploaded file failed validation; the message says why."""


class UploadsPaused(BusinessRuleError):
    """The piece uploads are in maintenance (``check_uploads_open``); the message says so, in the page's language.
    The central office's own message, when there is one, is apart in ``staff_message``: their words, in French, which
    a page shows in an element of its own marked French (RGAA 8.7), not inside the translated sentence."""

    def __init__(self, message: str, *, staff_message: str = "") -> None:
        super().__init__(message)
        self.staff_message = staff_message


UPLOADS_PAUSED = gettext_lazy(
    "The supporting documents are in maintenance: nothing was changed. Please try again later."
)


def check_uploads_open() -> None:
    """eCandidat ``TECH_IS_DEMAT_MAINTENANCE``: while the central office has put the piece uploads in maintenance
    (the file storage is down), a candidate's upload, replacement or removal of a file is refused before the file
    is validated or stored. Staff uploads do not call this. Reads the cached switch (``ecandidat.maintenance``): no
    query once it is cached.

    Raises ``UploadsPaused`` (a ``BusinessRuleError``).
    """
    paused, message = uploads_state()
    if paused:
        raise UploadsPaused(str(UPLOADS_PAUSED), staff_message=message.strip())


def store_upload(uploaded_file: UploadedFile | Sequence[UploadedFile], *, campaign_code: str, actor: User) -> Document:
    """Validate ``uploaded_file``, write and flush it to storage, and return its ``Document``, not saved yet.

    Several files (photos of one document) are first merged into one PDF (``documents.merge``), which is then
    validated and stored like any uploaded PDF; a sequence of one file is that file.

    Raises ``UploadRefused`` (a ``BusinessRuleError``) for a refused file. The caller saves the document inside
    its own transaction, calls ``queue_scan`` there, and ``storage.delete_quietly(stored_name(document))`` if
    that transaction fails.
    """
    try:
        if isinstance(uploaded_file, Sequence):
            uploaded_file = uploaded_file[0] if len(uploaded_file) == 1 else merge_photos(uploaded_file)
        validated = validate_upload(uploaded_file)
    except ValidationError as error:
        raise UploadRefused(" ".join(error.messages)) from error
    document = Document(
        campaign_code=campaign_code,
        original_name=validated.original_name,
        size=validated.size,
        content_type=validated.content_type,
        sha256=validated.sha256,
        uploaded_by=actor,
        scan_status=ScanStatus.PENDING if antivirus.is_configured() else ScanStatus.NOT_SCANNED,
    )
    document.file.name = _write(document_path(document, "piece" + validated.extension), validated.content)
    return document


def _write(path: str, content: bytes) -> str:
    """Save and flush ``content`` as ``path`` (a new uuid name: nobody else's file) and return the stored name. The
    local disk failing (full, an I/O error, at the write or at the flush) is ``StorageUnavailable``, the 503 page
    « rien n'a été enregistré, envoyez-le à nouveau », as the bucket down already is (botocore's errors), not a 500;
    whatever part of the file was written is deleted at once rather than left to the orphan sweep.

    Not when the bucket could not be reached in time (``storage_unreachable``: its HEAD or its PUT timed out, the
    connection refused or cut): deleting then would wait as long again in the request (2 × (connect + read) each, up
    to 100 s with the defaults: gunicorn killed the worker at 60 s, a 502 instead of this page). An object the PUT may
    have left is ``remove_orphan_files``'s: it is under the campaign's prefix (``document_path``), which the sweep
    walks, and no row holds its name (the ``Document`` is never saved), so the nightly sweep deletes it."""
    name = path
    try:
        name = default_storage.save(path, ContentFile(content))
        flush(name)
    except OSError as error:
        if not storage_unreachable(error):
            delete_quietly(name)
        raise StorageUnavailable(f"{type(error).__name__}: {error}") from error
    return name


def queue_scan(document: Document) -> None:
    """Queue the antivirus scan of a saved document once the current transaction commits (if clamd is set)."""
    if document.scan_status == ScanStatus.PENDING:
        scan_document.delay_on_commit(document.pk)
