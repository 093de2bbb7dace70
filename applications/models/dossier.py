"""The candidate's dossier, shared by all their applications (ecandidat-features §1.3), and the local copy of the
student records system (SIS) read by the default backend of ``applications.sis``.
"""

import uuid
from collections.abc import Collection
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from applications.departments import department_label
from applications.enums import Civility, Mention, Obtained
from applications.models.reference import (
    bac_series_label,
    bac_speciality_label,
    other_diploma_label,
    shown_other_diploma,
)
from applications.validators import YearInRange
from ecandidat.staff_text import StaffText

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

department_validator = RegexValidator(
    r"^(0[1-9]|[1-8][0-9]|9[0-5]|2A|2B|97[1-6])$", _("Enter a French department number, e.g. 66, 2A or 974.")
)
# A baccalaureate is not obtained in the future; a cursus, an internship, a job may end next year ("En cours").
past_year_validators = [YearInRange()]
year_validators = [YearInRange(years_ahead=1)]
# "Unité administrative immatriculée": a French school's number, e.g. 0660014A (Apogée COD_ETB).
UAI_PATTERN = r"^[0-9]{7}[A-Z]$"
uai_validator = RegexValidator(UAI_PATTERN, _("Enter a UAI number: 7 digits and a letter, e.g. 0660014A."))
# eCandidat's message for an INE another dossier of the campaign holds: the form's, the service's and the admin's.
INE_TAKEN_MESSAGE = _("This INE has already been given to a candidate.")
INE_TAKEN_CODE = "ine_taken"
# Within the campaign only (Candidate's docstring): named here for Candidate.validate_constraints.
INE_UNIQUE_PER_CAMPAIGN = models.UniqueConstraint(
    fields=["campaign", "ine"],
    condition=~Q(ine=""),
    name="candidate_ine_unique_per_campaign",
    violation_error_message=INE_TAKEN_MESSAGE,
    violation_error_code=INE_TAKEN_CODE,
)


def last_editor_field() -> models.ForeignKey:
    """``updated_by`` of each dossier section: who saved it last (the candidate, a member of staff; None for the SIS
    import or before it was kept), named in the message of a concurrent edit (``applications.concurrency``).
    SET_NULL, not PROTECT: a hint for that message, not a record (the applications' history is the record), and it
    must not keep an account alive."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )


class CandidateQuerySet(models.QuerySet["Candidate"]):
    def for_user(self, user: "AbstractBaseUser | AnonymousUser") -> "CandidateQuerySet":
        """The dossier of this user (empty for anonymous users and staff)."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(user_id=user.pk)


