import datetime
from functools import partial
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import ActionLocation
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Exists, F, OuterRef, Value
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications.admin.account_email import account_email_urls, may_change_account_email
from applications.admin.accounts import may_read_accounts
from applications.admin.erasure import erasure_urls
from applications.admin.filters import AccountCampaignFilter
from applications.admin.on_behalf import may_create_candidate_accounts
from applications.admin.previous_addresses import SearchesPreviousAddresses
from applications.concurrency import (
    READ_AT_FIELD,
    EditConflict,
    VersionField,
    dossier_version,
    latest_change,
    posted_with,
)
from applications.countries import country_name
from applications.forms import (
    BAC_DETAILS,
    BaccalaureateRules,
    ExternalCursusRules,
    accept_typed_phone,
    bound_years,
    check_address_place,
    check_birth_place,
    check_ine_given,
    family_name_as_stored,
    other_diploma_field,
    validate_country,
)
from applications.models import (
    Address,
    Application,
    Baccalaureate,
    Candidate,
    ExternalCursus,
    InternalCursus,
    Internship,
    SisRecord,
    WorkExperience,
)
from applications.services.dossier import of_past_campaign, record_staff_change, value_in_words
from applications.services.sis_lookup import staff_sync
from applications.sis import StudentRecordsUnavailable
from applications.validators import cleaned_ine, normalise_department, normalise_phone, validate_birth_date
from ecandidat import parameters
from ecandidat.admin_base import AccountAsText, NotFoundOutsideScope
from ecandidat.exceptions import BusinessRuleError
from ecandidat.staff import is_central, scope_of
from ecandidat.staff_text import StaffText
from ecandidat.text import refuse_invisible_controls, require_a_letter


class StaffAlsoReads:
    """Every member of staff reads the dossiers of the applications they see (issue 11: no 403 on what they must
    read), and the candidates managers every dossier; changing them needs the Django permissions (central office),
    or ``manages_candidate``."""

    def has_view_permission(self, request, obj=None):
        allowed = super().has_view_permission(request, obj)  # type: ignore[misc]
        return allowed or scope_of(request.user).reaches_candidates


# What ties a dossier to the student records system: read-only for everyone but the central office.
SIS_LINK_FIELDS = ("sis_locked", "sis_student_number", "sis_imported_at")


def _of_past_campaign(candidate: Candidate | None) -> bool:
    """Whether ``candidate`` (the dossier, also an inline's ``obj``) is a saved dossier of a past campaign's account:
    read only for everyone, the central office included, whatever Django's permissions and ``manages_candidate``
    say (``of_past_campaign``: no query, ``CandidateAdmin.get_queryset`` annotates the account's campaign)."""
    return candidate is not None and candidate.pk is not None and of_past_campaign(candidate)


def manages_candidate(request, candidate: Candidate | None) -> bool:
    """The central office and the candidates managers (GCA, eCandidat's gestionCandidat) correct every dossier
    they see; a centre manager corrects the dossier of a candidate who applied to one of their centres' formations,
    while ``CENTRE_MANAGERS_EDIT_DOSSIERS`` is on (eCandidat SCOL_GESTION_CANDIDAT_CTR_CAND, "W" by default). One
    query per request and candidate (the admin asks for each inline)."""
    if candidate is None or candidate.pk is None:
        return False
    scope = scope_of(request.user)
    if scope.is_central or scope.corrects_all_candidates:
        return True
    if not parameters.get("CENTRE_MANAGERS_EDIT_DOSSIERS"):
        return False
    if not scope.is_manager:
        return False
    memo = request.__dict__.setdefault("_managed_candidates", {})
    if candidate.pk not in memo:
        memo[candidate.pk] = Application.objects.filter(candidate=candidate).editable_by(request.user).exists()
    return memo[candidate.pk]


class ManagersCorrect(StaffAlsoReads):
    """An inline that the candidate's centre managers may change (``manages_candidate``; ``obj`` is the dossier);
    nobody changes it in a past campaign's dossier (``_of_past_campaign``)."""

    managers_add = True
    managers_delete = True

    def has_change_permission(self, request, obj=None):
        if _of_past_campaign(obj):
            return False
        return super().has_change_permission(request, obj) or manages_candidate(request, obj)  # type: ignore[misc]

    def has_add_permission(self, request, obj=None):
        if _of_past_campaign(obj):
            return False
        allowed = super().has_add_permission(request, obj)  # type: ignore[misc]
        return allowed or (self.managers_add and manages_candidate(request, obj))

    def has_delete_permission(self, request, obj=None):
        if _of_past_campaign(obj):
            return False
        allowed = super().has_delete_permission(request, obj)  # type: ignore[misc]
        return allowed or (self.managers_delete and manages_candidate(request, obj))


