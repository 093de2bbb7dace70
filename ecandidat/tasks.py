import smtplib

from celery import shared_task

from ecandidat.emails import deliver
from ecandidat.models import OutboundEmail


@shared_task(
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=8,
)
def send_outbound_email(email_id: int) -> bool:
    """Send one outbox row; transient SMTP errors are retried with exponential backoff, then marked failed."""
    try:
        return deliver(email_id)
    except (smtplib.SMTPException, OSError):
        if send_outbound_email.request.retries >= send_outbound_email.max_retries:
            OutboundEmail.objects.filter(pk=email_id).exclude(status=OutboundEmail.Status.SENT).update(
                status=OutboundEmail.Status.FAILED
            )
        raise
