"""Connection tests of every external service (eCandidat "Versions" screen, ecandidat-features §2.2; issue #102):
what is configured, whether it answers now, and how long it took. Read by the back office's "Tests de connexion"
page (``ecandidat.admin_connectivity``), for superusers only: the lines reveal the infrastructure.

The registry follows ``ecandidat.notifications``: each check lives in the lowest layer that holds the code it needs
and is registered from its ``AppConfig.ready()``: ``ecandidat.connectivity_checks`` the database, Redis, SMTP, the
file storage and the ENT (they need nothing above this layer); ``documents.connectivity`` clamd,
``accounts.connectivity`` the LDAP directory and ``applications.connectivity`` Pégase and LimeSurvey.

A check is real and cheap: it opens a connection, says hello, reads one small thing and closes, within
``CHECK_TIMEOUT`` seconds. Its ``probe`` raises on failure; ``run_check`` turns every outcome into a
``CheckResult`` and never raises. ``run_checks`` runs them all at once in threads, and gives up on the slow ones
after ``OVERALL_TIMEOUT`` seconds. Secrets (passwords, keys, tokens) are never shown: the configuration line masks
them, and every message and technical detail is scrubbed of them before it leaves this module.
"""

import enum
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, replace
from urllib.parse import unquote_plus, urlsplit, urlunsplit

import requests
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import connections
from django.utils import translation
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

logger = logging.getLogger(__name__)

CHECK_TIMEOUT = 5.0  # seconds, for each connection and each answer of one check
OVERALL_TIMEOUT = 6.0  # seconds for the whole page: the checks run at once; a slower one is reported as such
MASK = "••••"
# LogEntry rows of this page: no content type (nothing to link to), this object id.
LOG_OBJECT_ID = "connectivity"
DETAIL_MAX = 500
SUMMARY_MAX = 5000

# The messages shown for a failure, in the administrator's words; the technical detail follows them.
REFUSED = gettext_lazy("Connection refused: nothing answers at this address.")
TIMED_OUT = gettext_lazy("No answer in time.")
UNKNOWN_HOST = gettext_lazy("Unknown host name.")
TLS_FAILED = gettext_lazy("The secure connection (TLS) failed: certificate or protocol.")
CREDENTIALS_REFUSED = gettext_lazy("The credentials were refused.")
UNEXPECTED_ANSWER = gettext_lazy("Unexpected answer.")
FAILED = gettext_lazy("The connection failed.")


class Outcome(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"
    NOT_CONFIGURED = "not_configured"
    NOT_RUN = "not_run"  # configured, not tested yet (the page before "Tester")

    @property
    def label(self) -> str:
        return str(_OUTCOME_LABELS[self])


_OUTCOME_LABELS = {
    Outcome.OK: pgettext_lazy("connection test", "OK"),
    Outcome.FAILED: pgettext_lazy("connection test", "failed"),
    Outcome.NOT_CONFIGURED: pgettext_lazy("connection test", "not configured"),
    Outcome.NOT_RUN: pgettext_lazy("connection test", "not tested"),
}


class CheckFailed(Exception):
    """A probe's own failure: ``message`` for the administrator, ``detail`` for the technician."""

    def __init__(self, message: Promise | str, detail: str = ""):
        super().__init__(detail or str(message))
        self.message, self.detail = message, detail


def _no_secrets() -> Iterable[str]:
    return ()


@dataclass(frozen=True)
class Check:
    """One external service.

    ``describe()`` says what is configured, secrets masked (None: not configured); ``probe(timeout)`` talks to the
    service (each connection and answer within ``timeout`` seconds), returns what it learnt (a version, a count)
    and raises on failure, preferably ``CheckFailed`` with the administrator's message; ``secrets()`` lists the
    values that must never be shown (scrubbed from every message). ``settings_names`` names what configures it.
    """

    key: str
    label: Promise
    order: int
    settings_names: str
    describe: Callable[[], str | None]
    probe: Callable[[float], str]
    secrets: Callable[[], Iterable[str]] = _no_secrets


@dataclass(frozen=True)
class CheckResult:
    """One line of the page. ``label`` and ``message`` are words translated when shown (lazy): the page reads them
    in the superuser's language, the history in the institution's (``summary``)."""

    key: str
    label: str | Promise
    configuration: str
    outcome: Outcome
    message: str | Promise = ""
    detail: str = ""
    elapsed_ms: int | None = None

    @property
    def outcome_label(self) -> str:
        return self.outcome.label


# --- Registry -------------------------------------------------------------------------------------------------

_REGISTRY: dict[str, Check] = {}


def register(*checks: Check) -> None:
    """Add checks (from an ``AppConfig.ready()``); registering the same key again replaces it."""
    for check in checks:
        _REGISTRY[check.key] = check


def registered() -> list[Check]:
    """Every registered check, in page order."""
    return sorted(_REGISTRY.values(), key=lambda check: (check.order, check.key))


def get(key: str) -> Check | None:
    return _REGISTRY.get(key)


# --- Masking --------------------------------------------------------------------------------------------------

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]*)@", re.I)
_SECRET_PARAMETERS = ("password", "passwd", "pwd", "secret", "token", "key", "signature", "credential")


