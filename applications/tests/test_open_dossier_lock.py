"""The dossier an ENT student's login opens from the student records system (``services.dossier.open_dossier``,
run by the ``user_logged_in`` receiver ``open_dossier_at_login``), at the same time as another first save of the
same account (PostgreSQL).

The login looked for the account's dossier and, finding none, inserted one from the SIS without the lock the first
« Informations perso. » save takes (the account's row, ``FOR UPDATE``). Two logins at once (two tabs, the ENT's
redirect replayed), or a login while the candidate's first save was under way, both found no dossier and both
inserted one: the second broke the one-dossier-per-account constraint, an ``IntegrityError`` that the receiver took
for a failing SIS (logged with its traceback, and « The student records system is not answering… » shown to a
candidate whose records were there). The login now takes the account's lock before inserting and looks again: the
second one waits, then finds the dossier, and says nothing.

A login through a view was in fact kept from the race by another receiver: Django's ``update_last_login``, connected
before this one (``django.contrib.auth`` comes first in ``INSTALLED_APPS``), updates the account's row in the same
transaction (``ATOMIC_REQUESTS``), which the second login waits for. The service no longer counts on its callers'
order or transaction: it takes the lock itself. These tests call the receiver alone, as a login that does not
update ``last_login`` first would.

The interleaving is forced: the first side stops after its insert, its transaction open, until the second waits for
a lock (``pg_stat_activity``), then commits. Each side runs in a transaction of its own, as a request does.
"""

import datetime
import logging
import threading

import pytest
from django.contrib.messages.storage.cookie import CookieStorage
from django.db import connection, transaction
from django.test import RequestFactory

from accounts.tests.factories import CandidateUserFactory
from applications import services
from applications.models import Candidate, InternalCursus
from applications.services import dossier
from applications.tests.factories import STUDENT
from applications.tests.helpers import backend_pid, run_both, stay_stopped

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FAILED_AT_LOGIN = "SIS import at login failed"
# « Informations perso. » as the form cleans them: typed while the SIS was not answering at the first login.
TYPED = {
    "civility": "Mme",
    "birth_name": "MARTIN",
    "first_name": "Estelle",
    "birth_date": datetime.date(2001, 3, 14),
    "birth_country": "FR",
    "birth_department": "66",
    "birth_city": "Perpignan",
    "nationality": "FR",
}


@pytest.fixture
def ent_user(campaign):
    """An ENT student whose records are in the SIS's local copy."""
    services.store_sis_records(students=[STUDENT], actor=None)
    return CandidateUserFactory(campaign=campaign, student_number=STUDENT.student_number)


def _login_request():
    """A request as the login's receiver gets it, with a message storage to read what the candidate is told."""
    request = RequestFactory().get("/")
    request.LANGUAGE_CODE = "en"
    request._messages = CookieStorage(request)
    return request


def _logs_in(user, request):
    """What the ENT login runs once the account is known: the receiver, in the request's transaction."""

    def log_in():
        with transaction.atomic():
            dossier.open_dossier_at_login(None, request=request, user=user)

    return log_in


def _stopping(original, held: threading.Event, done: threading.Event, pids: dict, seen_waiting: list[bool]):
    """``original`` that, in the thread named "first", returns and then stops (its transaction open) until the
    other side is done or waits for a lock, and says which."""

    def stopping(*args, **kwargs):
        result = original(*args, **kwargs)
        if threading.current_thread().name == "first":
            held.set()
            seen_waiting.append(stay_stopped(done, pids, "second"))
        return result

    return stopping


def _second(function, held: threading.Event, done: threading.Event, pids: dict):
    """``function`` started once the first side holds its insert; ``done`` set when it ends."""

    def second():
        pids["second"] = backend_pid()
        assert held.wait(timeout=15)
        try:
            function()
        finally:
            done.set()

    return second


