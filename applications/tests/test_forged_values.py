"""Values no form of ours sends, which the database refuses: the NUL character (0x00) in text, which PostgreSQL
refuses (no keyboard types it, but a forged request or an odd paste can carry it), and ids longer than a bigint in a
URL. Each place that took them to the database answered a 500 on PostgreSQL (found on 2026-12-01 by posting them to
the back office's raw POST values, list filters and the pieces pages); on SQLite, NUL was stored. Now: a message
next to what carried it, a 400 for a query string, a 404 for an id, and nothing written (``ecandidat/text.py``,
``ecandidat/prepared.py``).

A second sweep (the same day: every page and back-office screen, with out-of-range dates and numbers, over-long and
malformed values, odd uploads and methods) found more 500s, tested below: list filters the database cannot run,
exports reading filters the list refuses, an autocomplete field posted with a value that is not an id, the student
records' "Ajouter", and the directory page where no directory is set."""

import html

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from applications.enums import PieceStatus
from applications.models import ApplicationNote, ExportColumns, SavedFilter, SisRecord
from applications.tests.factories_candidature import make_application, with_file
from offers.models import Commission
from offers.tests.factories import FormationFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("back_office_in_french")]

REFUSED = (
    "Ce texte contient un caractère qui ne peut pas être enregistré (NUL) : retirez-le, puis enregistrez à nouveau."
)
CHANGELIST = "admin:applications_application_changelist"


@pytest.fixture
def application(centre, commission, campaign):
    return make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)


def _action(name, application, *args):
    return reverse(f"admin:applications_application_{name}", args=[application.pk, *args])


def _page(client, response) -> str:
    return html.unescape(client.get(response["Location"]).content.decode())


def test_a_note_with_nul_is_refused_with_a_message(client, django_assert_num_queries, centre_manager, application):
    client.force_login(centre_manager)

    # session, user, scope, the application in scope, the lock (savepoint); the typed note kept in the session (3)
    with django_assert_num_queries(10):
        response = client.post(_action("note", application), {"text": "Bon\x00dossier"})

    assert response.status_code == 302
    assert REFUSED in _page(client, response)
    assert not ApplicationNote.objects.exists()


def test_a_piece_comment_with_nul_is_refused_next_to_the_comment(
    client, django_assert_num_queries, centre_manager, application
):
    submission = with_file(application)
    client.force_login(centre_manager)

    with django_assert_num_queries(11):  # as a refusal without comment (test_admin_access): the message is kept
        response = client.post(
            _action("piece_check", application, submission.public_id), {"status": "RE", "comment": "scan\x00flou"}
        )

    assert response.status_code == 302
    assert REFUSED in _page(client, response)
    submission.refresh_from_db()
    assert (submission.status, submission.comment) == (PieceStatus.SUBMITTED, "")


def test_a_saved_filter_named_with_nul_is_refused(client, django_assert_num_queries, centre_manager):
    client.force_login(centre_manager)

    # session, user, scope and the list's permission; nothing written but the typed name kept in the session (3)
    with django_assert_num_queries(8):
        named = client.post(
            reverse("admin:applications_application_save_filter"),
            {"label": "a\x00b", "query": "dossier_status__exact=RE"},
        )
    forged_query = client.post(
        reverse("admin:applications_application_save_filter"),
        {"label": "Complets", "query": "dossier_status__exact=%00"},
    )

    assert REFUSED in _page(client, named)
    assert forged_query["Location"] == reverse(CHANGELIST)  # never sent back to a query our list does not make
    assert list(SavedFilter.objects.values_list("label", "query_string")) == [("Complets", "")]


@pytest.mark.parametrize(
    "query",
    ["dossier_status__exact=%00", "q=a%00b", "%00=1", "dossier_status__exact=RE&tag=%00"],
)
def test_a_query_string_with_nul_gets_a_400_before_any_view(client, django_assert_num_queries, centre_manager, query):
    client.force_login(centre_manager)

    with django_assert_num_queries(0):  # refused before the session is read
        response = client.get(f"{reverse(CHANGELIST)}?{query}")

    assert response.status_code == 400
    assert "Requête incorrecte" in response.content.decode()


def test_a_query_string_with_the_text_percent_00_is_not_refused(client):
    # "%2500" is the text "%00", not the NUL character: a search for it is an ordinary search.
    response = client.get(reverse("offers:catalogue") + "?q=%2500")

    assert response.status_code == 200


# --- ids out of the database's range -------------------------------------------------------------------------------

BIG = "9" * 23  # <int:...> takes any number of digits; a bigint holds 19


