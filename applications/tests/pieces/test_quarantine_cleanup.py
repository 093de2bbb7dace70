"""The quarantine copy never outlives a quarantine that did not happen (``documents.scanning._quarantine``).

The copy under ``quarantine/`` is written before the rows point to it. Two promises had no test that failed without
them (review finding: the copy's deletion made a no-op left every test green): the rows do not commit (a receiver of
``document_quarantined`` fails), or the document changed meanwhile (scanned by someone else): the copy is deleted, and
the original stays, still held by its piece. A copy left there would be a second copy of a candidate's file that no
row holds, until the orphan sweep.
"""

import pytest
from django.utils import timezone

from applications.models import PieceSubmission
from applications.services import pieces as services
from documents import scanning
from documents.enums import ScanStatus
from documents.models import Document
from documents.tests import hostile_files as hostile
from documents.tests.storage import stored_files

SIGNATURE = "Win.Test.EICAR_HDB-1"


@pytest.fixture
def submission(application, piece, django_capture_on_commit_callbacks) -> PieceSubmission:
    """A piece uploaded by the candidate, its file stored (no antivirus configured: not scanned yet)."""
    with django_capture_on_commit_callbacks(execute=True):
        return services.upload_piece(
            application=application,
            piece_type=piece,
            uploaded_file=hostile.valid_pdf_upload(),
            actor=application.created_by,
        )


def _quarantine(document: Document, django_capture_on_commit_callbacks) -> bool:
    with django_capture_on_commit_callbacks(execute=True):
        return scanning._quarantine(
            document, signature=SIGNATURE, recorded={"scanned_at": timezone.now()}, batch=scanning.RESCAN_BATCH
        )


def test_a_quarantine_whose_rows_do_not_commit_deletes_its_copy(
    submission, monkeypatch, django_capture_on_commit_callbacks
):
    """A receiver of ``document_quarantined`` fails (same transaction): nothing commits, the copy goes, the original
    stays where its row points."""
    document = submission.document
    original = document.file.name
    status = document.scan_status
    assert stored_files() == [original]

    def failing_receiver(**kwargs):
        raise RuntimeError("a receiver failed")

    monkeypatch.setattr(scanning.document_quarantined, "send", failing_receiver)
    with pytest.raises(RuntimeError, match="a receiver failed"):
        _quarantine(document, django_capture_on_commit_callbacks)

    assert stored_files() == [original]
    document.refresh_from_db()
    submission.refresh_from_db()
    assert (document.file.name, document.scan_status) == (original, status)
    assert submission.document == document


def test_a_document_scanned_by_someone_else_meanwhile_is_left_alone_without_a_copy(
    submission, monkeypatch, django_capture_on_commit_callbacks
):
    """Between the copy and the lock, another scan records its verdict: ``_quarantine`` does nothing, returns False,
    and deletes the copy it wrote."""
    document = submission.document
    original = document.file.name
    assert document.scan_status != ScanStatus.CLEAN
    copies = []

    def another_scan_meanwhile(name: str) -> None:  # called once the copy is written, before the rows are locked
        copies.append(name)
        Document.objects.filter(pk=document.pk).update(scan_status=ScanStatus.CLEAN)

    monkeypatch.setattr(scanning, "flush", another_scan_meanwhile)

    assert _quarantine(document, django_capture_on_commit_callbacks) is False

    assert copies == [f"quarantine/{original}"]  # the copy was written
    assert stored_files() == [original]
    document.refresh_from_db()
    submission.refresh_from_db()
    assert (document.file.name, document.scan_status, document.scan_detail) == (original, ScanStatus.CLEAN, "")
    assert submission.document == document
