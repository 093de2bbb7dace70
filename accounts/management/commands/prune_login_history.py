from accounts.services import prune_login_history
from ecandidat.batches import BatchCommand


class Command(BatchCommand):
    help = (
        "Delete the login lines of the accounts' history older than LOGIN_HISTORY_RETENTION_DAYS, by chunks "
        "(--limit: at most this many chunks); the other lines of the history stay."
    )
    batch_name = "prune_login_history"

    def work(self, report, *, dry_run, limit):
        prune_login_history(report, dry_run=dry_run, limit=limit)
