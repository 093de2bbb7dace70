"""Setup screens of the back office (ecandidat-features §2.8): campaigns, centres, commissions, formations, pieces,
decision types, refusal reasons and complementary forms.

Django permissions gate these pages (the central office's group); centre managers who are given them only see
their own centres' rows (and read the institution's pieces and forms, ``ScopedByCentre``), and the autocompletes
used by other admins are scoped the same way (``InStaffScope``: Centre, Commission and Formation querysets all have
``visible_to(user)``, everything for the central office).
"""

import copy
import functools
import logging
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.choices import CallableChoiceIterator
from django.utils.http import content_disposition_header
from django.utils.text import Truncator, capfirst, format_lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from ecandidat import notifications, parameters
from ecandidat.admin_base import FrenchRelatedFilter, InStaffScope
from ecandidat.admin_inputs import IsoDateInput
from ecandidat.downloads import StorageUnavailable, storage_errors
from ecandidat.emails import current_template, own_template, render_email
from ecandidat.mail_templates import language_in_sentence, variable_rows
from ecandidat.staff import is_central, scope_of
from ecandidat.staff_text import shown
from offers.admin_catalogue import ManagedByCentre, ScopedByCentre
from offers.admin_exports import ExportColumn, XlsxExport, label_of, yes_no
from offers.admin_filters import VisibleRelatedFilter
from offers.enums import DECISION_MAIL_BY_AVIS, Avis, TreatmentType
from offers.letters import LETTER_TYPES, deletion_blockers, render_letter_pdf, sample_values
from offers.models import (
    CALENDAR_FIELDS,
    CAMPAIGN_DATES_NO_CAMPAIGN,
    CAMPAIGN_DATES_OK,
    CAMPAIGN_DATES_OUTSIDE,
    COMMISSION_STATUS_FLAG_FIELDS,
    FORMATION_DEFAULTS,
    ORDERED_DATE_FIELDS,
    Campaign,
    Centre,
    Commission,
    ComplementaryForm,
    DecisionLetterTemplate,
    DecisionType,
    DiplomaType,
    Formation,
    FormationType,
    PieceType,
    Question,
    RefusalReason,
)
from offers.services import (
    bounding_campaigns,
    campaign_code_in_use,
    campaign_code_problems,
    campaign_end_refusal,
    campaign_rollover_errors,
    decision_type_in_use,
    move_letter_texts,
    new_formation_initial,
    set_formation_dates,
    set_formation_links,
)

logger = logging.getLogger(__name__)


def store_uploaded_files(obj: models.Model) -> None:
    """Write the files just uploaded to ``obj``'s file fields (a piece's template, a letter's signature) before its
    row is saved, as ``Model.save`` would (``FieldFile.save``: the field's folder, a free name). The storage failing
    (a full disk, an I/O error) deletes whatever part of the file was written and is ``StorageUnavailable``: the 503
    page saying that what was sent was not saved (the request's transaction is rolled back), not a 500. The name is
    taken free before the write, so what is there after a failure is this upload's."""
    for field in obj._meta.concrete_fields:
        if not isinstance(field, models.FileField):
            continue
        file = getattr(obj, field.attname)
        if not file or file._committed:
            continue
        storage = file.storage
        name = storage.get_available_name(field.generate_filename(obj, file.name), max_length=field.max_length)
        try:
            name = storage.save(name, file.file, max_length=field.max_length)
        except OSError as error:
            try:
                storage.delete(name)
            except Exception:  # a part left behind must not hide the failure
                logger.exception("Could not delete the partly written file %s", name)
            raise StorageUnavailable(f"{type(error).__name__}: {error}") from error
        setattr(obj, field.attname, name)  # a stored name: the row's save writes no file


