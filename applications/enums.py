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


class DossierStatus(models.TextChoices):
    """Statut du dossier (eCandidat ``type_statut``)."""

    WAITING = "AT", _("Waiting")  # "En attente"
    RECEIVED = "RE", _("Received")  # "Réceptionné"
    INCOMPLETE = "IN", _("Incomplete")  # "Incomplet"
    COMPLETE = "CO", _("Complete")  # "Complet"


class DecisionAction(models.TextChoices):
    """How a decision row came to be (eCandidat history action codes)."""

    ENTERED = "S", _("Entered by")  # "Créé par"
    PROPOSAL = "P", _("Created on proposal of")
    DIRECT_ACCESS = "A", _("Created and validated by direct access")
    WAITING_LIST_PROMOTION = "L", _("Created and validated by automatic waiting-list management")


# Who entered or validated a decision that no person did (no user on the row): its automatic origin, where eCandidat
# names a pseudo-user (``autoListComp``, read « gestion auto. liste comp. »). The "entered by" and "validated by" of
# the reading page, the decision pages and the export say it (``Decision.entered_by_label``, ``decision_author``);
# without it they were empty after a promotion from the waiting list. Lower case: it also ends « saisi le … par … ».
AUTOMATIC_DECISION_AUTHORS = {
    DecisionAction.WAITING_LIST_PROMOTION: _("automatic waiting-list management"),
    DecisionAction.DIRECT_ACCESS: _("automatic direct access"),
    DecisionAction.PROPOSAL: _("admission proposal"),
    DecisionAction.ENTERED: _("automatic processing"),
}


# The candidate's answer (eCandidat ``tem_accept_cand``: none yet, « Confirmé », « Désisté »), said of the application
# as the list's filter, its decision column, the reading page and the exports say it.
ANSWER_LABELS = {True: _("Confirmed"), False: _("Withdrawn")}


class PieceStatus(models.TextChoices):
    """Statut de pièce (eCandidat ``type_statut_piece``); also used for complementary forms."""

    WAITING = "AT", _("Waiting")  # "En attente": nothing uploaded yet
    SUBMITTED = "TR", _("Submitted")  # "Transmise"
    VALIDATED = "VA", _("Validated")  # "Validée"
    REFUSED = "RE", _("Refused")  # "Refusée"
    NOT_CONCERNED = "NC", _("Not concerned")  # "Non concerné"


class EventKind(models.TextChoices):
    """What a history row (``ApplicationEvent``) records. Written only through ``applications.history``."""

    CREATED = "application_created", _("Application created")
    TRANSMITTED = "transmitted", _("Dossier transmitted")
    CANCELLED = "application_cancelled", _("Application cancelled")
    CONFIRMED = "application_confirmed", _("Application confirmed")
    WITHDRAWN = "application_withdrawn", _("Application withdrawn")  # by the candidate, or by the nightly batch
    STATUS = "dossier_status", _("Dossier status changed")
    DECISION_ENTERED = "decision_entered", _("Decision entered")
    DECISION_VALIDATED = "decision_validated", _("Decision validated")
    DECISION_DELETED = "decision_deleted", _("Decision deleted")
    WAITING_LIST_PROMOTION = "waiting_list_promotion", _("Promoted from the waiting list")
    DEADLINES = "deadlines_extended", _("Deadlines extended")
    PIECE_UPLOADED = "piece_uploaded", _("Piece uploaded")
    PIECE_UPLOADED_BY_STAFF = "piece_uploaded_by_staff", _("Piece uploaded by staff")
    PIECE_REMOVED = "piece_removed", _("Piece removed")
    PIECE_CONCERNED = "piece_concerned", _("Piece expected again")
    PIECE_NOT_CONCERNED = "piece_not_concerned", _("Piece declared not concerned")
    PIECE_STATUS = "piece_status", _("Piece checked")
    PIECE_QUARANTINED = "piece_quarantined", _("Piece quarantined by the antivirus")
    FORM_NOT_CONCERNED = "form_not_concerned", _("Form declared not concerned")
    FORM_CONCERNED = "form_concerned", _("Form expected again")
    QUESTIONS_ANSWERED = "questions_answered", _("Complementary questions answered")
    # Staff in the candidate's place (a paper or phone application): "Réponses aux questions saisies par … pour le
    # candidat" (applications.admin.review.history_line).
    QUESTIONS_ENTERED_BY_STAFF = "questions_entered_by_staff", _("Answers to the questions entered")
    FORMS_REMINDER = "forms_reminder", _("Forms reminder sent")
    COMPLETE_FORCED = "complete_forced", _("Dossier set complete with pieces not validated")
    OPI_CREATED = "opi_created", _("OPI created")
    OPI_WITHDRAWN = "opi_withdrawn", _("OPI withdrawn")
    OPI_PASSED = "opi_passed", _("OPI transferred")
    OPI_REQUEUED = "opi_requeued", _("OPI re-queued")
    OPI_CANCELLED = "opi_cancelled", _("OPI cancelled")
    # The central office removed by hand in Pégase a wish withdrawn after a file carried it (Pégase is not told).
    OPI_REMOVED_IN_PEGASE = "opi_removed_in_pegase", _("OPI removed in Pégase")
    WITHDRAWN_AFTER_CONFIRMATION = "withdrawn_after_confirmation", _("Withdrawn after confirmation")
    TREATMENT_TYPE = "treatment_type_changed", _("Processing type changed")
    DIRECT_ACCESS = "direct_access_decision", _("Favourable decision by direct access")
    ADMISSION_PROPOSED = "admission_proposed", _("Admission proposed by staff")
    LETTER_REGENERATED = "letter_regenerated", _("Decision letter regenerated")
    RANK_PROGRESS_MAILED = "rank_progress_mailed", _("Progress on the complementary list mailed")
    # Staff changed the dossier in the back office (``services.dossier.record_staff_change``), or an import from the
    # SIS did: the nightly ``sync_sis`` (no actor, the batch as source) or staff's « Reprendre de la scolarité »
    # (``services.dossier.import_from_sis``): the change in words.
    DOSSIER_CHANGED_BY_STAFF = "dossier_changed_by_staff", _("Candidate's dossier changed")
    # The candidate changed their bac, cursus, internships, experience or address after transmitting (allowed at any
    # time): the change in words, on each transmitted application (``services.dossier._record_change_by_candidate``).
    DOSSIER_CHANGED_BY_CANDIDATE = (
        "dossier_changed_by_candidate",
        _("Dossier changed by the candidate after transmission"),
    )
    REGIME_FEES = "regime_fees_changed", _("Registration regime or fees changed")
    # The nightly reminder to transmit before the return deadline; its row is what "already reminded" means.
    TRANSMISSION_REMINDED = "transmission_reminded", _("Reminder to transmit sent")
    # The nightly reminder to confirm a favourable decision before its date de confirmation (CANDIDATURE_RELANCE_FAVO);
    # ``Application.favourable_reminder_sent_at`` is what "already reminded" means, this row what staff read.
    CONFIRMATION_REMINDED = "confirmation_reminded", _("Reminder to confirm sent")
    # eCandidat's bloc-notes (§2.3): a note deleted by its author or the central office; the row names whose note of
    # when, never its text.
    NOTE_DELETED = "note_deleted", _("Internal note deleted")
    # Tags put on or taken off by staff (« Étiquettes », §2.3): one row per change, its comment the tags' labels
    # (``history.record_tags_change``); staff only, like the notes.
    TAGS_CHANGED = "tags_changed", _("Tags changed")


