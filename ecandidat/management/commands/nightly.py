"""Run every nightly batch in order, inside the maintenance window (deploy/crontab)."""

import io

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from ecandidat.batches import BatchAlreadyRunning

# In eCandidat's order: accounts first, then data refreshes, then the decisions' deadlines, then clean-up.
BATCHES = [
    "purge_unvalidated_accounts",
    "sync_sis",
    "prune_outbox",
]


class Command(BaseCommand):
    help = "Run the nightly batches in order. Each also runs alone; a failed batch does not stop the next ones."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Show what each batch would do; change nothing.")

    def handle(self, *args, dry_run=False, **options):
        failed = []
        for name in BATCHES:
            out, err = io.StringIO(), io.StringIO()
            try:
                call_command(name, dry_run=dry_run, stdout=out, stderr=err)
            except BatchAlreadyRunning as exc:
                failed.append(name)
                self.stderr.write(str(exc))
            except Exception as exc:  # recorded in the batch history; go on with the next batch
                failed.append(name)
                self.stderr.write(f"{name} failed: {type(exc).__name__}: {exc}")
            self.stdout.write(out.getvalue().rstrip())
            if err.getvalue().strip():
                self.stderr.write(err.getvalue().rstrip())
        if failed:
            raise CommandError(f"{len(failed)} batch(es) failed: {', '.join(failed)}. See the batch history.")