class CampaignForm(forms.ModelForm):
    """The rollover's rules (``offers.services.campaign_rollover_errors``), next to the date that breaks them."""

    class Meta:
        model = Campaign
        fields = ["code", "label", "starts_on", "ends_on", "archive_on", "is_active"]
        help_texts = {
            "is_active": _(
                "Only one campaign is active: the next one becomes active through the nightly archiving, on the "
                "active campaign's archiving date."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "archive_on" in self.fields:
            self.fields["archive_on"].help_text = gettext(
                "On the active campaign: the night of this date, the nightly archiving activates the next campaign "
                "(create it first), freezes the formations' dates into this campaign's applications and closes its "
                "accounts; its applications are then read only. Its data are destroyed %(days)d days later. It comes "
                "before the next campaign's opening date (otherwise the next campaign opens while candidates are "
                "still told the site is closed). On the next campaign: empty, or after the active campaign's "
                "archiving date (its own rollover, later)."
            ) % {"days": settings.ARCHIVE_RETENTION_DAYS}

    def clean(self):
        cleaned_data = super().clean() or {}
        self.warnings: list[str] = []
        code = cleaned_data.get("code")
        active = bool(cleaned_data.get("is_active", self.instance.is_active))
        activated = active and self.instance.pk is not None and not self.instance.is_active
        if activated and "code" not in self.fields:
            code = self.instance.code  # read only (its pieces are stored under it), still the active one's code now
        if code and (self.instance.pk is None or "code" in self.changed_data or activated):
            # Only a new or changed code, or the campaign made active (its code is then refused, not warned about):
            # editing the dates must not depend on another system answering.
            code_errors, self.warnings = campaign_code_problems(code, active=active)
            for message in code_errors:
                self.add_error("code" if "code" in self.fields else None, message)
        errors = campaign_rollover_errors(
            self.instance,
            starts_on=cleaned_data.get("starts_on"),
            archive_on=cleaned_data.get("archive_on"),
            today=timezone.localdate(),
            is_active=active,
            ends_on=cleaned_data.get("ends_on"),
        )
        for field, message in errors.items():
            self.add_error(field, message)
        return cleaned_data


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    """Campaigns (the central office's). Activation and archiving are the nightly batch's (``archive_campaigns``):
    « Active » is ticked here only for the very first campaign (added, or changed while none is active); an archived
    campaign is read only (its archiving date sets when its data are destroyed, a decision that is not a form's, see
    ``ARCHIVE_RETENTION_DAYS``)."""

    form = CampaignForm
    list_display = ["code", "label", "starts_on", "ends_on", "archive_on", "is_active"]
    french_columns = ["label"]  # the staff's French labels, marked lang="fr" (RGAA 8.7)
    list_filter = ["is_active"]
    search_fields = ["code", "label"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            # The first campaign of an installation: it is made active here.
            return [] if not Campaign.objects.active().exists() else ["is_active"]
        if obj.is_archived_on(timezone.localdate()):
            return ["is_active"]  # its page is read only as a whole: nothing to ask
        # Its pieces are stored under "<code>/" and found by that code (``campaign_code_in_use``).
        fields = ["code"] if self._code_in_use(request, obj) else []
        if not obj.is_active and not self._any_active(request):
            # The first campaign saved without « Active » is made active here too: the site and the nightly batch
            # need an active campaign, and the batch only ever activates the next one.
            return fields
        return [*fields, "is_active"]

    def _any_active(self, request) -> bool:
        """Whether some campaign is active, asked once per request (the admin reads the read-only fields several
        times)."""
        cached = getattr(request, "_campaign_any_active", None)
        if cached is None:
            cached = request._campaign_any_active = Campaign.objects.active().exists()
        return cached

    def _code_in_use(self, request, obj: Campaign) -> bool:
        """``campaign_code_in_use``, asked once per request: the admin reads the read-only fields several times."""
        cached = getattr(request, "_campaign_code_in_use", None)
        if cached is None or cached[0] != obj.pk:
            cached = request._campaign_code_in_use = (obj.pk, campaign_code_in_use(obj))
        return cached[1]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_archived_on(timezone.localdate()):
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        for warning in getattr(form, "warnings", []):
            messages.warning(request, warning)  # e.g. the code not checked against Pégase's periods (unreachable)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and (obj.is_active or obj.is_archived_on(timezone.localdate())):
            return False
        return super().has_delete_permission(request, obj)


CENTRE_DEFAULT_FIELDS = tuple(f"default_{name}" for name in FORMATION_DEFAULTS)


def _display(name: str) -> Callable[[Any], Any]:
    """A column of a choice field: its label."""
    return lambda obj: getattr(obj, f"get_{name}_display")()


def _field(model: Any, name: str) -> Any:
    """A field's verbose name (lazy), as a column header."""
    return model._meta.get_field(name).verbose_name


def _columns(model: Any, *names: str) -> list[ExportColumn]:
    """Columns of plain fields: header the field's name, value the row's (dates stay dates, numbers numbers)."""
    return [(_field(model, name), attrgetter(name)) for name in names]


CENTRE_EXPORT_COLUMNS: list[ExportColumn] = [
    *_columns(Centre, "code", "label", "email", "phone", "address"),
    (_field(Centre, "candidate_mail_copy"), _display("candidate_mail_copy")),
    *_columns(Centre, "max_wishes"),
    (_field(Centre, "in_service"), lambda centre: yes_no(centre.in_service)),
    (_("default application mode"), _display("default_mode")),
    *[
        (format_lazy("{} ({})", _field(Centre, f"default_{name}"), _("default")), attrgetter(f"default_{name}"))
        for name in (*CALENDAR_FIELDS, "confirmation_delay_days")
    ],
    (_("default favourable decision"), lambda centre: label_of(centre.default_favourable_decision_type)),
    (_("default automatic waiting-list management"), lambda centre: yes_no(centre.default_auto_waiting_list)),
]


@admin.register(Centre)
class CentreAdmin(XlsxExport, InStaffScope, admin.ModelAdmin):
    """Centres: the central office's (Django permissions). A manager of a whole centre also opens their centres'
    pages, to set the default values of their new formations (eCandidat's "paramètres par défaut" of a centre); the
    rest of the page is read-only for them, and another centre is not found."""

    list_display = ["code", "label", "email", "max_wishes", "in_service"]
    french_columns = ["label"]
    list_filter = ["in_service"]
    search_fields = ["code", "label"]
    export_columns = CENTRE_EXPORT_COLUMNS
    export_select_related = ["default_favourable_decision_type"]
    export_filename = "centres"
    fieldsets = [
        (None, {"fields": ["code", "label", "in_service"]}),
        (_("Contact"), {"fields": ["address", "email", "phone", "candidate_mail_copy"]}),
        (_("Rules"), {"fields": ["max_wishes", "registration_instructions", "registration_instructions_en"]}),
        (
            _("Default values of the formations"),
            {
                "fields": CENTRE_DEFAULT_FIELDS,
                "description": _(
                    "Proposed in the form of each new formation of the centre, where they can be changed; changing "
                    "them here changes no existing formation (their dates are changed from the formations list)."
                ),
            },
        ),
    ]

    def _by_django_permission(self, request, name: str = "view", obj=None) -> bool:
        return getattr(super(), f"has_{name}_permission")(request, obj)

    def _manages(self, request, obj=None) -> bool:
        managed = scope_of(request.user).managed_centres
        return bool(managed) and (obj is None or obj.pk in managed)

    def has_module_permission(self, request):
        return super().has_module_permission(request) or self._manages(request)

    def has_view_permission(self, request, obj=None):
        return self._by_django_permission(request, "view", obj) or self._manages(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._by_django_permission(request, "change", obj) or self._manages(request, obj)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self._by_django_permission(request):
            return queryset
        return queryset.filter(pk__in=sorted(scope_of(request.user).managed_centres))

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None and self._manages(request) and not self._by_django_permission(request):
            raise Http404  # another centre, for a centre's manager: not found, rather than the admin's redirect
        return obj

    def get_readonly_fields(self, request, obj=None):
        if self._by_django_permission(request, "change", obj):
            return super().get_readonly_fields(request, obj)
        return [
            name for fieldset in self.fieldsets for name in fieldset[1]["fields"] if name not in CENTRE_DEFAULT_FIELDS
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # « Ajouter une formation avec ces valeurs »: the new formation's form, pre-filled with this centre's defaults
        context["add_formation_url"] = reverse("admin:offers_formation_add") + f"?centre={obj.pk}" if obj else ""
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(DiplomaType)
class DiplomaTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "order"]
    french_columns = ["label"]
    search_fields = ["code", "label"]
    ordering = ["order", "label"]


@admin.register(FormationType)
class FormationTypeAdmin(admin.ModelAdmin):
    """The institution's own types de formation: the catalogue's groups when ``CATALOGUE_GROUPING`` is "NOM"."""

    list_display = ["code", "label", "label_en", "order"]
    french_columns = ["label"]
    search_fields = ["code", "label", "label_en"]
    ordering = ["order", "label"]

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":  # says when these types are used, and whether they are now
            grouping = parameters.REGISTRY["CATALOGUE_GROUPING"]
            current = dict(grouping.choices)[parameters.get("CATALOGUE_GROUPING")]
            self.message_user(
                request,
                _("These types group the catalogue when “%(parameter)s” is “%(choice)s” (%(page)s); now: %(current)s.")
                % {
                    "parameter": grouping.label,
                    "choice": dict(grouping.choices)["NOM"],
                    "page": _("Parameters"),
                    "current": current,
                },
                messages.INFO,
            )
        return super().changelist_view(request, extra_context)


def _status_label(name: str) -> str:
    field = Commission._meta.get_field(name)
    assert isinstance(field, models.BooleanField)  # one of the shows_* flags
    return str(capfirst(field.verbose_name))


def shown_statuses_text(commission: Commission) -> str:
    """The dossier statuses a commission shows its members, in words: "Réceptionné, Complet"."""
    return ", ".join(_status_label(name) for name in commission.shown_status_fields)


class CommissionAdminForm(forms.ModelForm):
    """The commission's form, its ``shows_*`` flags as one multi-choice: the dossier statuses its members see."""

    shown_statuses = forms.MultipleChoiceField(
        label=_("Dossiers shown to its members"),
        choices=lambda: [(name, _status_label(name)) for name in COMMISSION_STATUS_FLAG_FIELDS],
        widget=forms.CheckboxSelectMultiple,
        # No help_text: the admin would point the group's aria-describedby at an id it does not give the help
        # (a multi-choice has no single id); the fieldset's description says it, read before the boxes.
        error_messages={"required": _("Tick at least one dossier status: the commission would see no dossier.")},
    )

    class Meta:
        model = Commission
        fields = ["shown_statuses"]  # the admin adds its fieldsets' fields; never the shows_* flags themselves

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["shown_statuses"].initial = self.instance.shown_status_fields

    def clean(self):
        super().clean()
        # Set on the instance before the model's own validation (ModelForm._post_clean), all or nothing: an empty
        # choice is refused by the field, the flags then left as they were.
        shown = set(self.cleaned_data.get("shown_statuses") or ())
        if shown:
            for name in COMMISSION_STATUS_FLAG_FIELDS:
                setattr(self.instance, name, name in shown)
        return self.cleaned_data


COMMISSION_EXPORT_COLUMNS: list[ExportColumn] = [
    *_columns(Commission, "code", "label"),
    (_("centre code"), lambda commission: commission.centre.code),
    (_field(Commission, "centre"), lambda commission: commission.centre.label),
    *_columns(Commission, "email", "phone", "address", "url"),
    (_field(Commission, "alert_mode"), _display("alert_mode")),
    *[
        (_field(Commission, name), lambda commission, name=name: yes_no(getattr(commission, name)))
        for name in (
            "alert_on_transmission",
            "alert_on_cancellation",
            "alert_on_withdrawal",
            "alert_on_promotion",
            "alert_on_proposal",
            "attach_letter_to_mail",
        )
    ],
    (_("dossiers shown"), shown_statuses_text),
    (_field(Commission, "in_service"), lambda commission: yes_no(commission.in_service)),
]


@admin.register(Commission)
class CommissionAdmin(XlsxExport, ManagedByCentre, InStaffScope, admin.ModelAdmin):
    form = CommissionAdminForm
    commission_lookup = "pk"
    limited_may_add = False  # a new commission is the centre's: its managers of every commission add it
    list_display = ["code", "label", "centre", "dossiers_shown", "email", "alert_mode", "in_service"]
    french_columns = ["label", "centre"]

    def get_readonly_fields(self, request, obj=None):
        # Moving a commission to another centre is for the central office and the managers of its whole centre: a
        # manager of some commissions would leave its formations behind in the old centre.
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and not self._unrestricted(request) and obj.centre_id not in self._managed(request):
            fields.append("centre")
        return fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "centre" and not self._unrestricted(request) and field is not None:
            # A commission is its centre's as a whole: created in (or moved to) a centre the user manages wholly,
            # not one where they manage some commissions only.
            field.queryset = field.queryset.filter(pk__in=sorted(self._managed(request)))
        return field

    list_filter = ["in_service", "alert_mode", ("centre", VisibleRelatedFilter)]
    list_select_related = ["centre"]
    export_columns = COMMISSION_EXPORT_COLUMNS
    export_filename = "commissions"
    search_fields = ["code", "label"]
    autocomplete_fields = ["centre"]
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["code", "label", "centre", "in_service"]}),
        (_("Contact"), {"fields": ["address", "email", "phone", "url", "return_comment", "return_comment_en"]}),
        (
            _("Alerts"),
            {
                "fields": [
                    "alert_mode",
                    "alert_on_transmission",
                    "alert_on_cancellation",
                    "alert_on_withdrawal",
                    "alert_on_promotion",
                    "alert_on_proposal",
                ],
                "description": _(
                    "Mails sent to the commission when a candidate transmits, cancels or withdraws, when a "
                    "candidate of the complementary list is admitted, and when staff propose an admission."
                ),
            },
        ),
        (
            _("Decision letters"),
            {
                "fields": ["attach_letter_to_mail"],
                "description": _(
                    "The letter texts are set per centre or per formation (decision letters); the candidate "
                    "can also download the letter from their application."
                ),
            },
        ),
        (
            _("Commission's screen"),
            {
                "fields": ["shown_statuses"],
                "description": _(
                    "The commission's members see, in the applications list and on an application's page, only the "
                    "dossiers of the statuses ticked here (the centre's managers see them all). The list says which."
                ),
            },
        ),
    ]

    @admin.display(description=_("dossiers shown"))
    def dossiers_shown(self, obj):
        return shown_statuses_text(obj)


@admin.register(PieceType)
class PieceTypeAdmin(ScopedByCentre, admin.ModelAdmin):
    list_display = [
        "code",
        "short_label",
        "centre",
        "is_common",
        "is_unique",
        "is_conditional",
        "treatment_type",
        "order",
        "in_service",
    ]
    list_filter = ["is_common", "is_conditional", "treatment_type", "in_service", ("centre", VisibleRelatedFilter)]
    french_columns = ["short_label", "centre"]
    fields = [
        "code",
        "label",
        "label_en",
        "centre",
        "is_common",
        "is_unique",
        "is_conditional",
        "treatment_type",
        "template",
        "order",
        "in_service",
        "siscol_code",
    ]
    list_select_related = ["centre"]
    search_fields = ["code", "label"]
    list_editable = ["order", "in_service"]
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        store_uploaded_files(obj)  # the template: a disk failing is the 503 page
        super().save_model(request, obj, form, change)

    @admin.display(description=PieceType._meta.get_field("label").verbose_name)
    def short_label(self, obj):
        # The list's column cuts a long label (the piece's str, whole, is for the history and Django's messages).
        return Truncator(obj.label).chars(80)


def _decision_mail_choices() -> list[tuple[str, object]]:
    """The decision mails, "code — label" (the label from the notifications registry), after the empty choice."""
    choices: list[tuple[str, object]] = [("", _("The mail of its kind of decision"))]
    for code in DECISION_MAIL_BY_AVIS.values():
        notification = notifications.get(code)
        choices.append((code, f"{code} — {notification.label}" if notification else code))
    return choices


MAIL_TEXT_FIELDS = ("mail_subject_fr", "mail_body_fr", "mail_subject_en", "mail_body_en")


class DecisionTypeAdminForm(forms.ModelForm):  # ModelAdmin.form, the class the admin would use
    # Only a mail that exists: a free code would make validating a decision of this type fail (no such mail).
    mail_code = forms.ChoiceField(
        label=_("Decision mail"),
        choices=_decision_mail_choices,
        required=False,
        help_text=_("The mail sent when a decision of this type is validated."),
    )

    def clean_avis(self):
        """Decisions of the type keep their kind: a refusal turned favourable would let its candidates confirm (and
        go to the student records system). The decisions are asked through ``offers.services.decision_type_in_use``
        (the applications app holds them: offers imports no higher layer)."""
        avis = self.cleaned_data.get("avis")
        instance = self.instance
        if instance.pk is not None and avis and avis != instance.avis and decision_type_in_use(instance):
            raise ValidationError(
                _(
                    "Decisions of this type have already been entered: its kind of decision can no longer change "
                    "(create a new decision type instead)."
                )
            )
        return avis

    def clean(self):
        data = super().clean()
        assert data is not None  # Django's ModelForm.clean returns cleaned_data
        if not data.get("mail_code") and data.get("avis"):
            data["mail_code"] = DECISION_MAIL_BY_AVIS[Avis(data["avis"])]
        instance = self.instance
        changes_mail = bool(data.get("mail_code")) and data["mail_code"] != instance.mail_code
        if changes_mail and not all(name in self.fields for name in MAIL_TEXT_FIELDS):
            # The text is read-only here (not the central office): it must still suit the mail chosen now. Only a
            # change of mail is checked, so that a text the mail outgrew does not lock the type's other fields.
            probe = copy.copy(instance)
            probe.mail_code = data["mail_code"]
            if probe.mail_text_errors():
                raise ValidationError(
                    _(
                        "This decision type has its own mail text, written for its current mail: only the central "
                        "office can change its mail or its kind of decision."
                    )
                )
        goes_out = instance.in_service and not data.get("in_service")
        changes_kind = bool(data.get("avis")) and data["avis"] != instance.avis
        leaving = instance.pk and (goes_out or changes_kind)
        if leaving:
            others = DecisionType.objects.filter(avis=instance.avis, in_service=True).exclude(pk=instance.pk)
            if not others.exists():
                raise ValidationError(
                    _("At least one decision type of the kind “%(avis)s” must stay in service.")
                    % {"avis": Avis(instance.avis).label}
                )
        return data

    class Meta:
        widgets = {
            "mail_subject_fr": forms.TextInput(attrs={"size": 100}),
            "mail_subject_en": forms.TextInput(attrs={"size": 100}),
            "mail_body_fr": forms.Textarea(attrs={"rows": 16, "cols": 110}),
            "mail_body_en": forms.Textarea(attrs={"rows": 16, "cols": 110}),
        }


@admin.register(DecisionType)
class DecisionTypeAdmin(admin.ModelAdmin):
    """Decision types (eCandidat "Types de décision") and their own mail ("Mails types de décision"): a type may
    replace the text of its decision mail, per language, checked and previewed like the central office's mail texts
    (``ecandidat.admin.MailTemplateAdmin``). The text goes to every candidate of the type: only the central office
    edits it; other staff given the permissions on this page read it."""

    form = DecisionTypeAdminForm
    list_display = [
        "code",
        "label",
        "candidate_label",
        "avis",
        "is_final",
        "opi_transfer",
        "mail_code",
        "has_own_mail",
        "show_comment",
        "in_service",
    ]
    list_filter = ["avis", "in_service", "is_final", "opi_transfer"]
    french_columns = ["label", "candidate_label"]
    search_fields = ["code", "label"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "code",
                    "label",
                    "candidate_label",
                    "candidate_label_en",
                    "avis",
                    "is_final",
                    "mail_code",
                    "show_comment",
                    "opi_transfer",
                    "in_service",
                ]
            },
        ),
        (
            _("Mail of this decision type"),
            {
                "fields": MAIL_TEXT_FIELDS,
                "description": _(
                    "Leave empty to send the decision mail's text (the central office's, else the default one). "
                    "The French text is required once the type has its own mail; without an English text, "
                    "candidates who read English get the decision mail's English text."
                ),
            },
        ),
    ]

    @admin.display(description=_("own mail"), boolean=True)
    def has_own_mail(self, obj):
        return bool(obj.mail_texts)

    def has_delete_permission(self, request, obj=None):
        return False  # decisions keep pointing to their type: take it out of service instead

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return readonly if is_central(request.user) else [*readonly, *MAIL_TEXT_FIELDS]

    # --- the mail's help: variables and preview ---

    def get_urls(self):
        return [
            path(
                "mail-preview/",
                self.admin_site.admin_view(self.mail_preview_view),
                name="offers_decisiontype_mail_preview",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        mail_code = obj.mail_code if obj is not None else ""
        mails = [notifications.get(code) for code in DECISION_MAIL_BY_AVIS.values()]
        context["decision_mails"] = [
            {"mail_type": mail, "variables": variable_rows(mail), "open": mail.code == mail_code}
            for mail in mails
            if mail is not None and (not mail_code or mail.code == mail_code)
        ]
        if is_central(request.user):
            context["mail_preview_url"] = reverse("admin:offers_decisiontype_mail_preview")
        return super().render_change_form(request, context, add, change, form_url, obj)

    def mail_preview_view(self, request):
        """The mail of a decision of the type being edited, rendered with sample data, without saving or sending
        anything (the form's "Preview" buttons post it here, with the language to show). The type's text when it has
        one in that language, else the mail's: the central office's text in service, else the files. The text is
        checked as the save would check it."""
        if not is_central(request.user) or not self.has_view_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        language = request.POST.get("preview_language", settings.LANGUAGE_CODE)
        avis = request.POST.get("avis", "")
        code = request.POST.get("mail_code") or (DECISION_MAIL_BY_AVIS[Avis(avis)] if avis in Avis.values else "")
        mail_type = notifications.get(code) if code in DECISION_MAIL_BY_AVIS.values() else None
        if mail_type is None or language not in DecisionType.MAIL_TEXT_FIELDS:
            raise Http404
        decision_type = DecisionType(
            label=request.POST.get("label", ""),
            candidate_label=request.POST.get("candidate_label", ""),
            candidate_label_en=request.POST.get("candidate_label_en", ""),
            mail_code=code,
            **{name: request.POST.get(name, "") for name in MAIL_TEXT_FIELDS},
        )
        errors = [str(message) for message in decision_type.mail_text_errors().values()]
        kind_text = current_template(code, language)
        template = own_template(code, language, decision_type.mail_texts)
        if template is not None:
            source = _("the decision type's text being edited (not saved)")
        elif kind_text is not None and kind_text.in_service:
            source, template = _("the central office's text of the decision mail"), kind_text
        else:
            source = _("the default text of the decision mail")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Preview: %(code)s") % {"code": code},
            "mail_type": mail_type,
            "language_label": language_in_sentence(language),
            "source": source,
            "out_of_service": kind_text is not None and not kind_text.in_service,
            "errors": errors,
        }
        if not errors:
            sample = mail_type.sample_context()
            label = shown(
                decision_type.candidate_label or decision_type.label,
                decision_type.candidate_label_en,
                language=language,
            )
            sample["decision_label"] = str(label) or sample["decision_label"]
            subject, body, html = render_email(
                mail_type.template_base, sample, language=language, code=code, template=template
            )
            context.update(subject=subject, body=body, html=html)
        return TemplateResponse(request, "admin/offers/decisiontype/mail_preview.html", context)


@admin.register(RefusalReason)
class RefusalReasonAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "in_service"]
    french_columns = ["label"]
    list_filter = ["in_service"]
    search_fields = ["code", "label"]


