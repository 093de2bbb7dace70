"""Every write on the supporting documents of applications (ecandidat-features §1.7, §1.10, §2.4; security
reference A.3 and A.7): the candidate's and staff's uploads, "not concerned", and what follows a quarantine.

Files are stored by the ``documents`` layer (``documents.services.store_upload``), whose durability rules hold:
- the file is written (and flushed) to storage before the rows that point to it commit; if the database write
  fails the file is deleted at once, and a crash in between leaves an orphan that ``remove_orphan_files`` deletes;
- a file that is replaced or removed is deleted from storage only after the commit that unlinks it.
Here, the application row is locked, so a double submit creates one piece, not two.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext, gettext_lazy, ngettext

from applications.dates import ACT_MARGIN, closes_tonight, first_day_to_act
from applications.enums import EventKind, PieceStatus
from applications.history import live_applications_asking_for, record_event, record_events
from applications.models import Application, PieceSubmission
from applications.pieces import (
    held_piece_reason,
    is_shared_piece,
    piece_rows,
    pieces_locked_reason,
    replace_locked_reason,
    shared_piece_holder,
    submission_of,
    transmitted_sharers,
    validatable_pieces,
)
from documents.enums import OPENABLE_SCANS
from documents.models import Document
from documents.scanning import document_quarantined
from documents.services import UploadRefused, queue_scan, store_upload
from documents.storage import delete_document, delete_quietly, stored_name
from ecandidat.exceptions import BusinessRuleError, FieldRuleError, InvalidTransition
from ecandidat.maintenance import hour_label
from ecandidat.prepared import PreparedQuery
from ecandidat.text import check_savable
from offers.models import Formation, PieceType

if TYPE_CHECKING:
    from accounts.models import User

__all__ = ["UploadRefused"]  # re-exported: views and tests catch it from here

logger = logging.getLogger(__name__)

ONE_FILE_PER_PIECE = gettext_lazy("You can upload only one file per requested supporting document")
NEUTRAL_REJECTION = gettext_lazy("The file could not be accepted, upload another one.")
NOT_CLEARED = gettext_lazy("The antivirus has not cleared this file yet: it cannot be validated.")
STALE_PIECES = gettext_lazy(
    "A file has been sent or replaced since the page was shown; nothing was validated: check the pieces again."
)
STALE_PIECE = gettext_lazy(
    "The candidate has removed or replaced this file since the page was shown; nothing was done: check the new one."
)
STALE_REMOVAL = gettext_lazy("This file has changed since the page was shown: nothing was removed.")
SENT_BY_CANDIDATE_MEANWHILE = gettext_lazy(
    "The candidate has sent a file for this piece since the page was shown: nothing was uploaded."
)
SENT_MEANWHILE = gettext_lazy("A file has been sent for this piece since the page was shown: nothing was uploaded.")


# --- Rules -----------------------------------------------------------------------------------------------------


def _check_candidate_may_change(application: Application) -> None:
    reason = pieces_locked_reason(application)
    if reason:
        raise InvalidTransition(reason)


def _check_candidate_may_upload(application: Application, submission: PieceSubmission | None) -> None:
    """A refused piece follows its own rule (targeted correction: replaceable until its deadline whatever the
    dossier status); any other piece the application's."""
    if submission is not None and submission.status == PieceStatus.REFUSED:
        reason = replace_locked_reason(application, submission)
        if reason:
            raise InvalidTransition(reason)
        return
    _check_candidate_may_change(application)


# The upload's reads, compiled once per process (ecandidat.prepared, issue 14): every upload runs them.
_FORMATION_ASKS_FOR = PreparedQuery(
    lambda formation_id, piece_type_id: Formation.piece_types.through.objects.filter(
        formation_id=formation_id, piecetype_id=piece_type_id
    ).values_list("pk")[:1]
)
# ``FOR NO KEY UPDATE`` (``_lock``): every other lock of the row still waits for it, not a history row written on it.
_LOCKED_APPLICATION = PreparedQuery(
    lambda pk: (
        Application.objects.select_for_update(of=("self",), no_key=True)
        .select_related("formation", "candidate")
        .filter(pk=pk)
    )
)
# The application's own submission of a piece and the candidate's shared one (at most one of each), in one query.
_LOCKED_SUBMISSIONS = PreparedQuery(
    lambda application_id, candidate_id, piece_type_id: (
        PieceSubmission.objects.select_for_update(of=("self",))
        .select_related("document")
        .filter(piece_type_id=piece_type_id)
        .filter(Q(application_id=application_id) | Q(application__isnull=True, candidate_id=candidate_id))
    )
)


