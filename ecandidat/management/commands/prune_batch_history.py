from datetime import timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from ecandidat.batches import BatchCommand
from ecandidat.models import BatchRun


class Command(BatchCommand):
    help = "Delete batch runs older than BATCH_HISTORY_DAYS (eCandidat BATCH_DESTRUCT_HISTO); each batch's last stays."
    batch_name = "prune_batch_history"

    def work(self, report, *, dry_run, limit):
        last_runs = BatchRun.objects.values("name").annotate(last=Max("id")).values_list("last", flat=True)
        old = BatchRun.objects.filter(started_at__lt=timezone.now() - timedelta(days=settings.BATCH_HISTORY_DAYS))
        old = old.exclude(status=BatchRun.Status.RUNNING).exclude(pk__in=list(last_runs))
        if dry_run:
            report.add("runs to delete", old.count())
            return
        deleted, _ = old.delete()
        report.add("runs deleted", deleted)
