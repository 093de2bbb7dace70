"""Every write on supporting documents (ecandidat-features §1.7, §1.10, §2.4; security reference A.3 and A.7).

Durability rules:
- the file is written (and flushed) to storage before the rows that point to it commit; if the database write
  fails the file is deleted at once, and a crash in between leaves an orphan that ``remove_orphan_files`` deletes;
- a file that is replaced or removed is deleted from storage only after the commit that unlinks it;
- the application row is locked, so a double submit creates one piece, not two.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_lazy

from applications.dates import effective_return_deadline
from applications.models import Application, ApplicationEvent
from applications.workflow import CANDIDATE_EDITABLE
from documents import antivirus
from documents.enums import PieceStatus, ScanStatus
from documents.models import Document, PieceSubmission, document_path
from documents.pieces import applicable_piece_types, is_shared_piece
from documents.validation import validate_upload
from ecandidat.exceptions import BusinessRuleError, InvalidTransition
from offers.enums import ApplicationMode
from offers.models import PieceType

if TYPE_CHECKING:
    from accounts.models import User
    from ecandidat.batches import Report

logger = logging.getLogger(__name__)

QUARANTINE_PREFIX = "quarantine"

ONE_FILE_PER_PIECE = gettext_lazy("You can upload only one file per requested supporting document")
NEUTRAL_REJECTION = gettext_lazy("The file could not be accepted, upload another one.")


class UploadRefused(BusinessRuleError):
    """The uploaded file failed validation; the message says why."""


# --- Rules -----------------------------------------------------------------------------------------------------


def pieces_locked_reason(application: Application, *, today: datetime.date | None = None) -> str:
    """Why the candidate cannot change the pieces of ``application`` now ("" when they can).

    Reads ``application.formation`` (select it with the application).
    """
    today = today or timezone.localdate()
    if application.cancelled_at is not None:
        return gettext("This application has been cancelled.")
    if application.formation.mode != ApplicationMode.ONLINE:
        return gettext("Paper dossier: send your supporting documents by post, they are not uploaded here.")
    if application.dossier_status not in CANDIDATE_EDITABLE:
        return gettext("Your application has been transmitted: its supporting documents can no longer be changed.")
    deadline = effective_return_deadline(application)
    if today > deadline:
        return gettext("The return deadline (%(date)s) has passed: supporting documents can no longer be changed.") % {
            "date": date_format(deadline, "SHORT_DATE_FORMAT")
        }
    return ""


def can_change_pieces(application: Application) -> bool:
    return not pieces_locked_reason(application)


def _check_candidate_may_change(application: Application) -> None:
    reason = pieces_locked_reason(application)
    if reason:
        raise InvalidTransition(reason)


def _check_piece_requested(application: Application, piece_type: PieceType) -> None:
    if not PieceType.objects.filter(applicable_piece_types(application), in_service=True, pk=piece_type.pk).exists():
        raise BusinessRuleError(gettext("This supporting document is not requested for this application."))


def _submission_filter(application: Application, piece_type: PieceType) -> Q:
    if is_shared_piece(piece_type):
        return Q(candidate_id=application.candidate_id, piece_type_id=piece_type.pk, application__isnull=True)
    return Q(application_id=application.pk, piece_type_id=piece_type.pk)


def _lock(application: Application) -> Application:
    """Lock the application row and return it fresh, with its formation."""
    return (
        Application.objects.select_for_update(of=("self",))
        .select_related("formation", "candidate")
        .get(pk=application.pk)
    )


def _locked_submission(application: Application, piece_type: PieceType) -> PieceSubmission | None:
    return (
        PieceSubmission.objects.select_for_update(of=("self",))
        .select_related("document")
        .filter(_submission_filter(application, piece_type))
        .first()
    )


def _event(application: Application, *, actor: User, kind: str, piece_type: PieceType, comment: str = "") -> None:
    ApplicationEvent.objects.create(
        application=application, actor=actor, kind=kind, comment=f"{piece_type.code}: {comment}".rstrip(": ")
    )


def stored_name(document: Document) -> str:
    """The storage name of a saved document's file. ``FieldFile.name`` is Optional for unsaved files; a row read
    from the database always has one (the column is NOT NULL)."""
    name = document.file.name
    assert name is not None, f"document {document.pk} has no file name"
    return name


def _delete_file_on_commit(name: str) -> None:
    """Delete a stored file once the transaction that unlinked it has committed (never before)."""
    transaction.on_commit(lambda: _delete_quietly(name))


def _delete_quietly(name: str) -> None:
    try:
        default_storage.delete(name)
    except Exception:  # A file left behind is an orphan for remove_orphan_files; never fail the request here.
        logger.exception("Could not delete stored file %s", name)


# --- Candidate -------------------------------------------------------------------------------------------------


def upload_piece(
    *, application: Application, piece_type: PieceType, uploaded_file: UploadedFile, actor: User
) -> PieceSubmission:
    """Validate ``uploaded_file``, store it and mark the piece "Transmise" (the "+" button).

    Raises ``UploadRefused`` (a ``BusinessRuleError``) for a refused file and ``BusinessRuleError`` when the
    piece cannot change. Call it outside a transaction or in one that commits right after: the file is written
    first, then the rows commit; the antivirus scan is queued after the commit.
    """
    _check_candidate_may_change(application)
    _check_piece_requested(application, piece_type)
    _check_can_upload(PieceSubmission.objects.filter(_submission_filter(application, piece_type)).first())
    return _store_piece(
        application=application,
        piece_type=piece_type,
        uploaded_file=uploaded_file,
        actor=actor,
        check_application=_check_candidate_may_change,
        check_submission=_check_can_upload,
        event_kind="piece_uploaded",
    )


def upload_piece_for_candidate(
    *, application: Application, piece_type: PieceType, uploaded_file: UploadedFile, actor: User
) -> PieceSubmission:
    """Staff upload a file on the candidate's behalf, e.g. a piece received by post (ecandidat-features §2.4:
    "Gestionnaires can upload or delete files on behalf of the candidate").

    Staff may act whatever the return deadline and the dossier status, but not on a cancelled application.
    The piece must have no file yet, or a refused one, which the new file replaces (the old file is deleted after
    the commit). Same validation, storage and antivirus as the candidate's upload; the piece becomes "Transmise"
    (staff then check it like any other: the antivirus must have passed before they can open it), and the
    history records the staff member (``piece_uploaded_by_staff``). The caller checks the staff member's rights
    on the application (``Application.objects.editable_by(user)``).
    """
    _check_staff_may_upload(application)
    _check_piece_requested(application, piece_type)
    _check_staff_can_upload(PieceSubmission.objects.filter(_submission_filter(application, piece_type)).first())
    return _store_piece(
        application=application,
        piece_type=piece_type,
        uploaded_file=uploaded_file,
        actor=actor,
        check_application=_check_staff_may_upload,
        check_submission=_check_staff_can_upload,
        event_kind="piece_uploaded_by_staff",
    )


def _store_piece(
    *,
    application: Application,
    piece_type: PieceType,
    uploaded_file: UploadedFile,
    actor: User,
    check_application: Callable[[Application], None],
    check_submission: Callable[[PieceSubmission | None], None],
    event_kind: str,
) -> PieceSubmission:
    """The upload pipeline shared by the candidate and staff: validate, write and flush the file, then commit the
    rows under the application's lock (re-checking the rules there), then queue the scan."""
    try:
        validated = validate_upload(uploaded_file)
    except ValidationError as error:
        raise UploadRefused(" ".join(error.messages)) from error

    document = Document(
        campaign_code=application.campaign.code,
        original_name=validated.original_name,
        size=validated.size,
        content_type=validated.content_type,
        sha256=validated.sha256,
        uploaded_by=actor,
        scan_status=ScanStatus.PENDING if antivirus.is_configured() else ScanStatus.NOT_SCANNED,
    )
    name = default_storage.save(document_path(document, "piece" + validated.extension), ContentFile(validated.content))
    _flush(name)
    document.file.name = name
    try:
        with transaction.atomic():
            locked = _lock(application)
            check_application(locked)
            submission = _locked_submission(locked, piece_type)
            check_submission(submission)
            document.save()
            if submission is None:
                submission = PieceSubmission(
                    candidate_id=locked.candidate_id,
                    piece_type=piece_type,
                    application=None if is_shared_piece(piece_type) else locked,
                )
            replaced = submission.document
            submission.document = document
            submission.status = PieceStatus.SUBMITTED
            submission.comment = ""
            submission.status_changed_at = timezone.now()
            submission.status_changed_by = actor
            submission.save()
            if replaced is not None:
                replaced_name = stored_name(replaced)
                replaced.delete()
                _delete_file_on_commit(replaced_name)
            _event(locked, actor=actor, kind=event_kind, piece_type=piece_type)
            if document.scan_status == ScanStatus.PENDING:
                from documents.tasks import scan_document

                scan_document.delay_on_commit(document.pk)
    except IntegrityError as error:
        # Another request created the same piece between our checks (shared piece, double submit).
        _delete_quietly(name)
        raise BusinessRuleError(str(ONE_FILE_PER_PIECE)) from error
    except BaseException:
        _delete_quietly(name)
        raise
    return submission


