from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ecandidat.batches import BatchCommand
from ecandidat.models import OutboundEmail


class Command(BatchCommand):
    help = "Delete sent e-mails older than OUTBOX_RETENTION_DAYS from the outbox (failed and pending ones stay)."
    batch_name = "prune_outbox"

    def work(self, report, *, dry_run, limit):
        old = OutboundEmail.objects.filter(
            status=OutboundEmail.Status.SENT,
            sent_at__lt=timezone.now() - timedelta(days=settings.OUTBOX_RETENTION_DAYS),
        )
        if dry_run:
            report.add("mails to delete", old.count())
            return
        deleted, _ = old.delete()
        report.add("mails deleted", deleted)
