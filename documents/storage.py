"""Where stored files go and how they leave: names, deletion after commit, fsync."""

import functools
import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ConnectionError as BotocoreConnectionError  # type: ignore[import-untyped]
from botocore.exceptions import HTTPClientError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, Storage, default_storage
from django.db import transaction

from documents.models import Document
from ecandidat.celery import registered_task
from ecandidat.deployment import deployment_identity, deployment_label

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


# --- Which deployment the storage belongs to ------------------------------------------------------------------------
#
# ``remove_orphan_files`` deletes every file its own database does not list: run by one deployment on a bucket (or a
# media root) another deployment also writes to (a recette next to production, two universities), it deleted the
# other's pieces, letters and piece templates. The storage's root (under its ``location``, STORAGE_LOCATION) holds a
# small marker naming the deployment that sweeps it (``ecandidat.deployment``): the sweep writes it when it is absent
# and deletes nothing when it names another deployment. No prefix of the sweep holds it (they are folders under the
# root), and ``orphan_files`` skips it by name besides.

DEPLOYMENT_MARKER = ".ecandidat-deployment"


@dataclass(frozen=True)
class StorageOwner:
    """The deployment a storage's marker names: its identity and what IT is shown of it."""

    identity: str
    label: str

    def describe(self) -> str:
        if self.label == "DEPLOYMENT_ID":
            return f"DEPLOYMENT_ID={self.identity}"
        return f"{self.label} ({self.identity})"


def this_deployment() -> StorageOwner:
    return StorageOwner(identity=deployment_identity(), label=deployment_label())


def shareable(storage: Storage) -> bool:
    """Whether another deployment could write to ``storage``: any storage but one held in this process's memory
    (``InMemoryStorage``, the tests'), which no other process sees, so it has no marker."""
    return not isinstance(storage, InMemoryStorage)


def read_storage_owner(storage: Storage | None = None) -> StorageOwner | None:
    """The deployment the marker of ``storage`` (default: ``default_storage``) names; None without a marker. A marker
    that cannot be read as one (edited by hand, truncated) names no deployment: an owner with an empty identity,
    which is never this deployment's. The storage's own errors (a bucket that does not answer) propagate."""
    storage = storage or default_storage
    try:
        with storage.open(DEPLOYMENT_MARKER, "rb") as handle:
            raw = handle.read(4096)
    except FileNotFoundError:
        return None
    try:
        content = json.loads(raw)
        return StorageOwner(identity=str(content["identity"]), label=str(content["label"]))
    except (ValueError, TypeError, KeyError):
        return StorageOwner(identity="", label=f"unreadable marker {raw[:80]!r}")


def write_storage_owner(storage: Storage | None = None, *, replace: bool = False) -> None:
    """Write this deployment's marker at the root of ``storage``; ``replace``: over the one there
    (``remove_orphan_files --adopt-storage``). Two processes writing it at once: the one whose copy the storage saved
    under another name deletes it (a file system's save is exclusive; the caller reads the marker back)."""
    storage = storage or default_storage
    owner = this_deployment()
    payload = json.dumps({"identity": owner.identity, "label": owner.label}, ensure_ascii=False) + "\n"
    if replace:
        storage.delete(DEPLOYMENT_MARKER)
    saved = storage.save(DEPLOYMENT_MARKER, ContentFile(payload.encode()))
    if saved != DEPLOYMENT_MARKER:
        storage.delete(saved)


def claim_storage(storage: Storage | None = None, *, write: bool = True) -> StorageOwner | None:
    """None when ``storage`` is this deployment's to sweep: its marker names this deployment, or there was none and
    it is written now (``write``; a dry run writes nothing). Else the other deployment its marker names: nothing
    that no row of this database lists may be deleted there."""
    storage = storage or default_storage
    if not shareable(storage):
        return None
    ours = this_deployment()
    owner = read_storage_owner(storage)
    if owner is None:
        if not write:
            return None
        write_storage_owner(storage)
        owner = read_storage_owner(storage)  # another deployment's first run at the same moment: the last write holds
    if owner is None or owner.identity == ours.identity:
        return None
    return owner
