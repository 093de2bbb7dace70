"""The commission pack (issue 11, ecandidat-features §2.3 "Downloads"): for a selection of applications (up to
the whole filtered list), one ZIP holding each candidate's dossier PDF (summary pages then every piece the
antivirus cleared, ``applications.dossier_pdf``), or one PDF of them all opening on a table of contents with a
bookmark per candidate (``applications.merged_pdf``), built by a Celery task with its progress in the admin.

Memory stays bounded whatever the number of dossiers: each dossier PDF is built into a temporary file, copied into
the ZIP (itself a temporary file) in chunks, or its objects written to the merged PDF (a temporary file) at once,
and dropped before the next one; the finished file is streamed to the storage. Figures:
``bench/bench_commission_pack.py``.

A third kind holds one piece of each dossier (eCandidat: "one chosen piece type across the selected dossiers"): the
file each candidate uploaded for that piece, as stored, once the antivirus has cleared it, under a name saying
whose it is, and ``sommaire.csv`` listing every dossier with the file or the reason there is none.

Packs are for their requester only, while the dossiers they hold are in their scope (``applications.admin.packs``);
a pack whose task was never queued is queued again by its page (``applications.services.packs.requeue_lost_pack``),
then shown failed (``is_stalled``); one whose worker was killed mid-build is queued again by the beat sweeper
(``applications.services.packs.requeue_stalled_packs``) and built again from the start. A pack older than
``PACK_RETENTION`` is deleted (row and file) every night by ``prune_opi_files`` and when anyone asks for a new one; a
pack holding a dossier since deleted (its campaign destroyed, ``destroy_archived_campaigns``; a candidate's erasure)
goes with it (``packs_holding``), and its requester no longer gets it meanwhile. A pack that may hold a file the
nightly re-scan has since quarantined is withdrawn at once (``withdraw_quarantined``): its file is deleted, its page
and download say it is no longer available.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import gc
import io
import logging
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Generator, Iterable
from typing import IO, Any, cast

from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from applications.dossier_pdf import (
    ascii_name,
    build_dossier_pdf,
    dossier_filename,
    dossier_stem,
    missing_file_notice,
)
from applications.enums import PieceStatus
from applications.lost_tasks import stopped
from applications.merged_pdf import StreamingPdfWriter
from applications.models import Application, CommissionPack, PieceSubmission
from documents.enums import OPENABLE_SCANS, ScanStatus
from documents.models import Document
from documents.storage import delete_file_on_commit, stored_name
from ecandidat.exports import neutralise

logger = logging.getLogger(__name__)

PACK_RETENTION = datetime.timedelta(days=7)
CHUNK = 1024 * 1024  # bytes copied at a time into the ZIP


# A build writes its progress after each dossier (seconds each): a RUNNING pack without any for this long has lost
# its worker, and the beat sweeper queues its build again (``applications.services.packs.requeue_stalled_packs``).
# Well above a dossier's build, so that a live build is not taken over; and should one be, its next write finds the
# stamp changed and it stops (``PackTakenOver``).
PACK_STALE_AFTER = datetime.timedelta(minutes=15)


class PackTakenOver(Exception):
    """This build's claim was taken back by another delivery of the task: it stops, keeping nothing."""


def _claim(pack_id: int) -> datetime.datetime | None:
    """Claim the pack by a conditional update: PENDING → RUNNING, or a RUNNING pack stalled past
    ``PACK_STALE_AFTER`` taken back from the start (its worker was killed). The delivery that follows the kill at
    once (the task is acknowledged late) finds the pack's progress fresh and does nothing: the one that takes it
    back is the beat sweeper's (``applications.services.packs.requeue_stalled_packs``). Returns the claim's progress
    stamp, None when there is nothing to do (built, failed, or being built)."""
    now = timezone.now()
    claimable = Q(status=CommissionPack.Status.PENDING) | Q(
        status=CommissionPack.Status.RUNNING, progress_at__lt=now - PACK_STALE_AFTER
    )
    claimed = CommissionPack.objects.filter(claimable, pk=pack_id).update(
        status=CommissionPack.Status.RUNNING, done=0, progress_at=now
    )
    return now if claimed else None


