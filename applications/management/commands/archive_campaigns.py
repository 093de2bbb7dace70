from applications.services import nightly
from ecandidat.batches import BatchCommand


class Command(BatchCommand):
    help = (
        "On its archiving date, archive the active campaign: activate the next one, freeze formation dates "
        "into its applications, close its accounts."
    )
    batch_name = "archive_campaigns"

    def work(self, report, *, dry_run, limit):
        nightly.archive_campaigns(report, dry_run=dry_run, limit=limit)