def _check_staff_may_upload(application: Application) -> None:
    if application.cancelled_at is not None:
        raise InvalidTransition(gettext("This application has been cancelled."))


def _check_staff_can_upload(submission: PieceSubmission | None) -> None:
    if submission is None or submission.status in (PieceStatus.WAITING, PieceStatus.REFUSED):
        return
    if submission.status == PieceStatus.NOT_CONCERNED:
        raise InvalidTransition(gettext("The candidate declared this piece not concerned: its status is theirs."))
    if submission.status == PieceStatus.VALIDATED:
        raise InvalidTransition(gettext("This piece has been validated: it can no longer be changed."))
    raise InvalidTransition(str(ONE_FILE_PER_PIECE))


def _check_can_upload(submission: PieceSubmission | None) -> None:
    if submission is None or submission.status == PieceStatus.WAITING:
        return
    if submission.status == PieceStatus.NOT_CONCERNED:
        raise InvalidTransition(
            gettext("You declared that this piece does not concern you: declare that it concerns you first.")
        )
    raise InvalidTransition(str(ONE_FILE_PER_PIECE))


def _flush(name: str) -> None:
    """fsync a file of the local file system storage (remote storages confirm the write themselves)."""
    if not isinstance(default_storage, FileSystemStorage):
        return
    with open(default_storage.path(name), "rb") as handle:
        os.fsync(handle.fileno())


