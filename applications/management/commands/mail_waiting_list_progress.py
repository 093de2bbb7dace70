from applications.services import nightly
from ecandidat.batches import BatchCommand


class Command(BatchCommand):
    help = "Mail once each candidate of a complementary list whose rank improved since they were last told."
    batch_name = nightly.RANK_PROGRESS_BATCH

    def work(self, report, *, dry_run, limit):
        nightly.mail_waiting_list_progress(report, dry_run=dry_run, limit=limit)
