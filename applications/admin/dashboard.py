"""Statistics ("Tableaux de bord", ecandidat-features §2.9): the campaign's applications per formation, per centre
de candidature or per commission, in the user's scope, with the formations' capacité d'accueil (§2.8).

The lines are the formations the user may read (``Formation.objects.visible_to``: the same centres and commissions
as ``Application.objects.visible_to``), in service unless asked otherwise, grouped by formation, centre or
commission; the campaign's applications are joined to them. Each table is one aggregate query (GROUP BY with
conditional counts), whatever the number of lines or applications; a formation without an application shows its
zeros and its capacity. The chart is server-rendered SVG (no script). Every choice is a GET parameter.
"""

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, FilteredRelation, OuterRef, Q, QuerySet, Subquery, Sum
from django.http import HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from applications.enums import DossierStatus
from applications.models import Decision
from applications.models.candidature import COMMISSION_STATUS_FLAGS
from ecandidat import exports
from ecandidat.staff import scope_of
from ecandidat.staff_text import StaffText
from offers.enums import Avis
from offers.models import Campaign, Centre, Formation

COLUMNS = [
    ("total", lambda: _("Applications")),
    # Counts of applications, plural in French as the columns beside them (« Transmises »): « Annulées ».
    ("cancelled", lambda: pgettext("applications counted", "Cancelled")),
    ("transmitted", lambda: _("Transmitted")),
    *[(f"status_{status.value}", (lambda s=status: s.label)) for status in DossierStatus],
    *[(f"avis_{avis.value}", (lambda a=avis: a.label)) for avis in Avis],
    ("validated", lambda: _("Decisions validated")),
    ("not_validated", lambda: _("Decisions to validate")),
    ("confirmed", lambda: pgettext("applications counted", "Confirmed")),
    ("withdrawn", lambda: pgettext("applications counted", "Withdrawn")),
]
AVIS_KEYS = [f"avis_{avis.value}" for avis in Avis]


@dataclass(frozen=True)
class Grouping:
    """One way of grouping the formations: the Formation fields naming the line, and the page's wording."""

    key: str
    id_field: str
    code_field: str
    title_field: str
    choice: Callable[[], str]  # the link choosing it
    heading: Callable[[], str]  # the column naming the line
    caption: Callable[[], str]  # the table's caption and the chart's name
    empty: Callable[[], str]


GROUPINGS = {
    grouping.key: grouping
    for grouping in [
        Grouping(
            "formation",
            "id",
            "code",
            "title",
            lambda: _("Per formation"),
            lambda: _("Formation"),
            lambda: _("Applications per formation"),
            lambda: _("No formation."),
        ),
        Grouping(
            "centre",
            "centre_id",
            "centre__code",
            "centre__label",
            lambda: _("Per application centre"),
            lambda: _("Application centre"),
            lambda: _("Applications per application centre"),
            lambda: _("No application centre."),
        ),
        Grouping(
            "commission",
            "commission_id",
            "commission__code",
            "commission__label",
            lambda: _("Per commission"),
            lambda: _("Commission"),
            lambda: _("Applications per commission"),
            lambda: _("No commission."),
        ),
    ]
}
DEFAULT_GROUPING = "formation"


@dataclass
class Row:
    code: str
    title: str
    counts: dict[str, int] = field(default_factory=dict)
    capacity: int | None = None  # a formation's, or the sum of the known capacities of a centre's or commission's

    def values(self):
        return [self.counts.get(key, 0) for key, _label in COLUMNS]

    @property
    def admitted_share(self) -> str:
        """ "12 / 30 (40 %)": the confirmed admissions against the capacity; "" when the capacity is unknown."""
        if self.capacity is None:
            return ""
        admitted = self.counts.get("confirmed", 0)
        if not self.capacity:
            return _("%(admitted)d / %(capacity)d") % {"admitted": admitted, "capacity": self.capacity}
        return _("%(admitted)d / %(capacity)d (%(share)d %%)") % {
            "admitted": admitted,
            "capacity": self.capacity,
            "share": round(100 * admitted / self.capacity),
        }


class PerGroup(Subquery):
    """A subquery correlated on the GROUP BY columns only: the database evaluates it once per line, so it must not
    be grouped by (Django would otherwise add it to the GROUP BY, and the database evaluate it once per row)."""

    def get_group_by_cols(self):
        return []


