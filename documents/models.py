"""Uploaded files and the candidate's answer to each requested piece (ecandidat-features §1.7, §2.4).

A ``Document`` is one stored file (private storage, random name, checked by ``documents.validation``). A
``PieceSubmission`` is the state of one requested piece for a candidate: for one application, or shared by all of
the candidate's applications when the piece is common and not unique (``application`` is then empty).
"""

import uuid
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from documents.enums import PieceStatus, ScanStatus

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser


def document_path(instance: "Document", filename: str) -> str:
    """``<campaign code>/<uuid><ext>``: the stored name says nothing about the candidate or the original name."""
    extension = PurePosixPath(filename).suffix.lower()
    return f"{instance.campaign_code}/{uuid.uuid4().hex}{extension}"


class Document(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    campaign_code = models.CharField(_("campaign"), max_length=20)
    file = models.FileField(_("file"), upload_to=document_path, max_length=200)
    original_name = models.CharField(_("original name"), max_length=120)
    size = models.PositiveIntegerField(_("size (bytes)"))
    content_type = models.CharField(_("content type"), max_length=40)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    scan_status = models.CharField(_("antivirus"), max_length=8, choices=ScanStatus, default=ScanStatus.NOT_SCANNED)
    scan_detail = models.CharField(_("antivirus detail"), max_length=255, blank=True)
    scanned_at = models.DateTimeField(_("scanned at"), null=True, blank=True)
    # What clamd answered to VERSION before the scan ("ClamAV 1.0.7/27000/…"), and the signature database
    # version in it (27000): a clean file is scanned again once clamd has newer signatures. Empty when clamd
    # loads no official database (it then reports no version).
    scanned_with = models.CharField(_("antivirus version"), max_length=120, blank=True)
    signature_version = models.PositiveIntegerField(_("antivirus signature version"), null=True, blank=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        indexes = [
            models.Index(fields=["scan_status"], condition=Q(scan_status="PENDING"), name="document_scan_pending"),
            # The nightly re-scan: clean files, oldest scan first; failed scans to retry.
            models.Index(fields=["scanned_at", "id"], condition=Q(scan_status="CLEAN"), name="document_scan_clean"),
            models.Index(fields=["id"], condition=Q(scan_status="ERROR"), name="document_scan_error"),
        ]

    def __str__(self):
        return self.original_name


class PieceSubmissionQuerySet(models.QuerySet["PieceSubmission"]):
    def for_candidate_user(self, user: "AbstractBaseUser | AnonymousUser") -> "PieceSubmissionQuerySet":
        if not user.is_authenticated:
            return self.none()
        return self.filter(candidate__user_id=user.pk)


class PieceSubmission(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    candidate = models.ForeignKey(
        "applications.Candidate", verbose_name=_("candidate"), on_delete=models.PROTECT, related_name="pieces"
    )
    piece_type = models.ForeignKey(
        "offers.PieceType", verbose_name=_("piece"), on_delete=models.PROTECT, related_name="submissions"
    )
    application = models.ForeignKey(
        "applications.Application",
        verbose_name=_("application"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="pieces",
        help_text=_("Empty for a common piece shared by all the candidate's applications."),
    )
    status = models.CharField(_("status"), max_length=2, choices=PieceStatus, default=PieceStatus.WAITING)
    document = models.OneToOneField(
        Document, verbose_name=_("file"), null=True, blank=True, on_delete=models.PROTECT, related_name="submission"
    )
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("status changed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    objects = PieceSubmissionQuerySet.as_manager()

    class Meta:
        verbose_name = _("submitted piece")
        verbose_name_plural = _("submitted pieces")
        constraints = [
            models.UniqueConstraint(
                fields=["candidate", "piece_type"],
                condition=Q(application__isnull=True),
                name="piece_shared_once_per_candidate",
            ),
            models.UniqueConstraint(
                fields=["application", "piece_type"],
                condition=Q(application__isnull=False),
                name="piece_once_per_application",
            ),
            # A file exists exactly when the candidate has sent one: waiting and "not concerned" pieces have none.
            models.CheckConstraint(
                condition=Q(status__in=["AT", "NC"], document__isnull=True)
                | Q(status__in=["TR", "VA", "RE"], document__isnull=False),
                name="piece_file_matches_status",
            ),
        ]

    def __str__(self):
        return f"{self.piece_type_id} ({self.status})"
