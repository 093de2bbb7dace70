"""The student records system's reference lists in the back office, read-only: they are the SIS's, refreshed every
night by ``refresh_reference_data`` (a change here would be overwritten). The central office reads them, e.g. to see
which countries found no ISO code."""

from django.contrib import admin

from applications.models import (
    ReferenceBacSeries,
    ReferenceBacSpeciality,
    ReferenceCommune,
    ReferenceCountry,
    ReferenceFeeExemption,
    ReferenceOtherDiploma,
    ReferenceRegime,
    ReferenceSchool,
)
from applications.models.reference import forget_reference_lists
from ecandidat.admin_base import CentralOfficeOnly, ReadOnly


class ReferenceListAdmin(ReadOnly, CentralOfficeOnly, admin.ModelAdmin):
    list_filter = ["visible"]
    search_fields = ["code", "label"]
    show_full_result_count = False


@admin.register(ReferenceCountry)
class ReferenceCountryAdmin(ReferenceListAdmin):
    list_display = ["code", "label", "iso_code", "nationality_label", "visible", "refreshed_at"]


@admin.register(ReferenceCommune)
class ReferenceCommuneAdmin(ReferenceListAdmin):
    list_display = ["code", "label", "insee_code", "postal_code", "visible", "refreshed_at"]
    search_fields = ["code", "label", "postal_code", "insee_code"]


@admin.register(ReferenceSchool)
class ReferenceSchoolAdmin(ReferenceListAdmin):
    list_display = ["code", "label", "department", "commune_insee_code", "school_type", "visible", "refreshed_at"]


@admin.register(ReferenceBacSeries)
class ReferenceBacSeriesAdmin(ReferenceListAdmin):
    list_display = ["code", "label", "first_year", "last_year", "visible", "refreshed_at"]


@admin.register(ReferenceBacSpeciality)
class ReferenceBacSpecialityAdmin(ReferenceListAdmin):
    list_display = ["code", "label", "first_year", "last_year", "visible", "refreshed_at"]


class LocalReferenceListAdmin(CentralOfficeOnly, admin.ModelAdmin):
    """A list no SIS sends (Pégase has none, Apogée's is not read): seeded by its migration, kept by the central
    office. A code out of use is hidden ("in use" unticked), never deleted: dossiers and OPI files carry it."""

    list_display = ["code", "label", "visible"]
    list_filter = ["visible"]
    search_fields = ["code", "label"]
    fields = ["code", "label", "visible"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return ["code"] if obj is not None else []  # dossiers, applications and OPI files carry the code

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        forget_reference_lists()  # this process offers the change at once; the others within MEMO_SECONDS


@admin.register(ReferenceOtherDiploma)
class ReferenceOtherDiplomaAdmin(LocalReferenceListAdmin):
    """With the English label a candidate reading English sees (empty: the French one)."""

    list_display = ["code", "label", "label_en", "visible"]
    search_fields = ["code", "label", "label_en"]
    fields = ["code", "label", "label_en", "visible"]


@admin.register(ReferenceRegime)
class ReferenceRegimeAdmin(LocalReferenceListAdmin):
    pass


@admin.register(ReferenceFeeExemption)
class ReferenceFeeExemptionAdmin(LocalReferenceListAdmin):
    pass
