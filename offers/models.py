"""Campaigns and the training offer: centres, diploma types, commissions, formations and piece definitions.

Reference: ecandidat-features.md §1.4 (catalogue), §2.8 (setup), §6 (data model).
"""

import re
import unicodedata
import uuid
from datetime import date, timedelta
from pathlib import PurePosixPath
from typing import Any, Self
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import (
    Case,
    DateField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from PIL import Image

from ecandidat import notifications
from ecandidat.mail_templates import TemplateSyntaxProblem, check_source
from ecandidat.staff import scope_of
from ecandidat.staff_text import StaffText, shown
from ecandidat.text import logged_name
from offers.enums import ApplicationMode, Avis, LetterKind, TreatmentType
from offers.letters import LETTER_TYPES

# Letters that Unicode does not decompose but French readers spell out: "oenologie" finds and sorts "Œnologie".
_SPELLED_OUT = str.maketrans({"œ": "oe", "æ": "ae"})


def normalise(text: str) -> str:
    """Lower-case and strip accents, for searches where "energie" must find "ÉNERGIE"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_SPELLED_OUT))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def collation_key(text: str) -> tuple[str, str]:
    """Sort key of a text shown to a French or English reader: letters compare without case or accents, as in a
    dictionary ("Écologie" between "Droit" and "Fiscalité", not after "Zoologie" as the database's byte order, C
    collation, puts it); texts equal that way then compare as written, so that the order is total."""
    return normalise(text), text


PIECE_TEMPLATES = "piece-templates"


def piece_template_path(instance: Any, filename: str) -> str:
    """``piece-templates/<random>/<name as uploaded>``: each template in a folder of its own, so that the storage
    never adds its random suffix to the name (``attestation_aB3xK9.pdf``, when a template of that name was already
    stored) and the candidate downloads the file under the name staff gave it (``template_download_name``)."""
    return f"{PIECE_TEMPLATES}/{uuid.uuid4().hex}/{PurePosixPath(filename).name}"


# The suffix Django's storages add to a name already taken (``get_alternative_name``: "_" and 7 random letters or
# digits), on the templates stored before each had its own folder; a word of 7 small letters ("_inscrip") is kept.
_STORAGE_SUFFIX = re.compile(r"_(?=[a-z]*[A-Z0-9])[A-Za-z0-9]{7}(?=\.[^./]+$|$)")


def template_download_name(stored: str) -> str:
    """The name a piece's template is downloaded under: the name it was uploaded with. A template stored directly in
    ``piece-templates/`` (before the folders) loses the suffix the storage may have added to it."""
    path = PurePosixPath(stored)
    if str(path.parent) == PIECE_TEMPLATES:
        return _STORAGE_SUFFIX.sub("", path.name, count=1)
    return path.name


class CampaignQuerySet(models.QuerySet["Campaign"]):
    def active(self) -> Self:
        return self.filter(is_active=True)

    def awaiting_activation(self, active: "Campaign", today: date) -> Self:
        """The campaigns the nightly archiving may activate in place of ``active`` (eCandidat's "campagne en attente
        d'activation"): not active, opening after it, not archived; the one opening first is activated."""
        return (
            self.filter(is_active=False, starts_on__gt=active.starts_on)
            .filter(Q(archive_on__isnull=True) | Q(archive_on__gt=today))
            .order_by("starts_on")
        )


class Campaign(models.Model):
    """A yearly admissions campaign. Exactly one is active; candidate accounts belong to it."""

    FRENCH_TEXTS = ("label",)  # a name in French only: its input is marked so (admin_inputs.language_of)

    # The first folder of every stored piece (``<code>/<uuid>.pdf``, documents.models) and the OPI files' code_periode:
    # a code with « / » or « .. » made every upload of the campaign a storage error (path traversal), and a space or
    # an emoji would reach the student-records system.
    code = models.CharField(
        _("code"),
        max_length=20,
        unique=True,
        validators=[
            RegexValidator(
                r"^[0-9A-Za-z_-][0-9A-Za-z._-]*$", _("Letters, digits, “-”, “_” and “.” only, without “.” first.")
            )
        ],
    )
    label = models.CharField(_("label"), max_length=200)
    starts_on = models.DateField(_("opening date for candidates"))
    ends_on = models.DateField(_("closing date for candidates"))
    archive_on = models.DateField(_("archiving date"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=False)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-starts_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=Q(is_active=True),
                name="campaign_single_active",
                violation_error_message=_("Another campaign is already active."),
            ),
            models.CheckConstraint(
                condition=Q(starts_on__lte=F("ends_on")),
                name="campaign_dates_ordered",
                violation_error_message=_("The closing date must not be before the opening date."),
            ),
        ]

    def __str__(self):
        return self.label

    def clean(self):
        """The dates in order, said beside the closing date (the constraint ``campaign_dates_ordered`` alone says it
        at the top of the form; the field in error, its check is then skipped)."""
        super().clean()
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": _("The closing date must not be before the opening date.")})

    def is_open_on(self, day: date) -> bool:
        return self.is_active and self.starts_on <= day <= self.ends_on

    def is_archived_on(self, day: date) -> bool:
        """Archived by the nightly batch (or before this application's time): no longer active, its archiving date
        passed. Its applications are read only; its data go ``ARCHIVE_RETENTION_DAYS`` after that date."""
        return not self.is_active and self.archive_on is not None and self.archive_on <= day


class CentreQuerySet(models.QuerySet["Centre"]):
    def visible_to(self, user: Any) -> Self:
        """Centres the user may pick in filters and autocompletes: their centres (wholly or for some commissions)
        and their commissions' centres."""
        scope = scope_of(user)
        if scope.is_central:
            return self
        commission_centres = Commission.objects.filter(pk__in=sorted(scope.commissions)).values("centre_id")
        return self.filter(Q(pk__in=sorted(scope.centres_read)) | Q(pk__in=commission_centres))


class KnowsUncheckedFields:
    """A model whose ``clean()`` checks a rule across fields only when its form edits them: ``_not_checked`` holds the
    fields ``full_clean()`` leaves out (a ModelForm's read-only fields, those already in error) during the call,
    Django's documented way for ``clean()`` to know them (an error raised on a field the form lacks is a 500)."""

    _not_checked: frozenset[str] = frozenset()

    def full_clean(self, exclude=None, validate_unique=True, validate_constraints=True):
        self._not_checked = frozenset(exclude or ())
        try:
            super().full_clean(exclude, validate_unique, validate_constraints)  # type: ignore[misc]  # a Model's
        finally:
            self._not_checked = frozenset()


class Centre(KnowsUncheckedFields, models.Model):
    """A centre de candidature (UFR, IUT, …): it manages applications and owns a piece list."""

    FRENCH_TEXTS = ("label",)  # a name in French only: its input is marked so (admin_inputs.language_of)

    code = models.CharField(_("code"), max_length=20, unique=True)
    label = models.CharField(_("label"), max_length=200)
    address = models.TextField(_("contact address"), blank=True)
    email = models.EmailField(_("contact e-mail"), blank=True)
    phone = models.CharField(_("telephone"), max_length=30, blank=True)
    # eCandidat typ_send_mail_ctr_cand: a copy of every mail sent to a candidate about an application of the centre.
    candidate_mail_copy = models.CharField(
        _("copy of the mails sent to candidates"),
        max_length=1,
        choices=[("N", _("no copy")), ("M", _("to the contact e-mail")), ("L", _("to the centre's managers"))],
        default="N",
    )
    # At least 1, as the institution's MAX_WISHES: 0 refused every candidate at every formation of the centre.
    max_wishes = models.PositiveSmallIntegerField(
        _("maximum applications per candidate"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=format_lazy("{} {}", _("Empty: the institution's limit applies."), _("0 is not accepted.")),
    )
    registration_instructions = models.TextField(
        _("administrative registration instructions"),
        blank=True,
        help_text=_("Sent to candidates who confirm, unless the formation has its own."),
    )
    registration_instructions_en = models.TextField(
        _("administrative registration instructions, in English"),
        blank=True,
        help_text=_("Shown to candidates who read the site in English; empty: the French text is shown."),
    )
    in_service = models.BooleanField(_("in service"), default=True)
    # eCandidat's "paramètres par défaut" of a centre (ecandidat-features §2.8): proposed in the form of each new
    # formation of the centre (``offers.services.new_formation_initial``), never copied afterwards. Same names as
    # the formation's fields, prefixed with ``default_`` (``FORMATION_DEFAULTS``); all optional.
    default_mode = models.CharField(
        _("application mode"), max_length=1, choices=ApplicationMode, default=ApplicationMode.ONLINE
    )
    default_opens_on = models.DateField(_("applications open on"), null=True, blank=True)
    default_closes_on = models.DateField(_("applications close on"), null=True, blank=True)
    default_preanalysis_on = models.DateField(_("pre-analysis date"), null=True, blank=True)
    default_return_deadline = models.DateField(_("return deadline"), null=True, blank=True)
    default_jury_on = models.DateField(_("jury date"), null=True, blank=True)
    default_publication_on = models.DateField(_("publication date"), null=True, blank=True)
    default_confirmation_date = models.DateField(_("confirmation date"), null=True, blank=True)
    default_confirmation_delay_days = models.PositiveSmallIntegerField(
        _("confirmation delay (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Days after a favourable decision is validated; leave the confirmation date empty then."),
    )
    default_favourable_decision_type = models.ForeignKey(
        "offers.DecisionType",
        verbose_name=_("default favourable decision"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"avis": Avis.FAVOURABLE},
    )
    default_auto_waiting_list = models.BooleanField(_("automatic waiting-list management"), default=False)
    default_waiting_list_decision_type = models.ForeignKey(
        "offers.DecisionType",
        verbose_name=_("favourable decision given from the complementary list"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"avis": Avis.FAVOURABLE},
    )
    default_waiting_list_confirmation_date = models.DateField(
        _("confirmation date after a waiting-list promotion"), null=True, blank=True
    )
    default_waiting_list_confirmation_delay_days = models.PositiveSmallIntegerField(
        _("confirmation delay after a waiting-list promotion (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Days after the promotion; leave the confirmation date after a promotion empty then."),
    )

    objects = CentreQuerySet.as_manager()

    class Meta:
        verbose_name = _("application centre")
        verbose_name_plural = _("application centres")
        ordering = ["label"]

    def __str__(self):
        return self.label

    def clean(self):
        errors: dict[str, Any] = {}
        # The copy of the candidates' mails to the contact e-mail needs one (applications.notifications'
        # centre_copy_recipients sends none without it). Said beside the e-mail; not to whoever cannot change these
        # two fields (a manager of the centre, who sets its default values only: the admin form has no e-mail then).
        if (
            self.candidate_mail_copy == "M"
            and not self.email
            and not {"email", "candidate_mail_copy"} & self._not_checked
        ):
            errors["email"] = _(
                "Give the contact e-mail: the copy of the mails sent to candidates goes to it (or choose another "
                "option in “%(field)s”)."
            ) % {"field": capfirst(Centre.candidate_mail_copy.field.verbose_name)}
        # The default dates follow the formation's own rules (Formation.clean): a new formation given them saves.
        probe = Formation(
            **{name: getattr(self, f"default_{name}") for name in (*ORDERED_DATE_FIELDS, *CONFIRMATION_DELAY_FIELDS)}
        )
        try:
            probe.clean()
        except ValidationError as error:
            errors.update({f"default_{name}": messages for name, messages in error.message_dict.items()})
        if errors:
            raise ValidationError(errors)


# A formation's calendar, in the reference's order (edited in bulk by « Modifier les dates », offers.services).
CALENDAR_FIELDS = (
    "opens_on",
    "closes_on",
    "preanalysis_on",
    "return_deadline",
    "jury_on",
    "publication_on",
    "confirmation_date",
)
# Every date whose order Formation.clean checks: the calendar, then the confirmation date after a waiting-list
# promotion (last of all). The mass edit gives them together; a centre's defaults are checked together.
ORDERED_DATE_FIELDS = (*CALENDAR_FIELDS, "waiting_list_confirmation_date")
# A confirmation is given by a date or by a délai in days, never both (ecandidat-features §2.8: « date OU délai en
# jours »): each date with the délai that would otherwise replace it (applications.dates, applications.services.staff).
CONFIRMATION_RULES = (
    ("confirmation_date", "confirmation_delay_days"),
    ("waiting_list_confirmation_date", "waiting_list_confirmation_delay_days"),
)
CONFIRMATION_DELAY_FIELDS = tuple(delay for _date, delay in CONFIRMATION_RULES)
# The formation fields a centre gives a default value to, each as ``default_<name>`` on the centre.
FORMATION_DEFAULTS = (
    "mode",
    *CALENDAR_FIELDS,
    "confirmation_delay_days",
    "favourable_decision_type",
    "auto_waiting_list",
    "waiting_list_decision_type",
    "waiting_list_confirmation_date",
    "waiting_list_confirmation_delay_days",
)


class DiplomaType(models.Model):
    """The catalogue's second level ("Type diplôme"): MASTER LMD, LICENCE PRO, DU, …"""

    code = models.CharField(_("code"), max_length=20, unique=True)
    label = models.CharField(_("label"), max_length=200)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("diploma type")
        verbose_name_plural = _("diploma types")
        ordering = ["order", "label"]

    def __str__(self):
        return self.label


class FormationType(models.Model):
    """The institution's own "types de formation" (eCandidat's ``TypeFormation`` nomenclature): the catalogue's
    second level when ``CATALOGUE_GROUPING`` is "NOM" (e.g. "Formation initiale", "Formation continue", "Diplômes
    d'université"), instead of the diploma types."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    label = models.CharField(_("label"), max_length=200)
    label_en = models.CharField(
        _("label in English"),
        max_length=200,
        blank=True,
        help_text=_("Shown to candidates who read the site in English; empty: the French text is shown."),
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("formation type")
        verbose_name_plural = _("formation types")
        ordering = ["order", "label"]

    def __str__(self):
        return self.label


# The commission's alert switches (``applications.notifications.ALERT_SWITCHES``): each sends its alert when on.
COMMISSION_ALERT_FIELDS = (
    "alert_on_transmission",
    "alert_on_cancellation",
    "alert_on_withdrawal",
    "alert_on_promotion",
    "alert_on_proposal",
)
# The commission's flags of the dossier statuses its members see, in the statuses' order (AT, RE, IN, CO).
COMMISSION_STATUS_FLAG_FIELDS = ("shows_waiting", "shows_received", "shows_incomplete", "shows_complete")


class CommissionQuerySet(models.QuerySet["Commission"]):
    def visible_to(self, user: Any) -> Self:
        """Commissions of the user's centres, the commissions they manage or read of a centre, and their own
        commissions."""
        scope = scope_of(user)
        if scope.is_central:
            return self
        return self.filter(scope.reads(centre="centre_id", commission="pk") | Q(pk__in=sorted(scope.commissions)))


class Commission(KnowsUncheckedFields, models.Model):
    """The pedagogical commission that examines the dossiers of one or more formations of a centre."""

    FRENCH_TEXTS = ("label",)  # a name in French only: its input is marked so (admin_inputs.language_of)

    centre = models.ForeignKey(Centre, verbose_name=_("centre"), on_delete=models.PROTECT, related_name="commissions")
    code = models.CharField(_("code"), max_length=20, unique=True)
    label = models.CharField(_("label"), max_length=200)
    address = models.TextField(_("postal address"), blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("telephone"), max_length=30, blank=True)
    # eCandidat's commission "url" (a page or a helpdesk category, issue #14) and "Commentaire retour", both shown
    # on the candidate's recap beside the contact address, and in the mails (${commission_url}, …).
    url = models.URLField(
        _("web page"), blank=True, help_text=_("E.g. the formation's helpdesk or its secretariat's page.")
    )
    return_comment = models.TextField(
        _("comment for the candidates"),
        blank=True,
        max_length=1000,
        help_text=_(
            "Shown to the candidates under the contact address (how to reach the secretariat, opening hours…)."
        ),
    )
    return_comment_en = models.TextField(
        _("comment for the candidates, in English"),
        blank=True,
        max_length=1000,
        help_text=_("Shown to candidates who read the site in English; empty: the French text is shown."),
    )
    alert_mode = models.CharField(
        _("alerts sent to"),
        max_length=1,
        choices=[("N", _("nobody")), ("M", _("the commission's e-mail")), ("L", _("the commission's members"))],
        default="M",
    )
    alert_on_transmission = models.BooleanField(_("alert when a dossier is transmitted"), default=True)
    alert_on_cancellation = models.BooleanField(_("alert when an application is cancelled"), default=True)
    alert_on_withdrawal = models.BooleanField(_("alert when a candidate withdraws"), default=True)
    alert_on_promotion = models.BooleanField(_("alert on waiting-list promotion"), default=True)
    alert_on_proposal = models.BooleanField(_("alert on an admission proposal"), default=True)
    # eCandidat tem_mail_lettre_comm: the admission or refusal letter goes with its decision's mail.
    attach_letter_to_mail = models.BooleanField(
        _("attach the letter to the decision mail"),
        default=False,
        help_text=_(
            "The admission or refusal letter (PDF) is attached to the mail of a favourable or unfavourable "
            "decision, when the centre or the formation has a letter text."
        ),
    )
    # Which dossiers its members see, by dossier status (eCandidat's "Visible dans l'écran commission",
    # tem_comm_visible, made per commission; issue #64): the list, the application's page and every action reach
    # only those (``Application.objects.visible_to``, ``applications.models.candidature.COMMISSION_STATUS_FLAGS``
    # maps each status to its flag). The labels are the statuses'; the list says which it shows.
    shows_waiting = models.BooleanField(_("waiting"), default=True)
    shows_received = models.BooleanField(_("received"), default=True)
    shows_incomplete = models.BooleanField(_("incomplete"), default=True)
    shows_complete = models.BooleanField(_("complete"), default=True)
    in_service = models.BooleanField(_("in service"), default=True)

    objects = CommissionQuerySet.as_manager()

    # The centre as read from the database (``from_db``): clean() asks about the formations only when it changes.
    _loaded_centre_id: int | None = None

    class Meta:
        verbose_name = _("commission")
        verbose_name_plural = _("commissions")
        ordering = ["centre__label", "label"]
        constraints = [
            # A commission that sees no dossier is a mistake (issue #64), never a setting.
            models.CheckConstraint(
                condition=Q(shows_waiting=True)
                | Q(shows_received=True)
                | Q(shows_incomplete=True)
                | Q(shows_complete=True),
                name="commission_shows_some_status",
            ),
        ]

    def __str__(self):
        return self.label

    @classmethod
    def from_db(cls, db, field_names, values, **kwargs):
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._loaded_centre_id = instance.__dict__.get("centre_id")  # None when deferred
        return instance

    def clean(self):
        super().clean()
        errors: dict[str, Any] = {}
        # Alerts sent to the commission's e-mail need one (applications.notifications.commission_recipients sends
        # none without it): said beside the e-mail, when an alert is on.
        if (
            self.alert_mode == "M"
            and not self.email
            and any(getattr(self, name) for name in COMMISSION_ALERT_FIELDS)
            and not {"email", "alert_mode"} & self._not_checked
        ):
            errors["email"] = _(
                "Give the commission's e-mail: its alerts are sent to it (or choose another recipient in “%(field)s”)."
            ) % {"field": capfirst(Commission.alert_mode.field.verbose_name)}
        if self.pk is not None and self.centre_id is not None and self.centre_id != self._loaded_centre_id:
            # Moved to another centre, the commission would leave its formations in the old one, where
            # Formation.clean refuses them (the commission belongs to the formation's centre), and the rollover's
            # mass date change with them. One query, counting only when the stored row's centre is not the new one
            # (a commission built with its id, not read, is asked too).
            behind = (
                Formation.objects.filter(commission_id=self.pk)
                .exclude(centre_id=self.centre_id)
                .exclude(commission__centre_id=self.centre_id)
                .count()
            )
            if behind:
                errors["centre"] = ngettext(
                    "%(count)d formation of this commission is in another centre: first move it to this centre, "
                    "with a commission of this centre (a formation's commission belongs to its centre).",
                    "%(count)d formations of this commission are in another centre: first move them to this "
                    "centre, with a commission of this centre (a formation's commission belongs to its centre).",
                    behind,
                ) % {"count": behind}
        if errors:
            raise ValidationError(errors)

    @property
    def shown_return_comment(self) -> StaffText:
        """The comment for the candidates in the page's language (``ecandidat.staff_text``)."""
        return shown(self.return_comment, self.return_comment_en)

    @property
    def shown_status_fields(self) -> list[str]:
        """The names of the ``shows_*`` flags that are set, in the statuses' order."""
        return [name for name in COMMISSION_STATUS_FLAG_FIELDS if getattr(self, name)]


class KeptForTreatmentType(models.Model):
    """What a formation asks (a piece, a question) may be kept for one type de traitement (eCandidat 2.3.0
    ``cod_typ_trait``): only the applications of that type are asked for it."""

    treatment_type = models.CharField(
        _("processing type"),
        max_length=2,
        choices=TreatmentType,
        blank=True,
        help_text=_("Only the applications of this processing type are asked for it; empty: all of them."),
    )

    class Meta:
        abstract = True

    def requested_from(self, treatment_type: str) -> bool:
        """Whether an application of this type de traitement is asked for it (its other rules aside)."""
        return not self.treatment_type or self.treatment_type == treatment_type


class PieceType(KeptForTreatmentType):
    """A supporting document ("pièce justificative") that candidates upload.

    Common pieces (``is_common``) are requested for every formation: of the whole institution when ``centre`` is
    empty, of one centre otherwise. Other pieces are attached to formations one by one.
    """

    code = models.CharField(_("code"), max_length=30, unique=True)
    label = models.TextField(_("label"))
    label_en = models.TextField(
        _("label in English"),
        blank=True,
        help_text=_("Shown to candidates who read the site in English; empty: the French text is shown."),
    )
    centre = models.ForeignKey(
        Centre, verbose_name=_("centre"), null=True, blank=True, on_delete=models.PROTECT, related_name="piece_types"
    )
    is_common = models.BooleanField(_("common"), default=False)
    is_unique = models.BooleanField(
        _("one file per application"),
        default=False,
        help_text=_("Unchecked: a common piece is uploaded once and shared by all of the candidate's applications."),
    )
    is_conditional = models.BooleanField(
        _("conditional"), default=False, help_text=_("The candidate may declare that the piece does not concern them.")
    )
    template = models.FileField(_("template file"), upload_to=piece_template_path, max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    in_service = models.BooleanField(_("in service"), default=True)
    # eCandidat cod_apo_pj: Apogée's COD_TPJ, the PJ-OPI (siscol-pegase-apogee.md §3.4, docs/opi-apogee.md).
    siscol_code = models.CharField(
        _("piece type code in Apogée"),
        max_length=20,  # eCandidat's cod_apo_pj
        blank=True,
        # It names the file sent (PJ_<code>_<OPI code>.pdf): letters, digits, "-" and "_" only.
        validators=[RegexValidator(r"^[0-9A-Za-z_-]+$", _("Letters, digits, “-” and “_” only."))],
        help_text=_(
            "Apogée's piece type (COD_TPJ). When set and “Send the pieces with the OPI” is on, a validated file of "
            "this piece goes to Apogée with the admitted candidate's OPI; empty: the piece is not sent."
        ),
    )

    class Meta:
        verbose_name = _("piece type")
        verbose_name_plural = _("piece types")
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(centre__isnull=True) | Q(is_common=True),
                name="piecetype_centre_only_for_common",
                violation_error_message=_("Only a common piece can belong to a centre."),
            )
        ]

    def __str__(self):
        # Whole (Django's history and its messages name the piece by it, they cut it at 80 characters); the list of
        # pieces cuts it itself (PieceTypeAdmin.short_label).
        return logged_name(self.label)

    @property
    def shown_label(self) -> StaffText:
        """The label in the page's language (``ecandidat.staff_text``)."""
        return shown(self.label, self.label_en)


class DecisionType(models.Model):
    """A configurable decision ("type de décision"), of one fixed family (avis): favourable, unfavourable, …"""

    code = models.CharField(_("code"), max_length=30, unique=True)
    label = models.CharField(_("label"), max_length=200)
    candidate_label = models.CharField(_("label shown to the candidate"), max_length=200)
    candidate_label_en = models.CharField(
        _("label shown to the candidate, in English"),
        max_length=200,
        blank=True,
        help_text=_("Shown to candidates who read the site in English; empty: the French text is shown."),
    )
    avis = models.CharField(_("kind of decision"), max_length=2, choices=Avis)
    is_final = models.BooleanField(_("final decision"), default=False)
    mail_code = models.CharField(
        _("mail code"), max_length=60, help_text=_("The mail sent when a decision of this type is validated.")
    )
    show_comment = models.BooleanField(_("show the comment to the candidate"), default=False)
    # tem_deverse_opi_typ_dec: confirming an application whose latest validated decision has this type creates
    # its OPI (pre-registration in the student records system).
    opi_transfer = models.BooleanField(
        _("OPI transfer"),
        default=False,
        help_text=_("When the candidate confirms this decision, an OPI is created for the student records system."),
    )
    in_service = models.BooleanField(_("in service"), default=True)
    # The type's own mail ("Mails types de décision", ecandidat-features §2.8): the text of its decision mail
    # (``mail_code``) for this type only, in the override syntax of ``ecandidat.mail_templates``, with that mail's
    # variables. Empty: the central office's text of the mail (``ecandidat.MailTemplate``), else its files. French
    # first; a language left empty falls back the same way (the kind's text in that language, else its files).
    mail_subject_fr = models.CharField(_("mail subject (French)"), max_length=200, blank=True)
    mail_body_fr = models.TextField(
        _("mail body (French)"),
        blank=True,
        help_text=_(
            "Leave empty to send the text of the decision mail. Plain text. ${name} inserts a variable; "
            "{if($name)}…{endif($name)} keeps a passage only when the variable is set, {if(!$name)}…{endif(!$name)} "
            "only when it is not. An HTML version is made from it."
        ),
    )
    mail_subject_en = models.CharField(_("mail subject (English)"), max_length=200, blank=True)
    mail_body_en = models.TextField(
        _("mail body (English)"),
        blank=True,
        help_text=_("Optional: without it, candidates who read English get the decision mail's English text."),
    )

    MAIL_TEXT_FIELDS = {"fr": ("mail_subject_fr", "mail_body_fr"), "en": ("mail_subject_en", "mail_body_en")}

    class Meta:
        verbose_name = _("decision type")
        verbose_name_plural = _("decision types")
        ordering = ["avis", "label"]

    def __str__(self):
        return self.label

    @property
    def shown_label(self) -> StaffText:
        """The candidate's label in the page's language (``ecandidat.staff_text``)."""
        return shown(self.candidate_label or self.label, self.candidate_label_en)

    @property
    def mail_texts(self) -> dict[str, tuple[str, str]]:
        """The type's own mail text by language (``{"fr": (subject, body)}``), only for the languages it has one
        in: what ``ecandidat.emails.enqueue_email`` takes as ``own_text``. Reads no row."""
        texts = {}
        for language, (subject_field, body_field) in self.MAIL_TEXT_FIELDS.items():
            subject, body = getattr(self, subject_field), getattr(self, body_field)
            if subject.strip() and body.strip():
                texts[language] = (subject, body)
        return texts

    def mail_text_errors(self) -> dict[str, Any]:
        """What is wrong with the type's mail text, by field: the subject and the body go together, French first,
        and each is checked like the central office's mail texts against the variables of ``mail_code``."""
        errors: dict[str, Any] = {}
        filled = {
            language: (bool(getattr(self, subject).strip()), bool(getattr(self, body).strip()))
            for language, (subject, body) in self.MAIL_TEXT_FIELDS.items()
        }
        for language, (subject_field, body_field) in self.MAIL_TEXT_FIELDS.items():
            has_subject, has_body = filled[language]
            if has_subject and not has_body:
                errors[body_field] = _("Write the body too, or empty the subject: a mail needs both.")
            elif has_body and not has_subject:
                errors[subject_field] = _("Write the subject too, or empty the body: a mail needs both.")
        if any(filled["en"]) and not any(filled["fr"]):
            errors.setdefault("mail_subject_fr", _("Write the French text first: the English one is optional."))
        if any(any(pair) for pair in filled.values()):
            mail_type = notifications.get(self.mail_code)
            if mail_type is None:
                errors.setdefault("mail_code", _("Choose the decision mail whose variables this text uses."))
            else:
                for subject_field, body_field in self.MAIL_TEXT_FIELDS.values():
                    for name in (subject_field, body_field):
                        try:
                            check_source(getattr(self, name) or "", mail_type)
                        except TemplateSyntaxProblem as problem:
                            errors.setdefault(name, str(problem))
        return errors

    def clean_fields(self, exclude=None):
        """The mail text is checked with the fields, not in ``clean()``, so that a form without the text fields (the
        admin shows them read-only to whoever is not the central office) gets no error about a field it lacks; that
        form checks the text against a new mail itself (``offers.admin.DecisionTypeAdminForm``)."""
        errors: dict[str, Any] = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        for name, message in self.mail_text_errors().items():
            if name not in (exclude or ()) and name not in errors:
                errors[name] = [message]
        if errors:
            raise ValidationError(errors)


class RefusalReason(models.Model):
    """A reason given with an unfavourable decision ("motivation d'avis"), used in the refusal mail."""

    code = models.CharField(_("code"), max_length=30, unique=True)
    label = models.CharField(_("label"), max_length=255)
    label_en = models.CharField(
        _("label in English"),
        max_length=255,
        blank=True,
        help_text=_("Shown to candidates who read the site in English; empty: the French text is shown."),
    )
    in_service = models.BooleanField(_("in service"), default=True)

    class Meta:
        verbose_name = _("refusal reason")
        verbose_name_plural = _("refusal reasons")
        ordering = ["label"]

    def __str__(self):
        return logged_name(self.label)  # up to 255 characters: Django's history keeps 200

    @property
    def shown_label(self) -> StaffText:
        """The reason as the candidate reads it, in the page's language (``ecandidat.staff_text``)."""
        return shown(self.label, self.label_en)


# The variables of a form's URL, which ``applications.forms_tab.survey_url`` fills in with each candidate's values
# (${numDossier}, ${idCandidature}, ${nom}, ${prenom}; eCandidat's syntax): the URL is checked with "0" for each.
_URL_VARIABLE = re.compile(r"\$\{[^}]*\}")


def is_web_address(url: str) -> bool:
    """Whether ``url`` is an http(s) address with a host, which a candidate's browser opens: the rule of a form's URL
    when staff save it (``ComplementaryForm.clean``) and when the candidates' tab shows it
    (``applications.forms_tab.survey_url``: no link to any other, a ``javascript:`` one included)."""
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # an unclosed IPv6 bracket
        return False


class ComplementaryForm(models.Model):
    """A LimeSurvey questionnaire attached to formations ("formulaire complémentaire").

    The URL may contain ${numDossier}, ${idCandidature}, ${nom} and ${prenom}, replaced when shown.
    """

    code = models.CharField(_("code"), max_length=30, unique=True)
    survey_id = models.PositiveIntegerField(_("survey id in LimeSurvey"), unique=True)
    label = models.CharField(_("label"), max_length=200)
    candidate_label = models.CharField(_("label shown to the candidate"), max_length=200)
    candidate_label_en = models.CharField(
        _("label shown to the candidate, in English"),
        max_length=200,
        blank=True,
        help_text=_("Shown to candidates who read the site in English; empty: the French text is shown."),
    )
    url = models.CharField(_("URL"), max_length=500)
    centre = models.ForeignKey(
        Centre, verbose_name=_("centre"), null=True, blank=True, on_delete=models.PROTECT, related_name="forms"
    )
    is_common = models.BooleanField(_("common"), default=False)
    is_conditional = models.BooleanField(_("conditional"), default=False)
    in_service = models.BooleanField(_("in service"), default=True)

    class Meta:
        verbose_name = _("complementary form")
        verbose_name_plural = _("complementary forms")
        ordering = ["label"]

    def __str__(self):
        return self.label

    def clean(self):
        """A URL candidates cannot open is refused next to it. Without « https:// », it was saved, and then the
        candidates' tab showed an empty link, the reminder mails too, and the form (never answered) kept
        applications from being transmitted when the forms block the transmission."""
        super().clean()
        if self.url and not is_web_address(_URL_VARIABLE.sub("0", self.url)):
            raise ValidationError(
                {
                    "url": _(
                        "Give the whole address, beginning with https:// (or http://) and the server's name, as in "
                        "https://enquetes.example.fr/index.php/123456?numDossier=${numDossier}: candidates get no "
                        "link to the form otherwise."
                    )
                }
            )

    @property
    def shown_label(self) -> StaffText:
        """The candidate's label in the page's language (``ecandidat.staff_text``)."""
        return shown(self.candidate_label or self.label, self.candidate_label_en)


class Question(KeptForTreatmentType):
    """A complementary question ("question complémentaire", ecandidat-features §1.8) the candidate answers in
    eCandidat itself: Yes/No (``B``) or a text of at most 1000 characters (``S``).

    Like the pieces: common to every formation (of the institution when ``centre`` is empty, of one centre
    otherwise) or attached to formations one by one; a conditional question may be declared "Non concerné". Answers
    (``applications.QuestionAnswer``) are per application, except for a common question that is not "unique"
    (eCandidat's "Unique" flag unchecked): answered once by the candidate and shared by all of their applications.
    """

    class Kind(models.TextChoices):
        BOOLEAN = "B", _("Yes/No")
        TEXT = "S", _("Text")

    code = models.CharField(_("code"), max_length=30, unique=True)
    label = models.CharField(_("label"), max_length=200)
    candidate_label = models.TextField(_("question as the candidate reads it"), max_length=500)
    candidate_label_en = models.TextField(
        _("question as the candidate reads it, in English"),
        max_length=500,
        blank=True,
        help_text=_("Shown to candidates who read the site in English; empty: the French text is shown."),
    )
    kind = models.CharField(_("answer"), max_length=1, choices=Kind, default=Kind.TEXT)
    centre = models.ForeignKey(
        Centre, verbose_name=_("centre"), null=True, blank=True, on_delete=models.PROTECT, related_name="questions"
    )
    is_common = models.BooleanField(_("common"), default=False)
    # As ``PieceType.is_unique``: only meaningful for a common question (a formation's own is always per application).
    is_unique = models.BooleanField(
        _("one answer per application"),
        default=False,
        help_text=_(
            "Unchecked: a common question is answered once and the answer is shared by all of the candidate's "
            "applications."
        ),
    )
    is_conditional = models.BooleanField(
        _("conditional"),
        default=False,
        help_text=_("The candidate may declare that the question does not concern them."),
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    in_service = models.BooleanField(_("in service"), default=True)

    class Meta:
        verbose_name = _("complementary question")
        verbose_name_plural = _("complementary questions")
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(centre__isnull=True) | Q(is_common=True),
                name="question_centre_only_for_common",
                violation_error_message=_("Only a common question can belong to a centre."),
            )
        ]

    def __str__(self):
        return self.label

    @property
    def shown_label(self) -> StaffText:
        """The question as the candidate reads it, in the page's language (``ecandidat.staff_text``)."""
        return shown(self.candidate_label or self.label, self.candidate_label_en)


