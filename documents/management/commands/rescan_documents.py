from documents import scanning
from ecandidat.batches import BatchCommand


class Command(BatchCommand):
    help = (
        "Scan again with clamd the documents of active campaigns whose scan failed or was lost, and the clean ones "
        f"scanned with older signatures (at most {scanning.RESCAN_DEFAULT_LIMIT} a run unless --limit is given). "
        "Infected files are quarantined as on upload."
    )
    batch_name = scanning.RESCAN_BATCH

    def work(self, report, *, dry_run, limit):
        scanning.rescan_documents(report, dry_run=dry_run, limit=limit)
