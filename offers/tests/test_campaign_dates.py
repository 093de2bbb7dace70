"""The formations whose application window is outside the active campaign's dates (eCandidat's yellow and blue rows of
the formations list, ecandidat-features §2.8)."""

import datetime

import pytest

from offers.models import CAMPAIGN_DATES_NO_CAMPAIGN, CAMPAIGN_DATES_OK, CAMPAIGN_DATES_OUTSIDE, Formation
from offers.tests.factories import CampaignFactory, FormationFactory

pytestmark = pytest.mark.django_db

START, END = datetime.date(2027, 1, 15), datetime.date(2027, 6, 30)


def window(code: str, opens: datetime.date, closes: datetime.date, **dates: datetime.date) -> None:
    """A formation whose candidates act until ``closes`` (return deadline and confirmation that day), or ``dates``."""
    FormationFactory(
        code=code,
        opens_on=opens,
        closes_on=closes,
        **{"return_deadline": closes, "confirmation_date": closes, **dates},
    )


@pytest.fixture
def formations():
    window("EXACT", START, END)  # the campaign's own dates: within
    window("EARLY", START - datetime.timedelta(days=1), END)
    window("LATE", START, END + datetime.timedelta(days=1))
    window("INSIDE", START + datetime.timedelta(days=10), END - datetime.timedelta(days=10))


def flags() -> dict[str, str]:
    return dict(Formation.objects.with_campaign_dates().values_list("code", "campaign_dates"))


def test_a_window_opening_before_or_closing_after_the_campaign_is_outside(formations, django_assert_num_queries):
    CampaignFactory(is_active=True, starts_on=START, ends_on=END)
    CampaignFactory(is_active=False, starts_on=START - datetime.timedelta(days=365), ends_on=END)  # not active

    with django_assert_num_queries(1):
        assert flags() == {
            "EXACT": CAMPAIGN_DATES_OK,
            "EARLY": CAMPAIGN_DATES_OUTSIDE,
            "LATE": CAMPAIGN_DATES_OUTSIDE,
            "INSIDE": CAMPAIGN_DATES_OK,
        }
    assert sorted(Formation.objects.outside_campaign().values_list("code", flat=True)) == ["EARLY", "LATE"]


def test_without_an_active_campaign_every_formation_is_flagged(formations):
    CampaignFactory(is_active=False, starts_on=START, ends_on=END)

    assert set(flags().values()) == {CAMPAIGN_DATES_NO_CAMPAIGN}
    assert Formation.objects.outside_campaign().count() == 4


@pytest.mark.parametrize("field", ["return_deadline", "confirmation_date", "waiting_list_confirmation_date"])
def test_a_date_candidates_act_on_after_the_campaigns_closing_date_is_outside(field):
    """After the closing date for candidates they cannot log in: a return deadline or a confirmation date after it
    is out of their reach (and the nightly withdrawal withdraws those who could not confirm)."""
    CampaignFactory(is_active=True, starts_on=START, ends_on=END)
    for code, day in (("ON_THE_DAY", END), ("AFTER", END + datetime.timedelta(days=1))):
        dates = {field: day}
        if field == "return_deadline":
            dates["confirmation_date"] = day  # never before the return deadline (a constraint of the table)
        window(code, START, END - datetime.timedelta(days=10), **dates)

    assert flags() == {"ON_THE_DAY": CAMPAIGN_DATES_OK, "AFTER": CAMPAIGN_DATES_OUTSIDE}
