"""Nightly batches: each records its run, refuses to run twice at once, and survives a crash (rerun it).

A running batch renews its row's ``heartbeat_at`` every ``BATCH_HEARTBEAT_SECONDS`` from a thread of its own
(its own database connection, outside the batch's transactions). A RUNNING row whose heartbeat is older than
``STALE_BEATS`` beats belongs to a process that died (killed, out of memory, machine lost): the next run marks it
interrupted and starts, minutes after the crash. A batch that is alive, however long it works, is never taken for
dead, so it never runs twice at once (a fixed age, eCandidat's 4 hours, did both wrong).

A batch is a management command built on :class:`BatchCommand`; ``manage.py nightly`` runs them in order inside
the maintenance window (see deploy/crontab). Cron must not need flags: a batch runs for real by default and offers
``--dry-run`` to show what it would do.

A batch that must not overtake the sequence (the archiving and the destruction, after the day's withdrawals and OPI
transfer) sets ``BatchCommand.refused_while_nightly_runs``: run alone while a ``manage.py nightly`` is alive, it
refuses; run by the sequence, in its turn, it works.
"""

import logging
import threading
import traceback
from collections import Counter
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.utils import timezone

from ecandidat.models import BatchRun

logger = logging.getLogger(__name__)


# ``manage.py nightly``'s own run (ecandidat/management/commands/nightly.py): the sequence of every batch.
NIGHTLY = "nightly"


class BatchAlreadyRunning(CommandError):
    pass


class NightlyRunning(CommandError):
    """A batch run alone while ``manage.py nightly`` runs, which would overtake the batches before it there."""


# The real or dry runs this thread works inside (``run_batch``), outermost first: a batch that ``manage.py nightly``
# runs (``call_command``, same thread) sees the sequence's run here.
_enclosing_runs: ContextVar[tuple[int, ...]] = ContextVar("enclosing_batch_runs", default=())


class Report:
    """What a batch did: counts by key, and the errors of the items it skipped."""

    def __init__(self):
        self.counts: Counter[str] = Counter()
        self.errors: list[str] = []
        self.errors_by_kind: dict[str, list[str]] = {}  # the same errors, by the ``kind`` they were given

    def add(self, key: str, amount: int = 1) -> None:
        self.counts[key] += amount

    def error(self, message: str, *, kind: str = "") -> None:
        """An item skipped; ``kind`` lets a screen that ran the batch tell its errors apart (the OPI screen: the
        candidates refused, the pieces missing from the storage), whatever their order."""
        self.errors.append(message)
        self.errors_by_kind.setdefault(kind, []).append(message)
        logger.warning("batch item failed: %s", message)


# Beats a RUNNING batch may miss before it is taken as dead: a busy database may delay one or two.
STALE_BEATS = 5


def _stale_before() -> datetime:
    """A RUNNING run whose last heartbeat is older than this died with its process."""
    return timezone.now() - timedelta(seconds=settings.BATCH_HEARTBEAT_SECONDS * STALE_BEATS)


def interrupt_stale_runs() -> int:
    """Runs still RUNNING whose heartbeat stopped died with their process (eCandidat BATCH_NETTOYAGE)."""
    return BatchRun.objects.filter(status=BatchRun.Status.RUNNING, heartbeat_at__lt=_stale_before()).update(
        status=BatchRun.Status.INTERRUPT, finished_at=timezone.now()
    )


def refuse_while_nightly_runs(name: str) -> None:
    """Raise ``NightlyRunning`` when a real ``manage.py nightly`` is alive (RUNNING, its heartbeat fresh: not one
    that died, which ``interrupt_stale_runs`` ends) and batch ``name`` is not run by it.

    The lock is per batch name: ``archive_campaigns`` run by hand while cron's nightly was at ``transfer_opi`` was
    accepted, archived the campaign before its OPIs were written (left pending for ever) and before the expired
    confirmations were withdrawn. Run by the sequence itself (``_enclosing_runs``), it works in its turn.
    """
    nightly = (
        BatchRun.objects.filter(
            name=NIGHTLY, status=BatchRun.Status.RUNNING, dry_run=False, heartbeat_at__gte=_stale_before()
        )
        .exclude(pk__in=_enclosing_runs.get())
        .first()
    )
    if nightly is not None:
        raise NightlyRunning(
            f"Refused: `manage.py nightly` is running (started {timezone.localtime(nightly.started_at):%d/%m/%Y %H:%M}"
            f", see the batch history) and runs {name} in its turn, after the batches before it; run alone now, "
            f"{name} would overtake them. Run it alone only when no nightly is running; nothing was done."
        )