def mask_url(url: str) -> str:
    """``url`` with its password and any secret-looking query parameter replaced by ``••••``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user = parts.username or ""
        host = netloc.rpartition("@")[2]
        netloc = f"{user}:{MASK}@{host}"
    pairs = []
    for pair in parts.query.split("&") if parts.query else []:
        name, equals, _value = pair.partition("=")
        if equals and any(word in unquote_plus(name).lower() for word in _SECRET_PARAMETERS):
            pair = f"{name}={MASK}"
        pairs.append(pair)
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(pairs), parts.fragment))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` without any of ``secrets`` nor any password written in a URL."""
    text = _URL_CREDENTIALS.sub(lambda match: f"{match['scheme']}{match['user']}:{MASK}@", text)
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _scrubbed(message: Promise, secrets: list[str]) -> str:
    return scrub(str(message), secrets)


_lazy_scrub = lazy(_scrubbed, str)


def scrub_message(message: Promise | str, secrets: Iterable[str]) -> Promise | str:
    """``scrub`` for an administrator's message that may be words translated when shown: scrubbed then, in the
    language it is read in."""
    if isinstance(message, Promise):
        return _lazy_scrub(message, list(secrets))
    return scrub(message, secrets)


# --- Running --------------------------------------------------------------------------------------------------


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def failure_message(exc: BaseException) -> Promise | str:
    """The administrator's words for a failure, from the exception or what caused it (translated when shown)."""
    chain = list(_chain(exc))
    for error in chain:
        if isinstance(error, CheckFailed):
            return error.message
    for error in chain:
        if isinstance(error, ConnectionRefusedError):
            return REFUSED
        if isinstance(error, TimeoutError | requests.Timeout):
            return TIMED_OUT
        if isinstance(error, socket.gaierror):
            return UNKNOWN_HOST
        if isinstance(error, ssl.SSLError):
            return TLS_FAILED
    # Clients that keep only the text of the socket error (redis, ldap3, requests' wrappers).
    text = " ".join(str(error) for error in chain).lower()
    if "refused" in text:
        return REFUSED
    if "timed out" in text or "timeout" in text:
        return TIMED_OUT
    if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return UNKNOWN_HOST
    if "ssl" in text or "certificate" in text:
        return TLS_FAILED
    return FAILED


def _detail(exc: BaseException) -> str:
    if isinstance(exc, CheckFailed) and exc.detail:
        return exc.detail
    return f"{type(exc).__name__}: {exc}"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_MAX else text[: DETAIL_MAX - 1] + "…"


def _secrets_of(check: Check) -> list[str]:
    try:
        return [str(secret) for secret in check.secrets() if secret]
    except Exception as exc:  # without its secrets, nothing of the check may be shown: it is not run
        raise CheckFailed(FAILED, f"secrets: {type(exc).__name__}") from exc


def describe(check: Check) -> CheckResult:
    """The line of ``check`` before it is run: what is configured, or "not configured"."""
    try:
        secrets = _secrets_of(check)
        try:
            configuration = check.describe()
        except Exception as exc:  # odd settings: show the check as failed rather than break the page
            raise CheckFailed(FAILED, scrub(f"configuration: {type(exc).__name__}: {exc}", secrets)) from exc
    except CheckFailed as exc:
        return CheckResult(check.key, check.label, "", Outcome.FAILED, exc.message, exc.detail)
    if configuration is None:
        return CheckResult(check.key, check.label, check.settings_names, Outcome.NOT_CONFIGURED)
    return CheckResult(check.key, check.label, scrub(configuration, secrets), Outcome.NOT_RUN)