def readable_applications(user: Any) -> Q:
    """The joined applications (``app``) the user may read, as ``Application.objects.visible_to`` decides (the
    formations are already scoped): every one of a centre they are staff of; of a commission they only sit on, those
    whose dossier status the commission shows its members (``Commission.shows_*``, on the line's own formation)."""
    scope = scope_of(user)
    if scope.is_central:
        return Q()
    shown = reduce(
        operator.or_,
        (
            Q(app__dossier_status=status, **{f"commission__{flag}": True})
            for status, flag in COMMISSION_STATUS_FLAGS.items()
        ),
    )
    return scope.reads(centre="centre_id", commission="commission_id") | (
        Q(commission_id__in=sorted(scope.commissions)) & shown
    )


def _counts(readable: Q | None = None) -> dict[str, Count]:
    """The conditional counts over the joined applications (``app``) and their latest decision (``current``), of
    the ``readable`` ones only."""
    active = Q(app__cancelled_at__isnull=True)
    conditions = {
        "total": active,
        "cancelled": Q(app__cancelled_at__isnull=False),
        "transmitted": active & Q(app__transmitted_at__isnull=False),
        **{f"status_{status.value}": active & Q(app__dossier_status=status) for status in DossierStatus},
        **{f"avis_{avis.value}": active & Q(current__decision_type__avis=avis) for avis in Avis},
        "validated": active & Q(current__validated_at__isnull=False),
        "confirmed": active & Q(app__accepted=True),
        "withdrawn": active & Q(app__accepted=False),
    }
    readable = readable if readable is not None else Q()
    return {key: Count("app", filter=condition & readable) for key, condition in conditions.items()}


def compute(
    formations: QuerySet[Formation], campaign: Campaign | None, grouping: Grouping, *, readable: Q | None = None
) -> tuple[list[Row], Row]:
    """The table's lines and its total, in one query: ``formations`` (already scoped and filtered) grouped by
    ``grouping``, each with the conditional counts of ``campaign``'s applications; the capacity is the formation's,
    or for a centre or commission the sum of its formations' known capacities (a subquery on the same formations,
    since the applications' join repeats each formation)."""
    # The latest decision as everywhere (Decision.objects.newest_first(), applications.models.latest_decision), but
    # joined once per application: a subquery per counted column would be evaluated once per row and column.
    latest = Decision.objects.filter(application=OuterRef("app__id")).newest_first().values("pk")[:1]
    joined = formations.annotate(
        app=FilteredRelation("applications", condition=Q(applications__campaign=campaign))
    ).annotate(current=FilteredRelation("app__decisions", condition=Q(app__decisions__pk=Subquery(latest))))
    if grouping.key == "formation":
        capacity: Any = F("capacity")
    else:
        capacity = PerGroup(
            formations.filter(**{grouping.id_field: OuterRef(grouping.id_field)})
            .order_by()
            .values(grouping.id_field)
            .annotate(known=Sum("capacity"))
            .values("known")
        )
    data = (
        joined.values(grouping.id_field, grouping.code_field, grouping.title_field)
        .annotate(**_counts(readable), line_capacity=capacity)
        .order_by(grouping.code_field, grouping.id_field)
    )
    rows = []
    total = Row("", _("Total"))
    for line in data:
        counts = {key: line[key] for key, _label in COLUMNS if key in line}
        counts["not_validated"] = sum(counts[key] for key in AVIS_KEYS) - counts["validated"]
        row = Row(line[grouping.code_field], line[grouping.title_field], counts, line["line_capacity"])
        rows.append(row)
        for key, value in counts.items():
            total.counts[key] = total.counts.get(key, 0) + value
        if row.capacity is not None:
            total.capacity = (total.capacity or 0) + row.capacity
    return rows, total


def bars(rows: list[Row], *, key="total", width=360, bar_height=16, gap=6) -> dict:
    """Geometry of a horizontal bar chart, drawn by the template as SVG rectangles."""
    largest = max((row.counts.get(key, 0) for row in rows), default=0) or 1
    items = []
    for index, row in enumerate(rows):
        value = row.counts.get(key, 0)
        items.append(
            {
                "label": row.code,
                "title": row.title,
                "value": value,
                "y": index * (bar_height + gap),
                "text_y": index * (bar_height + gap) + bar_height - 4,
                "width": round(width * value / largest) if value else 0,
            }
        )
    return {
        "items": items,
        "height": max(len(items) * (bar_height + gap), bar_height),
        "bar_height": bar_height,
        "width": width,
    }


