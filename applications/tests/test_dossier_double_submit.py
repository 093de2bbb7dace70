"""The candidate's dossier on a phone, with a double tap, or in two tabs (``applications.concurrency``).

- « Informations perso. », first save: two requests both found no dossier and both inserted one; the second broke the
  one-dossier-per-account constraint, a 500 on PostgreSQL. The account's row is now locked first: the second waits,
  then finds the dossier holding the values it posts, and writes nothing.
- « Valider le département » of the external cursus rebuilt the form at the row's current version, so that the save
  that followed overwrote another tab's change silently. The step now keeps the version the page was read at.
- « Ajouter » (external cursus, internships, work experience) took no lock and checked no version: a double tap
  added the row twice. The add form is now read at the version of its list (``concurrency.rows_version``), and a
  second add of the same row from the same page adds nothing and lands on the list, the row listed once.
"""

import datetime
import threading
import time

import pytest
from django.db import connection
from django.urls import reverse
from pytest_django.asserts import assertContains, assertRedirects

from accounts.tests.mfa import Client
from applications import services
from applications.models import Candidate, ExternalCursus, Internship, ReferenceCommune, WorkExperience
from applications.models.reference import forget_reference_lists
from applications.tests.factories import ExternalCursusFactory, InternshipFactory
from applications.tests.helpers import personal_details_form, run_both

ALREADY_ADDED = "This line had already been added: it is listed only once."
CONFLICT = "This section was changed by yourself (in another tab or on another device) on"
PERSONAL = personal_details_form(read_at="")  # read_at: the page of a candidate with no dossier yet
# The same, as the form cleans them (what the service receives).
DETAILS = {
    "civility": "Mme",
    "birth_name": "DUPONT",
    "first_name": "Camille",
    "birth_date": datetime.date(2001, 2, 3),
    "birth_country": "FR",
    "birth_department": "66",
    "birth_city": "Perpignan",
    "nationality": "FR",
}
CURSUS = {
    "year": "2023",
    "label": "Licence 3 Biologie",
    "diploma": "LIC",
    "obtained": "O",
    "mention": "",
    "country": "FR",
    "department": "66",
    "city": "66136",
    "school": "Université de Perpignan",
}
ROWS = {
    "external_cursus": (ExternalCursus, CURSUS),
    "internship": (
        Internship,
        {"year": "2024", "duration": "3 mois", "hours_per_week": "35", "organisation": "Labo", "description": ""},
    ),
    "work_experience": (
        WorkExperience,
        {"year": "2021", "duration": "1 an", "title": "Serveur", "organisation": "Café", "description": ""},
    ),
}


@pytest.fixture
def communes(db):
    """The SIS's communes: the external cursus's commune is chosen from its département's (« Valider le
    département »)."""
    ReferenceCommune.objects.bulk_create(
        [
            ReferenceCommune(code="66136", label="PERPIGNAN", insee_code="66136", postal_code="66000"),
            ReferenceCommune(code="66008", label="ARGELES-SUR-MER", insee_code="66008", postal_code="66700"),
        ]
    )
    forget_reference_lists()
    yield
    forget_reference_lists()


def _read_at(page) -> str:
    """The version a rendered form carries (its hidden ``read_at``)."""
    return page.context["form"]["read_at"].value()


def _add_page(client, kind_name: str) -> dict:
    """The add form of ``kind_name`` as the browser posts it: its values and the version it was read at."""
    page = client.get(reverse(f"applications:{kind_name}_add"))
    return {**ROWS[kind_name][1], "read_at": _read_at(page)}


# --- « Informations perso. »: the first save, tapped twice ---------------------------------------------------------


@pytest.mark.django_db
def test_the_first_save_posted_again_once_the_dossier_exists_writes_nothing(candidate_user):
    # The second request of a double tap, after the lock: its view found no dossier; the first has saved it since.
    first = services.save_personal_details(
        user=candidate_user, candidate=None, data=DETAILS, actor=candidate_user, read_at=""
    )

    again = services.save_personal_details(
        user=candidate_user, candidate=None, data=DETAILS, actor=candidate_user, read_at=""
    )

    assert again.pk == first.pk
    assert Candidate.objects.get(user=candidate_user).updated_at == first.updated_at  # nothing written


@pytest.mark.django_db
def test_other_values_posted_from_the_page_read_before_the_dossier_existed_are_a_conflict(
    client, candidate_user, django_assert_num_queries
):
    client.force_login(candidate_user)
    assert client.post(reverse("applications:personal_details"), PERSONAL).status_code == 302

    # Session, user, dossier, its applications, the INE's check; the lock and who changed it (the message); the page.
    with django_assert_num_queries(12):
        response = client.post(reverse("applications:personal_details"), {**PERSONAL, "phone": "04 68 00 00 01"})

    assert response.status_code == 200
    assertContains(response, CONFLICT)
    assert Candidate.objects.get(user=candidate_user).phone == "+33468000000"


