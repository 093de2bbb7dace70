"""Which pieces an application asks for, and where each stands (ecandidat-features §1.7).

The pieces of an application are the institution's common pieces, the common pieces of the formation's centre and
the formation's own pieces, in service, ordered and without duplicates, less those kept for another type de
traitement than the application's (eCandidat 2.3.0); a piece taken out of service, or no longer requested after a
change of type, stays listed while the candidate has already filled it. A common piece that is not "unique" is
answered once per candidate and shared by all of their applications (``PieceSubmission.application`` empty).
Should a piece's "unique" flag change once files are sent, a file sent before still counts (``submission_of``): the
application reads its own submission, else the candidate's shared one, whatever the flag says now; the flag only
decides which kind a first submission is. Likewise a piece declared "Non concerné", then made required, is missing
again until the candidate declares it concerned and sends it (``PieceRow.is_now_required``).

``piece_rows`` runs two queries whatever the number of pieces. On the candidate's pages (``for_staff=False``) the
piece types of the formation come from the "pages" cache (``listed_piece_types``): one query fewer on the recap and
the pieces page, the two pages a deadline rush reads most (issue 14); there, pieces detached from the formation since
they were filled cost one query more, whatever their number. Services (transmitting, checking, uploading) always read
the database.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

from applications.dates import effective_return_deadline
from applications.enums import PieceStatus
from applications.formation_cache import PerFormation
from applications.models import Application, PieceSubmission
from applications.workflow import CANDIDATE_EDITABLE
from documents.enums import OPENABLE_SCANS
from ecandidat.prepared import PreparedQuery
from offers.enums import ApplicationMode
from offers.models import Formation, PieceType

if TYPE_CHECKING:
    from documents.models import Document

BLOCKING_STATUSES = frozenset({PieceStatus.WAITING, PieceStatus.REFUSED})


@dataclass(frozen=True)
class PieceRow:
    piece_type: PieceType
    submission: PieceSubmission | None
    status: PieceStatus
    is_shared: bool
    # False for a piece listed only because it was filled: taken out of service, detached from the formation, or
    # kept for another type de traitement since. It never blocks the transmission.
    requested: bool = True

    @property
    def document(self) -> Document | None:
        return self.submission.document if self.submission is not None else None

    @property
    def comment(self) -> str:
        return self.submission.comment if self.submission is not None else ""

    @property
    def replace_by(self) -> datetime.date | None:
        """The refused piece's own deadline, when staff gave one (targeted correction)."""
        return self.submission.replace_by if self.submission is not None else None

    @property
    def is_now_required(self) -> bool:
        """Declared "Non concerné" while the piece was conditional, and made required since: it is missing."""
        return self.status == PieceStatus.NOT_CONCERNED and not self.piece_type.is_conditional

    @property
    def is_blocking(self) -> bool:
        return self.requested and (self.status in BLOCKING_STATUSES or self.is_now_required)

    # What the candidate may do on this row when the application's pieces can change at all; nothing on a row listed
    # only because it was filled (``requested`` False): the services refuse a piece the application does not ask for.
    @property
    def can_add(self) -> bool:
        """No file yet, or the antivirus took the refused one away (quarantine): "+" sends one."""
        if self.status == PieceStatus.REFUSED:
            return self.submission is not None and self.submission.document_id is None
        return self.status == PieceStatus.WAITING

    @property
    def can_remove(self) -> bool:
        return (
            self.requested
            and self.submission is not None
            and self.submission.document_id is not None
            and self.status != PieceStatus.VALIDATED
        )

    @property
    def can_staff_upload(self) -> bool:
        """Staff may upload on the candidate's behalf while the piece has no file, or replace a refused one."""
        return self.status in (PieceStatus.WAITING, PieceStatus.REFUSED)

    @property
    def can_declare_not_concerned(self) -> bool:
        """A conditional piece without a file: expected, or refused and its file taken off since (removed by the
        candidate with "-", or by the antivirus)."""
        if not self.requested or not self.piece_type.is_conditional:
            return False
        if self.status == PieceStatus.REFUSED:
            return self.submission is not None and self.submission.document_id is None
        return self.status == PieceStatus.WAITING

    @property
    def can_declare_concerned(self) -> bool:
        """Undo "Non concerné", also on a piece made required since (``is_now_required``), so that it can be sent."""
        return self.requested and self.status == PieceStatus.NOT_CONCERNED


def is_shared_piece(piece_type: PieceType) -> bool:
    """A common piece that is not unique is stored once per candidate and shared by their applications."""
    return piece_type.is_common and not piece_type.is_unique


