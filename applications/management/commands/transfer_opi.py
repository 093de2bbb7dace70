from applications.opi.services import BATCH, transfer_opis
from ecandidat.batches import BatchCommand


class Command(BatchCommand):
    help = (
        "Transfer the pending OPIs of the active campaign (BATCH_ASYNC_OPI): write the day's Pégase or Apogée files "
        "(OPI_BACKEND), rewritten whole by each run that day, and mark the OPIs transferred."
    )
    batch_name = BATCH

    def work(self, report, *, dry_run, limit):
        transfer_opis(report, dry_run=dry_run, limit=limit)