# A pack still PENDING this long after it was asked for has lost its task (ecandidat.celery.Task: a publish to an
# unreachable broker is logged and dropped, "left for its sweeper"): its page queues the build again
# (``applications.services.packs.requeue_lost_pack``), then again every PACK_REQUEUE_AFTER while it is viewed. A
# few minutes: a pack is queued behind the others' builds (minutes each), and a message queued again for a pack
# still waiting in the queue only costs a claim that finds nothing to do.
PACK_REQUEUE_AFTER = datetime.timedelta(minutes=3)
# A pack still PENDING this long after it was asked for is shown failed (« relancez la demande »), as a stalled
# RUNNING one: its page stops refreshing. Only shown so: a pack that was merely waiting behind long builds is still
# built by its delivery, and its page then offers it.
PACK_NEVER_STARTED_AFTER = datetime.timedelta(minutes=30)


def is_stalled(pack: CommissionPack, *, now: datetime.datetime | None = None) -> bool:
    """A RUNNING pack without progress for ``PACK_STALE_AFTER`` and ``SWEEP_GRACE`` more: its build stopped with its
    worker, and the sweeper did not take it back (asked for more than ``STALLED_RETAKEN_WITHIN`` ago, or no worker
    free); or a PENDING pack asked for more than ``PACK_NEVER_STARTED_AFTER`` ago: its task was never queued, nor
    taken by the queueings again of its page (the broker still unreachable). Its page says so, not "being built" for
    ever (``applications.lost_tasks``)."""
    now = now or timezone.now()
    if pack.status == CommissionPack.Status.PENDING:
        return pack.created_at < now - PACK_NEVER_STARTED_AFTER
    return stopped(pack, stale_after=PACK_STALE_AFTER, now=now)


def _mine(pack: CommissionPack):
    """The pack's row while this build's claim holds (the progress stamp it last wrote)."""
    return CommissionPack.objects.filter(
        pk=pack.pk, status=CommissionPack.Status.RUNNING, progress_at=pack.progress_at
    )


def _entry_name(application: Application, index: int) -> str:
    return f"{index:03d}-{dossier_filename(application)}"


def candidate_name(application: Application) -> str:
    """ "NOM Prénom" as the back office writes it."""
    return application.candidate.staff_name


def build_pack(pack_id: int) -> None:
    """Build the file of a claimed pack (ZIP or merged PDF), one dossier at a time, recording the progress after
    each; store it and mark the pack ready. Any failure marks it failed with its reason (no partial file is kept)."""
    claimed_at = _claim(pack_id)
    if claimed_at is None:
        return
    pack = CommissionPack.objects.select_related("requested_by").get(pk=pack_id)
    pack.progress_at = claimed_at
    stored = ""
    try:
        # The requester's scope is read again: a right withdrawn since the request leaves those dossiers out; so
        # does a cancellation (the commission has nothing to examine, and the dossier looked live).
        applications = (
            Application.objects.visible_to(pack.requested_by)
            .filter(pk__in=pack.application_ids, cancelled_at__isnull=True)
            .select_related("candidate__user", "formation", "campaign")
            .order_by("formation__code", "candidate__birth_name", "candidate__first_name", "pk")
        )
        with tempfile.TemporaryFile() as spool:
            write = {
                CommissionPack.Kind.PDF: _write_pdf,
                CommissionPack.Kind.PIECE: _write_piece_zip,
            }.get(CommissionPack.Kind(pack.kind), _write_zip)
            # QuerySet.iterator() is a generator (the stubs say Iterator): it can be closed.
            rows = cast("Generator[Application]", applications.iterator(chunk_size=50))
            try:
                done = write(pack, rows, spool)
            finally:
                # Closed here, inside the connection's transaction: a write that failed half-way must not leave its
                # server-side cursor to the garbage collector (PostgreSQL would have dropped it by then).
                rows.close()
            size = spool.tell()
            spool.seek(0)
            stored = default_storage.save(f"packs/{pack.public_id}.{pack.extension}", File(spool))
        if done < pack.total:
            # Fewer built than asked for: applications cancelled since the request (``request_pack`` left out those
            # cancelled before), or out of the requester's scope since (the page then refuses the pack). The pack
            # counts what it holds, as the exports do (``export_jobs.build_export``): its page shows it ready and
            # whole, not a progress bar stuck short of its end.
            logger.info(
                "commission pack %s: %d of its %d applications left out (cancelled or out of scope since the request)",
                pack.public_id,
                pack.total - done,
                pack.total,
            )
        if not _mine(pack).update(
            status=CommissionPack.Status.DONE,
            file=stored,
            size=size,
            done=done,
            total=min(done, pack.total),
            finished_at=timezone.now(),
        ):
            raise PackTakenOver
    except PackTakenOver:
        logger.warning("commission pack %s: taken over by another build, this one stops", pack.public_id)
        if stored:
            default_storage.delete(stored)
    except Exception as error:
        logger.exception("commission pack %s failed", pack.public_id)
        if stored:
            default_storage.delete(stored)
        _mine(pack).update(status=CommissionPack.Status.FAILED, error=str(error)[:300], finished_at=timezone.now())
        raise