def submission_of(
    piece_type_id: int, own: Mapping[int, PieceSubmission], shared: Mapping[int, PieceSubmission]
) -> PieceSubmission | None:
    """The submission an application reads for a piece: its own, else the candidate's shared one.

    Whatever the piece's "unique" flag says now (``is_shared_piece``): a file sent before the flag changed still
    counts, is locked with the dossier and blocks a second file (questions: ``applications.questions.answer_of``).
    Both kinds exist only when the piece became shared and another application then sent the shared file: the
    application keeps its own, which staff may have validated, as the commission packs and the OPI export read it.
    """
    return own.get(piece_type_id) or shared.get(piece_type_id)


def applicable_piece_types(application: Application) -> Q:
    """The filter of the piece types an application asks for (in service or not)."""
    formation_pieces = Formation.piece_types.through.objects.filter(formation_id=application.formation_id).values(
        "piecetype_id"
    )
    # The formation's centre from the loaded formation when there is one (a plain comparison, not a subquery).
    if type(application).formation.is_cached(application):
        centre = Q(is_common=True, centre_id=application.formation.centre_id)
    else:
        centre = Q(
            is_common=True, centre_id__in=Formation.objects.filter(pk=application.formation_id).values("centre_id")
        )
    return Q(is_common=True, centre__isnull=True) | centre | Q(is_common=False, pk__in=formation_pieces)


# The candidate pages' copies of each formation's piece types (applications.formation_cache).
PIECE_TYPES = PerFormation[PieceType]("piece-types")


def listed_piece_types(application: Application, *, cached: bool = False) -> list[PieceType]:
    """The piece types ``application``'s formation asks for (in service or not), in display order; with ``cached``,
    from the "pages" cache (``PIECE_TYPES``; only for display)."""
    if cached:
        return PIECE_TYPES.get(application.formation_id, lambda: listed_piece_types(application))
    return list(PieceType.objects.filter(applicable_piece_types(application)).order_by("order", "id"))


def _submissions(application_id: int, candidate_id: int) -> QuerySet[PieceSubmission]:
    """The application's own submissions and the candidate's shared ones."""
    return PieceSubmission.objects.filter(
        Q(application_id=application_id) | Q(application__isnull=True, candidate_id=candidate_id)
    )


# The candidate pages' submissions (files only), compiled once per process (ecandidat.prepared, issue 14).
_CANDIDATE_SUBMISSIONS = PreparedQuery(
    lambda application_id, candidate_id: _submissions(application_id, candidate_id).select_related("document")
)


def submissions_of(application: Application, *, for_staff: bool = True, lock: bool = False) -> list[PieceSubmission]:
    """The application's own submissions and the candidate's shared ones, with their files; for staff also their
    piece types and the staff member who last changed each status. Candidate pages take the piece types from the
    types they list and never show the reviewer: two joins less (issue 14; the types of pieces detached from the
    formation since they were filled, rare, are then read together by ``piece_rows``: one query more, only when
    there are some).

    ``lock`` (a service, in its transaction; not with ``for_staff=False``): the rows are locked as they are read
    (``select_for_update(of=("self",))``), in display order (the piece type's order, then its id), as
    ``transmit_application`` and ``validate_shown_pieces`` read them (``transmit_application`` gives the lock order).
    """
    if not for_staff:
        assert not lock, "the candidate pages' read is never locked"
        return _CANDIDATE_SUBMISSIONS.all(application_id=application.pk, candidate_id=application.candidate_id)
    staff_view = _submissions(application.pk, application.candidate_id)
    if lock:
        staff_view = staff_view.select_for_update(of=("self",)).order_by("piece_type__order", "piece_type_id")
    return list(staff_view.select_related("document", "piece_type", "status_changed_by"))


