"""« Mes données » within a candidate's reach: in the candidate menu next to « Changer mon adresse mail », on
« Données personnelles » for a signed-in candidate (not for anonymous visitors nor staff), and « Mes données » says
whom to ask for rectification or erasure (the notice's office and address)."""

import re

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.tests.factories import StaffFactory

MY_DATA_URL = "/candidat/mes-donnees/"


def _menu(response) -> str:
    """The main menu's HTML, whitespace between tags removed."""
    html = response.content.decode()
    return re.sub(r">\s+<", "><", html.split('<nav class="site-nav"')[1].split("</nav>")[0])


def test_the_url_is_the_candidates_my_data_page():
    assert reverse("applications:my_data") == MY_DATA_URL


def test_the_candidate_menu_offers_my_data_next_to_the_account_items(owner_client, django_assert_num_queries):
    with django_assert_num_queries(2):  # the session, the user
        response = owner_client.get(reverse("personal_data"), language="fr")

    # Right before « Modifier mon adresse mail »: the account's own pages together.
    assert (
        f'<li><a href="{MY_DATA_URL}" >Mes données</a></li>'
        '<li><a href="/compte/adresse-mail/">Modifier mon adresse mail</a></li>' in _menu(response)
    )


def test_the_menu_marks_my_data_as_the_current_page(owner_client, django_assert_num_queries):
    with django_assert_num_queries(4):  # the session, the user, the request's savepoint and its release
        response = owner_client.get(MY_DATA_URL, language="fr")

    assert f'<a href="{MY_DATA_URL}" aria-current="page">Mes données</a>' in _menu(response)


def test_personal_data_page_links_a_candidate_to_my_data(owner_client, django_assert_num_queries):
    with django_assert_num_queries(2):  # the session, the user: no query of its own
        response = owner_client.get(reverse("personal_data"), language="fr")

    main = response.content.decode().split("<main")[1]
    assert f'<p>Téléchargez tout ce que nous détenons sur vous : <a href="{MY_DATA_URL}">Mes données</a></p>' in main


@pytest.mark.django_db
def test_personal_data_page_has_no_my_data_link_for_an_anonymous_visitor(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(reverse("personal_data"), language="fr")

    assertContains(response, "droit d'accès")  # the notice is there
    assertNotContains(response, MY_DATA_URL)
    assertNotContains(response, "Téléchargez tout ce que nous détenons sur vous")


@pytest.mark.django_db
def test_personal_data_page_has_no_my_data_link_for_staff(client, django_assert_num_queries):
    client.force_login(StaffFactory())

    with django_assert_num_queries(2):  # the session, the user
        response = client.get(reverse("personal_data"), language="fr")

    assertNotContains(response, MY_DATA_URL)
    assertNotContains(response, "Téléchargez tout ce que nous détenons sur vous")


def test_my_data_says_whom_to_ask_for_rectification_or_erasure(owner_client, settings, django_assert_num_queries):
    settings.INSTITUTION_CONTACT_EMAIL = "donnees@univ.example"

    with django_assert_num_queries(4):  # the session, the user, the request's savepoint and its release
        response = owner_client.get(MY_DATA_URL, language="fr")

    assertContains(
        response,
        '<p>Pour faire rectifier ou effacer vos données, contactez <span lang="fr">la sous direction Gestion de la '
        'formation et des Etudes</span> à cette adresse : <a href="mailto:donnees@univ.example">'
        "donnees@univ.example</a></p>",
        html=False,
    )
