"""A list's filters on a phone (templates/admin/change_list.html): Django shows them below the results under 768 px,
past a whole page of cards (31 dossiers: « Par décision → Aucun avis » 12,923 px down at 375 px). At the top of the
results, a link « Filtres » jumps to them and says how many are active (the filters Django counts as active: those
that took a parameter of the address, read from the filters the list already built, without a query); the filters
start with a link back to the results. Both targets take the focus (``tabindex="-1"``). A list without filters has
neither link. The page costs the queries it cost before."""

import re

import pytest
from django.urls import reverse

from applications.tests.factories_candidature import make_application
from offers.tests.factories import CampaignFactory, FormationFactory

CHANGELIST = "admin:applications_application_changelist"
QUERIES_LIST = 20  # as the list's query-count tests (test_admin_applications, test_admin_campaign_filter)
LEVELS_CHANGELIST = "admin:applications_svaalertlevel_changelist"  # a list without filters
QUERIES_LEVELS = 9  # as test_sva_alerts

JUMP = re.compile(r'<p class="filter-jump"><a href="#changelist-filter">(.*?)</a></p>', re.S)
BACK = '<p class="results-jump"><a href="#changelist-form">'


@pytest.fixture
def listed(centre, commission, campaign):
    formation = FormationFactory(centre=centre, commission=commission, code="M1ENER")
    return [make_application(formation, campaign=campaign) for _ in range(3)]


def jump_text(page: str) -> str:
    found = JUMP.findall(page)
    assert len(found) == 1, found
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found[0])).strip()


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("", "Filters"),
        ("?decision=none", "Filters (1 active)"),
        ("?decision=none&to_check=no", "Filters (2 active)"),
        # Ordering and paging are not filters; a filter given twice is one filter.
        ("?decision=none&decision=none&o=2&p=1&to_check=no&answer=none", "Filters (3 active)"),
    ],
)
def test_the_list_jumps_to_its_filters_saying_how_many_are_active(
    client, django_assert_num_queries, centre_manager, listed, query, text
):
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_LIST):
        response = client.get(reverse(CHANGELIST) + query)

    page = response.content.decode()
    assert response.status_code == 200
    assert jump_text(page) == text
    # After the search bar and the status counters, before the actions and the rows; the filters after the rows.
    jump = page.index('<p class="filter-jump">')
    assert page.index('id="changelist-search"') < jump
    assert page.index('class="status-counters"') < jump
    assert jump < page.index('id="changelist-form"') < page.index('<select name="action"') < page.index("result_list")
    # Both ends of the jump take the focus; the filters start (after their title) with the way back.
    assert re.search(r'<form id="changelist-form"[^>]* tabindex="-1"', page)
    assert '<search id="changelist-filter" aria-labelledby="changelist-filter-header" tabindex="-1">' in page
    filters = page[page.index('<search id="changelist-filter"') :]
    assert filters.index('id="changelist-filter-header"') < filters.index(BACK) < filters.index("<details")
    assert BACK + "Back to the results</a></p>" in filters


@pytest.mark.usefixtures("back_office_in_french")
@pytest.mark.parametrize(
    ("query", "text"),
    [("", "Filtres"), ("?decision=none", "Filtres (1 actif)"), ("?decision=none&to_check=no", "Filtres (2 actifs)")],
)
def test_in_french(client, django_assert_num_queries, centre_manager, listed, query, text):
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_LIST):
        page = client.get(reverse(CHANGELIST) + query).content.decode()

    assert jump_text(page) == text
    assert BACK + "Retour aux résultats</a></p>" in page


def test_the_active_campaign_shown_by_default_is_not_an_active_filter(
    client, django_assert_num_queries, centre_manager, listed, campaign
):
    """« Par campagne » shows the active campaign when the address names none (its default, as Django's « Tout »
    is the others'): not counted. Named in the address, it is."""
    CampaignFactory(code="P2026", label="Campagne 2026", is_active=False)
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_LIST):
        default = client.get(reverse(CHANGELIST)).content.decode()
    with django_assert_num_queries(QUERIES_LIST):
        named = client.get(reverse(CHANGELIST) + f"?campaign__id__exact={campaign.pk}").content.decode()

    assert "By campaign" in default  # the filter is there
    assert (jump_text(default), jump_text(named)) == ("Filters", "Filters (1 active)")


def test_a_list_without_filters_has_no_jump(client, django_assert_num_queries, central_manager):
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_LEVELS):
        response = client.get(reverse(LEVELS_CHANGELIST))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="changelist-form"' in page
    assert "#changelist-filter" not in page
    assert 'class="filter-jump"' not in page
    assert 'class="results-jump"' not in page
