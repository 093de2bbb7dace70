from applications.services import nightly
from ecandidat.batches import BatchCommand


class Command(BatchCommand):
    help = (
        "Remind once, N days before the return deadline, the candidates who have not transmitted an online "
        "application (CANDIDATURE_RELANCE_TRANSMISSION)."
    )
    batch_name = "remind_transmission"

    def work(self, report, *, dry_run, limit):
        nightly.remind_untransmitted_applications(report, dry_run=dry_run, limit=limit)
