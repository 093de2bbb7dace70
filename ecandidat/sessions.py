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

``SessionStore`` (``SESSION_ENGINE = "ecandidat.sessions"``) is Django's database store whose row is read through a
prepared query (``ecandidat.prepared``): every logged-in request reads it, and compiling that query cost more than
running it. Same table, same data: sessions opened before the change stay valid.
"""

import time

from django.conf import settings
from django.contrib.sessions.backends import db
from django.utils import timezone

from ecandidat.prepared import PreparedQuery

REFRESHED_AT_KEY = "_ecandidat_refreshed_at"


def refresh_session(request) -> int:
    """Move the session's expiry to ``SESSION_COOKIE_AGE`` from now (saved with the response); seconds left."""
    request.session[REFRESHED_AT_KEY] = int(time.time())
    request.session_expires_in = settings.SESSION_COOKIE_AGE
    return settings.SESSION_COOKIE_AGE


def stamp_on_login(sender, request, user, **kwargs) -> None:
    """``user_logged_in``: the login saves the session with a full expiry; record it as a refresh."""
    if request is not None and hasattr(request, "session"):
        refresh_session(request)


class SessionRefreshMiddleware:
    """After ``django.contrib.sessions``' middleware: refresh a non-empty session when its last refresh is older
    than ``SESSION_REFRESH_AFTER`` (marking it modified, so that the session middleware saves it and renews the
    cookie); set ``request.session_expires_in``, the seconds it has left."""

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
            if not isinstance(refreshed_at, int) or not 0 <= now - refreshed_at < settings.SESSION_REFRESH_AFTER:
                refresh_session(request)
            else:
                request.session_expires_in = refreshed_at + settings.SESSION_COOKIE_AGE - now
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
