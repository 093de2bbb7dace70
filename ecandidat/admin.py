from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ecandidat.maintenance import set_switch
from ecandidat.models import BatchRun, DestroyedCampaignCount, MaintenanceSwitch, OutboundEmail

admin.site.site_header = _("eCandidat — back office")
admin.site.site_title = _("eCandidat back office")
admin.site.index_title = _("Management")


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    list_display = ["created_at", "code", "to", "subject", "status", "attempts", "sent_at"]
    list_filter = ["status", "code"]
    search_fields = ["to", "subject"]
    readonly_fields = [f.name for f in OutboundEmail._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(BatchRun)
class BatchRunAdmin(admin.ModelAdmin):
    """The history of the nightly batches (eCandidat "Historique des batchs"), read-only."""

    list_display = ["name", "started_at", "finished_at", "status", "dry_run", "counts"]
    list_filter = ["status", "name", "dry_run"]
    readonly_fields = [f.name for f in BatchRun._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MaintenanceSwitch)
class MaintenanceSwitchAdmin(admin.ModelAdmin):
    """Put the candidate side in maintenance by hand (besides the daily window); staff keep access."""

    list_display = ["__str__", "message", "updated_at"]
    fields = ["is_on", "message"]

    def has_add_permission(self, request):
        return not MaintenanceSwitch.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Through the service, so that the cached state every page reads changes at once.
        set_switch(is_on=obj.is_on, message=obj.message, actor=request.user)


@admin.register(DestroyedCampaignCount)
class DestroyedCampaignCountAdmin(admin.ModelAdmin):
    """What remains of the campaigns destroyed by the nightly batch: anonymous counts, read-only."""

    list_display = ["campaign_code", "accounts", "applications", "documents", "destroyed_at"]
    readonly_fields = [f.name for f in DestroyedCampaignCount._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
