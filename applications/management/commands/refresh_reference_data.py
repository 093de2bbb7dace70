from applications.services.reference import refresh_reference_data
from applications.sis_backend import get_backend
from ecandidat.batches import BatchCommand


class Command(BatchCommand):
    help = (
        "Refresh the reference lists of the dossier forms (countries, communes, schools, bac series, spécialités "
        "of the bac général) from the student records system (STUDENT_RECORDS_BACKEND). Run before sync_sis."
    )
    batch_name = "refresh_reference_data"

    def work(self, report, *, dry_run, limit):
        refresh_reference_data(backend=get_backend(), report=report, dry_run=dry_run)
