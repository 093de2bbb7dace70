from django.contrib import admin

from applications.admin.erasure import erasure_urls
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
from ecandidat.admin_base import NotFoundOutsideScope
from ecandidat.staff import is_central, scope_of


class StaffAlsoReads:
    """Every member of staff reads the dossiers of the applications they see (issue 11: no 403 on what they must
    read); changing them still needs the Django permissions (central office)."""

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or scope_of(request.user).is_staff_member  # type: ignore[misc]


class AddressInline(StaffAlsoReads, admin.StackedInline):
    model = Address
    extra = 0


class BaccalaureateInline(StaffAlsoReads, admin.StackedInline):
    model = Baccalaureate
    extra = 0


class InternalCursusInline(StaffAlsoReads, admin.TabularInline):
    model = InternalCursus
    extra = 0
    readonly_fields = ["academic_year", "code", "label", "result", "mention"]
    can_delete = False


class ExternalCursusInline(StaffAlsoReads, admin.TabularInline):
    model = ExternalCursus
    extra = 0


class InternshipInline(StaffAlsoReads, admin.TabularInline):
    model = Internship
    extra = 0


class WorkExperienceInline(StaffAlsoReads, admin.TabularInline):
    model = WorkExperience
    extra = 0


@admin.register(Candidate)
class CandidateAdmin(StaffAlsoReads, NotFoundOutsideScope, admin.ModelAdmin):
    """Staff edit the dossier here, including after the candidate's lock (ecandidat-features §1.3)."""

    list_display = ["user", "birth_name", "first_name", "birth_date", "ine", "sis_locked"]
    list_select_related = ["user"]
    search_fields = ["birth_name", "usual_name", "first_name", "ine", "user__username", "user__email"]
    raw_id_fields = ["user"]
    readonly_fields = ["sis_imported_at", "created_at", "updated_at"]
    show_full_result_count = False
    inlines = [
        AddressInline,
        BaccalaureateInline,
        InternalCursusInline,
        ExternalCursusInline,
        InternshipInline,
        WorkExperienceInline,
    ]

    def has_module_permission(self, request):
        return super().has_module_permission(request) or scope_of(request.user).is_staff_member

    def get_queryset(self, request):
        """Central office: every candidate; other staff: the candidates of the applications they see."""
        queryset = super().get_queryset(request)
        if is_central(request.user):
            return queryset
        return queryset.filter(pk__in=Application.objects.visible_to(request.user).values("candidate_id"))

    def get_urls(self):
        return [*erasure_urls(self), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "may_delete_accounts": is_central(request.user)}
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "may_delete_accounts": is_central(request.user)}
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(SisRecord)
class SisRecordAdmin(admin.ModelAdmin):
    list_display = ["student_number", "ine", "imported_at"]
    search_fields = ["student_number", "ine"]
    readonly_fields = ["student_number", "ine", "data", "imported_at"]
    show_full_result_count = False