# The values of ``FormationQuerySet.with_campaign_dates``.
CAMPAIGN_DATES_OK = "ok"
CAMPAIGN_DATES_OUTSIDE = "outside"
CAMPAIGN_DATES_NO_CAMPAIGN = "no-campaign"


class FormationQuerySet(models.QuerySet["Formation"]):
    def in_service(self) -> Self:
        return self.filter(in_service=True, centre__in_service=True)

    def visible_to(self, user: Any) -> Self:
        """Formations of the user's centres and commissions."""
        scope = scope_of(user)
        if scope.is_central:
            return self
        return self.filter(
            scope.reads(centre="centre_id", commission="commission_id")
            | Q(commission_id__in=sorted(scope.commissions))
        )

    def with_campaign_dates(self) -> Self:
        """``campaign_dates``: how the formation's dates compare with the active campaign's (eCandidat's flags of the
        formations list, ecandidat-features §2.8): ``CAMPAIGN_DATES_OK``, ``…_OUTSIDE`` or ``…_NO_CAMPAIGN`` (no
        campaign is active). Outside: the window opens before the campaign, or a date on which candidates act (the
        window's end, the return deadline, the confirmation dates) falls after its closing date for candidates, when
        they can no longer log in (``accounts.services``): the transmission, the pieces and the answer would be out
        of their reach, and the nightly batches would leave unanswered those who could not confirm (staff then reopen
        the campaign and give each a date). In the same query: no campaign is read.

        A confirmation counted in days (``confirmation_delay_days``, ``waiting_list_confirmation_delay_days``) has no
        date to compare: its date de confirmation is the day the favourable decision is validated (the promotion from
        the complementary list) plus the délai (``applications.dates.effective_confirmation_date``). Outside too,
        then, when even the first of those dates falls after the closing date: counted from the day the formation
        announces its decisions (its publication date, else its jury date, else the end of its window: no decision
        before its dossiers are in), the promotions from the list coming after those decisions. Flagged: even the
        decisions given on time could not be confirmed through the site. Not flagged: a decision validated later (a
        late jury, a promotion weeks after) may still get a date past the closing date, and the nightly batches leave
        its candidate alone and count it; one validated earlier (a direct access, ahead of the jury) gets an earlier
        date."""
        active = Campaign.objects.active()
        decided_on = Coalesce(
            OuterRef("publication_on"), OuterRef("jury_on"), OuterRef("closes_on"), output_field=DateField()
        )

        def counted(delay_days: str) -> ExpressionWrapper:
            """The decision's day plus the délai, the days as a duration: SQLite has no date + integer (and
            multiplies an integer only, not a small positive one)."""
            number = ExpressionWrapper(OuterRef(delay_days), output_field=IntegerField())
            days = ExpressionWrapper(number * Value(timedelta(days=1)), output_field=DurationField())
            return ExpressionWrapper(decided_on + days, output_field=DateField())

        outside = active.filter(
            Q(starts_on__gt=OuterRef("opens_on"))
            | Q(ends_on__lt=OuterRef("closes_on"))
            | Q(ends_on__lt=OuterRef("return_deadline"))
            | Q(ends_on__lt=OuterRef("confirmation_date"))
            | Q(ends_on__lt=OuterRef("waiting_list_confirmation_date"))
            | Q(ends_on__lt=counted("confirmation_delay_days"))
            | Q(ends_on__lt=counted("waiting_list_confirmation_delay_days"))
        )
        return self.annotate(
            campaign_dates=Case(
                When(~Exists(active), then=Value(CAMPAIGN_DATES_NO_CAMPAIGN)),
                When(Exists(outside), then=Value(CAMPAIGN_DATES_OUTSIDE)),
                default=Value(CAMPAIGN_DATES_OK),
            )
        )

    def outside_campaign(self) -> Self:
        """The formations whose window is not within the active campaign's dates, or all when none is active."""
        return self.with_campaign_dates().exclude(campaign_dates=CAMPAIGN_DATES_OK)

    def for_catalogue(self) -> Self:
        """In-service formations with their centre and diploma type, in no order: the catalogue sorts them by the
        texts it shows, in the reader's language (``offers.catalogue.build_catalogue``)."""
        return self.in_service().select_related("centre", "diploma_type", "formation_type").order_by()