class QuestionAdminForm(forms.ModelForm):
    """The question's form: its kind (Yes/No or text) no longer changes once candidates answered it."""

    def clean_kind(self):
        """A text answer would count as answered for a Yes/No question (and the candidate's next save of the page
        would erase it), a Yes/No one read « O »/« N » as a text. The answers are read through the reverse relation
        (``applications.QuestionAnswer.question``, ``related_name="answers"``): offers imports no higher layer."""
        kind = self.cleaned_data["kind"]
        instance = self.instance
        if instance.pk is not None and kind != instance.kind and instance.answers.exclude(answer="").exists():
            raise ValidationError(
                _(
                    "Candidates have already answered this question: its kind of answer can no longer change "
                    "(create a new question instead)."
                )
            )
        return kind


@admin.register(Question)
class QuestionAdmin(ScopedByCentre, admin.ModelAdmin):
    form = QuestionAdminForm
    list_display = [
        "code",
        "label",
        "kind",
        "centre",
        "is_common",
        "is_unique",
        "is_conditional",
        "treatment_type",
        "order",
        "in_service",
    ]
    list_filter = [
        "kind",
        "is_common",
        "is_conditional",
        "treatment_type",
        "in_service",
        ("centre", VisibleRelatedFilter),
    ]
    french_columns = ["label", "centre"]
    fields = [
        "code",
        "label",
        "candidate_label",
        "candidate_label_en",
        "kind",
        "centre",
        "is_common",
        "is_unique",
        "is_conditional",
        "treatment_type",
        "order",
        "in_service",
    ]
    list_select_related = ["centre"]
    search_fields = ["code", "label", "candidate_label"]
    list_editable = ["order", "in_service"]
    show_full_result_count = False


