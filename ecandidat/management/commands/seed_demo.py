from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Load the demo data (catalogue of the user guide, staff and candidates). Safe to run again."

    def handle(self, *args, **options):
        from ecandidat import demo

        with transaction.atomic():
            lines = demo.seed_all()
        for line in lines:
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