def remove_piece(*, application: Application, piece_type: PieceType, actor: User) -> PieceSubmission:
    """Remove the candidate's file ("-"): the piece goes back to "En attente"; the file is deleted after commit."""
    with transaction.atomic():
        locked = _lock(application)
        _check_candidate_may_change(locked)
        submission = _locked_submission(locked, piece_type)
        if submission is None or submission.document_id is None:
            raise InvalidTransition(gettext("There is no file to remove for this piece."))
        if submission.status == PieceStatus.VALIDATED:
            raise InvalidTransition(gettext("This piece has been validated: it can no longer be changed."))
        document = submission.document
        assert document is not None  # document_id checked above
        submission.document = None
        submission.status = PieceStatus.WAITING
        submission.status_changed_at = timezone.now()
        submission.status_changed_by = actor
        submission.save()
        name = stored_name(document)
        document.delete()
        _delete_file_on_commit(name)
        _event(locked, actor=actor, kind="piece_removed", piece_type=piece_type)
    return submission


def declare_not_concerned(*, application: Application, piece_type: PieceType, actor: User) -> PieceSubmission:
    """A conditional piece that does not concern the candidate: "Non concerné" (no file)."""
    return _set_concerned(application=application, piece_type=piece_type, actor=actor, concerned=False)


def declare_concerned(*, application: Application, piece_type: PieceType, actor: User) -> PieceSubmission:
    """Undo "Non concerné": the piece is expected again ("En attente")."""
    return _set_concerned(application=application, piece_type=piece_type, actor=actor, concerned=True)


