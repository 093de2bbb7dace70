from applications.services import nightly
from ecandidat.batches import BatchCommand


class Command(BatchCommand):
    help = "Recompute the actual rank on the complementary list of every formation that has one."
    batch_name = "recompute_waiting_list_ranks"

    def work(self, report, *, dry_run, limit):
        nightly.recompute_all_waiting_list_ranks(report, dry_run=dry_run, limit=limit)