class Formation(models.Model):
    """A programme candidates apply to, with its application window and dates."""

    code = models.CharField(_("code"), max_length=30, unique=True)
    title = models.CharField(_("title"), max_length=255)
    title_en = models.CharField(
        _("title in English"),
        max_length=255,
        blank=True,
        help_text=_("Shown to candidates who read the site in English; empty: the French text is shown."),
    )
    keywords = models.CharField(_("keywords"), max_length=500, blank=True)
    url = models.URLField(_("programme page"), blank=True)
    centre = models.ForeignKey(Centre, verbose_name=_("centre"), on_delete=models.PROTECT, related_name="formations")
    commission = models.ForeignKey(
        Commission, verbose_name=_("commission"), on_delete=models.PROTECT, related_name="formations"
    )
    diploma_type = models.ForeignKey(
        DiplomaType, verbose_name=_("diploma type"), on_delete=models.PROTECT, related_name="formations"
    )
    formation_type = models.ForeignKey(
        FormationType,
        verbose_name=_("formation type"),
        on_delete=models.PROTECT,
        related_name="formations",
        null=True,
        blank=True,
        help_text=_("Groups the formation in the catalogue when it is grouped by formation type."),
    )
    mode = models.CharField(
        _("application mode"), max_length=1, choices=ApplicationMode, default=ApplicationMode.ONLINE
    )
    opens_on = models.DateField(_("applications open on"))
    closes_on = models.DateField(_("applications close on"))
    return_deadline = models.DateField(_("return deadline"))
    confirmation_date = models.DateField(_("confirmation date"), null=True, blank=True)
    confirmation_delay_days = models.PositiveSmallIntegerField(
        _("confirmation delay (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Days after a favourable decision is validated; leave the confirmation date empty then."),
    )
    # The other "Dates utiles" the candidate's recap shows (ecandidat-features §1.6, §2.8), all optional.
    preanalysis_on = models.DateField(_("pre-analysis date"), null=True, blank=True)
    jury_on = models.DateField(_("jury date"), null=True, blank=True)
    publication_on = models.DateField(
        _("publication date"), null=True, blank=True, help_text=_("When the decisions are published to candidates.")
    )
    # eCandidat's "présélection date, heure et lieu" of a formation (§2.8): the convocation "Saisir un avis" proposes
    # for a preselection decision (§2.7), which staff may change; optional, independent of each other.
    preselection_on = models.DateField(
        _("preselection date"),
        null=True,
        blank=True,
        help_text=_("Proposed when a preselection decision is entered (an interview, a test); it can be changed."),
    )
    preselection_time = models.TimeField(_("preselection time"), null=True, blank=True)
    preselection_place = models.CharField(_("preselection place"), max_length=255, blank=True)
    additional_information = models.TextField(
        _("additional information"),
        max_length=500,
        blank=True,
        help_text=_(
            "Shown to the candidates on their application's summary (eCandidat's “Informations complémentaires”)."
        ),
    )
    additional_information_en = models.TextField(
        _("additional information, in English"),
        max_length=500,
        blank=True,
        help_text=_("Shown to candidates who read the site in English; empty: the French text is shown."),
    )
    registration_instructions = models.TextField(_("administrative registration instructions"), blank=True)
    registration_instructions_en = models.TextField(
        _("administrative registration instructions, in English"),
        blank=True,
        help_text=_("Shown to candidates who read the site in English; empty: the French text is shown."),
    )
    # eCandidat "capacité d'accueil" (ecandidat-features §2.8): shown in the dashboards only, never enforced.
    capacity = models.PositiveIntegerField(
        _("capacity"),
        null=True,
        blank=True,
        help_text=_("How many students the formation takes in; empty: unknown. Shown in the dashboards only."),
    )
    # The formation in the student records system, for the OPI (siscol-pegase-apogee.md §2.1, §3.2).
    pegase_code = models.CharField(
        _("formation code in Pégase"),
        max_length=60,
        blank=True,
        help_text=_("The wish code (code_voeu) of the Pégase OPI files; empty: the formation is not sent to Pégase."),
    )
    apogee_cge = models.CharField(_("CGE in Apogée"), max_length=3, blank=True)
    apogee_step_code = models.CharField(_("step code in Apogée"), max_length=6, blank=True)
    apogee_step_version = models.CharField(_("step version in Apogée"), max_length=3, blank=True)
    apogee_diploma_code = models.CharField(_("diploma code in Apogée"), max_length=7, blank=True)
    apogee_diploma_version = models.CharField(_("diploma version in Apogée"), max_length=3, blank=True)
    # Copied to each application when it is created (applications.services.candidature.create_application).
    treatment_type = models.CharField(
        _("processing type"),
        max_length=2,
        choices=TreatmentType,
        default=TreatmentType.CONTROLLED,
        help_text=_(
            "Direct access: a favourable decision (the default favourable decision below) is created and validated "
            "as soon as the dossier is set complete."
        ),
    )
    favourable_decision_type = models.ForeignKey(
        DecisionType,
        verbose_name=_("default favourable decision"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"avis": Avis.FAVOURABLE},
    )
    auto_waiting_list = models.BooleanField(
        _("automatic waiting-list management"),
        default=False,
        help_text=_("When a favourable candidate withdraws, the first of the complementary list is admitted."),
    )
    waiting_list_decision_type = models.ForeignKey(
        DecisionType,
        verbose_name=_("favourable decision given from the complementary list"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"avis": Avis.FAVOURABLE},
    )
    waiting_list_confirmation_date = models.DateField(
        _("confirmation date after a waiting-list promotion"), null=True, blank=True
    )
    waiting_list_confirmation_delay_days = models.PositiveSmallIntegerField(
        _("confirmation delay after a waiting-list promotion (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Days after the promotion; leave the confirmation date after a promotion empty then."),
    )
    forms = models.ManyToManyField(
        ComplementaryForm, verbose_name=_("complementary forms"), blank=True, related_name="formations"
    )
    piece_types = models.ManyToManyField(
        PieceType,
        verbose_name=_("specific pieces"),
        blank=True,
        related_name="formations",
        limit_choices_to={"is_common": False},
    )
    questions = models.ManyToManyField(
        Question,
        verbose_name=_("specific questions"),
        blank=True,
        related_name="formations",
        limit_choices_to={"is_common": False},
    )
    in_service = models.BooleanField(_("in service"), default=True)

    objects = FormationQuerySet.as_manager()

    class Meta:
        verbose_name = _("formation")
        verbose_name_plural = _("formations")
        ordering = ["title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(opens_on__lte=F("closes_on")),
                name="formation_window_ordered",
                violation_error_message=_("The application window must end on or after its start."),
            ),
            models.CheckConstraint(
                condition=Q(closes_on__lte=F("return_deadline")),
                name="formation_deadline_after_window",
                violation_error_message=_("The return deadline must be on or after the end of the window."),
            ),
            models.CheckConstraint(
                condition=Q(confirmation_date__isnull=True) | Q(return_deadline__lte=F("confirmation_date")),
                name="formation_confirmation_after_deadline",
                violation_error_message=_("The confirmation date must be on or after the return deadline."),
            ),
            models.CheckConstraint(
                condition=Q(jury_on__isnull=True) | Q(return_deadline__lte=F("jury_on")),
                name="formation_jury_after_deadline",
                violation_error_message=_("The jury date must be on or after the return deadline."),
            ),
            models.CheckConstraint(
                condition=Q(publication_on__isnull=True)
                | (
                    Q(return_deadline__lte=F("publication_on"))
                    & (Q(jury_on__isnull=True) | Q(jury_on__lte=F("publication_on")))
                ),
                name="formation_publication_after_jury",
                violation_error_message=_(
                    "The publication date must be on or after the return deadline and the jury."
                ),
            ),
            models.CheckConstraint(
                condition=Q(waiting_list_confirmation_date__isnull=True)
                | (
                    Q(return_deadline__lte=F("waiting_list_confirmation_date"))
                    & (Q(jury_on__isnull=True) | Q(jury_on__lte=F("waiting_list_confirmation_date")))
                    & (Q(publication_on__isnull=True) | Q(publication_on__lte=F("waiting_list_confirmation_date")))
                    & (
                        Q(confirmation_date__isnull=True)
                        | Q(confirmation_date__lte=F("waiting_list_confirmation_date"))
                    )
                ),
                name="formation_waiting_list_confirmation_last",
                violation_error_message=_(
                    "The confirmation date after a waiting-list promotion must be on or after the return deadline, "
                    "the jury, the publication and the confirmation date."
                ),
            ),
            models.CheckConstraint(
                condition=Q(confirmation_date__isnull=True) | Q(confirmation_delay_days__isnull=True),
                name="formation_confirmation_date_or_delay",
                violation_error_message=_("Give a confirmation date or a delay in days, not both."),
            ),
            models.CheckConstraint(
                condition=Q(confirmation_delay_days__isnull=True) | Q(confirmation_delay_days__gte=1),
                name="formation_confirmation_delay_at_least_one_day",
                violation_error_message=_("The confirmation delay is at least 1 day."),
            ),
            models.CheckConstraint(
                condition=Q(waiting_list_confirmation_date__isnull=True)
                | Q(waiting_list_confirmation_delay_days__isnull=True),
                name="formation_waiting_list_confirmation_date_or_delay",
                violation_error_message=_(
                    "Give a confirmation date after a waiting-list promotion or a delay in days, not both."
                ),
            ),
            models.CheckConstraint(
                condition=Q(waiting_list_confirmation_delay_days__isnull=True)
                | Q(waiting_list_confirmation_delay_days__gte=1),
                name="formation_waiting_list_confirmation_delay_at_least_one_day",
                violation_error_message=_("The confirmation delay is at least 1 day."),
            ),
        ]

    def __str__(self):
        return logged_name(self.title)  # up to 255 characters: Django's history keeps 200

    def clean(self):
        errors = {}
        if self.opens_on and self.closes_on and self.closes_on < self.opens_on:
            errors["closes_on"] = _("The application window must end on or after its start.")
        if self.closes_on and self.return_deadline and self.return_deadline < self.closes_on:
            errors["return_deadline"] = _("The return deadline must be on or after the end of the window.")
        if self.return_deadline and self.confirmation_date and self.confirmation_date < self.return_deadline:
            errors["confirmation_date"] = _("The confirmation date must be on or after the return deadline.")
        if self.closes_on and self.preanalysis_on and self.preanalysis_on < self.closes_on:
            errors["preanalysis_on"] = _("The pre-analysis date must be on or after the end of the window.")
        if self.return_deadline and self.jury_on and self.jury_on < self.return_deadline:
            errors["jury_on"] = _("The jury date must be on or after the return deadline.")
        if self.publication_on and (
            (self.return_deadline and self.publication_on < self.return_deadline)
            or (self.jury_on and self.publication_on < self.jury_on)
        ):
            errors["publication_on"] = _("The publication date must be on or after the return deadline and the jury.")
        latest = max((day for day in (self.jury_on, self.publication_on) if day), default=None)
        if self.confirmation_date and latest and self.confirmation_date < latest and "confirmation_date" not in errors:
            errors["confirmation_date"] = _("The confirmation date must be on or after the jury and the publication.")
        # The confirmation date after a waiting-list promotion (eCandidat's "confirmation LC") comes last of all.
        wl_date = self.waiting_list_confirmation_date
        before = (self.return_deadline, self.jury_on, self.publication_on, self.confirmation_date)
        if wl_date and any(day and wl_date < day for day in before):
            errors["waiting_list_confirmation_date"] = _(
                "The confirmation date after a waiting-list promotion must be on or after the return deadline, the "
                "jury, the publication and the confirmation date."
            )
        # A date or a délai, not both: the délai would silently replace the date the manager set (and a délai of 0
        # gave the day of the decision itself, the site closing at 22:45). Said next to the délai.
        if self.confirmation_date is not None and self.confirmation_delay_days is not None:
            errors.setdefault(
                "confirmation_delay_days",
                _("Give a confirmation date or a delay in days, not both: empty one of them."),
            )
        if self.waiting_list_confirmation_date is not None and self.waiting_list_confirmation_delay_days is not None:
            errors.setdefault(
                "waiting_list_confirmation_delay_days",
                _(
                    "Give a confirmation date after a waiting-list promotion or a delay in days, not both: empty one "
                    "of them."
                ),
            )
        if self.centre_id and self.commission_id and self.commission.centre_id != self.centre_id:
            errors["commission"] = _("The commission must belong to the formation's centre.")
        if errors:
            raise ValidationError(errors)

    def is_open_on(self, day: date) -> bool:
        return self.opens_on <= day <= self.closes_on

    def closed_reason(self, day: date | None = None) -> str:
        """Why a candidate cannot select this formation today, or "" when they can."""
        day = day or timezone.localdate()
        if day < self.opens_on:
            return _("Applications open on %(date)s.") % {"date": date_format(self.opens_on, "SHORT_DATE_FORMAT")}
        if day > self.closes_on:
            return _("Applications closed on %(date)s.") % {"date": date_format(self.closes_on, "SHORT_DATE_FORMAT")}
        return ""

    @property
    def shown_title(self) -> StaffText:
        """The title in the page's language (``ecandidat.staff_text``)."""
        return shown(self.title, self.title_en)

    @property
    def shown_additional_information(self) -> StaffText:
        """The additional information in the page's language (``ecandidat.staff_text``)."""
        return shown(self.additional_information, self.additional_information_en)

    @property
    def search_text(self) -> str:
        """What the catalogue filter matches: title (in both languages), keywords, diploma type, formation type and
        centre (needs them loaded)."""
        kind = self.formation_type
        kinds = [kind.label, kind.label_en] if kind is not None else []
        return normalise(
            " ".join([self.title, self.title_en, self.keywords, self.diploma_type.label, *kinds, self.centre.label])
        )