def _set_concerned(
    *, application: Application, piece_type: PieceType, actor: User, concerned: bool
) -> PieceSubmission:
    if not piece_type.is_conditional:
        raise BusinessRuleError(gettext("This piece is not conditional: it is required."))
    _check_piece_requested(application, piece_type)
    with transaction.atomic():
        locked = _lock(application)
        _check_candidate_may_change(locked)
        submission = _locked_submission(locked, piece_type)
        source = PieceStatus.NOT_CONCERNED if concerned else PieceStatus.WAITING
        current = submission.status if submission is not None else PieceStatus.WAITING
        if current != source:
            if current == PieceStatus.VALIDATED:
                raise InvalidTransition(gettext("This piece has been validated: it can no longer be changed."))
            if concerned:
                raise InvalidTransition(gettext("This piece is already expected."))
            raise InvalidTransition(
                gettext("Remove the file first: a piece with a file cannot be declared not concerned.")
            )
        if submission is None:
            submission = PieceSubmission(
                candidate_id=locked.candidate_id,
                piece_type=piece_type,
                application=None if is_shared_piece(piece_type) else locked,
            )
        submission.status = PieceStatus.WAITING if concerned else PieceStatus.NOT_CONCERNED
        submission.status_changed_at = timezone.now()
        submission.status_changed_by = actor
        submission.save()
        _event(
            locked, actor=actor, kind="piece_concerned" if concerned else "piece_not_concerned", piece_type=piece_type
        )
    return submission


# --- Staff -----------------------------------------------------------------------------------------------------

STAFF_STATUSES = frozenset({PieceStatus.VALIDATED, PieceStatus.REFUSED, PieceStatus.SUBMITTED, PieceStatus.WAITING})


def set_piece_status(*, submission: PieceSubmission, status: str, comment: str = "", actor: User) -> PieceSubmission:
    """Staff check a piece: "Validée", "Refusée" (with a comment the candidate reads), back to "Transmise".

    "En attente" is only accepted for a piece without a file; "Non concerné" is the candidate's declaration and
    is never changed here.
    """
    if status not in STAFF_STATUSES:
        raise BusinessRuleError(gettext("This status cannot be set by staff."))
    comment = (comment or "").strip()
    if status == PieceStatus.REFUSED and not comment:
        raise BusinessRuleError(gettext("Give a comment to refuse a piece: the candidate reads it."))
    with transaction.atomic():
        locked = (
            PieceSubmission.objects.select_for_update(of=("self",)).select_related("piece_type").get(pk=submission.pk)
        )
        if locked.status == PieceStatus.NOT_CONCERNED:
            raise InvalidTransition(gettext("The candidate declared this piece not concerned: its status is theirs."))
        has_file = locked.document_id is not None
        if status == PieceStatus.WAITING and has_file:
            raise InvalidTransition(gettext("A piece with a file cannot be set back to waiting."))
        if status != PieceStatus.WAITING and not has_file:
            raise InvalidTransition(gettext("No file has been sent for this piece."))
        locked.status = status
        locked.comment = comment[:500]
        locked.status_changed_at = timezone.now()
        locked.status_changed_by = actor
        locked.save()
        if locked.application_id is not None:
            ApplicationEvent.objects.create(
                application_id=locked.application_id,
                actor=actor,
                kind="piece_status",
                to_status=status,
                comment=f"{locked.piece_type.code}: {comment}".rstrip(": "),
            )
    submission.refresh_from_db()
    return locked


def delete_application_files(*, application: Application, actor: User) -> int:
    """On cancellation: delete the application's own files (after commit); shared pieces are kept.

    Returns the number of files scheduled for deletion.
    """
    with transaction.atomic():
        submissions = list(
            PieceSubmission.objects.select_for_update(of=("self",))
            .filter(application_id=application.pk, document__isnull=False)
            .select_related("document")
        )
        names = []
        for submission in submissions:
            document = submission.document
            assert document is not None  # selected with document__isnull=False
            submission.document = None
            submission.status = PieceStatus.WAITING
            submission.status_changed_at = timezone.now()
            submission.status_changed_by = actor
            submission.save()
            names.append(stored_name(document))
            document.delete()
        for name in names:
            _delete_file_on_commit(name)
    return len(names)


# --- Antivirus -------------------------------------------------------------------------------------------------


