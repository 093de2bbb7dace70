"""The export columns a member of staff chose last time (issue 12), offered again next time; the large exports
built in the background (``ExportJob``)."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ecandidat.exports import CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE


class ExportColumns(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="export_columns"
    )
    columns = models.JSONField(_("columns"), default=list)  # keys of applications.export_columns.COLUMNS, in order
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("export columns")
        verbose_name_plural = _("export columns")

    def __str__(self):
        return str(self.user_id)


class ExportJob(models.Model):
    """A large « Exporter avec les colonnes choisies » built in the background (``applications.export_jobs``): the
    list's filters and the columns as posted, rebuilt at build time within the requester's scope then; its file is
    for its requester only and deleted after ``applications.export_jobs.EXPORT_RETENTION``."""

    class Status(models.TextChoices):
        PENDING = "PENDING", _("waiting")
        RUNNING = "RUNNING", _("being built")
        DONE = "DONE", _("ready")
        FAILED = "FAILED", _("failed")

    class Format(models.TextChoices):
        XLSX = "xlsx", "XLSX"
        CSV = "csv", "CSV"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # The list's query string as posted (``applications.admin.export_columns.FILTERS_MAX_LENGTH``).
    filters = models.CharField(_("filters"), max_length=4000, blank=True)
    columns = models.JSONField(_("columns"), default=list)  # keys of applications.export_columns.COLUMNS, in order
    fmt = models.CharField(_("format"), max_length=4, choices=Format, default=Format.XLSX)
    # The requester's language when they asked: the headers and the values are written in it.
    language = models.CharField(_("language"), max_length=10, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status, default=Status.PENDING)
    total = models.PositiveIntegerField(_("applications"), default=0)
    done = models.PositiveIntegerField(_("applications written"), default=0)
    file = models.FileField(_("file"), upload_to="exports/", blank=True, max_length=200)
    size = models.PositiveBigIntegerField(_("size"), default=0)
    # The applications written in the file, recorded when it is built: it is handed out only while every one that
    # still exists is in its requester's scope (a right withdrawn since withdraws the file, as it does a pack).
    application_ids = models.JSONField(_("applications"), default=list, blank=True)
    # Stamped when the build claims the job and at each step of its progress: a RUNNING job whose stamp is old has
    # lost its worker (``applications.export_jobs.EXPORT_STALE_AFTER``); each write compares it first.
    progress_at = models.DateTimeField(_("last progress"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(status="DONE") | ~Q(file=""), name="export_done_has_file"),
        ]

    def __str__(self):
        return str(self.public_id)

    @property
    def content_type(self) -> str:
        return CSV_CONTENT_TYPE if self.fmt == self.Format.CSV else XLSX_CONTENT_TYPE

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.done / self.total)) if self.total else 0