@pytest.mark.django_db
def test_the_first_save_tapped_twice_saves_once_and_goes_to_the_next_step(
    client, candidate_user, django_assert_num_queries
):
    client.force_login(candidate_user)
    assert client.post(reverse("applications:personal_details"), PERSONAL).status_code == 302
    saved = Candidate.objects.get(user=candidate_user)

    # Session, user, dossier, its applications, the INE's check; the lock: nothing written; the next step's dossier.
    with django_assert_num_queries(12):
        response = client.post(reverse("applications:personal_details"), PERSONAL)

    assertRedirects(response, reverse("applications:address"), fetch_redirect_response=False)
    assert Candidate.objects.get(user=candidate_user).updated_at == saved.updated_at


def _someone_waits_for_a_lock() -> bool:
    """Whether another connection to this database waits for a lock (``pg_stat_activity``, its snapshot cleared: the
    list of connections is read once per transaction, and the other request's may open after that read)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock')"
        )
        return cursor.fetchone()[0]


def _stopping_after(manager, held: threading.Event, done: threading.Event, seen_waiting: list[bool]):
    """``manager.create`` that, in the thread named "first", stops after its insert (its transaction open) until the
    other request is done or waits for a lock, and says which."""
    original = manager.create

    def create(**kwargs):
        created = original(**kwargs)
        if threading.current_thread().name == "first":
            held.set()
            deadline = time.monotonic() + 15
            waiting = False
            while not waiting and time.monotonic() < deadline and not done.wait(0.05):
                waiting = _someone_waits_for_a_lock()
            seen_waiting.append(waiting)
        return created

    return create


def _client_of(user) -> Client:
    client = Client()
    client.language = "en"
    client.force_login(user)
    return client


def _race(first_post, second_post, held: threading.Event, done: threading.Event) -> tuple[dict, dict]:
    """The first request stops after its insert; the second starts then, while the first's transaction is open."""
    responses: dict = {}

    def first():
        responses["first"] = first_post()

    def second():
        assert held.wait(timeout=15)
        try:
            responses["second"] = second_post()
        finally:
            done.set()

    return run_both({"first": first, "second": second}), responses


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_double_tap_on_the_first_personal_details_save_is_no_error(candidate_user, monkeypatch):
    """PostgreSQL: the first request stops after inserting the dossier, until the second waits for a lock. The
    second used to insert one too and break the account's unique constraint (a 500); it now waits for the account's
    row, then finds the dossier the first saved, with its own values: saved once, both go to the next step."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    held, done = threading.Event(), threading.Event()
    seen_waiting: list[bool] = []
    monkeypatch.setattr(Candidate.objects, "create", _stopping_after(Candidate.objects, held, done, seen_waiting))
    tap_1, tap_2 = _client_of(candidate_user), _client_of(candidate_user)
    url = reverse("applications:personal_details")

    outcomes, responses = _race(lambda: tap_1.post(url, PERSONAL), lambda: tap_2.post(url, PERSONAL), held, done)

    assert outcomes == {"first": "ok", "second": "ok"}
    assert seen_waiting == [True], "the second request never waited: the interleaving was not forced"
    assert [responses[name].status_code for name in ("first", "second")] == [302, 302]
    assert Candidate.objects.filter(user=candidate_user).count() == 1


# --- « Valider le département »: another tab's change is not overwritten --------------------------------------------


@pytest.mark.django_db
def test_validating_the_department_keeps_the_version_the_page_was_read_at(
    owner_client, candidate, communes, django_assert_num_queries
):
    row = ExternalCursusFactory(
        candidate=candidate, label="Licence", department="66", city="PERPIGNAN", city_insee_code="66136"
    )
    url = reverse("applications:external_cursus_edit", kwargs={"public_id": row.public_id})
    tab_a = _read_at(owner_client.get(url))
    assert owner_client.post(url, {**CURSUS, "label": "Licence (tab B)", "read_at": tab_a}).status_code == 302

    with django_assert_num_queries(7):  # session, user, dossier, the row; the département's communes; the page
        step = owner_client.post(
            url, {**CURSUS, "label": "Licence (tab A)", "city": "", "choose_department": "1", "read_at": tab_a}
        )
    saved = owner_client.post(url, {**CURSUS, "label": "Licence (tab A)", "read_at": _read_at(step)})

    assert _read_at(step) == tab_a
    assert saved.status_code == 200
    assertContains(saved, CONFLICT)
    assertContains(saved, 'value="Licence (tab A)"')  # what tab A typed, kept beside what is stored
    assert ExternalCursus.objects.get(pk=row.pk).label == "Licence (tab B)"


# --- « Ajouter », tapped twice --------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("kind_name", list(ROWS))
def test_the_same_add_form_posted_twice_adds_one_row(
    owner_client, candidate, communes, django_assert_num_queries, kind_name
):
    model = ROWS[kind_name][0]
    posted = _add_page(owner_client, kind_name)
    list_url = reverse(f"applications:{kind_name}_list")
    assertRedirects(owner_client.post(reverse(f"applications:{kind_name}_add"), posted), list_url)

    # Session, user, dossier (+ the cursus's commune: its département's communes); the lock, the list's version, the
    # row already added: nothing written (each atomic block counts its savepoint).
    # +1: transmitted applications read after the dossier lock.
    with django_assert_num_queries(12 + (kind_name == "external_cursus")):
        response = owner_client.post(reverse(f"applications:{kind_name}_add"), posted)

    assertRedirects(response, list_url, fetch_redirect_response=False)
    assert model.objects.filter(candidate=candidate).count() == 1
    listed = owner_client.get(list_url)
    assertContains(listed, ALREADY_ADDED)
    assert len(listed.context["rows"]) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("kind_name", list(ROWS))
def test_two_adds_from_two_page_loads_add_two_rows(
    owner_client, candidate, communes, django_assert_num_queries, kind_name
):
    model = ROWS[kind_name][0]
    owner_client.post(reverse(f"applications:{kind_name}_add"), _add_page(owner_client, kind_name))
    again = _add_page(owner_client, kind_name)  # the same row again, on purpose: the page lists the first one

    # Session, user, dossier (+ the communes); the lock, the list's version; the insert (and the savepoints).
    # +1: transmitted applications read after the dossier lock.
    with django_assert_num_queries(11 + (kind_name == "external_cursus")):
        response = owner_client.post(reverse(f"applications:{kind_name}_add"), again)

    assert response.status_code == 302
    assert model.objects.filter(candidate=candidate).count() == 2


@pytest.mark.django_db
def test_two_tabs_adding_two_different_rows_add_both(owner_client, candidate):
    tab_a = _add_page(owner_client, "internship")
    tab_b = _add_page(owner_client, "internship")
    owner_client.post(reverse("applications:internship_add"), tab_a)

    response = owner_client.post(reverse("applications:internship_add"), {**tab_b, "organisation": "Observatoire"})

    assert response.status_code == 302
    assert sorted(Internship.objects.filter(candidate=candidate).values_list("organisation", flat=True)) == [
        "Labo",
        "Observatoire",
    ]


@pytest.mark.django_db
def test_an_add_form_read_before_the_same_row_was_typed_elsewhere_is_no_duplicate_of_an_older_row(
    owner_client, candidate
):
    # A row typed long ago with the same values is no double tap: only a row saved since the page was read is.
    InternshipFactory(candidate=candidate, year=2024, duration="3 mois", hours_per_week=35, organisation="Labo")
    posted = _add_page(owner_client, "internship")
    InternshipFactory(candidate=candidate, organisation="Autre")  # another tab's row, meanwhile

    response = owner_client.post(reverse("applications:internship_add"), posted)

    assert response.status_code == 302
    assert Internship.objects.filter(candidate=candidate, organisation="Labo").count() == 2


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_double_tap_on_add_adds_one_row_on_postgresql(candidate, monkeypatch):
    """PostgreSQL: the first request stops after its insert until the second waits for the dossier's lock; the
    second then sees the row and adds nothing. Without the lock both inserted."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    held, done = threading.Event(), threading.Event()
    seen_waiting: list[bool] = []
    monkeypatch.setattr(Internship.objects, "create", _stopping_after(Internship.objects, held, done, seen_waiting))
    tap_1, tap_2 = _client_of(candidate.user), _client_of(candidate.user)
    posted = _add_page(tap_1, "internship")
    url = reverse("applications:internship_add")

    outcomes, responses = _race(lambda: tap_1.post(url, posted), lambda: tap_2.post(url, posted), held, done)

    assert outcomes == {"first": "ok", "second": "ok"}
    assert seen_waiting == [True], "the second request never waited: the interleaving was not forced"
    assert [responses[name].status_code for name in ("first", "second")] == [302, 302]
    assert Internship.objects.filter(candidate=candidate).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("forged", ["a\x00b", "1|2026-01-01", "x" * 5000])
def test_an_add_form_with_a_forged_version_adds_its_row_without_an_error(owner_client, candidate, forged):
    response = owner_client.post(reverse("applications:internship_add"), {**ROWS["internship"][1], "read_at": forged})

    assertRedirects(response, reverse("applications:internship_list"), fetch_redirect_response=False)
    assert Internship.objects.filter(candidate=candidate).count() == 1