class DossierAdminForm(forms.ModelForm):
    """A section of the dossier corrected by staff refuses what the candidate's forms refuse: an invisible control or
    writing-direction character, next to its field (``ecandidat.text.refuse_invisible_controls``), and the rules of
    the candidate's forms, the same functions (``applications.forms``, ``applications.validators``) with the same
    messages, on the values staff change (``checked``, ``rule_applies``); a year within the model's bounds, checked
    with its field as on the candidate's forms (``bound_years``).

    A value left as stored is taken as it is: a dossier imported from the student records system, or typed before a
    rule existed (an INE of another format, a phone number typed before the check), must still save when staff
    correct something else in it; the rules concern what staff type, as the candidate's forms concern what the
    candidate types (and leave out what the SIS locked)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        bound_years(self)

    def checked(self, name: str, rule) -> Any:
        """The field's value, through ``rule`` (which returns the value to store, or raises ValidationError) when
        staff changed it."""
        value = self.cleaned_data[name]
        return rule(value) if name in self.changed_data else value

    def changed_any(self, *names: str) -> bool:
        return any(name in self.changed_data for name in names)

    def rule_applies(self, *names: str) -> bool:
        """A rule reading ``names`` (``applications.forms.BaccalaureateRules``…) is checked on a row staff add, and
        on a stored one when staff changed one of them."""
        return self.instance.pk is None or self.changed_any(*names)

    def value_before(self, name: str) -> Any:
        """The field's value as the page showed it, for the history's "before" (``described_changes``)."""
        return self.initial.get(name, self.fields[name].initial)

    def clean_country(self):
        return self.checked("country", _valid_country)

    def clean(self):
        cleaned = super().clean()
        refuse_invisible_controls(self)
        return cleaned


def _valid_country(value: str) -> str:
    validate_country(value)
    return value


class AddressAdminForm(DossierAdminForm):
    """The address's rules (``check_address_place``: a French postal code of 5 digits, the city, a commune of the
    postal code once the SIS's communes are loaded; abroad, the city and no postal code) when its place changed."""

    PLACE_FIELDS = ("country", "postal_code", "city", "cedex", "foreign_city")

    def clean(self):
        cleaned = super().clean()
        if self.changed_any(*self.PLACE_FIELDS):
            check_address_place(self, cleaned)
        return cleaned


class AddressInline(ManagersCorrect, admin.StackedInline):
    model = Address
    form = AddressAdminForm
    extra = 0
    managers_delete = False  # an address is corrected, not removed (applying needs one)


