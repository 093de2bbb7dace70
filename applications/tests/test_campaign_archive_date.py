"""The archiving date of a campaign that is not active (ecandidat-features §2.8, « Rollover »): the nightly archiving
archives the active campaign on its date and activates the next one, which is archived by its own rollover, later.
So the next campaign's archiving date is empty or after today and after the active one's: a past date made it read
as archived at once (read only, never deleted) and the batch then refused the rollover (« no next campaign »)."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from applications.services import nightly
from ecandidat.batches import Report
from offers.models import Campaign
from offers.services import campaign_rollover_errors
from offers.tests.factories import CampaignFactory

ADD = reverse("admin:offers_campaign_add")
DAY = datetime.timedelta(days=1)


def change(campaign):
    return reverse("admin:offers_campaign_change", args=[campaign.pk])


@pytest.fixture
def scolarite(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True, username="scolarite"))
    return client


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def running(db, today):
    return CampaignFactory(
        code="2026", is_active=True, starts_on=today - datetime.timedelta(days=90), ends_on=today + 180 * DAY
    )


def _next_form(running, **fields):
    starts = running.starts_on + 365 * DAY
    data = {
        "code": "2027",
        "label": "Campagne 2027",
        "starts_on": starts.isoformat(),
        "ends_on": (starts + 270 * DAY).isoformat(),
        "archive_on": "",
    }
    return data | {
        key: value.isoformat() if isinstance(value, datetime.date) else value for key, value in fields.items()
    }


def _next_campaign(running, **fields):
    starts = running.starts_on + 365 * DAY
    return CampaignFactory(code="2027", starts_on=starts, ends_on=starts + 270 * DAY, **fields)


def test_the_next_campaign_is_refused_a_past_archiving_date_beside_the_field(
    scolarite, running, today, django_assert_num_queries
):
    # The admin's own (session, user, savepoints, « Active » read-only checks, code, constraint, content type…); the
    # rules read the active campaign and the one waiting, as before: the archiving date's check reads nothing more.
    with django_assert_num_queries(18):
        response = scolarite.post(ADD, _next_form(running, archive_on=today - DAY), language="en")

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert list(form.errors) == ["archive_on"]
    assert "is archived after the active one" in form.errors["archive_on"][0]
    assert (
        today.strftime("%m/%d/%Y") in form.errors["archive_on"][0] or str(today.year) in form.errors["archive_on"][0]
    )
    assert not Campaign.objects.filter(code="2027").exists()


def test_the_next_campaign_is_refused_today_or_a_date_not_after_the_active_one_s(running, today):
    Campaign.objects.filter(pk=running.pk).update(archive_on=today + 30 * DAY)
    running.refresh_from_db()
    following = Campaign(code="2027", starts_on=running.starts_on + 365 * DAY)

    def errors(archive_on):
        return campaign_rollover_errors(following, starts_on=following.starts_on, archive_on=archive_on, today=today)

    assert list(errors(today)) == ["archive_on"]  # read as archived this very night
    assert list(errors(today + 30 * DAY)) == ["archive_on"]  # gone by when the rollover looks for it
    assert errors(today + 31 * DAY) == {}
    assert errors(None) == {}  # set next year, once it is the active one


def test_the_next_campaign_with_a_later_archiving_date_is_saved_and_activated_by_the_rollover(
    scolarite, running, today
):
    archive_on = today + 545 * DAY  # the next campaign's own closing date (never archived before it)

    response = scolarite.post(ADD, _next_form(running, archive_on=archive_on), language="en")

    assert response.status_code == 302
    following = Campaign.objects.get(code="2027")
    assert not following.is_archived_on(today)
    Campaign.objects.filter(pk=running.pk).update(archive_on=today)
    report = Report()
    nightly.archive_campaigns(report, dry_run=False, limit=None, today=today)
    assert report.counts["campaigns archived"] == 1
    assert Campaign.objects.get(is_active=True) == following


def test_the_active_campaign_is_refused_an_archiving_date_on_or_after_the_next_one_s(scolarite, running, today):
    _next_campaign(running, archive_on=today + 10 * DAY)
    data = {
        "code": running.code,
        "label": running.label,
        "starts_on": running.starts_on.isoformat(),
        "ends_on": (today + 9 * DAY).isoformat(),  # an archiving date is never before it
    }

    refused = scolarite.post(change(running), data | {"archive_on": (today + 10 * DAY).isoformat()}, language="en")
    accepted = scolarite.post(change(running), data | {"archive_on": (today + 9 * DAY).isoformat()}, language="en")

    assert refused.status_code == 200
    assert list(refused.context["adminform"].form.errors) == ["archive_on"]
    assert "The next campaign, 2027, is archived on" in refused.context["adminform"].form.errors["archive_on"][0]
    assert accepted.status_code == 302
    running.refresh_from_db()
    assert running.archive_on == today + 9 * DAY


@pytest.mark.parametrize("code", ["../2027", "a/b", "20 27", "C\U0001f39327", ".2027", "..", "2027\\x"])
def test_a_campaign_code_that_is_not_a_folder_name_is_refused_beside_the_field(
    scolarite, running, code, django_assert_num_queries
):
    # The code is the first folder of the campaign's stored pieces (<code>/<uuid>.pdf): « ../2027 » was saved, and
    # every upload of that campaign was then a storage error (path traversal), Django's bare 400 page.
    with django_assert_num_queries(17):  # as the other refusals of this form (the rules still read the campaigns)
        response = scolarite.post(ADD, _next_form(running, code=code), language="fr")

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["code"] == ["Lettres, chiffres, « - », « _ » et « . » uniquement, sans « . » au début."]
    assert not Campaign.objects.filter(code=code).exists()


def test_a_campaign_code_with_a_dot_or_a_dash_inside_is_saved(scolarite, running):
    response = scolarite.post(ADD, _next_form(running, code="PER-2027.A_1"), language="fr")

    assert response.status_code == 302
    assert Campaign.objects.filter(code="PER-2027.A_1").exists()
