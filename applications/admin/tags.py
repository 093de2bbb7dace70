"""Tags in the back office (issue 11, eCandidat's "Tags"): the central office manages every tag, global or of a
centre; a centre manager manages their centres' tags (``offers.admin_catalogue.ManagedByCentre``)."""

from django import forms
from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy

from applications.models import Tag
from offers.admin_catalogue import ManagedByCentre
from offers.admin_filters import VisibleRelatedFilter


class ColourInput(forms.TextInput):
    """The browser's colour picker. HTML allows neither ``required`` nor ``maxlength`` on it (a colour input always
    holds a value of seven characters), so neither is written."""

    input_type = "color"

    def use_required_attribute(self, initial):
        return False

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"].pop("maxlength", None)
        return context


@admin.register(Tag)
class TagAdmin(ManagedByCentre, admin.ModelAdmin):
    # A tag is its centre's, not a commission's: a manager of some commissions uses the centre's tags, reads them
    # here, and leaves adding and changing them to the managers of the whole centre.
    commission_lookup = None
    limited_may_add = False
    list_display = ["label", "swatch", "centre", "in_service"]
    french_columns = ["centre"]  # the centre's French name, marked lang="fr" (RGAA 8.7)
    list_filter = ["in_service", ("centre", VisibleRelatedFilter)]
    list_select_related = ["centre"]
    search_fields = ["label"]
    fields = ["label", "colour", "centre", "in_service"]

    @admin.display(description=gettext_lazy("colour"))
    def swatch(self, obj):
        # An SVG attribute, not a style attribute: the CSP forbids inline styles.
        return format_html(
            '<svg width="14" height="14" aria-hidden="true" focusable="false"><circle cx="7" cy="7" r="7" fill="{}"/>'
            "</svg> {}",
            obj.colour,
            obj.colour,
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs.setdefault("widgets", {})["colour"] = ColourInput
        return super().get_form(request, obj, change, **kwargs)
