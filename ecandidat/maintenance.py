"""The nightly maintenance window, in local time (Europe/Paris by default), and the manual switches: the whole
candidate site, or only the piece uploads (eCandidat ``TECH_IS_DEMAT_MAINTENANCE``)."""

import logging
import math
from datetime import UTC, datetime, time, timedelta
from time import monotonic
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.core.cache import caches
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render, resolve_url
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext

from ecandidat.models import MaintenanceSwitch

SWITCH_CACHE_KEY = "switch"
# How long each process keeps the switch in memory before asking the cache again (issue 14: no cache round trip
# on every request; issue 9: pages keep working while the cache is down).
SWITCH_MEMORY_SECONDS = 5.0

# How long before the nightly window the candidate pages warn that the application is about to close.
WINDOW_WARNING_MINUTES = 60

# The methods that send nothing to save (RFC 9110 « safe »; Django's CSRF check lets the same ones through). Only a
# request of another method (a form posted) is told on the maintenance page that what it sent was not saved: a GET
# is often the page a form posted just before the window redirects to (post/redirect/get), its form already saved.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

# The header the pieces table's upload script (static/js/upload.js) sends: it reads a JSON answer, not a page.
UPLOAD_SCRIPT_HEADER = "X-Upload-Progress"

# (is_on, message, uploads_paused, uploads_message): the switch row, as the memory and the cache hold it.
SwitchRow = tuple[bool, str, bool, str]

logger = logging.getLogger(__name__)
# (valid until, on time.monotonic(); the switch row) for this process; None: ask the cache.
_memory: tuple[float, SwitchRow] | None = None


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


def minutes_until_window(moment: datetime | None = None) -> int | None:
    """Minutes from ``moment`` (default: now) to the next start of the enforced nightly window, when it is at most
    ``WINDOW_WARNING_MINUTES`` away; None otherwise (further away, inside the window, or window not enforced).

    The candidate pages say then that the application is about to close: on the last day of a campaign, what is not
    saved and transmitted by the start of the window waits until its end, after the deadline.
    """
    if not settings.MAINTENANCE_WINDOW_ENFORCED:
        return None
    now = timezone.localtime(moment or timezone.now())
    if in_window(now):
        return None
    start_time = settings.MAINTENANCE_START
    start = now.replace(hour=start_time.hour, minute=start_time.minute, second=0, microsecond=0)
    if start <= now:
        start = (now + timedelta(days=1)).replace(
            hour=start_time.hour, minute=start_time.minute, second=0, microsecond=0
        )
    # Subtract in UTC, as seconds_until_window_ends does.
    minutes = math.ceil((start.astimezone(UTC) - now.astimezone(UTC)).total_seconds() / 60)
    return minutes if minutes <= WINDOW_WARNING_MINUTES else None


def _row(cached: object) -> SwitchRow | None:
    """The cached value as a full row. A pair ``(is_on, message)`` is what a process of the previous version (or a
    test) wrote: the uploads are then open. Anything else is ignored (read from the database)."""
    if isinstance(cached, tuple | list) and len(cached) in (2, 4):
        is_on, message, *uploads = cached
        paused, uploads_message = uploads or (False, "")
        return bool(is_on), str(message), bool(paused), str(uploads_message)
    return None


def _switch_row() -> SwitchRow:
    """The switch row, read on every candidate request without a query.

    Three levels: this process's memory for ``SWITCH_MEMORY_SECONDS``, then the ``maintenance`` cache alias
    (shared by all processes), then the database. A failing cache (Redis down) is logged and skipped: the page
    reads the database rather than answering 500.
    """
    global _memory
    now = monotonic()
    remembered = _memory
    if remembered is not None and now < remembered[0]:
        return remembered[1]
    cache = caches["maintenance"]
    cache_works = True
    try:
        row = _row(cache.get(SWITCH_CACHE_KEY))
    except Exception as exc:  # whatever the cache backend raises, the switch must still be read
        logger.warning("maintenance switch: cache unavailable (%s), read from the database", type(exc).__name__)
        cache_works, row = False, None
    if row is None:
        switch = MaintenanceSwitch.current()
        row = (switch.is_on, switch.message, switch.uploads_paused, switch.uploads_message)
        if cache_works:
            try:
                # Only when the cache has none: a change published since this read is not written over with the
                # row read before it (several nodes: up to the cache's 30 s of the old state everywhere, review).
                cache.add(SWITCH_CACHE_KEY, row)
            except Exception as exc:  # the page has its row: the next reads go to the database again
                logger.warning("maintenance switch: cache unavailable (%s), not cached", type(exc).__name__)
    _memory = (now + SWITCH_MEMORY_SECONDS, row)
    return row


