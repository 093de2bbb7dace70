"""The batch history never lets two copies of a batch run at once, nor loses a run's end (found by review):

- a running batch's row may not be deleted in « Historique des batchs » (it is its claim: deleting it, as one did in
  eCandidat for a run that looked stuck, let a second copy start beside the first), and a run whose row was deleted
  anyway still records its end (it raised ``NotUpdated`` and its counts were lost);
- ``manage.py nightly`` claims the sequence: a second one (``--force`` by hand while cron's still works) is refused
  whole instead of skipping the batch in progress and running the later ones before it."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ecandidat.batches import run_batch
from ecandidat.management.commands import nightly
from ecandidat.models import BatchRun

pytestmark = pytest.mark.django_db

URL = "/gestion/ecandidat/batchrun/"


def test_a_running_batch_cannot_be_deleted_from_the_history(admin_client):
    running = BatchRun.objects.create(name="withdraw_expired_confirmations")
    ended = BatchRun.objects.create(name="sync_sis", status=BatchRun.Status.FINISH)

    selected = admin_client.post(URL, {"action": "delete_selected", "_selected_action": [running.pk], "post": "yes"})
    alone = admin_client.post(f"{URL}{running.pk}/delete/", {"post": "yes"})
    admin_client.post(URL, {"action": "delete_selected", "_selected_action": [ended.pk], "post": "yes"})

    assert selected.status_code == 403
    assert alone.status_code == 403
    assert BatchRun.objects.filter(pk=running.pk).exists()
    assert not BatchRun.objects.filter(pk=ended.pk).exists()


def test_a_run_whose_row_was_deleted_meanwhile_still_records_its_end():
    def work(report, *, dry_run, limit):
        BatchRun.objects.filter(name="withdraw_expired_confirmations").delete()  # by SQL, while it works
        report.add("applications withdrawn")

    run_batch("withdraw_expired_confirmations", work)

    [recorded] = BatchRun.objects.filter(name="withdraw_expired_confirmations")
    assert recorded.status == BatchRun.Status.FINISH
    assert recorded.counts == {"applications withdrawn": 1}
    assert recorded.finished_at is not None


def test_a_second_nightly_is_refused_whole_while_the_first_runs(mocker):
    BatchRun.objects.create(name="nightly")  # cron's sequence, alive
    called = mocker.patch.object(nightly, "call_command")

    with pytest.raises(CommandError, match="another `manage.py nightly` is still running"):
        call_command("nightly", "--force", stdout=io.StringIO(), stderr=io.StringIO())

    called.assert_not_called()


def test_the_nightly_sequence_is_recorded_with_the_batches_that_failed(mocker):
    def fail_sis(name, **options):
        if name == "sync_sis":
            raise RuntimeError("Pégase down")

    mocker.patch.object(nightly, "call_command", side_effect=fail_sis)

    with pytest.raises(CommandError, match="1 batch\\(es\\) failed: sync_sis"):
        call_command("nightly", "--force", stdout=io.StringIO(), stderr=io.StringIO())

    run = BatchRun.objects.get(name="nightly")
    assert run.status == BatchRun.Status.ERROR
    assert run.errors == "Synchronisation des dossiers étudiants (sync_sis)"  # its label, as the history shows it
    assert run.counts == {"batches run": len(nightly.BATCHES) - 1}
