"""Asynchronous work on uploaded documents: the antivirus scan, queued after the upload commits; the deletion of
stored files whose rows are gone, queued after the commit that unlinked them (``storage.delete_files_on_commit``)."""

import datetime
import functools

from celery import shared_task

from documents.scanning import scan_stored_document
from documents.storage import delete_until_unreachable
from ecandidat.celery import app, publish_or_leave

# A bucket that could not be reached is tried again this long after, this many times in all; after that, or when the
# broker does not take the task again, the files are left for the nightly ``remove_orphan_files``.
DELETE_ATTEMPTS = 3
DELETE_RETRY_AFTER = datetime.timedelta(minutes=5)


@shared_task(acks_late=True)
def scan_document(document_id: int) -> str | None:
    """Scan one document with clamd (``CLAMD_ADDRESS``). An unreachable daemon leaves the status ``ERROR``:
    staff see it and ``manage.py remove_orphan_files`` does not touch the file. No automatic retry here, so a
    daemon that is down does not pile up tasks: the nightly ``rescan_documents`` retries failed scans."""
    status = scan_stored_document(document_id=document_id)
    return str(status) if status is not None else None


@shared_task(acks_late=True)
def delete_stored_files(names: list[str], attempt: int = 1) -> int:
    """Delete stored files that no row holds any more (the rows' transaction has committed); how many went.

    Stops at the first call the bucket does not answer in time (``storage.delete_until_unreachable``): one time budget
    of the storage per run, well within the task's time limit whatever the number of files. The rest are queued again
    ``DELETE_RETRY_AFTER`` later, up to ``DELETE_ATTEMPTS`` runs; then, or when the broker does not take them, they
    are left for the nightly ``remove_orphan_files``, which deletes every file under its prefixes that no row holds
    (all of these are). Run in-process (``task_always_eager``: ``make run`` without Redis, the tests), a run is not
    queued again: it would wait in the request that committed. Deleting twice (a message delivered again) is
    harmless."""
    deleted, left = delete_until_unreachable(names)
    if left and attempt < DELETE_ATTEMPTS and not app.conf.task_always_eager:
        publish_or_leave(
            functools.partial(
                delete_stored_files.apply_async,
                (left,),
                {"attempt": attempt + 1},
                countdown=DELETE_RETRY_AFTER.total_seconds(),
            ),
            f"{len(left)} stored file(s) not deleted, left for remove_orphan_files",
        )
    return deleted