@pytest.mark.parametrize("action", ["ajouter", "supprimer", "non-concerne", "concerne"])
def test_a_piece_id_out_of_range_is_not_found(client, django_assert_num_queries, application, action):
    """The pieces pages read with prepared queries, which handed the number to PostgreSQL: "bigint out of range",
    a 500. Now no row, as the ORM answers: a 404, and nothing read past the candidate's own application."""
    client.force_login(application.candidate.user)

    with django_assert_num_queries(QUERIES_FORGED_PIECE[action]):
        response = client.post(f"/pieces/{application.public_id}/{BIG}/{action}/")

    assert response.status_code == 404


QUERIES_FORGED_PIECE = {"ajouter": 3, "supprimer": 6, "non-concerne": 6, "concerne": 6}  # session, user, application…


# --- admin actions with a selection that is not an id ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("changelist", "action"),
    [
        (CHANGELIST, "action_change_tags"),
        (CHANGELIST, "action_set_status"),
        ("admin:ecandidat_outboundemail_changelist", "resend"),
    ],
)
@pytest.mark.parametrize(
    "selected",
    [["abc"], [""], ["1", "x"], ["9" * 20], ["-" + "9" * 20]],
    ids=["abc", "empty", "one-bad", "huge", "-huge"],
)
def test_an_action_on_a_forged_selection_gets_a_400(
    client, django_assert_num_queries, superuser, application, changelist, action, selected
):
    """Django filters the list with the posted values and the action failed on converting them (a 500 on every
    admin, ours and the packages'); ``ecandidat.admin_base.refusing_forged_selections`` refuses them first."""
    client.force_login(superuser)

    with django_assert_num_queries(QUERIES_BEFORE_THE_ACTION[changelist]):  # the list's; the action reads nothing
        response = client.post(reverse(changelist), {"action": action, "_selected_action": selected, "index": "0"})

    assert response.status_code == 400
    assert "Requête incorrecte" in response.content.decode()


QUERIES_BEFORE_THE_ACTION = {CHANGELIST: 14, "admin:ecandidat_outboundemail_changelist": 6}


# --- list filters the database cannot run ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "created_at__year=0",  # "year 0 is out of range", when the list counted its rows
        "created_at__year=10000",
        f"received_on__year={'9' * 25}",  # OverflowError
        "received_on__iso_year=0",
        "received_on__range=1",  # one bound per character: IndexError
        "dossier_status__range=a,b",  # three bounds for two placeholders: TypeError
        "dossier_status__regex=(",  # PostgreSQL: "invalid regular expression" (DataError)
        "dossier_status__iregex=[a",
    ],
)
def test_a_list_filter_the_database_cannot_run_gets_a_400(client, django_assert_num_queries, centre_manager, query):
    """Django lets any lookup on the list's own fields through the query string and refuses only the values it cannot
    build a filter with (``?e=1``); these passed that step and failed when the list counted its rows (a 500 on every
    list, ours and the packages'). ``ecandidat.admin_base.refusing_forged_lookups`` refuses them first."""
    client.force_login(centre_manager)

    with django_assert_num_queries(6):  # session, user, scope in the request's savepoint, rolled back; no row read
        response = client.get(f"{reverse(CHANGELIST)}?{query}")

    assert response.status_code == 400
    assert "Requête incorrecte" in response.content.decode()


@pytest.mark.parametrize(("query", "status"), [("used_from__exact=abc", 400), ("used_from__exact=127.0.0.1", 200)])
def test_an_address_filter_takes_an_address(client, superuser, query, status):
    """PostgreSQL compares an address column (inet) with addresses only: "invalid input syntax for type inet" (a
    DataError, a 500) for anything else."""
    client.force_login(superuser)

    response = client.get(f"{reverse('admin:accounts_staffenrolmenttoken_changelist')}?{query}")

    assert response.status_code == status


@pytest.mark.parametrize(
    "query", ["created_at__year={created_year}", "cancelled_at__isnull=True", "dossier_status__in=RE,CO"]
)
def test_a_list_filter_the_database_can_run_is_kept(client, centre_manager, application, query):
    query = query.format(created_year=timezone.localtime(application.created_at).year)  # the year it was created
    client.force_login(centre_manager)

    response = client.get(f"{reverse(CHANGELIST)}?{query}")

    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


# --- autocomplete fields posted with a value that is not an id ------------------------------------------------------


def test_an_autocomplete_field_posted_with_a_value_that_is_not_an_id_is_refused_next_to_it(
    client, django_assert_num_queries, superuser, centre
):
    """Django's autocomplete widget read the posted value back from the database to show the form again: "Field 'id'
    expected a number but got 'abc'" (a 500). Now the form's own message, next to the field, and nothing saved."""
    client.force_login(superuser)

    # session, user, two savepoints, the code's uniqueness, the page's, the centres listed for a browser without
    # JavaScript (none read for "abc")
    with django_assert_num_queries(10):
        response = client.post(
            reverse("admin:offers_commission_add"),
            {"centre": "abc", "code": "C1", "label": "Commission", "shown_statuses": ["shows_received"]},
        )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["centre"] == [
        "Sélectionnez un choix valide. Ce choix ne fait pas partie de ceux disponibles."
    ]
    assert not Commission.objects.filter(code="C1").exists()


