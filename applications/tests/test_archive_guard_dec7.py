"""``manage.py archive_campaigns`` or ``destroy_archived_campaigns`` run by hand while cron's ``nightly`` works
(docs/campaign-rollover.md): refused, nothing changed. The lock was per batch name only: on the rollover night IT ran
the archiving while the nightly was at ``transfer_opi``, the campaign was archived before its OPIs were written (left
pending for ever: the transfer takes the active campaign's only) and before the expired confirmations were
withdrawn. Run by the nightly, in its turn, they work."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import User
from applications.enums import OpiState
from applications.models import Opi
from applications.tests.factories_candidature import make_application
from ecandidat.management.commands import nightly as nightly_command
from ecandidat.models import BatchRun, DestroyedCampaignCount
from offers.models import Campaign
from offers.tests.factories import CampaignFactory, FormationFactory

DAY = datetime.timedelta(days=1)


@pytest.fixture
def rollover_night(campaign, centre, commission):
    """The archiving date is today; the next campaign waits; one OPI is still to be written by tonight's transfer."""
    today = timezone.localdate()
    Campaign.objects.filter(pk=campaign.pk).update(archive_on=today)
    following = CampaignFactory(starts_on=campaign.starts_on + 365 * DAY, ends_on=campaign.ends_on + 365 * DAY)
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    opi = Opi.objects.create(application=application, code="X1", state=OpiState.PENDING)
    return campaign, following, opi


@pytest.fixture
def archived_long_ago(settings, campaign, centre, commission):
    """A campaign archived beyond ARCHIVE_RETENTION_DAYS: tonight's destruction takes it."""
    settings.ARCHIVE_RETENTION_DAYS = 365
    old = CampaignFactory(archive_on=timezone.localdate() - 400 * DAY)
    make_application(FormationFactory(centre=centre, commission=commission), campaign=old)
    return old


def _nightly_at_transfer_opi():
    BatchRun.objects.create(name="nightly")
    BatchRun.objects.create(name="transfer_opi")


def _call(name):
    call_command(name, stdout=io.StringIO(), stderr=io.StringIO())


def test_archive_campaigns_alone_while_the_nightly_transfers_the_opis_is_refused(rollover_night):
    campaign, following, opi = rollover_night
    _nightly_at_transfer_opi()

    with pytest.raises(CommandError, match=r"^Refused: `manage\.py nightly` is running .* archive_campaigns would"):
        _call("archive_campaigns")

    assert Campaign.objects.get(is_active=True) == campaign  # nothing archived, nothing activated
    assert not Campaign.objects.get(pk=following.pk).is_active
    assert User.objects.filter(campaign=campaign, is_active=True).exists()  # its accounts still open
    opi.refresh_from_db()
    assert opi.state == OpiState.PENDING  # tonight's transfer still takes it
    assert not BatchRun.objects.filter(name="archive_campaigns").exists()


def test_destroy_archived_campaigns_alone_while_the_nightly_runs_is_refused(archived_long_ago):
    _nightly_at_transfer_opi()

    with pytest.raises(CommandError, match=r"^Refused: `manage\.py nightly` is running"):
        _call("destroy_archived_campaigns")

    assert User.objects.filter(campaign=archived_long_ago).exists()
    assert not DestroyedCampaignCount.objects.exists()


def test_run_by_the_nightly_the_archiving_and_the_destruction_work(monkeypatch, rollover_night, archived_long_ago):
    campaign, following, opi = rollover_night
    Opi.objects.filter(pk=opi.pk).update(state=OpiState.PASSED, passed_at=timezone.now())  # by the transfer, before
    monkeypatch.setattr(nightly_command, "BATCHES", ["archive_campaigns", "destroy_archived_campaigns"])

    call_command("nightly", stdout=io.StringIO(), stderr=io.StringIO())

    assert Campaign.objects.get(is_active=True) == following
    assert DestroyedCampaignCount.objects.filter(campaign_code=archived_long_ago.code).exists()
    runs = dict(BatchRun.objects.exclude(name="nightly").values_list("name", "counts"))
    assert runs["archive_campaigns"]["campaigns archived"] == 1


def test_alone_once_the_nightly_has_finished_the_archiving_works(rollover_night):
    campaign, following, _opi = rollover_night
    _nightly_at_transfer_opi()
    BatchRun.objects.update(status=BatchRun.Status.FINISH, finished_at=timezone.now())

    _call("archive_campaigns")

    assert Campaign.objects.get(is_active=True) == following
