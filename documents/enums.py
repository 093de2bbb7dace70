from django.db import models
from django.utils.translation import gettext_lazy as _


class PieceStatus(models.TextChoices):
    """Statut de pièce (eCandidat ``type_statut_piece``); also used for complementary forms."""

    WAITING = "AT", _("Waiting")  # "En attente": nothing uploaded yet
    SUBMITTED = "TR", _("Submitted")  # "Transmise"
    VALIDATED = "VA", _("Validated")  # "Validée"
    REFUSED = "RE", _("Refused")  # "Refusée"
    NOT_CONCERNED = "NC", _("Not concerned")  # "Non concerné"


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
