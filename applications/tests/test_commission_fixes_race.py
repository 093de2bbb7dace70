"""« Ajouter la note » clicked twice, the two requests at once (PostgreSQL): the second waits for the application's
lock the first holds until its request ends, then finds the note saved and saves nothing (``review.add_note``)."""

import threading

import pytest
from django.db import connection, transaction

from applications.models import ApplicationNote
from applications.services import review
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import backend_pid, run_both, stay_stopped
from offers.tests.factories import FormationFactory


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_double_click_on_add_note_saves_one_note(centre, commission, campaign, commission_member):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    held, done = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []

    def first_click():
        with transaction.atomic():  # the request's transaction (ATOMIC_REQUESTS), open until its response
            review.add_note(application=application, actor=commission_member, text="Dossier à auditionner")
            held.set()
            seen_waiting.append(stay_stopped(done, pids, "second click"))

    def second_click():
        pids["second click"] = backend_pid()
        assert held.wait(timeout=15)
        try:
            review.add_note(application=application, actor=commission_member, text="Dossier à auditionner")
        finally:
            done.set()

    outcomes = run_both({"first click": first_click, "second click": second_click})

    assert outcomes == {"first click": "ok", "second click": "ok"}
    assert seen_waiting == [True], "the second click never waited for the application's lock: not forced"
    assert list(ApplicationNote.objects.values_list("text", flat=True)) == ["Dossier à auditionner"]
