import datetime
import io
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from ecandidat.batches import BatchAlreadyRunning, run_batch
from ecandidat.models import BatchRun, DestroyedCampaignCount, OutboundEmail

pytestmark = pytest.mark.django_db


def _count(report, *, dry_run, limit):
    report.add("things", 3)


def test_a_run_is_recorded_with_its_counts():
    run = run_batch("demo", _count)

    run.refresh_from_db()
    assert run.status == BatchRun.Status.FINISH
    assert run.counts == {"things": 3}
    assert run.finished_at is not None


def test_a_second_run_refuses_while_the_first_is_running():
    BatchRun.objects.create(name="demo")

    with pytest.raises(BatchAlreadyRunning):
        run_batch("demo", _count)

    assert BatchRun.objects.filter(name="demo").count() == 1


def test_a_dry_run_may_run_beside_a_real_one():
    BatchRun.objects.create(name="demo")

    run = run_batch("demo", _count, dry_run=True)

    assert run.status == BatchRun.Status.FINISH


def test_a_run_whose_heartbeat_stopped_is_interrupted_and_the_batch_runs_again(settings):
    settings.BATCH_HEARTBEAT_SECONDS = 60
    crashed = BatchRun.objects.create(name="demo")
    BatchRun.objects.filter(pk=crashed.pk).update(heartbeat_at=timezone.now() - datetime.timedelta(minutes=6))

    run = run_batch("demo", _count)

    crashed.refresh_from_db()
    assert crashed.status == BatchRun.Status.INTERRUPT
    assert run.status == BatchRun.Status.FINISH


def test_a_long_run_that_is_alive_is_not_taken_for_dead(settings):
    """A batch working for 5 hours, its heartbeat fresh: a second run refuses (a fixed 4-hour age let it start)."""
    settings.BATCH_HEARTBEAT_SECONDS = 60
    alive = BatchRun.objects.create(name="demo")
    BatchRun.objects.filter(pk=alive.pk).update(
        started_at=timezone.now() - datetime.timedelta(hours=5),
        heartbeat_at=timezone.now() - datetime.timedelta(minutes=2),
    )

    with pytest.raises(BatchAlreadyRunning):
        run_batch("demo", _count)

    alive.refresh_from_db()
    assert alive.status == BatchRun.Status.RUNNING


@pytest.mark.django_db(transaction=True)
def test_a_running_batch_renews_its_heartbeat_from_its_own_connection(settings):
    """The beats commit while the batch works, from the heartbeat's own connection."""
    settings.BATCH_HEARTBEAT_SECONDS = 0.05
    seen = {}

    def slow(report, *, dry_run, limit):
        run = BatchRun.objects.get(name="demo", status=BatchRun.Status.RUNNING)
        seen["start"] = run.heartbeat_at
        report.add("things", 1)
        time.sleep(0.5)
        seen["later"] = BatchRun.objects.get(pk=run.pk).heartbeat_at

    run = run_batch("demo", slow)

    assert run.status == BatchRun.Status.FINISH
    assert seen["later"] > seen["start"]
    beats_after_the_end = BatchRun.objects.get(pk=run.pk).heartbeat_at
    time.sleep(0.2)
    assert BatchRun.objects.get(pk=run.pk).heartbeat_at == beats_after_the_end  # the thread stopped with the run


def test_an_exception_is_recorded_as_an_error_and_raised():
    def explode(report, *, dry_run, limit):
        report.add("before", 1)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        run_batch("demo", explode)

    run = BatchRun.objects.get(name="demo")
    assert run.status == BatchRun.Status.ERROR
    assert "boom" in run.errors
    assert run.counts == {"before": 1}


def test_prune_outbox_deletes_old_sent_failed_and_cancelled_mails_only(settings):
    """A failed mail stays for staff to resend, but not for ever: its text names the candidate (it stayed after
    the campaign and its accounts were destroyed). A cancelled one (the candidate withdrew before it left) goes
    after the same time. A pending one stays: it is still being tried."""
    settings.OUTBOX_RETENTION_DAYS = 30
    old = timezone.now() - datetime.timedelta(days=31)
    common = {"code": "X", "language": "fr", "subject": "s", "body": "b"}
    OutboundEmail.objects.create(to="old@example.org", status="SENT", sent_at=old, **common)
    OutboundEmail.objects.create(to="recent@example.org", status="SENT", sent_at=timezone.now(), **common)
    OutboundEmail.objects.create(to="failed@example.org", status="FAILED", **common)
    OutboundEmail.objects.create(to="old-failed@example.org", status="FAILED", **common)
    OutboundEmail.objects.create(to="old-pending@example.org", status="PENDING", **common)
    OutboundEmail.objects.create(to="cancelled@example.org", status="CANCELLED", **common)
    OutboundEmail.objects.create(to="old-cancelled@example.org", status="CANCELLED", **common)
    OutboundEmail.objects.filter(to__startswith="old-").update(created_at=old)

    call_command("prune_outbox", "--dry-run", stdout=io.StringIO())
    assert OutboundEmail.objects.count() == 7
    call_command("prune_outbox", stdout=io.StringIO())

    assert sorted(OutboundEmail.objects.values_list("to", flat=True)) == [
        "cancelled@example.org",
        "failed@example.org",
        "old-pending@example.org",
        "recent@example.org",
    ]


