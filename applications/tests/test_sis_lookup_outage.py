"""The student records system failing during an e-mail candidate's INE lookup ("Certifiez-vous être …",
``services.sis_lookup``): the candidate is told, their details stay saved, and the next save of the page asks the SIS
again, INE changed or not; an unexpected error of the backend is an outage too, never an error page."""

import logging

import pytest
from django.db import connection
from django.urls import reverse
from pytest_django.asserts import assertContains

from applications.models import Candidate, InternalCursus
from applications.services import sis_lookup, store_sis_records
from applications.sis import LocalTableBackend, StudentRecordsUnavailable
from applications.tests.factories import STUDENT
from applications.tests.helpers import ESTELLE_TYPED

pytestmark = pytest.mark.django_db

FRENCH = {"language": "fr"}
CERTIFY = reverse("applications:certify_identity")
PERSONAL = reverse("applications:personal_details")
SAVED = "Vos informations personnelles ont été enregistrées."
NOT_ANSWERING = (
    "Le logiciel de scolarité ne répond pas : vos informations sont enregistrées ; nous l’interrogerons de nouveau à "
    "votre prochain enregistrement."
)
# The same INE, another phone: a save that does not change the INE.
SAME_INE = {**ESTELLE_TYPED, "phone": "04 68 00 00 00"}


@pytest.fixture(autouse=True)
def _in_the_sis():
    store_sis_records(students=[STUDENT], actor=None)


@pytest.fixture
def estelle(client, candidate_user):
    client.force_login(candidate_user)
    return candidate_user


class Sis:
    """The SIS's ``find_by_ine``, answering until ``failure`` is set (an exception, or a callable that raises)."""

    def __init__(self, monkeypatch):
        self.failure = None
        answer = LocalTableBackend.find_by_ine
        sis = self

        def find_by_ine(backend, ine):
            if sis.failure is None:
                return answer(backend, ine)
            if isinstance(sis.failure, BaseException):
                raise sis.failure
            return sis.failure()

        monkeypatch.setattr(LocalTableBackend, "find_by_ine", find_by_ine)


@pytest.fixture
def sis(monkeypatch):
    return Sis(monkeypatch)


def test_a_sis_down_at_the_ine_save_says_so_and_keeps_the_details(
    client, estelle, sis, caplog, django_assert_num_queries
):
    sis.failure = StudentRecordsUnavailable("timeout")

    # session, account, the request's savepoint pair, dossier, the INE's uniqueness, the save's savepoint pair, the
    # account's lock, "has a dossier", its insert, the lookup's savepoint rolled back (3), the next step's address and
    # dossier, the session's update (the lookup to make again) in its savepoint pair
    with caplog.at_level(logging.WARNING), django_assert_num_queries(19):
        saved = client.post(PERSONAL, ESTELLE_TYPED, **FRENCH)
    page = client.get(saved.url, **FRENCH)

    assert saved.status_code == 302
    assert saved.url != CERTIFY
    assertContains(page, SAVED)
    assertContains(page, NOT_ANSWERING)
    candidate = Candidate.objects.get(user=estelle)
    assert (candidate.ine, candidate.birth_name, candidate.first_name) == (STUDENT.ine, "MARTIN", "Estelle")
    assert not candidate.sis_locked
    assert "INE lookup for candidate" in caplog.text


def test_once_the_sis_is_back_the_next_save_asks_with_the_same_ine_and_no_is_final(
    client, estelle, sis, django_assert_num_queries
):
    sis.failure = StudentRecordsUnavailable("timeout")
    client.post(PERSONAL, ESTELLE_TYPED, **FRENCH)
    sis.failure = None

    # session, account, the request's savepoint pair, dossier, "has an application", the INE's uniqueness, the save's
    # savepoint pair, the dossier's lock, "has an application", the update, the lookup's savepoint pair and SIS table,
    # the session's update (the lookup made) in its savepoint pair
    with django_assert_num_queries(18):
        asked = client.post(PERSONAL, SAME_INE, **FRENCH)
    question = client.get(CERTIFY, **FRENCH)
    client.post(CERTIFY, {"answer": "no"}, **FRENCH)
    after_no = client.post(PERSONAL, {**SAME_INE, "mobile": "06 12 34 56 78"}, **FRENCH)

    assert asked.url == CERTIFY
    assertContains(question, "Certifiez-vous être Estelle MARTIN, né(e) le 14/03/2001 ?")
    assert after_no.status_code == 302
    assert after_no.url != CERTIFY  # "Non" is not asked again for that INE
    assert not Candidate.objects.get(user=estelle).sis_locked