@admin.register(ComplementaryForm)
class ComplementaryFormAdmin(ScopedByCentre, admin.ModelAdmin):
    list_display = ["code", "label", "survey_id", "centre", "is_common", "is_conditional", "in_service"]
    french_columns = ["label", "centre"]
    list_filter = ["in_service", "is_common", ("centre", VisibleRelatedFilter)]
    list_select_related = ["centre"]
    search_fields = ["code", "label"]

    def get_deleted_objects(self, objs, request):
        # The answers imported from LimeSurvey protect their form (applications.FormAnswer.form): deleted, they were
        # lost, the archived campaigns' too, which the nightly import never brings back. The delete page (the button
        # and the bulk action alike) says so once per form, with how to retire it, rather than one line per answer
        # (and without reading them all, as Django's collector would).
        answered = (
            ComplementaryForm.objects.filter(pk__in=[form.pk for form in objs])
            .annotate(answer_count=models.Count("answers"))
            .filter(answer_count__gt=0)
            .order_by("label", "pk")
        )
        lines = [
            ngettext(
                "Complementary form “%(label)s”: %(count)d answer imported from LimeSurvey keeps it (the archived "
                "campaigns' answers are never imported again). Put the form out of service instead: untick "
                "“In service” on its page.",
                "Complementary form “%(label)s”: %(count)d answers imported from LimeSurvey keep it (the archived "
                "campaigns' answers are never imported again). Put the form out of service instead: untick "
                "“In service” on its page.",
                form.answer_count,
            )
            % {"label": form.label, "count": form.answer_count}
            for form in answered
        ]
        if lines:
            return [], {}, set(), lines
        return super().get_deleted_objects(objs, request)


