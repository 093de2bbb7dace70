from django.db import models
from django.utils.translation import gettext_lazy as _


class ScanStatus(models.TextChoices):
    NOT_SCANNED = "NONE", _("not scanned (no antivirus configured)")
    PENDING = "PENDING", _("scan pending")
    CLEAN = "CLEAN", _("clean")
    INFECTED = "INFECTED", _("infected (quarantined)")
    ERROR = "ERROR", _("scan failed")


# Staff open a file (download, dossier PDF) only once the antivirus said clean, or when no antivirus is configured
# at all; a pending, failed (retried nightly) or infected scan keeps it closed (house-style: "A file cannot be
# downloaded by staff … until it is clean").
OPENABLE_SCANS: frozenset[str] = frozenset({ScanStatus.CLEAN, ScanStatus.NOT_SCANNED})
