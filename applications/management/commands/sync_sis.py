from django.db import transaction

from applications.models import Candidate
from applications.services import import_from_sis
from applications.sis import StudentRecordAnswerError, StudentRecordsUnavailable
from ecandidat.batches import BatchCommand
from ecandidat.exceptions import BusinessRuleError

# Broken answers in a row after which the system is taken as down: a Pégase answering 500 to every learner is an
# outage, and each next dossier would only add its error.
MAX_ANSWER_ERRORS_IN_A_ROW = 5


class Command(BatchCommand):
    help = (
        "Re-import from the student records system the dossiers of students (accounts with a student number or an "
        "imported dossier): état civil, baccalauréat and cursus interne, what changed written to the history of "
        "their transmitted applications. Run after the nightly import_sis."
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
        answer_errors_in_a_row = 0
        for candidate in candidates.iterator(chunk_size=500):
            if dry_run:
                report.add("dossiers to refresh")
                continue
            try:
                with transaction.atomic():  # one transaction per dossier: one bad record stops nothing else
                    # No one acted: the history rows of what changed name this batch as their source.
                    found = import_from_sis(candidate=candidate, actor=None, batch=self.batch_name)
            except StudentRecordAnswerError as exc:
                # The system answered, but this student's answer is broken (an error status on their record, not
                # JSON, another shape): stopping here would stop every night at the same record, and the dossiers
                # after it would never be refreshed again. This one stays as it was; the next ones are refreshed.
                answer_errors_in_a_row += 1
                if answer_errors_in_a_row >= MAX_ANSWER_ERRORS_IN_A_ROW:
                    report.error(
                        f"candidate {candidate.pk}: {exc}; {answer_errors_in_a_row} dossiers in a row got a broken "
                        "answer: the student records system is taken as down, the batch stops, the dossiers after "
                        "this one are unchanged"
                    )
                    return
                report.error(f"candidate {candidate.pk}: {exc}; this dossier is unchanged, the batch goes on")
                continue
            except StudentRecordsUnavailable as exc:
                # The system is down: every next dossier would wait for its timeout too. Tomorrow's run retries.
                report.error(f"candidate {candidate.pk}: {exc}; the batch stops, the other dossiers are unchanged")
                return
            except BusinessRuleError as exc:
                # A rule refused the records (the SIS's INE is another dossier's of the campaign): the dossier stays
                # as it was until the staff settle it; said in the words the back office shows.
                answer_errors_in_a_row = 0  # the system answered this one usably
                report.error(f"candidate {candidate.pk}: {exc}")
                continue
            except Exception as exc:
                answer_errors_in_a_row = 0
                report.error(f"candidate {candidate.pk}: {type(exc).__name__}: {exc}")
                continue
            answer_errors_in_a_row = 0
            report.add("dossiers refreshed" if found else "students not found")