def _calendar_label(name: str) -> Any:
    """The model field's verbose name, still lazy (translated when shown)."""
    field = Formation._meta.get_field(name)
    assert isinstance(field, models.DateField)
    return field.verbose_name


def _calendar_field(name: str) -> forms.DateField:
    label = capfirst(_calendar_label(name))
    return forms.DateField(label=label, required=False, widget=IsoDateInput())


def _after_campaign_errors(dates: dict) -> dict[str, str]:
    """The refusal of each of a formation's ``dates`` (field → date, those given or changed) after the closing date
    for candidates (``Campaign.ends_on``) of the latest campaign not archived (``offers.services.bounding_campaigns``):
    the active one, or the next one already created (its formations' dates prepared before the rollover); after it,
    the candidates can no longer log in to transmit, see their decision or confirm. A mistyped year (2207 for 2027)
    or 31/12/9999 was saved as typed, and the applications then read it (found by review). One query, only when a
    date is given; no campaign: nothing to compare with (the list flags the formations, ``with_campaign_dates``).
    Said here beside each date; ``set_formation_dates`` refuses them too, for any caller."""
    dates = {field: day for field, day in dates.items() if day is not None}
    if not dates:
        return {}
    campaign = bounding_campaigns().only("label", "ends_on").first()
    if campaign is None:
        return {}
    message = campaign_end_refusal(campaign)
    return {field: message for field, day in dates.items() if day > campaign.ends_on}


class FormationDatesForm(forms.Form):
    """The dates to give every selected formation; a date left empty stays as it is on each."""

    opens_on = _calendar_field("opens_on")
    closes_on = _calendar_field("closes_on")
    preanalysis_on = _calendar_field("preanalysis_on")
    return_deadline = _calendar_field("return_deadline")
    jury_on = _calendar_field("jury_on")
    publication_on = _calendar_field("publication_on")
    confirmation_date = _calendar_field("confirmation_date")
    waiting_list_confirmation_date = _calendar_field("waiting_list_confirmation_date")

    def clean(self):
        data = super().clean()
        dates = self.dates()
        if not dates and not self.errors:  # a date not understood says so next to it, not "give at least one"
            raise ValidationError(_("Give at least one date; the dates left empty do not change."))
        for field, message in _after_campaign_errors(dates).items():
            self.add_error(field, message)
        # Dates given out of order refuse every formation alike: say it once, next to the date, before any is locked.
        try:
            Formation(**dates).clean()
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return data

    def dates(self) -> dict:
        return {field: value for field in ORDERED_DATE_FIELDS if (value := self.cleaned_data.get(field))}


def _whole_names(objects) -> str:
    # Pieces, forms and questions by their whole label: a piece's str is cut at 80 characters for the lists, and two
    # long pieces that begin alike would read the same. The history's message is a text column: nothing to cut.
    return ", ".join(obj.label for obj in objects)


def _links_message(added: list, removed: list, state: bool | None) -> str:
    """The history line of a mass edit, in the institution's language (read by staff, whoever acted)."""
    with translation.override(settings.LANGUAGE_CODE):
        parts = []
        if added:
            parts.append(str(_("Attached: %(names)s") % {"names": _whole_names(added)}))
        if removed:
            parts.append(str(_("Detached: %(names)s") % {"names": _whole_names(removed)}))
        if state is not None:
            parts.append(str(_("In service") if state else _("Out of service")))
        return " ; ".join(parts)


class WholeLabelChoiceField(forms.ModelMultipleChoiceField):
    """Pieces, forms or questions named by their whole label: a piece's name (its ``str``) is cut at 80 characters
    for the lists, so two long pieces that begin alike could not be told apart where one is chosen."""

    def label_from_instance(self, obj):
        return obj.label


class _LinksChoiceField(WholeLabelChoiceField):
    """A group of checkboxes of the formations' mass edit, with what to say in its place when there is nothing to
    tick (a legend over an empty box read as a page not loaded)."""

    def __init__(self, *, label, nothing_to_choose, model):
        super().__init__(label=label, queryset=model.objects.none(), required=False)
        self.nothing_to_choose = nothing_to_choose


