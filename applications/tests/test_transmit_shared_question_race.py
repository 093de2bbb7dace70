"""Transmitting an application while its shared answer changes through another application, and two saves of a
shared answer at once (PostgreSQL).

A candidate's applications A and B both ask a shared question (answered once for all their applications). In one
tab they transmit A, in another they empty the answer through B, or declare the question not concerned: never both.
Either A is transmitted with its answer, and B is told a transmitted application holds it, or the answer is emptied
first, and A's transmission is refused because the question has no answer. Before, both committed: A was
transmitted with an answer emptied or declared not concerned under the staff reviewing it (the transmission read the
answers without locking them).

Two saves of the same shared answer through two applications (two tabs, or staff entering it in the candidate's
place while the candidate answers) each locked their application's row ``FOR UPDATE`` and then the answer's; the
first then wrote a history row on the second's application, whose foreign key check waited for that lock while the
second waited for the answer: PostgreSQL aborted one ("deadlock detected").

The interleaving is forced: one side stops after its check, the other runs while it is stopped, until it is done or
waits for a row lock the stopped side holds.
"""

import threading

import pytest
from django.db import connection

from applications.enums import DossierStatus, PieceStatus
from applications.models import Application, QuestionAnswer
from applications.services import candidature
from applications.services import questions as questions_services
from applications.tests.factories_candidature import application_of
from applications.tests.helpers import backend_pid, run_both, stay_stopped
from offers.tests.factories import FormationFactory, make_question

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

HELD = (
    "This answer is shared with your application to “{title}”, already transmitted: it can no longer be emptied "
    "nor declared not concerned, only replaced."
)
MISSING = (
    "A complementary question has no answer: {label}. Answer it, or declare that it does not concern you when it "
    "is conditional."
)


@pytest.fixture
def applications(candidate_user, centre, commission):
    """A (to transmit), B and C (still open), three applications of the candidate to three formations."""
    return tuple(
        application_of(candidate_user, FormationFactory(centre=centre, commission=commission, title=title))
        for title in ("Mathématiques", "Histoire", "Géographie")
    )


@pytest.fixture
def question(applications):
    """The institution's common question, conditional, not "unique": all three ask it, answered once, through A."""
    asked = make_question("HANDI", candidate_label="Aménagements d'examen ?", is_common=True, is_conditional=True)
    answer(applications[0], "Tiers temps")
    return asked


def answer(application, value, *, not_concerned=False):
    """The candidate saves the shared question's answer through ``application`` (the only question asked)."""
    (question,) = candidature.question_rows(application, unlisted=False)
    return questions_services.answer_questions(
        application=application,
        answers={question.question.pk: value},
        not_concerned={question.question.pk} if not_concerned else set(),
        actor=application.created_by,
    )


def change_through_b(action, application):
    if action == "empty":
        return answer(application, "")
    return answer(application, "", not_concerned=True)


def transmit(application):
    return candidature.transmit_application(application=application, actor=application.created_by)


def stored():
    row = QuestionAnswer.objects.get()
    return (row.answer, row.status)


@pytest.mark.parametrize("action", ["empty", "declare not concerned"])
def test_a_change_through_b_after_a_reads_its_answers_waits_for_the_transmission(
    applications, question, action, monkeypatch
):
    """A reads its answers (the shared one is there) and stops before it commits; B's change runs meanwhile: it
    waits for A, then sees A transmitted and is refused."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    transmitted, other, _third = applications
    read, changed = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []
    original = candidature.question_rows

    def question_rows(*args, **kwargs):
        rows = original(*args, **kwargs)
        if threading.current_thread().name == "transmit":
            read.set()
            seen_waiting.append(stay_stopped(changed, pids, "change"))
        return rows

    monkeypatch.setattr(candidature, "question_rows", question_rows)

    def change():
        pids["change"] = backend_pid()
        assert read.wait(timeout=15)
        try:
            change_through_b(action, other)
        finally:
            changed.set()

    outcomes = run_both({"transmit": lambda: transmit(transmitted), "change": change})

    assert outcomes == {"transmit": "ok", "change": HELD.format(title=transmitted.formation.shown_title)}
    assert seen_waiting == [True], "B's change never waited for the transmission"
    assert Application.objects.get(pk=transmitted.pk).dossier_status == DossierStatus.RECEIVED
    assert stored() == ("Tiers temps", PieceStatus.SUBMITTED)  # the answer staff review is still there


def test_a_transmission_after_b_empties_the_answer_waits_for_it(applications, question, monkeypatch):
    """B's change checks that no transmitted application holds the answer (A does not, yet) and stops before it
    commits; A's transmission runs meanwhile: it waits for B, then reads the answer empty and is refused."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    transmitted, other, _third = applications
    checked, done = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []
    original = questions_services._held_by_a_transmitted_application

    def held_by_a_transmitted_application(application):
        refusal = original(application)

        def stopping_after(question, value):
            reason = refusal(question, value)
            if threading.current_thread().name == "change":
                checked.set()
                seen_waiting.append(stay_stopped(done, pids, "transmit"))
            return reason

        return stopping_after

    monkeypatch.setattr(questions_services, "_held_by_a_transmitted_application", held_by_a_transmitted_application)

    def transmit_meanwhile():
        pids["transmit"] = backend_pid()
        assert checked.wait(timeout=15)
        try:
            transmit(transmitted)
        finally:
            done.set()

    outcomes = run_both({"transmit": transmit_meanwhile, "change": lambda: change_through_b("empty", other)})

    assert outcomes == {"transmit": MISSING.format(label=question.candidate_label), "change": "ok"}
    assert seen_waiting == [True], "A's transmission never waited for B's change"
    assert Application.objects.get(pk=transmitted.pk).dossier_status == DossierStatus.WAITING
    assert stored() == ("", PieceStatus.WAITING)


@pytest.mark.parametrize("second", ["the candidate, in another tab", "staff, in the candidate's place"])
def test_two_saves_of_the_shared_answer_through_two_applications_do_not_deadlock(
    applications, question, second, centre_manager, monkeypatch
):
    """The candidate saves the shared answer through B and stops before writing its history rows (on B, then on the
    candidate's other live applications, C among them); meanwhile a save through C locks C and waits for the
    answer's row. B's save then writes on C and commits; C's goes on after it."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    _a, b, c = applications
    held, done = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []
    original = questions_services.record_event

    def record_event(*args, **kwargs):
        if threading.current_thread().name == "through B":
            held.set()
            seen_waiting.append(stay_stopped(done, pids, "through C"))
        return original(*args, **kwargs)

    monkeypatch.setattr(questions_services, "record_event", record_event)

    def through_c_meanwhile():
        pids["through C"] = backend_pid()
        assert held.wait(timeout=15)
        try:
            if second.startswith("staff"):
                questions_services.enter_answers_for_candidate(
                    application=c, answers={question.pk: "Salle isolée"}, not_concerned=set(), actor=centre_manager
                )
            else:
                answer(c, "Salle isolée")
        finally:
            done.set()

    outcomes = run_both({"through B": lambda: answer(b, "Tiers temps, 1/3"), "through C": through_c_meanwhile})

    assert outcomes == {"through B": "ok", "through C": "ok"}
    assert seen_waiting == [True], "C's save never waited for the answer's row"
    assert stored() == ("Salle isolée", PieceStatus.SUBMITTED)  # the later one
