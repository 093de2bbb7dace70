from django.db import models
from django.utils.translation import gettext_lazy as _


class ApplicationMode(models.TextChoices):
    """How a formation receives its dossiers (eCandidat ``tem_dematerialisation``)."""

    ONLINE = "D", _("Online dossier")  # "Dossier dématérialisé"
    PAPER = "P", _("Paper dossier")  # "Dossier papier"
