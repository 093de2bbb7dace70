from accounts.services import purge_unvalidated_accounts
from ecandidat.batches import BatchCommand


class Command(BatchCommand):
    help = "Delete candidate accounts whose e-mail address was not validated within UNVALIDATED_ACCOUNT_DAYS days."
    batch_name = "purge_unvalidated_accounts"

    def work(self, report, *, dry_run, limit):
        report.add(
            "accounts to delete" if dry_run else "accounts deleted",
            purge_unvalidated_accounts(dry_run=dry_run, report=report),
        )