def _check_piece_requested(application: Application, piece_type: PieceType) -> None:
    """``applicable_piece_types`` for one piece: decided from the loaded rows for common pieces, one query for a
    formation's own piece. Reads ``application.formation`` (select it with the application)."""
    if not piece_type.in_service or not piece_type.requested_from(application.treatment_type):
        requested = False
    elif piece_type.is_common:
        requested = piece_type.centre_id is None or piece_type.centre_id == application.formation.centre_id
    else:
        requested = bool(_FORMATION_ASKS_FOR.all(formation_id=application.formation_id, piece_type_id=piece_type.pk))
    if not requested:
        raise BusinessRuleError(gettext("This supporting document is not requested for this application."))


def _check_not_held(application: Application, submission: PieceSubmission, piece_type: PieceType) -> None:
    """A shared file that another application of the candidate, transmitted, asks for is part of the dossier staff
    review: it is not removed nor declared (not) concerned through an application still open. Replacing a refused
    one stays open (``upload_piece``)."""
    if submission.application_id is not None:
        return
    holder = shared_piece_holder(piece_type, transmitted_sharers(application))
    if holder is not None:
        raise InvalidTransition(held_piece_reason(holder))


def _lock(application: Application) -> Application:
    """Lock the application row and return it fresh, with its formation.

    ``FOR NO KEY UPDATE``, as ``transmit_application`` (which gives the lock order: the application's row, then its
    submissions): a change of a shared piece writes a history row on each of the candidate's live applications that
    ask for it, and that row's foreign key check (``KEY SHARE``) does not wait for this lock. With ``FOR UPDATE`` it
    did: staff checking the shared piece (``set_piece_status``: its row, then the history rows) while, through another
    application, the candidate removed its file or staff uploaded or validated it (that application's row, then
    the piece's) waited for each other, and PostgreSQL aborted one of the two ("deadlock detected")."""
    locked = _LOCKED_APPLICATION.first(pk=application.pk)
    if locked is None:
        raise Application.DoesNotExist("The application was deleted.")
    return locked


def _locked_submission(application: Application, piece_type: PieceType) -> PieceSubmission | None:
    """The piece's submission the application reads, locked (one query): its own, else the candidate's shared one,
    whatever the piece's "unique" flag says now (``applications.pieces.submission_of``: a file sent before the flag
    changed is the one removed or replaced, and blocks a second). None: a first submission, of the kind the flag
    says (``is_shared_piece``)."""
    found = _LOCKED_SUBMISSIONS.all(
        application_id=application.pk, candidate_id=application.candidate_id, piece_type_id=piece_type.pk
    )
    own = {row.piece_type_id: row for row in found if row.application_id is not None}
    shared = {row.piece_type_id: row for row in found if row.application_id is None}
    return submission_of(piece_type.pk, own, shared)


def _event(
    application: Application,
    submission: PieceSubmission,
    *,
    actor: User,
    kind: EventKind,
    piece_type: PieceType,
    comment: str = "",
) -> None:
    """The history row of a change of ``submission`` made through ``application``: a shared piece (no application)
    is in the history of every live application of the candidate that asks for it (``live_applications_asking_for``:
    not those of another centre, for a centre's piece), as its checks are (``set_piece_status``)."""
    comment = f"{piece_type.code}: {comment}".rstrip(": ")
    if submission.application_id is not None:
        record_event(application, actor=actor, kind=kind, comment=comment)
    else:
        record_events(
            live_applications_asking_for(application.candidate_id, piece_type), actor=actor, kind=kind, comment=comment
        )


