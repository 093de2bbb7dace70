"""« Campagnes »: a campaign's archiving date is never before its own closing date for candidates (ecandidat-features
§2.8, « Rollover »). The archiving closes the campaign's candidate accounts, freezes its dates and activates the next
campaign: a date typed too early (01/07 for 01/10) was accepted, and that night the candidates, promised until the
closing date, could no longer log in to transmit or confirm. The same day is accepted: the site closes before the
nightly batch runs."""

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


def change(campaign):
    return reverse("admin:offers_campaign_change", args=[campaign.pk])


def _french(day):
    return day.strftime("%d/%m/%Y")


def _refusal(ends_on):
    return (
        "L'archivage ferme les comptes des candidats : indiquez une date égale ou postérieure à la date de fin "
        f"candidats ({_french(ends_on)})."
    )


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def running(db, today):
    """The active campaign, closing for candidates in three months."""
    return CampaignFactory(code="2026", is_active=True, starts_on=today - 90 * DAY, ends_on=today + 90 * DAY)


@pytest.fixture
def waiting(running):
    """The next campaign, awaiting activation."""
    starts = running.starts_on + 365 * DAY
    return CampaignFactory(code="2027", starts_on=starts, ends_on=starts + 270 * DAY)


def _form(campaign, **fields):
    data = {
        "code": campaign.code,
        "label": campaign.label,
        "starts_on": campaign.starts_on,
        "ends_on": campaign.ends_on,
        "archive_on": campaign.archive_on or "",
    } | fields
    return {key: value.isoformat() if isinstance(value, datetime.date) else value for key, value in data.items()}


def test_an_archiving_date_before_the_closing_date_is_refused_beside_the_field(
    admin_client, running, waiting, today, django_assert_num_queries
):
    # The admin's own (session, user, savepoints, « Active » read-only checks, code in use, constraints, the page's
    # lookups…); the rule compares the submitted dates and reads nothing.
    with django_assert_num_queries(16):
        response = admin_client.post(change(running), _form(running, archive_on=today), language="fr")

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"archive_on": [_refusal(running.ends_on)]}
    assertContains(response, '<ul class="errorlist" id="id_archive_on_error"><li>L&#x27;archivage ferme les comptes')
    running.refresh_from_db()
    waiting.refresh_from_db()
    assert running.archive_on is None  # nothing saved
    assert running.is_active
    assert not waiting.is_active


def test_an_archiving_date_on_the_closing_date_is_accepted(admin_client, running, waiting):
    response = admin_client.post(change(running), _form(running, archive_on=running.ends_on), language="fr")

    assert response.status_code == 302
    running.refresh_from_db()
    assert running.archive_on == running.ends_on


def test_a_closing_date_moved_after_the_archiving_date_is_refused_beside_the_archiving_date(
    admin_client, running, waiting
):
    Campaign.objects.filter(pk=running.pk).update(archive_on=running.ends_on)
    running.refresh_from_db()
    later = running.ends_on + 30 * DAY

    response = admin_client.post(change(running), _form(running, ends_on=later), language="fr")

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"archive_on": [_refusal(later)]}
    running.refresh_from_db()
    assert running.ends_on == later - 30 * DAY  # nothing saved


def test_the_next_campaign_is_refused_an_archiving_date_before_its_own_closing_date(admin_client, running):
    starts = running.starts_on + 365 * DAY
    ends = starts + 270 * DAY
    data = {"code": "2027", "label": "Campagne 2027", "starts_on": starts, "ends_on": ends}

    refused = admin_client.post(ADD, _form(Campaign(**data), archive_on=ends - DAY), language="fr")
    accepted = admin_client.post(ADD, _form(Campaign(**data), archive_on=ends), language="fr")

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors == {"archive_on": [_refusal(ends)]}
    assert accepted.status_code == 302
    assert Campaign.objects.get(code="2027").archive_on == ends


def test_a_past_archiving_date_keeps_its_own_message(running, waiting, today):
    """One message beside the field: the past date's, which says what the batch would do that very night."""
    errors = campaign_rollover_errors(
        running, starts_on=running.starts_on, archive_on=today - DAY, today=today, ends_on=running.ends_on
    )

    assert list(errors) == ["archive_on"]
    assert errors["archive_on"].startswith("La date d'archivage de la campagne active ne peut pas être passée")
