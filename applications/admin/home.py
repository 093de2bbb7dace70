"""The back office's home for centre managers and commission members (issue 11): their figures for the active
campaign (received, to check, complete, decided, confirmed), each a link into the filtered applications list,
and the applications per day as an inline SVG bar chart with the same figures in a table (no script, no library).
Beside it, the user's latest actions on applications, from the applications' history (Django's "Actions
récentes" lists only what the admin's own forms log, so it stayed empty for a day of checking pieces and
deciding).

Two queries whatever the volume: one aggregate over the scoped applications, one ``GROUP BY`` day; two more for
the latest actions (the events, the labels of the pieces they name). The default admin site's index is wrapped
(as ``accounts.admin`` wraps its login) to add these blocks.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from accounts.services import login_history_messages
from applications.admin.candidatures import with_list_data
from applications.admin.review import PIECE_KINDS, change_url, history_line
from applications.enums import DossierStatus
from applications.models import Application, ApplicationEvent
from ecandidat.staff import scope_of
from ecandidat.staff_text import StaffText
from offers.models import Campaign, PieceType

CHART_DAYS = 60
RECENT_ACTIONS = 10
CHART_HEIGHT = 120
BAR_WIDTH = 10


def _figures(applications, list_url: str) -> list[dict[str, Any]]:
    counts = with_list_data(applications).aggregate(
        total=Count("pk"),
        received=Count("pk", filter=Q(dossier_status=DossierStatus.RECEIVED)),
        to_check=Count("pk", filter=Q(has_pieces_to_check=True)),
        complete=Count("pk", filter=Q(dossier_status=DossierStatus.COMPLETE)),
        decided=Count("pk", filter=Q(current_validated_at__isnull=False)),
        confirmed=Count("pk", filter=Q(accepted=True)),
    )
    links = [
        ("total", _("Applications"), ""),
        ("received", _("Received"), "dossier_status__exact=RE"),
        ("to_check", _("Pieces waiting for a check"), "to_check=yes"),
        ("complete", _("Complete"), "dossier_status__exact=CO"),
        ("decided", _("Decided (validated)"), "validated=yes"),
        ("confirmed", pgettext("applications counted", "Confirmed"), "answer=confirmed"),
    ]
    return [
        {"label": label, "count": counts[key], "url": list_url + (f"&{query}" if query else "")}
        for key, label, query in links
    ]


def _chart(applications, today: datetime.date) -> dict[str, Any]:
    start = today - datetime.timedelta(days=CHART_DAYS - 1)
    per_day = dict(
        applications.filter(created_at__date__gte=start)
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values_list("day")
        .annotate(count=Count("pk"))
    )
    days = [start + datetime.timedelta(days=offset) for offset in range(CHART_DAYS)]
    highest = max(per_day.values(), default=0) or 1
    bars = []
    for index, day in enumerate(days):
        value = per_day.get(day, 0)
        height = round(CHART_HEIGHT * value / highest)
        bars.append(
            {"day": day, "value": value, "x": index * (BAR_WIDTH + 2), "y": CHART_HEIGHT - height, "height": height}
        )
    return {
        "bars": bars,
        "rows": [bar for bar in bars if bar["value"]],
        "width": CHART_DAYS * (BAR_WIDTH + 2),
        "height": CHART_HEIGHT,
        "bar_width": BAR_WIDTH,
        "highest": max(per_day.values(), default=0),
        "start": start,
        "end": today,
    }


def centre_home(request) -> dict[str, Any] | None:
    """The home block's context for a member of staff, or None (no scope, or no active campaign)."""
    if not scope_of(request.user).is_staff_member:
        return None
    campaign = Campaign.objects.active().first()
    if campaign is None:
        return None
    applications = Application.objects.visible_to(request.user).filter(campaign=campaign, cancelled_at__isnull=True)
    list_url = (
        reverse("admin:applications_application_changelist") + f"?campaign__id__exact={campaign.pk}&cancelled=no"
    )
    return {
        "campaign": campaign,
        "campaign_label": StaffText(campaign.label, "fr").marked,  # the staff's French label (RGAA 8.7)
        "figures": _figures(applications, list_url),
        "chart": _chart(applications, timezone.localdate()),
    }


def recent_actions(request) -> list[dict[str, Any]] | None:
    """The user's ``RECENT_ACTIONS`` latest actions on the applications they may still read, newest first, in the
    history's words; None for someone without a staff scope."""
    if not scope_of(request.user).is_staff_member:
        return None
    events = list(
        ApplicationEvent.objects.filter(
            actor=request.user, application__in=Application.objects.visible_to(request.user)
        )
        .select_related("application__candidate", "application__formation")
        .order_by("-created_at", "-id")[:RECENT_ACTIONS]
    )
    piece_codes = {event.comment.partition(": ")[0] for event in events if event.kind in PIECE_KINDS}
    labels = dict(PieceType.objects.filter(code__in=piece_codes).values_list("code", "label")) if piece_codes else {}
    return [
        {
            "at": event.created_at,
            "text": history_line(event, labels, with_actor=False).text,
            "candidate": event.application.candidate,
            "formation": event.application.formation.code,
            "url": change_url(event.application_id, ""),
        }
        for event in events
    ]


def settings_changes(request) -> list[dict[str, Any]]:
    """The user's ``RECENT_ACTIONS`` latest changes through the admin's own forms (Django's "Actions récentes"),
    newest first, each ``{"entry", "url"}``. Their logins, which ``record_login`` writes to their own account's
    history, are not changes and are left out (every member of staff saw each login as a change of their user, a
    link to a page only superusers open: 403 or 404). An entry links to its page only when its ModelAdmin lets the
    viewer open its list (asked without the row, as ``linking_only_what_the_viewer_may_open`` asks: no query). One
    query."""
    entries = (
        LogEntry.objects.filter(user=request.user)
        .exclude(change_message__in=login_history_messages())
        .select_related("content_type")
        .order_by("-action_time", "-id")[:RECENT_ACTIONS]
    )
    changes = []
    for entry in entries:
        model = entry.content_type.model_class() if entry.content_type else None
        model_admin = admin.site._registry.get(model) if model else None
        may_open = model_admin is not None and model_admin.has_view_or_change_permission(request)
        url = entry.get_admin_url() if may_open and not entry.is_deletion() else None
        changes.append({"entry": entry, "url": url})
    return changes


_index = admin.site.index


def index(request, extra_context=None):
    context = {
        "centre_home": centre_home(request),
        "recent_application_actions": recent_actions(request),
        "settings_changes": settings_changes(request),
    }
    return _index(request, {**(extra_context or {}), **context})


admin.site.index = index  # type: ignore[method-assign]
admin.site.index_template = "admin/applications/home_index.html"
