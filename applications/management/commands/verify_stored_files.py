from itertools import chain

from django.core.management.base import BaseCommand, CommandError

from applications.stored_files import verify_reference_files, verify_stored_files


class Command(BaseCommand):
    help = (
        "Check that the file of every piece is in the storage, of its recorded size (and content, with --checksums), "
        "and, without --campaign, that the piece types' templates and the letters' signature images are there. "
        "Read-only. Exits with status 1 when a file is missing or changed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaign", help="Only this campaign's files (its code).")
        parser.add_argument("--checksums", action="store_true", help="Also read each file and compare its SHA-256.")

    def handle(self, *args, campaign=None, checksums=False, **options):
        checked = problems = 0
        findings = verify_stored_files(campaign=campaign, checksums=checksums)
        if not campaign:
            findings = chain(findings, verify_reference_files())
        for finding in findings:
            checked += 1
            if finding is not None:
                problems += 1
                self.stdout.write(finding.line())
        summary = f"{checked} file(s) checked, {problems} missing or changed."
        if problems:
            raise CommandError(summary, returncode=1)
        self.stdout.write(summary)
