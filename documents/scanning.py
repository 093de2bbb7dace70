"""The antivirus side of stored documents: the scan after upload, quarantine, and the nightly re-scan.

A verdict is recorded on the ``Document`` only. When a file is infected, ``document_quarantined`` is sent inside
the quarantine's transaction: the layer above (``applications``) connects to it to take the file off the piece
that held it. A signal, not an import, because this layer must not know what its files are used for; it is the
one decoupled concern house style §2 allows signals for, and its receiver runs in the same transaction.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext

from documents import antivirus
from documents.enums import ScanStatus
from documents.models import Document
from documents.storage import QUARANTINE_PREFIX, delete_file_on_commit, delete_quietly, flush, stored_name
from offers.models import Campaign

if TYPE_CHECKING:
    from ecandidat.batches import Report

logger = logging.getLogger(__name__)

# Sent with ``document`` (locked, already quarantined), ``signature``, ``scanned_at`` and ``batch``.
document_quarantined = Signal()

# The reverse relations through which upper layers hold documents (``applications`` registers its pieces'
# ``submission`` in its AppConfig.ready). Only a held document is re-scanned: a row nothing holds is a leftover.
_HOLDERS: set[str] = set()


def register_holder(related_name: str) -> None:
    """Declare a relation that holds documents (a ``OneToOneField``/``ForeignKey`` to ``Document``, by the
    ``related_name`` it adds to ``Document``)."""
    _HOLDERS.add(related_name)


SCAN_TASK = "scan_document"
RESCAN_BATCH = "rescan_documents"
# A scan queued at upload that has not run after this long was lost (worker killed, broker lost the message).
LOST_SCAN_AFTER = datetime.timedelta(hours=1)
# Scanning takes up to ~300 ms a file: bound a night's work (oldest scans first, the next night goes on).
RESCAN_DEFAULT_LIMIT = 2000
# clamd down or failing in the middle of the night: stop instead of timing out on every remaining file.
RESCAN_MAX_FAILURES_IN_A_ROW = 5


# clamd unreachable (down, restarting, its socket gone): an ERROR line in the log, naming its address and the error, at
# most once a minute per process however many uploads come meanwhile (the next line counts those), and a WARNING line
# when it answers again. The documents stay in error (staff see it) until the nightly rescan_documents.
OUTAGE_LOG_INTERVAL = 60.0


class _OutageLog:
    """The log of one antivirus outage in this process: its first failed scan, then one line a minute at most."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._failed = 0  # scans failed since clamd last answered
        self._not_logged = 0  # of those, since the last line
        self._logged_at: float | None = None

    def failed(self, *, address: str, error: str, document_id: int) -> None:
        with self._lock:
            self._failed += 1
            now = self.clock()
            if self._logged_at is not None and now - self._logged_at < self.interval:
                self._not_logged += 1
                return
            not_logged, self._not_logged, self._logged_at = self._not_logged, 0, now
        logger.error(
            "antivirus unreachable at %s: %s (document %s left in error for the nightly rescan_documents; %d other "
            "scans failed the same way since the previous such line)",
            address,
            error,
            document_id,
            not_logged,
        )

    def answered(self, *, address: str) -> None:
        with self._lock:
            failed, self._failed, self._not_logged, self._logged_at = self._failed, 0, 0, None
        if failed:
            logger.warning(
                "antivirus at %s answers again; %d scans failed meanwhile, rescanned by the nightly rescan_documents",
                address,
                failed,
            )


_outage = _OutageLog(OUTAGE_LOG_INTERVAL)


def _log_scan_error(document_id: int, detail: str) -> None:
    """The scan of ``document_id`` ended in error: clamd unreachable (``antivirus.scan_chunks``'s detail, « clamd at
    <address>: <error> ») goes to the outage's log; a file clamd refused (its own ERROR reply, a size limit) or a
    stored file missing is one WARNING. Only the document's id: nothing of the candidate or of the file's name."""
    address = antivirus.configured_address() or ""
    unreachable = f"clamd at {address}: "
    if detail.startswith(unreachable):
        _outage.failed(address=address, error=detail.removeprefix(unreachable), document_id=document_id)
    else:
        logger.warning("antivirus scan of document %s failed: %s", document_id, detail)


