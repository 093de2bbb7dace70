"""« Campagnes », the rollover seen from the active campaign (ecandidat-features §2.8): the nightly archiving activates
the campaign awaiting activation, the first one opening after the active one. The active campaign's opening date was
never compared with the waiting one's (a mistyped year moved it after): saved, the batch then found no next campaign,
archived and activated nothing every night. And « Active » was editable on the add form only: a first campaign saved
without it could never be activated (no signup, no login, no nightly rollover), only deleted and created again."""

import datetime
import io
import json

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from accounts.tests.factories import UserFactory
from applications.services import nightly
from ecandidat.batches import Report
from offers.models import Campaign
from offers.tests.factories import CampaignFactory

ADD = reverse("admin:offers_campaign_add")
DAY = datetime.timedelta(days=1)
FRENCH = {"language": "fr"}


def change(campaign):
    return reverse("admin:offers_campaign_change", args=[campaign.pk])


@pytest.fixture
def scolarite(client, db):
    """The central office (superuser): the campaigns page is theirs."""
    client.force_login(UserFactory(is_staff=True, is_superuser=True, username="scolarite"))
    return client


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def running(db, today):
    return CampaignFactory(code="2026", is_active=True, starts_on=today - 90 * DAY, ends_on=today + 180 * DAY)


@pytest.fixture
def waiting(running):
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


def _french(day):
    return day.strftime("%d/%m/%Y")


@pytest.mark.parametrize("shift", [0, 1, 365])
def test_the_running_campaign_cannot_open_on_or_after_the_waiting_one(scolarite, running, waiting, today, shift):
    moved = waiting.starts_on + shift * DAY  # the same day, the day after, a year later (the mistyped year)

    response = scolarite.post(
        change(running),
        _form(running, starts_on=moved, ends_on=moved + 200 * DAY, archive_on=moved + 200 * DAY),
        **FRENCH,
    )

    assert response.status_code == 200
    message = (
        f"La campagne 2027, en attente d'activation, ouvre le {_french(waiting.starts_on)} : la campagne active doit "
        "ouvrir avant elle, sinon l'archivage de nuit ne l'activerait jamais."
    )
    assert response.context["adminform"].form.errors == {"starts_on": [message]}
    assertContains(response, '<ul class="errorlist" id="id_starts_on_error"><li>La campagne 2027, en attente')
    running.refresh_from_db()
    assert (running.starts_on, running.archive_on) == (today - 90 * DAY, None)  # nothing saved


def test_a_valid_change_of_the_running_campaign_is_saved_and_the_rollover_still_happens(
    scolarite, running, waiting, today
):
    moved = running.starts_on + 30 * DAY  # still before the waiting campaign

    response = scolarite.post(
        change(running), _form(running, starts_on=moved, ends_on=today, archive_on=today), **FRENCH
    )

    assert response.status_code == 302
    running.refresh_from_db()
    assert (running.starts_on, running.archive_on) == (moved, today)
    call_command("archive_campaigns", stdout=io.StringIO())
    assert Campaign.objects.get(is_active=True) == waiting


def test_the_next_campaign_is_looked_for_after_the_submitted_opening_date(scolarite, running, today):
    """The archiving date's « create the next campaign first » read the stored opening date: a campaign left waiting
    before it (opening before the active one, never activated) made the running campaign's archiving date refused
    even as its opening date moved before that campaign's, which the batch then activates."""
    left = CampaignFactory(code="2025B", starts_on=running.starts_on - 10 * DAY, ends_on=running.ends_on)
    moved = left.starts_on - 20 * DAY

    response = scolarite.post(
        change(running), _form(running, starts_on=moved, ends_on=today, archive_on=today), **FRENCH
    )

    assert response.status_code == 302
    report = Report()
    nightly.archive_campaigns(report, dry_run=False, limit=None, today=today)
    assert report.counts["campaigns archived"] == 1
    assert Campaign.objects.get(is_active=True) == left


def test_the_waiting_campaign_cannot_open_on_or_before_the_running_one(scolarite, running, waiting):
    """The symmetric move, refused already (the rules read the submitted date for a campaign that is not active)."""
    response = scolarite.post(change(waiting), _form(waiting, starts_on=running.starts_on), **FRENCH)

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["starts_on"]
    assert "La campagne suivante ouvre après la campagne active" in response.context["adminform"].form.errors[
        "starts_on"
    ][0].replace("&#x27;", "'")
    waiting.refresh_from_db()
    assert waiting.starts_on == running.starts_on + 365 * DAY


