"""Cross-cutting models: the e-mail outbox."""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboundEmailQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(status=OutboundEmail.Status.PENDING)


class OutboundEmail(models.Model):
    """One e-mail, written in the same transaction as the action that causes it, then sent by a worker.

    The row is the proof that a mail was sent ("I never received the decision"), and what the demonstration
    mailbox lists when no SMTP server is configured.
    """

    class Status(models.TextChoices):
        PENDING = "PENDING", _("pending")
        SENT = "SENT", _("sent")
        FAILED = "FAILED", _("failed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    code = models.CharField(_("code"), max_length=60, help_text=_("The eCandidat mail code, e.g. CPT_MIN_CREATE."))
    language = models.CharField(_("language"), max_length=8)
    to = models.EmailField(_("recipient"), max_length=254)
    subject = models.CharField(_("subject"), max_length=255)
    body = models.TextField(_("body"))
    html_body = models.TextField(_("HTML body"), blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    objects = OutboundEmailQuerySet.as_manager()

    class Meta:
        verbose_name = _("outgoing e-mail")
        verbose_name_plural = _("outgoing e-mails")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["to"], name="outbox_to_idx"),
            models.Index(fields=["status"], condition=models.Q(status="PENDING"), name="outbox_pending_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="SENT", sent_at__isnull=False) | ~models.Q(status="SENT"),
                name="outbox_sent_has_date",
            )
        ]

    def __str__(self):
        return f"{self.code} → {self.to}"
