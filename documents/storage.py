"""Where stored files go and how they leave: names, deletion after commit, fsync."""

import functools
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from botocore.exceptions import ConnectionError as BotocoreConnectionError  # type: ignore[import-untyped]
from botocore.exceptions import HTTPClientError
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import transaction

from documents.models import Document
from ecandidat.celery import registered_task

logger = logging.getLogger(__name__)

# The worker's task that deletes the files of rows gone (documents.tasks imports this module: queued by its name).
DELETE_TASK = "documents.tasks.delete_stored_files"

QUARANTINE_PREFIX = "quarantine"

# Files that higher layers store outside the campaigns' prefixes (decision letters, commission packs), by prefix:
# what their rows hold, so that ``remove_orphan_files`` also sweeps what a rolled-back build left behind.
_FILE_OWNERS: dict[str, Callable[[], Iterable[str]]] = {}


def register_file_owner(prefix: str, held_names: Callable[[], Iterable[str]]) -> None:
    """Declare that the files under ``prefix`` (ending with "/") belong to rows ``held_names()`` lists."""
    assert prefix.endswith("/"), prefix
    _FILE_OWNERS[prefix] = held_names


def file_owners() -> dict[str, Callable[[], Iterable[str]]]:
    return dict(_FILE_OWNERS)


def stored_name(document: Document) -> str:
    """The storage name of a saved document's file. ``FieldFile.name`` is Optional for unsaved files; a row read
    from the database always has one (the column is NOT NULL)."""
    name = document.file.name
    assert name is not None, f"document {document.pk} has no file name"
    return name


def delete_document(document: Document) -> None:
    """Delete the row now and its file once the transaction that unlinked it has committed."""
    name = stored_name(document)
    document.delete()
    delete_file_on_commit(name)


def delete_file_on_commit(name: str) -> None:
    """Delete a stored file once the transaction that unlinked it has committed (never before), as
    ``delete_files_on_commit`` does."""
    delete_files_on_commit([name])


def delete_files_on_commit(names: Iterable[str]) -> None:
    """Delete stored files once the transaction that unlinked them has committed (never before), outside the request
    when they are in a bucket.

    On the local disk (``FileSystemStorage``: ``make run``, a single server) each is deleted right after the commit,
    as it costs a few milliseconds. Anywhere else (a bucket) one task of the worker (``documents.tasks``
    ``delete_stored_files``) deletes them all, queued after the commit: a bucket that stops answering costs each call
    2 × (connect + read), 50 s with the defaults, so a request deleting three files after its commit (an account's
    « Suppression CNIL », a piece replaced then more) was killed by gunicorn's 60 s timeout: a 502 for a deletion that
    had committed. Nothing is lost when the task is: a broker that does not take it (``ecandidat.celery.Task``
    logs it, "left for its sweeper"), a Redis restarted without persistence, the bucket still down after the task's
    attempts. Every name passed here is under a prefix ``remove_orphan_files`` sweeps (a campaign's, the quarantine's,
    one declared with ``register_file_owner``: letters, packs, exports) and no row holds it any more once the
    transaction has committed: the nightly sweep deletes it (once it is an hour old)."""
    names = [name for name in names if name]
    if not names:
        return
    if isinstance(default_storage, FileSystemStorage):
        transaction.on_commit(functools.partial(_delete_each_quietly, names))
    else:
        registered_task(DELETE_TASK).delay_on_commit(names)


def _delete_each_quietly(names: Sequence[str]) -> None:
    for name in names:
        delete_quietly(name)


def delete_quietly(name: str) -> None:
    try:
        default_storage.delete(name)
    except Exception:  # A file left behind is an orphan for remove_orphan_files; never fail the request here.
        logger.exception("Could not delete stored file %s", name)


def storage_unreachable(error: BaseException) -> bool:
    """Whether a call to the bucket failed because it could not be reached in time: the connection refused, cut or
    timed out, or the answer not read within ``AWS_S3_READ_TIMEOUT`` (botocore's ``ConnectionError`` and
    ``HTTPClientError`` families, after botocore's own attempts). Another call to it now would most likely cost the
    same time again (2 × (connect + read), 50 s with the defaults); a local disk's errors are never this."""
    return isinstance(error, BotocoreConnectionError | HTTPClientError)


def delete_until_unreachable(names: Sequence[str]) -> tuple[int, list[str]]:
    """Delete the stored files ``names`` in order; how many were deleted, and those not deleted because the storage
    could not be reached (``storage_unreachable``): at the first such failure the rest are not tried, each would wait
    as long. A file the storage refuses otherwise (a disk error, the bucket's 403) is logged and left for
    ``remove_orphan_files``; the next ones still go. A file already gone is not an error (Django's storages and the
    bucket say so)."""
    deleted = 0
    for index, name in enumerate(names):
        try:
            default_storage.delete(name)
        except Exception as error:
            if storage_unreachable(error):
                logger.warning(
                    "Could not reach the storage to delete %s (%s: %s): %d file(s) not deleted",
                    name,
                    type(error).__name__,
                    error,
                    len(names) - index,
                )
                return deleted, list(names[index:])
            logger.exception("Could not delete stored file %s", name)
        else:
            deleted += 1
    return deleted, []


def flush(name: str) -> None:
    """fsync a file of the local file system storage, then its folder and each folder above it up to the storage's
    root (security reference A.7): the file's name in its folder, and a folder the save has just made (a campaign's,
    ``quarantine/``'s) in its parent, are on disk too, not only its bytes. Every folder each time: a folder another
    upload made a moment ago is not on disk before that upload's own flush, and one already flushed costs little.
    A folder that cannot be opened or flushed (a system that cannot open folders) is logged and skipped: the file
    is on disk. Remote storages confirm the write themselves."""
    if not isinstance(default_storage, FileSystemStorage):
        return
    path = Path(default_storage.path(name))
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
    root = Path(default_storage.location)
    for folder in path.parents:
        sync_folder(folder, label="storage")
        if folder == root or root not in folder.parents:
            break


def sync_folder(folder: Path, *, label: str = "") -> None:
    """Flush ``folder``'s entries to disk (the names of the files created or renamed in it). A folder that cannot be
    opened or flushed (a system that cannot open folders, such as Windows, or a file system that refuses) is skipped
    with a warning (``label`` starts it): the files themselves are already on disk. Also the OPI folder's
    (``applications.opi.folder``)."""
    prefix = f"{label}: " if label else ""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        logger.warning("%scould not open %s to flush it", prefix, folder)
        return
    try:
        os.fsync(descriptor)
    except OSError:
        logger.warning("%scould not flush %s", prefix, folder)
    finally:
        os.close(descriptor)