def test_a_first_campaign_saved_inactive_is_activated_from_its_change_page(
    scolarite, today, django_assert_num_queries
):
    added = scolarite.post(
        ADD,
        {"code": "2026", "label": "Campagne 2026", "starts_on": today - 10 * DAY, "ends_on": today + 200 * DAY},
        **FRENCH,
    )
    assert added.status_code == 302
    first = Campaign.objects.get(code="2026")
    assert not first.is_active

    ContentType.objects.get_for_model(Campaign)  # cached once per process, read or not before this test
    # Session, user, savepoint, the campaign, its code's use (accounts, pieces), whether a campaign is active (once
    # per request), the maintenance switch, release.
    with django_assert_num_queries(9):
        page = scolarite.get(change(first), **FRENCH)
    posted = scolarite.post(change(first), _form(first, is_active="on"), **FRENCH)

    assertContains(page, 'name="is_active"')
    assert posted.status_code == 302
    first.refresh_from_db()
    assert first.is_active
    assert Campaign.objects.active().get() == first
    # Recorded in the history as the addition is: who made it active.
    entries = LogEntry.objects.filter(object_id=str(first.pk)).order_by("pk")
    assert [entry.action_flag for entry in entries] == [ADDITION, CHANGE]
    assert entries[1].user.username == "scolarite"
    assert json.loads(entries[1].change_message) == [{"changed": {"fields": ["active"]}}]
    # Active now: « Active » is the nightly batch's again on its page.
    assert 'name="is_active"' not in scolarite.get(change(first), **FRENCH).content.decode()


def test_activating_the_first_campaign_puts_its_code_to_the_active_campaign_s_checks(scolarite, today, mocker):
    """The add form asks the code's checks (Pégase's periods) as for the active campaign when « Active » is ticked:
    the change form does too when it makes the campaign active, its code unchanged."""
    first = CampaignFactory(code="2026", starts_on=today - 10 * DAY, ends_on=today + 200 * DAY)
    problems = mocker.patch(
        "offers.admin.campaign_code_problems", return_value=(["« 2026 » n'est pas une période de Pégase."], [])
    )

    posted = scolarite.post(change(first), _form(first, is_active="on"), **FRENCH)

    problems.assert_called_once_with("2026", active=True)
    assert posted.status_code == 200
    assert posted.context["adminform"].form.errors == {"code": ["« 2026 » n'est pas une période de Pégase."]}
    first.refresh_from_db()
    assert not first.is_active


def test_a_campaign_is_not_activated_while_a_waiting_one_opens_before_it(scolarite, today):
    """Two campaigns saved while none was active: the later one made active, the earlier would never be."""
    earlier = CampaignFactory(code="2026", starts_on=today - 10 * DAY, ends_on=today + 200 * DAY)
    later = CampaignFactory(code="2027", starts_on=today + 300 * DAY, ends_on=today + 500 * DAY)

    refused = scolarite.post(change(later), _form(later, is_active="on"), **FRENCH)
    accepted = scolarite.post(change(earlier), _form(earlier, is_active="on"), **FRENCH)

    assert refused.status_code == 200
    assert list(refused.context["adminform"].form.errors) == ["starts_on"]
    assert (
        f"La campagne 2026, en attente d'activation, ouvre le {_french(earlier.starts_on)}"
        in (refused.context["adminform"].form.errors["starts_on"][0])
    )
    assert accepted.status_code == 302
    assert Campaign.objects.active().get() == earlier


def test_with_another_campaign_active_active_stays_read_only(scolarite, running, waiting, django_assert_num_queries):
    ContentType.objects.get_for_model(Campaign)  # cached once per process, read or not before this test
    # Session, user, savepoint, the campaign, its code's use (accounts, pieces), whether a campaign is active (once
    # per request), the maintenance switch, release.
    with django_assert_num_queries(9):
        page = scolarite.get(change(waiting), **FRENCH)
    posted = scolarite.post(change(waiting), _form(waiting, is_active="on", label="Campagne 2027-2028"), **FRENCH)

    assert page.status_code == 200
    assert 'name="is_active"' not in page.content.decode()
    assert posted.status_code == 302
    waiting.refresh_from_db()
    assert (waiting.label, waiting.is_active) == ("Campagne 2027-2028", False)
    assert Campaign.objects.active().get() == running


def test_the_running_campaign_s_page_asks_nothing_more(scolarite, running, django_assert_num_queries):
    ContentType.objects.get_for_model(Campaign)  # cached once per process, read or not before this test
    # Session, user, savepoint, the campaign, its code's use (accounts, pieces), the maintenance switch, release:
    # being active, it does not ask whether another campaign is.
    with django_assert_num_queries(8):
        page = scolarite.get(change(running), **FRENCH)

    assert page.status_code == 200
    assert 'name="is_active"' not in page.content.decode()
    assert 'name="starts_on"' in page.content.decode()
