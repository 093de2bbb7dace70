"""Background jobs whose task was lost (commission packs, releases of decisions): the row waits PENDING in the
database while its task's message never reached the broker (``ecandidat.celery.Task`` logs a refused publish and
goes on, "left for its sweeper") or was lost with it (Redis restarted: it runs without persistence).

``requeue_if_lost`` queues the task again once the job has waited ``requeue_after`` since it was asked for, then
every ``requeue_after`` while it still waits; past ``never_started_after`` it is no longer queued again: its page
shows it failed (``never_started``), asking its requester to ask again. The task's claim (a conditional update
PENDING → RUNNING) runs the job once however many of its messages arrive.

Background jobs whose worker process was killed (commission packs, exports, releases of decisions): the OOM killer
on a pack building PDFs, a ``kill -9``. The task is acknowledged late, so the worker's main process requeues its
message at once; but that new delivery runs within a second, while the killed run's progress is seconds old: its
claim, which takes back only a RUNNING job without progress for the kind's stale window, finds nothing to do, and
the message is acknowledged. ``requeue_if_stalled`` (the beat sweeper ``applications.tasks.requeue_stalled_jobs``,
every minute) queues the task again for each RUNNING job whose progress is older than that window, so that its
claim takes it back; for ``STALLED_RETAKEN_WITHIN`` after the job was asked for. ``stopped`` tells its page when
to show it stopped: once the sweeper had its chance (``SWEEP_GRACE``)."""

from __future__ import annotations

import datetime
import logging

from django.db.models import Q
from django.utils import timezone

from applications.models import CommissionPack, ExportJob, ReleaseJob
from ecandidat.celery import Task

logger = logging.getLogger(__name__)

Job = CommissionPack | ReleaseJob
BackgroundJob = CommissionPack | ExportJob | ReleaseJob  # the kinds the sweeper of stalled jobs takes back

# A RUNNING job whose worker was killed is queued again by the sweeper only this long after it was asked for: a job
# that kills its worker each time (a pack the OOM killer stops at the same dossier) is run again a few times (each
# stale window), not for ever; past it, its page shows it stopped and its requester may ask again.
STALLED_RETAKEN_WITHIN = datetime.timedelta(hours=2)
# The sweeper runs every minute from beat: a RUNNING job is shown stopped only once its progress is older than its
# stale window by this much more, so that the sweeper's message had time to be taken by a worker and its claim to
# stamp the job again (a worker busy with another long task takes it later: its page then shows it stopped).
SWEEP_GRACE = datetime.timedelta(minutes=5)
# A message of the sweeper expires before the next run of the sweeper queues another: while no worker consumes the
# queue (workers stopped, all busy with long packs), they do not pile up (seconds).
STALLED_REQUEUE_EXPIRES = 55


def never_started(job: Job, *, after: datetime.timedelta, now: datetime.datetime | None = None) -> bool:
    """A PENDING job asked for more than ``after`` ago: its task never came, nor came when queued again."""
    return job.status == job.Status.PENDING and job.created_at < (now or timezone.now()) - after


def requeue_if_lost(
    job: Job,
    *,
    task: Task,
    requeue_after: datetime.timedelta,
    never_started_after: datetime.timedelta,
    now: datetime.datetime | None = None,
) -> bool:
    """Queue ``task`` again for ``job`` when it is still PENDING ``requeue_after`` after it was asked for, or after
    it was last queued again here, and not yet past ``never_started_after``; True when it was. The publish is after
    commit and never raises: with the broker still unreachable, the next call after ``requeue_after`` tries again.

    ``progress_at``, which a PENDING job does not otherwise use (the task's claim stamps it anew), records the
    queueing again; the conditional update claims it, so that calls at the same time (a page refreshing itself
    every few seconds, a sweeper) queue it once. A message queued again for a job still waiting in the queue costs
    only a claim that finds nothing to do. No query for a job not due."""
    now = now or timezone.now()
    due = now - requeue_after
    if (
        job.status != job.Status.PENDING
        or job.created_at >= due
        or (job.progress_at is not None and job.progress_at >= due)
        or never_started(job, after=never_started_after, now=now)  # shown failed: not run behind its page
    ):
        return False
    queued_again = (
        type(job)
        .objects.filter(
            Q(progress_at__isnull=True) | Q(progress_at__lt=due),
            pk=job.pk,
            status=job.Status.PENDING,
            created_at__lt=due,
            created_at__gte=now - never_started_after,
        )
        .update(progress_at=now)
    )
    if not queued_again:
        return False
    job.progress_at = now
    logger.warning("%s %s still waiting for its task: queued again", job._meta.model_name, job.public_id)
    task.delay_on_commit(job.pk)
    return True


def stopped(job: BackgroundJob, *, stale_after: datetime.timedelta, now: datetime.datetime | None = None) -> bool:
    """A RUNNING job without progress for ``stale_after`` and ``SWEEP_GRACE`` more: its worker was killed, and the
    sweeper's message, if it was still within ``STALLED_RETAKEN_WITHIN``, did not take it back. Its page says it
    stopped, not "in progress" for ever."""
    return (
        job.status == job.Status.RUNNING
        and job.progress_at is not None
        and job.progress_at < (now or timezone.now()) - stale_after - SWEEP_GRACE
    )


def requeue_if_stalled(
    model: type[BackgroundJob],
    *,
    task: Task,
    stale_after: datetime.timedelta,
    now: datetime.datetime | None = None,
) -> int:
    """Queue ``task`` again for every RUNNING job of ``model`` without progress for ``stale_after`` (its worker was
    killed: the delivery that followed found it fresh and did nothing) and asked for less than
    ``STALLED_RETAKEN_WITHIN`` ago; how many were. The task's claim takes it back (a stale RUNNING job); it runs once
    however many messages arrive, the others find it fresh.

    ``progress_at`` is left as it is: the claim needs it stale. So the job is queued again at each run of the
    sweeper until a claim stamps it: each message expires (``STALLED_REQUEUE_EXPIRES``) before the next is queued,
    after commit, never raising when the broker is down (``ecandidat.celery.Task``: the next run tries again). One
    query, whatever the number of jobs not due."""
    now = now or timezone.now()
    stalled = (
        model._default_manager.filter(
            status=model.Status.RUNNING,
            progress_at__lt=now - stale_after,
            created_at__gte=now - STALLED_RETAKEN_WITHIN,
        )
        .order_by("pk")
        .values_list("pk", "public_id")
    )
    queued = 0
    for pk, public_id in stalled:
        logger.warning(
            "%s %s without progress for %s (its worker killed?): queued again",
            model._meta.model_name,
            public_id,
            stale_after,
        )
        task.apply_async_on_commit((pk,), expires=STALLED_REQUEUE_EXPIRES)
        queued += 1
    return queued
