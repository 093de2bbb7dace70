"""Load the local copy of the student records system from a CSV export (docs/sis-format.md).

Idempotent: each student in the file replaces their previous record. Lines in error are reported with their
number and their student is skipped; the command exits with status 1 when there were errors, so cron notices.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from applications.services import store_sis_records
from applications.sis import CsvFormatError, parse_csv


class Command(BaseCommand):
    help = "Import students from a student records system CSV export (UTF-8, ';' separator)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="Check the file and report, write nothing.")

    def handle(self, *args, file: Path, dry_run: bool, **options):
        try:
            text = file.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file") from None
        except UnicodeDecodeError:
            raise CommandError(f"{file}: not UTF-8") from None
        try:
            result = parse_csv(text)
        except CsvFormatError as exc:
            raise CommandError(f"{file}: {exc}") from None
        for error in result.errors:
            self.stderr.write(f"{file}: {error}")
        counts = {"created": 0, "updated": 0} if dry_run else store_sis_records(students=result.students, actor=None)
        self.stdout.write(
            f"{len(result.students)} students read, {counts['created']} created, {counts['updated']} updated, "
            f"{len(result.errors)} lines refused{' (dry run)' if dry_run else ''}"
        )
        if result.errors:
            raise CommandError(f"{len(result.errors)} lines refused", returncode=1)
