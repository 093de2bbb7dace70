"""PJ-OPI (eCandidat ``pj_opi``, ``OPI_IS_UTILISE_PJ``, ``BATCH_ASYNC_OPI_PJ``; siscol-pegase-apogee.md §3.4): the
validated files of an admitted candidate that go to Apogée with their OPI.

When the Apogée backend transfers a candidate's OPI (a wish, never a withdrawal) and ``OPI_PIECES`` is on, each of
the application's **validated** pieces that has a file and whose type has an Apogée code (``PieceType.siscol_code``,
COD_TPJ) gets an ``OpiPiece`` row, keyed by the OPI code and COD_TPJ, for dematerialised formations only (a paper
dossier's pieces are not in the storage). The same run, and every later run while the row is pending, puts the file
in the day's files: ``<OPI code>_OPI/PJ_<COD_TPJ>_<OPI code>.<ext>`` in the ZIP and in ``OPI_EXPORT_DIR``, and the
list ``opi-apogee-pj-YYYYMMDD.csv``. A file missing from the storage is reported (batch history, the OPI screen's
message) and its row stays pending for the next run. A pending row goes as its piece is at the run: a piece no
longer validated (refused since, quarantined) is not sent and its row is retired; one validated again with another
file sends that file. A piece whose OPI was withdrawn meanwhile goes with the candidate's other transferred wish
under the same OPI code, else is not sent.

A file the antivirus has not cleared is never sent: the nightly re-scan with new signatures may find a validated
piece's file infected after its row was made. Its pending rows let go of it (``detach_quarantined``, the receiver of
``documents.scanning.document_quarantined``; the piece, refused, is not sent and the next run retires them), and
every path that reads a file (``send_pending``, ``copy_into_zip``, ``folder_entries``) skips a document whose scan is
not in ``OPENABLE_SCANS``: a piece already sent is left out of the day's ZIP, named in ``PJ_MANQUANTES.txt``.

The files are read from the storage (file system or S3, ``default_storage``) in chunks, one at a time: never held
whole in memory, never copied into the database.
"""

from __future__ import annotations

import datetime
import logging
import shutil
import zipfile
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from django.core.files.storage import default_storage
from django.db.models import Count, F, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.enums import OpiState, PieceStatus
from applications.models import Application, Opi, OpiExport, OpiPiece, PieceSubmission
from applications.opi.apogee import upper_ascii
from applications.opi.backends import BACKENDS, OpiBackend
from applications.opi.pegase import write_csv
from applications.opi.transfer import file_day
from documents.enums import OPENABLE_SCANS
from documents.models import Document
from ecandidat import parameters
from ecandidat.downloads import StorageUnavailable, storage_errors
from offers.enums import ApplicationMode
from offers.models import Campaign

if TYPE_CHECKING:
    from ecandidat.batches import Report

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024  # bytes read from the storage at a time
LIST_COLUMNS = ["COD_OPI_INT_EPO", "LIB_NOM_PAT_IND_OPI", "LIB_PR1_IND_OPI", "COD_TPJ", "NOM_FIC"]
MISSING_NOTE = "PJ_MANQUANTES.txt"
# The run's count of pieces whose file is missing from the storage, and the kind of their errors in its report.
MISSING_COUNT = "pieces missing from the storage"


def pieces_on(backend: OpiBackend) -> bool:
    """Whether this backend's transfers carry the pieces now (Apogée, with ``OPI_PIECES``)."""
    return backend.sends_pieces and bool(parameters.get("OPI_PIECES"))


def list_name(day: datetime.date) -> str:
    return f"opi-apogee-pj-{file_day(day)}.csv"


def extension(piece: OpiPiece) -> str:
    """The stored file's extension (``.pdf``): ``documents.models.document_path`` keeps the uploaded one."""
    return PurePosixPath(piece.document.file.name or "").suffix.lower() if piece.document else ""


