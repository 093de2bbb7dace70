"""The export columns a member of staff chose last time (issue 12), offered again next time."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


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
