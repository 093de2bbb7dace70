"""Statistics ("Tableaux de bord", ecandidat-features §2.9): per campaign and centre, per formation, scoped.

One query reads the scoped applications' few columns (with their current decision); counting is done in Python,
so the page costs the same number of queries whatever the volume. The chart is server-rendered SVG (no script).
"""

from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.enums import DossierStatus
from applications.models import Application
from applications.models.candidature import latest_decision
from ecandidat import exports
from offers.enums import Avis
from offers.models import Campaign, Centre

COLUMNS = [
    ("total", lambda: _("Applications")),
    ("cancelled", lambda: _("Cancelled")),
    ("transmitted", lambda: _("Transmitted")),
    *[(f"status_{status.value}", (lambda s=status: s.label)) for status in DossierStatus],
    *[(f"avis_{avis.value}", (lambda a=avis: a.label)) for avis in Avis],
    ("validated", lambda: _("Decisions validated")),
    ("not_validated", lambda: _("Decisions to validate")),
    ("confirmed", lambda: _("Confirmed")),
    ("withdrawn", lambda: _("Withdrawn")),
]


@dataclass
class Row:
    code: str
    title: str
    counts: Counter = field(default_factory=Counter)

    def values(self):
        return [self.counts[key] for key, _label in COLUMNS]


def compute(applications) -> tuple[list[Row], Row]:
    rows: dict[int, Row] = {}
    total = Row("", _("Total"))
    data = applications.annotate(
        current_avis=latest_decision("decision_type__avis"), current_validated_at=latest_decision("validated_at")
    ).values_list(
        "formation_id",
        "formation__code",
        "formation__title",
        "cancelled_at",
        "transmitted_at",
        "dossier_status",
        "current_avis",
        "current_validated_at",
        "accepted",
    )
    for formation_id, code, title, cancelled, transmitted, status, avis, validated, accepted in data:
        row = rows.setdefault(formation_id, Row(code, title))
        keys = []
        if cancelled:
            keys.append("cancelled")
        else:
            keys += ["total", f"status_{status}"]
            if transmitted:
                keys.append("transmitted")
            if avis:
                keys += [f"avis_{avis}", "validated" if validated else "not_validated"]
            if accepted is True:
                keys.append("confirmed")
            elif accepted is False:
                keys.append("withdrawn")
        row.counts.update(keys)
        total.counts.update(keys)
    return sorted(rows.values(), key=lambda r: r.code), total


def bars(rows: list[Row], *, key="total", width=360, bar_height=16, gap=6) -> dict:
    """Geometry of a horizontal bar chart, drawn by the template as SVG rectangles."""
    largest = max((row.counts[key] for row in rows), default=0) or 1
    items = []
    for index, row in enumerate(rows):
        value = row.counts[key]
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


def dashboard_view(request, *, model_admin):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    user = request.user
    campaigns = list(Campaign.objects.order_by("-starts_on"))
    centres = list(Centre.objects.visible_to(user))
    campaign = next((c for c in campaigns if str(c.pk) == request.GET.get("campaign")), None)
    campaign = campaign or next((c for c in campaigns if c.is_active), None) or (campaigns[0] if campaigns else None)
    centre = next((c for c in centres if str(c.pk) == request.GET.get("centre")), None)
    applications = Application.objects.visible_to(user).filter(campaign=campaign)
    if centre is not None:
        applications = applications.filter(formation__centre=centre)
    rows, total = compute(applications)
    headers = [label() for _key, label in COLUMNS]
    if request.GET.get("format") == "xlsx":  # issue 12: the statistics in XLSX too
        content = exports.to_xlsx(
            [_("Code"), _("Formation"), *headers],
            [[row.code, row.title, *row.values()] for row in [*rows, total]],
            title=_("Dashboard"),
        )
        response = HttpResponse(content, content_type=exports.XLSX_CONTENT_TYPE)
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="tableau-de-bord-{stamp}.xlsx"'
        return response
    if request.GET.get("format") == "csv":
        content = exports.to_csv(
            [_("Code"), _("Formation"), *headers],
            [[row.code, row.title, *row.values()] for row in [*rows, total]],
        )
        response = HttpResponse(content, content_type=exports.CSV_CONTENT_TYPE)
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="tableau-de-bord-{stamp}.csv"'
        return response
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": _("Dashboard"),
        "campaigns": campaigns,
        "centres": centres,
        "campaign": campaign,
        "centre": centre,
        "headers": headers,
        "rows": [(row, row.values()) for row in rows],
        "total": total.values(),
        "chart": bars(rows),
        "summary": [
            (label(), total.counts[key])
            for key, label in COLUMNS
            if key in ("total", "transmitted", "status_CO", "avis_FA", "confirmed", "withdrawn")
        ],
        "query": request.GET.urlencode(),
    }
    return TemplateResponse(request, "admin/applications/application/dashboard.html", context)