# --- Candidate -------------------------------------------------------------------------------------------------


def upload_piece(
    *,
    application: Application,
    piece_type: PieceType,
    uploaded_file: UploadedFile | Sequence[UploadedFile],
    actor: User,
) -> PieceSubmission:
    """Validate ``uploaded_file``, store it and mark the piece "Transmise" (the "+" button, or "Remplacer" on a
    refused piece, whose file the new one replaces: the old file is deleted after the commit). Several files are
    photos of one document: they are stored as one PDF, one page per photo (``documents.merge``).

    Raises ``UploadRefused`` (a ``BusinessRuleError``) for a refused file and ``BusinessRuleError`` when the
    piece cannot change. Call it outside a transaction or in one that commits right after: the file is written
    first, then the rows commit; the antivirus scan is queued after the commit.
    """
    # Only what needs no lock is checked before the file is read; the application's and the piece's own rules
    # (which depend on the piece's state: a refused piece has its own deadline) once, under the row lock.
    _check_piece_requested(application, piece_type)
    return _store_piece(
        application=application,
        piece_type=piece_type,
        uploaded_file=uploaded_file,
        actor=actor,
        check=_check_candidate_upload,
        event_kind=EventKind.PIECE_UPLOADED,
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
    return _store_piece(
        application=application,
        piece_type=piece_type,
        uploaded_file=uploaded_file,
        actor=actor,
        check=_check_staff_upload,
        event_kind=EventKind.PIECE_UPLOADED_BY_STAFF,
        created_meanwhile=SENT_MEANWHILE,
    )


def _store_piece(
    *,
    application: Application,
    piece_type: PieceType,
    uploaded_file: UploadedFile | Sequence[UploadedFile],
    actor: User,
    check: Callable[[Application, PieceSubmission | None], None],
    event_kind: EventKind,
    created_meanwhile: Any = ONE_FILE_PER_PIECE,
) -> PieceSubmission:
    """The upload pipeline shared by the candidate and staff: validate, write and flush the file, then commit the
    rows under the application's lock (re-checking the rules there), then queue the scan. ``created_meanwhile``:
    what the uploader reads when another request created the piece's first submission between the checks."""
    document = store_upload(uploaded_file, campaign_code=application.campaign.code, actor=actor)
    name = stored_name(document)
    try:
        with transaction.atomic():
            locked = _lock(application)
            submission = _locked_submission(locked, piece_type)
            check(locked, submission)  # the rules again, under the lock
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
            submission.replace_by = None
            submission.status_changed_at = timezone.now()
            submission.status_changed_by = actor
            submission.save()
            if replaced is not None:
                delete_document(replaced)
            _event(locked, submission, actor=actor, kind=event_kind, piece_type=piece_type)
            queue_scan(document)
    except IntegrityError as error:
        # Another request created the same piece between our checks (shared piece, double submit).
        delete_quietly(name)
        raise BusinessRuleError(str(created_meanwhile)) from error
    except BaseException:
        delete_quietly(name)
        raise
    return submission


def _check_candidate_upload(application: Application, submission: PieceSubmission | None) -> None:
    _check_candidate_may_upload(application, submission)
    _check_can_upload(submission)


def _check_staff_upload(application: Application, submission: PieceSubmission | None) -> None:
    _check_staff_may_upload(application)
    _check_staff_can_upload(application, submission)


def _check_staff_may_upload(application: Application) -> None:
    if application.cancelled_at is not None:
        raise InvalidTransition(gettext("This application has been cancelled."))


def _check_staff_can_upload(application: Application, submission: PieceSubmission | None) -> None:
    if submission is None or submission.status in (PieceStatus.WAITING, PieceStatus.REFUSED):
        return
    if submission.status == PieceStatus.NOT_CONCERNED:
        raise InvalidTransition(gettext("The candidate declared this piece not concerned: its status is theirs."))
    if submission.status == PieceStatus.VALIDATED:
        raise InvalidTransition(gettext("This piece has been validated: it can no longer be changed."))
    # « Transmise »: the staff page offered the upload on a piece without a file (``PieceRow.can_staff_upload``), so
    # a file came meanwhile; staff read who sent it (the candidate, or a colleague on their behalf), not the
    # candidate's « one file per piece ». ``application.candidate`` and the document are loaded with the lock.
    document = submission.document
    if document is not None and document.uploaded_by_id == application.candidate.user_id:
        raise InvalidTransition(str(SENT_BY_CANDIDATE_MEANWHILE))
    raise InvalidTransition(str(SENT_MEANWHILE))


def _check_can_upload(submission: PieceSubmission | None) -> None:
    if submission is None or submission.status in (PieceStatus.WAITING, PieceStatus.REFUSED):
        return
    if submission.status == PieceStatus.NOT_CONCERNED:
        raise InvalidTransition(
            gettext("You declared that this piece does not concern you: declare that it concerns you first.")
        )
    raise InvalidTransition(str(ONE_FILE_PER_PIECE))


def remove_piece(
    *, application: Application, piece_type: PieceType, actor: User, shown_document: str | None = None
) -> PieceSubmission | None:
    """Remove the candidate's file ("-"): the piece goes back to "En attente"; the file is deleted after commit.

    Only through an application that asks for the piece, as the upload: a shared piece's file is otherwise reachable
    from any of the candidate's applications, among them one still open while those that ask for it are locked.

    ``shown_document``: the public id of the file the page showed beside « - » (None: a page from before the field,
    a caller that showed no page, checks nothing). When the piece holds another file now (staff uploaded one on the
    candidate's behalf meanwhile), nothing is removed (``STALE_REMOVAL``), as staff's checks (``set_piece_status``).
    A repeat (a double submit) writes nothing and succeeds: the piece no longer holds the file the page showed, or,
    without ``shown_document``, it is « En attente » without a file; returns the submission (None when there is
    none).
    """
    _check_piece_requested(application, piece_type)
    with transaction.atomic():
        locked = _lock(application)
        _check_candidate_may_change(locked)
        submission = _locked_submission(locked, piece_type)
        if submission is None or submission.document_id is None:
            if shown_document or submission is None or submission.status == PieceStatus.WAITING:
                return submission  # already removed (a second click): nothing changes, no history row
            raise InvalidTransition(gettext("There is no file to remove for this piece."))
        if shown_document is not None and shown_document != _public_id(submission.document):
            raise InvalidTransition(str(STALE_REMOVAL))
        _check_not_held(locked, submission, piece_type)
        if submission.status == PieceStatus.VALIDATED:
            raise InvalidTransition(gettext("This piece has been validated: it can no longer be changed."))
        document = submission.document
        assert document is not None  # document_id checked above
        submission.document = None
        if submission.status != PieceStatus.REFUSED:
            _set_back_to_waiting(submission, actor=actor)
        # A refused piece stays refused without its file, as after a quarantine (the candidates' guide: read the
        # reason, remove the file with "-", then send a new one with "+"): its comment and its own deadline to
        # replace it (targeted correction) still hold until the new file comes.
        submission.save()
        delete_document(document)
        _event(locked, submission, actor=actor, kind=EventKind.PIECE_REMOVED, piece_type=piece_type)
    return submission


def _set_back_to_waiting(submission: PieceSubmission, *, actor: User) -> None:
    """The piece is expected again ("En attente", without its file, which the caller takes off): a refusal's comment
    and deadline go with the refusal (``piece_replace_by_only_when_refused``)."""
    submission.status = PieceStatus.WAITING
    submission.comment = ""
    submission.replace_by = None
    submission.status_changed_at = timezone.now()
    submission.status_changed_by = actor


def declare_not_concerned(*, application: Application, piece_type: PieceType, actor: User) -> PieceSubmission:
    """A conditional piece that does not concern the candidate: "Non concerné" (no file). Also a refused piece
    without its file (removed by the candidate, or taken away by the antivirus): the refusal's comment goes."""
    submission = _set_concerned(application=application, piece_type=piece_type, actor=actor, concerned=False)
    assert submission is not None  # "Non concerné" is always a stored submission
    return submission


def declare_concerned(*, application: Application, piece_type: PieceType, actor: User) -> PieceSubmission | None:
    """Undo "Non concerné": the piece is expected again ("En attente"). Also on a piece made required since the
    declaration, which is missing until the candidate does so and sends it (``PieceRow.is_now_required``). A piece
    already expected (a second click) is left as it is (None: it has no submission)."""
    return _set_concerned(application=application, piece_type=piece_type, actor=actor, concerned=True)


def _set_concerned(
    *, application: Application, piece_type: PieceType, actor: User, concerned: bool
) -> PieceSubmission | None:
    if not concerned and not piece_type.is_conditional:
        raise BusinessRuleError(gettext("This piece is not conditional: it is required."))
    _check_piece_requested(application, piece_type)
    with transaction.atomic():
        locked = _lock(application)
        _check_candidate_may_change(locked)
        submission = _locked_submission(locked, piece_type)
        if submission is not None:
            _check_not_held(locked, submission, piece_type)
        source = PieceStatus.NOT_CONCERNED if concerned else PieceStatus.WAITING
        current = submission.status if submission is not None else PieceStatus.WAITING
        if current == (PieceStatus.WAITING if concerned else PieceStatus.NOT_CONCERNED):
            return submission  # already so (a second click): nothing changes, no history row
        if not concerned and current == PieceStatus.REFUSED and submission is not None and not submission.document_id:
            # Refused without its file (the candidate removed the refused file, or the antivirus took it away): the
            # piece holds nothing, the candidate may still declare it not concerned. The refusal's comment and
            # deadline go with the refusal (``piece_replace_by_only_when_refused``).
            submission.comment = ""
            submission.replace_by = None
        elif current != source:
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
            locked,
            submission,
            actor=actor,
            kind=EventKind.PIECE_CONCERNED if concerned else EventKind.PIECE_NOT_CONCERNED,
            piece_type=piece_type,
        )
    return submission


