"""Staff checking a piece of an application while the candidate cancels it (PostgreSQL).

Staff check the application's own piece (``set_piece_status``: the piece's row locked, then a history row written on
the application) while the candidate cancels the application (``cancel_application``: the application's row locked,
then its own pieces', whose files go, ``delete_application_files``). The application's row was locked ``FOR UPDATE``,
which the foreign key's check of the history row (``KEY SHARE``) waits for, while the cancellation waits for the
piece's row: PostgreSQL found a deadlock and aborted one of the two (an error page for whoever lost). The row is now
locked ``FOR NO KEY UPDATE`` (``transmit_application`` gives the lock order): the check goes on and commits, then the
cancellation takes the piece's file away.

The interleaving is forced: the check stops before its history row until the cancellation waits for the piece's row
(``pg_stat_activity``), then goes on.
"""

import threading

import pytest
from django.db import connection

from applications.enums import EventKind, PieceStatus
from applications.models import Application, PieceSubmission
from applications.services import candidature
from applications.services import pieces as pieces_services
from applications.tests.factories_candidature import application_of
from applications.tests.helpers import backend_pid, run_both, stay_stopped, upload_pdf
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("documents_in_memory"),
]


@pytest.fixture
def application(candidate_user, centre, commission):
    return application_of(candidate_user, FormationFactory(centre=centre, commission=commission))


@pytest.fixture
def submission(application):
    """The application's own file (a "unique" common piece: one per application), not transmitted yet."""
    piece = PieceTypeFactory(label="Lettre de motivation", is_common=True, is_unique=True, order=0)
    sent = upload_pdf(application, piece)
    assert sent.application_id == application.pk
    return sent


@pytest.mark.parametrize("status", [PieceStatus.VALIDATED, PieceStatus.REFUSED])
def test_a_cancellation_waits_for_a_check_of_its_piece_without_a_deadlock(
    application, submission, centre_manager, status, monkeypatch
):
    """Staff check the piece and stop before writing its history row; meanwhile the candidate cancels, which locks
    the application and waits for the piece's row. The check then writes on the application and commits: the
    cancellation goes on, after it, and takes the file away."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    held, done = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []
    original = pieces_services.record_events

    def record_events(*args, **kwargs):
        if threading.current_thread().name == "staff":
            held.set()
            seen_waiting.append(stay_stopped(done, pids, "candidate"))
        return original(*args, **kwargs)

    monkeypatch.setattr(pieces_services, "record_events", record_events)

    def check():
        pieces_services.set_piece_status(
            submission=submission,
            status=status,
            comment="illisible" if status == PieceStatus.REFUSED else "",
            actor=centre_manager,
        )

    def cancel():
        pids["candidate"] = backend_pid()
        assert held.wait(timeout=15)
        try:
            candidature.cancel_application(application=application, actor=application.created_by)
        finally:
            done.set()

    outcomes = run_both({"staff": check, "candidate": cancel})

    assert outcomes == {"staff": "ok", "candidate": "ok"}
    assert seen_waiting == [True], "the cancellation never waited for the piece's row: the interleaving was not forced"
    assert Application.objects.get(pk=application.pk).is_cancelled
    piece = PieceSubmission.objects.get(pk=submission.pk)
    assert (piece.status, piece.document_id) == (PieceStatus.WAITING, None)
    kinds = list(application.events.order_by("pk").values_list("kind", flat=True))
    assert kinds[-2:] == [EventKind.PIECE_STATUS, EventKind.CANCELLED]
