"""Staff checking a shared piece while it changes through another application of the candidate (PostgreSQL).

A candidate's applications A and B both ask for a shared piece (one file for all their applications). Staff check it
(``set_piece_status``: the piece's row locked, then a history row written on each of the candidate's live
applications, B among them) while, through B, the candidate removes the file, or staff upload a file or validate B's
pieces: those lock B's row, then the piece's. B's row was locked ``FOR UPDATE``, which the foreign key's check of the
history row written on B (``KEY SHARE``) waits for, while B's side waits for the piece's row: PostgreSQL found a
deadlock and aborted one of the two (an error page for whoever lost). B's row is now locked ``FOR NO KEY UPDATE``
(``transmit_application`` gives the lock order): the check goes on, then the change through B sees its result.

The interleaving is forced: the check stops before its history rows until the change through B waits for the
piece's row (``pg_stat_activity``), then goes on.
"""

import threading

import pytest
from django.db import connection

from applications.enums import PieceStatus
from applications.models import PieceSubmission
from applications.services import pieces as pieces_services
from applications.tests.helpers import backend_pid, run_both, stay_stopped, upload_pdf
from documents.tests import hostile_files as hostile
from offers.tests.factories import PieceTypeFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("documents_in_memory"),
]

VALIDATED = "This piece has been validated: it can no longer be changed."


@pytest.fixture
def applications(two_applications):
    """A (whose page staff check the piece on) and B (still open), two applications of the candidate."""
    return two_applications


@pytest.fixture
def submission(applications):
    """The candidate's file for the institution's common piece both ask for, sent through A."""
    piece = PieceTypeFactory(label="Relevé de notes", is_common=True, order=0)
    return upload_pdf(applications[0], piece)


# Through B, while staff check the piece: what staff set, what B's side does, what it gets, and the piece's status
# once both are done (the check, then B's side).
THROUGH_B = {
    "the candidate removes the file": (
        PieceStatus.VALIDATED,
        lambda b, piece, staff: pieces_services.remove_piece(application=b, piece_type=piece, actor=b.created_by),
        VALIDATED,
        PieceStatus.VALIDATED,
    ),
    "staff upload a file for the candidate": (
        PieceStatus.REFUSED,
        lambda b, piece, staff: pieces_services.upload_piece_for_candidate(
            application=b, piece_type=piece, uploaded_file=hostile.valid_pdf_upload(), actor=staff
        ),
        "ok",
        PieceStatus.SUBMITTED,
    ),
    "staff validate every submitted piece": (
        PieceStatus.VALIDATED,
        lambda b, _piece, staff: pieces_services.validate_shown_pieces(
            application=b, shown_documents=None, actor=staff
        ),
        "ok",  # the piece validated meanwhile: nothing more to write
        PieceStatus.VALIDATED,
    ),
}


@pytest.mark.parametrize("through_b", list(THROUGH_B))
def test_a_change_through_another_application_waits_for_the_check_without_a_deadlock(
    applications, submission, centre_manager, through_b, monkeypatch
):
    """Staff check the shared piece and stop before writing their history rows (on A and B); meanwhile B's side
    locks B and waits for the piece's row. The check then writes on B and commits: B's side goes on, after it."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    _a, b = applications
    status, change, expected, final_status = THROUGH_B[through_b]
    held, done = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []
    original = pieces_services.record_events

    def record_events(*args, **kwargs):
        if threading.current_thread().name == "staff":
            held.set()
            seen_waiting.append(stay_stopped(done, pids, "through B"))
        return original(*args, **kwargs)

    monkeypatch.setattr(pieces_services, "record_events", record_events)

    def check():
        pieces_services.set_piece_status(
            submission=submission,
            status=status,
            comment="illisible" if status == PieceStatus.REFUSED else "",
            actor=centre_manager,
        )

    def through_b_meanwhile():
        pids["through B"] = backend_pid()
        assert held.wait(timeout=15)
        try:
            change(b, submission.piece_type, centre_manager)
        finally:
            done.set()

    outcomes = run_both({"staff": check, "through B": through_b_meanwhile})

    assert outcomes == {"staff": "ok", "through B": expected}
    assert seen_waiting == [True], "B's side never waited for the piece's row: the interleaving was not forced"
    assert PieceSubmission.objects.get(pk=submission.pk).status == final_status
