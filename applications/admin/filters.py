"""The applications list's annotations and filters (ecandidat-features §2.3): the current decision, whether a
piece waits for checking, the SVA alert, and the filters read from them. The centre and formation filters offer only
what the user's scope covers (``visible_to``)."""

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications.enums import ANSWER_LABELS, PieceStatus
from applications.models import PieceSubmission, SvaAlertLevel
from applications.models.candidature import latest_decision
from applications.models.sva import SvaAlert
from ecandidat.admin_base import FrenchChoices
from offers.enums import Avis
from offers.models import Centre, Formation


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


def sva_alert_for(request) -> SvaAlert | None:
    """The SVA rule and levels for this request's list (one query, once per request; none while ``SVA_ALERT_DATE``
    is ``NO``). The list's queryset, its "SVA alert" column and filter read it from ``request.sva_alert``."""
    if not hasattr(request, "sva_alert"):
        request.sva_alert = SvaAlertLevel.objects.alert()
    return request.sva_alert


class CentreFilter(FrenchChoices, admin.SimpleListFilter):
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


class FormationFilter(FrenchChoices, admin.SimpleListFilter):
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
        return [("confirmed", ANSWER_LABELS[True]), ("withdrawn", ANSWER_LABELS[False]), ("none", _("No answer"))]

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
    # "Par annulée" / "By cancelled" read as a typo in the sidebar's "Par …" headings.
    title = gettext_lazy("cancellation")
    parameter_name = "cancelled"

    def lookups(self, request, model_admin):
        return [("no", _("Active")), ("yes", _("Cancelled"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(cancelled_at__isnull=self.value() == "no")
        return queryset


class SvaAlertFilter(admin.SimpleListFilter):
    """In alert or not, or at one level (the highest reached); only in the list while SVA alerts are on, on the
    annotations of ``with_sva_alert``."""

    title = gettext_lazy("SVA alert")
    parameter_name = "sva"

    def lookups(self, request, model_admin):
        alert = sva_alert_for(request)
        levels = [] if alert is None else sorted(days for days, _colour in alert.levels)
        return [
            ("yes", _("In alert")),
            ("no", _("Not in alert")),
            *((str(days), _("Threshold of %(days)s d reached") % {"days": days}) for days in levels),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value in ("yes", "no"):
            return queryset.filter(sva_threshold__isnull=value == "no")
        if value and value.isascii() and value.isdigit() and len(value) <= 5:  # "²" is a digit to isdigit()
            return queryset.filter(sva_threshold=int(value))
        return queryset