def run_check(check: Check, *, timeout: float = CHECK_TIMEOUT) -> CheckResult:
    """Run one check and report it; never raises (whatever the probe does, it is a line of the page)."""
    line = describe(check)
    if line.outcome != Outcome.NOT_RUN:
        return line
    secrets = _secrets_of(check)  # listed a moment ago by describe()
    started = time.monotonic()
    try:
        learnt = check.probe(timeout)
    except Exception as exc:  # every failure is a result: refused, timed out, refused credentials, a bug
        elapsed = round((time.monotonic() - started) * 1000)
        logger.info("connection test %s failed: %s", check.key, scrub(_detail(exc), secrets))
        return replace(
            line,
            outcome=Outcome.FAILED,
            message=scrub_message(failure_message(exc), secrets),
            detail=_short(scrub(_detail(exc), secrets)),
            elapsed_ms=elapsed,
        )
    elapsed = round((time.monotonic() - started) * 1000)
    return replace(line, outcome=Outcome.OK, detail=_short(scrub(str(learnt or ""), secrets)), elapsed_ms=elapsed)


def _run_in_thread(check: Check, timeout: float, language: str | None) -> CheckResult:
    try:
        with translation.override(language):  # the page's language: the active one is per thread
            return run_check(check, timeout=timeout)
    finally:
        connections.close_all()  # this thread's own database connections (Django keeps one per thread)


def run_checks(
    checks: Iterable[Check] | None = None, *, timeout: float = CHECK_TIMEOUT, overall: float = OVERALL_TIMEOUT
) -> list[CheckResult]:
    """Run every check (default: every registered one) at once, each in its own thread, and return their lines in
    order after at most ``overall`` seconds: a check still running then is reported as not answering in time (its
    thread ends by itself within its own timeout)."""
    checks = list(registered() if checks is None else checks)
    results: dict[str, CheckResult] = {}
    to_run = []
    for check in checks:
        line = describe(check)
        if line.outcome == Outcome.NOT_RUN:
            to_run.append((check, line))
        else:
            results[check.key] = line
    if to_run:
        pool = ThreadPoolExecutor(max_workers=len(to_run), thread_name_prefix="connectivity")
        language = translation.get_language()
        futures = {check.key: pool.submit(_run_in_thread, check, timeout, language) for check, _line in to_run}
        wait_for(futures.values(), timeout=overall)
        pool.shutdown(wait=False, cancel_futures=True)
        for check, line in to_run:
            future = futures[check.key]
            if future.done():
                results[check.key] = future.result()
            else:
                results[check.key] = replace(
                    line,
                    outcome=Outcome.FAILED,
                    message=TIMED_OUT,
                    detail=f"still running after {overall:g} s",
                    elapsed_ms=round(overall * 1000),
                )
    return [results[check.key] for check in checks]


def describe_checks(checks: Iterable[Check] | None = None) -> list[CheckResult]:
    """Every check's line before any test (the page as it opens): no connection is made."""
    return [describe(check) for check in (registered() if checks is None else checks)]


# --- Traceability ---------------------------------------------------------------------------------------------


def summary(results: Iterable[CheckResult]) -> str:
    """One line per run, for the admin's history: each service, its outcome, its message and detail, its time. In
    the institution's language, as every history line (read by staff, whoever ran the tests)."""
    with translation.override(settings.LANGUAGE_CODE):
        return _summary(results)


def _summary(results: Iterable[CheckResult]) -> str:
    parts = []
    for result in results:
        part = gettext("%(service)s: %(outcome)s") % {"service": result.label, "outcome": result.outcome_label}
        if result.message:
            part += f" — {result.message}"
        if result.detail and result.outcome == Outcome.FAILED:
            part += f" [{result.detail}]"
        if result.elapsed_ms is not None:
            part += f" ({result.elapsed_ms} ms)"
        parts.append(part)
    text = " ; ".join(parts)
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"


def record(*, actor, text: str) -> LogEntry:
    """Write what was done on the page to the admin's history (LogEntry): who, when, what came out (``text`` in the
    institution's language, as the row's name)."""
    with translation.override(settings.LANGUAGE_CODE):
        name = gettext("Connection tests")
    return LogEntry.objects.create(
        user_id=actor.pk,
        content_type=None,
        object_id=LOG_OBJECT_ID,
        object_repr=name,
        action_flag=CHANGE,
        change_message=text,
    )


def recent_runs(limit: int = 10) -> list[LogEntry]:
    """The page's last entries in the admin's history, newest first (one query)."""
    return list(
        LogEntry.objects.filter(content_type__isnull=True, object_id=LOG_OBJECT_ID)
        .select_related("user")
        .order_by("-action_time", "-pk")[:limit]
    )