def _choices_of(field: forms.ModelChoiceField) -> list:
    # The field's choices (its .choices); iter() first: list() would ask the iterator its length, a COUNT query more.
    return list(iter(field.iterator(field)))


def _in_service_choices(choices) -> list:
    # The choices (ModelChoiceIteratorValue, label) whose object is in service, read from the list already read.
    return [(value, label) for value, label in choices() if value.instance.in_service]


class FormationLinksForm(forms.Form):
    """What to attach to and detach from every selected formation, and whether to put them in or out of service;
    what is left empty stays as it is on each."""

    NO_PIECE = _("Nothing to choose: no specific piece exists within your scope.")
    NO_FORM = _("Nothing to choose: no complementary form exists within your scope.")
    NO_QUESTION = _("Nothing to choose: no specific question exists within your scope.")
    NO_PIECE_IN_SERVICE = _("Nothing to choose: no specific piece in service exists within your scope.")
    NO_FORM_IN_SERVICE = _("Nothing to choose: no complementary form in service exists within your scope.")
    NO_QUESTION_IN_SERVICE = _("Nothing to choose: no specific question in service exists within your scope.")
    add_piece_types = _LinksChoiceField(
        label=_("Specific pieces to attach"), nothing_to_choose=NO_PIECE_IN_SERVICE, model=PieceType
    )
    remove_piece_types = _LinksChoiceField(
        label=_("Specific pieces to detach"), nothing_to_choose=NO_PIECE, model=PieceType
    )
    add_forms = _LinksChoiceField(
        label=_("Complementary forms to attach"), nothing_to_choose=NO_FORM_IN_SERVICE, model=ComplementaryForm
    )
    remove_forms = _LinksChoiceField(
        label=_("Complementary forms to detach"), nothing_to_choose=NO_FORM, model=ComplementaryForm
    )
    add_questions = _LinksChoiceField(
        label=_("Specific questions to attach"), nothing_to_choose=NO_QUESTION_IN_SERVICE, model=Question
    )
    remove_questions = _LinksChoiceField(
        label=_("Specific questions to detach"), nothing_to_choose=NO_QUESTION, model=Question
    )
    in_service = forms.ChoiceField(
        label=_("In service"),
        choices=[("", _("Unchanged")), ("1", _("In service")), ("0", _("Out of service"))],
        required=False,
    )

    PAIRS = (
        ("add_piece_types", "remove_piece_types"),
        ("add_forms", "remove_forms"),
        ("add_questions", "remove_questions"),
    )

    def __init__(self, *args, scope: Q | None, **kwargs):
        super().__init__(*args, **kwargs)
        # The formation form's choices (offers.admin_catalogue): a centre manager's centres and the institution's.
        mine = scope if scope is not None else Q()
        querysets = {
            "piece_types": PieceType.objects.filter(mine, is_common=False),
            "forms": ComplementaryForm.objects.filter(mine),
            "questions": Question.objects.filter(mine, is_common=False),
        }
        for (added, removed), queryset in zip(self.PAIRS, querysets.values(), strict=True):
            add, remove = self.fields[added], self.fields[removed]
            assert isinstance(add, _LinksChoiceField)
            assert isinstance(remove, _LinksChoiceField)
            # What is out of service is not offered to attach (as in the formation's own form, where only those
            # already attached stay listed), but may still be detached from formations that kept it.
            add.queryset, remove.queryset = queryset.filter(in_service=True), queryset
            # The pair's checkboxes read once, when the page is drawn (the template asks first whether there are
            # any): one query for both lists, none when the form is applied.
            every = functools.cache(functools.partial(_choices_of, remove))
            add.widget = forms.CheckboxSelectMultiple(
                choices=CallableChoiceIterator(functools.cache(functools.partial(_in_service_choices, every)))
            )
            remove.widget = forms.CheckboxSelectMultiple(choices=CallableChoiceIterator(every))

    def clean(self):
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data
        for added, removed in self.PAIRS:
            both = set(data.get(added) or ()) & set(data.get(removed) or ())
            if both:
                self.add_error(
                    removed,
                    _("Attached and detached at once: %(names)s.")
                    % {"names": _whole_names(sorted(both, key=lambda obj: obj.label))},
                )
        if not self.errors and not any(data.get(name) for name in self.fields):
            raise ValidationError(_("Choose something to attach, to detach or the service state."))
        return data

    def added(self) -> list:
        return [obj for added, _removed in self.PAIRS for obj in self.cleaned_data[added]]

    def removed(self) -> list:
        return [obj for _added, removed in self.PAIRS for obj in self.cleaned_data[removed]]

    def service_state(self) -> bool | None:
        return {"1": True, "0": False}.get(self.cleaned_data.get("in_service") or "")


CAMPAIGN_DATES_LABELS = {
    CAMPAIGN_DATES_OUTSIDE: _("Outside the campaign"),
    CAMPAIGN_DATES_NO_CAMPAIGN: _("No active campaign"),
    CAMPAIGN_DATES_OK: _("Within the campaign"),
}


class CampaignDatesFilter(admin.SimpleListFilter):
    """The formations whose application window is outside the active campaign's dates (or every formation, when no
    campaign is active), or within them: the ``campaign_dates`` of ``FormationQuerySet.with_campaign_dates``, which
    the list's queryset carries."""

    title = _("application window and campaign")
    parameter_name = "campaign_dates"

    def lookups(self, request, model_admin):
        return list(CAMPAIGN_DATES_LABELS.items())

    def queryset(self, request, queryset):
        value = self.value()
        if value not in CAMPAIGN_DATES_LABELS:
            return queryset  # none chosen, or not one of the choices (a forged address): the whole list
        return queryset.filter(campaign_dates=value)


def _campaign_flag(formation: Formation) -> str:
    value = getattr(formation, "campaign_dates", CAMPAIGN_DATES_OK)
    return "" if value == CAMPAIGN_DATES_OK else str(CAMPAIGN_DATES_LABELS[value])


FORMATION_EXPORT_COLUMNS: list[ExportColumn] = [
    *_columns(Formation, "code", "title", "title_en"),
    (_("centre code"), lambda formation: formation.centre.code),
    (_field(Formation, "centre"), lambda formation: formation.centre.label),
    (_("commission code"), lambda formation: formation.commission.code),
    (_field(Formation, "commission"), lambda formation: formation.commission.label),
    (_field(Formation, "diploma_type"), lambda formation: label_of(formation.diploma_type)),
    (_field(Formation, "formation_type"), lambda formation: label_of(formation.formation_type)),
    (_field(Formation, "mode"), _display("mode")),
    *_columns(Formation, *CALENDAR_FIELDS, "confirmation_delay_days"),
    (_("campaign"), _campaign_flag),
    (_field(Formation, "treatment_type"), _display("treatment_type")),
    (_field(Formation, "favourable_decision_type"), lambda formation: label_of(formation.favourable_decision_type)),
    (_field(Formation, "auto_waiting_list"), lambda formation: yes_no(formation.auto_waiting_list)),
    (
        _field(Formation, "waiting_list_decision_type"),
        lambda formation: label_of(formation.waiting_list_decision_type),
    ),
    *_columns(
        Formation,
        "waiting_list_confirmation_date",
        "waiting_list_confirmation_delay_days",
        "capacity",
        "keywords",
        "url",
        "pegase_code",
        "apogee_step_code",
        "apogee_step_version",
        "apogee_diploma_code",
        "apogee_diploma_version",
    ),
    (_field(Formation, "in_service"), lambda formation: yes_no(formation.in_service)),
]


