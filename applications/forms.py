"""Forms of the dossier pages. They validate; the views hand ``cleaned_data`` to ``applications.services``."""

import datetime
import re
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.core.validators import MaxLengthValidator
from django.utils import formats
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from applications.concurrency import READ_AT_FIELD, EditConflict, VersionField, posted_with, version_of
from applications.countries import FRANCE, country_choices, country_name, lazy_country_choices, normalise_name
from applications.departments import BLANK_CHOICE, department_choices, department_label
from applications.enums import BacSeries, PieceStatus, WithdrawalReason
from applications.models import (
    Address,
    Baccalaureate,
    Candidate,
    ExternalCursus,
    Internship,
    ReferenceCommune,
    ReferenceSchool,
    WorkExperience,
)
from applications.models.dossier import INE_TAKEN_CODE, INE_TAKEN_MESSAGE, UAI_PATTERN
from applications.models.questions import ANSWER_MAX_LENGTH
from applications.models.reference import (
    REFORM_FIRST_YEAR,
    bac_series_label,
    bac_speciality_choices,
    bac_speciality_label,
    communes_of_department,
    has_reference_communes,
    has_reference_schools,
    is_general_series,
    other_diploma_choices,
    reference_bac_series_rows,
    reference_countries,
    shown_other_diploma,
)
from applications.opi.countries import in_france
from applications.permissions import ALWAYS_EDITABLE_PERSONAL_FIELDS
from applications.questions import BOOLEAN_LABELS, QuestionRow, answers_version, changed_since, field_name
from applications.validators import (
    FIRST_YEAR,
    YearInRange,
    cleaned_ine,
    format_phone,
    normalise_department,
    normalise_phone,
    stored_family_name,
    validate_birth_date,
)
from ecandidat import parameters
from ecandidat.staff_text import StaffText, StaffTextSelect
from ecandidat.text import RefuseInvisibleControls, refuse_invisible_controls, require_a_letter