class BaccalaureateAdminForm(BaccalaureateRules, DossierAdminForm):
    """The candidate's baccalaureate form's lists and rules (``BaccalaureateRules``): the series and the spécialités
    named in words from the candidate's lists (a code the dossier holds stays offered), the series' years, the
    spécialités of the bac général from 2021 only and different, a school typed as its UAI looked up (its number
    shown, read-only: it comes with the school), a département typed "066" or "2a" stored 66 or 2A.

    The box "has the baccalaureate" stands for the candidate's two buttons: ticked, the series, the year and the
    country are required, as on the candidate's form; unticked by staff, the bac's details are emptied, as the
    candidate's "Je n'ai pas le bac" replaces the bac; details typed while it stays unticked are refused beside
    it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bac_fields(series_required=False)  # required only with the bac (clean)
        self.school_uai = self.instance.school_uai  # as stored, unless the rules find another (clean)

    def clean(self):
        cleaned = super().clean()
        if "has_bac" not in self.fields:
            return cleaned  # read-only here
        if not cleaned.get("has_bac"):
            self._without_bac(cleaned)
            return cleaned
        for name in ("series", "year", "country"):
            missing = name in self.fields and cleaned.get(name) in (None, "") and name not in self.errors
            if missing and self.rule_applies("has_bac", name):
                self.add_error(name, self.fields[name].error_messages["required"])
        self.check_bac(cleaned)
        return cleaned

    def _without_bac(self, cleaned: dict) -> None:
        self.school_uai = ""
        details = [name for name in BAC_DETAILS if name in self.fields]
        if "has_bac" in self.changed_data:
            for name in details:
                cleaned[name] = None if name == "year" else ""
        elif self.changed_any(*details) and any(cleaned.get(name) for name in details):
            self.add_error(
                "has_bac",
                _("A candidate without the baccalaureate has none of its details: tick this box to enter them."),
            )

    def _post_clean(self):
        # The school's UAI is no field here: it comes with the school (``BaccalaureateRules``).
        self.instance.school_uai = self.school_uai
        super()._post_clean()


class BaccalaureateInline(ManagersCorrect, admin.StackedInline):
    model = Baccalaureate
    form = BaccalaureateAdminForm
    extra = 0
    managers_delete = False

    def get_readonly_fields(self, request, obj=None):
        fields = [*super().get_readonly_fields(request, obj), "school_uai"]  # found by the school typed as its UAI
        return fields if is_central(request.user) else [*fields, "sis_locked"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.sis_locked and not is_central(request.user):
            return False  # from the student records system: the SIS is corrected, not this copy
        return super().has_change_permission(request, obj)


class InternalCursusInline(StaffAlsoReads, admin.TabularInline):
    model = InternalCursus
    extra = 0
    fields = readonly_fields = ("year", "code", "label", "result", "mention", "grade_and_scale")
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return not _of_past_campaign(obj) and super().has_add_permission(request, obj)

    @admin.display(description=InternalCursus._meta.get_field("academic_year").verbose_name)
    def year(self, obj: InternalCursus) -> str:
        # "2021/2022", as the candidate's page, the review page and the PDF; nothing on the empty row a superuser adds.
        return obj.academic_year_label if obj.academic_year is not None else ""

    @admin.display(description=gettext_lazy("Grade / scale"))
    def grade_and_scale(self, obj: InternalCursus) -> str:
        return obj.grade_label  # "14,5 / 20": the note and its barème read together


class ExternalCursusAdminForm(ExternalCursusRules, DossierAdminForm):
    """The candidate's external cursus form's lists and rules (``ExternalCursusRules``): the diploma from the list the
    candidate chooses from (the visible diplomas of another cursus, ``ReferenceOtherDiploma``; a code the dossier
    holds, hidden since, stays offered); in France the département from its list, the commune (from the
    département's communes once the SIS's are loaded) and the school, which may be typed as its UAI; abroad none of
    them. The commune's INSEE code and the school's UAI are shown read-only: they come with the commune and the
    school.

    The diplomas' labels are the institution's (French), as the review page and the exports print them, marked
    ``lang="fr"`` in the English back office (``StaffTextSelect``). The lists are read once per process
    (``memoised``): no query per row, nor per page once read; with the SIS's communes, one query per row in France
    for its département's communes, as on the candidate's form."""

    # No « Valider le département » button here: the département's communes are listed once the page is saved.
    CITIES_AFTER_DEPARTMENT = gettext_lazy("Choose the department first and save: its cities are then listed here.")
    CITY_IN_ANOTHER_DEPARTMENT = gettext_lazy(
        "This city is not in the department %(department)s: choose one of its cities, or choose another department "
        "and save."
    )

    def __init__(self, *args, communes_memo: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.communes_memo = communes_memo  # the page's rows read a département's communes once
        self.city_before = self.instance.city if self.instance.pk else ""
        if "diploma" in self.fields:
            field = self.fields["diploma"]
            with translation.override(settings.LANGUAGE_CODE):
                self.fields["diploma"] = other_diploma_field(
                    self.instance.diploma if self.instance.pk else "", field.label, field.help_text
                )
        self.setup_place_fields()
        self.school_uai = self.instance.school_uai  # as stored, unless the rules find another (clean)

    def clean(self):
        cleaned = super().clean()
        if "country" in self.fields:
            self.check_place(cleaned)
        return cleaned

    def value_before(self, name: str) -> Any:
        if name == "city" and self.uses_commune_list:
            return self.city_before  # the list shows the commune by its code; the history names it
        return super().value_before(name)

    def _post_clean(self):
        # The commune's code and the school's UAI are no fields here: they come with the commune and the school.
        self.instance.city_insee_code, self.instance.school_uai = self.city_insee_code, self.school_uai
        super()._post_clean()


class ExternalCursusInline(ManagersCorrect, admin.TabularInline):
    model = ExternalCursus
    form = ExternalCursusAdminForm
    extra = 0

    def _reads_only(self, request, obj) -> bool:
        return not (self.has_change_permission(request, obj) or self.has_add_permission(request, obj))

    def get_fields(self, request, obj=None):
        # Who only reads the dossier reads the diploma's label, not its code.
        fields = list(super().get_fields(request, obj))
        if self._reads_only(request, obj):
            fields = ["diploma_named" if name == "diploma" else name for name in fields]
        return fields

    def get_readonly_fields(self, request, obj=None):
        # The commune's INSEE code and the school's UAI come with the commune and the school (ExternalCursusRules).
        fields = [*super().get_readonly_fields(request, obj), "city_insee_code", "school_uai"]
        return [*fields, "diploma_named"] if self._reads_only(request, obj) else fields

    @admin.display(description=ExternalCursus._meta.get_field("diploma").verbose_name)
    def diploma_named(self, cursus: ExternalCursus) -> str:
        return cursus.diploma_label or "-"


class InternshipInline(ManagersCorrect, admin.TabularInline):
    model = Internship
    form = DossierAdminForm
    extra = 0


class WorkExperienceInline(ManagersCorrect, admin.TabularInline):
    model = WorkExperience
    form = DossierAdminForm
    extra = 0


class CandidateAdminForm(DossierAdminForm):
    """The dossier's page carries the version of the whole dossier it was read at (``read_at``, as the candidate's
    forms do, ``applications.concurrency``): a save made after the candidate (or another member of staff) changed
    the dossier is refused, under the dossier's lock, with the values typed kept and who changed what, and when."""

    read_at = VersionField()
    viewer = None  # the member of staff reading the page (CandidateAdmin.get_form)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.conflict: EditConflict | None = None
        self.conflict_message = ""
        self.conflict_section = ""  # the section saved last, whose values are shown
        self.conflict_values: list[tuple[str, str]] = []
        if self.instance.pk and not self.is_bound:
            self.initial[READ_AT_FIELD] = dossier_version(self.instance.pk)
        for name in ("phone", "mobile"):
            if name in self.fields:  # checked and normalised by clean_phone, clean_mobile
                accept_typed_phone(self.fields[name])

    @cached_property
    def changed_data(self):
        # The version read is no value of the dossier: it changes after a conflict, and nothing else did.
        return [name for name in super().changed_data if name != READ_AT_FIELD]

    # The personal details' rules, as ``PersonalDetailsForm`` applies them (``checked``: on the values changed).
    def clean_birth_date(self):
        return self.checked("birth_date", _valid_birth_date)

    def clean_birth_name(self):
        return self.checked(
            "birth_name", lambda value: family_name_as_stored(self.fields["birth_name"], _a_name(value))
        )

    def clean_usual_name(self):
        return self.checked(
            "usual_name", lambda value: family_name_as_stored(self.fields["usual_name"], _a_name(value))
        )

    def clean_first_name(self):
        return self.checked("first_name", _a_name)

    def clean_other_first_name(self):
        return self.checked("other_first_name", _a_name)

    def clean_birth_department(self):
        return self.checked("birth_department", normalise_department)

    def clean_birth_country(self):
        return self.checked("birth_country", _valid_country)

    def clean_nationality(self):
        return self.checked("nationality", _valid_country)

    def clean_ine(self):
        return self.checked("ine", cleaned_ine)  # another dossier's INE: the model's constraint, same message

    def clean_phone(self):
        return self.checked("phone", normalise_phone)

    def clean_mobile(self):
        return self.checked("mobile", normalise_phone)

    def clean(self):
        cleaned = super().clean()
        if self.changed_any("birth_country", "birth_department"):
            check_birth_place(self, cleaned)
        if self.changed_any("nationality", "ine"):
            check_ine_given(self, cleaned)
        if not self.instance.pk or self.add_prefix(READ_AT_FIELD) not in self.data:
            return cleaned
        # The dossier's lock, as the candidate's services take it, held until the admin's transaction ends.
        list(Candidate.objects.select_for_update(of=("self",)).filter(pk=self.instance.pk).values_list("pk"))
        current = dossier_version(self.instance.pk)
        if current != (self.cleaned_data.get(READ_AT_FIELD) or ""):
            changed = latest_change(self.instance)
            self.conflict = EditConflict(changed)
            self.conflict_message = self.conflict.message_for(self.viewer, owner=self.instance.user)
            if changed is not None:
                self.conflict_section = str(capfirst(changed._meta.verbose_name))
                self.conflict_values = _stored_fields(changed)
            # Saving again, after checking, goes through.
            self.data = posted_with(self.data, self.add_prefix(READ_AT_FIELD), current)
            raise forms.ValidationError(_("Nothing was saved: see the message at the top of the page."))
        return cleaned


