"""The nightly maintenance window, in local time (Europe/Paris by default)."""

from datetime import datetime, time

from django.conf import settings
from django.utils import timezone, translation


def hour_label(value: time) -> str:
    """A time of day as the guide writes it in French ("22h45", "06h"), or "22:45" in English."""
    if translation.get_language() == "en":
        return value.strftime("%H:%M")
    return f"{value.hour:02d}h{value.minute:02d}" if value.minute else f"{value.hour:02d}h"


def in_window(moment: datetime | None = None) -> bool:
    """True when ``moment`` (default: now) falls inside the daily window, which may span midnight."""
    local = timezone.localtime(moment or timezone.now()).time()
    start, end = settings.MAINTENANCE_START, settings.MAINTENANCE_END
    if start <= end:
        return start <= local < end
    return local >= start or local < end
