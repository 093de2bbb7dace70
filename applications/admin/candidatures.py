"""The applications back office (ecandidat-features §2.3–2.7, house-style §12): the ModelAdmin's wiring.

The list and every lookup are scoped by the staff scopes (``Application.objects.visible_to(user)``, through
``ecandidat.admin_base``; outsiders get a 404); workflow fields are read-only. The rest lives by flow: the list's
filters (``filters``), the operations that change an application through ``applications.services`` (``operations``:
a bulk action's confirmation page, or the same page for one application, capped, logged and written to the
history), the export (``exports``), one application's reading page (``review``), saved filters and counters
(``listing``), commission packs (``packs``) and the dashboard (``dashboard``).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import ActionLocation
from django.contrib.admin.views.main import PAGE_VAR
from django.db.models import F
from django.http import Http404, HttpResponseNotAllowed
from django.urls import path
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications.admin import export_columns, on_behalf, release
from applications.admin.dashboard import dashboard_view
from applications.admin.exports import export_urls
from applications.admin.filters import (
    CampaignFilter,
    CancelledFilter,
    CentreFilter,
    ConfirmationFilter,
    DecisionFilter,
    DecisionValidatedFilter,
    FormationFilter,
    PiecesToCheckFilter,
    SvaAlertFilter,
    TransmittedFilter,
    sva_alert_for,
    sva_filter_ignored,
    with_list_data,
)
from applications.admin.listing import ApplicationChangeList, TagFilter, changelist_context, listing_urls
from applications.admin.operations import OPERATIONS, bulk_operation, operation_urls, operations_for
from applications.admin.packs import commission_pack_action, commission_pack_pdf_action, pack_urls, piece_pack_action
from applications.admin.review import review_page
from applications.admin.review_actions import review_urls
from applications.dates import confirmation_date, effective_return_deadline
from applications.models import Application
from applications.models.candidature import answer_label
from applications.models.sva import age_in_days
from ecandidat import parameters
from ecandidat.admin_base import InStaffScope, ReadOnly, StaffReads, bound_view
from ecandidat.staff import scope_of

# --- the list's page size ---------------------------------------------------------------------------------------

# The rows per page the list offers (« Candidatures par page : 50 · 100 · 200 »): up to eCandidat's 200 of a mass
# action (``operations.BULK_LIMIT``), all ticked at once on one page; 50 unless the list's address says otherwise.
PAGE_SIZES = (50, 100, 200)
# Not ``per_page``: Django's ``get_query_string(remove=["p"])`` (the page number) drops every parameter whose name
# starts with it, and the status counters and the saved filters remove the page so (``listing``).
PER_PAGE_VAR = "rows"


def chosen_page_size(request) -> int:
    """The page size of ``request``'s list: its ``rows`` when it is one of ``PAGE_SIZES``, else the first (a
    value typed by hand, or of a size no longer offered: the list as usual, not an error)."""
    value = request.GET.get(PER_PAGE_VAR, "")
    return next((size for size in PAGE_SIZES if str(size) == value), PAGE_SIZES[0])


class ApplicationsPage(ApplicationChangeList):
    """The list with the page size the user chose (``PER_PAGE_VAR`` in its address, not a filter: Django refuses a
    parameter no filter expects with ``?e=1``). Every link of the list keeps it, as they keep the filters: the
    filters, the columns' sort, the pages, the search form, the status counters, the saved filters, the exports and
    the dossiers opened from it (``_changelist_filters``), whose pages read the same list through this class. No
    query more: the rows of a page come in one query (and their tags in one), whatever its size."""

    def get_filters_params(self, params=None):
        lookup_params = super().get_filters_params(params)
        lookup_params.pop(PER_PAGE_VAR, None)
        return lookup_params

    def get_results(self, request):
        self.list_per_page = chosen_page_size(request)
        super().get_results(request)

    def page_sizes(self) -> list[dict]:
        """Each size offered, with the link that shows it from the first page (the list's other parameters kept)."""
        return [
            {
                "size": size,
                "url": self.get_query_string({PER_PAGE_VAR: size}, [PAGE_VAR]),
                "selected": size == self.list_per_page,
            }
            for size in PAGE_SIZES
        ]


# --- the admin --------------------------------------------------------------------------------------------------


@admin.register(Application)
class ApplicationAdmin(ReadOnly, StaffReads, InStaffScope, admin.ModelAdmin):
    # Fits 1,280 px (issue 11): the centre and the other dates are filters and the page's content; the answer and
    # the cancellation are said in the decision's cell. « Transmis le » (a short date) is the one date shown, the day
    # a dossier arrived to check; it still fits with the SVA column (test_list_transmitted_filter_dec7).
    list_display = [
        "candidate_name",
        "numero_dossier",
        "formation_code",
        "dossier_status",
        "pieces_to_check",
        "decision",
        "rank",
        "tags",
        "transmitted_on",
    ]
    list_display_links = ["numero_dossier", "candidate_name"]
    list_select_related = ["candidate__user", "formation__centre"]
    list_filter = [
        CampaignFilter,
        CentreFilter,
        FormationFilter,
        "dossier_status",
        TransmittedFilter,  # beside the status: what arrived today, its pieces « À contrôler »
        DecisionFilter,
        DecisionValidatedFilter,
        PiecesToCheckFilter,
        ConfirmationFilter,
        CancelledFilter,
        TagFilter,
    ]
    search_fields = [  # names case and accents aside (« lefevre » finds LEFÈVRE: ecandidat.lookups)
        "candidate__birth_name__accents_icontains",
        "candidate__usual_name__accents_icontains",
        "candidate__first_name__accents_icontains",
        "=candidate__user__username",
        "candidate__user__email",
        "=candidate__ine",
    ]
    search_help_text = gettext_lazy("Name, dossier number, e-mail or INE.")
    show_full_result_count = False
    list_per_page = PAGE_SIZES[0]  # the user chooses up to 200 (``ApplicationsPage``)
    date_hierarchy = None
    actions = [
        "action_set_status",
        "action_enter_decision",
        "action_validate_decisions",
        "action_extend_deadlines",
        "action_remind_forms",
        "action_change_tags",
        "action_treatment_type",
        "action_regime_fees",
        commission_pack_action,
        commission_pack_pdf_action,
        piece_pack_action,
    ]

    # Permissions: membership rows decide; nobody edits an application's fields directly.
    # Permissions (ecandidat.admin_base): every member of staff reads the applications of their scope; nobody
    # edits an application's fields directly.
    def get_queryset(self, request):
        queryset = super().get_queryset(request)  # visible_to(request.user)
        queryset = with_list_data(
            queryset.select_related("candidate__user", "formation__centre", "campaign", "regime", "fee_exemption")
        )
        # Only the list and what reads it (export, neighbours) ask for the SVA alert: get_changelist_instance.
        if (alert := getattr(request, "sva_alert", None)) is not None:
            queryset = queryset.with_sva_alert(alert)
        return queryset

    def get_changelist_instance(self, request):
        sva_alert_for(request)  # the SVA levels, read once before the list's queryset is built
        return super().get_changelist_instance(request)

    def get_list_display(self, request):
        if getattr(request, "sva_alert", None) is None:
            return self.list_display
        # The SVA column keeps the place it had, the ninth (``?o=9``, which saved filters and bookmarks sorted by it
        # carry); « Transmis le », added since, comes after it.
        *before, transmitted = self.list_display
        return [*before, "sva_alert", transmitted]

    def get_list_filter(self, request):
        # Always there, so that ``sva`` is a known parameter; while alerts are off it shows and applies nothing.
        return [*self.list_filter, SvaAlertFilter]

    def get_actions(self, request, action_location=ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        scope = scope_of(request.user)
        if not (scope.is_central or scope.is_manager):
            for name in (
                "action_set_status",
                "action_validate_decisions",
                "action_extend_deadlines",
                "action_remind_forms",
                "action_change_tags",
                "action_treatment_type",
                "action_regime_fees",
            ):
                actions.pop(name, None)
        if not parameters.get("SIS_REGIME_ENTRY"):
            actions.pop("action_regime_fees", None)
        if not (scope.is_central or scope.is_manager or scope.commissions):
            actions.pop("action_enter_decision", None)
        return actions

    # Columns.
    def action_checkbox(self, obj):
        """The selection box named after its row, « ROUSSEL Léa (PVN6ETTX, M1ENER) », for a screen reader: Django
        names it after ``str(obj)``, an application's « 5 → 3 » (the candidate's and the formation's ids)."""
        row = f"{obj.candidate.staff_name} ({obj.candidate.user.username}, {obj.formation.code})"
        attrs = {"class": "action-select", "aria-label": format_html(_("Select this object for an action - {}"), row)}
        return forms.CheckboxInput(attrs, lambda value: False).render(helpers.ACTION_CHECKBOX_NAME, str(obj.pk))

    @admin.display(description=gettext_lazy("dossier number"), ordering="candidate__user__username")
    def numero_dossier(self, obj):
        return obj.candidate.user.username

    @admin.display(description=gettext_lazy("name"), ordering="candidate__birth_name")
    def candidate_name(self, obj):
        return obj.candidate.staff_name

    @admin.display(description=gettext_lazy("formation"), ordering="formation__code")
    def formation_code(self, obj):
        return obj.formation.code

    @admin.display(description=gettext_lazy("centre"), ordering="formation__centre__label")
    def centre_label(self, obj):
        return obj.formation.centre.label

    @admin.display(description=gettext_lazy("decision"), ordering="current_avis")
    def decision(self, obj):
        """The decision, and what became of it: « Favorable (validé) — Désistée », « … — Confirmée », « Annulée ».
        The list has no room for an answer column at 1,280 px (issue 11), and a withdrawn candidate read as simply
        admitted; the words are the reading page's and the filters' (« Par confirmation », « Par annulation »)."""
        parts: list[str] = []
        if obj.current_avis:
            # The decision type's label is the staff's, in French (RGAA 8.7), as on the dossier page.
            state = _("validated") if obj.current_validated_at else _("to validate")
            parts.append(format_html('<span lang="fr">{}</span> ({})', obj.current_label, state))
        if obj.cancelled_at:
            parts.append(_("Cancelled"))
        elif obj.accepted is not None:
            parts.append(answer_label(obj.accepted))
        # The dash goes to the next line with the answer, never alone at the end of the first; on a phone the lines
        # stay beside the column's name (admin_phone.css, .card-value).
        shown = format_html_join(" —\u00a0", "{}", ((part,) for part in parts)) if parts else "—"
        return format_html('<span class="card-value">{}</span>', shown)

    @admin.display(description=gettext_lazy("pieces to check"), ordering="has_pieces_to_check")
    def pieces_to_check(self, obj):
        return _("To check") if obj.has_pieces_to_check else "—"

    @admin.display(description=gettext_lazy("actual rank"), ordering="waiting_list_rank")
    def rank(self, obj):
        return obj.waiting_list_rank or "—"

    @admin.display(description=gettext_lazy("tags"))
    def tags(self, obj):
        return ", ".join(link.tag.label for link in obj.tag_links.all()) or "—"

    # Not transmitted sorts as the earliest on every database: last when the latest transmissions come first.
    @admin.display(description=gettext_lazy("transmitted on"), ordering=F("transmitted_at").asc(nulls_first=True))
    def transmitted_on(self, obj):
        """The day of the latest transmission (``TransmittedFilter``), the institution's, as a short date."""
        if obj.transmitted_at is None:
            return "—"
        # On one line, as Django's own date cells (their ``nowrap``): the list's cells otherwise wrap anywhere
        # (admin_review.css), and at 1,280 px « 07/12/2026 » broke into « 07/12/20 » and « 26 ».
        return format_html(
            '<span class="nowrap">{}</span>', date_format(timezone.localdate(obj.transmitted_at), "SHORT_DATE_FORMAT")
        )

    # No alert sorts as the lowest level on every database (PostgreSQL would put NULLs first when descending).
    @admin.display(description=gettext_lazy("SVA alert"), ordering=F("sva_threshold").asc(nulls_first=True))
    def sva_alert(self, obj):
        """The age and the level reached, in words; the level's colour only repeats them (RGAA 3.1)."""
        if obj.sva_threshold is None:
            return "—"
        text = _("%(age)s d (threshold of %(threshold)s d reached)") % {
            "age": age_in_days(obj.sva_since, timezone.localdate()),
            "threshold": obj.sva_threshold,
        }
        # An SVG attribute, not a style attribute: the CSP forbids inline styles.
        return format_html(
            '<svg width="12" height="12" aria-hidden="true" focusable="false"><circle cx="6" cy="6" r="6" fill="{}"/>'
            "</svg> {}",
            obj.sva_colour,
            text,
        )

    def get_changelist(self, request, **kwargs):
        return ApplicationsPage

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist_context(request, response)
        if "cl" in (getattr(response, "context_data", None) or {}) and sva_filter_ignored(request):
            # The list itself (not a redirect), shown with this message: a saved or bookmarked "SVA alert" filter
            # while the central office turned the alerts off (SVA_ALERT_DATE = NO).
            self.message_user(
                request,
                _(
                    "SVA alerts are turned off: the “SVA alert” filter does not apply, every application of the "
                    "other filters is listed."
                ),
                messages.WARNING,
            )
        return response

    @admin.display(description=gettext_lazy("effective return deadline"))
    def effective_return_deadline(self, obj):
        return effective_return_deadline(obj)

    @admin.display(description=gettext_lazy("effective confirmation date"))
    def effective_confirmation_date(self, obj):
        return confirmation_date(obj) or "—"

    # Bulk actions: each shows a confirmation page with its form (applications.admin.operations).
    @admin.action(description=gettext_lazy("Set the dossier status…"))
    def action_set_status(self, request, queryset):
        return bulk_operation(self, request, queryset, OPERATIONS["set_status"])

    @admin.action(description=gettext_lazy("Enter a decision…"))
    def action_enter_decision(self, request, queryset):
        return bulk_operation(self, request, queryset, OPERATIONS["enter_decision"])

    @admin.action(description=gettext_lazy("Validate the decisions…"))
    def action_validate_decisions(self, request, queryset):
        return bulk_operation(self, request, queryset, OPERATIONS["validate_decisions"])

    @admin.action(description=gettext_lazy("Extend deadlines…"))
    def action_extend_deadlines(self, request, queryset):
        return bulk_operation(self, request, queryset, OPERATIONS["extend_deadlines"])

    @admin.action(description=gettext_lazy("Tags…"))
    def action_change_tags(self, request, queryset):
        return bulk_operation(self, request, queryset, OPERATIONS["change_tags"])

    @admin.action(description=gettext_lazy("Remind the unanswered forms…"))
    def action_remind_forms(self, request, queryset):
        return bulk_operation(self, request, queryset, OPERATIONS["remind_forms"])

    @admin.action(description=gettext_lazy("Change the processing type…"))
    def action_treatment_type(self, request, queryset):
        return bulk_operation(self, request, queryset, OPERATIONS["treatment_type"])

    @admin.action(description=gettext_lazy("Registration regime and fees…"))
    def action_regime_fees(self, request, queryset):
        return bulk_operation(self, request, queryset, OPERATIONS["regime_fees"])

    # One application's page.
    def get_object(self, request, object_id, from_field=None):
        """Read once per request (change_view asks twice), with the current decisions for the effective dates."""
        cached = getattr(request, "_application_object", None)
        if cached is not None and str(cached[0]) == str(object_id):
            return cached[1]
        obj = super().get_object(request, object_id, from_field)
        request._application_object = (object_id, obj)
        return obj

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The reading page (issue 11). Nobody edits an application's fields: each change has its own page and
        service (operations, review_actions), so the admin's change form is never shown nor posted."""
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404
        operations, can_manage, can_decide = operations_for(obj, request.user)
        return review_page(self, request, obj, operations=operations, can_manage=can_manage, can_decide=can_decide)

    def get_urls(self):
        return [
            *export_columns.export_columns_urls(self),  # issue 12
            *export_urls(self),
            path(
                "dashboard/",
                bound_view(self, dashboard_view),
                name="applications_application_dashboard",
            ),
            *operation_urls(self),
            *review_urls(self),
            *listing_urls(self),
            *pack_urls(self),
            *release.release_urls(self),  # issue 12: letters, background releases
            *on_behalf.on_behalf_urls(self),  # issue 12: account and application for a candidate
            *super().get_urls(),
        ]