def _is_due(document: Document, current_version: int | None) -> bool:
    """Whether ``document`` should be scanned now: never scanned, failed, or clean with older signatures."""
    if document.scan_status in (ScanStatus.PENDING, ScanStatus.ERROR, ScanStatus.NOT_SCANNED):
        return True
    return (
        document.scan_status == ScanStatus.CLEAN
        and current_version is not None
        and (document.signature_version is None or document.signature_version < current_version)
    )


def scan_stored_document(
    *, document_id: int, current_version: int | None = None, batch: str = SCAN_TASK
) -> ScanStatus | None:
    """Scan one stored document with clamd and record the verdict with clamd's version.

    Called by the ``scan_document`` task after an upload (pending files), and by the nightly
    ``rescan_documents`` for failed scans and, given clamd's ``current_version``, for clean files scanned with
    older signatures. Returns None when the document no longer needs a scan (idempotent).

    Infected: the file moves under ``quarantine/`` and ``document_quarantined`` is sent in the same transaction
    (the piece that held it goes back to "En attente" and the history records it, ``batch``: see
    ``applications.services.pieces``). Unreachable clamd, an error
    reply or a missing file: ``ERROR`` (staff see it; the file stays; the nightly batch retries), and a line in the
    log (``_log_scan_error``: clamd unreachable at most once a minute).
    Every verdict is written only if the status is still the one read, so two scans never overwrite each other.
    """
    document = Document.objects.filter(pk=document_id).first()
    if document is None or not _is_due(document, current_version):
        return None
    try:
        version = antivirus.current_version()
    except (OSError, antivirus.ClamdError):
        version = antivirus.ClamdVersion(reply="", signature_version=None)
    try:
        with default_storage.open(stored_name(document), "rb") as handle:
            result = antivirus.scan_file(handle)
    except FileNotFoundError:
        result = antivirus.ScanResult(antivirus.ScanStatus.ERROR, detail="stored file not found")
    now = timezone.now()
    unchanged = Document.objects.filter(pk=document.pk, scan_status=document.scan_status)
    recorded = {"scanned_at": now, "scanned_with": version.reply[:120], "signature_version": version.signature_version}
    if not result.is_clean and not result.is_infected:
        _log_scan_error(document.pk, result.detail)
        done = unchanged.update(scan_status=ScanStatus.ERROR, scan_detail=result.detail[:255], **recorded)
        return ScanStatus.ERROR if done else None
    _outage.answered(address=antivirus.configured_address() or "")
    if result.is_clean:
        done = unchanged.update(scan_status=ScanStatus.CLEAN, scan_detail="", **recorded)
        return ScanStatus.CLEAN if done else None
    done = _quarantine(document, signature=result.signature or "", recorded=recorded, batch=batch)
    return ScanStatus.INFECTED if done else None


def _quarantine(document: Document, *, signature: str, recorded: dict[str, Any], batch: str) -> bool:
    """Move an infected file under ``quarantine/`` and tell its users (``document_quarantined``), for upload and
    re-scan alike.

    The copy is written first, and flushed to disk (``flush``) before the rows point to it: the original goes once
    they commit, so a power loss must not leave them pointing at a copy never written. If the rows do not commit the
    copy is deleted, and the original stays. Returns False when the document changed meanwhile (removed, or scanned
    by someone else): nothing is done.
    """
    old_name = stored_name(document)
    with default_storage.open(old_name, "rb") as handle:
        new_name = default_storage.save(f"{QUARANTINE_PREFIX}/{old_name}", handle)
    flush(new_name)
    try:
        with transaction.atomic():
            locked = (
                Document.objects.select_for_update(of=("self",))
                .filter(pk=document.pk, scan_status=document.scan_status)
                .first()
            )
            if locked is None:
                delete_quietly(new_name)
                return False
            locked.file.name = new_name
            locked.scan_status = ScanStatus.INFECTED
            locked.scan_detail = signature[:255]
            for field, value in recorded.items():
                setattr(locked, field, value)
            locked.save(update_fields=["file", "scan_status", "scan_detail", *recorded])
            # Same transaction: what points to the file (a piece of an application) lets go of it, or nothing
            # commits.
            document_quarantined.send(
                sender=Document, document=locked, signature=signature, scanned_at=recorded["scanned_at"], batch=batch
            )
            delete_file_on_commit(old_name)
    except BaseException:
        delete_quietly(new_name)
        raise
    return True


