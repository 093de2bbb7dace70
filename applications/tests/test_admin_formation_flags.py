"""The formations list says, in words, which formations' application window is outside the active campaign's dates
(or that no campaign is active), and filters them (eCandidat's yellow and blue rows, ecandidat-features §2.8)."""

import datetime

import pytest
from django.urls import reverse

from offers.tests.factories import CampaignFactory, FormationFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")

START, END = datetime.date(2027, 1, 15), datetime.date(2027, 6, 30)


@pytest.fixture
def formations(centre, commission):
    # Its candidates act until the campaign's closing date for candidates, not after (the factory's dates are later).
    FormationFactory(
        centre=centre,
        commission=commission,
        code="DEDANS",
        opens_on=START,
        closes_on=END,
        return_deadline=END,
        confirmation_date=END,
    )
    late = END + datetime.timedelta(days=5)
    FormationFactory(centre=centre, commission=commission, code="TARD", opens_on=START, closes_on=late)


def rows(response) -> dict[str, str]:
    return {f.code: f.campaign_dates for f in response.context["cl"].result_list}


@pytest.mark.parametrize("extra", [0, 5])
def test_the_list_flags_a_window_outside_the_campaign_in_words(
    client, django_assert_num_queries, centre_manager, formations, centre, commission, extra
):
    CampaignFactory(is_active=True, starts_on=START, ends_on=END)
    for number in range(extra):
        FormationFactory(
            centre=centre,
            commission=commission,
            code=f"X{number}",
            opens_on=START,
            closes_on=END,
            return_deadline=END,
            confirmation_date=END,
        )
    client.force_login(centre_manager)

    with django_assert_num_queries(11):  # as before the flag: it is part of the list's query
        response = client.get(reverse("admin:offers_formation_changelist"))

    assert rows(response)["TARD"] == "outside"
    assert rows(response)["DEDANS"] == "ok"
    html = response.content.decode()
    assert html.count("Hors campagne") == 2  # the flag of TARD, and the filter's choice
    assert 'data-label="Campagne" class="field-campaign_dates_flag">Hors campagne</td>' in html
    assert 'data-label="Campagne" class="field-campaign_dates_flag">-</td>' in html  # DEDANS: nothing to say


def test_without_an_active_campaign_every_formation_says_so(client, centre_manager, formations):
    client.force_login(centre_manager)

    response = client.get(reverse("admin:offers_formation_changelist"))

    assert set(rows(response).values()) == {"no-campaign"}
    assert response.content.decode().count("Aucune campagne active") == 3  # two rows and the filter's choice


@pytest.mark.parametrize(
    ("value", "codes"), [("outside", ["TARD"]), ("ok", ["DEDANS"]), ("nonsense", ["DEDANS", "TARD"])]
)
def test_the_filter(client, centre_manager, formations, value, codes):
    CampaignFactory(is_active=True, starts_on=START, ends_on=END)
    client.force_login(centre_manager)

    response = client.get(reverse("admin:offers_formation_changelist") + f"?campaign_dates={value}")

    assert response.status_code == 200
    assert sorted(rows(response)) == codes


def test_the_filter_keeps_to_the_managers_formations(client, other_centre_manager, formations):
    CampaignFactory(is_active=True, starts_on=START, ends_on=END)
    client.force_login(other_centre_manager)

    response = client.get(reverse("admin:offers_formation_changelist") + "?campaign_dates=outside")

    assert rows(response) == {}
