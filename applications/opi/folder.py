"""``OPI_EXPORT_DIR`` (eCandidat ``pegase.opi.path``): the day's files handed to the import job that reads a folder.

The files reach the folder in two steps, so that the folder and the OPI states always agree:

1. ``stage``, inside the run's transaction, writes each file beside its place under a hidden temporary name
   (``.<name>.tmp``), flushed to disk. A folder that cannot take them (missing and not creatable, read-only, full)
   or a piece that cannot be read from the storage raises ``FolderError``: the run rolls back, no OPI is marked
   transferred, and the next run writes them all again. Before, the files were written after the commit: a failure
   there left OPIs marked transferred whose files never reached the folder, and the page that ran the transfer
   answered with an error. The folders are then flushed too (``fsync`` of each folder), so that the new names
   survive a power loss once the commit says the OPIs were sent.
2. ``publish``, after the commit, renames each temporary file to its name: atomic on one file system, so an import
   job never reads half a file and never sees the files of a run that rolled back. The folders are flushed once
   the renames are made: without it a power loss could undo a rename the database already counts as done.

A run that rolls back after staging leaves hidden ``.tmp`` files; the next run's staging overwrites them. A process
killed between the commit and the renames leaves them too, for files the database says were sent: the next run puts
those in place first (``leftovers``, ``applications.opi.services``), before it stages its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from django.conf import settings

from documents.storage import sync_folder

logger = logging.getLogger(__name__)

Staged = list[tuple[Path, Path]]  # (temporary file, its final place)


class FolderError(Exception):
    """A file of the run could not be staged in ``OPI_EXPORT_DIR``: the run must roll back."""

    def __init__(self, name: str, error: BaseException):
        super().__init__(f"{name}: {error}")
        self.name = name


def stage(entries: Iterable[tuple[str, Callable[[IO[bytes]], object]]]) -> Staged:
    """Write each entry, a path relative to ``OPI_EXPORT_DIR`` and a function writing its bytes to an open file,
    to a hidden temporary file beside its place, flushed to disk with the folders that hold it. On any failure the
    files this call staged are removed and ``FolderError`` names the file. Returns what ``publish`` puts in place
    after the commit."""
    folder = Path(settings.OPI_EXPORT_DIR)
    staged: Staged = []
    name, temporary = "", None
    try:
        for name, write in entries:
            target = folder / name
            temporary = target.with_name(f".{target.name}.tmp")
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())  # on disk before the commit marks the OPIs transferred
            staged.append((temporary, target))
        if staged:  # the new names, and a candidate's folder made in OPI_EXPORT_DIR
            sync_folders([folder, *(target.parent for _temporary, target in staged)])
    except Exception as error:  # the folder (OSError) or the storage a piece is read from (any backend's error)
        logger.exception("OPI_EXPORT_DIR: could not write %s; the run rolls back", name)
        for leftover in [*(written for written, _target in staged), *([temporary] if temporary else [])]:
            with contextlib.suppress(OSError):  # a folder that refused the file may refuse this too
                leftover.unlink(missing_ok=True)
        raise FolderError(name, error) from error
    return staged


def publish(staged: Staged) -> None:
    """After the commit: put each staged file in its place. A rename that fails is logged and the others are still
    made (the day's ZIP on the OPI screen has every file; the temporary copy stays beside its place). The folders
    are flushed once the renames are made."""
    for temporary, target in staged:
        try:
            temporary.replace(target)
        except OSError:
            logger.exception("OPI_EXPORT_DIR: could not put %s in place (kept as %s)", target, temporary)
    sync_folders(target.parent for _temporary, target in staged)


def sync_folders(folders: Iterable[Path]) -> None:
    """Flush each folder's entries to disk (the names of the files created or renamed in it), each folder once
    (``documents.storage.sync_folder``: a folder that cannot be flushed is skipped with a warning)."""
    for folder in sorted(set(folders)):
        sync_folder(folder, label="OPI_EXPORT_DIR")


def leftovers() -> list[tuple[Path, str]]:
    """The hidden temporary files in ``OPI_EXPORT_DIR`` and in its candidates' folders (``<code>_OPI/``), each with
    the name, relative to the folder, it would be published as. Nothing when the folder does not exist."""
    folder = Path(settings.OPI_EXPORT_DIR)
    if not folder.is_dir():
        return []
    found = []
    for temporary in sorted([*folder.glob(".*.tmp"), *folder.glob("*_OPI/.*.tmp")]):
        name = temporary.name.removeprefix(".").removesuffix(".tmp")
        found.append((temporary, str((temporary.parent / name).relative_to(folder))))
    return found
