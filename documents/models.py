"""Uploaded files (ecandidat-features §1.7, §2.4; security reference A.3).

A ``Document`` is one stored file (private storage, random name, checked by ``documents.validation``, scanned by
``documents.scanning``). This app knows nothing of applications: what a file is *for* (the candidate's answer to
a requested piece, ``applications.PieceSubmission``) belongs to the layer above, which points to the document.
"""

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from documents.enums import ScanStatus


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
    # The account whose file it is, once nothing of the layer above points to it any more: a quarantined file, let go
    # by its piece and kept for the investigation, which a member of staff may have uploaded. The account's full
    # deletion (CNIL) finds it here.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
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