# A letter's signature image, read from its header before it is kept: every letter built decodes it whole (in the
# worker, and in the web process for a preview or a download not built yet). The pieces' budget (documents'
# MAX_IMAGE_PIXELS, which offers does not import): 16 Mpx bound a decode to 64 MB; a signature needs far fewer.
# Pillow's own guard stops at 89 Mpx (a warning up to 179 Mpx): a 10 KB PNG of 9000 x 9000 cost each letter 0.9 s
# and 190 MB.
SIGNATURE_MAX_PIXELS = 16_000_000


def signature_size_error(signature: Any) -> str | None:
    """Why a newly uploaded signature image is refused (too many pixels), or None; a file already stored is not
    read again."""
    if not signature or getattr(signature, "_committed", True):
        return None
    try:
        signature.seek(0)
        with Image.open(signature) as image:
            width, height = image.size
    except Exception:  # noqa: BLE001 - an image Pillow cannot read: the form's ImageField says so
        return None
    finally:
        signature.seek(0)
    if width * height <= SIGNATURE_MAX_PIXELS:
        return None
    return str(
        _("This image is too large: %(max)s million pixels at most (it has %(width)s × %(height)s pixels).")
        % {"max": SIGNATURE_MAX_PIXELS // 1_000_000, "width": width, "height": height}
    )


class DecisionLetterTemplate(models.Model):
    """An admission or refusal letter (issue 12, ecandidat-features §1.13): a centre's text, or a formation's own
    one, which wins for its formation. Same ``${name}`` syntax and checks as the mail texts
    (``ecandidat.mail_templates``, ``LETTER_TYPES``); the letter carries the centre's address and this signature."""

    Kind = LetterKind
    # The letter's texts are written in French, whatever the language of the back office that edits them: their
    # inputs are marked so (``ecandidat.admin_inputs.language_of``, RGAA 8.7).
    FRENCH_TEXTS = ("title", "body", "signatory")

    kind = models.CharField(_("letter"), max_length=12, choices=Kind)
    centre = models.ForeignKey(
        Centre, verbose_name=_("centre"), on_delete=models.CASCADE, related_name="letter_templates"
    )
    formation = models.ForeignKey(
        "offers.Formation",
        verbose_name=_("formation"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="letter_templates",
        help_text=_("Leave empty for every formation of the centre."),
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(
        _("text"),
        help_text=_(
            "Plain text. ${name} inserts a variable; {if($name)}…{endif($name)} keeps a passage only when the "
            "variable is set."
        ),
    )
    signatory = models.CharField(_("signatory"), max_length=300, blank=True)
    signature = models.ImageField(
        _("signature image"), upload_to="letters/signatures/", blank=True, max_length=200, help_text=_("PNG or JPEG.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("decision letter")
        verbose_name_plural = _("decision letters")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "centre"],
                condition=Q(formation__isnull=True),
                name="letter_template_once_per_centre",
                violation_error_message=_("This centre already has this letter."),
            ),
            models.UniqueConstraint(
                fields=["kind", "formation"],
                condition=Q(formation__isnull=False),
                name="letter_template_once_per_formation",
                violation_error_message=_("This formation already has this letter."),
            ),
        ]

    def __str__(self):
        # The formation's code, else the centre's label: the admin loads both with the row (no query here).
        return f"{self.get_kind_display()} — {self.formation.code if self.formation else self.centre.label}"

    def clean(self):
        errors: dict[str, Any] = {}
        letter_type = LETTER_TYPES.get(self.kind)
        if letter_type is not None:
            for name in ("title", "body"):
                try:
                    check_source(getattr(self, name) or "", letter_type)
                except TemplateSyntaxProblem as problem:
                    errors[name] = str(problem)
        if self.formation is not None and self.centre_id and self.formation.centre_id != self.centre_id:
            errors["formation"] = _("The formation must belong to the centre.")
        if too_large := signature_size_error(self.signature):
            errors["signature"] = too_large
        if errors:
            raise ValidationError(errors)
