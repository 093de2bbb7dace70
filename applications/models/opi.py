"""OPI ("opérations préalables à l'inscription"): admitted candidates who confirmed, pre-registered in the student
records system (ecandidat-features §2.12, siscol-pegase-apogee.md §2–3).

An ``Opi`` is created when a candidate confirms a favourable decision whose type is marked "Déversement OPI"; the
nightly ``transfer_opi`` batch (or the central office, on demand) hands the pending ones to the configured backend
(``applications.opi.backends``) and keeps the files it wrote, per day, in ``OpiExport``. State only changes through
``applications.opi.services``, which records every change in the application's history.
"""

import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from applications.enums import OpiState, PegaseRemoval
from applications.models.candidature import Application
from ecandidat.staff import is_central


class OpiQuerySet(models.QuerySet["Opi"]):
    def visible_to(self, user: Any) -> "OpiQuerySet":
        """The OPI are the central office's: everything for it, nothing for other staff (their lookups 404)."""
        return self if is_central(user) else self.none()

    def pending(self) -> "OpiQuerySet":
        return self.filter(state=OpiState.PENDING)

    def passed(self) -> "OpiQuerySet":
        return self.filter(state=OpiState.PASSED)

    def for_campaign(self, campaign_id: int) -> "OpiQuerySet":
        return self.filter(application__campaign_id=campaign_id)

    def to_transfer(self, *, day: datetime.date) -> "OpiQuerySet":
        """What a run on ``day`` rewrites: the pending OPIs, and those passed that day (each run rewrites the day's
        files whole, so a second run the same day keeps the first run's candidates)."""
        start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
        end = start + datetime.timedelta(days=1)
        return self.filter(
            Q(state=OpiState.PENDING) | Q(state=OpiState.PASSED, passed_at__gte=start, passed_at__lt=end)
        )


