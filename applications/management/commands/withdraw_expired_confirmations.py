from applications.services import nightly
from ecandidat.batches import BatchCommand


class Command(BatchCommand):
    help = (
        "Withdraw the favourable decisions not confirmed by their date de confirmation "
        "(CANDIDATURE_DESIST_AUTO), then promote from the waiting lists."
    )
    batch_name = "withdraw_expired_confirmations"

    def work(self, report, *, dry_run, limit):
        nightly.withdraw_expired_confirmations(report, dry_run=dry_run, limit=limit)