@admin.register(Formation)
class FormationAdmin(XlsxExport, ManagedByCentre, InStaffScope, admin.ModelAdmin):
    list_display = [
        "code",
        "title",
        "centre",
        "commission",
        "opens_on",
        "closes_on",
        "campaign_dates_flag",
        "return_deadline",
        "auto_waiting_list",
        "in_service",
    ]
    list_filter = [
        "in_service",
        CampaignDatesFilter,
        "mode",
        "auto_waiting_list",
        ("centre", VisibleRelatedFilter),
        ("diploma_type", FrenchRelatedFilter),
    ]
    french_columns = ["title", "centre", "commission"]  # the staff's French labels, marked lang="fr" (RGAA 8.7)

    def get_queryset(self, request):
        return super().get_queryset(request).with_campaign_dates()  # the list's flag and filter; no query more

    @admin.display(description=_("campaign"), ordering="campaign_dates")
    def campaign_dates_flag(self, obj):
        """eCandidat's yellow and blue rows of the formations list, in words: "" when the window is within the
        active campaign's dates (the admin shows its "-")."""
        return _campaign_flag(obj)

    list_select_related = ["centre", "commission", "diploma_type"]  # the list shows no formation type
    export_columns = FORMATION_EXPORT_COLUMNS
    export_select_related = ["formation_type", "favourable_decision_type", "waiting_list_decision_type"]
    export_filename = "formations"
    search_fields = ["code", "title", "keywords"]
    autocomplete_fields = ["centre", "commission", "diploma_type"]
    filter_horizontal = ["piece_types", "forms", "questions"]
    show_full_result_count = False
    actions = ["set_dates", "set_links"]
    DATES_LIMIT = 500  # formations given the same dates at once

    @admin.action(description=_("Change the dates of the selected formations"), permissions=["change"])
    def set_dates(self, request, queryset):
        """eCandidat's mass edit of formations (§2.8): the same dates for a selection (in the user's scope: the
        queryset is the list's), all or nothing, each change in the formation's history."""
        formations = list(queryset.select_related("centre").order_by("code")[: self.DATES_LIMIT + 1])
        if len(formations) > self.DATES_LIMIT:
            self.message_user(
                request, _("At most %(limit)d formations at once.") % {"limit": self.DATES_LIMIT}, messages.ERROR
            )
            return None
        form = FormationDatesForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            try:
                changed = set_formation_dates([formation.pk for formation in formations], form.dates())
            except ValidationError as error:
                form.add_error(None, error)
            else:
                with translation.override(None):  # stored untranslated, in the model's words (history_in_model_words)
                    fields = [str(_calendar_label(name)) for name in form.dates()]
                for formation in changed:
                    self.log_change(request, formation, [{"changed": {"fields": fields}}])
                n = len(changed)
                self.message_user(
                    request,
                    ngettext("Dates changed for %(count)d formation.", "Dates changed for %(count)d formations.", n)
                    % {"count": n},
                    messages.SUCCESS,
                )
                return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Change the dates of the selected formations"),
            "opts": self.opts,
            "formations": formations,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/offers/formation/set_dates.html", context)

    @admin.action(
        description=_("Change the pieces, forms, questions or service state of the selected formations"),
        permissions=["change"],
    )
    def set_links(self, request, queryset):
        """eCandidat's other mass edits of formations (§2.8): attach or detach specific pieces, forms and questions,
        put in or out of service, for a selection in the user's scope; each change in the formation's history."""
        formations = list(queryset.select_related("centre").order_by("code")[: self.DATES_LIMIT + 1])
        if len(formations) > self.DATES_LIMIT:
            self.message_user(
                request, _("At most %(limit)d formations at once.") % {"limit": self.DATES_LIMIT}, messages.ERROR
            )
            return None
        scope = None if self._unrestricted(request) else self._choices_scope(request)
        form = FormationLinksForm(request.POST if "apply" in request.POST else None, scope=scope)
        if form.is_bound and form.is_valid():
            added, removed, state = form.added(), form.removed(), form.service_state()
            changed = set_formation_links([f.pk for f in formations], add=added, remove=removed, in_service=state)
            message = _links_message(added, removed, state)
            for formation in changed:
                self.log_change(request, formation, message)
            n = len(changed)
            self.message_user(
                request,
                ngettext("%(count)d formation changed.", "%(count)d formations changed.", n) % {"count": n},
                messages.SUCCESS,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Change the pieces, forms, questions or service state of the selected formations"),
            "opts": self.opts,
            "formations": formations,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/offers/formation/set_links.html", context)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("form_class", WholeLabelChoiceField)  # the chooser's options wrap (admin_phone.css)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _choices_scope(self, request) -> Q:
        # As the formation's own form: the institution's rows and those of the centres managed wholly or in part.
        scope = scope_of(request.user)
        return Q(centre__isnull=True) | Q(centre_id__in=sorted(scope.managed_centres | scope.partly_managed_centres))

    fieldsets = [
        (
            None,
            {
                "fields": [
                    "code",
                    "title",
                    "title_en",
                    "keywords",
                    "url",
                    "additional_information",
                    "additional_information_en",
                    "in_service",
                ]
            },
        ),
        (
            _("Organisation"),
            {"fields": ["centre", "commission", "diploma_type", "formation_type", "mode", "capacity"]},
        ),
        (
            _("Calendar"),
            {
                "fields": [*CALENDAR_FIELDS, "confirmation_delay_days"],  # the dates in the reference's order
                "description": _(
                    "Changing the return deadline or the confirmation date extends it for every application of "
                    "the formation; per-application extensions are made from the application's page."
                ),
            },
        ),
        (
            _("Decisions"),
            {
                "fields": [
                    "treatment_type",
                    "favourable_decision_type",
                    "preselection_on",
                    "preselection_time",
                    "preselection_place",
                ]
            },
        ),
        (
            _("Complementary list"),
            {
                "fields": [
                    "auto_waiting_list",
                    "waiting_list_decision_type",
                    "waiting_list_confirmation_date",
                    "waiting_list_confirmation_delay_days",
                ]
            },
        ),
        (_("Pieces and forms"), {"fields": ["piece_types", "forms", "questions"]}),
        (_("After confirmation"), {"fields": ["registration_instructions", "registration_instructions_en"]}),
        (
            _("Student records system (OPI)"),
            {
                "fields": [
                    "pegase_code",
                    "apogee_cge",
                    "apogee_step_code",
                    "apogee_step_version",
                    "apogee_diploma_code",
                    "apogee_diploma_version",
                ],
                "classes": ["collapse"],
            },
        ),
    ]

    # --- a new formation's form, pre-filled with its centre's defaults (offers.services.new_formation_initial) ---

    def _prefill_centres(self, request) -> list[Centre]:
        """The centres whose defaults may pre-fill a new formation: those the form's centre field offers the user,
        in service. One query, kept for the request (the initial data and the page both read it)."""
        cached = getattr(request, "_formation_prefill_centres", None)
        if cached is None:
            centres = Centre.objects.filter(in_service=True)
            if not self._unrestricted(request):
                scope = scope_of(request.user)
                centres = centres.filter(pk__in=sorted(scope.managed_centres | scope.partly_managed_centres))
            cached = request._formation_prefill_centres = list(centres)
        return cached

    def _prefill_centre(self, request) -> Centre | None:
        """The centre named by the add page's ``?centre=`` when the user may choose it, else the user's only
        centre; a centre outside the user's scope, or a value that is not an id, pre-fills nothing."""
        centres = self._prefill_centres(request)
        raw = request.GET.get("centre", "")
        if raw:
            return next((centre for centre in centres if str(centre.pk) == raw), None)
        if len(centres) == 1 and not self._unrestricted(request):
            return centres[0]
        return None

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        centre = self._prefill_centre(request)
        if centre is None:
            return initial
        return {**new_formation_initial(centre), **{k: v for k, v in initial.items() if k != "centre"}}

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        prefill = add and request.method == "GET"
        context["prefill_centres"] = self._prefill_centres(request) if prefill else []
        context["prefill_centre"] = self._prefill_centre(request) if prefill else None
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "centre" in form.changed_data:
            # The formation's own letter texts go with it (offers.services.move_letter_texts), in the change form's
            # transaction, each move in the text's history (in the model's words: history_in_model_words).
            with translation.override(None):
                fields = [str(DecisionLetterTemplate._meta.get_field("centre").verbose_name)]
            for text in move_letter_texts(obj):
                self.log_change(request, text, [{"changed": {"fields": fields}}])

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)

        class FormationForm(form):  # type: ignore[valid-type,misc]  # a base made by get_form at run time
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                # Pieces, forms and questions out of service are not offered; those the formation already has stay
                # listed (chosen), so that saving keeps them or the manager detaches them. In the list's one query.
                for name in ("piece_types", "forms", "questions"):
                    field = self.fields.get(name)
                    if isinstance(field, forms.ModelMultipleChoiceField) and field.queryset is not None:
                        kept = Q(in_service=True)
                        if self.instance.pk is not None:  # a subquery of the same statement
                            kept |= Q(pk__in=getattr(self.instance, name).values("pk"))
                        field.queryset = field.queryset.filter(kept)

            def clean(self):
                data = super().clean()
                # The dates typed now only: one saved earlier (before this check, for next year's campaign not yet
                # created) does not stop the formation's other changes.
                changed = {name: data.get(name) for name in ORDERED_DATE_FIELDS if name in self.changed_data}
                for field, message in _after_campaign_errors(changed).items():
                    self.add_error(field, message)
                if data.get("auto_waiting_list") and not (
                    data.get("waiting_list_decision_type") or data.get("favourable_decision_type")
                ):
                    self.add_error(
                        "waiting_list_decision_type",
                        _("Choose the favourable decision given to the candidates admitted from the list."),
                    )
                if data.get("treatment_type") == TreatmentType.DIRECT and not data.get("favourable_decision_type"):
                    self.add_error(
                        "favourable_decision_type",
                        _("Direct access needs the formation's default favourable decision; set it here."),
                    )
                return data

        return FormationForm


