"""« Campagnes »: the active campaign's archiving date comes before the next campaign's opening date, and the next
campaign closes after it (ecandidat-features §2.8, docs/campaign-rollover.md step 2). The nightly archiving (23:00)
activates the next campaign the night of that date without reading its dates: one wrong year (30/09/2028 for
30/09/2027) was saved, every new candidate of the next campaign was then told « La campagne est close pour les
candidats » from its opening, and a year later it was activated already closed. Refused beside the field, whichever
of the two campaigns is edited."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from offers.models import Campaign
from offers.services import campaign_rollover_errors
from offers.tests.factories import CampaignFactory

ADD = reverse("admin:offers_campaign_add")
DAY = datetime.timedelta(days=1)
YEAR = 365 * DAY


def change(campaign):
    return reverse("admin:offers_campaign_change", args=[campaign.pk])


def _french(day):
    return day.strftime("%d/%m/%Y")


def _form(campaign, **fields):
    data = {
        "code": campaign.code,
        "label": campaign.label,
        "starts_on": campaign.starts_on,
        "ends_on": campaign.ends_on,
        "archive_on": campaign.archive_on or "",
    } | fields
    return {key: value.isoformat() if isinstance(value, datetime.date) else value for key, value in data.items()}


def _opens_refusal(waiting, latest):
    return (
        f"La campagne suivante, {waiting.code}, ouvre aux candidats le {_french(waiting.starts_on)} : l'archivage de "
        f"nuit l'active le soir de cette date, indiquez donc au plus tard le {_french(latest)}. Sinon ses candidats "
        "liraient que la campagne est close jusque-là."
    )


def _closes_refusal(waiting):
    return (
        f"La campagne suivante, {waiting.code}, se termine pour les candidats le {_french(waiting.ends_on)} : "
        "l'archivage de nuit l'activerait le soir de cette date, déjà close. Indiquez une date antérieure à son "
        "ouverture, ou modifiez d'abord ses dates."
    )


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def running(db, today):
    """The active campaign (08/09/2026–05/06/2027 in the reviewer's example)."""
    return CampaignFactory(code="2026", is_active=True, starts_on=today - 90 * DAY, ends_on=today + 180 * DAY)


@pytest.fixture
def waiting(running):
    """The next campaign, awaiting activation, a year later (08/09/2027–05/06/2028)."""
    return CampaignFactory(code="2027", starts_on=running.starts_on + YEAR, ends_on=running.ends_on + YEAR)


def _saved_nothing(running, waiting):
    running.refresh_from_db()
    waiting.refresh_from_db()
    assert running.archive_on is None
    assert running.is_active
    assert not waiting.is_active


def test_an_archiving_date_a_year_late_is_refused_beside_the_field(admin_client, running, waiting):
    """The example: 30/09/2028 typed for 30/09/2027, after the next campaign's closing date (it was saved)."""
    typed = waiting.starts_on + 22 * DAY + YEAR

    response = admin_client.post(change(running), _form(running, archive_on=typed), language="fr")

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"archive_on": [_closes_refusal(waiting)]}
    assertContains(response, '<ul class="errorlist" id="id_archive_on_error"><li>La campagne suivante, 2027, se')
    _saved_nothing(running, waiting)


@pytest.mark.parametrize("after_opening", [0, 1, 22])
def test_an_archiving_date_on_or_after_the_next_opening_is_refused(admin_client, running, waiting, after_opening):
    """Its opening day too: the batch runs at 23:00, its candidates would be refused that whole day."""
    typed = waiting.starts_on + after_opening * DAY

    response = admin_client.post(change(running), _form(running, archive_on=typed), language="fr")

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {"archive_on": [_opens_refusal(waiting, waiting.starts_on - DAY)]}
    _saved_nothing(running, waiting)


def test_the_day_before_the_next_opening_is_accepted(admin_client, running, waiting):
    response = admin_client.post(change(running), _form(running, archive_on=waiting.starts_on - DAY), language="fr")

    assert response.status_code == 302
    running.refresh_from_db()
    assert running.archive_on == waiting.starts_on - DAY


def test_a_next_campaign_opened_already_may_still_be_activated_tonight(db, today):
    """A late rollover: the next campaign opened already; today, the earliest night, is accepted, no later one."""
    running = CampaignFactory(code="2026", is_active=True, starts_on=today - 300 * DAY, ends_on=today - 20 * DAY)
    waiting = CampaignFactory(code="2027", starts_on=today - 5 * DAY, ends_on=today + 200 * DAY)

    def errors(archive_on):
        return campaign_rollover_errors(
            running, starts_on=running.starts_on, archive_on=archive_on, today=today, ends_on=running.ends_on
        )

    assert errors(today) == {}
    assert errors(today + DAY) == {"archive_on": _opens_refusal(waiting, today)}


def test_the_next_campaign_cannot_open_or_close_by_the_running_one_s_archiving_night(admin_client, running, waiting):
    archive_on = waiting.starts_on - DAY
    Campaign.objects.filter(pk=running.pk).update(archive_on=archive_on)

    response = admin_client.post(
        change(waiting), _form(waiting, starts_on=archive_on - 10 * DAY, ends_on=archive_on), language="fr"
    )

    assert response.status_code == 200
    said = (
        f"La campagne active, 2026, est archivée le {_french(archive_on)} : l'archivage de nuit active cette campagne "
        "le soir de cette date, elle doit donc"
    )
    assert response.context["adminform"].form.errors == {
        "starts_on": [f"{said} ouvrir après. Sinon ses candidats liraient que la campagne est close jusque-là."],
        "ends_on": [f"{said} se terminer après, sinon elle serait activée déjà close pour les candidats."],
    }
    assertContains(response, '<ul class="errorlist" id="id_starts_on_error"><li>La campagne active, 2026')
    waiting.refresh_from_db()
    assert waiting.starts_on == archive_on + DAY  # nothing saved


def test_the_next_campaign_opening_on_the_archiving_date_is_refused_the_day_after_accepted(admin_client, running):
    archive_on = running.ends_on
    Campaign.objects.filter(pk=running.pk).update(archive_on=archive_on)
    data = {"code": "2027", "label": "Campagne 2027", "ends_on": archive_on + 270 * DAY}

    refused = admin_client.post(ADD, _form(Campaign(**data, starts_on=archive_on)), language="fr")
    accepted = admin_client.post(ADD, _form(Campaign(**data, starts_on=archive_on + DAY)), language="fr")

    assert refused.status_code == 200
    assert list(refused.context["adminform"].form.errors) == ["starts_on"]
    assert accepted.status_code == 302
    assert Campaign.objects.get(code="2027").starts_on == archive_on + DAY