SCAN_TASK = "scan_document"
RESCAN_BATCH = "rescan_documents"
# A scan queued at upload that has not run after this long was lost (worker killed, broker lost the message).
LOST_SCAN_AFTER = datetime.timedelta(hours=1)
# Scanning takes up to ~300 ms a file: bound a night's work (oldest scans first, the next night goes on).
RESCAN_DEFAULT_LIMIT = 2000
# clamd down or failing in the middle of the night: stop instead of timing out on every remaining file.
RESCAN_MAX_FAILURES_IN_A_ROW = 5


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

    Infected: the file moves under ``quarantine/``, the piece goes back to "En attente" with a neutral comment
    to the candidate, and the history of the application(s) records it (``batch``). Unreachable clamd, an error
    reply or a missing file: ``ERROR`` (staff see it; the file stays; the nightly batch retries).
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
    if result.is_clean:
        done = unchanged.update(scan_status=ScanStatus.CLEAN, scan_detail="", **recorded)
        return ScanStatus.CLEAN if done else None
    if not result.is_infected:
        done = unchanged.update(scan_status=ScanStatus.ERROR, scan_detail=result.detail[:255], **recorded)
        return ScanStatus.ERROR if done else None
    done = _quarantine(document, signature=result.signature or "", recorded=recorded, batch=batch)
    return ScanStatus.INFECTED if done else None


def _quarantine(document: Document, *, signature: str, recorded: dict[str, Any], batch: str) -> bool:
    """Move an infected file under ``quarantine/`` and take it off its piece (same path for upload and re-scan).

    The copy is written first; if the rows do not commit it is deleted, and the original stays until the commit.
    Returns False when the document changed meanwhile (removed, or scanned by someone else): nothing is done.
    """
    old_name = stored_name(document)
    with default_storage.open(old_name, "rb") as handle:
        new_name = default_storage.save(f"{QUARANTINE_PREFIX}/{old_name}", handle)
    try:
        with transaction.atomic():
            locked = (
                Document.objects.select_for_update(of=("self",))
                .filter(pk=document.pk, scan_status=document.scan_status)
                .first()
            )
            if locked is None:
                _delete_quietly(new_name)
                return False
            locked.file.name = new_name
            locked.scan_status = ScanStatus.INFECTED
            locked.scan_detail = signature[:255]
            for field, value in recorded.items():
                setattr(locked, field, value)
            locked.save(update_fields=["file", "scan_status", "scan_detail", *recorded])
            submission = (
                PieceSubmission.objects.select_for_update(of=("self",))
                .select_related("candidate", "piece_type")
                .filter(document_id=locked.pk)
                .first()
            )
            if submission is not None:
                _take_off_piece(submission, signature=signature, now=recorded["scanned_at"], batch=batch)
            _delete_file_on_commit(old_name)
    except BaseException:
        _delete_quietly(new_name)
        raise
    return True


def _take_off_piece(submission: PieceSubmission, *, signature: str, now: datetime.datetime, batch: str) -> None:
    """The piece is missing again; the candidate reads a neutral comment, staff read the signature in the history
    of the application (every live application of the candidate for a shared piece)."""
    with translation.override(submission.candidate.preferred_language):
        comment = str(NEUTRAL_REJECTION)
    submission.document = None
    submission.status = PieceStatus.WAITING
    submission.comment = comment
    submission.status_changed_at = now
    submission.status_changed_by = None
    submission.save()
    if submission.application_id is not None:
        application_ids = [submission.application_id]
    else:
        application_ids = list(
            Application.objects.filter(candidate_id=submission.candidate_id, cancelled_at__isnull=True).values_list(
                "pk", flat=True
            )
        )
    ApplicationEvent.objects.bulk_create(
        ApplicationEvent(
            application_id=application_id,
            batch=batch,
            kind="piece_quarantined",
            to_status=PieceStatus.WAITING,
            comment=f"{submission.piece_type.code}: {signature}".rstrip(": "),
        )
        for application_id in application_ids
    )


def documents_to_scan(*, current_version: int | None, now: datetime.datetime | None = None) -> QuerySet[Document]:
    """Documents of active campaigns that the nightly re-scan should scan, oldest scan first (one query).

    Failed scans, scans lost since their upload, files stored while no antivirus was configured, and, when
    clamd reports its signature version, clean files scanned with an older one (or before versions were kept).
    Quarantined files are not scanned again.
    """
    from offers.models import Campaign

    now = now or timezone.now()
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
        .filter(campaign_code__in=Campaign.objects.filter(is_active=True).values("code"), submission__isnull=False)
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
        report.error(f"clamd at {antivirus.configured_address()} does not answer: {error}; nothing scanned.")
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
