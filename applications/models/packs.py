"""The commission pack (issue 11): one ZIP of the selected applications' dossier PDFs, or one PDF of them all with
a table of contents, built in the background."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class CommissionPack(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING", _("waiting")
        RUNNING = "RUNNING", _("being built")
        DONE = "DONE", _("ready")
        FAILED = "FAILED", _("failed")

    class Kind(models.TextChoices):
        ZIP = "ZIP", _("ZIP of the dossier PDFs")
        PDF = "PDF", _("one PDF with a table of contents")
        PIECE = "PIE", _("ZIP of one piece of each dossier")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("format"), max_length=3, choices=Kind, default=Kind.ZIP)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    application_ids = models.JSONField(_("applications"), default=list)
    # The piece of a PIECE pack (eCandidat: "one chosen piece type across the selected dossiers"); emptied if the
    # piece type is deleted meanwhile, and the build then fails saying so.
    piece_type = models.ForeignKey(
        "offers.PieceType", verbose_name=_("piece"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(_("status"), max_length=8, choices=Status, default=Status.PENDING)
    total = models.PositiveIntegerField(_("dossiers"), default=0)
    done = models.PositiveIntegerField(_("dossiers built"), default=0)
    file = models.FileField(_("file"), upload_to="packs/", blank=True, max_length=200)
    size = models.PositiveBigIntegerField(_("size"), default=0)
    # Stamped when the build claims the pack and after each dossier: a RUNNING pack whose stamp is old has lost its
    # worker (``applications.packs.PACK_STALE_AFTER``). Each write compares it first, so that a build taken over
    # meanwhile stops rather than overwrite the new one's result.
    progress_at = models.DateTimeField(_("last progress"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("commission pack")
        verbose_name_plural = _("commission packs")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(done__lte=models.F("total")), name="pack_done_within_total"),
            models.CheckConstraint(condition=~Q(status="DONE") | ~Q(file=""), name="pack_done_has_file"),
        ]

    def __str__(self):
        return str(self.public_id)

    @property
    def extension(self) -> str:
        return "pdf" if self.kind == self.Kind.PDF else "zip"

    @property
    def content_type(self) -> str:
        return "application/pdf" if self.kind == self.Kind.PDF else "application/zip"

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0
