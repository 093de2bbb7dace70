from django.conf import settings
from django.utils.translation import gettext, ngettext

from accounts import directory
from accounts.directory_refresh import BATCH, refresh_staff_from_directory
from ecandidat.batches import BatchCommand


class Command(BatchCommand):
    help = (
        "Refresh staff names and addresses from the LDAP directory and deactivate staff it no longer lists "
        "(eCandidat BATCH_MAJ_GESTIONNAIRE); a failing directory changes nothing, and more than "
        "STAFF_DIRECTORY_MAX_DEACTIVATIONS deactivations in one run are refused."
    )
    batch_name = BATCH

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--max-deactivations",
            type=int,
            default=None,
            help="Allow this many deactivations in this run (default: STAFF_DIRECTORY_MAX_DEACTIVATIONS).",
        )

    def handle(self, *args, max_deactivations=None, **options):
        self.max_deactivations = (
            settings.STAFF_DIRECTORY_MAX_DEACTIVATIONS if max_deactivations is None else max_deactivations
        )
        super().handle(*args, **options)

    def work(self, report, *, dry_run, limit):
        if not directory.is_configured():
            report.add("skipped, no directory configured (LDAP_URL)")
            return
        outcome = refresh_staff_from_directory(max_deactivations=self.max_deactivations, dry_run=dry_run, limit=limit)
        # The errors go to the run's record, in the active language (the institution's: cron and ``manage.py
        # nightly`` run the batch with no other); ``BatchCommand`` writes them once to stderr, for cron's mail, as
        # every batch's. Counts stay keys (English), as every batch's.
        if outcome.directory_error:
            report.error(
                gettext("directory unavailable, nothing changed: %(reason)s") % {"reason": outcome.directory_error}
            )
            return
        report.add("staff accounts checked", outcome.checked)
        report.add("accounts to refresh" if dry_run else "accounts refreshed", len(outcome.refreshed))
        report.add("accounts to deactivate" if dry_run else "accounts deactivated", len(outcome.deactivated))
        report.add("local accounts kept (not in the directory, with a password)", outcome.local_kept)
        if outcome.ambiguous_kept:
            report.add("accounts kept, their uid ambiguous in the directory", outcome.ambiguous_kept)
        if outcome.deactivations_refused:
            report.error(
                ngettext(
                    "%(count)d staff account would be deactivated, more than the %(allowed)d allowed "
                    "(STAFF_DIRECTORY_MAX_DEACTIVATIONS): it was not. Check LDAP_URL, LDAP_PEOPLE_BASE and "
                    "LDAP_STAFF_FILTER; if the directory is right, run once with --max-deactivations N.",
                    "%(count)d staff accounts would be deactivated, more than the %(allowed)d allowed "
                    "(STAFF_DIRECTORY_MAX_DEACTIVATIONS): none was. Check LDAP_URL, LDAP_PEOPLE_BASE and "
                    "LDAP_STAFF_FILTER; if the directory is right, run once with --max-deactivations N.",
                    outcome.deactivations_refused,
                )
                % {"count": outcome.deactivations_refused, "allowed": self.max_deactivations}
            )
        for failure in outcome.failures:
            report.error(
                gettext("staff account not refreshed or deactivated, the database refused it: %(failure)s")
                % {"failure": failure}
            )
        for username in outcome.deactivated:
            self.stdout.write(f"{'would deactivate' if dry_run else 'deactivated'}: {username}")
