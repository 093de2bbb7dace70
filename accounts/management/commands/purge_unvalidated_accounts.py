from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.services import purge_unvalidated_accounts


class Command(BaseCommand):
    help = "Delete candidate accounts whose e-mail address was not validated within UNVALIDATED_ACCOUNT_DAYS days."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count the accounts, delete nothing.")

    def handle(self, *args, dry_run=False, **options):
        count = purge_unvalidated_accounts(dry_run=dry_run)
        verb = "would be deleted" if dry_run else "deleted"
        self.stdout.write(f"{count} account(s) not validated within {settings.UNVALIDATED_ACCOUNT_DAYS} days {verb}.")
