"""The nightly archiving refuses when the next campaign closed for candidates already (``archive_campaigns``):
activated at 23:00 on or after its closing date, it would give them nothing. The campaign form refuses such dates
(``offers.services.campaign_rollover_errors``), but a date changed by ``update()``, an older database or the admin
before that check can still hold one: an error in the batch history, nothing changed, in the dry run too."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone
from django.utils.formats import date_format

from accounts.models import User
from applications.models import Application
from applications.services import nightly
from applications.tests.factories_candidature import make_application
from ecandidat.batches import Report
from ecandidat.models import BatchRun
from offers.models import Campaign
from offers.tests.factories import CampaignFactory, FormationFactory

DAY = datetime.timedelta(days=1)


@pytest.fixture
def rollover_night(campaign, centre, commission):
    """The archiving date is today; the next campaign waits; one application of the active campaign."""
    today = timezone.localdate()
    Campaign.objects.filter(pk=campaign.pk).update(archive_on=today)
    following = CampaignFactory(starts_on=campaign.starts_on + 365 * DAY, ends_on=campaign.ends_on + 365 * DAY)
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    return campaign, following, application


def _close_yesterday(following):
    """Its dates moved by ``update()``, past the form's check: opened after the active campaign, closed yesterday
    (``campaign_dates_ordered`` wants it to open on or before it closes)."""
    today = timezone.localdate()
    Campaign.objects.filter(pk=following.pk).update(starts_on=today - 30 * DAY, ends_on=today - DAY)


def _run(*, dry_run=False):
    report = Report()
    nightly.archive_campaigns(report, dry_run=dry_run, limit=None, today=timezone.localdate())
    return report


def _unchanged(campaign, following, application):
    assert Campaign.objects.get(is_active=True) == campaign
    following.refresh_from_db()
    assert not following.is_active
    campaign.refresh_from_db()
    assert campaign.archive_on == timezone.localdate()
    assert User.objects.filter(campaign=campaign, is_active=True).exists()  # its accounts still open
    application.refresh_from_db()
    assert application.dates_frozen_on is None
    assert application.return_deadline_override is None


def _expected_error(campaign, following, yesterday):
    return (
        f"campaign {campaign.code}: the next campaign, {following.code}, closed for candidates on "
        f"{date_format(yesterday, 'SHORT_DATE_FORMAT')}; activated, it would be closed already. Nothing archived: "
        "correct the dates on “Campaigns”."
    )


def test_next_campaign_closed_yesterday_archives_nothing_and_says_why(rollover_night):
    campaign, following, application = rollover_night
    yesterday = timezone.localdate() - DAY
    _close_yesterday(following)

    report = _run()

    assert report.errors == [_expected_error(campaign, following, yesterday)]
    assert report.counts == {}
    _unchanged(campaign, following, application)


def test_next_campaign_closed_yesterday_dry_run_reports_it_too(rollover_night):
    campaign, following, application = rollover_night
    yesterday = timezone.localdate() - DAY
    _close_yesterday(following)

    report = _run(dry_run=True)

    assert report.errors == [_expected_error(campaign, following, yesterday)]
    assert report.counts == {}  # not "campaigns to archive"
    _unchanged(campaign, following, application)


def test_next_campaign_closed_yesterday_in_the_batch_history(rollover_night):
    campaign, following, application = rollover_night
    yesterday = timezone.localdate() - DAY
    _close_yesterday(following)

    stderr = io.StringIO()
    call_command("archive_campaigns", stdout=io.StringIO(), stderr=stderr)

    run = BatchRun.objects.get(name="archive_campaigns")
    assert run.status == BatchRun.Status.ERROR
    assert run.errors == _expected_error(campaign, following, yesterday)
    assert run.counts == {}
    assert _expected_error(campaign, following, yesterday) in stderr.getvalue()
    _unchanged(campaign, following, application)


def test_next_campaign_closing_later_is_still_activated(rollover_night):
    campaign, following, application = rollover_night

    report = _run()

    assert report.errors == []
    assert report.counts["campaigns archived"] == 1
    assert Campaign.objects.get(is_active=True) == following
    assert not User.objects.filter(campaign=campaign, is_active=True).exists()
    assert Application.objects.get(pk=application.pk).dates_frozen_on == timezone.localdate()