class WithdrawalReason(models.TextChoices):
    """Why the candidate withdraws ("motif de désistement", eCandidat issue #53): a fixed list, stored as a code,
    asked from the candidate and from staff recording a withdrawal on the candidate's behalf."""

    OTHER_ADMISSION = "ADM", _("Admitted to another formation")
    PROJECT = "PRO", _("Change of study or professional plans")
    FINANCIAL = "FIN", _("Financial reasons")
    GEOGRAPHICAL = "GEO", _("Distance or moving")
    PERSONAL = "PER", _("Personal reasons")
    OTHER = "AUT", _("Other reason")


class OpiState(models.TextChoices):
    """Where an OPI stands (eCandidat: ``dat_passage_opi`` null = pending, set = passed)."""

    PENDING = "pending", _("pending")  # waits for the next transfer (a new wish, or a withdrawal to replay)
    PASSED = "passed", _("transferred")  # written to the student records system's file
    CANCELLED = "cancelled", _("cancelled")  # by the central office, or withdrawn before it was ever transferred


class PegaseRemoval(models.TextChoices):
    """A withdrawal after an earlier day's Pégase file carried the wish: nothing tells Pégase (siscol-pegase-apogee.md
    §2.4), the central office removes it there by hand and says so."""

    TO_DO = "to_do", _("to remove in Pégase")
    DONE = "done", _("removed in Pégase")


class SvaReferenceDate(models.TextChoices):
    """The date SVA alerts count from (eCandidat parameter ``SVA_ALERT_DAT``, same codes), chosen once for the
    whole site by the ``SVA_ALERT_DATE`` setting; ``applications.models.sva.REFERENCE_FIELDS`` names the field."""

    NONE = "NO", _("No alert")  # "Aucune alerte"
    CREATED = "CRE", _("Creation date")  # "Date de création"
    CANCELLED = "ANN", _("Cancellation date")  # "Date d'annulation"
    ACCEPTED = "ACC", _("Acceptance date")  # "Date d'acceptation"
    TRANSMITTED = "TRANS", _("Transmission date")  # "Date de transmission"
    RECEIVED = "REC", _("Reception date")  # "Date de réception"
    COMPLETE = "COM", _("Complete status date")  # "Date statut complet"
    INCOMPLETE = "INC", _("Incomplete status date")  # "Date statut incomplet"


class SvaColour(models.TextChoices):
    """The colours an SVA alert level may take: a fixed palette (French State design system's 425 tones), each with
    at least 4.5:1 contrast on white. The colour only repeats what the list writes in words (RGAA 3.1)."""

    BLUE = "#0063cb", _("blue")
    GREEN = "#18753c", _("green")
    ORANGE = "#b34000", _("orange")
    RED = "#ce0500", _("red")
    PURPLE = "#6e445a", _("purple")
    GREY = "#666666", _("grey")
