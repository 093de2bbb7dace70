from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ecandidat.models import OutboundEmail

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
