"""Background work of the applications app."""

from celery import shared_task

from applications.letters import build_letter
from applications.packs import build_pack
from applications.services.release import requeue_lost_releases, requeue_stalled_releases, run_release


# A pack of a few hundred dossiers takes minutes: its own time limits, above the project's default.
@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3700)
def build_commission_pack(pack_id: int) -> None:
    """Build one commission pack (``applications.packs.build_pack``). A redelivery leaves a pack built, failed or
    being built alone, and takes back one without progress for ``PACK_STALE_AFTER``: its worker was killed. The
    delivery that follows the kill at once finds the progress fresh and does nothing; the message that takes the
    pack back is the one ``requeue_stalled_jobs`` queues once the progress is stale."""
    build_pack(pack_id)


@shared_task(acks_late=True)
def build_decision_letter(letter_id: int) -> None:
    """Build one decision letter's PDF (``applications.letters.build_letter``); a built letter is left as it is."""
    build_letter(letter_id)


# 500 validations with their mails and letters take a minute or two: the pack's limits.
@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3700)
def run_release_job(job_id: int) -> None:
    """Release the decisions of one ReleaseJob (``applications.services.release.run_release``). A redelivery leaves a
    job finished or being run alone, and resumes one without progress for ``RELEASE_STALE_AFTER`` (its worker was
    killed: queued again by ``requeue_stalled_jobs``), counting the decisions already validated as done."""
    run_release(job_id)


@shared_task
def requeue_lost_release_jobs() -> int:
    """The releases' sweeper, every few minutes from Celery beat: queue again the releases whose task was lost
    (``applications.services.release.requeue_lost_releases``), also those whose page nobody watches."""
    return requeue_lost_releases()


# An export of up to STREAMED_EXPORT_LIMIT rows takes minutes (a few ms a row): the pack's limits.
@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3700)
def build_export_job(job_id: int) -> None:
    """Build one large export with chosen columns (``applications.export_jobs.build_export``). A redelivery leaves a
    job built, failed or being built alone, and takes back one without progress for ``EXPORT_STALE_AFTER``: its
    worker was killed, and ``requeue_stalled_jobs`` queued it again."""
    from applications.export_jobs import build_export  # noqa: PLC0415 - export_jobs queues this task

    build_export(job_id)


@shared_task
def requeue_stalled_jobs() -> int:
    """The sweeper of stalled jobs, every minute from Celery beat: queue again each commission pack, export and
    release of decisions still RUNNING whose worker process was killed (no progress for its kind's stale window) and
    asked for less than ``STALLED_RETAKEN_WITHIN`` ago (``applications.lost_tasks.requeue_if_stalled``), so that its
    task's claim takes it back; how many were. Three queries when none is due."""
    # Both queue the tasks of this module: imported here, so that each import goes one way.
    from applications.export_jobs import requeue_stalled_exports  # noqa: PLC0415
    from applications.services.packs import requeue_stalled_packs  # noqa: PLC0415

    return requeue_stalled_packs() + requeue_stalled_exports() + requeue_stalled_releases()
