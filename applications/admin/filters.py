"""The applications list's annotations and filters (ecandidat-features §2.3): the current decision, whether a
piece waits for checking, the SVA alert, and the filters read from them. The centre and formation filters offer only
what the user's scope covers (``visible_to``); the campaign filter shows the active campaign unless told otherwise."""

import datetime

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Case, CharField, Exists, F, OuterRef, Q, When
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications.enums import ANSWER_LABELS, PieceStatus
from applications.models import PieceSubmission, SvaAlertLevel
from applications.models.candidature import latest_decision
from applications.models.sva import SvaAlert
from ecandidat.admin_base import FrenchChoices
from ecandidat.text import is_number
from offers.enums import Avis
from offers.models import Campaign, Centre, Formation


def with_list_data(queryset):
    """The current decision (any, validated or not), the read model's validated one (``with_current_decision``,
    for the confirmation date) and whether a submitted piece waits for checking: the application's own, or one the
    candidate shares between their applications whose type this application asks for (``applicable_piece_types``:
    common to the institution or to the formation's centre, or the formation's own), not another centre's.

    Two ``EXISTS`` joined by ``OR`` outside them, each on its own index (the application's pieces; the candidate's
    shared ones), and the formation's piece types a third ``EXISTS`` inside the second rather than a join: in one
    ``EXISTS`` with the ``OR`` inside, PostgreSQL compared every application with every transmitted piece (a Nested
    Loop Semi Join with an ``OR`` join filter: 20 to 50 s a page of « Pièces à contrôler » at 20,000 applications;
    ``applications/tests/test_pieces_to_check_query.py``).

    ``current_avis_to_validate`` (an alias: read by « Décision à valider » only, never selected) is the current
    decision's avis while it waits for validation, None once it is validated or without a decision: « à valider »
    is one subquery, where it was two (« an avis » and « not validated »). PostgreSQL estimates a condition on a
    subquery without statistics: 0.5 % of the rows for ``= 'FA'`` or ``IS NULL``, 99.5 % for ``IS NOT NULL``, and
    multiplies them; « Décision = Favorable » with « Décision à valider » was three (an avis FA, an avis, a validation
    date NULL): 0.5 % × 0.5 %, one row estimated for thousands, and the candidates and their accounts read whole for
    each of them (22 to 25 s a page at 20,000 applications, 92 s at 40,000;
    ``applications/tests/test_decision_to_validate_query.py``)."""
    own_to_check = PieceSubmission.objects.filter(application=OuterRef("pk"), status=PieceStatus.SUBMITTED)
    formation_asks = Formation.piece_types.through.objects.filter(
        formation_id=OuterRef(OuterRef("formation_id")), piecetype_id=OuterRef("piece_type_id")
    )
    shared_to_check = PieceSubmission.objects.filter(
        Q(piece_type__is_common=True, piece_type__centre__isnull=True)
        | Q(piece_type__is_common=True, piece_type__centre_id=OuterRef("formation__centre_id"))
        | Q(Exists(formation_asks), piece_type__is_common=False),
        application__isnull=True,
        candidate_id=OuterRef("candidate_id"),
        status=PieceStatus.SUBMITTED,
    )
    return (
        queryset.with_current_decision()
        .annotate(
            current_avis=latest_decision("decision_type__avis"),
            current_label=latest_decision("decision_type__label"),
            current_validated_at=latest_decision("validated_at"),
            has_pieces_to_check=Exists(own_to_check) | Exists(shared_to_check),
        )
        .alias(
            current_avis_to_validate=latest_decision(
                Case(When(validated_at__isnull=True, then=F("decision_type__avis")), output_field=CharField())
            ),
        )
    )


def sva_alert_for(request) -> SvaAlert | None:
    """The SVA rule and levels for this request's list (one query, once per request; none while ``SVA_ALERT_DATE``
    is ``NO``). The list's queryset, its "SVA alert" column and filter read it from ``request.sva_alert``."""
    if not hasattr(request, "sva_alert"):
        request.sva_alert = SvaAlertLevel.objects.alert()
    return request.sva_alert


ALL_CAMPAIGNS = "all"