def _a_name(value: str) -> str:
    """A name staff type has a letter (``require_a_letter``), as the candidate's form and the signup ask."""
    require_a_letter(value)
    return value


def _valid_birth_date(value: datetime.date | None) -> datetime.date | None:
    validate_birth_date(value)
    return value


COUNTRY_FIELDS = ("country", "birth_country", "nationality")  # ISO codes, shown by name


def _stored_fields(obj) -> list[tuple[str, str]]:
    """(label, value) of the fields of a dossier row as stored, for the conflict message."""
    skipped = {"id", "candidate", "public_id", "created_at", "updated_at", "updated_by", "user"}
    rows = []
    for field in obj._meta.concrete_fields:
        if field.name in skipped:
            continue
        value = getattr(obj, f"get_{field.name}_display")() if field.choices else getattr(obj, field.name)
        if field.name in COUNTRY_FIELDS and value:
            value = country_name(value)
        rows.append((str(capfirst(field.verbose_name)), _shown(value)))
    return rows


@admin.register(Candidate)
class CandidateAdmin(SearchesPreviousAddresses, AccountAsText, StaffAlsoReads, NotFoundOutsideScope, admin.ModelAdmin):
    """Staff correct the dossier here, including after the candidate's lock (ecandidat-features §1.3): the central
    office, the candidates managers (GCA) and the candidate's centre managers (``manages_candidate``; not the
    account it belongs to, nor, for a student whose dossier comes from the student records system, what the SIS
    holds). Every change is written to the history of each of the candidate's applications, with its author
    (``record_staff_change``), and, in the same words, to the dossier's own history (Django's log, "Historique"):
    the one record of a candidate who has applied nowhere yet.

    The candidates managers (eCandidat's "Gestionnaire de candidats", and "… en lecture seule") find every candidate
    of the active campaign here, by numéro de dossier, names, INE, student number or e-mail address; the dossier's
    page lists the candidate's applications (formation, status, dates) without a link into the applications' pages,
    which stay closed to them.

    An account is annual: last year's « MARTIN Jean » is another dossier than this year's. Whoever may see several
    campaigns' dossiers (the central office, a centre's staff) sees the active campaign's unless the « campaign »
    filter says otherwise (``AccountCampaignFilter``), each row with its campaign; the account's e-mail address is
    changed for the active campaign's only (``email_change_queryset``)."""

    form = CandidateAdminForm
    list_display = ["user", "birth_name", "first_name", "birth_date", "ine", "sis_locked"]
    list_select_related = ["user__campaign"]  # the campaign column: no query per row
    search_fields = [  # names case and accents aside (« lefevre » finds LEFÈVRE: ecandidat.lookups)
        "birth_name__accents_icontains",
        "usual_name__accents_icontains",
        "first_name__accents_icontains",
        "ine",
        "sis_student_number",
        "user__username",
        "user__email",
        "user__student_number",
        "user__previous_email_addresses__email",  # an address the account had before (SearchesPreviousAddresses)
    ]
    raw_id_fields = ["user"]
    readonly_fields = ["sis_imported_at", "created_at", "updated_at"]
    show_full_result_count = False
    actions = ["take_again_from_sis"]
    inlines = [
        AddressInline,
        BaccalaureateInline,
        InternalCursusInline,
        ExternalCursusInline,
        InternshipInline,
        WorkExperienceInline,
    ]

    def has_module_permission(self, request):
        return super().has_module_permission(request) or scope_of(request.user).reaches_candidates

    def get_queryset(self, request):
        """Central office: every candidate; candidates managers: every candidate of the active campaign (also
        those who have applied nowhere); other staff: the candidates of the applications they see. The list shows
        the active campaign's unless its « campaign » filter says otherwise (``get_list_filter``); a dossier's page
        opens whatever its campaign, saying whether it is the active one's (``account_of_active_campaign``: in the
        same query, for the address change's link)."""
        queryset = super().get_queryset(request).annotate(account_of_active_campaign=F("user__campaign__is_active"))
        scope = scope_of(request.user)
        if scope.is_central:
            return queryset
        if scope.reads_all_candidates:
            return queryset.filter(user__campaign__is_active=True)
        return queryset.filter(pk__in=Application.objects.visible_to(request.user).values("candidate_id"))

    def sees_several_campaigns(self, request) -> bool:
        """Whether ``get_queryset`` may hold other campaigns' dossiers than the active one's: not for a candidates
        manager alone (nor their list's « campaign » filter and column, which would say nothing)."""
        scope = scope_of(request.user)
        return scope.is_central or not scope.reads_all_candidates

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        return [AccountCampaignFilter, *filters] if self.sees_several_campaigns(request) else filters

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        if not self.sees_several_campaigns(request):
            return columns
        return [*columns[:1], "account_campaign", *columns[1:]]  # next to the dossier number

    @admin.display(description=gettext_lazy("campaign"), ordering="user__campaign__starts_on")
    def account_campaign(self, candidate: Candidate) -> str:
        # The account's (what the list filters by); the dossier's ``campaign`` is its copy, for the INE's uniqueness.
        campaign = candidate.user.campaign  # a candidate's account always has one
        return format_html('<span lang="fr">{}</span>', campaign.label if campaign else "")  # French (RGAA 8.7)

    def get_search_results(self, request, queryset, search_term):
        """Django's search; the rows in a fixed order (by name, as they are shown: "BIRTH NAME First name", then
        the dossier's id) where nothing ordered them: the autocompletes of a field naming a dossier (an address's
        candidate…) page the results, and an unordered page is Django's ``UnorderedObjectListWarning`` and an order
        that changes from one page to the next. The list orders its rows itself afterwards (``ChangeList``)."""
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if not queryset.ordered:
            queryset = queryset.order_by("birth_name", "first_name", "pk")
        return queryset, may_have_duplicates

    def has_change_permission(self, request, obj=None):
        """Django's permissions (the central office) or ``manages_candidate``; a past campaign's dossier is read
        only for everyone (``_of_past_campaign``): its page shows it, a change posted anyway is refused (403)."""
        if _of_past_campaign(obj):
            return False
        return super().has_change_permission(request, obj) or manages_candidate(request, obj)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and not request.user.is_superuser:
            fields.append(self.account_field(request))  # the account a dossier belongs to is not moved from here
        if obj is not None and not is_central(request.user):
            # The link to the student records system is the central office's (a manager unticking it would unlock
            # the SIS fields; another student number would make the next import overwrite this dossier).
            fields += [name for name in SIS_LINK_FIELDS if name not in fields]
            fields += [name for name in obj.locked_sis_fields if name not in fields]
        return fields

    def get_fields(self, request, obj=None):
        # The version read is a hidden input written at the top of the form (change_form.html), not a row of the
        # fieldset: a row would give it a label pointing at a hidden input (invalid HTML).
        return [name for name in super().get_fields(request, obj) if name != READ_AT_FIELD]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"viewer": request.user})

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, ExternalCursusInline):
            kwargs["form_kwargs"] = {"communes_memo": {}}  # one query per département, not per row
        return kwargs

    def save_model(self, request, obj, form, change):
        """Saves the details only when they changed (an untouched save must not look, to the candidate's open
        form, like a change), naming who saved them (``updated_by``)."""
        if change and not form.has_changed():
            return
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        for row_form in formset.forms:
            if row_form.has_changed() and hasattr(row_form.instance, "updated_by_id"):
                row_form.instance.updated_by = request.user
        super().save_formset(request, form, formset, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change:
            record_staff_change(candidate=form.instance, actor=request.user, changes=described_changes(form, formsets))

    def construct_change_message(self, request, form, formsets, add=False):
        """The dossier's own history (Django's log, with its author) says what changed in the words of the
        applications' history, before and after: a candidate without an application has no other record."""
        changes = [] if add else described_changes(form, formsets)
        return "; ".join(changes) if changes else super().construct_change_message(request, form, formsets, add)

    def get_urls(self):
        return [*erasure_urls(self), *account_email_urls(self), *super().get_urls()]

    # The account's e-mail change (``account_email``): from every dossier of the list of the active campaign. A past
    # campaign's account is archived (it cannot log in): its address is not the one the candidate uses now, and a
    # change there would mail the candidate's mailbox a « changed » notice and a link to an account they cannot use.
    def email_change_queryset(self, request):
        return self.get_queryset(request).filter(user__campaign__is_active=True).select_related("user")

    def account_of(self, candidate: Candidate):
        return candidate.user

    def account_summary(self, candidate: Candidate) -> str:
        usual = f" ({candidate.usual_name})" if candidate.usual_name else ""
        return f"{candidate.birth_name}{usual} {candidate.first_name}"

    def get_actions(self, request, action_location=ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        scope = scope_of(request.user)
        if not (scope.is_central or (parameters.get("CENTRE_MANAGERS_EDIT_DOSSIERS") and scope.is_manager)):
            actions.pop("take_again_from_sis", None)
        return actions

    @admin.action(description=gettext_lazy("Take the dossier again from the student records system"))
    def take_again_from_sis(self, request, queryset):
        """eCandidat's "Synchronisation SiScol": each selected dossier the user may correct, by its student number or
        its INE; stops at the first sign that the system is down (nothing more is changed). A dossier a rule refuses
        (the SIS's INE is another dossier's) is said so and left as it was; ``staff_sync`` runs each dossier in a
        savepoint of its own, so the others selected are taken again all the same. A past campaign's dossier (the
        list's « campaign » filter shows them) is read only: said so, left out before the system is asked."""
        found: list[Candidate] = []
        missing: list[Candidate] = []
        refused: list[Candidate] = []
        past: list[Candidate] = []
        ruled_out: dict[str, list[Candidate]] = {}  # the rule's message: the dossiers it refused
        for candidate in queryset.select_related("user").order_by("pk")[:100]:
            if _of_past_campaign(candidate):
                past.append(candidate)
                continue
            if not manages_candidate(request, candidate):
                refused.append(candidate)
                continue
            try:
                (found if staff_sync(candidate=candidate, actor=request.user) else missing).append(candidate)
            except BusinessRuleError as exc:
                ruled_out.setdefault(str(exc), []).append(candidate)
            except StudentRecordsUnavailable as exc:
                self.message_user(
                    request,
                    _("The student records system is not answering: %(error)s") % {"error": exc},
                    messages.ERROR,
                )
                break
        if found:
            self.message_user(
                request,
                _("Taken again from the student records system: %(names)s.") % {"names": _names(found)},
                messages.SUCCESS,
            )
        if missing:
            self.message_user(
                request,
                _("Not found in the student records system (student number or INE): %(names)s.")
                % {"names": _names(missing)},
                messages.WARNING,
            )
        for error, candidates in ruled_out.items():
            self.message_user(
                request,
                _("Not taken again from the student records system, %(names)s: %(error)s")
                % {"names": _names(candidates), "error": error},
                messages.ERROR,
            )
        if past:
            self.message_user(
                request,
                _("Dossiers of a past campaign (read only), not taken again: %(names)s.") % {"names": _names(past)},
                messages.ERROR,
            )
        if refused:
            self.message_user(
                request, _("Not yours to correct: %(names)s.") % {"names": _names(refused)}, messages.ERROR
            )

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "may_delete_accounts": is_central(request.user),
            "may_read_accounts": may_read_accounts(request.user),  # "Comptes candidats": also without a dossier
            "may_create_accounts": may_create_candidate_accounts(request.user),  # the account page's own rule
        }
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            # Which campaign the list shows, under its title and in the window's, as on the applications' list.
            spec = next((spec for spec in context["cl"].filter_specs if isinstance(spec, AccountCampaignFilter)), None)
            if spec is not None and spec.has_output():
                context["subtitle"] = spec.shown_label()
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "may_delete_accounts": is_central(request.user),
            "may_change_account_email": may_change_account_email(request.user),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:  # the dossier was found in the user's list
            context["candidate_applications"] = candidate_applications(request, obj)
            if context.get("may_change_account_email"):
                # No link to the address change a past campaign's account does not get (``email_change_queryset``).
                context["may_change_account_email"] = obj.account_of_active_campaign
        return super().render_change_form(request, context, add, change, form_url, obj)


def candidate_applications(request, candidate: Candidate) -> list[dict]:
    """The candidate's applications on the dossier's page, read-only (formation, dossier status, dates; never a
    decision): all of them for the central office and the candidates managers, those the user reads for other
    staff. A link to the application's page only where the user may open it: never for a candidates manager alone
    (no member of the applications' staff); for one who is also a centre's staff, on that centre's applications
    only. One query."""
    scope = scope_of(request.user)
    applications = Application.objects.filter(candidate=candidate).select_related("formation")
    if scope.is_central:
        applications = applications.annotate(openable=Value(True))
    elif scope.reads_all_candidates:
        visible = Application.objects.visible_to(request.user).filter(pk=OuterRef("pk"))
        applications = applications.annotate(openable=Exists(visible) if scope.is_staff_member else Value(False))
    else:
        applications = applications.visible_to(request.user).annotate(openable=Value(True))
    return [
        {
            "formation": StaffText(str(application.formation), "fr"),  # the staff's French label (RGAA 8.7)
            "status": application.get_dossier_status_display(),
            "created_at": application.created_at,
            "transmitted_at": application.transmitted_at,
            "cancelled_at": application.cancelled_at,
            "url": (
                reverse("admin:applications_application_change", args=[application.pk]) if application.openable else ""
            ),
        }
        for application in applications.order_by("created_at", "pk")
    ]


def _names(candidates) -> str:
    return ", ".join(f"{candidate.user.username} {candidate.birth_name}" for candidate in candidates)


@admin.register(SisRecord)
class SisRecordAdmin(admin.ModelAdmin):
    list_display = ["student_number", "ine", "imported_at"]
    search_fields = ["student_number", "ine"]
    readonly_fields = ["student_number", "ine", "data", "imported_at"]
    show_full_result_count = False

    # Rows come from the student records system's import (sync_sis, import_sis); every field is read-only here, so
    # "Ajouter" saved an empty row the database refuses (a 500: "data" cannot be null) and "Enregistrer" only moved
    # the import date.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _shown(value) -> str:
    if value in (None, ""):
        return "—"
    if isinstance(value, datetime.date):
        return date_format(value, "SHORT_DATE_FORMAT")
    return Truncator(str(value)).chars(80)


def _column(form, name: str) -> models.Field | None:
    """The model's concrete field behind a form field ``name``, if any."""
    try:
        field = form._meta.model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return field if getattr(field, "concrete", False) and not field.is_relation else None


def _field_changes(form, names) -> str:
    """ "code postal : 66000 → 66140, commune : PERPIGNAN → CANET" (before and after, as the form saw them)."""
    parts = []
    for name in names:
        if name == READ_AT_FIELD:
            continue
        field = form.fields[name]
        before = form.value_before(name) if hasattr(form, "value_before") else form.initial.get(name, field.initial)
        after = form.cleaned_data.get(name)
        if isinstance(field, forms.ModelChoiceField) and field.queryset is not None:
            before = field.queryset.filter(pk=before).first() if before else None
        if before == after:
            continue  # typed otherwise, stored the same ("066" is the département 66, as stored): no change
        shown = _shown
        if not isinstance(field, forms.ModelChoiceField) and (column := _column(form, name)) is not None:
            shown = partial(value_in_words, column)  # a code by its label, as the candidate's changes are written
        parts.append(f"{str(field.label).lower()} : {shown(before)} → {shown(after)}")
    return ", ".join(parts)


def described_changes(form, formsets) -> list[str]:
    """What a save of the dossier page changed, with the values before and after, in the institution's language:
    "Candidat : date de naissance : 01/02/2003 → 01/03/2003", "Adresse : commune : PERPIGNAN → CANET", "Stage :
    ajout (2024 Observatoire)"…"""
    with translation.override(settings.LANGUAGE_CODE):
        added, deleted = _("added"), _("deleted")
        changes = []
        if form.changed_data and (parts := _field_changes(form, form.changed_data)):
            changes.append(f"{capfirst(Candidate._meta.verbose_name)} : {parts}")
        for formset in formsets:
            name = capfirst(formset.model._meta.verbose_name)
            for row in formset.new_objects:
                changes.append(f"{name} : {added} ({row})")
            changed = {row.pk for row, _fields in formset.changed_objects}
            for row_form in formset.initial_forms:
                if row_form.instance.pk in changed and (parts := _field_changes(row_form, row_form.changed_data)):
                    changes.append(f"{name} : {parts}")
            for row in formset.deleted_objects:
                changes.append(f"{name} : {deleted} ({row})")
        return changes
