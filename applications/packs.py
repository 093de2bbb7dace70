"""The commission pack (issue 11, ecandidat-features §2.3 "Downloads"): for a selection of applications (up to
the whole filtered list), one ZIP holding each candidate's dossier PDF (summary pages then every piece the
antivirus cleared, ``applications.dossier_pdf``), built by a Celery task with its progress in the admin.

Memory stays bounded whatever the number of dossiers: each dossier PDF is built into a temporary file, copied into
the ZIP (itself a temporary file) in chunks and dropped before the next one; the finished ZIP is streamed to the
storage. Figures: ``bench/bench_commission_pack.py``.

Packs are for their requester only; a pack older than ``PACK_RETENTION`` is deleted (row and file) when anyone
asks for a new one.
"""

from __future__ import annotations

import datetime
import logging
import shutil
import tempfile
import zipfile

from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

from applications.dossier_pdf import build_dossier_pdf, dossier_filename
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


def build_pack(pack_id: int) -> None:
    """Build the ZIP of a claimed pack, one dossier at a time, recording the progress after each; store it and
    mark the pack ready. Any failure marks it failed with its reason (no partial file is kept)."""
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
            with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
                done = 0
                for index, application in enumerate(applications.iterator(chunk_size=50), start=1):
                    with (
                        build_dossier_pdf(application) as pdf,
                        archive.open(_entry_name(application, index), "w") as entry,
                    ):
                        shutil.copyfileobj(pdf, entry, 1024 * 1024)
                    done += 1
                    CommissionPack.objects.filter(pk=pack_id).update(done=done)
            size = spool.tell()
            spool.seek(0)
            stored = default_storage.save(f"packs/{pack.public_id}.zip", File(spool))
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


def prune_packs(*, now: datetime.datetime | None = None) -> int:
    """Delete the packs (rows and files) older than ``PACK_RETENTION``."""
    limit = (now or timezone.now()) - PACK_RETENTION
    old = list(CommissionPack.objects.filter(created_at__lt=limit))
    for pack in old:
        if pack.file.name:
            default_storage.delete(pack.file.name)
        pack.delete()
    return len(old)