class CampaignFilter(admin.SimpleListFilter):
    """« Par campagne »: the active campaign's applications unless the query string names another campaign or
    « Toutes les campagnes » (``all``), so that the morning after the archiving night last year's dossiers no longer
    mix with this year's in the list, its counters and its exports (docs/campaign-rollover.md). The parameter is the
    one of Django's related filter it replaces (``campaign__id__exact``): saved filters, bookmarks, export links and
    the home page's link keep working. One query for the campaigns, as that filter had. Hidden, as it was, while the
    installation has a single campaign (the default then leaves nothing out)."""

    title = gettext_lazy("campaign")
    parameter_name = "campaign__id__exact"
    campaign_field = "campaign_id"  # the list's rows' campaign

    def lookups(self, request, model_admin):
        campaigns = list(Campaign.objects.order_by("-starts_on", "-pk").values_list("pk", "label", "is_active"))
        self.active = next((str(pk) for pk, _label, is_active in campaigns if is_active), None)
        self.labels = {str(pk): label for pk, label, _is_active in campaigns}
        return [
            (ALL_CAMPAIGNS, _("All campaigns")),
            *(
                (str(pk), _("%(campaign)s (active)") % {"campaign": label} if is_active else label)
                for pk, label, is_active in campaigns
            ),
        ]

    def has_output(self):
        return len(self.labels) > 1

    def shown(self) -> str:
        """The choice the list shows: a campaign's id, or ``all`` (also when no campaign is active). A value that is
        neither is refused as Django's related filter refused it (the list's « ?e=1 », the exports' 400)."""
        value = self.value()
        if value is None:
            return self.active or ALL_CAMPAIGNS
        if value == ALL_CAMPAIGNS or is_number(value):
            return value
        raise IncorrectLookupParameters(f"campaign: {value!r}")

    def shown_label(self) -> str:
        """What the list's heading says: the campaign's label, or « Toutes les campagnes »."""
        shown = self.shown()
        if shown == ALL_CAMPAIGNS:
            return _("All campaigns")
        return self.labels.get(shown) or _("Unknown campaign")

    def queryset(self, request, queryset):
        shown = self.shown()
        return queryset if shown == ALL_CAMPAIGNS else queryset.filter(**{self.campaign_field: int(shown)})

    def choices(self, changelist):
        """The choices without Django's « Tous », which would lead back to the default; the active campaign is the
        selected one when the query string names none."""
        shown = self.shown()
        choices = super().choices(changelist)
        next(choices)
        for choice, (lookup, _label) in zip(choices, self.lookup_choices, strict=True):
            display = choice["display"]
            if (
                lookup != ALL_CAMPAIGNS
            ):  # the campaign's French label marked (RGAA 8.7); « (active) » and the count not
                french = self.labels[lookup]
                display = format_html('<span lang="fr">{}</span>{}', french, str(display)[len(french) :])
            yield {**choice, "display": display, "selected": lookup == shown}


class AccountCampaignFilter(CampaignFilter):
    """« Par campagne » on the candidates' list (their accounts' campaign): the active campaign's dossiers unless the
    query string names another campaign or « Toutes les campagnes », as on the applications' list. An account is
    annual: last year's « MARTIN Jean » is another account, archived, which the helpdesk must not take for this
    year's (ecandidat-features §2.2, « Chercher candidat »: the closed or archived campaigns on request only)."""

    parameter_name = "user__campaign__id"  # a name Django's ``lookup_allowed`` accepts across two relations
    campaign_field = "user__campaign_id"


class CentreFilter(FrenchChoices, admin.SimpleListFilter):
    title = gettext_lazy("centre")
    parameter_name = "centre"

    def lookups(self, request, model_admin):
        centres = Centre.objects.visible_to(request.user)
        return [(str(pk), label) for pk, label in centres.values_list("pk", "label")]

    def queryset(self, request, queryset):
        value = self.value()
        if value and is_number(value):
            return queryset.filter(formation__centre_id=int(value))
        return queryset


