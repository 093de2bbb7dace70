"""HTTP clients that a library builds for us, given a time limit.

python-cas (through django-cas-ng) validates a CAS ticket with a ``requests`` session and no timeout: a CAS server
that accepts the connection and never answers held the login, and a web worker, until the process manager killed it
(a bare 502, never the French message; each retry held another worker). django-cas-ng lets the settings give the
session (``CAS_SESSION_FACTORY``): ours sets a default timeout on every request, so a silent server becomes an
``OSError`` that the callback turns into « L'ENT n'a pas pu confirmer votre connexion ».
"""

from __future__ import annotations

from typing import Any

import requests
from django.conf import settings


class TimeoutSession(requests.Session):
    """A session whose requests time out after ``timeout`` seconds unless the caller gives its own."""

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(*args, **kwargs)


def cas_session() -> TimeoutSession:
    """``CAS_SESSION_FACTORY``: the session python-cas validates tickets with, limited to ``CAS_TIMEOUT_SECONDS``."""
    return TimeoutSession(settings.CAS_TIMEOUT_SECONDS)
