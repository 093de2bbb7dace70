"""A confirmation counted in days from the decision (the formation's délai, and its délai after a promotion from the
complementary list) is compared with the campaign's closing date for candidates too: flagged « outside the
campaign » when even the decisions given on the day the formation announces them (its publication, else its jury,
else the end of its window) would get a date de confirmation after that date, when the candidate can no longer log
in to confirm (``FormationQuerySet.with_campaign_dates``)."""

import datetime

import pytest
from django.urls import reverse

from offers.models import CAMPAIGN_DATES_OK, CAMPAIGN_DATES_OUTSIDE, Formation
from offers.tests.factories import CampaignFactory, FormationFactory

pytestmark = pytest.mark.django_db

START, END = datetime.date(2027, 1, 15), datetime.date(2027, 6, 30)
WINDOW_ENDS = END - datetime.timedelta(days=30)  # 31 May: the window, its return deadline, within the campaign


def days_before_end(days: int) -> datetime.date:
    return END - datetime.timedelta(days=days)


def formation(code: str, **dates) -> None:
    """Candidates transmit and send their pieces within the campaign; no date de confirmation but ``dates``'."""
    FormationFactory(
        code=code,
        opens_on=START,
        closes_on=WINDOW_ENDS,
        return_deadline=WINDOW_ENDS,
        confirmation_date=None,
        **dates,
    )


def flags() -> dict[str, str]:
    return dict(Formation.objects.with_campaign_dates().values_list("code", "campaign_dates"))


@pytest.fixture
def campaign():
    return CampaignFactory(is_active=True, starts_on=START, ends_on=END)


@pytest.mark.parametrize("delay", ["confirmation_delay_days", "waiting_list_confirmation_delay_days"])
def test_a_delay_counted_from_the_day_the_decisions_are_announced(campaign, delay, django_assert_num_queries):
    # From the publication: 10 days before the end plus 10 is the closing day itself, plus 11 the day after.
    formation("PUB_ON_THE_DAY", publication_on=days_before_end(10), **{delay: 10})
    formation("PUB_AFTER", publication_on=days_before_end(10), **{delay: 11})
    # The publication, not the earlier jury: 20 + 15 days would be within the campaign, 10 + 15 is not.
    formation("PUB_NOT_JURY", jury_on=days_before_end(20), publication_on=days_before_end(10), **{delay: 15})
    # No publication date: from the jury.
    formation("JURY_ON_THE_DAY", jury_on=days_before_end(5), **{delay: 5})
    formation("JURY_AFTER", jury_on=days_before_end(5), **{delay: 6})
    # Neither: from the end of the window (no decision before the dossiers are in).
    formation("WINDOW_ON_THE_DAY", **{delay: 30})
    formation("WINDOW_AFTER", **{delay: 31})
    formation("NO_DELAY", publication_on=days_before_end(10))  # nothing counted in days: nothing to compare

    with django_assert_num_queries(1):
        assert flags() == {
            "PUB_ON_THE_DAY": CAMPAIGN_DATES_OK,
            "PUB_AFTER": CAMPAIGN_DATES_OUTSIDE,
            "PUB_NOT_JURY": CAMPAIGN_DATES_OUTSIDE,
            "JURY_ON_THE_DAY": CAMPAIGN_DATES_OK,
            "JURY_AFTER": CAMPAIGN_DATES_OUTSIDE,
            "WINDOW_ON_THE_DAY": CAMPAIGN_DATES_OK,
            "WINDOW_AFTER": CAMPAIGN_DATES_OUTSIDE,
            "NO_DELAY": CAMPAIGN_DATES_OK,
        }
    assert sorted(Formation.objects.outside_campaign().values_list("code", flat=True)) == [
        "JURY_AFTER",
        "PUB_AFTER",
        "PUB_NOT_JURY",
        "WINDOW_AFTER",
    ]


def test_a_delay_across_a_month_and_a_year(django_assert_num_queries):
    """The days are counted on the calendar (31 December + 2 is 2 January), in the database as in Python."""
    CampaignFactory(is_active=True, starts_on=datetime.date(2026, 11, 1), ends_on=datetime.date(2027, 1, 2))
    for code, delay in (("ON_THE_DAY", 2), ("AFTER", 3)):
        FormationFactory(
            code=code,
            opens_on=datetime.date(2026, 11, 1),
            closes_on=datetime.date(2026, 12, 15),
            return_deadline=datetime.date(2026, 12, 15),
            confirmation_date=None,
            publication_on=datetime.date(2026, 12, 31),
            confirmation_delay_days=delay,
        )

    assert flags() == {"ON_THE_DAY": CAMPAIGN_DATES_OK, "AFTER": CAMPAIGN_DATES_OUTSIDE}


def test_the_formations_list_flags_a_delay_in_the_same_query(
    client, django_assert_num_queries, campaign, centre_manager, centre, commission
):
    FormationFactory(
        centre=centre,
        commission=commission,
        code="DEDANS",
        opens_on=START,
        closes_on=END,
        return_deadline=END,
        confirmation_date=END,
    )
    for code, delay in (("DELAI_DEDANS", 10), ("DELAI_APRES", 11)):
        FormationFactory(
            centre=centre,
            commission=commission,
            code=code,
            opens_on=START,
            closes_on=WINDOW_ENDS,
            return_deadline=WINDOW_ENDS,
            confirmation_date=None,
            publication_on=days_before_end(10),
            confirmation_delay_days=delay,
        )
    client.force_login(centre_manager)

    # As applications/tests/test_admin_formation_flags.py counts the list without delays: the flag, delays
    # included, is part of the list's query.
    with django_assert_num_queries(11):
        response = client.get(reverse("admin:offers_formation_changelist"))

    assert {f.code: f.campaign_dates for f in response.context["cl"].result_list} == {
        "DEDANS": CAMPAIGN_DATES_OK,
        "DELAI_DEDANS": CAMPAIGN_DATES_OK,
        "DELAI_APRES": CAMPAIGN_DATES_OUTSIDE,
    }
    assert response.content.decode().count("Hors campagne") == 2  # DELAI_APRES's flag, the filter's choice
