from django.core.management.base import BaseCommand
from django.db import transaction

from ecandidat.emails import enqueue_email


class Command(BaseCommand):
    help = "Put a test e-mail in the outbox for ADDRESS and send it through the configured worker and SMTP server."

    def add_arguments(self, parser):
        parser.add_argument("address")

    def handle(self, *args, address, **options):
        with transaction.atomic():
            email = enqueue_email(
                to=address, code="OUTBOX_CHECK", template_base="ecandidat/email/outbox_check", context={}
            )
        self.stdout.write(f"Queued outbox row {email.public_id} for {address}.")