def test_an_autocomplete_field_prefilled_from_the_address_with_a_value_that_is_not_an_id_is_left_empty(
    client, django_assert_num_queries, superuser, centre
):
    """The add page takes initial values from its query string (``?centre=abc``): the same failure, on a GET."""
    client.force_login(superuser)

    # session, user, the page's choice lists (centres, commissions and diploma types included, listed for a browser
    # without JavaScript), the centres offered to pre-fill the form with their defaults; no centre read for "abc"
    with django_assert_num_queries(16):
        response = client.get(reverse("admin:offers_formation_add") + "?centre=abc&commission=1.5")

    assert response.status_code == 200
    assert "selected>" not in str(response.context["adminform"].form["centre"])


# --- student records: the import's rows, not typed -------------------------------------------------------------------


def test_student_records_are_neither_added_nor_changed_in_the_back_office(client, superuser):
    """Every field is read-only: "Ajouter" saved an empty row the database refuses ("data" cannot be null: a 500)."""
    record = SisRecord.objects.create(student_number="12345678", data={"nom": "MARTIN"})
    client.force_login(superuser)

    added = client.post(reverse("admin:applications_sisrecord_add"), {})
    changed = client.post(reverse("admin:applications_sisrecord_change", args=[record.pk]), {})

    assert (added.status_code, changed.status_code) == (403, 403)
    assert list(SisRecord.objects.values_list("student_number", flat=True)) == ["12345678"]
    assert client.get(reverse("admin:applications_sisrecord_change", args=[record.pk])).status_code == 200


# --- the list's exports read the list's query string ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_with_filters_the_list_refuses_gets_a_400(client, django_assert_num_queries, centre_manager, fmt):
    """The list answers a filter on a field it does not have (``?tab=x``) with Django's ``?e=1``; its exports, which
    read the same query string, failed on it (IncorrectLookupParameters: a 500)."""
    client.force_login(centre_manager)

    with django_assert_num_queries(10):  # session, user, scope, the filters' choices (savepoint, rolled back); no row
        response = client.get(reverse("admin:applications_application_export", args=[fmt]) + "?tab=x")

    assert response.status_code == 400
    assert "Requête incorrecte" in response.content.decode()


def test_an_export_with_chosen_columns_and_refused_filters_gets_a_400_and_saves_no_choice(
    client, django_assert_num_queries, centre_manager
):
    client.force_login(centre_manager)

    with django_assert_num_queries(11):  # as above, and the saved choice read (the one to show); nothing written
        response = client.post(
            reverse("admin:applications_application_export_columns"),
            {"columns": ["numero"], "fmt": "csv", "filters": "tab=x"},
        )

    assert response.status_code == 400
    assert not ExportColumns.objects.exists()  # the choice is saved with the export only


@pytest.mark.parametrize("filters", ["dossier_status__exact=%00", "q=a%00b", "dossier_status__exact=\x00"])
def test_an_export_with_chosen_columns_and_a_nul_in_its_filters_gets_a_400(
    client, django_assert_num_queries, centre_manager, application, filters
):
    """Regression (hostile-input audit, 2026-12-03): the list's filters travel in the export page's hidden field, which
    ``RefuseNulInQueryString`` never sees. A NUL in a filter reached PostgreSQL (a 500, ValueError from psycopg);
    a raw NUL was an error on the hidden field. Both are now the list's own answer, a 400, and no choice is saved."""
    client.force_login(centre_manager)

    with django_assert_num_queries(7):  # session, user; savepoint, scope, the saved choice, rolled back: no row read
        response = client.post(
            reverse("admin:applications_application_export_columns"),
            {"columns": ["numero"], "fmt": "xlsx", "filters": filters},
        )

    assert response.status_code == 400
    assert not ExportColumns.objects.exists()


# --- the directory page where no directory is set -------------------------------------------------------------------


def test_the_directory_page_says_no_directory_is_set(client, django_assert_num_queries, central_manager, settings):
    """The page opened from the accounts' list put its message on a form never posted (Django's ``add_error`` needs
    cleaned data): a 500 wherever LDAP_URL is empty, the default. Now the message on the page, nothing created."""
    settings.LDAP_URL = ""
    client.force_login(central_manager)

    with django_assert_num_queries(7):  # session, user, scope, the user's and groups' permissions (savepoint)
        opened = client.get("/gestion/accounts/user/from-directory/")
    posted = client.post("/gestion/accounts/user/from-directory/", {"identifier": "sophie.gestion"})

    for response in (opened, posted):
        assert response.status_code == 200
        assert "Aucun annuaire n’est configuré (LDAP_URL)." in response.content.decode()
    assert not User.objects.filter(username="sophie.gestion").exists()
