"""A batch that records a failure without raising fails the nightly sequence too (found by review).

Most batches say what went wrong by ending their own run « en erreur » and return normally (the archiving that has no
next campaign to activate, a directory that does not answer, an application whose mail could not be written).
``manage.py nightly`` counted a batch failed only when it raised, so its record « Batchs de la nuit » ended « terminé »
with no error and the command exited 0, cron mailing nothing, although the README promises the record names the
batches that failed. It now reads the run each batch recorded: one that ended in error is failed, named in the
institution's language by its label and its command, and the later batches still run."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from ecandidat.management.commands import nightly
from ecandidat.models import BatchRun
from offers.models import Campaign
from offers.tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


def test_an_archiving_refused_for_want_of_a_next_campaign_fails_the_nightly_and_the_next_batches_run():
    campaign = CampaignFactory(is_active=True, archive_on=timezone.localdate())  # and no next campaign
    err = io.StringIO()

    with pytest.raises(CommandError, match=r"1 batch\(es\) failed: archive_campaigns\. See the batch history\."):
        call_command("nightly", "--force", stdout=io.StringIO(), stderr=err)

    sequence = BatchRun.objects.get(name="nightly")
    assert sequence.status == BatchRun.Status.ERROR
    assert sequence.errors == "Archivage de campagne (archive_campaigns)"
    assert sequence.counts == {"batches run": len(nightly.BATCHES) - 1}
    # The batch's own run says why, in the institution's language (cron runs it with no language active).
    archive = BatchRun.objects.get(name="archive_campaigns")
    assert archive.status == BatchRun.Status.ERROR
    assert archive.errors == f"campagne {campaign.code} : aucune campagne suivante à activer ; rien n'a été archivé."
    assert "archive_campaigns failed: its run ended in error" in err.getvalue()  # cron's mail, for ops
    # Nothing archived, and the batches after it ran.
    assert Campaign.objects.get(is_active=True) == campaign
    later = nightly.BATCHES[nightly.BATCHES.index("archive_campaigns") + 1 :]
    assert list(BatchRun.objects.filter(name__in=later).values_list("status", flat=True)) == [
        BatchRun.Status.FINISH
    ] * len(later)


def test_a_dry_run_names_the_batch_that_would_fail():
    CampaignFactory(is_active=True, archive_on=timezone.localdate())

    with pytest.raises(CommandError, match=r"1 batch\(es\) failed: archive_campaigns\."):
        call_command("nightly", "--dry-run", stdout=io.StringIO(), stderr=io.StringIO())

    sequence = BatchRun.objects.get(name="nightly")
    assert (sequence.dry_run, sequence.status) == (True, BatchRun.Status.ERROR)
    assert sequence.errors == "Archivage de campagne (archive_campaigns)"