def switch_state() -> tuple[bool, str]:
    """(is_on, message) of the manual switch of the whole candidate site (see ``_switch_row`` for the reads)."""
    is_on, message, _paused, _uploads_message = _switch_row()
    return is_on, message


def uploads_state() -> tuple[bool, str]:
    """(paused, message) of the piece uploads (eCandidat ``TECH_IS_DEMAT_MAINTENANCE``), read like the switch of
    the whole site, from the same row: no query once it is cached."""
    _is_on, _message, paused, message = _switch_row()
    return paused, message


def forget_switch() -> None:
    """Drop this process's copy of the switch (tests; the next read goes to the cache)."""
    global _memory
    _memory = None


def set_switch(*, is_on: bool, message: str = "", actor) -> MaintenanceSwitch:
    """Turn the manual maintenance of the whole candidate site on or off (admin); effective once the transaction
    commits: at once on this process, within ``SWITCH_MEMORY_SECONDS`` elsewhere (within the cache's 30 s timeout if
    the cache is down). Returns the saved row."""
    return _save_switch(actor=actor, is_on=is_on, message=message)


def set_uploads_switch(*, paused: bool, message: str = "", actor) -> MaintenanceSwitch:
    """Put the piece uploads in maintenance, or back in service (eCandidat ``TECH_IS_DEMAT_MAINTENANCE``): while
    paused, candidates cannot add, replace or remove a file (``documents.services.check_uploads_open``). Effective
    as ``set_switch`` is. Returns the saved row."""
    return _save_switch(actor=actor, uploads_paused=paused, uploads_message=message)


def save_switches(
    *, is_on: bool, message: str, uploads_paused: bool, uploads_message: str, actor
) -> MaintenanceSwitch:
    """Both switches at once (the back office's form), in one write. Returns the saved row (its pk and date are
    the admin's history entry's)."""
    return _save_switch(
        actor=actor, is_on=is_on, message=message, uploads_paused=uploads_paused, uploads_message=uploads_message
    )


def _save_switch(*, actor, **fields: bool | str) -> MaintenanceSwitch:
    """Save the row. The state every page reads is published (cache and this process's memory) only once the
    transaction commits, read again from the database then: a change rolled back never reaches a page. Meanwhile
    the old state is dropped, so that readers go to the database, which holds the committed row (only a read in the
    saving transaction itself, which the admin's save does not make, would see and cache the row not committed)."""
    switch = MaintenanceSwitch.current()
    for name, value in fields.items():
        setattr(switch, name, value)
    switch.save()
    _forget_everywhere()
    transaction.on_commit(_publish_switch)
    logger.info(
        "maintenance switch %s, piece uploads %s, by %s",
        "on" if switch.is_on else "off",
        "paused" if switch.uploads_paused else "open",
        actor,
    )
    return switch


def _forget_everywhere() -> None:
    """Drop the switch from this process's memory and from the shared cache."""
    forget_switch()
    try:
        caches["maintenance"].delete(SWITCH_CACHE_KEY)
    except Exception as exc:  # the database holds the truth; other processes read it within the cache's timeout
        logger.warning("maintenance switch: cache unavailable (%s), not dropped", type(exc).__name__)


def _publish_switch() -> None:
    """Once a change has committed: the committed row into the cache and this process's memory."""
    global _memory
    switch = MaintenanceSwitch.current()
    row = (switch.is_on, switch.message, switch.uploads_paused, switch.uploads_message)
    try:
        caches["maintenance"].set(SWITCH_CACHE_KEY, row)
    except Exception as exc:  # the database holds the truth; other processes read it within the cache's timeout
        logger.warning("maintenance switch: cache unavailable (%s), saved in the database only", type(exc).__name__)
    _memory = (monotonic() + SWITCH_MEMORY_SECONDS, row)


def is_under_maintenance(moment: datetime | None = None) -> tuple[bool, str]:
    """(under maintenance, message): the daily window or the manual switch. The switch's message only while the
    switch is on: the window has its own words (the maintenance page's default message)."""
    is_on, message = switch_state()
    return (is_on or (settings.MAINTENANCE_WINDOW_ENFORCED and in_window(moment))), (message if is_on else "")


