"""Where stored files go and how they leave: names, deletion after commit, fsync."""

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from django.core.files.storage import FileSystemStorage, default_storage
from django.db import transaction

from documents.models import Document

logger = logging.getLogger(__name__)

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
    """Delete a stored file once the transaction that unlinked it has committed (never before)."""
    transaction.on_commit(lambda: delete_quietly(name))


def delete_quietly(name: str) -> None:
    try:
        default_storage.delete(name)
    except Exception:  # A file left behind is an orphan for remove_orphan_files; never fail the request here.
        logger.exception("Could not delete stored file %s", name)


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