# --- Staff -----------------------------------------------------------------------------------------------------

STAFF_STATUSES = frozenset({PieceStatus.VALIDATED, PieceStatus.REFUSED, PieceStatus.SUBMITTED, PieceStatus.WAITING})


def clean_piece_check(
    *, submission: PieceSubmission, status: str, comment: str, replace_by: datetime.date | None = None
) -> str:
    """The rules of a staff check, before anything is read or written: a status staff may set, a comment to refuse
    (the candidate reads it), 500 characters kept, a deadline to replace the piece only with a refusal and not in
    the past. Returns the comment as stored; raises ``FieldRuleError`` naming the field (``status``, ``comment`` or
    ``replace_by``) so the view can show the message next to it."""
    if status not in STAFF_STATUSES:
        raise FieldRuleError(gettext("This status cannot be set by staff."), field="status")
    comment = (comment or "").strip()[:500].strip()
    check_savable(comment, field="comment")
    if status == PieceStatus.REFUSED and not comment:
        # Only read when refusing: validating many pieces reads no label. The institution's French, marked
        # ``lang="fr"`` for an English reader (RGAA 8.7), as the history does (``admin.review.history_line``): the
        # message is HTML, every part escaped.
        label = format_html('<span lang="fr">{}</span>', Truncator(submission.piece_type.label).chars(80))
        message = conditional_escape(gettext("%(piece)s: give a comment to refuse a piece; the candidate reads it."))
        raise FieldRuleError(mark_safe(message % {"piece": label}), field="comment")  # noqa: S308 - escaped above
    if replace_by is not None and status != PieceStatus.REFUSED:
        raise FieldRuleError(gettext("A deadline to replace the piece goes with a refusal only."), field="replace_by")
    if replace_by is not None and replace_by < timezone.localdate():
        raise FieldRuleError(gettext("The deadline to replace the piece cannot be in the past."), field="replace_by")
    if replace_by is not None and replace_by < first_day_to_act(margin=ACT_MARGIN):
        # Today, in the hour before the site closes for the night: the candidate would have had minutes to replace it.
        if closes_tonight():
            raise FieldRuleError(
                gettext(
                    "The candidate would have less than an hour to replace the piece by today: the site closes at "
                    "%(time)s tonight. Give tomorrow's date or a later one."
                )
                % {"time": hour_label(settings.MAINTENANCE_START)},
                field="replace_by",
            )
        # Today, once the site has closed for the night: the candidate could not reach the site before it passed.
        raise FieldRuleError(
            gettext(
                "The candidate could no longer replace the piece by today: the site is closed until %(time)s "
                "tomorrow. Give tomorrow's date or a later one."
            )
            % {"time": hour_label(settings.MAINTENANCE_END)},
            field="replace_by",
        )
    return comment