def piece_rows(application: Application, *, for_staff: bool = True, lock: bool = False) -> list[PieceRow]:
    """The pieces of ``application``, in display order (two queries). ``for_staff=False``, the candidate's pages:
    the piece types from the cache (``listed_piece_types``) and lighter submissions (``submissions_of``), the types
    of the pieces detached from the formation since they were filled read in one query more (only when there are
    some); ``lock``, a service: the submissions read are locked (``submissions_of``)."""
    types = listed_piece_types(application, cached=not for_staff)
    own: dict[int, PieceSubmission] = {}
    shared: dict[int, PieceSubmission] = {}
    for found in submissions_of(application, for_staff=for_staff, lock=lock):
        (shared if found.application_id is None else own)[found.piece_type_id] = found

    rows: list[PieceRow] = []
    listed: set[int] = set()
    for piece_type in types:
        submission = submission_of(piece_type.pk, own, shared)
        # Shared: the file shown is the candidate's one for all their applications (or will be, when none is sent).
        is_shared = submission.application_id is None if submission is not None else is_shared_piece(piece_type)
        requested = piece_type.in_service and piece_type.requested_from(application.treatment_type)
        if not requested and not _is_filled(submission):
            continue
        if submission is not None:
            submission.piece_type = piece_type  # the loaded type, whether the query joined it or not
        rows.append(_row(piece_type, submission, is_shared, requested=requested))
        listed.add(piece_type.pk)
    # A formation piece filled for this application, then detached from the formation: still shown.
    extra = [s for pk, s in own.items() if pk not in listed and _is_filled(s)]
    if extra and not for_staff:
        # The candidate pages' submissions come without their types (``submissions_of``): theirs in one query.
        detached = PieceType.objects.in_bulk([submission.piece_type_id for submission in extra])
        for submission in extra:
            submission.piece_type = detached[submission.piece_type_id]
    for submission in extra:
        rows.append(_row(submission.piece_type, submission, False, requested=False))
    if extra:
        rows.sort(key=lambda row: (row.piece_type.order, row.piece_type.pk))
    return rows


def blocking_pieces(application: Application, *, lock: bool = False) -> list[PieceRow]:
    """The pieces that prevent transmitting: waiting or refused, or declared not concerned but required since
    (``PieceRow.is_now_required``); submitted, validated and not concerned are fine. ``lock``: the submissions
    read stay locked until the caller's transaction ends (``piece_rows``), so they cannot change before it commits."""
    return [row for row in piece_rows(application, lock=lock) if row.is_blocking]


def _is_filled(submission: PieceSubmission | None) -> bool:
    return submission is not None and submission.status != PieceStatus.WAITING


def _row(
    piece_type: PieceType, submission: PieceSubmission | None, is_shared: bool, *, requested: bool = True
) -> PieceRow:
    status = PieceStatus(submission.status) if submission is not None else PieceStatus.WAITING
    return PieceRow(
        piece_type=piece_type, submission=submission, status=status, is_shared=is_shared, requested=requested
    )


# --- Whether the candidate may change them --------------------------------------------------------------------


def dossier_lock(application: Application, *, today: datetime.date | None = None) -> str:
    """Why the candidate can no longer change what they send with ``application`` (pieces, answers): "cancelled",
    "paper" (not an online dossier), "transmitted" (not ``AT``/``IN``), "deadline" (past the effective date limite
    de retour), or "" when they can. Reads ``application.formation`` (select it with the application)."""
    if application.cancelled_at is not None:
        return "cancelled"
    if application.formation.mode != ApplicationMode.ONLINE:
        return "paper"
    if application.dossier_status not in CANDIDATE_EDITABLE:
        return "transmitted"
    if (today or timezone.localdate()) > effective_return_deadline(application):
        return "deadline"
    return ""


def pieces_locked_reason(application: Application, *, today: datetime.date | None = None) -> str:
    """Why the candidate cannot change the pieces of ``application`` now ("" when they can; ``dossier_lock``).

    Reads ``application.formation`` (select it with the application).
    """
    lock = dossier_lock(application, today=today)
    if lock == "cancelled":
        return gettext("This application has been cancelled.")
    if lock == "paper":
        return gettext("Paper dossier: send your supporting documents by post, they are not uploaded here.")
    if lock == "transmitted":
        return gettext("Your application has been transmitted: its supporting documents can no longer be changed.")
    if lock == "deadline":
        return gettext("The return deadline (%(date)s) has passed: supporting documents can no longer be changed.") % {
            "date": date_format(effective_return_deadline(application), "SHORT_DATE_FORMAT")
        }
    return ""


def transmitted_sharers(application: Application) -> list[Application]:
    """The candidate's other applications whose dossier staff now hold: online, not cancelled, transmitted (not
    ``AT``/``IN``). A shared piece that one of them asks for is part of a dossier under review
    (``shared_piece_holder``). One query, with their formations."""
    return list(
        Application.objects.filter(
            candidate_id=application.candidate_id, cancelled_at__isnull=True, formation__mode=ApplicationMode.ONLINE
        )
        .exclude(pk=application.pk)
        .exclude(dossier_status__in=CANDIDATE_EDITABLE)
        .select_related("formation")
        .order_by("pk")
    )


