"""The commission pack (issue 11, ecandidat-features §2.3 "Downloads"): for a selection of applications (up to
the whole filtered list), one ZIP holding each candidate's dossier PDF (summary pages then every piece the
antivirus cleared, ``applications.dossier_pdf``), or one PDF of them all opening on a table of contents with a
bookmark per candidate (``applications.merged_pdf``), built by a Celery task with its progress in the admin.

Memory stays bounded whatever the number of dossiers: each dossier PDF is built into a temporary file, copied into
the ZIP (itself a temporary file) in chunks, or its objects written to the merged PDF (a temporary file) at once,
and dropped before the next one; the finished file is streamed to the storage. Figures:
``bench/bench_commission_pack.py``.

Packs are for their requester only; a pack older than ``PACK_RETENTION`` is deleted (row and file) when anyone
asks for a new one.
"""

from __future__ import annotations

import datetime
import gc
import logging
import shutil
import tempfile
import zipfile
from collections.abc import Generator, Iterable
from typing import IO, cast

from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from applications.dossier_pdf import build_dossier_pdf, dossier_filename
from applications.merged_pdf import StreamingPdfWriter
from applications.models import Application, CommissionPack

logger = logging.getLogger(__name__)

PACK_RETENTION = datetime.timedelta(days=7)


def _claim(pack_id: int) -> bool:
    """PENDING → RUNNING by a conditional update: a second delivery of the task finds nothing to do."""
    return bool(
        CommissionPack.objects.filter(pk=pack_id, status=CommissionPack.Status.PENDING).update(
            status=CommissionPack.Status.RUNNING
        )
    )


def _entry_name(application: Application, index: int) -> str:
    return f"{index:03d}-{dossier_filename(application)}"


def candidate_name(application: Application) -> str:
    """ "NOM Prénom" as the back office writes it."""
    candidate = application.candidate
    return f"{(candidate.usual_name or candidate.birth_name).upper()} {candidate.first_name}"


def build_pack(pack_id: int) -> None:
    """Build the file of a claimed pack (ZIP or merged PDF), one dossier at a time, recording the progress after
    each; store it and mark the pack ready. Any failure marks it failed with its reason (no partial file is kept)."""
    if not _claim(pack_id):
        return
    pack = CommissionPack.objects.select_related("requested_by").get(pk=pack_id)
    stored = ""
    try:
        # The requester's scope is read again: a right withdrawn since the request leaves those dossiers out.
        applications = (
            Application.objects.visible_to(pack.requested_by)
            .filter(pk__in=pack.application_ids)
            .select_related("candidate__user", "formation", "campaign")
            .order_by("formation__code", "candidate__birth_name", "candidate__first_name", "pk")
        )
        with tempfile.TemporaryFile() as spool:
            write = _write_pdf if pack.kind == CommissionPack.Kind.PDF else _write_zip
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
        CommissionPack.objects.filter(pk=pack_id).update(
            status=CommissionPack.Status.DONE, file=stored, size=size, done=done, finished_at=timezone.now()
        )
    except Exception as error:
        logger.exception("commission pack %s failed", pack.public_id)
        if stored:
            default_storage.delete(stored)
        CommissionPack.objects.filter(pk=pack_id).update(
            status=CommissionPack.Status.FAILED, error=str(error)[:300], finished_at=timezone.now()
        )
        raise


def _progress(pack: CommissionPack, done: int) -> None:
    CommissionPack.objects.filter(pk=pack.pk).update(done=done)


def _write_zip(pack: CommissionPack, applications: Iterable[Application], spool: IO[bytes]) -> int:
    done = 0
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for index, application in enumerate(applications, start=1):
            with build_dossier_pdf(application) as pdf, archive.open(_entry_name(application, index), "w") as entry:
                shutil.copyfileobj(pdf, entry, 1024 * 1024)
            done += 1
            _progress(pack, done)
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


def prune_packs(*, now: datetime.datetime | None = None) -> int:
    """Delete the packs (rows and files) older than ``PACK_RETENTION``."""
    limit = (now or timezone.now()) - PACK_RETENTION
    old = list(CommissionPack.objects.filter(created_at__lt=limit))
    for pack in old:
        if pack.file.name:
            default_storage.delete(pack.file.name)
        pack.delete()
    return len(old)