def record_pieces(applications: Iterable[Application]) -> int:
    """The PJ-OPI of the wishes a transfer just passed (``applications`` with their ``opi``): one row per validated
    piece with a file and an Apogée code, per OPI code and COD_TPJ (the first application's piece when two carry the
    same type; a common piece is the candidate's). A row already there for another file (the piece was validated
    again after a re-queue) takes the new file and is pending again; one for the same file stays as it is. At most
    four queries, whatever the number of pieces. Returns how many rows were created or made pending again."""
    wishes = [
        application
        for application in applications
        if not application.opi.withdrawn and application.formation.mode == ApplicationMode.ONLINE
    ]
    if not wishes:
        return 0
    submissions = (
        PieceSubmission.objects.filter(status=PieceStatus.VALIDATED, document__isnull=False)
        .exclude(piece_type__siscol_code="")
        .filter(
            Q(application__in=[application.pk for application in wishes])
            | Q(application__isnull=True, candidate__in={application.candidate_id for application in wishes})
        )
        .select_related("piece_type")
        .order_by("piece_type__order", "piece_type_id", "pk")
    )
    by_application: dict[int, list[PieceSubmission]] = {}
    shared: dict[int, list[PieceSubmission]] = {}
    for submission in submissions:
        if submission.application_id is None:
            shared.setdefault(submission.candidate_id, []).append(submission)
        else:
            by_application.setdefault(submission.application_id, []).append(submission)
    wanted: dict[tuple[str, str], tuple[Application, PieceSubmission]] = {}
    for application in wishes:
        for submission in [*by_application.get(application.pk, []), *shared.get(application.candidate_id, [])]:
            key = (application.opi.code, submission.piece_type.siscol_code)
            wanted.setdefault(key, (application, submission))
    if not wanted:
        return 0
    existing = {
        (piece.code, piece.siscol_code): piece
        for piece in OpiPiece.objects.filter(code__in={code for code, _tpj in wanted})
    }
    created, refreshed = [], []
    for (code, tpj), (application, submission) in wanted.items():
        piece = existing.get((code, tpj))
        if piece is None:
            created.append(
                OpiPiece(
                    opi=application.opi,
                    code=code,
                    siscol_code=tpj,
                    submission=submission,
                    document_id=submission.document_id,
                )
            )
        elif piece.document_id != submission.document_id or piece.transferred_at is None:
            piece.opi, piece.submission, piece.document_id = application.opi, submission, submission.document_id
            piece.day, piece.transferred_at = None, None
            refreshed.append(piece)
    OpiPiece.objects.bulk_create(created)
    OpiPiece.objects.bulk_update(refreshed, ["opi", "submission", "document", "day", "transferred_at"])
    return len(created) + len(refreshed)


def detach_quarantined(sender: type[Document], *, document: Document, **_: Any) -> None:
    """Receiver of ``documents.scanning.document_quarantined`` (same transaction): the PJ-OPI not sent yet let go of
    the infected file, now under ``quarantine/``. The piece is refused with it (``take_off_quarantined_piece``): the
    next run retires the row, unsent (``send_pending``); a new file of the piece validated goes when the OPI is
    transferred again (``record_pieces``), or with the row if it is validated before that run. A piece already sent
    keeps its row (what went, and when); the day's ZIP leaves its file out (``copy_into_zip``)."""
    OpiPiece.objects.pending().filter(document_id=document.pk).update(document=None)


def _sendable(document: Document) -> bool:
    """A file that may leave for Apogée: the antivirus cleared it (or none is configured)."""
    return document.scan_status in OPENABLE_SCANS


def _in_storage(name: str) -> bool:
    try:
        return default_storage.exists(name)
    except Exception:  # an unreachable storage is a missing file for this run: reported, retried the next run
        logger.exception("PJ-OPI: could not check %s in the storage", name)
        return False


def _rehang(pieces: list[OpiPiece], campaign: Campaign) -> tuple[list[OpiPiece], list[OpiPiece]]:
    """The pending ``pieces`` that hang on a withdrawn OPI (``record_pieces`` hangs a common piece on the first
    wish's OPI) move to another transferred, non-withdrawn OPI of the same candidate under the same code, when one
    is left: the pieces are the candidate's, who still has a wish in Apogée. Returns the pieces to send (those of a
    transferred OPI, and those moved) and those moved; a piece with no such OPI left is held back (never sent for a
    withdrawal), as before. One query, only when some piece hangs on a withdrawn OPI."""
    orphans = [piece for piece in pieces if piece.on_withdrawn]  # type: ignore[attr-defined]  # send_pending's
    if not orphans:
        return pieces, []
    others = (
        Opi.objects.filter(
            application__campaign=campaign,
            application__candidate_id__in={piece.submission.candidate_id for piece in orphans},
            code__in={piece.code for piece in orphans},
            state=OpiState.PASSED,
            withdrawn=False,
        )
        .order_by("pk")
        .values_list("code", "application__candidate_id", "pk")
    )
    heirs: dict[tuple[str, int], int] = {}
    for code, candidate_id, pk in others:
        heirs.setdefault((code, candidate_id), pk)
    moved = []
    for piece in orphans:
        heir = heirs.get((piece.code, piece.submission.candidate_id))
        if heir is not None:
            piece.opi_id = heir
            piece.on_withdrawn = False  # type: ignore[attr-defined]
            moved.append(piece)
    return [piece for piece in pieces if not piece.on_withdrawn], moved  # type: ignore[attr-defined]


