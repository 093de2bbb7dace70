"""Shared helpers of the accounts tests."""

import contextlib
import datetime

import time_machine
from django.utils import timezone

ALL_DAY_WINDOW = (datetime.time(0, 0), datetime.time(23, 59, 59))


@contextlib.contextmanager
def all_day_maintenance(settings):
    """The maintenance window enforced all day long (``ALL_DAY_WINDOW``, 00:00–23:59:59), and the clock inside it
    for the block.

    That window leaves out the day's last second (its end is excluded), so the clock is kept off it: it ticks on from
    the real time or, in the day's last two minutes, from just after the next midnight (one to two minutes ahead).
    Never further nor backwards: peers in other processes (the development ENT) keep the real time and what they sign
    (ID tokens) must stay valid here; and it ticks, so timeouts still run."""
    settings.MAINTENANCE_WINDOW_ENFORCED = True
    settings.MAINTENANCE_START, settings.MAINTENANCE_END = ALL_DAY_WINDOW
    now = timezone.localtime()
    if now.time() >= datetime.time(23, 58):
        now = (now + datetime.timedelta(minutes=2)).replace(second=0, microsecond=0)
    with time_machine.travel(now, tick=True):
        yield
