"""Deleting a candidate's account (``applications.services.erasure.delete_candidate_account``) while the candidate
applies (``candidature.create_application``), on PostgreSQL.

Applying locks the dossier's row (``Candidate``), then inserts the application. The deletion locked the account,
then read the account's applications without that lock: the application being created was not seen, the account
alone was not refused, and deleting the account then raised ``ProtectedError`` (``Application.created_by``): the
central office's page a 500, everything rolled back. The deletion now locks the dossier right after the account,
before it reads the applications: it waits for the application to be committed, then sees it.

The interleaving is forced: the candidate's side stops once its application is inserted (its history row next), its
transaction open, until the deletion waits for a lock (``pg_stat_activity``), then commits. Each side runs in a
transaction of its own, as a request does.
"""

import threading

import pytest
from django.db import connection

from accounts.models import AccountDeletion, User
from applications.models import Application, Candidate
from applications.services import candidature, erasure
from applications.tests.factories_candidature import complete_candidate
from applications.tests.helpers import backend_pid, run_both, stay_stopped
from offers.tests.factories import FormationFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REFUSAL = "This account has 1 application: only the complete deletion (CNIL) removes it with the account."


@pytest.fixture
def candidate(campaign):
    return complete_candidate(user__campaign=campaign)


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO")


def _race(monkeypatch, candidate, formation, central_manager, *, everything: bool) -> tuple[dict, list[bool]]:
    """The candidate applies, stopped after the insert until the deletion waits; the deletion starts once the
    application is inserted. What each side ended with (``run_both``), and whether the deletion was seen waiting."""
    held, done = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []
    original = candidature.record_event

    def record_event(*args, **kwargs):  # the application inserted, the dossier locked: its history row next
        if threading.current_thread().name == "candidate" and not held.is_set():
            held.set()
            seen_waiting.append(stay_stopped(done, pids, "deletion"))
        return original(*args, **kwargs)

    monkeypatch.setattr(candidature, "record_event", record_event)

    def apply():
        candidature.create_application(candidate=candidate, formation=formation, actor=candidate.user)

    def deletion():
        pids["deletion"] = backend_pid()
        assert held.wait(timeout=15)
        try:
            erasure.delete_candidate_account(
                user=candidate.user, actor=central_manager, everything=everything, notify=False
            )
        finally:
            done.set()

    return run_both({"candidate": apply, "deletion": deletion}), seen_waiting


def test_deleting_the_account_alone_while_the_candidate_applies_is_refused(
    monkeypatch, candidate, formation, central_manager
):
    """The deletion waits for the application, then refuses as for any account with an application (it raised
    ``ProtectedError``: the account was deleted while an application it created was being committed)."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"

    outcomes, seen_waiting = _race(monkeypatch, candidate, formation, central_manager, everything=False)

    assert outcomes == {"candidate": "ok", "deletion": REFUSAL}
    assert seen_waiting == [True], "the deletion never waited: the interleaving was not forced"
    assert User.objects.filter(pk=candidate.user_id).exists()
    assert Candidate.objects.filter(pk=candidate.pk).exists()
    assert Application.objects.get().candidate_id == candidate.pk
    assert not AccountDeletion.objects.exists()


def test_deleting_everything_while_the_candidate_applies_deletes_the_new_application_too(
    monkeypatch, candidate, formation, central_manager
):
    """The complete deletion (CNIL) has the same gap: it now waits for the application, then deletes it with the
    rest (it raised ``ProtectedError`` too)."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"

    outcomes, seen_waiting = _race(monkeypatch, candidate, formation, central_manager, everything=True)

    assert outcomes == {"candidate": "ok", "deletion": "ok"}
    assert seen_waiting == [True], "the deletion never waited: the interleaving was not forced"
    assert not User.objects.filter(pk=candidate.user_id).exists()
    assert not Candidate.objects.exists()
    assert not Application.objects.exists()
    record = AccountDeletion.objects.get()
    assert (record.everything, record.applications) == (True, 1)
