"""Delete stored files that no Document row points to (a crash between the file write and the commit).

Only files under a campaign prefix (``<campaign code>/``), the quarantine and the prefixes that higher layers declare
with ``documents.storage.register_file_owner`` (decision letters, commission packs) are considered, and only those
older than an hour, so uploads and builds in flight are spared. A nightly batch like the others (``manage.py
nightly``): its run is recorded in the batch history, a second run refuses to start while one runs, ``--dry-run``
lists the files without deleting them and ``--limit N`` deletes at most N.

With the files on S3, the same prefixes are also searched for unfinished multipart uploads (django-storages sends a
file above 8 MB in parts: a worker killed while it stored a commission pack or an export leaves its parts in the
bucket, billed and holding personal data, yet in no listing of the objects). Those started more than an hour ago are
aborted, which deletes their parts; ``--dry-run`` lists them, ``--limit N`` aborts at most N.

A storage another deployment also writes to (one bucket, prefix or media root for a recette and production, or for
two universities) would lose that deployment's files: none of them is in this database. So the sweep first reads the
marker at the storage's root (``documents.storage.claim_storage``): absent, it writes this deployment's and goes on;
this deployment's, it goes on; another's, it deletes nothing and the run ends in error, its message naming both.
``--adopt-storage`` rewrites the marker with this deployment's, for a database that really moved (a new server, no
``DEPLOYMENT_ID``), then sweeps; with ``--dry-run`` it lists what the sweep would delete once adopted, writing nothing.
"""

import datetime

from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.translation import gettext
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from documents.models import Document
from documents.storage import (
    DEPLOYMENT_MARKER,
    QUARANTINE_PREFIX,
    StorageOwner,
    claim_storage,
    file_owners,
    read_storage_owner,
    shareable,
    this_deployment,
    write_storage_owner,
)
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


def _campaign_prefixes() -> list[str]:
    prefixes = [f"{code}/" for code in Campaign.objects.values_list("code", flat=True)]
    return prefixes + [f"{QUARANTINE_PREFIX}/{p}" for p in prefixes]


def orphan_files(*, now=None) -> list[str]:
    now = now or timezone.now()
    prefixes = _campaign_prefixes()
    known = set(Document.objects.values_list("file", flat=True))
    owned = file_owners()
    for held_names in owned.values():
        known.update(held_names())
    orphans = []
    for prefix in [*prefixes, *owned]:
        for name in _walk(prefix):
            if name in known or name == DEPLOYMENT_MARKER:  # the marker is no prefix's; never an orphan besides
                continue
            if now - default_storage.get_modified_time(name) < MIN_AGE:
                continue
            orphans.append(name)
    return orphans


def _bucket() -> S3Storage | None:
    storage = default_storage
    return storage if isinstance(storage, S3Storage) else None


def unfinished_uploads(*, now=None) -> list[tuple[str, str]]:
    """The multipart uploads under the sweep's prefixes started more than ``MIN_AGE`` ago, as (bucket key, upload
    id); none when the files are not on S3. The keys are the bucket's, the storage's ``location`` included."""
    storage = _bucket()
    if storage is None:
        return []
    now = now or timezone.now()
    paginator = storage.connection.meta.client.get_paginator("list_multipart_uploads")
    found: dict[tuple[str, str], None] = {}  # in order, once even where two prefixes overlap
    for prefix in [*_campaign_prefixes(), *file_owners()]:
        path = storage._normalize_name(clean_name(prefix))
        if not path.endswith("/"):  # a folder, as S3Storage.listdir reads it: "packs/" never matches "packs-old/"
            path += "/"
        for page in paginator.paginate(Bucket=storage.bucket_name, Prefix=path):
            for upload in page.get("Uploads", ()):
                if now - upload["Initiated"] >= MIN_AGE:
                    found[(upload["Key"], upload["UploadId"])] = None
    return list(found)


def abort_upload(key: str, upload_id: str) -> None:
    """Abort one of ``unfinished_uploads()``: the bucket deletes its parts."""
    storage = _bucket()
    assert storage is not None, "unfinished uploads are listed on S3 only"
    storage.connection.meta.client.abort_multipart_upload(Bucket=storage.bucket_name, Key=key, UploadId=upload_id)


class Command(BatchCommand):
    help = (
        "Delete stored files of campaigns that no document row points to, and abort the unfinished uploads to the "
        "bucket (older than one hour)."
    )
    batch_name = "remove_orphan_files"
    adopt_storage = False

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--adopt-storage",
            action="store_true",
            help=(
                "Rewrite the storage's deployment marker with this deployment's, then sweep: only when this "
                "deployment's database moved (the marker names the same database at its former address)."
            ),
        )

    def handle(self, *args, adopt_storage=False, **options):
        self.adopt_storage = adopt_storage
        super().handle(*args, **options)

    def _storage_refused(self, report, *, dry_run) -> bool:
        """Whether the storage belongs to another deployment (its marker says so): then the run deletes nothing and
        ends in error. ``--adopt-storage`` makes it this deployment's (not in a dry run, which writes nothing)."""
        if self.adopt_storage and shareable(default_storage):
            former = read_storage_owner()
            if not dry_run:
                write_storage_owner(replace=True)
            if former is not None and former.identity != this_deployment().identity:
                self.stdout.write(
                    f"{'would adopt' if dry_run else 'adopted'} the storage from {former.describe()}: its marker "
                    f"{'would name' if dry_run else 'names'} {this_deployment().describe()}"
                )
                report.add("storage to adopt" if dry_run else "storage adopted")
            return False
        other = claim_storage(write=not dry_run)
        if other is None:
            return False
        report.error(_refusal(other, this_deployment()))
        return True

    def work(self, report, *, dry_run, limit):
        if self._storage_refused(report, dry_run=dry_run):
            return
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
        uploads = unfinished_uploads()[:limit] if limit is not None else unfinished_uploads()
        for key, upload_id in uploads:
            if not dry_run:
                try:
                    abort_upload(key, upload_id)
                except Exception as exc:  # a storage hiccup on one upload: reported, the others still go
                    if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                        continue  # completed or aborted since the listing: nothing left to remove
                    report.error(f"{key} (unfinished upload): {type(exc).__name__}: {exc}")
                    continue
            self.stdout.write(f"{key} (unfinished upload)")
            report.add("unfinished uploads to abort" if dry_run else "unfinished uploads aborted")


def _refusal(other: StorageOwner, ours: StorageOwner) -> str:
    return gettext(
        "Nothing deleted: the file storage belongs to another deployment. Its marker %(marker)s names %(other)s; "
        "this deployment is %(ours)s. Each file this database does not list would have been deleted, the other "
        "deployment's included. Give each deployment its own storage: its own bucket, or its own prefix in the "
        "bucket (STORAGE_LOCATION), or its own MEDIA_ROOT on disk. If this deployment's database has only moved "
        "(another server, same data), run “manage.py remove_orphan_files --adopt-storage” once; DEPLOYMENT_ID then "
        "keeps its identity through the next moves."
    ) % {"marker": DEPLOYMENT_MARKER, "other": other.describe(), "ours": ours.describe()}