class Candidate(models.Model):
    """Informations personnelles (eCandidat ``Candidat``). One per candidate account, so one per campaign.

    The INE is unique within a campaign, not across campaigns: accounts are annual (« vous devrez recréer un compte
    chaque année »), and last year's dossier, with the same INE, stays until its campaign is destroyed
    (``ARCHIVE_RETENTION_DAYS``). A unique constraint cannot reach the campaign through the account (a join), so the
    dossier carries its account's ``campaign``: filled by ``save()`` from the account, never typed (not editable),
    and the constraint is the database's (``candidate_ine_unique_per_campaign``), which no race can pass, unlike a
    check made under a lock by each writer (the candidate's service, the SIS import, the admin). A dossier with an
    INE always has its campaign (``candidate_ine_with_campaign``): a row bulk-created without it (the benchmarks')
    cannot escape the uniqueness. A dossier never changes campaign but with its account (the admin's superusers).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("account"), on_delete=models.PROTECT, related_name="candidate"
    )
    # Its account's campaign, copied (see the class's docstring): what the INE's uniqueness is scoped by.
    campaign = models.ForeignKey(
        "offers.Campaign",
        verbose_name=_("campaign"),
        null=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Its own msgid: "title" is also a formation's title (« titre »), and the guide's label is « Civilité ».
    civility = models.CharField(_("civility"), max_length=3, choices=Civility.choices)
    birth_name = models.CharField(_("birth name"), max_length=30)  # nom patronymique
    usual_name = models.CharField(_("usual name"), max_length=30, blank=True)
    first_name = models.CharField(_("first name"), max_length=20)
    other_first_name = models.CharField(_("other first name"), max_length=20, blank=True)
    birth_date = models.DateField(_("date of birth"))
    birth_country = models.CharField(_("country of birth"), max_length=2)  # ISO 3166-1 alpha-2
    birth_department = models.CharField(
        _("department of birth"), max_length=3, blank=True, validators=[department_validator]
    )
    birth_city = models.CharField(_("city of birth"), max_length=50)
    nationality = models.CharField(_("nationality"), max_length=2)  # ISO 3166-1 alpha-2 of the country
    ine = models.CharField(_("INE and key"), max_length=11, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)  # E.164
    mobile = models.CharField(_("mobile phone"), max_length=20, blank=True)  # E.164
    preferred_language = models.CharField(
        _("preferred language"), max_length=5, choices=settings.LANGUAGES, default="fr"
    )
    # eCandidat's tem_updatable_candidat = false: état civil, bac and cursus interne come from the SIS.
    sis_locked = models.BooleanField(_("imported from the student records system"), default=False)
    sis_student_number = models.CharField(_("student number"), max_length=20, blank=True)
    sis_imported_at = models.DateTimeField(_("last import from the student records system"), null=True, blank=True)
    # Whether the INE is the one the SIS gave (Pégase's confirmed master INE), locked with the état civil. Without
    # one ("not confirmed" in Pégase, not "no INE"), the import keeps the dossier's, which stays the candidate's.
    ine_from_sis = models.BooleanField(_("INE from the student records system"), default=False, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = last_editor_field()

    objects = CandidateQuerySet.as_manager()

    # Fields copied from the SIS and read-only for the candidate when sis_locked (phones stay editable).
    SIS_FIELDS = (
        "civility",
        "birth_name",
        "usual_name",
        "first_name",
        "other_first_name",
        "birth_date",
        "birth_country",
        "birth_department",
        "birth_city",
        "nationality",
        "ine",
    )

    class Meta:
        verbose_name = _("candidate")
        verbose_name_plural = _("candidates")
        constraints = [
            INE_UNIQUE_PER_CAMPAIGN,
            models.CheckConstraint(
                condition=Q(ine="") | Q(campaign__isnull=False), name="candidate_ine_with_campaign"
            ),
        ]

    def __str__(self):
        return f"{self.birth_name} {self.first_name}"

    def save(self, **kwargs: Any) -> None:
        """Saves with the account's campaign (``_follow_account``), what the INE's uniqueness is scoped by."""
        if self._follow_account() and kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "campaign"}
        super().save(**kwargs)

    save.alters_data = True  # type: ignore[attr-defined]

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        """A form never has ``campaign`` (not editable), so Django would skip the INE's uniqueness: it is checked
        here too, against the campaign of the account the form gives (the admin's dossier page), and its error goes
        next to the INE. "An INE goes with a campaign" is the save's, which fills the campaign in."""
        self._follow_account()
        errors: dict[str, list[ValidationError]] = {}
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        if exclude and "campaign" in exclude and "ine" not in exclude and self.campaign_id is not None:
            try:
                INE_UNIQUE_PER_CAMPAIGN.validate(Candidate, self)
            except ValidationError as error:
                errors.setdefault("ine", []).append(error)
        if errors:
            raise ValidationError(errors)

    def _follow_account(self) -> bool:
        """Takes the account's campaign when the account is loaded (a new dossier, another account given; no query)
        or when the dossier has none yet (one query); returns whether it changed."""
        if self.user_id is None or (self.campaign_id is not None and not Candidate.user.is_cached(self)):
            return False
        campaign_id = self.user.campaign_id
        changed = campaign_id != self.campaign_id
        self.campaign_id = campaign_id
        return changed

    @property
    def locked_sis_fields(self) -> tuple[str, ...]:
        """The ``SIS_FIELDS`` nobody but the central office changes: none before an import; after it, all of them
        but an INE the SIS did not give (``ine_from_sis``). The candidate's form, their service and the back office
        read it."""
        if not self.sis_locked:
            return ()
        return tuple(name for name in self.SIS_FIELDS if name != "ine" or self.ine_from_sis)

    @property
    def staff_name(self) -> str:
        """ "NOM Prénom" as the back office writes it (usual name first), in the list and on the dossier's pages."""
        return f"{(self.usual_name or self.birth_name).upper()} {self.first_name}"


class Address(models.Model):
    """Adresse: one per candidate; always editable by the candidate, even after an SIS import."""

    candidate = models.OneToOneField(Candidate, on_delete=models.CASCADE, related_name="address")
    line1 = models.CharField(_("address"), max_length=32)
    line2 = models.CharField(_("address (continued 1)"), max_length=32, blank=True)
    line3 = models.CharField(_("address (continued 2)"), max_length=32, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=10, blank=True)
    city = models.CharField(_("city"), max_length=50, blank=True)
    cedex = models.CharField(_("cedex"), max_length=20, blank=True)
    foreign_city = models.CharField(_("foreign city"), max_length=50, blank=True)
    country = models.CharField(_("country"), max_length=2, default="FR")
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = last_editor_field()

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")

    def __str__(self):
        return ", ".join(filter(None, [self.line1, self.postal_code, self.city or self.foreign_city, self.country]))


class Baccalaureate(models.Model):
    """Baccalauréat ou équivalence (eCandidat ``CandidatBacOuEqu``): one per candidate, or "Je n'ai pas le bac"."""

    candidate = models.OneToOneField(Candidate, on_delete=models.CASCADE, related_name="baccalaureate")
    has_bac = models.BooleanField(_("has the baccalaureate or an equivalent"), default=True)
    # A code of the SIS's list when it was refreshed (applications.models.reference), else of BacSeries; the form
    # offers one list or the other. No model choices: the list is data, read at use (see series_label).
    series = models.CharField(_("series"), max_length=20, blank=True)
    year = models.PositiveSmallIntegerField(_("year obtained"), null=True, blank=True, validators=past_year_validators)
    country = models.CharField(_("country"), max_length=2, blank=True)
    department = models.CharField(_("department"), max_length=3, blank=True, validators=[department_validator])
    city = models.CharField(_("city"), max_length=50, blank=True)
    school = models.CharField(_("school"), max_length=100, blank=True)
    # The school's UAI when known (typed in the form, or from the SIS): the Apogée OPI file's COD_ETB.
    school_uai = models.CharField(_("school UAI number"), max_length=8, blank=True, validators=[uai_validator])
    mention = models.CharField(_("honours"), max_length=3, choices=Mention.choices, blank=True)
    # The bac reform (bac général from 2021): codes of the SIS's spécialités once refreshed, else of the built-in
    # list (applications.models.reference), stored as the series are.
    speciality_1 = models.CharField(_("final-year speciality 1"), max_length=20, blank=True)
    speciality_2 = models.CharField(_("final-year speciality 2"), max_length=20, blank=True)
    dropped_speciality = models.CharField(_("dropped première speciality"), max_length=20, blank=True)
    # Options of the bac (eCandidat codOpt1-4Bac): free text, or the SIS's codes when imported (no list exists here;
    # eCandidat's own list came from Apogée only). 50 characters, as eCandidat's codes.
    option_1 = models.CharField(_("option 1"), max_length=50, blank=True)
    option_2 = models.CharField(_("option 2"), max_length=50, blank=True)
    option_3 = models.CharField(_("option 3"), max_length=50, blank=True)
    option_4 = models.CharField(_("option 4"), max_length=50, blank=True)
    sis_locked = models.BooleanField(_("imported from the student records system"), default=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = last_editor_field()

    SPECIALITY_FIELDS = ("speciality_1", "speciality_2", "dropped_speciality")
    OPTION_FIELDS = ("option_1", "option_2", "option_3", "option_4")

    class Meta:
        verbose_name = _("baccalaureate")
        verbose_name_plural = _("baccalaureates")
        constraints = [
            models.CheckConstraint(
                condition=Q(has_bac=True, year__isnull=False) & ~Q(series="")
                | Q(has_bac=False, series="", year__isnull=True, mention=""),
                name="baccalaureate_series_only_with_bac",
                violation_error_message=_("A baccalaureate has a series and a year; “no baccalaureate” has none."),
            ),
            models.CheckConstraint(
                condition=Q(has_bac=True)
                | Q(
                    school_uai="",
                    speciality_1="",
                    speciality_2="",
                    dropped_speciality="",
                    option_1="",
                    option_2="",
                    option_3="",
                    option_4="",
                ),
                name="baccalaureate_specialities_only_with_bac",
                violation_error_message=_("“No baccalaureate” has no school, speciality or option."),
            ),
            models.CheckConstraint(
                condition=(Q(speciality_2="") | ~Q(speciality_2=F("speciality_1")))
                & (
                    Q(dropped_speciality="")
                    | (~Q(dropped_speciality=F("speciality_1")) & ~Q(dropped_speciality=F("speciality_2")))
                ),
                name="baccalaureate_specialities_distinct",
                violation_error_message=_("The three specialities of a baccalaureate are different."),
            ),
        ]

    def __str__(self):
        return f"{self.series_label} {self.year}" if self.has_bac else str(_("No baccalaureate"))

    @property
    def series_label(self) -> str:
        return bac_series_label(self.series)

    @property
    def speciality_1_label(self) -> str:
        return bac_speciality_label(self.speciality_1)

    @property
    def speciality_2_label(self) -> str:
        return bac_speciality_label(self.speciality_2)

    @property
    def dropped_speciality_label(self) -> str:
        return bac_speciality_label(self.dropped_speciality)

    @property
    def has_specialities(self) -> bool:
        return any(getattr(self, name) for name in self.SPECIALITY_FIELDS)

    @property
    def options(self) -> list[str]:
        """The options given, in order, without the empty ones."""
        return [value for value in (getattr(self, name) for name in self.OPTION_FIELDS) if value]


class InternalCursus(models.Model):
    """Cursus interne: years at the university, imported from the SIS, read-only."""

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="internal_cursus")
    academic_year = models.PositiveSmallIntegerField(_("academic year"), validators=year_validators)
    code = models.CharField(_("code"), max_length=20)
    label = models.CharField(_("label"), max_length=200)
    result = models.CharField(_("result"), max_length=50, blank=True)
    mention = models.CharField(_("honours"), max_length=50, blank=True)
    # The note and its barème (eCandidat notVet / barNotVet; Pégase noteSession*, bareme): "14,5 / 20".
    grade = models.DecimalField(
        _("grade"), max_digits=6, decimal_places=3, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    grade_scale = models.PositiveSmallIntegerField(
        _("grade scale"), null=True, blank=True, validators=[MinValueValidator(1)]
    )

    class Meta:
        verbose_name = _("internal cursus")
        verbose_name_plural = _("internal cursus")
        ordering = ["-academic_year", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(grade__isnull=True) | Q(grade__gte=0), name="internal_cursus_grade_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(grade_scale__isnull=True) | Q(grade_scale__gte=1),
                name="internal_cursus_grade_scale_positive",
            ),
        ]

    def __str__(self):
        return f"{self.academic_year} {self.label}"

    @property
    def academic_year_label(self) -> str:
        return f"{self.academic_year}/{self.academic_year + 1}"

    @property
    def grade_label(self) -> str:
        """The note out of its barème in the active language ("14,5 / 20" in French), the note alone without a
        barème, "" without a note."""
        if self.grade is None:
            return ""
        grade = Decimal(self.grade)
        # The column keeps 3 decimals: 14.500 reads 14,5 and 12.000 reads 12.
        grade = grade.quantize(Decimal(1)) if grade == grade.to_integral_value() else grade.normalize()
        if self.grade_scale is None:
            return formats.number_format(grade)
        return f"{formats.number_format(grade)} / {formats.number_format(self.grade_scale)}"


class DossierRow(models.Model):
    """Rows the candidate adds, edits and deletes. A UUID, not the primary key, names them in URLs."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    year = models.PositiveSmallIntegerField(_("year"), validators=year_validators)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = last_editor_field()

    class Meta:
        abstract = True
        ordering = ["-year", "-created_at"]


class ExternalCursus(DossierRow):
    """Cursus externe / post-bac (eCandidat ``CandidatCursusPostBac``)."""

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="external_cursus")
    label = models.CharField(_("title and level"), max_length=200)
    # The diploma: a code of ReferenceOtherDiploma (eCandidat cod_dac), optional; no model choices, the list is data.
    diploma = models.CharField(_("diploma"), max_length=20, blank=True)
    obtained = models.CharField(_("obtained"), max_length=1, choices=Obtained.choices)
    country = models.CharField(_("country"), max_length=2)
    # In France: the département, the commune (its name, and its INSEE code when chosen from the SIS's communes) and
    # the school's UAI when it was found by it. Abroad, the free-text school only, as eCandidat.
    department = models.CharField(_("department"), max_length=3, blank=True, validators=[department_validator])
    city = models.CharField(_("city"), max_length=50, blank=True)
    city_insee_code = models.CharField(_("INSEE code of the city"), max_length=5, blank=True)
    school = models.CharField(_("school"), max_length=100)
    school_uai = models.CharField(_("school UAI number"), max_length=8, blank=True, validators=[uai_validator])
    mention = models.CharField(_("honours"), max_length=3, choices=Mention.choices, blank=True)

    class Meta(DossierRow.Meta):
        verbose_name = _("external cursus")
        verbose_name_plural = _("external cursus")
        constraints = [
            models.CheckConstraint(
                condition=Q(country="FR") | Q(department="", city="", city_insee_code="", school_uai=""),
                name="external_cursus_place_in_france_only",
                violation_error_message=_("A cursus abroad has no department, city or UAI number."),
            ),
        ]

    def __str__(self):
        return f"{self.year} {self.label}"

    @property
    def diploma_label(self) -> str:
        """The diploma's French label: staff documents (exports, the review page)."""
        return other_diploma_label(self.diploma)

    @property
    def shown_diploma_label(self) -> StaffText:
        """The diploma's label in the page's language, for the candidate's pages and the dossier PDF."""
        return shown_other_diploma(self.diploma)

    @property
    def department_label(self) -> str:
        return department_label(self.department)

    @property
    def place_label(self) -> str:
        """Where in France: "Perpignan, Pyrénées-Orientales (66)"; "" abroad or when not given."""
        return ", ".join(part for part in (self.city, self.department_label) if part)


class Internship(DossierRow):
    """Stages (eCandidat ``CandidatStage``)."""

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="internships")
    duration = models.CharField(_("duration"), max_length=50)
    hours_per_week = models.PositiveSmallIntegerField(
        _("hours per week"), null=True, blank=True, validators=[MaxValueValidator(80)]
    )
    organisation = models.CharField(_("employer / organisation"), max_length=100)
    description = models.TextField(_("description"), max_length=2000, blank=True)

    class Meta(DossierRow.Meta):
        verbose_name = _("internship")
        verbose_name_plural = _("internships")

    def __str__(self):
        return f"{self.year} {self.organisation}"


