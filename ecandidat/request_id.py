"""The reference of a request: in each of its log lines, in its answer and on the 500 page, so that what a person reads
on that page (« Référence de l'erreur : … ») finds the lines of the log about it.

nginx gives each request its ``$request_id`` (32 hexadecimal characters) as ``X-Request-ID``
(deploy/nginx.conf.example), so that its own access log can show the same reference; without it, or with a value
that is not letters, digits and dashes (64 at most: nothing that could forge a log line), one is made here. The
answer carries it back as ``X-Request-ID``.

Also here: the admins' error mail (``ADMINS``, ecandidat/settings/base.py), which gives the reference and the
traceback but none of the request's data (its form fields, cookies, address), at most once per error and per process
every ``ADMINS_MAIL_INTERVAL`` seconds, so that an outage of the database is not a mail for each page that failed.
"""

from __future__ import annotations

import contextvars
import logging
import re
import threading
import time
import traceback
import uuid

from django.core.signals import request_finished
from django.http import HttpResponseServerError
from django.template import loader
from django.utils.safestring import SafeString
from django.views.debug import ExceptionReporter

HEADER = "X-Request-ID"
_ACCEPTED = re.compile(r"[A-Za-z0-9-]{1,64}")
# What a log line outside any request shows (a batch, a worker's task, the start).
NO_REQUEST = "-"

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("ecandidat_request_id", default=None)


def current() -> str | None:
    """The reference of the request being answered, None outside a request."""
    return _current.get()


def accepted(value: str | None) -> str | None:
    """``value`` when it may be a reference (letters, digits, dashes, 1 to 64 of them), else None."""
    return value if value is not None and _ACCEPTED.fullmatch(value) else None


class RequestIdMiddleware:
    """First of the middleware: every log line of the request, the other middleware's included, carries its
    reference, and every answer gives it back (``X-Request-ID``), the 500 page too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = accepted(request.headers.get(HEADER)) or uuid.uuid4().hex
        request.request_id = request_id
        # Until the answer is sent (request_finished, below), not only while the middleware runs: Django logs a 4xx
        # or 5xx answer after them (BaseHandler.get_response: « Service Unavailable: /healthz »), and a streamed
        # body (the CSV exports) is read after them too.
        _current.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


def _forget(**kwargs) -> None:
    """The answer is sent (its ``close()``, by the WSGI server or the test client): what is logged next in this
    thread is no longer about it."""
    _current.set(None)


request_finished.connect(_forget, dispatch_uid="ecandidat.request_id.forget")


class RequestIdFilter(logging.Filter):
    """Gives each log record the ``request_id`` of the request it was written in (``-`` outside one), for the
    format of ``LOGGING``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current() or NO_REQUEST
        return True


def server_error(request, *args, **kwargs):
    """``handler500``: templates/500.html with the request's reference. Rendered without the request, so that no
    context processor runs: no database, no session, no user (the error may be that the database is down)."""
    request_id = getattr(request, "request_id", None) or current()
    return HttpResponseServerError(loader.get_template("500.html").render({"request_id": request_id}))


# --- The admins' error mail ------------------------------------------------------------------------------------
# Seconds between two mails about the same error (the same exception raised at the same line) from one process.
ADMINS_MAIL_INTERVAL = 600
_MAX_REMEMBERED_ERRORS = 1000


class AdminMailThrottle(logging.Filter):
    """Lets through the first record of each error, then that error's next one ``ADMINS_MAIL_INTERVAL`` seconds
    later at the earliest (per process). An error is the exception's type and the line that raised it, or the
    message without an exception: during a database outage every page fails at the same line, one mail then."""

    def __init__(self, interval: float = ADMINS_MAIL_INTERVAL) -> None:
        super().__init__()
        self.interval = interval
        self._last_sent: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = _error_key(record)
        now = time.monotonic()
        with self._lock:
            last = self._last_sent.get(key)
            if last is not None and now - last < self.interval:
                return False
            if len(self._last_sent) >= _MAX_REMEMBERED_ERRORS:
                self._last_sent.clear()
            self._last_sent[key] = now
        return True


def _error_key(record: logging.LogRecord) -> tuple[str, ...]:
    exc_type, _value, tb = record.exc_info or (None, None, None)
    if exc_type is None:
        return (record.name, record.getMessage())
    frames = traceback.extract_tb(tb) if tb is not None else []
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return (record.name, exc_type.__qualname__, where)


class ReferenceOnlyReporter(ExceptionReporter):
    """The body of the admins' mail: the reference and the traceback, nothing of the request (Django's report lists
    its form fields, cookies, the person's address and account: candidates' personal data, sent by mail)."""

    def get_traceback_text(self) -> SafeString:
        lines = [f"Référence de l'erreur (request id) : {current() or NO_REQUEST}"]
        if self.request is not None:
            lines.append(f"{self.request.method} {self.request.path}")
        if self.exc_type is not None and isinstance(self.exc_value, BaseException):
            lines.append("".join(traceback.format_exception(self.exc_type, self.exc_value, self.tb)))
        lines.append("The rest is in the application's log, under the same reference.")
        # The plain text of a mail, as Django's own is (its technical_500.txt rendered without autoescaping).
        return SafeString("\n\n".join(lines))

    def get_traceback_html(self) -> SafeString:
        return SafeString("")  # no HTML part (AdminEmailHandler's include_html is off)