def _export_table(grouping: Grouping, rows: list[Row], total: Row) -> tuple[list[str], list[list]]:
    headers = [_("Code"), grouping.heading(), *[label() for _key, label in COLUMNS], _("Capacity")]
    if grouping.key == "formation":
        headers.append(_("Admitted (confirmed) / capacity"))
    lines = []
    for row in [*rows, total]:
        line = [row.code, row.title, *row.values(), row.capacity]
        if grouping.key == "formation":
            line.append(row.admitted_share if row is not total else "")
        lines.append(line)
    return headers, lines


def _export(request, grouping: Grouping, rows: list[Row], total: Row) -> HttpResponse | None:
    """The table as XLSX (issue 12) or CSV, when ``format`` asks for it."""
    fmt = request.GET.get("format")
    if fmt not in ("xlsx", "csv"):
        return None
    headers, lines = _export_table(grouping, rows, total)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    name = "tableau-de-bord" if grouping.key == DEFAULT_GROUPING else f"tableau-de-bord-{grouping.key}"
    if fmt == "xlsx":
        response = HttpResponse(
            exports.to_xlsx(headers, lines, title=_("Dashboard")), content_type=exports.XLSX_CONTENT_TYPE
        )
    else:
        response = HttpResponse(exports.to_csv(headers, lines), content_type=exports.CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.{fmt}"'
    return response


def _query(params: dict[str, str]) -> str:
    query = QueryDict(mutable=True)
    query.update({key: value for key, value in params.items() if value})
    return query.urlencode()


def dashboard_view(request, *, model_admin):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    user = request.user
    campaigns = list(Campaign.objects.order_by("-starts_on"))
    centres = list(Centre.objects.visible_to(user))
    campaign = next((c for c in campaigns if str(c.pk) == request.GET.get("campaign")), None)
    campaign = campaign or next((c for c in campaigns if c.is_active), None) or (campaigns[0] if campaigns else None)
    centre = next((c for c in centres if str(c.pk) == request.GET.get("centre")), None)
    grouping = GROUPINGS.get(request.GET.get("group", ""), GROUPINGS[DEFAULT_GROUPING])
    out_of_service = request.GET.get("out_of_service") == "1"  # eCandidat's "include the out-of-service items"

    formations = Formation.objects.visible_to(user)
    if not out_of_service:
        formations = formations.in_service()
    if centre is not None:
        formations = formations.filter(centre=centre)
    rows, total = compute(formations, campaign, grouping, readable=readable_applications(user))
    export = _export(request, grouping, rows, total)
    if export is not None:
        return export

    params = {
        "campaign": str(campaign.pk) if campaign else "",
        "centre": str(centre.pk) if centre else "",
        "out_of_service": "1" if out_of_service else "",
    }
    query = _query({**params, "group": grouping.key})
    # The campaign's and the centre's labels are the staff's, in French (RGAA 8.7), as the table's titles.
    caption = [grouping.caption(), StaffText(campaign.label, "fr").marked if campaign else _("no campaign")]
    if centre is not None:
        caption.append(StaffText(centre.label, "fr").marked)
    if out_of_service:
        caption.append(_("out-of-service formations included"))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": _("Dashboard"),
        "campaigns": campaigns,
        "centres": centres,
        "campaign": campaign,
        "centre": centre,
        "grouping": grouping,
        "out_of_service": out_of_service,
        "groupings": [
            {
                "label": choice.choice(),
                "url": "?" + _query({**params, "group": choice.key}),
                "current": choice.key == grouping.key,
            }
            for choice in GROUPINGS.values()
        ],
        "heading": grouping.heading(),
        "caption": grouping.caption(),
        "table_caption": format_html_join(" — ", "{}", ((part,) for part in caption)),
        "empty": grouping.empty(),
        "headers": [label() for _key, label in COLUMNS],
        "per_formation": grouping.key == "formation",
        "column_count": len(COLUMNS) + (4 if grouping.key == "formation" else 3),
        "rows": [(row, row.values()) for row in rows],
        "total_row": total,
        "total": total.values(),
        "chart": bars([row for row in rows if row.counts.get("total")]),  # no bar for a line without any
        "summary": [
            (label(), total.counts.get(key, 0))
            for key, label in COLUMNS
            if key in ("total", "transmitted", "status_CO", "avis_FA", "confirmed", "withdrawn")
        ],
        "csv_url": f"?{query}&format=csv",
        "xlsx_url": f"?{query}&format=xlsx",
    }
    return TemplateResponse(request, "admin/applications/application/dashboard.html", context)