def is_replayed_check(
    submission: PieceSubmission, *, status: str, comment: str, replace_by: datetime.date | None = None
) -> bool:
    """The same status with the same (cleaned) comment and deadline again: a second click or a replayed form, which
    writes nothing."""
    return submission.status == status and submission.comment == comment and submission.replace_by == replace_by


def _same_moment(shown: str, at: datetime.datetime | None) -> bool:
    """Whether ``shown`` (a moment as a page posts it, ISO 8601, "" for none) is ``at``; a forged value is not."""
    if at is None:
        return shown == ""
    try:
        return datetime.datetime.fromisoformat(shown) == at  # a naive moment is never equal to an aware one
    except ValueError:
        return False


def _changed_meanwhile_message(submission: PieceSubmission, *, viewer: User) -> str:
    """What staff read when the piece they checked was changed since their page was shown: by whom (their own
    check in another tab, a colleague, the system), and its status now; nothing was done."""
    changer = submission.status_changed_by
    if changer is None:
        who = gettext("someone else")
    elif changer.pk == viewer.pk:
        who = gettext("yourself (in another tab or on another device)")
    else:
        who = changer.get_full_name() or changer.username
    return gettext(
        "This piece was changed by %(who)s since the page was shown (status now: %(status)s); nothing was done: "
        "check it again."
    ) % {"who": who, "status": PieceStatus(submission.status).label}


