"""Tags in the back office (issue 11, eCandidat's "Tags"): the central office manages every tag, global or of a
centre; a centre manager manages their centres' tags (``offers.admin_catalogue.ManagedByCentre``)."""

from collections import defaultdict

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.utils.html import format_html
from django.utils.translation import gettext_lazy

from accounts.models import User
from applications.history import record_tags_removals
from applications.models import ApplicationTag, Tag
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
    # here, and leaves adding and changing them to the managers of the whole centre; the « Centre » offered is one
    # the user manages wholly (``ManagedByCentre``), so no tag is added in, nor moved to, another.
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

    # A tag deleted goes off every application that carried it (``ApplicationTag.tag`` cascades): each of them is
    # told in its history, with who deleted it, as a tag taken off by hand (« Étiquettes modifiées par … : retirée
    # « À revoir » »), in the deletion's transaction.

    def delete_model(self, request, obj):
        with transaction.atomic(savepoint=False):
            _record_removals(Tag.objects.filter(pk=obj.pk), actor=request.user)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic(savepoint=False):
            _record_removals(queryset, actor=request.user)
            super().delete_queryset(request, queryset)


def _record_removals(tags: QuerySet[Tag], *, actor: User) -> None:
    """Write, before ``tags`` go, one history row on each application carrying any of them, naming those it loses by
    their labels: three queries, whatever the number of tags and applications. The tags' rows are locked first, so
    a tag put on an application meanwhile (its link holds the tag's row) is either already there to be read, or
    refused once the tag is gone, never taken off without a row."""
    locked = list(
        Tag.objects.select_for_update().filter(pk__in=tags.values("pk")).order_by("pk").values_list("pk", flat=True)
    )
    removed: defaultdict[int, list[str]] = defaultdict(list)
    for application_id, label in ApplicationTag.objects.filter(tag_id__in=locked).values_list(
        "application_id", "tag__label"
    ):
        removed[application_id].append(label)
    record_tags_removals(removed, actor=actor)
