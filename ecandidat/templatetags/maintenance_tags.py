"""The maintenance switches as templates read them, without a query once cached (``ecandidat.maintenance``)."""

from django import template
from django.conf import settings

from ecandidat.maintenance import hour_label, uploads_state

register = template.Library()


@register.simple_tag
def uploads_maintenance() -> dict[str, bool | str]:
    """``{"paused": …, "message": …}``: whether the piece uploads are in maintenance (eCandidat
    ``TECH_IS_DEMAT_MAINTENANCE``) and the central office's message, for the banner above the pieces."""
    paused, message = uploads_state()
    return {"paused": paused, "message": message}


@register.simple_tag
def site_closing_hour() -> str:
    """The hour the candidate site closes every evening for the nightly window (« 22h45 », "22:45" in English), or ""
    when no window is enforced: said beside a deadline, whose last day ends then, not at midnight (the batch of 23:00
    withdraws an unanswered admission, the site refuses a transmission from 22:45)."""
    return hour_label(settings.MAINTENANCE_START) if settings.MAINTENANCE_WINDOW_ENFORCED else ""
