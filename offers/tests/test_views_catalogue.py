import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from offers.tests.factories import CentreFactory, DiplomaTypeFactory, FormationFactory

pytestmark = pytest.mark.django_db

URL = reverse("offers:catalogue")
# Session + the formations query; the page does not grow with the number of formations.
CATALOGUE_QUERIES = 1


def _formations(count):
    centre = CentreFactory(label="UFR Sciences Exactes et Expérimentales")
    FormationFactory.create_batch(count, centre=centre, commission__centre=centre)


@pytest.mark.parametrize("count", [5, 500])
def test_catalogue_query_count_does_not_depend_on_formations(client, django_assert_num_queries, count):
    _formations(count)

    with django_assert_num_queries(CATALOGUE_QUERIES):
        response = client.get(URL)

    assert response.status_code == 200
    assert response.content.count(b'<th scope="row">') == count


def test_filter_is_case_and_accent_insensitive(client):
    centre = CentreFactory()
    FormationFactory(title="MASTER 1 - ENERGIE Parc. Matériaux et procédés solaires", centre=centre)
    FormationFactory(title="MASTER 1 - Chimie", keywords="énergie verte", centre=centre)
    FormationFactory(title="MASTER 1 - Histoire", centre=centre)

    response = client.get(URL, {"q": "energie"})

    assertContains(response, "MASTER 1 - ENERGIE Parc.")
    assertContains(response, "MASTER 1 - Chimie")
    assertNotContains(response, "MASTER 1 - Histoire")
    assertContains(response, '<details class="catalogue__centre" open>', html=False)


def test_filter_matches_centre_and_diploma_labels(client):
    FormationFactory(title="Formation A", centre=CentreFactory(label="IUT De Perpignan"))
    FormationFactory(title="Formation B", diploma_type=DiplomaTypeFactory(code="LPRO", label="LICENCE PRO"))
    FormationFactory(title="Formation C")

    assertContains(client.get(URL, {"q": "iut"}), "Formation A")
    by_diploma = client.get(URL, {"q": "licence pro"})
    assertContains(by_diploma, "Formation B")
    assertNotContains(by_diploma, "Formation C")


def test_without_filter_branches_are_closed_and_filter_says_none(client):
    FormationFactory()

    response = client.get(URL, HTTP_ACCEPT_LANGUAGE="fr")

    assertNotContains(response, '<details class="catalogue__centre" open>', html=False)
    assertContains(response, "Filtre en cours : Aucun")


def test_formation_outside_its_window_is_listed_with_the_reason(client):
    today = timezone.localdate()
    FormationFactory(
        title="Formation future",
        opens_on=today + datetime.timedelta(days=3),
        closes_on=today + datetime.timedelta(days=30),
    )

    response = client.get(URL, {"q": "future"}, HTTP_ACCEPT_LANGUAGE="en")

    assertContains(response, "Formation future")
    assertContains(response, (today + datetime.timedelta(days=3)).strftime("Applications open on %d/%m/%Y."))
    assertContains(response, 'class="is-closed"', html=False)


def test_formations_out_of_service_or_of_a_closed_centre_are_hidden(client):
    FormationFactory(title="Retirée", in_service=False)
    FormationFactory(title="Centre fermé", centre=CentreFactory(in_service=False))

    response = client.get(URL)

    assertNotContains(response, "Retirée")
    assertNotContains(response, "Centre fermé")


def test_overlong_filter_is_ignored_without_error(client):
    FormationFactory(title="Formation visible")

    response = client.get(URL, {"q": "x" * 500})

    assert response.status_code == 200
    assertContains(response, "Formation visible")


@pytest.mark.parametrize("user_fixture", ["client", "admin_client"])
def test_catalogue_is_public(request, user_fixture):
    client = request.getfixturevalue(user_fixture)

    assert client.get(URL).status_code == 200
