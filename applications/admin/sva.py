"""SVA alert levels in the back office (eCandidat ``AlertSva``): the central office defines them (days and a colour of
the fixed palette); everyone else is refused. The list says which reference date the site counts from
(``SVA_ALERT_DATE``, a setting, not data)."""

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications.enums import SvaColour, SvaReferenceDate
from applications.models import SvaAlertLevel
from ecandidat import parameters
from ecandidat.admin_base import CentralOfficeOnly


@admin.register(SvaAlertLevel)
class SvaAlertLevelAdmin(CentralOfficeOnly, admin.ModelAdmin):
    list_display = ["days", "swatch"]
    show_full_result_count = False
    fields = ["days", "colour"]

    @admin.display(description=gettext_lazy("colour"), ordering="colour")
    def swatch(self, obj):
        # An SVG attribute, not a style attribute: the CSP forbids inline styles; the name says the colour.
        return format_html(
            '<svg width="14" height="14" aria-hidden="true" focusable="false"><circle cx="7" cy="7" r="7" fill="{}"/>'
            "</svg> {}",
            obj.colour,
            SvaColour(obj.colour).label,
        )

    def changelist_view(self, request, extra_context=None):
        reference = SvaReferenceDate(parameters.get("SVA_ALERT_DATE"))
        if reference == SvaReferenceDate.NONE:
            subtitle = _("SVA alerts are off: the central office turns them on in %(page)s (“%(label)s”).") % {
                "page": _("Parameters"),
                "label": parameters.REGISTRY["SVA_ALERT_DATE"].label,
            }
        elif parameters.get("SVA_ALERT_FINAL_ONLY"):
            subtitle = _("Counted from: %(reference)s; only a validated final decision ends an alert.") % {
                "reference": reference.label
            }
        else:
            subtitle = _("Counted from: %(reference)s; a validated decision ends an alert.") % {
                "reference": reference.label
            }
        if request.method == "GET":  # said on the page (not in its title, where the admin puts a subtitle)
            self.message_user(request, subtitle, messages.INFO)
        return super().changelist_view(request, extra_context)
