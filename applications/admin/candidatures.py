"""The applications back office (ecandidat-features §2.3–2.7, house-style §12).

The list and every lookup are scoped by the staff scopes (``Application.objects.visible_to(user)``,
``editable_by``…; outsiders get a 404); workflow fields are read-only; every change goes through
``applications.services.staff`` from an operation page (a bulk action's confirmation page, or the same page for one
application), capped, logged and written to the history.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import ActionLocation
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, ngettext_lazy

from applications.admin.dashboard import dashboard
from applications.admin.forms import ConfirmForm, DeadlinesForm, DecisionForm, StatusForm
from applications.admin.listing import (
    ApplicationChangeList,
    TagFilter,
    changelist_context,
    export_review_columns,
    listing_urls,
    with_export_data,
)
from applications.admin.packs import commission_pack_action, pack_urls
from applications.admin.review import change_url as review_change_url
from applications.admin.review import review_page, review_urls
from applications.complementary_forms import remind_unanswered_forms
from applications.dates import confirmation_date, effective_return_deadline
from applications.enums import PieceStatus
from applications.models import Application, ApplicationEvent, Decision, PieceSubmission
from applications.models.candidature import latest_decision
from applications.pieces import piece_rows
from applications.services import review as review_services
from applications.services import staff
from applications.services.pieces import set_piece_status
from documents.enums import OPENABLE_SCANS
from ecandidat import exports
from ecandidat.exceptions import BusinessRuleError, InvalidTransition
from ecandidat.staff import scope_of
from offers.enums import Avis
from offers.models import Centre, Formation

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

logger = logging.getLogger(__name__)

BULK_LIMIT = 500
EXPORT_LIMIT = 20_000


# --- operations -------------------------------------------------------------------------------------------------


def _validate_current(application, form, actor):
    decision = application.decisions.current()
    if decision is None:
        raise InvalidTransition(_("This application has no decision to validate."))
    staff.validate_decision(decision, actor=actor)


@dataclass(frozen=True)
class Operation:
    name: str
    label: "StrOrPromise"
    form_class: type
    scope: str  # an ApplicationQuerySet scope: "editable_by", "decidable_by" or "validatable_by"
    run: Callable  # (application, form, actor) -> None
    bulk: bool = True
    done_message: object = None  # a lazy ngettext on "count", instead of "%(label)s: N applications done."


OPERATIONS = {
    operation.name: operation
    for operation in (
        Operation(
            "set_status",
            gettext_lazy("Set the dossier status"),
            StatusForm,
            "editable_by",
            lambda application, form, actor: review_services.set_dossier_status_checked(
                application,
                target=form.cleaned_data["target"],
                actor=actor,
                comment=form.cleaned_data["comment"],
                force_reason=form.cleaned_data["force_reason"] if form.cleaned_data["force_complete"] else "",
            ),
        ),
        Operation(
            "enter_decision",
            gettext_lazy("Enter a decision"),
            DecisionForm,
            "decidable_by",
            lambda application, form, actor: staff.record_decision(application, actor=actor, **form.service_kwargs()),
        ),
        Operation(
            "validate_decisions",
            gettext_lazy("Validate the decisions"),
            ConfirmForm,
            "validatable_by",
            _validate_current,
        ),
        Operation(
            "extend_deadlines",
            gettext_lazy("Extend deadlines"),
            DeadlinesForm,
            "editable_by",
            lambda application, form, actor: staff.extend_deadlines(application, actor=actor, **form.cleaned_data),
        ),
        Operation(
            "delete_last_decision",
            gettext_lazy("Delete the last decision (not validated)"),
            ConfirmForm,
            "decidable_by",
            lambda application, form, actor: staff.delete_last_decision(application, actor=actor),
            bulk=False,
        ),
        # "Relancer le candidat" (mail CANDIDATURE_RELANCE_FORMULAIRE), one application or a selection.
        Operation(
            "remind_forms",
            gettext_lazy("Remind the unanswered forms"),
            ConfirmForm,
            "editable_by",
            lambda application, form, actor: remind_unanswered_forms(application=application, actor=actor),
            done_message=ngettext_lazy(
                "Remind the unanswered forms: %(count)d mail enqueued.",
                "Remind the unanswered forms: %(count)d mails enqueued.",
                "count",
            ),
        ),
    )
}


def run_operation(request, operation: Operation, applications, form) -> tuple[int, list[str]]:
    """Run one operation on each application, each in its own savepoint: one refusal does not undo the others."""
    done, failures = 0, []
    for application in applications:
        try:
            with transaction.atomic():
                operation.run(application, form, request.user)
        except BusinessRuleError as error:
            failures.append(f"{application.candidate.user.username} – {application.formation.code}: {error}")
        else:
            done += 1
    logger.info(
        "back office %s by %s: %s done, %s refused", operation.name, request.user.username, done, len(failures)
    )
    return done, failures


def report(request, operation, done, failures):
    if done and operation.done_message is not None:
        messages.success(request, operation.done_message % {"count": done})
    elif done:
        messages.success(
            request,
            ngettext("%(label)s: %(count)d application done.", "%(label)s: %(count)d applications done.", done)
            % {"label": operation.label, "count": done},
        )
    for failure in failures[:20]:
        messages.error(request, failure)
    if len(failures) > 20:
        messages.error(request, _("… and %(count)d more refusals.") % {"count": len(failures) - 20})


# --- list annotations and filters -------------------------------------------------------------------------------


def with_list_data(queryset):
    """The current decision (any, validated or not), the read model's validated one (``with_current_decision``,
    for the confirmation date) and whether a submitted piece waits for checking."""
    pieces_to_check = PieceSubmission.objects.filter(
        Q(application=OuterRef("pk")) | Q(application__isnull=True, candidate_id=OuterRef("candidate_id")),
        status=PieceStatus.SUBMITTED,
    )
    return queryset.with_current_decision().annotate(
        current_avis=latest_decision("decision_type__avis"),
        current_label=latest_decision("decision_type__label"),
        current_validated_at=latest_decision("validated_at"),
        has_pieces_to_check=Exists(pieces_to_check),
    )


class CentreFilter(admin.SimpleListFilter):
    title = gettext_lazy("centre")
    parameter_name = "centre"

    def lookups(self, request, model_admin):
        centres = Centre.objects.visible_to(request.user)
        return [(str(pk), label) for pk, label in centres.values_list("pk", "label")]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(formation__centre_id=int(value))
        return queryset


class FormationFilter(admin.SimpleListFilter):
    title = gettext_lazy("formation")
    parameter_name = "formation"

    def lookups(self, request, model_admin):
        formations = Formation.objects.visible_to(request.user)
        centre = request.GET.get("centre", "")
        if centre.isdigit():
            formations = formations.filter(centre_id=int(centre))
        return [(str(pk), f"{code} – {title}") for pk, code, title in formations.values_list("pk", "code", "title")]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(formation_id=int(value))
        return queryset


class DecisionFilter(admin.SimpleListFilter):
    title = gettext_lazy("decision")
    parameter_name = "decision"

    def lookups(self, request, model_admin):
        return [("none", _("No decision")), *Avis.choices]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(current_avis__isnull=True)
        if self.value() in Avis.values:
            return queryset.filter(current_avis=self.value())
        return queryset


class DecisionValidatedFilter(admin.SimpleListFilter):
    title = gettext_lazy("decision validated")
    parameter_name = "validated"

    def lookups(self, request, model_admin):
        return [("yes", _("Validated decision")), ("no", _("Decision to validate"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(current_validated_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(current_avis__isnull=False, current_validated_at__isnull=True)
        return queryset


class PiecesToCheckFilter(admin.SimpleListFilter):
    title = gettext_lazy("pieces to check")
    parameter_name = "to_check"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(has_pieces_to_check=self.value() == "yes")
        return queryset


class ConfirmationFilter(admin.SimpleListFilter):
    title = gettext_lazy("confirmation")
    parameter_name = "answer"

    def lookups(self, request, model_admin):
        return [("confirmed", _("Confirmed")), ("withdrawn", _("Withdrawn")), ("none", _("No answer"))]

    def queryset(self, request, queryset):
        match self.value():
            case "confirmed":
                return queryset.filter(accepted=True)
            case "withdrawn":
                return queryset.filter(accepted=False)
            case "none":
                return queryset.filter(accepted__isnull=True)
        return queryset


class CancelledFilter(admin.SimpleListFilter):
    title = gettext_lazy("cancelled")
    parameter_name = "cancelled"

    def lookups(self, request, model_admin):
        return [("no", _("Active")), ("yes", _("Cancelled"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(cancelled_at__isnull=self.value() == "no")
        return queryset


# --- inlines ----------------------------------------------------------------------------------------------------


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request, obj=None):
        return scope_of(request.user).is_staff_member

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ApplicationEventInline(ReadOnlyInline):
    model = ApplicationEvent
    verbose_name_plural = gettext_lazy("history")
    fields = ("created_at", "kind", "from_status", "to_status", "actor", "batch", "comment")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class DecisionInline(ReadOnlyInline):
    model = Decision
    fields = (
        "created_at",
        "decision_type",
        "refusal_reason",
        "rank",
        "preselection_at",
        "preselection_place",
        "comment",
        "action",
        "created_by",
        "validated_at",
        "validated_by",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("decision_type", "refusal_reason", "created_by", "validated_by")
        )


# --- the admin --------------------------------------------------------------------------------------------------


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    # Fits 1,280 px (issue 11): the centre, the answer and the dates are filters and the page's content.
    list_display = [
        "candidate_name",
        "numero_dossier",
        "formation_code",
        "dossier_status",
        "pieces_to_check",
        "decision",
        "rank",
        "tags",
    ]
    list_display_links = ["numero_dossier", "candidate_name"]
    list_select_related = ["candidate__user", "formation__centre"]
    list_filter = [
        "campaign",
        CentreFilter,
        FormationFilter,
        "dossier_status",
        DecisionFilter,
        DecisionValidatedFilter,
        PiecesToCheckFilter,
        ConfirmationFilter,
        CancelledFilter,
        TagFilter,
    ]
    search_fields = [
        "candidate__birth_name",
        "candidate__usual_name",
        "candidate__first_name",
        "=candidate__user__username",
        "candidate__user__email",
        "=candidate__ine",
    ]
    search_help_text = gettext_lazy("Name, numéro de dossier, e-mail or INE.")
    show_full_result_count = False
    list_per_page = 50
    date_hierarchy = None
    actions = [
        "action_set_status",
        "action_enter_decision",
        "action_validate_decisions",
        "action_extend_deadlines",
        "action_remind_forms",
        commission_pack_action,
    ]
    inlines = [DecisionInline, ApplicationEventInline]
    fieldsets = [
        (
            gettext_lazy("Candidate"),
            {"fields": ["numero_dossier", "candidate_name", "candidate_email", "candidate_ine", "candidate_birth"]},
        ),
        (
            gettext_lazy("Application"),
            {"fields": ["formation", "campaign", "created_at", "cancelled_at"]},
        ),
        (
            gettext_lazy("Dossier"),
            {
                "fields": [
                    "dossier_status",
                    "transmitted_at",
                    "received_on",
                    "complete_on",
                    "incomplete_on",
                    "effective_return_deadline",
                ]
            },
        ),
        (
            gettext_lazy("Decision and answer"),
            {"fields": ["waiting_list_rank", "effective_confirmation_date", "accepted", "answered_at"]},
        ),
    ]
    readonly_fields = [
        "numero_dossier",
        "candidate_name",
        "candidate_email",
        "candidate_ine",
        "candidate_birth",
        "formation",
        "campaign",
        "created_at",
        "cancelled_at",
        "dossier_status",
        "transmitted_at",
        "received_on",
        "complete_on",
        "incomplete_on",
        "effective_return_deadline",
        "waiting_list_rank",
        "effective_confirmation_date",
        "accepted",
        "answered_at",
    ]

    # Permissions: membership rows decide; nobody edits an application's fields directly.
    def has_module_permission(self, request):
        return scope_of(request.user).is_staff_member

    def has_view_permission(self, request, obj=None):
        return scope_of(request.user).is_staff_member

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        queryset: Any = super().get_queryset(request)
        queryset = queryset.visible_to(request.user)
        return with_list_data(queryset.select_related("candidate__user", "formation__centre", "campaign"))

    def get_actions(self, request, action_location=ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        scope = scope_of(request.user)
        if not (scope.is_central or scope.managed_centres):
            for name in (
                "action_set_status",
                "action_validate_decisions",
                "action_extend_deadlines",
                "action_remind_forms",
            ):
                actions.pop(name, None)
        if not (scope.is_central or scope.managed_centres or scope.commissions):
            actions.pop("action_enter_decision", None)
        return actions

    # Columns.
    @admin.display(description=gettext_lazy("numéro de dossier"), ordering="candidate__user__username")
    def numero_dossier(self, obj):
        return obj.candidate.user.username

    @admin.display(description=gettext_lazy("name"), ordering="candidate__birth_name")
    def candidate_name(self, obj):
        candidate = obj.candidate
        return f"{(candidate.usual_name or candidate.birth_name).upper()} {candidate.first_name}"

    @admin.display(description=gettext_lazy("e-mail"))
    def candidate_email(self, obj):
        return obj.candidate.user.email

    @admin.display(description=gettext_lazy("INE"))
    def candidate_ine(self, obj):
        return obj.candidate.ine

    @admin.display(description=gettext_lazy("date of birth"))
    def candidate_birth(self, obj):
        return obj.candidate.birth_date

    @admin.display(description=gettext_lazy("formation"), ordering="formation__code")
    def formation_code(self, obj):
        return obj.formation.code

    @admin.display(description=gettext_lazy("centre"), ordering="formation__centre__label")
    def centre_label(self, obj):
        return obj.formation.centre.label

    @admin.display(description=gettext_lazy("decision"), ordering="current_avis")
    def decision(self, obj):
        if not obj.current_avis:
            return "—"
        state = _("validated") if obj.current_validated_at else _("to validate")
        return f"{obj.current_label} ({state})"

    @admin.display(description=gettext_lazy("answer"), ordering="accepted")
    def answer(self, obj):
        if obj.accepted is None:
            return "—"
        return _("Confirmed") if obj.accepted else _("Withdrawn")

    @admin.display(description=gettext_lazy("pieces to check"), ordering="has_pieces_to_check")
    def pieces_to_check(self, obj):
        return _("To check") if obj.has_pieces_to_check else "—"

    @admin.display(description=gettext_lazy("rank"), ordering="waiting_list_rank")
    def rank(self, obj):
        return obj.waiting_list_rank or "—"

    @admin.display(description=gettext_lazy("tags"))
    def tags(self, obj):
        return ", ".join(link.tag.label for link in obj.tag_links.all()) or "—"

    def get_changelist(self, request, **kwargs):
        return ApplicationChangeList

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist_context(request, response)
        return response

    @admin.display(description=gettext_lazy("effective return deadline"))
    def effective_return_deadline(self, obj):
        return effective_return_deadline(obj)

    @admin.display(description=gettext_lazy("effective confirmation date"))
    def effective_confirmation_date(self, obj):
        return confirmation_date(obj) or "—"

    # Bulk actions: each shows a confirmation page with its form.
    @admin.action(description=gettext_lazy("Set the dossier status…"))
    def action_set_status(self, request, queryset):
        return self.bulk_operation(request, queryset, OPERATIONS["set_status"])

    @admin.action(description=gettext_lazy("Enter a decision…"))
    def action_enter_decision(self, request, queryset):
        return self.bulk_operation(request, queryset, OPERATIONS["enter_decision"])

    @admin.action(description=gettext_lazy("Validate the decisions…"))
    def action_validate_decisions(self, request, queryset):
        return self.bulk_operation(request, queryset, OPERATIONS["validate_decisions"])

    @admin.action(description=gettext_lazy("Extend deadlines…"))
    def action_extend_deadlines(self, request, queryset):
        return self.bulk_operation(request, queryset, OPERATIONS["extend_deadlines"])

    @admin.action(description=gettext_lazy("Remind the unanswered forms…"))
    def action_remind_forms(self, request, queryset):
        return self.bulk_operation(request, queryset, OPERATIONS["remind_forms"])

    def bulk_operation(self, request, queryset, operation):
        selected = list(queryset.values_list("pk", flat=True)[: BULK_LIMIT + 1])
        if len(selected) > BULK_LIMIT:
            self.message_user(
                request,
                _("At most %(limit)d applications at once; narrow your selection.") % {"limit": BULK_LIMIT},
                messages.ERROR,
            )
            return None
        allowed = getattr(Application.objects.filter(pk__in=selected), operation.scope)(request.user)
        applications = list(allowed.select_related("candidate__user", "formation").order_by("pk"))
        if len(applications) != len(selected):
            raise PermissionDenied
        form = operation.form_class(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            done, failures = run_operation(request, operation, applications, form)
            report(request, operation, done, failures)
            return None
        return self.operation_page(request, operation, form, applications, bulk=True)

    def operation_page(self, request, operation, form, applications, *, bulk):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": operation.label,
            "operation": operation,
            "form": form,
            "applications": applications,
            "bulk": bulk,
            "action_name": f"action_{operation.name}",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "select_across": request.POST.get("select_across", "0"),
            "limit": BULK_LIMIT,
        }
        return TemplateResponse(request, "admin/applications/application/operation.html", context)

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
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404
        user = request.user
        single = Application.objects.filter(pk=obj.pk)
        can_manage = single.editable_by(user).exists()
        can_decide = single.decidable_by(user).exists()
        operations = [
            (operation, reverse("admin:applications_application_operation", args=[obj.pk, operation.name]))
            for operation in OPERATIONS.values()
            if (can_manage or (can_decide and operation.scope == "decidable_by"))
        ]
        if request.method == "GET":
            return review_page(self, request, obj, operations=operations, can_manage=can_manage, can_decide=can_decide)
        extra_context = {
            **(extra_context or {}),
            "operations": operations,
            "piece_rows": self.piece_rows(obj),
            "can_change_pieces": can_manage,
            "piece_statuses": [(PieceStatus.VALIDATED, _("Validate")), (PieceStatus.REFUSED, _("Refuse"))],
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def piece_rows(self, application):
        rows = []
        for row in piece_rows(application):
            submission = row.submission
            download = ""
            if (
                submission is not None
                and submission.document is not None
                and submission.document.scan_status in OPENABLE_SCANS
            ):
                try:
                    download = reverse("pieces:staff_download", args=[submission.public_id])
                except NoReverseMatch:
                    download = ""
            rows.append({"row": row, "status_label": PieceStatus(row.status).label, "download_url": download})
        return rows

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("export/<str:fmt>/", wrap(self.export_view), name="applications_application_export"),
            path("dashboard/", wrap(self.dashboard_view), name="applications_application_dashboard"),
            path(
                "<int:object_id>/operation/<str:name>/",
                wrap(self.operation_view),
                name="applications_application_operation",
            ),
            path(
                "<int:object_id>/piece/<uuid:piece_id>/",
                wrap(self.piece_view),
                name="applications_application_piece",
            ),
            *review_urls(self),
            *listing_urls(self),
            *pack_urls(self),
            *super().get_urls(),
        ]

    def _scoped_object(self, request, object_id, scope: str):
        """404 when the user cannot see the application, 403 when they see it but may not do this."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        application = get_object_or_404(
            Application.objects.visible_to(request.user).select_related("candidate__user", "formation"),
            pk=object_id,
        )
        if not getattr(Application.objects.filter(pk=application.pk), scope)(request.user).exists():
            raise PermissionDenied
        return application

    def operation_view(self, request, object_id, name):
        operation = OPERATIONS.get(name)
        if operation is None:
            raise Http404
        application = self._scoped_object(request, object_id, operation.scope)
        # Back to the dossier, still inside the list it was opened from ("Suivant" / "Précédent").
        change_url = review_change_url(application.pk, request.GET.get("_changelist_filters", ""))
        form = operation.form_class(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            done, failures = run_operation(request, operation, [application], form)
            report(request, operation, done, failures)
            return HttpResponseRedirect(change_url)
        return self.operation_page(request, operation, form, [application], bulk=False)

    def piece_view(self, request, object_id, piece_id):
        if request.method != "POST":
            return HttpResponse(status=405, headers={"Allow": "POST"})
        application = self._scoped_object(request, object_id, "editable_by")
        submission = get_object_or_404(
            PieceSubmission.objects.select_related("piece_type").filter(
                Q(application=application) | Q(application__isnull=True, candidate_id=application.candidate_id)
            ),
            public_id=piece_id,
        )
        change_url = reverse("admin:applications_application_change", args=[application.pk]) + "#pieces"
        status = request.POST.get("status", "")
        comment = request.POST.get("comment", "").strip()[:500]
        if status not in (PieceStatus.VALIDATED, PieceStatus.REFUSED, PieceStatus.SUBMITTED, PieceStatus.WAITING):
            messages.error(request, _("Choose “Validate” or “Refuse”."))
            return HttpResponseRedirect(change_url)
        if status == PieceStatus.REFUSED and not comment:
            messages.error(
                request,
                _("%(piece)s: give a comment to refuse a piece; the candidate reads it.")
                % {"piece": submission.piece_type.label[:80]},
            )
            return HttpResponseRedirect(change_url)

        try:
            with transaction.atomic():
                set_piece_status(submission=submission, status=status, comment=comment, actor=request.user)
        except BusinessRuleError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                _("%(piece)s: %(status)s.")
                % {"piece": submission.piece_type.label[:80], "status": PieceStatus(status).label},
            )
        return HttpResponseRedirect(change_url)

    # Export of the filtered list.
    EXPORT_HEADERS = [
        gettext_lazy("numéro de dossier"),
        gettext_lazy("birth name"),
        gettext_lazy("usual name"),
        gettext_lazy("first name"),
        gettext_lazy("e-mail"),
        gettext_lazy("INE"),
        gettext_lazy("centre"),
        gettext_lazy("formation code"),
        gettext_lazy("formation"),
        gettext_lazy("dossier status"),
        gettext_lazy("transmitted at"),
        gettext_lazy("decision"),
        gettext_lazy("decision validated"),
        gettext_lazy("rank"),
        gettext_lazy("answer"),
        gettext_lazy("cancelled at"),
        gettext_lazy("created at"),
        gettext_lazy("tags"),
        gettext_lazy("internal notes"),
    ]

    def export_rows(self, queryset):
        for obj in queryset.iterator(chunk_size=2000):
            candidate = obj.candidate
            yield [
                candidate.user.username,
                candidate.birth_name,
                candidate.usual_name,
                candidate.first_name,
                candidate.user.email,
                candidate.ine,
                obj.formation.centre.label,
                obj.formation.code,
                obj.formation.title,
                obj.get_dossier_status_display(),
                timezone.localtime(obj.transmitted_at) if obj.transmitted_at else None,
                obj.current_label or "",
                _("Yes") if obj.current_validated_at else ("" if not obj.current_avis else _("No")),
                obj.waiting_list_rank,
                self.answer(obj) if obj.accepted is not None else "",
                timezone.localtime(obj.cancelled_at) if obj.cancelled_at else None,
                timezone.localtime(obj.created_at),
                *export_review_columns(obj),
            ]

    def export_view(self, request, fmt):
        if fmt not in ("xlsx", "csv"):
            raise Http404
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        queryset = with_export_data(changelist.get_queryset(request))
        count = queryset.count()
        if count > EXPORT_LIMIT:
            self.message_user(
                request,
                _("%(count)d applications: at most %(limit)d can be exported; add filters.")
                % {"count": count, "limit": EXPORT_LIMIT},
                messages.ERROR,
            )
            return HttpResponseRedirect(reverse("admin:applications_application_changelist"))
        headers = [str(header) for header in self.EXPORT_HEADERS]
        rows = self.export_rows(queryset)
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        if fmt == "xlsx":
            content, content_type = exports.to_xlsx(headers, rows, title=_("Applications")), exports.XLSX_CONTENT_TYPE
        else:
            content, content_type = exports.to_csv(headers, rows), exports.CSV_CONTENT_TYPE
        logger.info("export of %s applications (%s) by %s", count, fmt, request.user.username)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="candidatures-{stamp}.{fmt}"'
        return response

    def dashboard_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return dashboard(request, self)