@admin.register(DecisionLetterTemplate)
class DecisionLetterTemplateAdmin(ManagedByCentre, admin.ModelAdmin):
    """Admission and refusal letters per centre, or per formation (issue 12); a centre manager edits their centres'."""

    list_display = ["kind", "centre", "formation", "title", "updated_at"]
    french_columns = ["centre", "formation", "title"]
    list_filter = ["kind", ("centre", VisibleRelatedFilter)]
    list_select_related = ["centre", "formation"]
    fields = ["kind", "centre", "formation", "title", "body", "variables", "signatory", "signature"]
    readonly_fields = ["variables"]

    @admin.display(description=_("Variables"))
    def variables(self, obj=None):
        rows = []
        for letter_type in LETTER_TYPES.values():
            names = ", ".join(f"${{{name}}}" for name in letter_type.names)
            rows.append(gettext("%(label)s: %(variables)s") % {"label": letter_type.label, "variables": names})
        return "\n".join(rows)

    commission_lookup = "formation__commission_id"
    centre_wide = "formation"  # a letter without a formation is the centre's: read by a manager of some commissions

    def save_model(self, request, obj, form, change):
        store_uploaded_files(obj)  # the signature image: a disk failing is the 503 page
        super().save_model(request, obj, form, change)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("centre", "formation")  # the row's name reads both

    # --- the letter's preview ("Testez vos lettres" in eCandidat) ---

    def get_urls(self):
        return [
            path(
                "<path:object_id>/preview/",
                self.admin_site.admin_view(self.letter_preview_view),
                name="offers_decisionlettertemplate_preview",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            context["letter_preview_url"] = reverse(
                "admin:offers_decisionlettertemplate_preview", args=[quote(obj.pk)]
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def letter_preview_view(self, request, object_id):
        """The saved letter drawn as its candidates get it (``offers.letters.render_letter_pdf``), with the letters'
        sample values (``sample_values``) instead of an application's: its layout, signatory, signature and
        variables are checked before any decision is released. Built in memory, never stored. Whoever may read the
        letter; 404 for anyone else (``get_object``: another centre's row is not found)."""
        template = self.get_object(request, unquote(object_id))
        if template is None or not self.has_view_permission(request, template):
            raise Http404
        with storage_errors():  # the signature image: a storage that cannot be reached is the 503 page
            content = render_letter_pdf(template, sample_values(template.kind))
        response = HttpResponse(content, content_type="application/pdf")
        # An ASCII name: the header is never None (``content_disposition_header`` returns None only without a name).
        response["Content-Disposition"] = content_disposition_header(False, f"apercu-lettre-{template.pk}.pdf") or ""
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "no-store"
        return response

    def get_deleted_objects(self, objs, request):
        # A text that letters not built yet still need is protected (offers.letters.deletion_blockers): deleted, those
        # letters could never be had. One page for the delete button and the bulk action.
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, perms_needed, [*protected, *deletion_blockers(list(objs))]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "formation" and not self._unrestricted(request):
            scope = scope_of(request.user)
            kwargs["queryset"] = Formation.objects.filter(
                scope.manages(centre="centre_id", commission="commission_id")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if self._unrestricted(request):
            return form
        managed_centres = self._managed(request)

        class LetterForm(form):  # type: ignore[valid-type,misc]  # a base made by get_form at run time
            def clean(self):
                data = super().clean()
                centre = data.get("centre")
                if centre is not None and not data.get("formation") and centre.pk not in managed_centres:
                    self.add_error(
                        "formation",
                        _("You manage only some commissions of this centre: choose one of their formations."),
                    )
                return data

        return LetterForm
