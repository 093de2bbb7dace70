from django.core.management.base import BaseCommand, CommandError

from ecandidat.emails import send_pending_mails


class Command(BaseCommand):
    help = (
        "Send the outbox rows that are due: pending mails whose next attempt has come, and mails whose sender died "
        "(expired lease). Run it from cron every minute (deploy/crontab); safe to run alongside workers and beat."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count every mail that is due (at most --limit when given); send nothing. The backlog: `ops_status`.",
        )
        parser.add_argument("--limit", type=int, default=None, help="Send at most this many mails.")

    def handle(self, *args, dry_run=False, limit=None, **options):
        if limit is not None and limit < 1:
            raise CommandError(f"--limit must be 1 or more, not {limit}.")
        # Not a BatchRun: it runs every minute all day, and each row already records its attempts and errors.
        counts = send_pending_mails(limit=limit, dry_run=dry_run)
        if not counts and options["verbosity"] == 0:
            return  # cron runs it with -v 0: a log line only when there was something to send
        prefix = "[dry run] " if dry_run else ""
        summary = ", ".join(f"{key}: {value}" for key, value in sorted(counts.items())) or "nothing to do"
        self.stdout.write(f"{prefix}send_pending_mails: {summary}")
