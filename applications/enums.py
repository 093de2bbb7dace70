"""Codes of the candidate's dossier. Stored values are eCandidat's codes where it has them (ecandidat-features §5)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Civility(models.TextChoices):
    MR = "M.", _("Mr")  # "Monsieur"
    MRS = "Mme", _("Mrs")  # "Madame"


class Obtained(models.TextChoices):
    """Cursus externe "obtenu"."""

    YES = "O", _("Obtained")
    NO = "N", _("Not obtained")
    IN_PROGRESS = "E", _("In progress")


class Mention(models.TextChoices):
    """Honours (mention), with the codes of the SiScol mention table."""

    PASS = "P", _("Pass")  # "Passable"
    FAIRLY_GOOD = "AB", _("Fairly good")  # "Assez bien"
    GOOD = "B", _("Good")  # "Bien"
    VERY_GOOD = "TB", _("Very good")  # "Très bien"
    CONGRATULATIONS = "TBF", _("Very good with congratulations")  # "Très bien avec félicitations du jury"


class BacSeries(models.TextChoices):
    """Série du bac ou équivalence.

    eCandidat takes this list from the SiScol bac table, which depends on the year; until an SIS referential is
    plugged in, this is the national list of current and recent series, plus the usual equivalences.
    """

    GENERAL = "GEN", _("General baccalaureate")
    STMG = "STMG", _("Technological baccalaureate STMG")
    STI2D = "STI2D", _("Technological baccalaureate STI2D")
    STL = "STL", _("Technological baccalaureate STL")
    ST2S = "ST2S", _("Technological baccalaureate ST2S")
    STD2A = "STD2A", _("Technological baccalaureate STD2A")
    STHR = "STHR", _("Technological baccalaureate STHR")
    S2TMD = "S2TMD", _("Technological baccalaureate S2TMD")
    STAV = "STAV", _("Technological baccalaureate STAV")
    PRO = "PRO", _("Vocational baccalaureate")
    S = "S", _("Baccalaureate S (before 2021)")
    ES = "ES", _("Baccalaureate ES (before 2021)")
    L = "L", _("Baccalaureate L (before 2021)")
    DAEU = "DAEU", _("DAEU (university entrance diploma)")
    FOREIGN = "ETR", _("Foreign diploma equivalent to the baccalaureate")
    OTHER = "EQU", _("Other equivalence")
