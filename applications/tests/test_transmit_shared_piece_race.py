"""Transmitting an application while its shared piece changes through another application (PostgreSQL).

A candidate's applications A and B both ask for a shared piece (one file for all their applications). In one tab
they transmit A, in another they remove the shared file through B, or declare the piece concerned again (it then
waits for a file): never both. Either A is transmitted with the piece, and B is told the piece is held by A, or the
piece changes first, and A's transmission is refused because the piece is missing. Before, both committed: A was
transmitted without the piece, which the commission then could not read.

The interleaving is forced: one side stops after its check, the other runs while it is stopped, until it is done or
waits for a row lock the stopped side holds.
"""

import threading

import pytest
from django.db import connection

from applications.enums import DossierStatus, PieceStatus
from applications.models import Application, PieceSubmission
from applications.services import candidature
from applications.services import pieces as pieces_services
from applications.tests.helpers import backend_pid, run_both, stay_stopped, upload_pdf
from offers.tests.factories import PieceTypeFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("documents_in_memory"),
]

HELD = "This piece is shared with your application to “{title}”, already transmitted: it can no longer be changed."
MISSING = "A supporting document is missing: {label}."


@pytest.fixture
def applications(two_applications):
    """A (to transmit) and B (still open), two applications of the candidate to two formations."""
    return two_applications


@pytest.fixture
def shared_file(applications):
    """The institution's common piece both ask for, with the candidate's file, sent through A."""
    piece = PieceTypeFactory(label="Relevé de notes", is_common=True, order=0)
    upload_pdf(applications[0], piece)
    return piece


@pytest.fixture
def shared_not_concerned(applications):
    """A conditional common piece both ask for, declared not concerned through A."""
    piece = PieceTypeFactory(label="Attestation de bourse", is_common=True, is_conditional=True, order=0)
    pieces_services.declare_not_concerned(
        application=applications[0], piece_type=piece, actor=applications[0].created_by
    )
    return piece


def change_through_b(action, application, piece):
    if action == "remove":
        return pieces_services.remove_piece(application=application, piece_type=piece, actor=application.created_by)
    return pieces_services.declare_concerned(application=application, piece_type=piece, actor=application.created_by)


def transmit(application):
    return candidature.transmit_application(application=application, actor=application.created_by)


@pytest.fixture(params=["remove", "declare concerned"])
def action(request):
    return request.param


@pytest.fixture
def piece(request, action):
    return request.getfixturevalue("shared_file" if action == "remove" else "shared_not_concerned")


def assert_never_both(outcomes, applications, piece, action, *, first):
    transmitted, other = applications
    assert all(isinstance(outcome, str) for outcome in outcomes.values()), outcomes
    transmitted.refresh_from_db()
    submission = PieceSubmission.objects.get(piece_type=piece)
    if first == "transmit":
        assert outcomes == {"transmit": "ok", "change": HELD.format(title=transmitted.formation.shown_title)}
        assert transmitted.dossier_status == DossierStatus.RECEIVED
        # The piece staff review is still there.
        if action == "remove":
            assert (submission.status, submission.document_id is not None) == (PieceStatus.SUBMITTED, True)
        else:
            assert submission.status == PieceStatus.NOT_CONCERNED
    else:
        assert outcomes == {"transmit": MISSING.format(label=piece.label), "change": "ok"}
        assert transmitted.dossier_status == DossierStatus.WAITING
        assert (submission.status, submission.document_id) == (PieceStatus.WAITING, None)


def test_a_change_through_b_after_a_reads_its_pieces_waits_for_the_transmission(
    applications, piece, action, monkeypatch
):
    """A reads its pieces (the shared one is there) and stops before it commits; B's change runs meanwhile: it waits
    for A, then sees A transmitted and is refused."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    transmitted, other = applications
    read, changed = threading.Event(), threading.Event()
    pids: dict = {}
    original = candidature.blocking_pieces

    def blocking_pieces(*args, **kwargs):
        rows = original(*args, **kwargs)
        if threading.current_thread().name == "transmit":
            read.set()
            stay_stopped(changed, pids, "change")
        return rows

    monkeypatch.setattr(candidature, "blocking_pieces", blocking_pieces)

    def change():
        pids["change"] = backend_pid()
        assert read.wait(timeout=15)
        try:
            change_through_b(action, other, piece)
        finally:
            changed.set()

    outcomes = run_both({"transmit": lambda: transmit(transmitted), "change": change})

    assert_never_both(outcomes, applications, piece, action, first="transmit")


def test_a_transmission_after_b_checks_its_change_waits_for_it(applications, piece, action, monkeypatch):
    """B's change checks that no transmitted application holds the piece (A does not, yet) and stops before it
    commits; A's transmission runs meanwhile: it waits for B, then sees the piece missing and is refused."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    transmitted, other = applications
    checked, done = threading.Event(), threading.Event()
    pids: dict = {}
    original = pieces_services._check_not_held

    def check_not_held(*args, **kwargs):
        original(*args, **kwargs)
        if threading.current_thread().name == "change":
            checked.set()
            stay_stopped(done, pids, "transmit")

    monkeypatch.setattr(pieces_services, "_check_not_held", check_not_held)

    def transmit_meanwhile():
        pids["transmit"] = backend_pid()
        assert checked.wait(timeout=15)
        try:
            transmit(transmitted)
        finally:
            done.set()

    outcomes = run_both({"transmit": transmit_meanwhile, "change": lambda: change_through_b(action, other, piece)})

    assert_never_both(outcomes, applications, piece, action, first="change")


def test_staff_checking_the_shared_piece_while_a_is_transmitted_do_not_deadlock(
    applications, shared_file, centre_manager, monkeypatch
):
    """Staff validate the shared piece (through any application of the candidate) while the candidate transmits A:
    the check holds the piece's row and then writes its history row on each of the candidate's applications, A
    among them, while the transmission holds A's row and waits for the piece's. Neither waits for the other in a
    circle: both succeed, one after the other."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    transmitted, _other = applications
    submission = PieceSubmission.objects.get(piece_type=shared_file)
    held, done = threading.Event(), threading.Event()
    pids: dict = {}
    original = pieces_services.record_events

    def record_events(*args, **kwargs):
        if threading.current_thread().name == "staff":
            held.set()
            stay_stopped(done, pids, "transmit")
        return original(*args, **kwargs)

    monkeypatch.setattr(pieces_services, "record_events", record_events)

    def transmit_meanwhile():
        pids["transmit"] = backend_pid()
        assert held.wait(timeout=15)
        try:
            transmit(transmitted)
        finally:
            done.set()

    outcomes = run_both(
        {
            "transmit": transmit_meanwhile,
            "staff": lambda: pieces_services.set_piece_status(
                submission=submission, status=PieceStatus.VALIDATED, actor=centre_manager
            ),
        }
    )

    assert outcomes == {"transmit": "ok", "staff": "ok"}
    assert Application.objects.get(pk=transmitted.pk).dossier_status == DossierStatus.RECEIVED
    assert PieceSubmission.objects.get(pk=submission.pk).status == PieceStatus.VALIDATED