def _zip_entry(name: str) -> zipfile.ZipInfo:
    """A compressed entry dated now (local time), not 1980-01-01 as ``ZipFile.open(name, "w")`` dates it."""
    info = zipfile.ZipInfo(name, date_time=timezone.localtime().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    # The fastest level, as the archive's: ZipFile.open reads it from the entry (``compress_level`` since Python
    # 3.13, ``_compresslevel`` before; neither is in the type stubs).
    setattr(info, "compress_level" if sys.version_info >= (3, 13) else "_compresslevel", 1)
    return info


def _progress(pack: CommissionPack, done: int) -> None:
    """Record ``done`` and a new progress stamp; raise ``PackTakenOver`` when the claim is no longer this build's."""
    now = timezone.now()
    if not _mine(pack).update(done=done, progress_at=now):
        raise PackTakenOver
    pack.progress_at = now


def _write_zip(pack: CommissionPack, applications: Iterable[Application], spool: IO[bytes]) -> int:
    done = 0
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for index, application in enumerate(applications, start=1):
            entry_info = _zip_entry(_entry_name(application, index))
            with build_dossier_pdf(application) as pdf, archive.open(entry_info, "w") as entry:
                shutil.copyfileobj(pdf, entry, CHUNK)
            done += 1
            _progress(pack, done)
    return done


def _piece_submissions(pack: CommissionPack, applications: list[Application]) -> dict[int, PieceSubmission]:
    """The submission of the pack's piece for each application (its own, or the candidate's shared one), with its
    file: one query for the whole selection."""
    rows = PieceSubmission.objects.filter(piece_type=pack.piece_type).filter(
        Q(application__in=applications)
        | Q(application__isnull=True, candidate_id__in={application.candidate_id for application in applications})
    )
    own = {}
    shared = {}
    for submission in rows.select_related("document"):
        if submission.application_id is None:
            shared[submission.candidate_id] = submission
        else:
            own[submission.application_id] = submission
    return {
        application.pk: found
        for application in applications
        if (found := own.get(application.pk) or shared.get(application.candidate_id)) is not None
    }


def _missing_reason(submission: PieceSubmission | None) -> str:
    """Why ``sommaire.csv`` lists no file for a dossier: no piece sent or declared not concerned; else a file the
    antivirus has not cleared (still to scan, or its scan failed and is tried again every night); or none left,
    which only a refused piece may be (``piece_file_matches_status``): the antivirus took its file away
    (``take_off_quarantined_piece``, which an infected file still held would await), and the candidate must send
    another."""
    if submission is None or submission.status == PieceStatus.WAITING:
        return _("no file")
    if submission.status == PieceStatus.NOT_CONCERNED:
        return _("declared not concerned")
    document = submission.document
    if document is None or document.scan_status == ScanStatus.INFECTED:
        return _("file refused, to be sent again by the candidate")
    if document.scan_status == ScanStatus.ERROR:
        return _("antivirus scan failed, tried again every night")
    return _("file waiting for the antivirus")


def _copy_piece(archive: zipfile.ZipFile, document: Document, entry: str) -> str:
    """Copy the stored file into ``entry`` by chunks; what ``sommaire.csv`` says of it: the entry's name, or that
    the file is gone from the storage (a row that outlived its file, ``applications.stored_files``), which must
    not fail the pack of the other dossiers. The first chunk is read before the entry is opened: a storage that
    opens lazily (S3) raises only then, and the ZIP keeps no empty entry."""
    with contextlib.ExitStack() as files:
        try:
            source = files.enter_context(default_storage.open(stored_name(document), "rb"))
            first = source.read(CHUNK)
        except FileNotFoundError:
            logger.warning("piece pack: file of document %s missing from the storage", document.pk)
            return missing_file_notice()
        target = files.enter_context(archive.open(_zip_entry(entry), "w"))
        target.write(first)
        shutil.copyfileobj(source, target, CHUNK)
    return entry


def _write_piece_zip(pack: CommissionPack, applications: Iterable[Application], spool: IO[bytes]) -> int:
    """The pack's piece of each dossier, copied by chunks as stored, and ``sommaire.csv`` (one line per dossier:
    who, which formation, the file's name in the ZIP or why there is none)."""
    if pack.piece_type is None:
        raise ValueError(_("This piece no longer exists."))
    chosen = list(applications)  # at most PACK_LIMIT rows, already loaded by chunks
    submissions = _piece_submissions(pack, chosen)
    summary = io.StringIO()
    table = csv.writer(summary, delimiter=";")
    table.writerow([_("Dossier number"), _("Name"), _("First name"), _("Formation"), _("Status"), _("File")])
    done = 0
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for index, application in enumerate(chosen, start=1):
            submission = submissions.get(application.pk)
            document = submission.document if submission else None
            candidate = application.candidate
            if document is not None and document.scan_status in OPENABLE_SCANS:
                original = document.original_name.rsplit(".", 1)
                extension = f".{ascii_name(original[1])}" if len(original) == 2 else ""
                entry = f"{index:03d}-{dossier_stem(application)}-{ascii_name(original[0])[:40]}{extension}"
                described = _copy_piece(archive, document, entry)
            else:
                described = _missing_reason(submission)
            cells = [
                candidate.user.username,
                candidate.usual_name or candidate.birth_name,
                candidate.first_name,
                application.formation.code,
                submission.get_status_display() if submission else PieceStatus.WAITING.label,
                described,
            ]
            table.writerow([neutralise(cell) for cell in cells])  # names typed by candidates: no formula
            done += 1
            _progress(pack, done)
        # The BOM: spreadsheets read the file as UTF-8.
        archive.writestr(_zip_entry("sommaire.csv"), "\ufeff" + summary.getvalue())
    return done


def _write_pdf(pack: CommissionPack, applications: Iterable[Application], spool: IO[bytes]) -> int:
    """One PDF: the table of contents (candidate, formation, first page, each line a link), then the dossiers,
    a bookmark per candidate; each dossier's objects are written as soon as it is built."""
    writer = StreamingPdfWriter(spool)
    lines: list[tuple[str, str]] = []
    for application in applications:
        name = candidate_name(application)
        formation = application.formation
        with build_dossier_pdf(application) as pdf:
            writer.add_document(pdf, title=f"{name} — {formation.code} {formation.title}"[:200])
        gc.collect()  # the dossier's parsed objects are full of cycles: free them before the next one
        lines.append((f"{name} ({application.candidate.user.username})", f"{formation.code} {formation.title}"))
        _progress(pack, len(lines))
    stamp = timezone.localtime(pack.created_at)
    writer.finish(
        toc_title=_("Dossiers for the commission"),
        toc_heading=ngettext(
            "%(count)d dossier, asked for by %(user)s on %(date)s.",
            "%(count)d dossiers, asked for by %(user)s on %(date)s.",
            len(lines),
        )
        % {
            "count": len(lines),
            "user": pack.requested_by.get_username(),
            "date": date_format(stamp, "SHORT_DATETIME_FORMAT"),
        },
        toc_lines=lines,
    )
    return len(lines)


def prune_packs(*, now: datetime.datetime | None = None, dry_run: bool = False) -> int:
    """Delete the packs (rows and files) older than ``PACK_RETENTION``: the row now, its file once the transaction
    commits (``delete_file_on_commit``); how many there were. ``dry_run`` deletes nothing. The caller's transaction
    may still roll back (``request_pack`` prunes before it creates the new pack): the row then stays with its file,
    never a row pointing at a file gone. Run every night by ``prune_opi_files``, so the last pack of a season goes
    too."""
    limit = (now or timezone.now()) - PACK_RETENTION
    old = list(CommissionPack.objects.filter(created_at__lt=limit))
    if dry_run:
        return len(old)
    for pack in old:
        name = pack.file.name
        pack.delete()
        if name:
            delete_file_on_commit(name)
    if old:
        logger.info("%d commission pack(s) older than %s deleted", len(old), PACK_RETENTION)
    return len(old)


def packs_holding(application_ids: Iterable[int]) -> list[CommissionPack]:
    """The commission packs built with one of these applications' dossiers (their pk, file and applications only):
    one query, whatever the number of applications. Packs are kept a few days (``prune_packs``), so few rows; their
    list of applications is JSON, which SQLite cannot search by element. Used by the deletions of dossiers (a
    candidate's erasure, a campaign's destruction): the packs go with them."""
    wanted = set(application_ids)
    if not wanted:
        return []
    packs = CommissionPack.objects.only("pk", "file", "application_ids")
    return [pack for pack in packs if wanted.intersection(pack.application_ids or ())]


# ``CommissionPack.error`` of a pack withdrawn because a file it may hold was quarantined (``withdraw_quarantined``):
# its page and its download say that it is no longer available.
WITHDRAWN = "withdrawn: a file it may hold was quarantined by the antivirus"


def withdraw_quarantined(sender: type[Document], *, document: Document, **_: Any) -> None:
    """Receiver of ``documents.scanning.document_quarantined`` (same transaction): the packs built or being built
    that may hold the infected file are withdrawn: failed with ``WITHDRAWN``, their file deleted once the quarantine
    commits (a build under way finds its claim gone and keeps nothing, ``PackTakenOver``). Every kind may hold it: a
    pack of one piece its bytes as stored, the dossier PDFs (a ZIP of them or one PDF) its pages. A pack waiting for
    its build is left: the build reads the piece after the quarantine.

    Which packs: those holding any application of the file's candidate, whatever their piece. The pieces' receiver
    (``applications.services.pieces.take_off_quarantined_piece``) may have run first and taken the file off its
    piece (receivers run in no promised order): the candidate is then the document's owner, which it sets. A pack
    asked for again is built in minutes; one left as it was would serve the file for days (``PACK_RETENTION``).
    At most four queries.
    """
    holders = Q(candidate__pieces__document_id=document.pk)
    if document.owner_id is not None:
        holders |= Q(candidate__user_id=document.owner_id)
    applications = set(Application.objects.filter(holders).values_list("pk", flat=True))
    if not applications:
        return
    live = [CommissionPack.Status.DONE, CommissionPack.Status.RUNNING]
    # Packs are few (a week's, ``prune_packs``) and their applications a JSON list: matched here, on any database.
    holding = [
        pk
        for pk, ids in CommissionPack.objects.filter(status__in=live).values_list("pk", "application_ids")
        if applications.intersection(ids)
    ]
    if not holding:
        return
    withdrawn = list(CommissionPack.objects.select_for_update(of=("self",)).filter(pk__in=holding, status__in=live))
    CommissionPack.objects.filter(pk__in=[pack.pk for pack in withdrawn]).update(
        status=CommissionPack.Status.FAILED, file="", size=0, error=WITHDRAWN, finished_at=timezone.now()
    )
    for pack in withdrawn:
        logger.warning("commission pack %s withdrawn: document %s was quarantined", pack.public_id, document.pk)
        if pack.file.name:
            delete_file_on_commit(pack.file.name)


def is_withdrawn(pack: CommissionPack) -> bool:
    """A pack withdrawn because a file it may hold was quarantined (``withdraw_quarantined``)."""
    return pack.status == CommissionPack.Status.FAILED and pack.error == WITHDRAWN
