"""« Valider toutes les pièces transmises » while a colleague checks one of the pieces (``validate_shown_pieces``).

Staff A's page shows two pieces « Transmise »; a colleague refuses one of them; A then validates all the pieces the
page showed. The pieces were read before they were locked, each locked only as it was validated
(``set_piece_status``), which checks the file, not the status: a refusal committed between A's read and A's write of
that piece was silently replaced by « Validée » (PostgreSQL, the interleaving forced). Now the pieces are locked as
they are read: a refusal made before is read and left as it is (and said: ``refused_meanwhile``), one made after
waits for A's validation and then refuses the piece.
"""

import threading

import pytest
from django.db import connection

from applications.enums import EventKind, PieceStatus
from applications.models import PieceSubmission
from applications.services import pieces as pieces_services
from applications.tests.factories_candidature import application_of
from applications.tests.helpers import backend_pid, run_both, stay_stopped, upload_pdf
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.usefixtures("documents_in_memory")


@pytest.fixture
def application(candidate_user, centre, commission):
    return application_of(candidate_user, FormationFactory(centre=centre, commission=commission))


@pytest.fixture
def submissions(application):
    """Two pieces of the application, each with its file, « Transmise »."""
    return [
        upload_pdf(application, PieceTypeFactory(label=label, is_common=True, is_unique=True, order=order))
        for order, label in enumerate(["Relevé de notes", "Lettre de motivation"])
    ]


def shown(submissions) -> set[str]:
    """What the page posts: the public ids of the files it offered to validate."""
    return {str(submission.document.public_id) for submission in submissions}


def refuse(submission, actor):
    pieces_services.set_piece_status(
        submission=submission,
        status=PieceStatus.REFUSED,
        comment="illisible",
        actor=actor,
        shown_document=str(submission.document.public_id),
    )


def status(submission) -> str:
    return PieceSubmission.objects.get(pk=submission.pk).status


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_refusal_made_while_all_pieces_are_validated_is_never_replaced(
    application, submissions, centre_manager, commission_member, monkeypatch
):
    """A has read the pieces and stops before validating them; the colleague refuses the first one meanwhile. It is
    locked from A's read on: the refusal waits for A's validation, then refuses the piece (before, it committed at
    once and A's validation then wrote « Validée » over it)."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    first, second = submissions
    page = shown(submissions)
    held, done = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []
    validated: list[int] = []
    original = pieces_services.validatable_pieces

    def validatable_pieces(rows):
        found = original(rows)
        if threading.current_thread().name == "staff A":
            held.set()
            seen_waiting.append(stay_stopped(done, pids, "colleague"))
        return found

    monkeypatch.setattr(pieces_services, "validatable_pieces", validatable_pieces)

    def validate_all():
        validated.append(
            pieces_services.validate_shown_pieces(application=application, shown_documents=page, actor=centre_manager)
        )

    def refuse_meanwhile():
        pids["colleague"] = backend_pid()
        assert held.wait(timeout=15)
        try:
            refuse(first, commission_member)
        finally:
            done.set()

    outcomes = run_both({"staff A": validate_all, "colleague": refuse_meanwhile})

    assert outcomes == {"staff A": "ok", "colleague": "ok"}
    assert (status(first), status(second)) == (PieceStatus.REFUSED, PieceStatus.VALIDATED)
    assert seen_waiting == [True], "the refusal never waited for the piece's row: the interleaving was not forced"
    assert validated == [2]
    checks = list(application.events.filter(kind=EventKind.PIECE_STATUS).order_by("pk").values_list("to_status"))
    assert checks == [(PieceStatus.VALIDATED,), (PieceStatus.VALIDATED,), (PieceStatus.REFUSED,)]


@pytest.mark.django_db
def test_a_piece_refused_since_the_page_was_shown_is_left_refused_and_said(
    application, submissions, centre_manager, commission_member
):
    first, second = submissions
    page = shown(submissions)
    refuse(first, commission_member)

    validated = pieces_services.validate_shown_pieces(
        application=application, shown_documents=page, actor=centre_manager
    )

    assert validated == 1
    assert (status(first), status(second)) == (PieceStatus.REFUSED, PieceStatus.VALIDATED)
    assert validated.refused_meanwhile == 1
    assert validated.refused_meanwhile_message == (
        "1 piece the page showed was refused meanwhile (a colleague's check): it was not validated."
    )


@pytest.mark.django_db
def test_a_replay_validates_nothing_and_says_nothing_was_refused(application, submissions, centre_manager):
    page = shown(submissions)
    pieces_services.validate_shown_pieces(application=application, shown_documents=page, actor=centre_manager)

    validated = pieces_services.validate_shown_pieces(
        application=application, shown_documents=page, actor=centre_manager
    )

    assert (validated, validated.refused_meanwhile, validated.refused_meanwhile_message) == (0, 0, "")
