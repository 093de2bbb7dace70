from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ecandidat.batches import BatchCommand
from ecandidat.models import OutboundEmail


class Command(BatchCommand):
    help = (
        "Delete from the outbox the sent, failed and cancelled e-mails older than OUTBOX_RETENTION_DAYS (the "
        "pending ones stay): a failed mail keeps its text for staff to resend, not for ever."
    )
    batch_name = "prune_outbox"

    def work(self, report, *, dry_run, limit):
        limit_date = timezone.now() - timedelta(days=settings.OUTBOX_RETENTION_DAYS)
        old = OutboundEmail.objects.filter(
            Q(status=OutboundEmail.Status.SENT, sent_at__lt=limit_date)
            | Q(status=OutboundEmail.Status.FAILED, created_at__lt=limit_date)
            | Q(status=OutboundEmail.Status.CANCELLED, created_at__lt=limit_date)
        )
        if dry_run:
            report.add("mails to delete", old.count())
            return
        deleted, _ = old.delete()
        report.add("mails deleted", deleted)