class WorkExperience(DossierRow):
    """Expériences professionnelles (eCandidat ``CandidatCursusPro``)."""

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="work_experiences")
    duration = models.CharField(_("duration"), max_length=50)
    title = models.CharField(_("job title"), max_length=100)
    organisation = models.CharField(_("employer / organisation"), max_length=100)
    description = models.TextField(_("description"), max_length=2000, blank=True)

    class Meta(DossierRow.Meta):
        verbose_name = _("work experience")
        verbose_name_plural = _("work experiences")

    def __str__(self):
        return f"{self.year} {self.title}"


class SisRecord(models.Model):
    """One student of the local SIS copy, loaded by ``manage.py import_sis`` (docs/sis-format.md).

    The payload is what ``applications.sis.SisStudent`` needs, validated at import time; it is replaced as a whole
    at each import of the student, so a JSON document is simpler and safer than a dozen tables.
    """

    student_number = models.CharField(_("student number"), max_length=20, unique=True)
    ine = models.CharField(_("INE and key"), max_length=11, blank=True, db_index=True)
    data = models.JSONField(_("data"))
    imported_at = models.DateTimeField(_("imported at"), auto_now=True)

    class Meta:
        verbose_name = _("student record")
        verbose_name_plural = _("student records")

    def __str__(self):
        return self.student_number
