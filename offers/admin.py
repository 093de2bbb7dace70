from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from offers.models import Campaign, Centre, Commission, DiplomaType, Formation, PieceType


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "starts_on", "ends_on", "archive_on", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "label"]


@admin.register(Centre)
class CentreAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "email", "max_wishes", "in_service"]
    list_filter = ["in_service"]
    search_fields = ["code", "label"]


@admin.register(DiplomaType)
class DiplomaTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "order"]
    search_fields = ["code", "label"]
    ordering = ["order", "label"]


@admin.register(Commission)
class CommissionAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "centre", "email", "in_service"]
    list_filter = ["in_service", "centre"]
    list_select_related = ["centre"]
    search_fields = ["code", "label"]


@admin.register(PieceType)
class PieceTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "short_label", "centre", "is_common", "is_unique", "is_conditional", "order", "in_service"]
    list_filter = ["is_common", "is_conditional", "in_service", "centre"]
    list_select_related = ["centre"]
    search_fields = ["code", "label"]

    @admin.display(description=PieceType._meta.get_field("label").verbose_name)
    def short_label(self, obj):
        return str(obj)


@admin.register(Formation)
class FormationAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "centre", "diploma_type", "opens_on", "closes_on", "mode", "in_service"]
    list_filter = ["in_service", "mode", "centre", "diploma_type"]
    list_select_related = ["centre", "diploma_type"]
    search_fields = ["code", "title", "keywords"]
    autocomplete_fields = ["centre", "commission", "diploma_type"]
    filter_horizontal = ["piece_types"]
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["code", "title", "keywords", "url", "in_service"]}),
        (
            _("Organisation"),
            {"fields": ["centre", "commission", "diploma_type", "mode"]},
        ),
        (
            _("Calendar"),
            {"fields": ["opens_on", "closes_on", "return_deadline", "confirmation_date", "confirmation_delay_days"]},
        ),
        (None, {"fields": ["registration_instructions", "piece_types"]}),
    ]
