from django.contrib import admin

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
from ecandidat.staff import scope_of


class AddressInline(admin.StackedInline):
    model = Address
    extra = 0


class BaccalaureateInline(admin.StackedInline):
    model = Baccalaureate
    extra = 0


class InternalCursusInline(admin.TabularInline):
    model = InternalCursus
    extra = 0
    readonly_fields = ["academic_year", "code", "label", "result", "mention"]
    can_delete = False


class ExternalCursusInline(admin.TabularInline):
    model = ExternalCursus
    extra = 0


class InternshipInline(admin.TabularInline):
    model = Internship
    extra = 0


class WorkExperienceInline(admin.TabularInline):
    model = WorkExperience
    extra = 0


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin):
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

    def get_queryset(self, request):
        """Central office: every candidate; other staff: the candidates of the applications they see."""
        queryset = super().get_queryset(request)
        if scope_of(request.user).is_central:
            return queryset
        return queryset.filter(pk__in=Application.objects.visible_to(request.user).values("candidate_id"))


@admin.register(SisRecord)
class SisRecordAdmin(admin.ModelAdmin):
    list_display = ["student_number", "ine", "imported_at"]
    search_fields = ["student_number", "ine"]
    readonly_fields = ["student_number", "ine", "data", "imported_at"]
    show_full_result_count = False