def set_piece_status(
    *,
    submission: PieceSubmission,
    status: str,
    comment: str = "",
    actor: User,
    replace_by: datetime.date | None = None,
    shown_document: str | None = None,
    shown_status: str | None = None,
    shown_changed_at: str | None = None,
) -> PieceSubmission:
    """Staff check a piece: "Validée", "Refusée" (with a comment the candidate reads), back to "Transmise".

    A refusal may give the piece its own deadline (``replace_by``, today or later): until then the candidate may
    replace it whatever the dossier status and the application's return deadline (targeted correction); the
    history and the "dossier incomplet" mail say it. "En attente" is only accepted for a piece without a file;
    "Non concerné" is the candidate's declaration and is never changed here. A file the antivirus has not cleared
    (``OPENABLE_SCANS``), which staff could not open, is never validated. ``shown_document``: the public id of the
    file the page showed staff ("" none; None, a caller that showed no page, checks nothing); refused, nothing done,
    when the piece holds another one now (the candidate removed or replaced it meanwhile, ``STALE_PIECE``).
    Idempotent: the same status with the same comment and deadline again writes nothing.
    ``shown_status`` and ``shown_changed_at``: the status the page showed and when it was set (ISO 8601, "" never
    set); when the piece is no longer so (a colleague checked it meanwhile: refused, validated, its comment changed),
    nothing is written and ``InvalidTransition`` names who changed it and its status now; None (a page from before
    these fields, a caller that showed no page) checks nothing. A check that asks for what the piece already is
    stays a replay, which writes nothing, as the view's own test before the lock says.
    """
    comment = clean_piece_check(submission=submission, status=status, comment=comment, replace_by=replace_by)
    with transaction.atomic():
        locked = (
            PieceSubmission.objects.select_for_update(of=("self",))
            .select_related("piece_type", "document", "status_changed_by")
            .get(pk=submission.pk)
        )
        if locked.status == PieceStatus.NOT_CONCERNED:
            raise InvalidTransition(gettext("The candidate declared this piece not concerned: its status is theirs."))
        if shown_document is not None and shown_document != _public_id(locked.document):
            raise InvalidTransition(str(STALE_PIECE))
        if is_replayed_check(locked, status=status, comment=comment, replace_by=replace_by):
            return locked  # a second click (or a replayed form) changes nothing and writes no history
        if (shown_status is not None and shown_status != locked.status) or (
            shown_changed_at is not None and not _same_moment(shown_changed_at, locked.status_changed_at)
        ):
            raise InvalidTransition(_changed_meanwhile_message(locked, viewer=actor))
        has_file = locked.document_id is not None
        if status == PieceStatus.WAITING and has_file:
            raise InvalidTransition(gettext("A piece with a file cannot be set back to waiting."))
        if status != PieceStatus.WAITING and not has_file:
            raise InvalidTransition(gettext("No file has been sent for this piece."))
        if status == PieceStatus.VALIDATED and locked.document is not None and not _openable(locked.document):
            raise InvalidTransition(str(NOT_CLEARED))
        locked.status = status
        locked.comment = comment
        locked.replace_by = replace_by
        locked.status_changed_at = timezone.now()
        locked.status_changed_by = actor
        locked.save()
        if replace_by is not None:
            with translation.override(settings.LANGUAGE_CODE):  # the history is read in the institution's language
                comment = gettext("%(comment)s (to replace by %(date)s)") % {
                    "comment": comment,
                    "date": date_format(replace_by, "SHORT_DATE_FORMAT"),
                }
        # A shared piece (no application) is in the history of every live application of the candidate that asks
        # for it (``live_applications_asking_for``): another centre's staff never read this centre's comment.
        record_events(
            [locked.application_id]
            if locked.application_id is not None
            else live_applications_asking_for(locked.candidate_id, locked.piece_type),
            kind=EventKind.PIECE_STATUS,
            actor=actor,
            to_status=status,
            comment=f"{locked.piece_type.code}: {comment}".rstrip(": "),
        )
    submission.refresh_from_db()
    return locked


