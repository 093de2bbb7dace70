"""Delete stored files that no Document row points to (a crash between the file write and the commit).

Only files under a campaign prefix (``<campaign code>/``), the quarantine and the prefixes that higher layers declare
with ``documents.storage.register_file_owner`` (decision letters, commission packs) are considered, and only those
older than an hour, so uploads and builds in flight are spared. A nightly batch like the others (``manage.py
nightly``): its run is recorded in the batch history, a second run refuses to start while one runs, ``--dry-run``
lists the files without deleting them and ``--limit N`` deletes at most N.
"""

import datetime

from django.core.files.storage import default_storage
from django.utils import timezone

from documents.models import Document
from documents.storage import QUARANTINE_PREFIX, file_owners
from ecandidat.batches import BatchCommand
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


class Command(BatchCommand):
    help = "Delete stored files of campaigns that no document row points to (older than one hour)."
    batch_name = "remove_orphan_files"

    def work(self, report, *, dry_run, limit):
        orphans = orphan_files()[:limit] if limit is not None else orphan_files()
        for name in orphans:
            if not dry_run:
                try:
                    default_storage.delete(name)
                except Exception as exc:  # a storage hiccup on one file: reported, the others still go
                    report.error(f"{name}: {type(exc).__name__}: {exc}")
                    continue
            self.stdout.write(name)
            report.add("orphan files to delete" if dry_run else "orphan files deleted")
