from django.db import models
from django.utils.translation import gettext_lazy as _


class ApplicationMode(models.TextChoices):
    """How a formation receives its dossiers (eCandidat ``tem_dematerialisation``)."""

    ONLINE = "D", _("Online dossier")  # "Dossier dématérialisé"
    PAPER = "P", _("Paper dossier")  # "Dossier papier"


class Avis(models.TextChoices):
    """Type d'avis: the fixed family of a configurable decision type."""

    FAVOURABLE = "FA", _("Favourable")
    UNFAVOURABLE = "DE", _("Unfavourable")
    COMPLEMENTARY_LIST = "LC", _("Complementary list")  # "Liste complémentaire": ranked waiting list
    WAITING_LIST = "LA", _("Waiting list")  # "Liste d'attente"
    PRESELECTION = "PR", _("Preselection")


# The decision mails (declared by applications.notifications) by the kind of decision that sends each by default:
# a decision type sends one of these (DecisionType.mail_code), never a code that no mail answers to.
DECISION_MAIL_BY_AVIS = {
    Avis.FAVOURABLE: "AVIS_FAVORABLE",
    Avis.UNFAVOURABLE: "AVIS_DEFAVORABLE",
    Avis.COMPLEMENTARY_LIST: "AVIS_LISTE_COMP",
    Avis.WAITING_LIST: "AVIS_LISTE_ATT",
    Avis.PRESELECTION: "AVIS_PRESELECTION",
}


class TreatmentType(models.TextChoices):
    """Type de traitement (eCandidat ``type_traitement``, ecandidat-features §2.6), set per formation and copied to
    each application when it is created."""

    CONTROLLED = "AC", _("Controlled access")  # "Accès contrôlé": the commission examines the dossier
    DIRECT = "AD", _("Direct access")  # "Accès direct": favourable decision once the dossier is complete
    WAITING = "AT", _("Undecided")  # "En attente": not final, staff decide later


class LetterKind(models.TextChoices):
    """The decision letters (issue 12); the codes are the letters' variable sets (``offers.letters.LETTER_TYPES``)."""

    ADMISSION = "LETTRE_ADM", _("Admission letter")
    REFUSAL = "LETTRE_REFUS", _("Refusal letter")