def page_for(request: HttpRequest, user) -> HttpResponse | None:
    """The maintenance page (503, ``Retry-After``, never cached) for ``user`` while the application is under
    maintenance (the window or the switch), unless ``user`` is staff; None when ``user`` may go on.

    The one rule of the maintenance: the middleware asks it for the request's user, the ENT logins
    (``accounts.adapters.SocialAccountAdapter.pre_social_login``) for the person the ENT has just named, and every
    login (``accounts.adapters.AccountAdapter.pre_login``: the login page passes the middleware, for staff) for the
    account about to be logged in, before they are logged in. ``user`` may be None (nobody yet) or an account not
    saved yet (an unknown ENT identity).

    Only a request that sends something (not in ``SAFE_METHODS``: a form posted as the maintenance started) is
    told that it was not saved. A GET is not: it may be the page that a form saved just before the window
    redirects to, and that page shows the messages the form left (« Votre candidature a été transmise… »;
    ``MessageMiddleware`` runs before ``MaintenanceMiddleware``).

    A file sent by the pieces table's upload script (``UPLOAD_SCRIPT_HEADER``) gets JSON instead, which the script
    reads: the page to open, which says it (``_upload_script_answer``).
    """
    if user is not None and user.is_authenticated and user.is_staff:
        return None
    under_maintenance, message = is_under_maintenance()
    if not under_maintenance:
        return None
    response: HttpResponse
    if request.method not in SAFE_METHODS and request.headers.get(UPLOAD_SCRIPT_HEADER):
        response = _upload_script_answer(request)
    else:
        response = render(
            request,
            "ecandidat/maintenance.html",
            {
                "message": message,
                "sent_not_saved": request.method not in SAFE_METHODS,
                "maintenance_start_label": hour_label(settings.MAINTENANCE_START),
                "maintenance_end_label": hour_label(settings.MAINTENANCE_END),
            },
            status=503,
        )
    response["Retry-After"] = str(seconds_until_window_ends())
    response["Cache-Control"] = "no-store"
    # Not « ERROR django.request Service Unavailable » for each candidate's request of the night (Django logs every
    # 5xx answer at ERROR unless marked logged, django.utils.log.log_response): the site is closed on purpose, and
    # alerts on ERROR fired all night. A line at DEBUG only; a real 500 or another 503 is still an ERROR.
    response._has_been_logged = True  # type: ignore[attr-defined]
    logger.debug("maintenance page (503) for %s %s", request.method, request.path)
    return response


def _upload_script_answer(request: HttpRequest) -> JsonResponse:
    """A file sent by the pieces table's upload script once the maintenance has started: refused whole as any form
    posted then, answered as the script's uploads are (``applications.views_pieces._done``): JSON, the address of
    the page to open (``location``), the message left for that page. The page is answered by the maintenance too,
    which shows the message, in the page's language, and the hours of the window.

    The maintenance page itself would be read by the script as a connection or server failure (it expects JSON):
    « Réessayez » in the row, at every try, and never that the site is closed or that the closing extends no
    deadline (review). No ``retry_after`` in the body: the script would send the file again by itself after it (the
    answer of a saturated server), hours later here, with no one before the page.
    """
    # The maintenance page's sentence for a refused post (templates/ecandidat/maintenance.html): the same msgid.
    not_saved = gettext(
        "What you have just sent was not saved: the site was already closed for maintenance when it arrived. If your "
        "deadline has not passed by then, send it again once the maintenance is over: the maintenance does not "
        "extend any deadline."
    )
    # Without MessageMiddleware (never in this project's settings) the page opened still says the maintenance.
    messages.error(request, not_saved, fail_silently=True)
    return JsonResponse({"location": _page_to_open(request)}, status=503)


def _page_to_open(request: HttpRequest) -> str:
    """The page the file was sent from (``Referer``), when it is a page of this site; the candidate's dossier
    otherwise (``LOGIN_REDIRECT_URL``). Only its path and query are given, and only when they are an address of this
    site themselves (a path starting ``//`` would be another site's for the browser)."""
    referer = request.headers.get("Referer", "")
    try:
        parts = urlsplit(referer)
    except ValueError:  # "http://[x": no page of ours
        return resolve_url(settings.LOGIN_REDIRECT_URL)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.netloc and path.startswith("/") and all(_of_this_site(request, url) for url in (referer, path)):
        return path
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _of_this_site(request: HttpRequest, url: str) -> bool:
    return url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure())