def test_nightly_runs_every_batch_and_reports_a_failed_one(mocker):
    BatchRun.objects.create(name="sync_sis")  # as if another node were running it
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError, match="sync_sis"):
        call_command("nightly", stdout=out, stderr=err)

    assert "purge_unvalidated_accounts" in out.getvalue()
    assert "prune_outbox" in out.getvalue()
    assert "already running" in err.getvalue()


def test_admin_shows_the_batch_history_and_destroyed_campaigns_read_only(admin_client):
    run = run_batch("demo", _count)
    DestroyedCampaignCount.objects.create(
        campaign_code="C2020", accounts=3, applications=4, documents=5, destroyed_at=timezone.now()
    )
    DestroyedCampaignCount.objects.create(campaign_code="C2021", accounts=6, applications=7, documents=8)

    history = admin_client.get("/gestion/ecandidat/batchrun/")
    destroyed = admin_client.get("/gestion/ecandidat/destroyedcampaigncount/")

    assert history.status_code == destroyed.status_code == 200
    assert "demo" in history.text
    assert "C2020" in destroyed.text
    assert destroyed.text.count("en cours (des comptes restent)") == 1  # C2021's destruction has not ended
    assert admin_client.get("/gestion/ecandidat/destroyedcampaigncount/add/").status_code == 403
    assert admin_client.post(f"/gestion/ecandidat/batchrun/{run.pk}/change/", {"name": "x"}).status_code == 403


def test_prune_batch_history_keeps_recent_runs_and_each_batchs_last_run(settings):
    settings.BATCH_HISTORY_DAYS = 30
    old = timezone.now() - datetime.timedelta(days=31)
    runs = {
        "old sync": BatchRun.objects.create(name="sync_sis", status=BatchRun.Status.FINISH),
        "last sync": BatchRun.objects.create(name="sync_sis", status=BatchRun.Status.FINISH),
        "old, only run of its batch": BatchRun.objects.create(name="archive_campaigns", status=BatchRun.Status.FINISH),
        "old, left running by a crash": BatchRun.objects.create(name="rescan_documents"),
        "newer rescan": BatchRun.objects.create(name="rescan_documents", status=BatchRun.Status.FINISH),
        "recent error": BatchRun.objects.create(name="transfer_opi", status=BatchRun.Status.ERROR),
    }
    aged = ["old sync", "last sync", "old, only run of its batch", "old, left running by a crash"]
    BatchRun.objects.filter(pk__in=[runs[key].pk for key in aged]).update(started_at=old, heartbeat_at=old)

    call_command("prune_batch_history", "--dry-run", stdout=io.StringIO())
    assert BatchRun.objects.filter(pk__in=[run.pk for run in runs.values()]).count() == 6
    out = io.StringIO()
    call_command("prune_batch_history", stdout=out)

    kept = set(BatchRun.objects.filter(pk__in=[run.pk for run in runs.values()]).values_list("pk", flat=True))
    # A run left RUNNING 31 days ago is stale (interrupted by run_batch), so it goes like any old run.
    expected = ("last sync", "old, only run of its batch", "newer rescan", "recent error")
    assert kept == {runs[key].pk for key in expected}
    assert "runs deleted: 2" in out.getvalue()
    assert BatchRun.objects.filter(name="prune_batch_history").count() == 2  # its own runs are recorded


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_a_run_stopped_by_hand_is_recorded_interrupted_and_may_run_again(stop):
    """Ctrl-C or SystemExit skipped ``except Exception``: the run was saved « en cours » with an end time, and a
    rerun was refused until the stale runs' sweep, minutes later."""

    def stopped(report, *, dry_run, limit):
        raise stop

    with pytest.raises(stop):
        run_batch("nightly", stopped)

    assert BatchRun.objects.get().status == BatchRun.Status.INTERRUPT
    assert run_batch("nightly", _count).status == BatchRun.Status.FINISH