def test_two_logins_at_once_open_one_dossier_and_say_nothing(ent_user, monkeypatch, caplog):
    """The first login stops after inserting the dossier; the second used to insert one too (an IntegrityError,
    taken for a failing SIS); it now waits for the account's row, then finds the dossier."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    held, done = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []
    monkeypatch.setattr(dossier, "_apply_sis_rest", _stopping(dossier._apply_sis_rest, held, done, pids, seen_waiting))
    requests = {"first": _login_request(), "second": _login_request()}
    caplog.set_level(logging.INFO, logger="applications.services.dossier")

    outcomes = run_both(
        {
            "first": _logs_in(ent_user, requests["first"]),
            "second": _second(_logs_in(ent_user, requests["second"]), held, done, pids),
        }
    )

    assert outcomes == {"first": "ok", "second": "ok"}
    assert seen_waiting == [True], "the second login never waited: the interleaving was not forced"
    assert [record.getMessage() for record in caplog.records if FAILED_AT_LOGIN in record.getMessage()] == []
    assert [str(message) for message in requests["second"]._messages] == []
    imported = Candidate.objects.get(user=ent_user)
    assert (imported.birth_name, imported.sis_locked) == ("MARTIN", True)
    assert InternalCursus.objects.filter(candidate=imported).count() == len(STUDENT.cursus)


def test_a_login_during_the_first_personal_details_save_finds_the_typed_dossier(ent_user, monkeypatch, caplog):
    """The SIS was not answering at the first login: the candidate types « Informations perso. »; a second tab's
    login (the SIS answering again) arrives while that first save is under way. The save stops after its insert,
    the account's row locked; the login used to insert its own dossier, wait, and fail on the account's unique
    constraint (the SIS message shown); it now waits for the account's row and finds the typed dossier (the nightly
    ``sync_sis`` imports the records)."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    held, done = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []
    monkeypatch.setattr(
        Candidate.objects, "create", _stopping(Candidate.objects.create, held, done, pids, seen_waiting)
    )
    request = _login_request()
    caplog.set_level(logging.INFO, logger="applications.services.dossier")

    def first_save():
        services.save_personal_details(user=ent_user, candidate=None, data=TYPED, actor=ent_user, read_at="")

    outcomes = run_both({"first": first_save, "second": _second(_logs_in(ent_user, request), held, done, pids)})

    assert outcomes == {"first": "ok", "second": "ok"}
    assert seen_waiting == [True], "the login never waited: the interleaving was not forced"
    assert [record.getMessage() for record in caplog.records if FAILED_AT_LOGIN in record.getMessage()] == []
    assert [str(message) for message in request._messages] == []
    typed = Candidate.objects.get(user=ent_user)
    assert (typed.birth_city, typed.sis_locked) == ("Perpignan", False)


def test_a_login_while_another_account_saves_the_same_ine_lets_the_candidate_type_their_details(
    ent_user, campaign, monkeypatch, caplog
):
    """The same gap on the INE's uniqueness (one per campaign), which the account's lock cannot cover: another
    account of the campaign (the same person's e-mail account) saves the student's INE while the login imports the
    records. The save stops after its insert; the login's check of the INE does not see it yet, its insert waits,
    then broke the constraint (the SIS message shown). It now ends as when the check sees the INE held: no dossier
    imported, the candidate types their details (the form says the INE is taken)."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    email_account = CandidateUserFactory(campaign=campaign)
    held, done = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []
    monkeypatch.setattr(
        Candidate.objects, "create", _stopping(Candidate.objects.create, held, done, pids, seen_waiting)
    )
    request = _login_request()
    caplog.set_level(logging.INFO, logger="applications.services.dossier")

    def first_save():
        services.save_personal_details(
            user=email_account, candidate=None, data={**TYPED, "ine": STUDENT.ine}, actor=email_account, read_at=""
        )

    outcomes = run_both({"first": first_save, "second": _second(_logs_in(ent_user, request), held, done, pids)})

    assert outcomes == {"first": "ok", "second": "ok"}
    assert seen_waiting == [True], "the login never waited: the interleaving was not forced"
    assert [record.getMessage() for record in caplog.records if FAILED_AT_LOGIN in record.getMessage()] == []
    assert [str(message) for message in request._messages] == []
    assert not Candidate.objects.filter(user=ent_user).exists()
    assert Candidate.objects.get(ine=STUDENT.ine).user == email_account