class ValidatedPieces(int):
    """What ``validate_shown_pieces`` returns: the number of pieces it validated (an ``int``: what the view counts),
    with ``refused_meanwhile``, how many pieces whose file the page offered were refused since it was shown (a
    colleague's check), which stay refused, and ``refused_meanwhile_message``, what to tell staff of them."""

    refused_meanwhile: int

    def __new__(cls, validated: int, *, refused_meanwhile: int = 0) -> ValidatedPieces:
        result = super().__new__(cls, validated)
        result.refused_meanwhile = refused_meanwhile
        return result

    @property
    def refused_meanwhile_message(self) -> str:
        """What to tell staff of the pieces refused meanwhile ("" when none was)."""
        if not self.refused_meanwhile:
            return ""
        return ngettext(
            "%(count)d piece the page showed was refused meanwhile (a colleague's check): it was not validated.",
            "%(count)d pieces the page showed were refused meanwhile (a colleague's check): they were not validated.",
            self.refused_meanwhile,
        ) % {"count": self.refused_meanwhile}


def validate_shown_pieces(
    *, application: Application, shown_documents: Collection[str] | None, actor: User
) -> ValidatedPieces:
    """ "Valider toutes les pièces transmises" as the page showed them: validate, in one transaction, every submitted
    piece of ``application`` whose file the antivirus has cleared (``validatable_pieces``), provided
    staff saw each of these files (``shown_documents``: the public ids of the files the page offered; None, a caller
    that showed no page, checks nothing).

    The submissions are locked as they are read (``piece_rows(lock=True)``: in display order, after the application's
    row, ``transmit_application``'s lock order), so each piece is validated in the state read: a colleague's check
    made before is read, one made after waits for this commit. Before, the pieces were read unlocked, then locked one
    by one as they were validated, and a colleague's refusal committed in between was replaced by « Validée ».

    A file sent, replaced or added since the page was shown is never validated unseen: the whole action is refused
    and nothing is validated (``InvalidTransition``, ``STALE_PIECES``). A shown piece validated meanwhile (a
    colleague, a second click) is simply no longer there: a replay validates nothing and returns 0. A shown piece
    refused meanwhile is left refused, the others validated, and the result says so (``ValidatedPieces``). Each piece
    gets its own history row (``set_piece_status``); no mail (ecandidat-features §2.4: the candidate hears of pieces
    through the dossier status).
    """
    with transaction.atomic():
        locked = _lock(application)
        all_rows = piece_rows(locked, lock=True)
        rows = validatable_pieces(all_rows)
        if shown_documents is not None and any(_public_id(row.document) not in shown_documents for row in rows):
            raise InvalidTransition(str(STALE_PIECES))
        # Offered « Transmise » with this very file, and no longer either « Transmise » or « Validée »: refused since.
        refused_meanwhile = sum(
            1
            for row in all_rows
            if shown_documents is not None
            and row.document is not None
            and _public_id(row.document) in shown_documents
            and row.status not in (PieceStatus.SUBMITTED, PieceStatus.VALIDATED)
        )
        for row in rows:
            assert row.submission is not None  # kept above with their document
            set_piece_status(
                submission=row.submission,
                status=PieceStatus.VALIDATED,
                actor=actor,
                shown_document=_public_id(row.document),
            )
    return ValidatedPieces(len(rows), refused_meanwhile=refused_meanwhile)


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
        for submission in submissions:
            document = submission.document
            assert document is not None  # selected with document__isnull=False
            submission.document = None
            _set_back_to_waiting(submission, actor=actor)
            submission.save()
            delete_document(document)
    return len(submissions)