def documents_to_scan(*, current_version: int | None, now: datetime.datetime | None = None) -> QuerySet[Document]:
    """Documents of active campaigns that the nightly re-scan should scan, oldest scan first (one query).

    Failed scans, scans lost since their upload, files stored while no antivirus was configured, and, when
    clamd reports its signature version, clean files scanned with an older one (or before versions were kept).
    Quarantined files, and documents that nothing holds (``register_holder``), are not scanned again.
    """
    now = now or timezone.now()
    held = Q(pk__in=[])
    for related_name in sorted(_HOLDERS):
        held |= Q(**{f"{related_name}__isnull": False})
    due = (
        Q(scan_status=ScanStatus.ERROR)
        | Q(scan_status=ScanStatus.NOT_SCANNED)
        | Q(scan_status=ScanStatus.PENDING, uploaded_at__lt=now - LOST_SCAN_AFTER)
    )
    if current_version is not None:
        due |= Q(scan_status=ScanStatus.CLEAN) & (
            Q(signature_version__isnull=True) | Q(signature_version__lt=current_version)
        )
    return (
        Document.objects.filter(due)
        .filter(held, campaign_code__in=Campaign.objects.filter(is_active=True).values("code"))
        .order_by(F("scanned_at").asc(nulls_first=True), "pk")
    )


def rescan_documents(report: Report, *, dry_run: bool, limit: int | None) -> None:
    """Nightly batch ``rescan_documents`` (security reference A.3 §8: re-scan as signatures update).

    Asks clamd for its signature version once, selects the due documents in one query (``documents_to_scan``,
    at most ``limit``, by default ``RESCAN_DEFAULT_LIMIT``), then scans each on its own: every verdict is a
    conditional write and a quarantine is one transaction, so a rerun after a crash goes on where it stopped: a
    clean file scanned with the current signatures is not selected again. Without ``CLAMD_ADDRESS`` it records
    that it did nothing.
    """
    if not antivirus.is_configured():
        report.add("antivirus not configured: nothing scanned")
        return
    try:
        version = antivirus.current_version()
    except (OSError, antivirus.ClamdError) as error:
        report.error(
            gettext("clamd at %(address)s does not answer: %(error)s; nothing scanned.")
            % {"address": antivirus.configured_address(), "error": error}
        )
        return
    if version.signature_version is None:
        report.add("clamd reports no signature version: clean files not re-scanned")
    ids = list(
        documents_to_scan(current_version=version.signature_version).values_list("pk", flat=True)[
            : RESCAN_DEFAULT_LIMIT if limit is None else limit
        ]
    )
    if dry_run:
        report.add("documents to scan", len(ids))
        return
    failures_in_a_row = 0
    labels = {
        ScanStatus.CLEAN: "clean",
        ScanStatus.INFECTED: "infected (quarantined)",
        ScanStatus.ERROR: "scan errors",
        None: "no longer to scan",
    }
    for document_id in ids:
        try:
            status = scan_stored_document(
                document_id=document_id, current_version=version.signature_version, batch=RESCAN_BATCH
            )
        except Exception as error:  # One bad file must not stop the night; the next run retries it.
            logger.exception("rescan of document %s failed", document_id)
            report.error(f"document {document_id}: {type(error).__name__}: {error}")
            continue
        report.add(labels[status])
        failures_in_a_row = failures_in_a_row + 1 if status == ScanStatus.ERROR else 0
        if failures_in_a_row >= RESCAN_MAX_FAILURES_IN_A_ROW:
            report.error(f"{failures_in_a_row} scans failed in a row: clamd is failing; stopped, the next run goes on")
            return
