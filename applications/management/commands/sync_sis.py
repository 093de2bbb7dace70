from django.db import transaction

from applications.models import Candidate
from applications.services import import_from_sis
from applications.sis import StudentRecordsUnavailable
from ecandidat.batches import BatchCommand
from ecandidat.exceptions import BusinessRuleError


class Command(BatchCommand):
    help = (
        "Re-import from the student records system the dossiers of students (accounts with a student number or an "
        "imported dossier): état civil, baccalauréat and cursus interne. Run after the nightly import_sis."
    )
    batch_name = "sync_sis"

    def work(self, report, *, dry_run, limit):
        candidates = (
            Candidate.objects.filter(user__campaign__is_active=True)
            .exclude(sis_locked=False, user__student_number="")
            .select_related("user")
            .order_by("pk")
        )
        if limit:
            candidates = candidates[:limit]
        for candidate in candidates.iterator(chunk_size=500):
            if dry_run:
                report.add("dossiers to refresh")
                continue
            try:
                with transaction.atomic():  # one transaction per dossier: one bad record stops nothing else
                    found = import_from_sis(candidate=candidate, actor=None)
            except StudentRecordsUnavailable as exc:
                # The system is down: every next dossier would wait for its timeout too. Tomorrow's run retries.
                report.error(f"candidate {candidate.pk}: {exc}; the batch stops, the other dossiers are unchanged")
                return
            except BusinessRuleError as exc:
                # A rule refused the records (the SIS's INE is another dossier's of the campaign): the dossier stays
                # as it was until the staff settle it; said in the words the back office shows.
                report.error(f"candidate {candidate.pk}: {exc}")
                continue
            except Exception as exc:
                report.error(f"candidate {candidate.pk}: {type(exc).__name__}: {exc}")
                continue
            report.add("dossiers refreshed" if found else "students not found")