class FormationFilter(FrenchChoices, admin.SimpleListFilter):
    title = gettext_lazy("formation")
    parameter_name = "formation"

    def lookups(self, request, model_admin):
        formations = Formation.objects.visible_to(request.user)
        centre = request.GET.get("centre", "")
        if is_number(centre):
            formations = formations.filter(centre_id=int(centre))
        return [(str(pk), f"{code} – {title}") for pk, code, title in formations.values_list("pk", "code", "title")]

    def queryset(self, request, queryset):
        value = self.value()
        if value and is_number(value):
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
    """Whether the current decision is validated. « Décision à valider » is one condition on one subquery
    (``current_avis_to_validate``, ``with_list_data``), so that beside « Par décision » (``current_avis = 'FA'``)
    PostgreSQL estimates the rows of an avis, not a product of three estimates (one row, the candidates read whole
    for each). Each filter's condition stands alone: Django's facets count each one's choices with the other's
    condition, not its own."""

    title = gettext_lazy("decision validated")
    parameter_name = "validated"

    def lookups(self, request, model_admin):
        return [("yes", _("Validated decision")), ("no", _("Decision to validate"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(current_validated_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(current_avis_to_validate__isnull=False)
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


def local_midnight(day: datetime.date) -> datetime.datetime:
    """The moment ``day`` begins in the institution's time zone (``settings.TIME_ZONE``), aware."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class TransmittedFilter(admin.SimpleListFilter):
    """« Par date de transmission »: the applications the candidate transmitted today, in the past seven days (today
    and the six before) or this month, or never. The days are the institution's (``timezone.localdate()``), their
    bounds aware moments (local midnights): a dossier transmitted at 23:30 the evening before is not today's, one
    transmitted at 00:10 is, though both fall on the same UTC day.

    ``transmitted_at`` is the latest transmission: each one stamps it (``workflow`` « transmit », from « En attente »
    or « Incomplet »), so a candidate who transmits again after « Incomplet » is found on the day they did. A paper
    dossier set « Réceptionné » by staff was never transmitted online: « Non transmise ». No query for the choices;
    the filter is a range on a column of the list's own table, no join."""

    title = gettext_lazy("transmission date")
    parameter_name = "transmitted"

    def lookups(self, request, model_admin):
        return [
            ("today", _("Today")),
            ("past_7_days", _("Past 7 days")),
            ("this_month", _("This month")),
            ("no", _("Not transmitted")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "no":
            return queryset.filter(transmitted_at__isnull=True)
        today = timezone.localdate()
        tomorrow = today + datetime.timedelta(days=1)
        since = {
            "today": today,
            "past_7_days": today - datetime.timedelta(days=6),
            "this_month": today.replace(day=1),
        }.get(value or "")
        if since is None:
            return queryset
        return queryset.filter(transmitted_at__gte=local_midnight(since), transmitted_at__lt=local_midnight(tomorrow))


class SvaAlertFilter(admin.SimpleListFilter):
    """In alert or not, or at one level (the highest reached), on the annotations of ``with_sva_alert``.

    Always one of the list's filters, so that its parameter is always accepted: while SVA alerts are off it offers
    no choice, so the list neither shows nor applies it (a saved or bookmarked ``?sva=yes`` lists every application
    of the other filters, and the list says so: ``sva_filter_ignored``), where Django refused the unknown parameter
    and fell back silently to the whole list (``?e=1``)."""

    title = gettext_lazy("SVA alert")
    parameter_name = "sva"

    def lookups(self, request, model_admin):
        alert = sva_alert_for(request)
        if alert is None:
            return []
        levels = sorted(days for days, _colour in alert.levels)
        return [
            ("yes", _("In alert")),
            ("no", _("Not in alert")),
            *((str(days), _("Threshold of %(days)s d reached") % {"days": days}) for days in levels),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value in ("yes", "no"):
            return queryset.filter(sva_threshold__isnull=value == "no")
        if value and is_number(value, max_digits=5):
            return queryset.filter(sva_threshold=int(value))
        return queryset


def sva_filter_ignored(request) -> bool:
    """Whether the list was asked to filter on SVA alerts (``SvaAlertFilter``) while they are off: it does not
    apply then, and the list says so rather than pass the whole list for the filtered one."""
    return bool(request.GET.get(SvaAlertFilter.parameter_name)) and sva_alert_for(request) is None