class Opi(models.Model):
    """The OPI of one application (eCandidat ``opi``, one per candidature)."""

    application = models.OneToOneField(
        Application, verbose_name=_("application"), on_delete=models.CASCADE, related_name="opi"
    )
    # COD_OPI_INT_EPO: OPI_PREFIX + numéro de dossier (10 characters at most); once transferred to Pégase, the numéro
    # de dossier alone (the files' numero_candidat, siscol-pegase-apogee.md §2.1).
    code = models.CharField(_("OPI code"), max_length=10)
    state = models.CharField(_("state"), max_length=10, choices=OpiState, default=OpiState.PENDING)
    # The candidate withdrew after confirming: the next transfer takes the wish out of the student records system
    # (Apogée: the file gives the candidate's remaining wishes; Pégase: the wish is absent from the files).
    withdrawn = models.BooleanField(_("withdrawn"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # When it last became pending: the transfer order (eCandidat dat_cre_opi).
    queued_at = models.DateTimeField(_("queued at"), default=timezone.now)
    passed_at = models.DateTimeField(_("transferred at"), null=True, blank=True)  # dat_passage_opi
    backend = models.CharField(_("transferred to"), max_length=10, blank=True)
    # A withdrawal after an earlier day's Pégase file carried the wish: to remove by hand in Pégase, then removed
    # (applications.opi.services.mark_removed_in_pegase); empty otherwise.
    pegase_removal = models.CharField(
        _("removal in Pégase"), max_length=10, choices=PegaseRemoval, blank=True, default=""
    )

    objects = OpiQuerySet.as_manager()

    class Meta:
        verbose_name = _("OPI")
        verbose_name_plural = _("OPI")
        ordering = ["-queued_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state=OpiState.PASSED) | Q(passed_at__isnull=False), name="opi_passed_has_date"
            )
        ]
        indexes = [
            models.Index(fields=["queued_at", "id"], condition=Q(state=OpiState.PENDING), name="opi_pending"),
            models.Index(fields=["state", "passed_at"], name="opi_state_passed"),
            models.Index(fields=["id"], condition=Q(pegase_removal=PegaseRemoval.TO_DO), name="opi_pegase_removal"),
        ]

    def __str__(self):
        return self.code


class OpiExportQuerySet(models.QuerySet["OpiExport"]):
    def visible_to(self, user: Any) -> "OpiExportQuerySet":
        """The day's files: the central office's only."""
        return self if is_central(user) else self.none()

    def with_files(self) -> "OpiExportQuerySet":
        """The days whose files are still kept (not erased by ``prune_opi_files``)."""
        return self.filter(files_erased_at__isnull=True)


class OpiPieceQuerySet(models.QuerySet["OpiPiece"]):
    def pending(self) -> "OpiPieceQuerySet":
        return self.filter(transferred_at__isnull=True)

    def of_day(self, day: datetime.date) -> "OpiPieceQuerySet":
        """The pieces the day's files carry (``OpiExport`` of that day)."""
        return self.filter(day=day, transferred_at__isnull=False)


class OpiPiece(models.Model):
    """One PJ-OPI (eCandidat ``pj_opi``, siscol-pegase-apogee.md §3.4): a validated file of the candidate that goes to
    Apogée with their OPI, as ``<OPI code>_OPI/PJ_<COD_TPJ>_<OPI code>.<ext>`` of the day's files. Created when the
    Apogée backend transfers the OPI (``applications.opi.pieces``); pending until a run put its file in the day's
    files (``transferred_at``). The file stays in the storage: the row names it, never holds it."""

    # The OPI whose transfer brought the piece: a withdrawal before the piece went stops it.
    opi = models.ForeignKey(Opi, verbose_name=_("OPI"), on_delete=models.CASCADE, related_name="pieces")
    # COD_OPI_INT_EPO and COD_TPJ as they were when the row was made: they name the file sent.
    code = models.CharField(_("OPI code"), max_length=10)
    siscol_code = models.CharField(_("piece type code in Apogée"), max_length=20)
    # The candidate's piece (it goes with the dossier: erasure, campaign destruction).
    submission = models.ForeignKey(
        "applications.PieceSubmission", verbose_name=_("piece"), on_delete=models.CASCADE, related_name="opi_pieces"
    )
    # The file validated when the OPI passed; emptied if it is deleted since (the piece is then reported missing).
    document = models.ForeignKey(
        "documents.Document",
        verbose_name=_("file"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    day = models.DateField(_("day of the files"), null=True, blank=True)
    transferred_at = models.DateTimeField(_("transferred at"), null=True, blank=True)  # dat_deversement

    objects = OpiPieceQuerySet.as_manager()

    class Meta:
        verbose_name = _("OPI piece")
        verbose_name_plural = _("OPI pieces")
        ordering = ["code", "siscol_code"]
        constraints = [
            models.UniqueConstraint(fields=["code", "siscol_code"], name="opi_piece_once_per_code"),
            models.CheckConstraint(
                condition=Q(transferred_at__isnull=True) | Q(day__isnull=False), name="opi_piece_transferred_has_day"
            ),
        ]
        indexes = [
            models.Index(fields=["id"], condition=Q(transferred_at__isnull=True), name="opi_piece_pending"),
            models.Index(fields=["day"], name="opi_piece_day"),
        ]

    def __str__(self):
        return self.file_name("")

    def file_name(self, extension: str) -> str:
        """Its name in the day's files: ``<code>_OPI/PJ_<COD_TPJ>_<code><extension>`` (§3.4's folder layout)."""
        return f"{self.code}_OPI/PJ_{self.siscol_code}_{self.code}{extension}"


class OpiExport(models.Model):
    """The files one backend produced for one day. Each run that day rewrites them whole (as eCandidat rewrites
    ``candidat-YYYYMMDD.csv``…); ``files`` maps each file name to its text.

    The files carry the admitted candidates' identities and addresses: they are a transfer, not an archive. Once
    collected (``collected_at``: written to ``OPI_EXPORT_DIR``, or first downloaded from the OPI screen), they are
    kept ``OPI_FILES_RETENTION_DAYS`` days, then emptied (``applications.opi.services.prune_opi_files``); files
    nobody collected are kept until their campaign's dossiers are destroyed (``ARCHIVE_RETENTION_DAYS``), never
    longer. The row stays, as an anonymous trace: the day, the backend, the counts and who produced them.

    ``handed_at`` says which versions of the files may have reached Pégase, for withdrawals: nothing tells Pégase of
    one, so a withdrawn wish any handed version carried is to remove there by hand (``Opi.pegase_removal``). A wish
    passed that day is in every version written from its transfer until the run that replays its withdrawal, so it
    reached Pégase if and only if a version left the database at or after its ``passed_at``: the latest handing
    answers (an earlier one would miss a wish passed between two handings). ``collected_at`` cannot: a rewrite
    empties it, while the version it recorded may already be imported."""

    backend = models.CharField(_("backend"), max_length=10)
    day = models.DateField(_("day"))
    files = models.JSONField(_("files"), default=dict)
    candidates = models.PositiveIntegerField(_("candidates"), default=0)
    wishes = models.PositiveIntegerField(_("wishes"), default=0)
    pieces = models.PositiveIntegerField(_("pieces"), default=0)  # the day's PJ-OPI (OpiPiece.day)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("produced by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # When the files, as they are now, first left the database: the run that wrote them to OPI_EXPORT_DIR, or the
    # first download of the day's ZIP. A run that rewrites them differently empties it (not collected again yet).
    collected_at = models.DateTimeField(_("collected at"), null=True, blank=True)
    # When a version of the files last left the database (set with ``collected_at``), never emptied: a wish of the
    # day transferred at or before it was in a file Pégase may have imported.
    handed_at = models.DateTimeField(_("last handed over at"), null=True, blank=True)
    # When prune_opi_files emptied ``files`` (their retention passed); the counts stay.
    files_erased_at = models.DateTimeField(_("files erased at"), null=True, blank=True)

    objects = OpiExportQuerySet.as_manager()

    class Meta:
        verbose_name = _("day of OPI files")
        verbose_name_plural = _("days of OPI files")
        ordering = ["-day", "backend"]
        constraints = [models.UniqueConstraint(fields=["backend", "day"], name="opi_export_once_per_day")]

    def __str__(self):
        return f"{self.backend} {self.day:%Y%m%d}"

    @property
    def zip_name(self) -> str:
        return f"opi-{self.backend}-{self.day:%Y%m%d}.zip"

    @property
    def files_erased(self) -> bool:
        return self.files_erased_at is not None