def shared_piece_holder(piece_type: PieceType, sharers: list[Application]) -> Application | None:
    """The first of ``sharers`` (``transmitted_sharers``) that asks for this common piece, or None.

    Removing the shared file, or declaring the piece (not) concerned, from an application still open would change it
    under the staff reviewing that transmitted dossier, which the candidate could not put right (its pieces are
    locked). As ``applicable_piece_types`` for a common piece: in service, of the application's type de traitement,
    of the institution or of the formation's centre.
    """
    if not piece_type.is_common or not piece_type.in_service:
        return None
    for other in sharers:
        if piece_type.requested_from(other.treatment_type) and piece_type.centre_id in (
            None,
            other.formation.centre_id,
        ):
            return other
    return None


def held_piece_reason(holder: Application) -> str:
    message = gettext(
        "This piece is shared with your application to “%(formation)s”, already transmitted: "
        "it can no longer be changed."
    )
    return message % {"formation": holder.formation.shown_title}


def can_change_pieces(application: Application) -> bool:
    return not pieces_locked_reason(application)


def refused_piece_deadline(application: Application, submission: PieceSubmission) -> datetime.date:
    """Until when the candidate may replace a refused piece: its own deadline when staff gave one, else the
    application's return deadline."""
    return submission.replace_by or effective_return_deadline(application)


def replace_locked_reason(
    application: Application, submission: PieceSubmission, *, today: datetime.date | None = None
) -> str:
    """Why the candidate cannot replace this refused piece now ("" when they can).

    Targeted correction (issue 13): while staff review the rest, a refused piece stays open to a new file whatever
    the dossier status (transmitted, complete…), until the piece's own deadline, or the application's return
    deadline when staff gave none. The piece's deadline only ever adds time: while the application's pieces are
    open anyway, so is this one. A cancelled application and a paper dossier stay closed.
    """
    today = today or timezone.localdate()
    general = pieces_locked_reason(application, today=today)
    if not general or submission.status != PieceStatus.REFUSED:
        return general
    if application.cancelled_at is not None or application.formation.mode != ApplicationMode.ONLINE:
        return general
    deadline = refused_piece_deadline(application, submission)
    if today > deadline:
        return gettext("The deadline to replace this piece (%(date)s) has passed.") % {
            "date": date_format(deadline, "SHORT_DATE_FORMAT")
        }
    return ""


def pieces_table_context(application: Application) -> dict[str, Any]:
    """The context of the pieces table include (``templates/applications/includes/pieces_table.html``):
    ``application`` (with its formation selected), its ``piece_rows``, ``can_change_pieces`` and the reason
    shown when they cannot change (``pieces_locked_reason``), ``replaceable_pieces``: the ids of the refused
    pieces the candidate may replace now, and ``held_pieces``: the ids of the shared pieces a transmitted application
    holds (``shared_piece_holder``). A held piece offers no "-" nor "(Non) concerné"; a refused one among them is
    also replaceable: the table offers it the "Remplacer" form, which the upload accepts (``services.pieces``:
    replacing a refused piece stays open), so that the candidate can put it right and transmit."""
    reason = pieces_locked_reason(application)
    rows = piece_rows(application, for_staff=False)
    today = timezone.localdate()
    # Shared files that another, transmitted, application holds: no "-" nor "(Non) concerné" here, only "Remplacer"
    # on a refused one (one query, only when there is a shared row the candidate could otherwise change).
    held: set[int] = set()
    if not reason and any(row.submission is not None and row.submission.application_id is None for row in rows):
        sharers = transmitted_sharers(application)
        held = {
            row.piece_type.pk
            for row in rows
            if row.submission is not None
            and row.submission.application_id is None
            and shared_piece_holder(row.piece_type, sharers) is not None
        }
    # Refused pieces the candidate may replace even when the others are locked (targeted correction).
    replaceable = {
        row.piece_type.pk
        for row in rows
        if row.requested
        and row.submission is not None
        and row.status == PieceStatus.REFUSED
        and not replace_locked_reason(application, row.submission, today=today)
    }
    return {
        "application": application,
        "piece_rows": rows,
        "can_change_pieces": not reason,
        "pieces_locked_reason": reason,
        "replaceable_pieces": replaceable,
        "held_pieces": held,
        "today": today,
    }


def validatable_pieces(rows: Iterable[PieceRow]) -> list[PieceRow]:
    """The submitted pieces whose file the antivirus has cleared: what "Valider toutes les pièces transmises"
    validates (a file staff could not open is never validated unseen)."""
    return [
        row
        for row in rows
        if row.status == PieceStatus.SUBMITTED
        and row.document is not None
        and row.document.scan_status in OPENABLE_SCANS
    ]
