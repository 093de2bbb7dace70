"""Asynchronous work on uploaded documents: the antivirus scan, queued after the upload commits."""

from celery import shared_task

from documents.scanning import scan_stored_document


@shared_task(acks_late=True)
def scan_document(document_id: int) -> str | None:
    """Scan one document with clamd (``CLAMD_ADDRESS``). An unreachable daemon leaves the status ``ERROR``:
    staff see it and ``manage.py remove_orphan_files`` does not touch the file. No automatic retry here, so a
    daemon that is down does not pile up tasks: the nightly ``rescan_documents`` retries failed scans."""
    status = scan_stored_document(document_id=document_id)
    return str(status) if status is not None else None
