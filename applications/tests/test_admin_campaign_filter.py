"""The applications list after the rollover: it shows the active campaign unless « Par campagne » says otherwise (a
past campaign or « Toutes les campagnes »), says which one under its title, and its counters and exports follow. The
morning after the archiving night, the scolarité saw last year's dossiers mixed with this year's."""

import csv
import datetime
import io
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils.html import strip_tags

from applications.enums import DossierStatus
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import change_url
from offers.tests.factories import CampaignFactory, FormationFactory

CHANGELIST = "admin:applications_application_changelist"
QUERIES_LIST = 20  # as with Django's related filter: its one query for the campaigns became this filter's

pytestmark = pytest.mark.usefixtures("back_office_in_french")


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")


@pytest.fixture
def two_years(formation):
    """Last year's campaign, archived (two applications, one complete), and this year's, active (one received)."""
    last_year = CampaignFactory(code="P2026", label="Campagne 2026", is_active=False)
    this_year = CampaignFactory(
        code="P2027", label="Campagne 2027", is_active=True, starts_on=last_year.starts_on + datetime.timedelta(days=1)
    )
    old = [make_application(formation, campaign=last_year) for _ in range(2)]
    old[0].dossier_status = DossierStatus.COMPLETE
    old[0].save(update_fields=["dossier_status"])
    new = make_application(formation, campaign=this_year)
    return {"last_year": last_year, "this_year": this_year, "old": old, "new": new}


def listed(response) -> set[int]:
    return {row.pk for row in response.context["cl"].result_list}


def counters(response) -> tuple[int, int]:
    """The "Réceptionné" and "Complet" counters above the list."""
    counts = {counter["label"]: counter["count"] for counter in response.context["status_counters"]}
    return counts[DossierStatus.RECEIVED.label], counts[DossierStatus.COMPLETE.label]


def campaign_choices(response) -> list[tuple[str, bool]]:
    spec = next(spec for spec in response.context["cl"].filter_specs if spec.title == "campagne")
    # The campaigns' labels are marked lang="fr" (RGAA 8.7); read here as text.
    return [(strip_tags(choice["display"]), choice["selected"]) for choice in spec.choices(response.context["cl"])]


def test_the_list_shows_the_active_campaign_by_default(client, django_assert_num_queries, centre_manager, two_years):
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_LIST):
        response = client.get(reverse(CHANGELIST))

    html = response.content.decode()
    assert listed(response) == {two_years["new"].pk}
    assert counters(response) == (1, 0)  # last year's complete dossier is not counted
    assert campaign_choices(response) == [
        ("Toutes les campagnes", False),
        ("Campagne 2027 (active)", True),
        ("Campagne 2026", False),
    ]
    assert "<h2>Campagne 2027</h2>" in html
    assert "<title>Campagne 2027 | Candidatures" in html


def test_a_past_campaign_chosen_in_the_address(client, django_assert_num_queries, centre_manager, two_years):
    """Saved filters, bookmarks and the home page's links name the campaign as Django's related filter did."""
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_LIST):
        response = client.get(reverse(CHANGELIST) + f"?campaign__id__exact={two_years['last_year'].pk}")

    assert listed(response) == {application.pk for application in two_years["old"]}
    assert counters(response) == (1, 1)
    assert ("Campagne 2026", True) in campaign_choices(response)
    assert "<h2>Campagne 2026</h2>" in response.content.decode()


def test_the_active_campaign_chosen_in_the_address(client, centre_manager, two_years):
    client.force_login(centre_manager)

    response = client.get(reverse(CHANGELIST) + f"?campaign__id__exact={two_years['this_year'].pk}")

    assert listed(response) == {two_years["new"].pk}
    assert ("Campagne 2027 (active)", True) in campaign_choices(response)


def test_all_campaigns(client, django_assert_num_queries, centre_manager, two_years):
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_LIST):
        response = client.get(reverse(CHANGELIST) + "?campaign__id__exact=all")

    assert listed(response) == {two_years["new"].pk, *(application.pk for application in two_years["old"])}
    assert counters(response) == (2, 1)
    assert campaign_choices(response)[0] == ("Toutes les campagnes", True)
    assert "<h2>Toutes les campagnes</h2>" in response.content.decode()
    # A counter keeps the campaign chosen: a click on it does not fall back to the active campaign.
    received = next(c for c in response.context["status_counters"] if c["label"] == DossierStatus.RECEIVED.label)
    assert "campaign__id__exact=all" in received["url"]


def test_a_forged_campaign_is_refused_as_before(client, centre_manager, two_years):
    client.force_login(centre_manager)

    response = client.get(reverse(CHANGELIST) + "?campaign__id__exact=x")

    assert response.status_code == 302
    assert response.url.endswith("?e=1")


@pytest.mark.parametrize(("query", "expected"), [("", {"new"}), ("?campaign__id__exact=all", {"new", "old"})])
def test_the_export_exports_what_the_list_shows(client, centre_manager, two_years, query, expected):
    client.force_login(centre_manager)

    response = client.get(reverse("admin:applications_application_export", args=["csv"]) + query)

    rows = list(csv.reader(io.StringIO(response.getvalue().decode("utf-8-sig")), delimiter=";"))[1:]
    numbers = {row[0] for row in rows}
    wanted = {two_years["new"].candidate.user.username} if "new" in expected else set()
    if "old" in expected:
        wanted |= {application.candidate.user.username for application in two_years["old"]}
    assert numbers == wanted


def test_with_a_single_campaign_nothing_changes(
    client, django_assert_num_queries, centre_manager, formation, campaign
):
    """A new installation: no campaign filter in the sidebar, no campaign under the title, every application."""
    application = make_application(formation, campaign=campaign)
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_LIST):
        response = client.get(reverse(CHANGELIST))

    assert listed(response) == {application.pk}
    assert "subtitle" not in response.context or not response.context["subtitle"]
    assert "Par campagne" not in response.content.decode()


def test_outsiders_see_none_of_either_year(client, other_centre_manager, two_years):
    client.force_login(other_centre_manager)
    default = client.get(reverse(CHANGELIST))
    every = client.get(reverse(CHANGELIST) + "?campaign__id__exact=all")
    page = client.get(change_url(two_years["old"][0]))

    assert (listed(default), listed(every), page.status_code) == (set(), set(), 404)
    client.force_login(two_years["new"].candidate.user)
    assert client.get(reverse(CHANGELIST) + "?campaign__id__exact=all").status_code == 302  # to the login


def test_last_years_page_opened_from_a_link_offers_no_navigation(client, centre_manager, two_years):
    """The default list (this year's) never held it: no « N'est plus dans la liste filtrée » and no neighbours of
    this year's; opened from « Toutes les campagnes », its place in that list."""
    client.force_login(centre_manager)
    old = two_years["old"][0]

    alone = client.get(change_url(old)).content.decode()
    from_all = client.get(change_url(old) + "?" + urlencode({"_changelist_filters": "campaign__id__exact=all"}))

    assert "review-position" not in alone
    assert change_url(two_years["new"]) not in alone
    assert from_all.context["nav"]["count"] == 3
