from applications.services import nightly
from ecandidat.batches import BatchCommand


class Command(BatchCommand):
    help = (
        "Remind once, N days before the date de confirmation, the candidates with an unanswered favourable "
        "decision (CANDIDATURE_RELANCE_FAVO)."
    )
    batch_name = "remind_favourable_decisions"

    def work(self, report, *, dry_run, limit):
        nightly.remind_favourable_decisions(report, dry_run=dry_run, limit=limit)
