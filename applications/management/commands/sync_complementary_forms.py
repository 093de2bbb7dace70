from applications.limesurvey_sync import sync_complementary_forms
from ecandidat.batches import BatchCommand


class Command(BatchCommand):
    help = (
        "Import the completed LimeSurvey responses of the complementary forms in service, keeping the latest per "
        "candidate (numDossier) or per application (idCandidature). LimeSurvey down: logged, retried next night."
    )
    batch_name = "sync_complementary_forms"

    def work(self, report, *, dry_run, limit):
        sync_complementary_forms(report, dry_run=dry_run, limit=limit)
