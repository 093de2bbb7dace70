from applications.services import nightly
from ecandidat.batches import BatchCommand


class Command(BatchCommand):
    help = (
        "Destroy campaigns archived more than ARCHIVE_RETENTION_DAYS ago (files, accounts, applications), "
        "keeping an anonymous count. --limit counts chunks of 500 accounts."
    )
    batch_name = "destroy_archived_campaigns"
    refused_while_nightly_runs = True  # alone, not while `manage.py nightly` runs (ecandidat.batches)

    def work(self, report, *, dry_run, limit):
        nightly.destroy_archived_campaigns(report, dry_run=dry_run, limit=limit)