class Heartbeat(threading.Thread):
    """Renews ``heartbeat_at`` of a running batch every ``interval`` seconds until ``stop()``.

    The thread has its own database connection (Django's are per thread), so a beat commits at once, whatever
    transaction the batch holds; it closes it when it stops. A beat that fails (the database restarting) is logged
    and the next one tries again: a few missed beats do not make the batch look dead (``STALE_BEATS``).
    """

    def __init__(self, run_id: int, interval: float):
        super().__init__(name=f"batch-heartbeat-{run_id}", daemon=True)
        self.run_id = run_id
        self.interval = interval
        self._stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self._stopped.wait(self.interval):
                try:
                    BatchRun.objects.filter(pk=self.run_id, status=BatchRun.Status.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except DatabaseError:
                    logger.warning("batch heartbeat missed", exc_info=True)
                    connections.close_all()  # this thread's connection only: the next beat opens a new one
        finally:
            connections.close_all()

    def stop(self) -> None:
        self._stopped.set()
        self.join()


def drop_broken_connections() -> None:
    """Close the database connections a batch left unusable, so that the next batch opens a new one.

    The batches of ``manage.py nightly`` share this process's connection, and Django only replaces a broken one
    around a request
    (``close_old_connections`` on the request signals), never in a command: after PostgreSQL restarted or failed
    over in the middle of a batch, every later batch failed on "connection already closed" and none was recorded.
    This is Django's rule for requests: a connection that saw an error and no longer answers, or that outlived
    CONN_MAX_AGE, is closed (the next query connects again); a healthy one is kept. A connection inside a
    transaction is left alone: closing it would lose the caller's work (``close_old_connections`` closes any
    connection not in autocommit mode).
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


def run_batch(name: str, work, *, dry_run: bool = False, limit: int | None = None) -> BatchRun:
    """Run ``work(report, dry_run=..., limit=...)`` as batch ``name`` and record the run.

    A real run claims the batch with a RUNNING row that the database keeps unique per name (the
    ``batch_single_running`` constraint), so a second run started meanwhile, on any node, refuses to start; while
    it works, a ``Heartbeat`` tells the others it is alive.
    """
    interrupt_stale_runs()
    try:
        with transaction.atomic():
            run = BatchRun.objects.create(name=name, dry_run=dry_run)
    except IntegrityError:
        raise BatchAlreadyRunning(f"{name} is already running; this run did nothing.") from None
    report = Report()
    heartbeat = Heartbeat(run.pk, settings.BATCH_HEARTBEAT_SECONDS)
    heartbeat.start()
    enclosing = _enclosing_runs.set((*_enclosing_runs.get(), run.pk))
    try:
        work(report, dry_run=dry_run, limit=limit)
    except Exception:
        run.status = BatchRun.Status.ERROR
        report.error(traceback.format_exc(limit=8))
        raise
    except BaseException:
        # Ctrl-C, SystemExit: recorded as interrupted, never left « en cours » (a rerun was refused until the stale
        # runs' sweep, minutes later).
        run.status = BatchRun.Status.INTERRUPT
        raise
    else:
        run.status = BatchRun.Status.ERROR if report.errors else BatchRun.Status.FINISH
    finally:
        _enclosing_runs.reset(enclosing)
        heartbeat.stop()
        drop_broken_connections()  # the database restarted during the work: the run is still recorded
        run.finished_at = timezone.now()
        run.counts = dict(report.counts)
        run.errors = "\n".join(report.errors)[:20000]
        _record_end(run)
    return run


def _record_end(run: BatchRun) -> None:
    """Write the end of ``run`` to its row; a row deleted while it ran (by SQL: the history screen refuses to delete a
    running batch) is written anew, so a run that did its work is never missing from the history (a ``save`` with
    ``update_fields`` raised ``NotUpdated`` at the very end, and its counts and errors were lost)."""
    fields = ["status", "finished_at", "counts", "errors"]
    if not BatchRun.objects.filter(pk=run.pk).update(**{field: getattr(run, field) for field in fields}):
        logger.warning("batch %s: its running row was deleted meanwhile; its end is recorded on a new row", run.name)
        run.pk = None
        run.save(force_insert=True)


class BatchCommand(BaseCommand):
    """A management command that is a nightly batch.

    Subclasses set ``batch_name`` and define ``work(self, report, *, dry_run, limit)``, which does the job (or,
    with ``dry_run``, only counts it) and adds its counts to ``report``. ``refused_while_nightly_runs``: a real run
    alone refuses while ``manage.py nightly`` runs (``refuse_while_nightly_runs``); a dry run changes nothing and runs.
    """

    batch_name: str = ""
    refused_while_nightly_runs: bool = False
    work: Callable[..., None]  # defined by each subclass (see above); declared for the type checker only

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Show what would be done; change nothing.")
        parser.add_argument("--limit", type=int, default=None, help="Process at most this many items.")

    def handle(self, *args, dry_run=False, limit=None, **options):
        if self.refused_while_nightly_runs and not dry_run:
            refuse_while_nightly_runs(self.batch_name)
        run = run_batch(self.batch_name, self.work, dry_run=dry_run, limit=limit)
        prefix = "[dry run] " if dry_run else ""
        counts = ", ".join(f"{key}: {value}" for key, value in sorted(run.counts.items())) or "nothing to do"
        self.stdout.write(f"{prefix}{self.batch_name}: {counts}")
        if run.errors:
            self.stderr.write(run.errors)
