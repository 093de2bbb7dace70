"""The nightly maintenance window, in local time (Europe/Paris by default), and the manual switch."""

import math
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.core.cache import caches
from django.utils import timezone, translation

SWITCH_CACHE_KEY = "switch"


def hour_label(value: time) -> str:
    """A time of day as the guide writes it in French ("22h45", "06h"), or "22:45" in English."""
    if translation.get_language() == "en":
        return value.strftime("%H:%M")
    return f"{value.hour:02d}h{value.minute:02d}" if value.minute else f"{value.hour:02d}h"


def in_window(moment: datetime | None = None) -> bool:
    """True when ``moment`` (default: now) falls inside the daily window, which may span midnight.

    Computed on the local wall clock, so the window stays 22:45–06:00 on the nights of daylight-saving changes.
    """
    local = timezone.localtime(moment or timezone.now()).time()
    start, end = settings.MAINTENANCE_START, settings.MAINTENANCE_END
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def seconds_until_window_ends(moment: datetime | None = None) -> int:
    """For ``Retry-After``: seconds from ``moment`` to the next end of the window (local wall clock)."""
    now = timezone.localtime(moment or timezone.now())
    end = now.replace(
        hour=settings.MAINTENANCE_END.hour, minute=settings.MAINTENANCE_END.minute, second=0, microsecond=0
    )
    if end <= now:
        end = (now + timedelta(days=1)).replace(
            hour=settings.MAINTENANCE_END.hour, minute=settings.MAINTENANCE_END.minute, second=0, microsecond=0
        )
    # Subtract in UTC: arithmetic between two Europe/Paris datetimes would ignore a daylight-saving change.
    elapsed = end.astimezone(UTC) - now.astimezone(UTC)
    return max(60, math.ceil(elapsed.total_seconds()))


def switch_state() -> tuple[bool, str]:
    """(is_on, message) of the manual switch, cached for a few seconds so pages do not query it."""
    cache = caches["maintenance"]
    state = cache.get(SWITCH_CACHE_KEY)
    if state is None:
        from ecandidat.models import MaintenanceSwitch

        switch = MaintenanceSwitch.current()
        state = (switch.is_on, switch.message)
        cache.set(SWITCH_CACHE_KEY, state)
    return tuple(state)


def set_switch(*, is_on: bool, message: str = "", actor) -> None:
    """Turn the manual maintenance on or off (admin); effective at once on this node, within 30 s elsewhere."""
    import logging

    from ecandidat.models import MaintenanceSwitch

    switch = MaintenanceSwitch.current()
    switch.is_on, switch.message = is_on, message
    switch.save()
    caches["maintenance"].set(SWITCH_CACHE_KEY, (is_on, message))
    logging.getLogger(__name__).info("maintenance switch %s by %s", "on" if is_on else "off", actor)


def is_under_maintenance(moment: datetime | None = None) -> tuple[bool, str]:
    """(under maintenance, message): the daily window or the manual switch."""
    is_on, message = switch_state()
    return (is_on or (settings.MAINTENANCE_WINDOW_ENFORCED and in_window(moment))), message
