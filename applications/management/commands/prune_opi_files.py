from applications.export_jobs import prune_export_jobs
from applications.opi.services import PRUNE_BATCH, prune_opi_files
from applications.packs import prune_packs
from ecandidat.batches import BatchCommand


class Command(BatchCommand):
    help = (
        "Erase the day's OPI files (candidates' identities and addresses) collected more than "
        "OPI_FILES_RETENTION_DAYS days ago, and those of campaigns whose dossiers are destroyed; the days stay with "
        "their counts. Files nobody collected (written to OPI_EXPORT_DIR or downloaded) are kept. --limit counts "
        "days. Also deletes the background exports older than EXPORT_RETENTION and the commission packs older than "
        "PACK_RETENTION (rows and files)."
    )
    batch_name = PRUNE_BATCH

    def work(self, report, *, dry_run, limit):
        prune_opi_files(report, dry_run=dry_run, limit=limit)
        # The background exports past EXPORT_RETENTION (applications.export_jobs): rows and files.
        exports = prune_export_jobs(dry_run=dry_run)
        if exports:  # most nights none: the history keeps only what happened
            report.add("exports to delete" if dry_run else "exports deleted", exports)
        # The commission packs past PACK_RETENTION (applications.packs): rows and files, the last of a season too.
        packs = prune_packs(dry_run=dry_run)
        if packs:
            report.add("commission packs to delete" if dry_run else "commission packs deleted", packs)
