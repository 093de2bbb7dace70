from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from applications.demo_all import seed_all
from ecandidat.checks import is_production


class Command(BaseCommand):
    help = "Load the demo data (catalogue of the user guide, staff and candidates). Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument(
            "--on-production-settings",
            action="store_true",
            help="Run with the production settings anyway (a demonstration or benchmark instance, never a real one).",
        )

    def handle(self, *args, **options):
        # The demo's logins and passwords are in the README, a superuser among them: `deploy/manage.sh seed_demo`
        # ran on a production database without a word.
        if is_production() and not options["on_production_settings"]:
            raise CommandError(
                "seed_demo creates accounts whose passwords are published in the README (a superuser among them): "
                "it does not run with the production settings. For a demonstration or benchmark instance only: "
                "--on-production-settings."
            )
        with transaction.atomic():
            lines = seed_all()
        for line in lines:
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
