"""Run every nightly batch in order, inside the maintenance window (deploy/crontab).

Outside the window (read in TIME_ZONE, ``ecandidat.maintenance.in_window``) it refuses to start when the window is
enforced: a crontab read in another timezone than TIME_ZONE (CRON_TZ not set to it, or a cron that ignores CRON_TZ
on a server in another timezone) would otherwise withdraw, archive and mail while candidates are on the site. The
refusal goes to the log (deploy/crontab: stderr too) and MAILTO gets « nightly failed ». ``--force`` runs anyway
(a night's run to catch up by hand, said explicitly); ``--dry-run`` changes nothing and runs at any time.

A batch fails when it raises, and when the run it recorded ended in error: most batches say what went wrong (the
archiving with no next campaign to activate, a directory that does not answer, an application whose mail could not be
written) by their run's errors and return normally. The sequence's record names each failed batch in the
institution's language, by its label and its command (« Archivage de campagne (archive_campaigns) »), and the command
then exits with an error naming their commands, for cron's mail; the later batches still run.
"""

import io

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max
from django.utils import timezone, translation

from ecandidat.batch_labels import batch_label
from ecandidat.batches import NIGHTLY, BatchAlreadyRunning, Report, drop_broken_connections, run_batch
from ecandidat.maintenance import in_window
from ecandidat.models import BatchRun

# In eCandidat's order: accounts first, then data refreshes, then the decisions' deadlines, then clean-up.
BATCHES = [
    "refresh_staff_directory",  # eCandidat BATCH_MAJ_GESTIONNAIRE runs first, at 21:30
    "purge_unvalidated_accounts",
    # The reference lists before the students: the Pégase import turns its codes into the dossier's through them.
    "refresh_reference_data",
    "sync_sis",
    "sync_complementary_forms",
    "remind_transmission",  # not in eCandidat: the return deadline's reminder, before the decisions' deadlines
    "remind_favourable_decisions",
    "withdraw_expired_confirmations",
    "recompute_waiting_list_ranks",
    "mail_waiting_list_progress",  # after the ranks: one mail per candidate who moved up
    # After the day's confirmations and withdrawals (eCandidat BATCH_ASYNC_OPI).
    "transfer_opi",
    "archive_campaigns",
    "destroy_archived_campaigns",
    # After archiving and destruction (only active campaigns are scanned), before the orphan sweep; the longest.
    "rescan_documents",
    "remove_orphan_files",
    "prune_login_history",  # not in eCandidat: the logins' lines of the accounts' history (CNIL: 6 months to 1 year)
    "prune_opi_files",  # not in eCandidat: the day's OPI files once collected and kept OPI_FILES_RETENTION_DAYS
    "prune_outbox",
    "prune_batch_history",  # last: the runs above are recorded first (eCandidat BATCH_DESTRUCT_HISTO)
]


class Command(BaseCommand):
    help = "Run the nightly batches in order. Each also runs alone; a failed batch does not stop the next ones."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what each batch would do; change nothing (at any time)."
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even outside the maintenance window, while candidates may be on the site.",
        )

    def handle(self, *args, dry_run=False, force=False, **options):
        now = timezone.localtime()
        if settings.MAINTENANCE_WINDOW_ENFORCED and not (dry_run or force or in_window(now)):
            raise CommandError(
                f"Refused: it is {now:%H:%M} in {settings.TIME_ZONE}, outside the maintenance window "
                f"({settings.MAINTENANCE_START:%H:%M}-{settings.MAINTENANCE_END:%H:%M}); nothing was run. "
                f"Have cron read the crontab in TIME_ZONE (CRON_TZ={settings.TIME_ZONE}, deploy/crontab), or pass "
                "--force to run the batches now anyway."
            )
        # The sequence is claimed as a batch of its own: a second ``nightly`` (``--force`` by hand while cron's still
        # works) is refused whole. Each batch alone refused to run twice, but the second sequence skipped the one in
        # progress and ran the later ones (ranks, OPI transfer, archiving) before the first sequence's withdrawals.
        self.failed: list[str] = []  # the commands of the failed batches, for cron's mail
        try:
            # The batches' records in the institution's language, whoever runs the sequence (cron has no language
            # active, which is the same).
            with translation.override(settings.LANGUAGE_CODE):
                run_batch(NIGHTLY, self._run_each, dry_run=dry_run)
        except BatchAlreadyRunning:
            raise CommandError(
                "Refused: another `manage.py nightly` is still running (see the batch history); nothing was run."
            ) from None
        if self.failed:
            raise CommandError(
                f"{len(self.failed)} batch(es) failed: {', '.join(self.failed)}. See the batch history."
            )

    def _run_each(self, report: Report, *, dry_run: bool, limit: int | None) -> None:
        for name in BATCHES:
            drop_broken_connections()
            out, err = io.StringIO(), io.StringIO()
            try:
                since = BatchRun.objects.aggregate(last=Max("pk"))["last"] or 0
                call_command(name, dry_run=dry_run, stdout=out, stderr=err)
                ended_in_error = _ended_in_error(name, since=since, dry_run=dry_run)
            except BatchAlreadyRunning as exc:
                self._failed(report, name)
                self.stderr.write(str(exc))
            except Exception as exc:  # recorded in the batch history; go on with the next batch
                self._failed(report, name)
                self.stderr.write(f"{name} failed: {type(exc).__name__}: {exc}")
            else:
                if ended_in_error:
                    self._failed(report, name)
                    self.stderr.write(f"{name} failed: its run ended in error (see the batch history).")
                else:
                    report.add("batches run")
            self.stdout.write(out.getvalue().rstrip())
            if err.getvalue().strip():
                self.stderr.write(err.getvalue().rstrip())

    def _failed(self, report: Report, name: str) -> None:
        """The sequence's error line, as the history's batch column names it: « Archivage de campagne
        (archive_campaigns) », in the language ``handle`` made active (the institution's)."""
        self.failed.append(name)
        report.error(f"{batch_label(name)} ({name})")


def _ended_in_error(name: str, *, since: int, dry_run: bool) -> bool:
    """Whether the run of batch ``name`` that the call just made recorded (a row after ``since``, of the same kind)
    ended in error. ``run_batch`` ends a run « en erreur » exactly when it recorded errors or its work raised, so the
    status says it (its errors may be cut at 20,000 characters, never emptied). A real run is the only one of its name
    while it works (``batch_single_running``); a dry run reads dry runs only, never a real run made meanwhile by hand,
    and so names the batches that would fail."""
    return BatchRun.objects.filter(name=name, dry_run=dry_run, pk__gt=since, status=BatchRun.Status.ERROR).exists()
