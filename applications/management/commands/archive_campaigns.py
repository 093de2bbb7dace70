from applications.services import nightly
from ecandidat.batches import BatchCommand


class Command(BatchCommand):
    help = (
        "On its archiving date, archive the active campaign: activate the next one, freeze formation dates "
        "into its applications, close its accounts."
    )
    batch_name = "archive_campaigns"
    refused_while_nightly_runs = True  # alone, not while `manage.py nightly` runs (ecandidat.batches)

    def work(self, report, *, dry_run, limit):
        nightly.archive_campaigns(report, dry_run=dry_run, limit=limit)