# session, account, the request's savepoint pair, dossier, "has an application", then
@pytest.mark.parametrize(
    ("where", "queries"),
    [
        # the lookup's savepoint rolled back (3), the session's update (the lookup to make again) in its savepoint pair
        ("the lookup", 12),
        # the lookup's savepoint pair and SIS table, certifying's savepoint rolled back (3), its "has an application",
        # its lookup's savepoint rolled back (3), the session's update in its savepoint pair
        ("the import's lookup", 19),
        # as above, its lookup answering (its savepoint pair and SIS table) and the import failing
        ("the import", 19),
    ],
    ids=["lookup", "second-lookup", "import"],
)
def test_a_sis_failing_between_the_question_and_yes_says_so_and_asks_again(
    client, estelle, sis, monkeypatch, where, queries, django_assert_num_queries
):
    client.post(PERSONAL, ESTELLE_TYPED, **FRENCH)
    if where == "the lookup":
        sis.failure = StudentRecordsUnavailable("timeout")
    elif where == "the import's lookup":
        calls = []

        def second_fails():
            calls.append(1)
            if len(calls) > 1:
                raise StudentRecordsUnavailable("timeout")
            return LocalTableBackend()._find(ine=STUDENT.ine)

        sis.failure = second_fails
    else:

        def garbage(**kwargs):
            raise ValueError("the records hold a value the dossier cannot take")

        monkeypatch.setattr(sis_lookup, "import_from_sis", garbage)

    with django_assert_num_queries(queries):
        yes = client.post(CERTIFY, {"answer": "yes"}, **FRENCH)
    page = client.get(yes.url, **FRENCH)
    sis.failure = None
    monkeypatch.undo()
    asked_again = client.post(PERSONAL, SAME_INE, **FRENCH)

    assert yes.url == PERSONAL
    assertContains(page, NOT_ANSWERING)
    candidate = Candidate.objects.get(user=estelle)
    assert not candidate.sis_locked
    assert not InternalCursus.objects.filter(candidate=candidate).exists()
    assert asked_again.url == CERTIFY


def _bad_query():
    with connection.cursor() as cursor:  # a database error within the backend: a transaction to roll back
        cursor.execute("SELECT no_such_column FROM applications_candidate")


@pytest.mark.parametrize("failure", [ValueError("odd value"), _bad_query], ids=["exception", "database-error"])
def test_an_unexpected_error_of_the_backend_keeps_the_save_and_says_so(
    client, estelle, sis, failure, caplog, django_assert_num_queries
):
    """Not a ``StudentRecordsUnavailable``: an error page would roll the candidate's save back (ATOMIC_REQUESTS)."""
    sis.failure = failure

    # as when the SIS is down (``test_a_sis_down_at_the_ine_save_says_so_and_keeps_the_details``), and the bad query
    with caplog.at_level(logging.ERROR), django_assert_num_queries(19 if failure is not _bad_query else 20):
        saved = client.post(PERSONAL, ESTELLE_TYPED, **FRENCH)
    page = client.get(saved.url, **FRENCH)

    assert saved.status_code == 302
    assertContains(page, SAVED)
    assertContains(page, NOT_ANSWERING)
    candidate = Candidate.objects.get(user=estelle)
    assert (candidate.ine, candidate.birth_name, candidate.first_name, str(candidate.birth_date)) == (
        STUDENT.ine,
        "MARTIN",
        "Estelle",
        "2001-03-14",
    )
    assert "INE lookup for candidate" in caplog.text
