from datetime import timedelta

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Case, CharField, Exists, F, OuterRef, When
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from ecandidat.batches import BatchCommand
from ecandidat.models import OutboundEmail


class Command(BatchCommand):
    help = (
        "Delete from the outbox the sent, failed and cancelled e-mails older than OUTBOX_RETENTION_DAYS (the "
        "pending ones stay): a failed mail keeps its text for staff to resend, not for ever. A mail's age runs from "
        "its last event: sent, resent by staff, cancelled. --limit deletes at most this many mails, the oldest first. "
        "The back office's history of the outbox goes with its mails: the lines of the mails deleted (a resend by "
        "staff, titled with the recipient's address) and those whose mail is already gone (earlier runs)."
    )
    batch_name = "prune_outbox"

    def work(self, report, *, dry_run, limit):
        limit_date = timezone.now() - timedelta(days=settings.OUTBOX_RETENTION_DAYS)
        # A failed mail resent by staff (« Renvoyer ») and refused again is as old as that resend, not as its
        # creation: pruned by its creation date, its failure, error and resender vanished the night staff acted.
        old = (
            OutboundEmail.objects.filter(
                status__in=[
                    OutboundEmail.Status.SENT,
                    OutboundEmail.Status.FAILED,
                    OutboundEmail.Status.CANCELLED,
                ]
            )
            .alias(
                last_event_at=Case(
                    When(status=OutboundEmail.Status.SENT, then=F("sent_at")),
                    When(
                        status=OutboundEmail.Status.CANCELLED,
                        then=Coalesce("cancelled_at", "resent_at", "created_at"),
                    ),
                    default=Coalesce("resent_at", "created_at"),
                )
            )
            .filter(last_event_at__lt=limit_date)
        )
        # --limit: the oldest first, in one statement (a sliced subquery), the dry run counting the same rows.
        doomed = (
            old
            if limit is None
            else OutboundEmail.objects.filter(pk__in=old.order_by("last_event_at", "pk").values("pk")[:limit])
        )
        if dry_run:
            report.add("mails to delete", doomed.count())
            return
        with transaction.atomic():
            deleted, _ = doomed.delete()
            # The history (LogEntry) of the mails just deleted, and of those deleted before it went with them: its
            # lines (« Renvoyer », titled « CODE → address ») are found by the CNIL erasure and the campaign
            # destruction only through a mail that still exists (``accounts.services.delete_mails_of_accounts``),
            # so without it the candidate's address stayed in the history and in the staff's « Actions récentes ».
            # The outbox is read-only in the back office: no line of it stands for a mail deleted by hand. One
            # statement (``object_id`` is text: the mails' ids are compared as text), idempotent.
            mail = OutboundEmail.objects.annotate(key=Cast("pk", output_field=CharField())).filter(
                key=OuterRef("object_id")
            )
            LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(OutboundEmail)).exclude(
                Exists(mail)
            ).delete()
        report.add("mails deleted", deleted)
