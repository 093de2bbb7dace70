"""Sliding sessions without a write on every request (issue 14).

eCandidat's session ends after ``SESSION_COOKIE_AGE`` (45 minutes) of inactivity. ``SESSION_SAVE_EVERY_REQUEST``
gave that by rewriting the session row (an UPDATE and a COMMIT) on every logged-in request. Instead, the session
keeps the time of its last refresh (``REFRESHED_AT_KEY``, seconds since the epoch) and ``SessionRefreshMiddleware``
saves it again, which moves its expiry (row and cookie) to ``SESSION_COOKIE_AGE`` from now, only once
``SESSION_REFRESH_AFTER`` seconds have passed since that refresh. A candidate active every few minutes costs one
write per ``SESSION_REFRESH_AFTER`` instead of one per page.

The idle timeout after the last request is therefore between ``SESSION_COOKIE_AGE - SESSION_REFRESH_AFTER`` and
``SESSION_COOKIE_AGE`` (40 to 45 minutes by default), never longer: a stolen or forgotten session does not live
longer than before. The pages say how long *this* session really has left (``request.session_expires_in``, the
``session_cookie_age`` of the templates), so the expiry warning of ``static/js/session.js`` comes two minutes before
the real end; "Rester connecté" refreshes at once (``refresh_session``).

An absolute lifetime on top (ANSSI, OWASP): a logged-in session ends ``SESSION_ABSOLUTE_AGE`` (12 hours) after its
login, however active. The login stamps its time (``LOGGED_IN_AT_KEY``, ``stamp_on_login``: every login path, password,
ENT over OpenID Connect or CAS, the back office's, goes through ``django.contrib.auth.login`` and its
``user_logged_in``); ``SessionRefreshMiddleware``, before ``AuthenticationMiddleware``, logs out a session older than
that, so the request goes on anonymous (``LoginRequiredMiddleware`` sends the person to the login page), and
``SessionEndedMessageMiddleware``, after ``MessageMiddleware``, says why. What a page or "Rester connecté" says is
left never goes past that end. A logged-in session without the stamp (opened before the limit existed) is stamped at
its next request: it ends ``SESSION_ABSOLUTE_AGE`` after it, nobody is logged out at the deploy. No query: the stamp
is in the session already read.

``SessionStore`` (``SESSION_ENGINE = "ecandidat.sessions"``) is Django's database store whose row is read through a
prepared query (``ecandidat.prepared``): every logged-in request reads it, and compiling that query cost more than
running it. Same table, same data: sessions opened before the change stay valid.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.sessions.backends import db
from django.utils import timezone
from django.utils.translation import ngettext

from ecandidat.prepared import PreparedQuery

REFRESHED_AT_KEY = "_ecandidat_refreshed_at"
# When the session's user logged in (seconds since the epoch): the session ends SESSION_ABSOLUTE_AGE after it.
LOGGED_IN_AT_KEY = "_ecandidat_logged_in_at"


def _seconds_left(session, now: int) -> int:
    """What the session has left from ``now``, its last refresh just saved: the idle timeout, never past the absolute
    end of a logged-in session."""
    refreshed_at = session[REFRESHED_AT_KEY]
    left = refreshed_at + settings.SESSION_COOKIE_AGE - now
    logged_in_at = session.get(LOGGED_IN_AT_KEY)
    if isinstance(logged_in_at, int):
        left = min(left, logged_in_at + settings.SESSION_ABSOLUTE_AGE - now)
    return max(0, left)


def refresh_session(request) -> int:
    """Move the session's expiry to ``SESSION_COOKIE_AGE`` from now (saved with the response); seconds left, never
    past ``SESSION_ABSOLUTE_AGE`` after the login. A logged-in session without its login time (opened before the
    absolute limit) gets now as that time."""
    session = request.session
    now = int(time.time())
    session[REFRESHED_AT_KEY] = now
    if SESSION_KEY in session and not isinstance(session.get(LOGGED_IN_AT_KEY), int):
        session[LOGGED_IN_AT_KEY] = now
    request.session_expires_in = _seconds_left(session, now)
    return request.session_expires_in


def stamp_on_login(sender, request, user, **kwargs) -> None:
    """``user_logged_in``: the login saves the session with a full expiry; record it as a refresh, and the login's
    time, from which the session lasts ``SESSION_ABSOLUTE_AGE`` at most."""
    if request is not None and hasattr(request, "session"):
        request.session[LOGGED_IN_AT_KEY] = int(time.time())
        refresh_session(request)


def absolute_age_message() -> str:
    """Why the person was logged out, in whole hours when ``SESSION_ABSOLUTE_AGE`` is some, else in minutes."""
    age = settings.SESSION_ABSOLUTE_AGE
    if age % 3600 == 0:
        hours = age // 3600
        return ngettext(
            "For your security, a session lasts at most %(hours)s hour: please log in again.",
            "For your security, a session lasts at most %(hours)s hours: please log in again.",
            hours,
        ) % {"hours": hours}
    minutes = age // 60
    return ngettext(
        "For your security, a session lasts at most %(minutes)s minute: please log in again.",
        "For your security, a session lasts at most %(minutes)s minutes: please log in again.",
        minutes,
    ) % {"minutes": minutes}


class SessionRefreshMiddleware:
    """After ``django.contrib.sessions``' middleware: refresh a non-empty session when its last refresh is older
    than ``SESSION_REFRESH_AFTER`` (marking it modified, so that the session middleware saves it and renews the
    cookie); set ``request.session_expires_in``, the seconds it has left. Before ``AuthenticationMiddleware``: a
    logged-in session older than ``SESSION_ABSOLUTE_AGE`` since its login is logged out here (its row deleted), so
    the whole request is anonymous; ``request.session_ended_at_absolute_age`` tells
    ``SessionEndedMessageMiddleware``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Without a session cookie there is nothing to refresh: the session is not touched here.
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return self.get_response(request)
        session = request.session
        refreshed_at = session.get(REFRESHED_AT_KEY)  # loads the session: one query, shared with authentication
        if session.session_key is not None and session.keys():
            now = int(time.time())
            logged_in_at = session.get(LOGGED_IN_AT_KEY)
            if (
                SESSION_KEY in session
                and isinstance(logged_in_at, int)
                and now - logged_in_at >= settings.SESSION_ABSOLUTE_AGE
            ):
                logout(request)  # request.user is not set yet: the session flushed, authentication finds nobody
                request.session_ended_at_absolute_age = True
            elif not isinstance(refreshed_at, int) or not 0 <= now - refreshed_at < settings.SESSION_REFRESH_AFTER:
                refresh_session(request)
            elif SESSION_KEY in session and not isinstance(logged_in_at, int):
                refresh_session(request)  # logged in before the absolute limit existed: stamped now, once
            else:
                request.session_expires_in = _seconds_left(session, now)
        return self.get_response(request)


class SessionEndedMessageMiddleware:
    """After ``MessageMiddleware``: a session that ``SessionRefreshMiddleware`` ended at ``SESSION_ABSOLUTE_AGE``
    says so, on the login page ``LoginRequiredMiddleware`` sends the person to (or on the public page asked for).
    Nothing on other requests."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if getattr(request, "session_ended_at_absolute_age", False):
            messages.error(request, absolute_age_message())
        return self.get_response(request)


class SessionStore(db.SessionStore):
    """Django's database sessions, the row read through a prepared query (issue 14)."""

    def _get_session_from_db(self):
        found = _UNEXPIRED_SESSION.first(session_key=self.session_key, now=timezone.now())
        if found is None:
            self._session_key = None  # as Django's store: a new session will be created on save
        return found


_UNEXPIRED_SESSION = PreparedQuery(
    lambda session_key, now: SessionStore.get_model_class().objects.filter(
        session_key=session_key, expire_date__gt=now
    )
)
