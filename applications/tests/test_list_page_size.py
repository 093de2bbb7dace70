"""The applications list's page size: « Candidatures par page : 50 · 100 · 200 ».

The list showed 50 rows, and a mass action takes at most 200 applications (``operations.BULK_LIMIT``, « tout
sélectionner » refused above): the central office, whose filters leave more than 200 rows, released 50 avis a round
(320 rounds for 16,000 instead of eCandidat's 80). The user now chooses 50, 100 or 200 rows, a ``rows`` parameter
of the list's address that is not a filter (Django answered an unknown one with ``?e=1``), kept by every link of the
list (``candidatures.ApplicationsPage``), in as many queries whatever the size."""

import re

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from applications.enums import DossierStatus
from applications.tests.factories_candidature import make_application
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:applications_application_changelist"
ROW = 'class="action-select"'
# The list of applications (as test_admin_applications' QUERIES_LIST), a page of 50 rows or of 200: the rows in one
# query, their tags in one, whatever their number.
QUERIES_LIST = 20


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M2BEE", title="Master Biologie")


def shown_rows(response) -> int:
    return response.content.decode().count(ROW)


def page_size_links(response) -> dict[str, str]:
    """The page-size links of the list: their text, their address (``&amp;`` read back as ``&``)."""
    nav = re.search(r'<nav class="page-sizes".*?</nav>', response.content.decode(), re.S)
    assert nav is not None
    return {
        text: href.replace("&amp;", "&") for href, text in re.findall(r'<a href="([^"]*)">([^<]*)</a>', nav.group(0))
    }


def test_the_list_shows_50_100_or_200_rows_in_as_many_queries(
    client, formation, campaign, centre_manager, django_assert_num_queries
):
    for _ in range(201):
        make_application(formation, campaign=campaign)
    client.force_login(centre_manager)
    url = reverse(CHANGELIST)

    with django_assert_num_queries(QUERIES_LIST):
        fifty = client.get(url, language="fr")
    with django_assert_num_queries(QUERIES_LIST):
        two_hundred = client.get(url + "?rows=200", language="fr")
    hundred = client.get(url + "?rows=100", language="fr")

    assert (shown_rows(fifty), shown_rows(hundred), shown_rows(two_hundred)) == (50, 100, 200)
    # Labelled, the size shown said (in bold and to screen readers, not a link to itself), each other size a link
    # that works without JavaScript.
    assertContains(two_hundred, '<nav class="page-sizes" aria-labelledby="page-sizes-label">')
    assertContains(two_hundred, '<span id="page-sizes-label">Candidatures par page :</span>', html=True)
    assertContains(two_hundred, '<strong aria-current="true">200</strong>', html=True)
    assert page_size_links(two_hundred) == {"50": "?rows=50", "100": "?rows=100"}
    assert page_size_links(fifty) == {"100": "?rows=100", "200": "?rows=200"}
    assertContains(fifty, '<strong aria-current="true">50</strong>', html=True)


def test_the_size_is_kept_across_filters_sort_search_and_pages(
    client, formation, campaign, centre_manager, monkeypatch
):
    monkeypatch.setattr("applications.admin.candidatures.PAGE_SIZES", (2, 100, 200))  # two pages of three rows
    for _ in range(3):
        make_application(formation, campaign=campaign)
    client.force_login(centre_manager)
    query = "?dossier_status__exact=RE&o=2&rows=2&p=2"

    response = client.get(reverse(CHANGELIST) + query, language="fr")

    assert response.status_code == 200
    assert shown_rows(response) == 1  # the third of three, two a page
    content = response.content.decode().replace("&amp;", "&")
    # The next size from the first page, with the list's filters and sort; not a filter itself: no « ?e=1 ».
    assert page_size_links(response)["100"] == "?dossier_status__exact=RE&o=2&rows=100"
    assert 'href="?dossier_status__exact=RE&o=2&p=1&rows=2"' in content  # the pages
    assert 'href="?dossier_status__exact=RE&o=-2&rows=2"' in content  # the column's sort
    assert f'href="?dossier_status__exact=RE&formation={formation.pk}&o=2&rows=2"' in content  # the filters
    assert 'href="?dossier_status__exact=RE&o=2&rows=2&to_check=yes"' in content
    assertContains(response, '<input type="hidden" name="rows" value="2">', html=True)  # the search form
    complete = response.context["status_counters"][3]
    assert complete["url"] == f"?dossier_status__exact={DossierStatus.COMPLETE}&o=2&rows=2"  # the status counters
    assert response.context["current_query"] == "dossier_status__exact=RE&o=2&rows=2"  # « Enregistrer ce filtre »


def test_a_size_not_offered_shows_the_list_as_usual(client, formation, campaign, centre_manager):
    for _ in range(3):
        make_application(formation, campaign=campaign)
    client.force_login(centre_manager)

    for value in ("75", "abc", ""):
        response = client.get(reverse(CHANGELIST) + f"?rows={value}", language="fr")
        assert response.status_code == 200
        assert shown_rows(response) == 3
        assertNotContains(response, "errornote")
        assertContains(response, '<strong aria-current="true">50</strong>', html=True)


def test_the_pages_that_read_the_list_take_its_size(client, formation, campaign, centre_manager):
    """The export of the list, and a dossier opened from it (« Suivant »), read its address: a size there is not a
    filter they refuse (a 400, ``ForgedListQuery``) or drop their navigation for."""
    first, second = (make_application(formation, campaign=campaign) for _ in range(2))
    client.force_login(centre_manager)

    export = client.get(reverse("admin:applications_application_export", args=["csv"]) + "?rows=200&o=2")
    dossier = client.get(
        reverse("admin:applications_application_change", args=[first.pk]) + "?_changelist_filters=rows%3D200",
        language="fr",
    )

    assert export.status_code == 200
    assert b"".join(export.streaming_content).decode("utf-8-sig").count("M2BEE") == 2
    assert dossier.status_code == 200
    assert dossier.context["nav"]["count"] == 2
