"""Background jobs whose task was lost (commission packs, releases of decisions): the row waits PENDING in the
database while its task's message never reached the broker (``ecandidat.celery.Task`` logs a refused publish and
goes on, "left for its sweeper") or was lost with it (Redis restarted: it runs without persistence).

``requeue_if_lost`` queues the task again once the job has waited ``requeue_after`` since it was asked for, then
every ``requeue_after`` while it still waits; past ``never_started_after`` it is no longer queued again: its page
shows it failed (``never_started``), asking its requester to ask again. The task's claim (a conditional update
PENDING → RUNNING) runs the job once however many of its messages arrive."""

from __future__ import annotations

import datetime
import logging

from django.db.models import Q
from django.utils import timezone

from applications.models import CommissionPack, ReleaseJob
from ecandidat.celery import Task

logger = logging.getLogger(__name__)

Job = CommissionPack | ReleaseJob


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