def _openable(document: Document) -> bool:
    """Whether staff could open the file: the antivirus has cleared it, or none is set up (``OPENABLE_SCANS``)."""
    return document.scan_status in OPENABLE_SCANS


def _public_id(document: Document | None) -> str:
    """How a page names the file it shows (a hidden field): its public id, "" for none."""
    return str(document.public_id) if document is not None else ""


# --- Antivirus -------------------------------------------------------------------------------------------------


@receiver(document_quarantined, dispatch_uid="applications.take_off_quarantined_piece")
def take_off_quarantined_piece(
    sender: type[Document], *, document: Document, signature: str, scanned_at: datetime.datetime, batch: str, **_: Any
) -> None:
    """An infected file was quarantined (``documents.scanning``, same transaction): the piece that held it is
    refused, without its file, which keeps the candidate's account as its owner (``Document.owner``). The candidate
    reads a neutral comment, staff read the signature in the history of the application (for a shared piece, every
    live application of the candidate that asks for it: ``live_applications_asking_for``).

    Refused, not "En attente": the nightly re-scan with new signatures mostly finds files of transmitted dossiers,
    whose waiting pieces the candidate cannot fill; a refused piece follows the targeted correction
    (``replace_locked_reason``), so the candidate can send another file until the return deadline, as the comment
    tells them to.
    """
    submission = (
        PieceSubmission.objects.select_for_update(of=("self",))
        .select_related("candidate", "piece_type")
        .filter(document_id=document.pk)
        .first()
    )
    if submission is None:
        return
    with translation.override(submission.candidate.preferred_language):
        comment = str(NEUTRAL_REJECTION)
    submission.document = None
    submission.status = PieceStatus.REFUSED
    submission.comment = comment
    submission.status_changed_at = scanned_at
    submission.status_changed_by = None
    submission.save()
    # The file stays under quarantine/ without a piece: it keeps its owner, whoever uploaded it (staff, for the
    # candidate), so the candidate's full deletion (``erasure``) takes it too.
    document.owner_id = submission.candidate.user_id
    document.save(update_fields=["owner"])
    record_events(
        [submission.application_id]
        if submission.application_id is not None
        else live_applications_asking_for(submission.candidate_id, submission.piece_type),
        kind=EventKind.PIECE_QUARANTINED,
        batch=batch,
        to_status=PieceStatus.REFUSED,
        comment=f"{submission.piece_type.code}: {signature}".rstrip(": "),
    )