def send_pending(report: Report, *, campaign: Campaign, day: datetime.date) -> tuple[list[OpiPiece], list[OpiPiece]]:
    """Put the campaign's pending PJ-OPI in the ``day``'s files, each as its piece is now (one query for them all,
    with their pieces):

    - a piece no longer validated (refused since, back to « Transmise », replaced by a file not checked yet,
      quarantined) is not sent: its row is deleted (it never went; a piece validated again goes when its OPI is
      transferred again, ``record_pieces``) and counted;
    - a piece validated again with another file sends that file, the one validated now;
    - a file in the storage and cleared by the antivirus is sent: the row is marked transferred that day; a missing
      file, or one the antivirus has not cleared, is reported and its row stays pending.

    A piece whose OPI is no longer transferred (re-queued, cancelled) waits for it; one whose OPI was withdrawn
    moves to the candidate's other transferred wish under the same code (``_rehang``), else waits. Call inside the
    run's transaction. Returns the pieces this call sent (for ``OPI_EXPORT_DIR``: an earlier run of the day put its
    own there) and all the pieces of the day, with their candidate (for the list file and the ZIP)."""
    rows: list[OpiPiece] = list(
        OpiPiece.objects.select_for_update(of=("self",))
        .pending()
        .filter(opi__application__campaign=campaign)
        .filter(Q(opi__state=OpiState.PASSED, opi__withdrawn=False) | Q(opi__withdrawn=True))
        .annotate(on_withdrawn=F("opi__withdrawn"))
        .select_related("document", "submission__document")
        .order_by("pk")
    )
    pending, moved = _rehang(rows, campaign)
    now = timezone.now()
    sent: list[OpiPiece] = []
    changed: list[OpiPiece] = [*moved]
    stale: set[int] = set()
    for piece in pending:
        submission = piece.submission
        if submission.status != PieceStatus.VALIDATED or submission.document_id is None:
            stale.add(piece.pk)
            continue
        if submission.document_id != piece.document_id:
            piece.document = submission.document  # validated again with another file: the file validated now goes
            changed.append(piece)
        if piece.document is None or not _sendable(piece.document) or not _in_storage(piece.document.file.name or ""):
            # Read by the central office (batch history, the OPI screen's message): in their language.
            report.add(MISSING_COUNT)
            report.error(
                _("OPI %(code)s, piece %(tpj)s") % {"code": piece.code, "tpj": piece.siscol_code}, kind=MISSING_COUNT
            )
            continue
        piece.day, piece.transferred_at = day, now
        sent.append(piece)
    saved = {piece.pk: piece for piece in [*changed, *sent] if piece.pk not in stale}
    OpiPiece.objects.bulk_update(saved.values(), ["opi", "document", "day", "transferred_at"])
    if stale:
        OpiPiece.objects.filter(pk__in=stale).delete()
        report.add("pieces no longer validated, not sent", len(stale))
    if moved := [piece for piece in moved if piece.pk not in stale]:
        report.add("pieces moved from a withdrawn wish to another", len(moved))
    report.add("pieces sent by this run", len(sent))
    return sent, list(
        OpiPiece.objects.of_day(day)
        .filter(opi__application__campaign=campaign)
        .select_related("document", "opi__application__candidate")
        .order_by("code", "siscol_code")
    )


def list_text(pieces: Iterable[OpiPiece]) -> str:
    """``opi-apogee-pj-YYYYMMDD.csv``: one row per piece of the day, the parameters of eCandidat's
    ``recupererPiecesJustificativesOPIWS`` but the bytes (the file's name in the ZIP, ``NOM_FIC``)."""
    return write_csv(
        LIST_COLUMNS,
        (
            [
                piece.code,
                upper_ascii(piece.opi.application.candidate.birth_name),
                upper_ascii(piece.opi.application.candidate.first_name),
                piece.siscol_code,
                piece.file_name(extension(piece)),
            ]
            for piece in pieces
        ),
    )


def pieces_of(export: OpiExport) -> list[OpiPiece]:
    """The pieces the export's day carries (none for a backend that sends none, nor once the day's files were erased:
    the pieces' files stay with the dossier, not in the day's files): one query."""
    backend = BACKENDS.get(export.backend)
    if backend is None or not backend.sends_pieces or export.files_erased:
        return []
    return list(OpiPiece.objects.of_day(export.day).select_related("document").order_by("code", "siscol_code"))


