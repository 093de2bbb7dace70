from django.core.management.base import BaseCommand
from django.db import transaction

from applications.demo_all import seed_all


class Command(BaseCommand):
    help = "Load the demo data (catalogue of the user guide, staff and candidates). Safe to run again."

    def handle(self, *args, **options):
        with transaction.atomic():
            lines = seed_all()
        for line in lines:
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
