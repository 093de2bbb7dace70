"""Background work of the applications app."""

from celery import shared_task

from applications.letters import build_letter
from applications.packs import build_pack
from applications.services.release import requeue_lost_releases, run_release


# A pack of a few hundred dossiers takes minutes: its own time limits, above the project's default.
@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3700)
def build_commission_pack(pack_id: int) -> None:
    """Build one commission pack (``applications.packs.build_pack``). A redelivery leaves a pack built, failed or
    being built alone, and takes back one whose worker was killed (no progress for ``PACK_STALE_AFTER``)."""
    build_pack(pack_id)


@shared_task(acks_late=True)
def build_decision_letter(letter_id: int) -> None:
    """Build one decision letter's PDF (``applications.letters.build_letter``); a built letter is left as it is."""
    build_letter(letter_id)


# 500 validations with their mails and letters take a minute or two: the pack's limits.
@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3700)
def run_release_job(job_id: int) -> None:
    """Release the decisions of one ReleaseJob (``applications.services.release.run_release``)."""
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
    job built, failed or being built alone, and takes back one whose worker was killed (``EXPORT_STALE_AFTER``)."""
    from applications.export_jobs import build_export  # noqa: PLC0415 - export_jobs queues this task

    build_export(job_id)