def _read(source: IO[bytes]) -> bytes:
    """The next ``CHUNK`` bytes of a stored file: the file gone is ``Http404``, the storage failing
    ``StorageUnavailable`` (``ecandidat.downloads.storage_errors``)."""
    with storage_errors():
        return source.read(CHUNK)


def copy_into_zip(archive: zipfile.ZipFile, pieces: Iterable[OpiPiece]) -> list[str]:
    """Add each piece's file to ``archive``, read from the storage by chunks of ``CHUNK`` bytes, one file at a time.
    A file missing from the storage (not found there, or a 404 from the bucket), or that the antivirus has not
    cleared (quarantined since it was sent), is left out, logged and named in ``PJ_MANQUANTES.txt``; the others are
    kept. Returns the names left out. The storage failing otherwise (the bucket unreachable, refusing, cutting a
    transfer; an I/O error) is ``StorageUnavailable`` (``ecandidat.downloads.storage_errors``): the download is the
    503 page and is not recorded, rather than a ZIP that says pieces are missing when the storage is only down.
    Writing ``archive`` failing (its temporary file's disk full or failing) is the ``OSError`` it is."""
    missing = []
    for piece in pieces:
        name = piece.file_name(extension(piece))
        if piece.document is not None and not _sendable(piece.document):
            logger.warning("PJ-OPI: %s left out, its file is not cleared by the antivirus", name)
            missing.append(name)
            continue
        stored = piece.document.file.name if piece.document else ""
        try:
            with storage_errors():
                if not stored or not default_storage.exists(stored):
                    raise FileNotFoundError(stored)
                source = default_storage.open(stored, "rb")
        except Http404:
            logger.warning("PJ-OPI: %s is missing from the storage (%s)", name, stored)
            missing.append(name)
            continue
        info = zipfile.ZipInfo(name, date_time=timezone.localtime(piece.transferred_at).timetuple()[:6])
        # Stored, not deflated: PDFs and images are compressed already; deflating 200 MB of them took 27 s against
        # 0.7 s stored (the download waits for the whole ZIP), for nothing.
        info.compress_type = zipfile.ZIP_STORED
        try:
            # Only the reads are the storage's: the ZIP's own file failing (its temporary disk full) is an OSError the
            # download view reports as such, not the storage down (``StorageUnavailable``, « try again later »).
            with source, archive.open(info, "w") as target:
                while chunk := _read(source):
                    target.write(chunk)
        except Http404 as error:
            # Gone between the check and the read: its entry is half written. Downloaded again, it is named missing.
            raise StorageUnavailable(f"{stored} went missing while it was read") from error
    if missing:
        archive.writestr(
            MISSING_NOTE,
            "Pièces absentes du stockage, non jointes :\n" + "".join(f"{name}\n" for name in missing),
        )
    return missing


def folder_entries(pieces: list[OpiPiece]) -> list[tuple[str, Callable[[IO[bytes]], object]]]:
    """Pieces for ``applications.opi.folder.stage``: each name, and how to copy its file from the storage (by chunks
    of ``CHUNK`` bytes, one file at a time). A file the antivirus has not cleared is never among them."""

    def copier(stored: str) -> Callable[[IO[bytes]], object]:
        def copy(out: IO[bytes]) -> None:
            with default_storage.open(stored, "rb") as source:
                shutil.copyfileobj(source, out, CHUNK)

        return copy

    return [
        (piece.file_name(extension(piece)), copier(piece.document.file.name or ""))
        for piece in pieces
        if piece.document is not None and _sendable(piece.document)
    ]


def write_zip(export: OpiExport, target: IO[bytes]) -> list[str]:
    """The day's files in one ZIP written to ``target`` (a temporary file for the download): the text files, then
    the pieces read from the storage one at a time. Returns the pieces left out (missing from the storage). The
    storage failing is ``StorageUnavailable``; writing ``target`` failing (a full disk) is an ``OSError``."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in sorted(export.files.items()):
            archive.writestr(name, text.encode("utf-8"))
        return copy_into_zip(archive, pieces_of(export))


def piece_counts(campaign: Campaign | None) -> dict[str, int]:
    """Pending and transferred PJ-OPI of the campaign (eCandidat's counters): one query."""
    if campaign is None:
        return {"pending": 0, "passed": 0}
    return OpiPiece.objects.filter(opi__application__campaign_id=campaign.pk).aggregate(
        pending=Count("pk", filter=Q(transferred_at__isnull=True)),
        passed=Count("pk", filter=Q(transferred_at__isnull=False)),
    )
