"""A batch that ``manage.py nightly`` runs after others (the archiving, the destruction) refuses to run alone while a
nightly is alive: the lock was per batch name only, and ``archive_campaigns`` run by hand while cron's nightly was at
``transfer_opi`` archived the campaign before its OPIs were written and its expired confirmations withdrawn. Run by
the nightly itself, in its turn, it works; a nightly that died (its heartbeat stopped) or a dry run is in no one's
way."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from ecandidat.batches import NIGHTLY, BatchCommand, NightlyRunning, run_batch
from ecandidat.models import BatchRun

pytestmark = pytest.mark.django_db


class Guarded(BatchCommand):
    batch_name = "late_batch"
    refused_while_nightly_runs = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.worked: list[bool] = []

    def work(self, report, *, dry_run, limit):
        self.worked.append(dry_run)
        report.add("things")


class Unguarded(Guarded):
    refused_while_nightly_runs = False


def _run(command, **options):
    call_command(command, stdout=io.StringIO(), stderr=io.StringIO(), **options)
    return command


def _nightly_at_transfer_opi(*, beat_ago=datetime.timedelta(0)):
    """Cron's nightly, alive (or not: its heartbeat ``beat_ago``), at the OPI transfer."""
    running = BatchRun.objects.create(name=NIGHTLY)
    BatchRun.objects.create(name="transfer_opi")
    BatchRun.objects.filter(pk=running.pk).update(heartbeat_at=timezone.now() - beat_ago)
    return running


def test_run_alone_while_the_nightly_runs_it_refuses_and_does_nothing():
    running = _nightly_at_transfer_opi()
    command = Guarded()

    with pytest.raises(NightlyRunning) as refused:
        _run(command)

    started = timezone.localtime(running.started_at)
    assert str(refused.value) == (
        f"Refused: `manage.py nightly` is running (started {started:%d/%m/%Y %H:%M}, see the batch history) and runs "
        "late_batch in its turn, after the batches before it; run alone now, late_batch would overtake them. Run it "
        "alone only when no nightly is running; nothing was done."
    )
    assert command.worked == []
    assert not BatchRun.objects.filter(name="late_batch").exists()  # nothing recorded: it did not start


def test_run_by_the_nightly_it_works_in_its_turn():
    command = Guarded()

    sequence = run_batch(NIGHTLY, lambda report, **options: _run(command))

    assert command.worked == [False]
    assert sequence.status == BatchRun.Status.FINISH
    assert BatchRun.objects.get(name="late_batch").status == BatchRun.Status.FINISH


def test_a_nightly_that_died_is_in_no_one_s_way(settings):
    settings.BATCH_HEARTBEAT_SECONDS = 60
    dead = _nightly_at_transfer_opi(beat_ago=datetime.timedelta(minutes=6))  # 5 beats missed: its process died

    command = _run(Guarded())

    assert command.worked == [False]
    dead.refresh_from_db()
    assert dead.status == BatchRun.Status.INTERRUPT  # ended by the run's sweep, as any batch does


def test_a_nightly_alive_though_late_in_its_beats_still_refuses(settings):
    settings.BATCH_HEARTBEAT_SECONDS = 60
    _nightly_at_transfer_opi(beat_ago=datetime.timedelta(minutes=4))  # a busy database delays a beat or two

    with pytest.raises(NightlyRunning):
        _run(Guarded())


def test_a_dry_run_alone_runs_beside_the_nightly_and_a_real_one_beside_a_dry_nightly():
    _nightly_at_transfer_opi()
    BatchRun.objects.create(name=NIGHTLY, dry_run=True)

    rehearsal = _run(Guarded(), dry_run=True)
    BatchRun.objects.filter(dry_run=False).update(status=BatchRun.Status.FINISH, finished_at=timezone.now())
    real = _run(Guarded())

    assert (rehearsal.worked, real.worked) == ([True], [False])


def test_only_the_batches_that_ask_are_refused():
    _nightly_at_transfer_opi()

    assert _run(Unguarded()).worked == [False]
