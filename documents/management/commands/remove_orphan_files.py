"""Delete stored files that no Document row points to (a crash between the file write and the commit).

Only files under a campaign prefix (``<campaign code>/``), the quarantine and the prefixes that higher layers declare
with ``documents.storage.register_file_owner`` (decision letters, commission packs) are considered, and only those
older than an hour, so uploads and builds in flight are spared.
"""

import datetime

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand
from django.utils import timezone

from documents.models import Document
from documents.storage import QUARANTINE_PREFIX, file_owners
from offers.models import Campaign

MIN_AGE = datetime.timedelta(hours=1)


def _walk(prefix: str):
    try:
        directories, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{prefix}{name}"
    for directory in directories:
        yield from _walk(f"{prefix}{directory}/")


def orphan_files(*, now=None) -> list[str]:
    now = now or timezone.now()
    prefixes = [f"{code}/" for code in Campaign.objects.values_list("code", flat=True)]
    prefixes += [f"{QUARANTINE_PREFIX}/{p}" for p in prefixes]
    known = set(Document.objects.values_list("file", flat=True))
    owned = file_owners()
    for held_names in owned.values():
        known.update(held_names())
    orphans = []
    for prefix in [*prefixes, *owned]:
        for name in _walk(prefix):
            if name in known:
                continue
            if now - default_storage.get_modified_time(name) < MIN_AGE:
                continue
            orphans.append(name)
    return orphans


class Command(BaseCommand):
    help = "Delete stored files of campaigns that no document row points to (older than one hour)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List the files without deleting them.")

    def handle(self, *args, dry_run=False, **options):
        orphans = orphan_files()
        for name in orphans:
            if not dry_run:
                default_storage.delete(name)
            self.stdout.write(name)
        verb = "would be deleted" if dry_run else "deleted"
        self.stdout.write(f"{len(orphans)} orphan file(s) {verb}.")
