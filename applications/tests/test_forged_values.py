"""Values no form of ours sends, which the database refuses: the NUL character (0x00) in text, which PostgreSQL
refuses (no keyboard types it, but a forged request or an odd paste can carry it), and ids longer than a bigint in a
URL. Each place that took them to the database answered a 500 on PostgreSQL (found on 2026-12-01 by posting them to
the back office's raw POST values, list filters and the pieces pages); on SQLite, NUL was stored. Now: a message
next to what carried it, a 400 for a query string, a 404 for an id, and nothing written (``ecandidat/text.py``,
``ecandidat/prepared.py``)."""

import html

import pytest
from django.urls import reverse

from applications.enums import PieceStatus
from applications.models import ApplicationNote, SavedFilter
from applications.tests.factories_candidature import make_application, with_file
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

    with django_assert_num_queries(7):  # session, user, scope, the application in scope, the lock (savepoint)
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

    with django_assert_num_queries(5):  # session, user, scope and the list's permission; nothing written
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
@pytest.mark.parametrize("selected", [["abc"], [""], ["1", "x"]])
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
