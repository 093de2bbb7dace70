"""The outbox's tasks. One retry policy, the row's (``ecandidat.emails``): these tasks never retry themselves."""

from celery import shared_task

from ecandidat.emails import deliver, send_pending_mails


@shared_task
def send_outbound_email(email_id: int) -> str:
    """The first attempt at one outbox row, right after its transaction committed. A failure is recorded on the row
    (next attempt after a back-off), and the sweeper makes the later attempts."""
    return deliver(email_id)


@shared_task
def sweep_outbox() -> dict[str, int]:
    """The sweeper, from Celery beat every minute (CELERY_BEAT_SCHEDULE) when Redis is configured."""
    return dict(send_pending_mails())
