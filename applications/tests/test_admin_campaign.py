"""« Campagnes » in the back office, as the scolarité prepares the next year (ecandidat-features §2.8, "Rollover"):
the next campaign opens after the active one and only one waits; the active one gets its archiving date once the
next one exists; « Active » is the nightly batch's; an archived campaign is read only (its archiving date sets when
its data are destroyed)."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from accounts.tests.factories import CandidateUserFactory, UserFactory
from applications.tests.factories_candidature import DocumentFactory
from applications.tests.helpers import english_date
from offers.models import Campaign
from offers.services import campaign_rollover_errors
from offers.tests.factories import CampaignFactory

ADD = reverse("admin:offers_campaign_add")
FRENCH = {"language": "fr"}


def change(campaign):
    return reverse("admin:offers_campaign_change", args=[campaign.pk])


@pytest.fixture
def scolarite(client, db):
    """The demo's « admin » (Scolarité centrale, superuser): the campaigns page is the superusers'."""
    client.force_login(UserFactory(is_staff=True, is_superuser=True, username="scolarite"))
    return client


@pytest.fixture
def running(db):
    """The 2026 campaign, running."""
    today = timezone.localdate()
    return CampaignFactory(
        code="2026",
        is_active=True,
        starts_on=today - datetime.timedelta(days=90),
        ends_on=today + datetime.timedelta(days=180),
    )


def _next_campaign(running):
    starts = running.starts_on + datetime.timedelta(days=365)
    return CampaignFactory(code="2027", starts_on=starts, ends_on=starts + datetime.timedelta(days=270))


def _form(campaign=None, **fields):
    data = {"code": "2027", "label": "Campagne 2027", "starts_on": "", "ends_on": "", "archive_on": ""}
    if campaign is not None:
        data |= {
            "code": campaign.code,
            "label": campaign.label,
            "starts_on": campaign.starts_on.isoformat(),
            "ends_on": campaign.ends_on.isoformat(),
            "archive_on": campaign.archive_on.isoformat() if campaign.archive_on else "",
        }
    return data | {
        key: value.isoformat() if isinstance(value, datetime.date) else value for key, value in fields.items()
    }


def test_the_next_campaign_is_created_beside_the_running_one(scolarite, running, django_assert_num_queries):
    starts = running.starts_on + datetime.timedelta(days=365)
    data = _form(starts_on=starts, ends_on=starts + datetime.timedelta(days=270), is_active="on")

    response = scolarite.post(ADD, data, **FRENCH)

    assert response.status_code == 302
    following = Campaign.objects.get(code="2027")
    assert not following.is_active  # « Active » is not the form's once a campaign runs: the batch activates it
    assert running.__class__.objects.get(pk=running.pk).is_active


def test_the_next_campaign_opening_before_the_running_one_is_refused(scolarite, running):
    data = _form(starts_on=running.starts_on, ends_on=running.ends_on)

    response = scolarite.post(ADD, data, **FRENCH)

    assert response.status_code == 200
    assert "La campagne suivante ouvre après la campagne active" in response.content.decode().replace("&#x27;", "'")
    assert not Campaign.objects.filter(code="2027").exists()


def test_a_closing_date_before_the_opening_date_is_refused_beside_the_closing_date(scolarite, running):
    """Regression: only the database constraint refused it, its message at the top of the form."""
    starts = running.starts_on + datetime.timedelta(days=365)

    response = scolarite.post(ADD, _form(starts_on=starts, ends_on=starts - datetime.timedelta(days=1)), **FRENCH)

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors == {"ends_on": ["La date de fin ne peut pas précéder la date d'ouverture."]}
    assert not Campaign.objects.filter(code="2027").exists()


def test_a_second_campaign_awaiting_activation_is_refused(scolarite, running):
    starts = running.starts_on + datetime.timedelta(days=365)
    CampaignFactory(code="2027", starts_on=starts, ends_on=starts + datetime.timedelta(days=200))

    response = scolarite.post(ADD, _form(code="2027B", starts_on=starts, ends_on=starts), **FRENCH)

    assert response.status_code == 200
    assert "La campagne 2027 attend déjà son activation" in response.content.decode()
    assert not Campaign.objects.filter(code="2027B").exists()


def test_the_archiving_date_needs_the_next_campaign(scolarite, running, django_assert_num_queries):
    today = timezone.localdate()

    refused = scolarite.post(change(running), _form(running, ends_on=today, archive_on=today), **FRENCH)

    assert refused.status_code == 200
    assert "Créez d'abord la campagne suivante" in refused.content.decode().replace("&#x27;", "'")
    running.refresh_from_db()
    assert running.archive_on is None
    _next_campaign(running)
    accepted = scolarite.post(change(running), _form(running, ends_on=today, archive_on=today), **FRENCH)
    assert accepted.status_code == 302
    running.refresh_from_db()
    assert running.archive_on == today


def test_a_past_archiving_date_of_the_running_campaign_is_refused_beside_the_field(scolarite, running):
    """A past date had the nightly archiving archive the running campaign that very night, close every candidate
    account and, the date more than ``ARCHIVE_RETENTION_DAYS`` back, destroy its data in the same run."""
    following = _next_campaign(running)
    past = timezone.localdate() - datetime.timedelta(days=400)

    response = scolarite.post(change(running), _form(running, archive_on=past), language="en")

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["archive_on"]
    assertContains(
        response,
        '<ul class="errorlist" id="id_archive_on_error"><li>The archiving date of the active campaign cannot be in '
        f"the past ({english_date(timezone.localdate())} at the earliest)",
        html=False,
    )
    running.refresh_from_db()
    assert running.archive_on is None
    call_command("archive_campaigns", stdout=io.StringIO())
    running.refresh_from_db()
    following.refresh_from_db()
    assert (running.is_active, following.is_active) == (True, False)  # the night archived nothing


def test_the_running_campaigns_archiving_date_is_compared_with_the_paris_date(scolarite, time_machine):
    """At 0:30 in Paris the UTC date is still the day before: that day is already past for the nightly archiving."""
    time_machine.move_to(datetime.datetime(2026, 7, 1, 22, 30, tzinfo=datetime.UTC), tick=False)
    running = CampaignFactory(
        code="2026", is_active=True, starts_on=datetime.date(2026, 1, 5), ends_on=datetime.date(2026, 7, 2)
    )
    _next_campaign(running)

    refused = scolarite.post(change(running), _form(running, archive_on=datetime.date(2026, 7, 1)), language="en")
    accepted = scolarite.post(change(running), _form(running, archive_on=datetime.date(2026, 7, 2)), language="en")

    assert refused.status_code == 200
    assertContains(refused, "(2 Jul 2026 at the earliest)")
    assert accepted.status_code == 302
    running.refresh_from_db()
    assert running.archive_on == datetime.date(2026, 7, 2)


def test_the_first_campaign_ticked_active_does_not_take_a_past_archiving_date(scolarite):
    today = timezone.localdate()
    data = _form(
        starts_on=today - datetime.timedelta(days=30),
        ends_on=today + datetime.timedelta(days=200),
        archive_on=today - datetime.timedelta(days=1),
        is_active="on",
    )

    response = scolarite.post(ADD, data, language="en")

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["archive_on"]
    assert not Campaign.objects.exists()


def test_the_rollover_rules_refuse_a_past_archiving_date_on_either_campaign(running):
    today = timezone.localdate()
    following = _next_campaign(running)
    yesterday = today - datetime.timedelta(days=1)

    assert list(campaign_rollover_errors(running, starts_on=running.starts_on, archive_on=yesterday, today=today)) == [
        "archive_on"
    ]
    assert campaign_rollover_errors(running, starts_on=running.starts_on, archive_on=today, today=today) == {}
    # The next campaign's too: a past one made it read as archived (test_campaign_archive_date.py).
    assert list(
        campaign_rollover_errors(following, starts_on=following.starts_on, archive_on=yesterday, today=today)
    ) == ["archive_on"]


def test_the_code_of_a_campaign_with_accounts_is_read_only(scolarite, running):
    """Its candidates' pieces are stored under "2026/" and found by that code (the nightly rescan, the orphan sweep,
    the destruction): renamed, they would be stranded."""
    CandidateUserFactory(campaign=running)

    page = scolarite.get(change(running), **FRENCH)
    posted = scolarite.post(change(running), _form(running, code="2026B", label="Campagne 2026-2027"), **FRENCH)

    assert 'name="code"' not in page.content.decode()
    assert posted.status_code == 302
    running.refresh_from_db()
    assert (running.code, running.label) == ("2026", "Campagne 2026-2027")  # the rest of the form is saved


def test_the_code_of_a_campaign_whose_pieces_are_stored_is_read_only(scolarite, running):
    following = _next_campaign(running)
    DocumentFactory(campaign_code=following.code, uploaded_by=CandidateUserFactory(campaign=running))

    posted = scolarite.post(change(following), _form(following, code="2027B"), **FRENCH)

    assert posted.status_code == 302
    following.refresh_from_db()
    assert following.code == "2027"


def test_the_code_of_an_empty_campaign_can_change(scolarite, running):
    following = _next_campaign(running)
    CandidateUserFactory(campaign=running)  # the running campaign's accounts do not freeze the next one's code

    page = scolarite.get(change(following), **FRENCH)
    posted = scolarite.post(change(following), _form(following, code="2027B"), **FRENCH)

    assert 'name="code"' in page.content.decode()
    assert posted.status_code == 302
    following.refresh_from_db()
    assert following.code == "2027B"


def test_the_archived_campaign_is_read_only(scolarite, running, django_assert_num_queries):
    today = timezone.localdate()
    following = _next_campaign(running)
    running.archive_on = today
    running.save()
    call_command("archive_campaigns", stdout=io.StringIO())
    following.refresh_from_db()
    assert following.is_active

    with django_assert_num_queries(7):  # savepoint, session, user, campaign, log entries… release
        page = scolarite.get(change(running), **FRENCH)
    posted = scolarite.post(change(running), _form(running, archive_on=today - datetime.timedelta(days=900)))

    assert page.status_code == 200
    assert 'name="archive_on"' not in page.content.decode()  # read, not changed
    assert posted.status_code == 403
    running.refresh_from_db()
    assert running.archive_on == today  # its destruction date did not move
    assert (
        scolarite.post(reverse("admin:offers_campaign_delete", args=[running.pk]), {"post": "yes"}).status_code == 403
    )