class DossierForm(forms.ModelForm):
    """Marks required fields with "*" as the guide says, and lists countries from ISO 3166."""

    country_fields: tuple[str, ...] = ()
    # WCAG 1.3.5 / RGAA 11.13: the purpose of personal fields, so that browsers and assistive tools can fill them.
    autocomplete: dict[str, str] = {}
    # Phone fields get type=tel (the phone keypad on a mobile).
    tel_fields: tuple[str, ...] = ()

    # The version of the section this form was read at (``applications.concurrency``): the service refuses the save
    # when the section changed meanwhile.
    read_at = VersionField()

    def __init__(self, *args, version: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.conflict: EditConflict | None = None
        self.conflict_values: list[tuple[str, str | StaffText]] = []
        self.initial[READ_AT_FIELD] = version_of(self.instance) if version is None else version
        for name in self.country_fields:
            field = self.fields[name]
            current = getattr(self.instance, name) if self.instance.pk else ""
            choices: Any = lazy_country_choices()
            if current and reference_countries() and current not in dict(reference_countries()):
                # The SIS's list no longer offers the country this dossier holds (hidden since): keep it offered,
                # or a field locked by the SIS import would refuse its own value.
                choices = [*choices, (current, country_name(current))]
            self.fields[name] = forms.ChoiceField(
                label=field.label, required=field.required, choices=choices, help_text=field.help_text
            )
            if self.instance.pk:
                self.initial[name] = current
        for name in self.tel_fields:
            accept_typed_phone(self.fields[name])
            self.fields[name].widget.input_type = "tel"
            if self.instance.pk and getattr(self.instance, name, ""):
                # Stored as +33612345671, shown as the candidate typed it: 06 12 34 56 71.
                self.initial[name] = format_phone(getattr(self.instance, name))
        for name, token in self.autocomplete.items():
            self.fields[name].widget.attrs["autocomplete"] = token
        bound_years(self)
        for field in self.fields.values():
            if field.required and field.label:
                field.label = format_lazy("* {}", field.label)

    def _get_validation_exclusions(self):
        """The model's validators check what the person can change, not a disabled field (locked by the student
        records, or once the candidate has applied): it keeps the value it holds, which no one on the page can
        correct. A département of birth the SIS gave that the model's validator refuses (977, a country's code)
        made every save of « Informations perso. » fail beside a greyed-out field, the phone's included."""
        exclude = super()._get_validation_exclusions()  # type: ignore[misc]  # Django's, not in its stubs
        exclude.update(name for name, field in self.fields.items() if field.disabled)
        return exclude

    def rule_applies(self, *names: str) -> bool:
        """Whether the rules that read ``names`` are checked: always on the candidate's forms (the staff's dossier
        page checks what staff changed, ``applications.admin.dossier.DossierAdminForm``)."""
        return True

    def checked(self, name: str, rule) -> Any:
        """The field's value through ``rule`` (which returns the value to store, or raises ValidationError)."""
        return rule(self.cleaned_data[name])

    def clean(self):
        """A name, a city or a description never holds an invisible control or direction character: stored, a
        vertical tab broke the XLSX exports and a right-to-left override turned a name round on the staff's pages."""
        cleaned = super().clean()
        assert cleaned is not None  # Django's ModelForm.clean returns cleaned_data
        refuse_invisible_controls(self)
        return cleaned

    @cached_property
    def changed_data(self):
        # The version read is no value of the dossier: it changes after a conflict, and nothing else did.
        return [name for name in super().changed_data if name != READ_AT_FIELD]

    def changes(self) -> dict:
        """The cleaned values of the enabled fields: what the service may write."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if not self.fields[name].disabled and name != READ_AT_FIELD
        }

    def read_version(self) -> str | None:
        """The version the person read the section at, as posted; None (no check) for a post without the field (a
        page served before the field existed)."""
        if self.add_prefix(READ_AT_FIELD) not in self.data:
            return None
        return self.cleaned_data.get(READ_AT_FIELD) or ""

    def show_conflict(self, conflict: EditConflict, message: str) -> None:
        """The section changed meanwhile: the message at the top of the form (the error summary, announced), the
        values typed kept, the stored ones listed beside them, and the form now reads the current version, so that
        saving again (after checking) succeeds."""
        self.conflict = conflict
        self.add_error(None, message)
        self.data = posted_with(self.data, self.add_prefix(READ_AT_FIELD), version_of(conflict.current))
        if conflict.current is not None:
            self.conflict_values = stored_values(self, conflict.current)


# A phone number as typed: its column holds it normalised (E.164, 20 characters at most), but typed it has spaces,
# brackets and a 00 prefix ("00 44 (0) 20 7946 0958", 22 characters, is +442079460958).
TYPED_PHONE_MAX_LENGTH = 40


def accept_typed_phone(field: forms.Field) -> None:
    """A phone field's length is the typed number's (``TYPED_PHONE_MAX_LENGTH``), not its column's: the number is
    checked and normalised after (``normalise_phone``), and a valid one written with spaces and brackets was refused
    for its length. On the candidate's form and the staff's dossier page."""
    assert isinstance(field, forms.CharField)  # the model's CharField
    field.max_length = TYPED_PHONE_MAX_LENGTH
    field.validators = [
        *(validator for validator in field.validators if not isinstance(validator, MaxLengthValidator)),
        MaxLengthValidator(TYPED_PHONE_MAX_LENGTH),
    ]
    field.widget.attrs["maxlength"] = str(TYPED_PHONE_MAX_LENGTH)


def bound_years(form: forms.BaseModelForm) -> None:
    """A year of the model (``YearInRange``) is checked with its field, before the form's own checks that read it
    (the bac's series and spécialités), and its bounds are the number input's, for its arrows: on the candidate's
    forms and on the staff's dossier page alike."""
    for name, field in form.fields.items():
        try:
            model_field = form._meta.model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        for validator in model_field.validators:
            if isinstance(validator, YearInRange):
                field.validators.append(validator)
                field.widget.attrs.update(min=FIRST_YEAR, max=validator.last_year())


def _choice_labels(choices) -> dict:
    labels = {}
    for value, label in choices:
        if isinstance(label, list | tuple):  # an optgroup
            labels.update(_choice_labels(label))
        else:
            labels[str(value)] = label
    return labels


def stored_values(form: forms.BaseForm, current) -> list[tuple[str, str | StaffText]]:
    """(label, value) of the section as stored, for the form's visible fields that are fields of the model; a staff
    text (a diploma's label) kept with its language, for the page's ``lang``."""
    rows = []
    for bound in form.visible_fields():
        try:
            model_field = current._meta.get_field(bound.name)
        except FieldDoesNotExist:  # a form-only field (a choice that fills two model fields)
            continue
        value = getattr(current, bound.name)
        if getattr(model_field, "choices", None):
            value = getattr(current, f"get_{bound.name}_display")()
        elif bound.name in getattr(form, "country_fields", ()) or bound.name == "country":
            value = country_name(value) if value else ""
        elif value and (choices := getattr(bound.field, "choices", None)):
            value = _choice_labels(choices).get(str(value), value)
        elif isinstance(value, datetime.date):
            value = formats.date_format(value, "SHORT_DATE_FORMAT")
        elif isinstance(value, bool):
            value = _("Yes") if value else _("No")
        if not isinstance(value, StaffText):
            value = "" if value in (None, "") else str(value)
        rows.append((str(bound.label).removeprefix("* "), value))
    return rows


# --- The dossier's rules, shared by the candidate's forms and the staff's dossier page (applications.admin.dossier) --


def validate_country(value: str) -> None:
    """A country of the list the candidate's forms offer (``country_choices``: the SIS's, else ISO 3166's), with
    the message of their list (Django's ``ChoiceField``) for any other code ("ZZ")."""
    if value and value not in dict(country_choices()):
        raise forms.ValidationError(
            _("Select a valid choice. %(value)s is not one of the available choices."),
            code="invalid_choice",
            params={"value": value},
        )


def family_name_as_stored(field: forms.Field, value: str) -> str:
    """The birth or usual name as it will be stored (``stored_family_name``), refused beside the field when it then
    outgrows its column (the field's ``max_length`` message): a 30-character name growing past it was refused by
    PostgreSQL (a 500)."""
    stored = stored_family_name(value)
    limit = getattr(field, "max_length", None)  # the column's
    if limit is not None and len(stored) > limit:
        raise forms.ValidationError(
            field.error_messages["max_length"],
            code="max_length",
            params={"limit_value": limit, "show_value": len(stored), "value": value},
        )
    return stored


def _typed(form: forms.BaseForm, name: str) -> bool:
    field = form.fields.get(name)
    return field is not None and not field.disabled


def check_birth_place(form: forms.BaseForm, cleaned: dict) -> None:
    """Born in France: the département of birth is given; born abroad: there is none (one chosen before the country
    changed is dropped, or the exports and the OPI file would place a birth in Madrid in the Pyrénées-Orientales)."""
    if not _typed(form, "birth_department"):
        return
    if cleaned.get("birth_country") == FRANCE and not cleaned.get("birth_department"):
        form.add_error("birth_department", _("Give the department of birth for a birth in France."))
    if cleaned.get("birth_country") not in (None, "", FRANCE):
        cleaned["birth_department"] = ""


def check_ine_given(form: forms.BaseForm, cleaned: dict) -> None:
    """eCandidat CANDIDAT_IS_INE_OBLI_FR (``INE_REQUIRED_FOR_FRENCH``): the student records system files French
    students by their INE."""
    if (
        parameters.get("INE_REQUIRED_FOR_FRENCH")
        and cleaned.get("nationality") == FRANCE
        and "ine" in cleaned
        and not cleaned["ine"]
        and _typed(form, "ine")
    ):
        form.add_error(
            "ine",
            _(
                "The INE is required for candidates of French nationality: it is on your baccalaureate "
                "transcript and on your student card."
            ),
        )


def check_address_place(form: forms.BaseForm, cleaned: dict) -> None:
    """In France, a postal code of 5 digits ("66 000" is 66000) and a city, a commune of the postal code once the
    SIS's communes are loaded (``check_commune``), no city abroad; abroad, a city and no French postal code,
    commune or cedex (those typed before the country changed are dropped, or the review page read "66000
    PERPIGNANMadrid" and the OPI file sent 66000 for Madrid).

    France includes its overseas departments chosen as countries (Guadeloupe, La Réunion…: ``in_france``): the
    student records system files them as France (country 100) with their postal code and commune; taken as abroad,
    their postal code was dropped and the OPI files sent an address in France with no postal code nor town."""
    if in_france(cleaned.get("country") or ""):
        cleaned["foreign_city"] = ""  # a city abroad typed before the country changed back is dropped
        postal_code = cleaned["postal_code"] = re.sub(r"\s+", "", cleaned.get("postal_code", ""))
        if not (postal_code.isascii() and postal_code.isdigit() and len(postal_code) == 5):
            form.add_error("postal_code", _("A French postal code has 5 digits."))
        if not cleaned.get("city"):
            form.add_error("city", _("Give the city."))
        elif not form.errors:
            check_commune(form, cleaned, postal_code)
    elif cleaned.get("country"):
        cleaned.update(postal_code="", city="", cedex="")
        if not cleaned.get("foreign_city"):
            form.add_error("foreign_city", _("Give the city."))


def check_commune(form: forms.BaseForm, cleaned: dict, postal_code: str) -> None:
    """With the SIS's communes (refresh_reference_data), the city must be a commune of the postal code; it is then
    written as the SIS names it. Without them, any city is accepted, as before."""
    if not has_reference_communes():
        return
    labels = list(
        ReferenceCommune.objects.filter(postal_code=postal_code, visible=True)
        .order_by("label")
        .values_list("label", flat=True)
        .distinct()
    )
    if not labels:
        form.add_error("postal_code", _("This postal code matches no commune."))
        return
    typed = normalise_name(cleaned["city"])
    match = next((label for label in labels if normalise_name(label) == typed), None)
    if match is None:
        form.add_error(
            "city",
            _("This city does not match the postal code. Communes of %(postal_code)s: %(communes)s.")
            % {"postal_code": postal_code, "communes": ", ".join(labels)},
        )
    else:
        cleaned["city"] = match


# A person's names: at least one letter (``require_a_letter``), as at signup and on the staff's account form; "-5",
# a right-to-left mark or a lone accent names nobody.
NAME_FIELDS = ("birth_name", "usual_name", "first_name", "other_first_name")


class PersonalDetailsForm(DossierForm):
    country_fields = ("birth_country", "nationality")
    tel_fields = ("phone", "mobile")
    autocomplete = {
        "civility": "honorific-prefix",
        "birth_name": "family-name",
        "usual_name": "off",  # a second family name: no token of its own
        "first_name": "given-name",
        "other_first_name": "additional-name",
        "birth_date": "bday",
        "birth_country": "off",  # the country of birth, not of the address
        "birth_city": "off",
        "nationality": "off",
        "phone": "tel",
        "mobile": "mobile tel",
        "preferred_language": "language",
    }

    class Meta:
        model = Candidate
        fields = [
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
            "phone",
            "mobile",
            "preferred_language",
        ]
        widgets = {"birth_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}
        # The lengths are the student records system's (Apogée: 30 for names, 20 for first names). A name typed
        # longer at signup lands here: say what to do, not only the count.
        error_messages = {
            "birth_name": {
                "max_length": _(
                    "At most %(limit_value)d characters, the limit of the student records system: write your name "
                    "as on your official documents, shortened if needed."
                )
            },
            "usual_name": {
                "max_length": _(
                    "At most %(limit_value)d characters, the limit of the student records system: write your name "
                    "as on your official documents, shortened if needed."
                )
            },
            "first_name": {
                "max_length": _(
                    "At most %(limit_value)d characters, the limit of the student records system: give your first "
                    'first name here and the next one in "Other first name".'
                )
            },
            "other_first_name": {
                "max_length": _("At most %(limit_value)d characters, the limit of the student records system.")
            },
        }
        help_texts = {
            "ine": _("11 characters without spaces: the INE followed by its key, e.g. 1234567890V."),
            "birth_department": _("For candidates born in France."),
            "phone": _("International numbers start with +, e.g. +34 612 34 56 78."),
        }

    def __init__(self, *args, sis_locked=False, details_locked=False, campaign_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # The INE is unique within a campaign (Candidate): the dossier's, or the account's for a new dossier.
        self.campaign_id = self.instance.campaign_id or campaign_id
        # Disabled fields ignore posted values: a forged POST cannot change them (Django uses the initial value).
        # The SIS's fields but an INE it did not give (the service's rule: Candidate.locked_sis_fields).
        sis_fields = self.instance.locked_sis_fields if sis_locked else ()
        for name, field in self.fields.items():
            if name in sis_fields or (details_locked and name not in ALWAYS_EDITABLE_PERSONAL_FIELDS):
                field.disabled = True
                # A locked value the SIS left empty is not the candidate's to fix: it must not block the others.
                field.required = False
        for name in NAME_FIELDS:
            if not self.fields[name].disabled:  # a locked value is the SIS's, not the candidate's to fix
                self.fields[name].validators.append(require_a_letter)
        if parameters.get("INE_REQUIRED_FOR_FRENCH") and not self.fields["ine"].disabled:
            # Required for French nationals only (clean): say so before the candidate submits, not after.
            self.fields["ine"].help_text = _(
                "Required for candidates of French nationality (on your baccalaureate transcript and your student "
                "card). 11 characters without spaces: the INE followed by its key, e.g. 1234567890V."
            )

    def clean_birth_date(self):
        value = self.cleaned_data["birth_date"]
        if not self.fields["birth_date"].disabled:  # a locked date is kept as the SIS gave it
            validate_birth_date(value)
        return value

    def clean_birth_name(self):
        return self._clean_upper_cased_name("birth_name")

    def clean_usual_name(self):
        return self._clean_upper_cased_name("usual_name")

    def _clean_upper_cased_name(self, name: str) -> str:
        """The name's length as it will be stored, not as typed: the service squeezes and upper-cases names
        (``applications.services.dossier._clean_name``), and some letters grow then ("Straß" is "STRASS", the
        ligature "ﬀ" is "FF"). A 30-character name growing past its column was refused by PostgreSQL (a 500 on
        « Informations perso. »); it is refused here, beside the field, with the value typed kept."""
        value = self.cleaned_data[name]
        field = self.fields[name]
        if field.disabled:
            return value
        family_name_as_stored(field, value)
        return value  # the service upper-cases it

    def clean_birth_department(self):
        return normalise_department(self.cleaned_data["birth_department"])

    def clean_ine(self):
        if self.fields["ine"].disabled:
            return self.initial.get("ine", "")
        ine = cleaned_ine(self.cleaned_data["ine"])
        if not ine:
            return ""
        if self.ine_taken(ine):
            raise forms.ValidationError(INE_TAKEN_MESSAGE, code=INE_TAKEN_CODE)
        return ine

    def ine_taken(self, ine: str) -> bool:
        """Another dossier of the campaign holds ``ine`` (last year's dossiers do not count). Without a campaign
        known, or when a dossier takes it after this check, the save is refused by the database's constraint and
        the service says so in the same words (``FieldRuleError``)."""
        if self.campaign_id is None:
            return False
        return Candidate.objects.filter(campaign_id=self.campaign_id, ine=ine).exclude(pk=self.instance.pk).exists()

    def clean_phone(self):
        return normalise_phone(self.cleaned_data["phone"])

    def clean_mobile(self):
        return normalise_phone(self.cleaned_data["mobile"])

    def clean(self):
        cleaned = super().clean()
        assert cleaned is not None  # Django's Form/ModelForm.clean returns cleaned_data
        check_birth_place(self, cleaned)
        check_ine_given(self, cleaned)
        return cleaned

    def validate_unique(self):
        # INE uniqueness (within the campaign) is checked in clean_ine with the guide's message; other constraints
        # need the user.
        pass

    def validate_constraints(self):
        # The same: clean_ine checked the INE in the campaign (one query, where the model's check of the constraint
        # costs a savepoint and a query more, and again for "an INE goes with a campaign", which the save fills in).
        pass


class AddressForm(DossierForm):
    country_fields = ("country",)
    autocomplete = {
        "line1": "address-line1",
        "line2": "address-line2",
        "line3": "address-line3",
        "postal_code": "postal-code",
        "city": "address-level2",
        "foreign_city": "address-level2",
        "country": "country",
    }

    class Meta:
        model = Address
        fields = ["line1", "line2", "line3", "postal_code", "city", "cedex", "foreign_city", "country"]
        help_texts = {
            "postal_code": _("For an address in France, overseas departments included."),
            "foreign_city": _("For an address outside France."),
        }

    def clean(self):
        cleaned = super().clean()
        assert cleaned is not None  # Django's Form/ModelForm.clean returns cleaned_data
        check_address_place(self, cleaned)
        return cleaned

    def validate_unique(self):
        pass


UAI = re.compile(UAI_PATTERN)  # "unité administrative immatriculée": a French school's number


def find_school(form: forms.BaseForm, uai: str) -> ReferenceSchool | None:
    """The SIS's school of this UAI, or None with "No school has this UAI number." beside the school."""
    found = ReferenceSchool.objects.filter(code=uai).first()
    if found is None:
        form.add_error("school", _("No school has this UAI number."))
    return found


def kept_choices(choices, current: str, label) -> list[tuple[str, Any]]:
    """``choices``, with the value a dossier holds kept offered (``label(current)``) when the list no longer has it:
    a field whose list changed since must not refuse its own stored value."""
    choices = list(choices)
    if current and current not in dict(choices):
        choices.append((current, label(current)))
    return choices


# The rules' mixins are of a ModelForm of the dossier (for the type checker; nothing at run time).
_RulesBase: type = forms.ModelForm if TYPE_CHECKING else object


class BaccalaureateRules(_RulesBase):
    """The baccalaureate's lists and rules, for the candidate's form (``BaccalaureateForm``) and the staff's dossier
    page (``applications.admin.dossier.BaccalaureateAdminForm``): one code, one message, beside the same field.

    The series from the SIS's list (else the built-in one), within the years the SIS says it was awarded; the
    spécialités of the bac général from its 2021 session on only, two different final-year ones and a dropped
    première one differing from both; a school in France typed as its UAI, looked up in the SIS's schools (then
    named, its département and city filled in when not given); abroad, no département. Each rule is checked when
    the form's ``rule_applies`` to its fields: always on the candidate's form, on the staff's when staff changed
    one of them. The year's bounds are the model's (``bound_years``)."""

    speciality_fields = Baccalaureate.SPECIALITY_FIELDS
    option_fields = Baccalaureate.OPTION_FIELDS
    reform_first_year = REFORM_FIRST_YEAR
    # What the series' years and the spécialités rule read; what places the school.
    SERIES_FIELDS = ("series", "year")
    SCHOOL_FIELDS = ("country", "department", "city", "school")

    instance: Baccalaureate
    # The dossier's form's (``DossierForm``, ``DossierAdminForm``): when a rule is checked, how a value is.
    rule_applies: Any
    checked: Any

    def bac_fields(self, *, series_required: bool = True) -> None:
        """The series and the spécialités as lists (a code the dossier holds stays offered), the school's help text;
        fields the form does not have (read-only there) are left alone."""
        # The SIS's series once refresh_reference_data filled them, else the built-in list.
        rows = reference_bac_series_rows()
        self.series_years = {code: (first, last) for code, _label, first, last in rows}
        offered: list[tuple[str, Any]] = [(code, label) for code, label, _first, _last in rows] or list(
            BacSeries.choices
        )
        current = self.instance.series if self.instance.pk else ""
        choices = kept_choices(offered, current, bac_series_label)
        # The series of the bac général, whose bac from REFORM_FIRST_YEAR on has spécialités (read by bac.js).
        self.reform_series = [code for code, label in choices if is_general_series(code, label)]
        self.school_uai = ""
        if "series" in self.fields:
            self.fields["series"] = forms.ChoiceField(
                label=self.fields["series"].label, choices=[BLANK_CHOICE, *choices], required=series_required
            )
            if self.instance.pk:
                self.initial["series"] = current
        specialities = bac_speciality_choices()
        for name in self.speciality_fields:
            if name not in self.fields:
                continue
            current = getattr(self.instance, name) if self.instance.pk else ""
            field = self.fields[name]
            self.fields[name] = forms.ChoiceField(
                label=field.label,
                required=False,
                choices=[BLANK_CHOICE, *kept_choices(specialities, current, bac_speciality_label)],
                help_text=field.help_text,
            )
            if self.instance.pk:
                self.initial[name] = current
        if "school" in self.fields and has_reference_schools():
            self.fields["school"].help_text = _(
                "For a school in France you may type its UAI number (on the baccalaureate certificate, e.g. "
                "0660014A): its name, department and city are then filled in."
            )

    def reform_applies(self, series: str, year: int | None) -> bool:
        """Whether this bac has spécialités: the bac général, obtained in REFORM_FIRST_YEAR or later."""
        return series in self.reform_series and year is not None and year >= REFORM_FIRST_YEAR

    def clean_department(self):
        return self.checked("department", normalise_department)

    def check_bac(self, cleaned: dict) -> None:
        """The baccalaureate's rules on ``cleaned`` (a bac the candidate has)."""
        if self.rule_applies(*self.SERIES_FIELDS):
            self._check_series_years(cleaned)
        if self.rule_applies(*self.SERIES_FIELDS, *self.speciality_fields):
            self._check_specialities(cleaned)
        if self.rule_applies(*self.SCHOOL_FIELDS):
            self._check_school(cleaned)
        else:
            self.school_uai = self.instance.school_uai  # the place as stored, its school's number with it

    def _check_series_years(self, cleaned: dict) -> None:
        first, last = self.series_years.get(cleaned.get("series", ""), (None, None))
        year = cleaned.get("year")
        if year and ((first and year < first) or (last and year > last)):
            self.add_error(
                "series",
                _("This series was awarded from %(first)s to %(last)s: check the series or the year.")
                % {"first": first or "…", "last": last or "…"},
            )

    def _check_specialities(self, cleaned: dict) -> None:
        given = [name for name in self.speciality_fields if cleaned.get(name)]
        series, year = cleaned.get("series"), cleaned.get("year")
        if given and series and year and not self.reform_applies(series, year):
            for name in given:
                self.add_error(
                    name,
                    _(
                        "Specialities concern only the general baccalaureate obtained from %(year)s on: leave this "
                        "field empty."
                    )
                    % {"year": REFORM_FIRST_YEAR},
                )
            return
        speciality_1, speciality_2, dropped = (cleaned.get(name, "") for name in self.speciality_fields)
        if speciality_1 and speciality_1 == speciality_2:
            self.add_error("speciality_2", _("Choose two different final-year specialities."))
        if dropped and dropped in (speciality_1, speciality_2):
            self.add_error(
                "dropped_speciality",
                _("The dropped première speciality must differ from your two final-year specialities."),
            )

    def _check_school(self, cleaned: dict) -> None:
        self.school_uai = ""  # a school typed otherwise has no number, unless it is the one found before (below)
        if cleaned.get("country") and cleaned.get("country") != FRANCE:
            cleaned["department"] = ""  # a bac abroad has no département (one chosen before the country is dropped)
        school = (cleaned.get("school") or "").strip().upper()
        if UAI.match(school) and cleaned.get("country") == FRANCE:
            if not has_reference_schools():
                self.school_uai = school  # no list to check it against: kept as typed
            elif (found := find_school(self, school)) is not None:
                self.school_uai = school
                cleaned["school"] = found.label[:100]
                cleaned["department"] = cleaned.get("department") or found.department
                if not cleaned.get("city"):
                    cleaned["city"] = (
                        ReferenceCommune.objects.filter(insee_code=found.commune_insee_code)
                        .order_by("code")
                        .values_list("label", flat=True)
                        .first()
                        or ""
                    )
        elif self.instance.pk and (cleaned.get("school"), cleaned.get("country")) == (
            self.instance.school,
            self.instance.country,
        ):
            self.school_uai = self.instance.school_uai  # the school found by its number earlier, unchanged


# What a baccalaureate holds: the candidate's form's fields, emptied by staff for a candidate without one (the
# candidate's "Je n'ai pas le bac", applications.admin.dossier).
BAC_DETAILS = (
    "series",
    "year",
    "country",
    "department",
    "city",
    "school",
    "mention",
    *Baccalaureate.SPECIALITY_FIELDS,
    *Baccalaureate.OPTION_FIELDS,
)


class BaccalaureateForm(BaccalaureateRules, DossierForm):
    """Baccalauréat ou équivalence (eCandidat ``CandidatBacWindow``); its rules are ``BaccalaureateRules``.

    The spécialités of the bac reform concern the bac général from its 2021 session on: the page hides them for any
    other series or year (static/js/bac.js, which also leaves them out of the POST), and the server refuses them
    there with a message next to the field, so that without JavaScript they are optional fields whose help text
    says when to fill them. The options concern every bac.
    """

    country_fields = ("country",)

    class Meta:
        model = Baccalaureate
        fields = list(BAC_DETAILS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bac_fields()
        for name in self.speciality_fields:
            self._describe(name, "bac-specialities-help")
        for name in self.option_fields:
            self._describe(name, "bac-options-help")
        for name in ("series", "year", "country"):
            self.fields[name].required = True
            self.fields[name].label = format_lazy("* {}", self.fields[name].label)

    def _describe(self, name: str, help_id: str) -> None:
        # The group's help text (one paragraph for the group, in the template); the field's error is added once the
        # form is validated (full_clean), only when there is one: a reference to an absent id is invalid HTML.
        self.fields[name].widget.attrs["aria-describedby"] = help_id

    def full_clean(self) -> None:
        super().full_clean()
        for name in (*self.speciality_fields, *self.option_fields):
            attrs = self.fields[name].widget.attrs
            if name in self.errors and "aria-describedby" in attrs:
                attrs["aria-describedby"] = f"{attrs['aria-describedby']} {self[name].auto_id}_error"

    def main_fields(self) -> list[forms.BoundField]:
        grouped = {*self.speciality_fields, *self.option_fields}
        return [field for field in self.visible_fields() if field.name not in grouped]

    def speciality_bound_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.speciality_fields]

    def option_bound_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.option_fields]

    def clean(self):
        cleaned = super().clean()
        assert cleaned is not None  # Django's Form/ModelForm.clean returns cleaned_data
        self.check_bac(cleaned)
        return cleaned

    def changes(self) -> dict:
        # The school's UAI is no field of its own: it is the number the school was typed as, or kept.
        return {**super().changes(), "school_uai": self.school_uai}

    def validate_unique(self):
        pass


class AnswerField(forms.CharField):
    """A text of several lines (an answer, a description): line breaks counted as one character, as the browser's
    ``maxlength`` counts them (a browser sends CR LF)."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n") if isinstance(value, str) else value


class RowForm(DossierForm):
    def validate_unique(self):
        pass


def other_diploma_field(current: str, label, help_text="") -> forms.ChoiceField:
    """The diploma of an external cursus chosen from the visible diplomas of another cursus (``ReferenceOtherDiploma``,
    labels in the active language, a French one left untranslated marked so); a code the row holds, hidden since,
    stays offered to it."""
    return forms.ChoiceField(
        label=label,
        required=False,
        choices=[BLANK_CHOICE, *kept_choices(other_diploma_choices(), current, shown_other_diploma)],
        widget=StaffTextSelect,
        help_text=help_text,
        error_messages={"invalid_choice": _("Choose a diploma from the list.")},
    )


class ExternalCursusRules(_RulesBase):
    """The place of an external cursus, for the candidate's form (``ExternalCursusForm``) and the staff's dossier page
    (``applications.admin.dossier.ExternalCursusAdminForm``): one code, one message, beside the same field.

    In France, the département from its list, the commune (chosen from the département's communes once the SIS's
    are loaded, its INSEE code kept; else typed) and the school, which may be typed as its UAI: looked up in the
    SIS's schools, then named, and refused when it is in another département. Abroad, no département, commune, INSEE
    code or UAI (those chosen before the country changed are dropped). The rules are checked when the form's
    ``rule_applies`` to the place (``PLACE_FIELDS``): always on the candidate's form, on the staff's when staff
    changed one of them; a place left as stored keeps its commune's code and school's number."""

    PLACE_FIELDS = ("country", "department", "city", "school")
    # With the SIS's communes and no département chosen yet: how its communes come into the list (the candidate's
    # page has a « Valider le département » button; the staff's page lists them once saved).
    CITIES_AFTER_DEPARTMENT = _("Choose the department first and validate it: its cities are then listed here.")
    # A commune of another département: what to do instead, on the same two pages.
    CITY_IN_ANOTHER_DEPARTMENT = _(
        "This city is not in the department %(department)s: choose one of its cities, or choose another department "
        "and validate it."
    )

    instance: ExternalCursus
    # The dossier's form's (``DossierForm``, ``DossierAdminForm``): when a rule is checked.
    rule_applies: Any

    def setup_place_fields(self) -> None:
        """The département as a list, the commune as a list of its communes (with the SIS's) or typed; fields the
        form does not have (read-only there) are left alone."""
        self.city_insee_code = self.instance.city_insee_code if self.instance.pk else ""
        self.school_uai = ""
        self.uses_commune_list = False
        self.communes: dict[str, str] = {}
        self.chosen_department = ""
        if not {"department", "city", "school"} <= self.fields.keys():
            return
        current = self.instance.department if self.instance.pk else ""
        self.fields["department"] = forms.ChoiceField(
            label=self.fields["department"].label,
            required=False,
            choices=kept_choices(department_choices(), current, str),
            help_text=_("Required for a cursus in France."),
            error_messages={"invalid_choice": _("Choose a department from the list.")},
        )
        self.chosen_department = self._chosen_department()
        self.uses_commune_list = has_reference_communes()
        if self.uses_commune_list:
            self.communes = self._communes_of(self.chosen_department)
            help_text = (
                _("Required for a cursus in France: the cities of the department chosen above.")
                if self.chosen_department
                else self.CITIES_AFTER_DEPARTMENT
            )
            # A CharField with a list, not a ChoiceField: a city of another département gets its own message.
            self.fields["city"] = forms.CharField(
                label=self.fields["city"].label,
                required=False,
                widget=forms.Select(choices=[BLANK_CHOICE, *self.communes.items()]),
                help_text=help_text,
            )
            if self.instance.pk:
                self.initial["city"] = self.instance.city_insee_code
        else:
            self.fields["city"].help_text = _("Required for a cursus in France.")
        self.fields["school"].help_text = (
            _("Its name; for a school in France you may type its UAI number instead, e.g. 0660014A.")
            if has_reference_schools()
            else _("Its name and, abroad, its city.")
        )

    def _communes_of(self, department: str) -> dict[str, str]:
        """The département's communes (one query), read once for the rows of a page that share a ``communes_memo``
        (the staff's dossier page: its rows' forms)."""
        memo = getattr(self, "communes_memo", None)
        if memo is None:
            return communes_of_department(department)
        if department not in memo:
            memo[department] = communes_of_department(department)
        return memo[department]

    def _chosen_department(self) -> str:
        name = "department"
        value = self.data.get(self.add_prefix(name), "") if self.is_bound else self.initial.get(name, "")
        return value if value in dict(department_choices()) else ""

    def check_place(self, cleaned: dict) -> None:
        """The place's rules on ``cleaned``; the commune's INSEE code and the school's UAI found (``city_insee_code``,
        ``school_uai``)."""
        if not self.rule_applies(*self.PLACE_FIELDS):
            # As stored: the commune shown by its code on the list is still stored by its name.
            if self.instance.pk:
                self.city_insee_code, self.school_uai = self.instance.city_insee_code, self.instance.school_uai
                if self.uses_commune_list:
                    cleaned["city"] = self.instance.city
            return
        self.school_uai = ""  # a school typed otherwise has no number, unless it is the one found before
        if cleaned.get("country") != FRANCE:
            # Abroad: no place in France (a département chosen before the country changed is dropped).
            cleaned.update(department="", city="")
            self.city_insee_code = ""
            return
        department = cleaned.get("department", "")
        if not department and "department" not in self.errors:
            self.add_error("department", _("Give the department for a cursus in France."))
        if self.uses_commune_list:
            self._check_commune(cleaned, department)
        else:
            self.city_insee_code = ""
            if not cleaned.get("city"):
                self.add_error("city", _("Give the city."))
        self._check_school(cleaned, department)

    def _check_commune(self, cleaned: dict, department: str) -> None:
        code = cleaned.get("city", "")
        if not department:
            cleaned["city"] = ""
            return
        if not code:
            self.add_error("city", _("Choose the city from the list of the department's cities."))
        elif code in self.communes:
            cleaned["city"] = self.communes[code][:50]
            self.city_insee_code = code
        elif ReferenceCommune.objects.filter(insee_code=code, visible=True).exists():
            self.add_error("city", self.CITY_IN_ANOTHER_DEPARTMENT % {"department": department_label(department)})
        else:
            self.add_error("city", _("Choose the city from the list of the department's cities."))

    def _check_school(self, cleaned: dict, department: str) -> None:
        school = (cleaned.get("school") or "").strip().upper()
        if UAI.match(school):
            if not has_reference_schools():
                self.school_uai = school  # no list to check it against: kept as typed
            elif (found := find_school(self, school)) is None:
                pass
            elif department and found.department and found.department != department:
                self.add_error(
                    "school",
                    _("This school is in the department %(school_department)s, not %(department)s.")
                    % {
                        "school_department": department_label(found.department),
                        "department": department_label(department),
                    },
                )
            else:
                self.school_uai = school
                cleaned["school"] = found.label[:100]
        elif self.instance.pk and (cleaned.get("school"), cleaned.get("country")) == (
            self.instance.school,
            self.instance.country,
        ):
            self.school_uai = self.instance.school_uai  # the school found by its number earlier, unchanged


class ExternalCursusForm(ExternalCursusRules, RowForm):
    """Cursus externe / post-bac (eCandidat ``CandidatCursusPostBacWindow``): the diploma from the list of diplomas
    of other cursus; in France, the département, the commune and the school; abroad, the country and the school
    (the place's rules: ``ExternalCursusRules``).

    With the SIS's communes loaded, the commune is a list of the chosen département's communes, filled in by the
    server: without JavaScript the candidate chooses the département, presses "Validate the department"
    (``DEPARTMENT_STEP``, which saves nothing) and the page comes back with its communes. Without them, the commune
    is typed, as the baccalaureate's.
    """

    country_fields = ("country",)
    DEPARTMENT_STEP = "choose_department"  # the name of the "Validate the department" button
    main_names = ("year", "label", "diploma", "obtained", "mention")
    place_names = ("country", "department", "city", "school")

    class Meta:
        model = ExternalCursus
        fields = ["year", "label", "diploma", "obtained", "mention", "country", "department", "city", "school"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The example is a French diploma's title, marked French in an English page (RGAA 8.7).
        self.fields["label"].help_text = format_html(
            gettext("As written on the diploma or the transcript, e.g. {example}."),
            example=StaffText("Licence Sciences de la vie", "fr").marked,
        )
        self.fields["diploma"] = other_diploma_field(
            self.instance.diploma if self.instance.pk else "", self.fields["diploma"].label
        )
        self.setup_place_fields()

    @classmethod
    def department_step(cls, data, *, instance=None) -> "ExternalCursusForm":
        """The "Validate the department" step: the same page, unbound (no error yet), with what was typed, and read at
        the version the page was read at (posted): the row as it is now would hide another tab's change meanwhile,
        which the save would then overwrite. A post without the version (a page served before it existed) is read
        at the row's."""
        fields = cls._meta.fields or []
        return cls(
            instance=instance,
            initial={name: data.get(name, "") for name in fields},
            version=data.get(READ_AT_FIELD),
        )

    def main_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.main_names]

    def place_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.place_names]

    def clean(self):
        cleaned = super().clean()
        assert cleaned is not None  # Django's Form/ModelForm.clean returns cleaned_data
        self.check_place(cleaned)
        return cleaned

    def changes(self) -> dict:
        # The commune's INSEE code and the school's UAI are no fields of their own: they come with the choice.
        return {**super().changes(), "city_insee_code": self.city_insee_code, "school_uai": self.school_uai}


class InternshipForm(RowForm):
    class Meta:
        model = Internship
        fields = ["year", "duration", "hours_per_week", "organisation", "description"]
        # A description of 2,000 characters as the textarea's maxlength counts them: its line ends, sent as CR LF,
        # are one character each (a text of 20 lines was refused as "2 018").
        field_classes = {"description": AnswerField}


class WorkExperienceForm(RowForm):
    class Meta:
        model = WorkExperience
        fields = ["year", "duration", "title", "organisation", "description"]
        field_classes = {"description": AnswerField}  # as InternshipForm's


class WithdrawalForm(forms.Form):
    """ "Désister": the reason, chosen from a list (the eCandidat motivation, issue 12)."""

    reason = forms.ChoiceField(
        label=_("Reason for your withdrawal"),
        choices=WithdrawalReason.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose the reason for the withdrawal.")},
    )


class QuestionsForm(forms.Form):
    """The application's complementary questions, one field each (``question-<id>``): Yes/No radios or a text of at
    most 1000 characters. A conditional question may be declared "Non concerné": a conditional Yes/No question has it
    as a third radio of its group (``NOT_CONCERNED``), so that choosing it replaces Yes or No ticked before (radios
    cannot be unticked); a conditional text question has a box (``question-<id>-nc``), refused with an answer typed.
    An empty answer is allowed (the question stays waiting); the rules are the service's (``answer_questions``).
    With ``for_staff`` (staff in the candidate's place, ``enter_answers_for_candidate``), "Non concerné" and its error
    speak of the candidate instead of "you". The hidden ``read_at`` holds the answers as shown
    (``applications.questions.answers_version``): the service writes only what was changed on the page, and refuses
    an answer changed meanwhile (``EditConflict``, ``show_conflict``)."""

    # The value of a conditional Yes/No question's "Non concerné" radio (no answer is stored with it).
    NOT_CONCERNED = "NC"

    # The answers the page showed (``applications.questions.answers_version``).
    read_at = VersionField()

    def __init__(self, *args, rows: list[QuestionRow], for_staff: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = rows
        self.for_staff = for_staff
        self.initial[READ_AT_FIELD] = answers_version(rows)
        # After a conflict: the questions whose answer changed meanwhile, as stored now.
        self.conflict_rows: list[QuestionRow] = []
        # Once cleaned: the conditional questions declared "Non concerné" (``not_concerned``).
        self.declared: set[int] = set()
        for row in rows:
            name = field_name(row.question)
            label = str(row.label).rstrip(" .:")  # the error summary adds " : " after it
            declared = row.status == PieceStatus.NOT_CONCERNED
            not_concerned_label = (
                _("This question does not concern the candidate")
                if for_staff
                else _("This question does not concern me")
            )
            if row.is_boolean:
                choices = list(BOOLEAN_LABELS.items())
                if row.question.is_conditional:
                    choices.append((self.NOT_CONCERNED, not_concerned_label))
                self.fields[name] = forms.ChoiceField(
                    label=label,
                    choices=choices,
                    widget=forms.RadioSelect,
                    required=False,
                    initial=self.NOT_CONCERNED if declared and row.question.is_conditional else row.value,
                )
            else:
                self.fields[name] = AnswerField(
                    label=label,
                    max_length=ANSWER_MAX_LENGTH,
                    required=False,
                    initial=row.value,
                    strip=True,
                    validators=[RefuseInvisibleControls(multiline=True)],
                    help_text=_("1000 characters at most."),
                    widget=forms.Textarea(attrs={"rows": 3, "maxlength": ANSWER_MAX_LENGTH}),
                )
                if row.question.is_conditional:
                    self.fields[f"{name}-nc"] = forms.BooleanField(
                        label=not_concerned_label, required=False, initial=declared
                    )

    def clean(self):
        data = super().clean()
        assert data is not None  # Django's Form.clean returns cleaned_data
        self.declared = set()
        for row in self.rows:
            name = field_name(row.question)
            if not row.question.is_conditional:
                continue
            if row.is_boolean:
                # The third radio; or the box of a page served before it (Yes/No then ticked with it: the box wins,
                # as the radio would have replaced them).
                if data.get(name) == self.NOT_CONCERNED or self._posted_box(f"{name}-nc"):
                    self.declared.add(row.question.pk)
            elif data.get(f"{name}-nc"):
                if data.get(name):
                    # On the answer's field: the error summary then names the question, not the box.
                    self.add_error(
                        name,
                        _("Either answer the question or declare that it does not concern the candidate, not both.")
                        if self.for_staff
                        else _("Either answer the question or declare that it does not concern you, not both."),
                    )
                else:
                    self.declared.add(row.question.pk)
        return data

    def _posted_box(self, name: str) -> bool:
        """Whether a "Non concerné" box that is no field of this form (a Yes/No question's, from a page served
        before its third radio) was posted ticked, read as a ``BooleanField`` reads it."""
        value = forms.CheckboxInput().value_from_datadict(self.data, self.files, self.add_prefix(name))
        return bool(forms.BooleanField(required=False).to_python(value))

    def fields_of(self, row: QuestionRow) -> tuple[forms.BoundField, forms.BoundField | None]:
        """The answer's bound field and the "Non concerné" box's (None but for a conditional text question: a
        conditional Yes/No question has "Non concerné" among its radios)."""
        name = field_name(row.question)
        return self[name], (self[f"{name}-nc"] if f"{name}-nc" in self.fields else None)

    def answers(self) -> dict[int, str]:
        """The answers by question id, "" for a question declared "Non concerné"."""
        return {
            row.question.pk: ""
            if row.question.pk in self.declared
            else (self.cleaned_data.get(field_name(row.question)) or "")
            for row in self.rows
        }

    def not_concerned(self) -> set[int]:
        return set(self.declared)

    def read_version(self) -> str | None:
        """The answers' version the page was read at, as posted; None (no check) for a post without the field (a
        page served before the field existed)."""
        if self.add_prefix(READ_AT_FIELD) not in self.data:
            return None
        return self.cleaned_data.get(READ_AT_FIELD) or ""

    def show_conflict(self, message: str, rows: list[QuestionRow]) -> None:
        """Answers changed since the page was read (``rows``: as stored now): the message at the top of the form,
        the answers typed kept, the changed ones listed as stored now, and the form now reads the current version,
        so that saving again (after checking) succeeds."""
        self.add_error(None, message)
        self.conflict_rows = changed_since(rows, self.read_version() or "")
        self.data = posted_with(self.data, self.add_prefix(READ_AT_FIELD), answers_version(rows))
