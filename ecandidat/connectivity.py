"""Connection tests of every external service (eCandidat "Versions" screen, ecandidat-features §2.2; issue #102):
what is configured, whether it answers now, and how long it took. Read by the back office's "Tests de connexion"
page (``ecandidat.admin_connectivity``), for superusers only: the lines reveal the infrastructure.

The registry follows ``ecandidat.notifications``: each check lives in the lowest layer that holds the code it needs
and is registered from there. This module holds those that need nothing above it (database, Redis, SMTP, file
storage, ENT); ``documents.connectivity`` registers clamd, ``accounts.connectivity`` the LDAP directory and
``applications.connectivity`` Pégase and LimeSurvey, each from its ``AppConfig.ready()``.

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
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, replace
from typing import Any, cast
from urllib.parse import unquote_plus, urlsplit, urlunsplit

import requests
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.files.base import ContentFile
from django.db import connections
from django.db.utils import load_backend
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

logger = logging.getLogger(__name__)

CHECK_TIMEOUT = 5.0  # seconds, for each connection and each answer of one check
OVERALL_TIMEOUT = 6.0  # seconds for the whole page: the checks run at once; a slower one is reported as such
MASK = "••••"
STORAGE_PREFIX = "_connectivity-check/"  # the temporary object of the storage check: outside every campaign prefix
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
    key: str
    label: str
    configuration: str
    outcome: Outcome
    message: str = ""
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


# --- Running --------------------------------------------------------------------------------------------------


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def failure_message(exc: BaseException) -> str:
    """The administrator's words for a failure, from the exception or what caused it."""
    chain = list(_chain(exc))
    for error in chain:
        if isinstance(error, CheckFailed):
            return str(error.message)
    for error in chain:
        if isinstance(error, ConnectionRefusedError):
            return str(REFUSED)
        if isinstance(error, TimeoutError | requests.Timeout):
            return str(TIMED_OUT)
        if isinstance(error, socket.gaierror):
            return str(UNKNOWN_HOST)
        if isinstance(error, ssl.SSLError):
            return str(TLS_FAILED)
    # Clients that keep only the text of the socket error (redis, ldap3, requests' wrappers).
    text = " ".join(str(error) for error in chain).lower()
    if "refused" in text:
        return str(REFUSED)
    if "timed out" in text or "timeout" in text:
        return str(TIMED_OUT)
    if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return str(UNKNOWN_HOST)
    if "ssl" in text or "certificate" in text:
        return str(TLS_FAILED)
    return str(FAILED)


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
        return CheckResult(check.key, str(check.label), "", Outcome.FAILED, str(exc.message), exc.detail)
    if configuration is None:
        return CheckResult(check.key, str(check.label), check.settings_names, Outcome.NOT_CONFIGURED)
    return CheckResult(check.key, str(check.label), scrub(configuration, secrets), Outcome.NOT_RUN)


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
            message=scrub(failure_message(exc), secrets),
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
                    message=str(TIMED_OUT),
                    detail=f"still running after {overall:g} s",
                    elapsed_ms=round(overall * 1000),
                )
    return [results[check.key] for check in checks]


def describe_checks(checks: Iterable[Check] | None = None) -> list[CheckResult]:
    """Every check's line before any test (the page as it opens): no connection is made."""
    return [describe(check) for check in (registered() if checks is None else checks)]


# --- Traceability ---------------------------------------------------------------------------------------------


def summary(results: Iterable[CheckResult]) -> str:
    """One line per run, for the admin's history: each service, its outcome, its message and detail, its time."""
    parts = []
    for result in results:
        part = f"{result.label} : {result.outcome_label}"
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
    """Write what was done on the page to the admin's history (LogEntry): who, when, what came out."""
    return LogEntry.objects.create(
        user_id=actor.pk,
        content_type=None,
        object_id=LOG_OBJECT_ID,
        object_repr=gettext("Connection tests"),
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


# --- The checks this layer can hold ---------------------------------------------------------------------------


def _database_settings() -> dict:
    return connections["default"].settings_dict


def _describe_database() -> str:
    db = _database_settings()
    engine = db["ENGINE"].rpartition(".")[2]
    if engine == "sqlite3":
        return f"sqlite — {db['NAME']}"
    user = f"{db['USER']}:{MASK}@" if db.get("PASSWORD") else (f"{db['USER']}@" if db.get("USER") else "")
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"{engine}://{user}{host}{port}/{db['NAME']}"


def _probe_database(timeout: float) -> str:
    """SELECT 1 on a new connection of its own (the page's connection is not a test of the database): it measures
    the connection too, with a connection timeout even when the settings give none."""
    db = dict(_database_settings())
    options = dict(db.get("OPTIONS") or {})
    if db["ENGINE"].endswith("postgresql"):
        options["connect_timeout"] = max(1, int(timeout))
    db["OPTIONS"] = options
    wrapper = load_backend(db["ENGINE"]).DatabaseWrapper(db, "connectivity")
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
            if cursor.fetchone() != (1,):
                raise CheckFailed(UNEXPECTED_ANSWER, "SELECT 1 did not return 1")
        return f"{wrapper.display_name} {_server_version(wrapper)}".strip()
    finally:
        wrapper.close()


def _server_version(wrapper) -> str:
    if wrapper.vendor == "postgresql":
        number = wrapper.pg_version  # e.g. 160004 for 16.4
        return f"{number // 10000}.{number % 10000}"
    return str(getattr(wrapper.Database, "sqlite_version", ""))


def _describe_redis() -> str | None:
    return mask_url(settings.REDIS_URL) if settings.REDIS_URL else None


def _redis_secrets() -> Iterable[str]:
    return [urlsplit(settings.REDIS_URL).password or ""] if settings.REDIS_URL else []


def _probe_redis(timeout: float) -> str:
    """PING, then the server's version: Redis is the Celery broker and the shared cache."""
    import redis  # noqa: PLC0415 (only where Redis is configured)

    client = redis.Redis.from_url(settings.REDIS_URL or "", socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        if client.ping() is not True:
            raise CheckFailed(UNEXPECTED_ANSWER, "PING did not answer PONG")
        info = client.info("server")
        return f"PONG, Redis {info.get('redis_version', '?')}"
    finally:
        client.close()


def _smtp_options() -> dict[str, Any] | None:
    mailer: dict[str, Any] = settings.MAILERS.get("default", {})
    if mailer.get("BACKEND") != "django.core.mail.backends.smtp.EmailBackend":
        return None
    return dict(mailer.get("OPTIONS") or {})


def _text(answer: bytes | str) -> str:
    return answer.decode(errors="replace") if isinstance(answer, bytes) else answer


def _describe_smtp() -> str | None:
    options = _smtp_options()
    if options is None:
        return None
    scheme = "smtps" if options.get("use_ssl") else "smtp"
    port = options.get("port") or (465 if options.get("use_ssl") else 25)
    user = options.get("username") or ""
    credentials = f"{user}:{MASK}@" if options.get("password") else (f"{user}@" if user else "")
    tls = " (STARTTLS)" if options.get("use_tls") else ""
    return f"{scheme}://{credentials}{options.get('host') or 'localhost'}:{port}{tls}"


def _smtp_secrets() -> Iterable[str]:
    options = _smtp_options() or {}
    return [options.get("password") or ""]


def _probe_smtp(timeout: float) -> str:
    """Connect, EHLO, STARTTLS and login when configured, NOOP, QUIT: the conversation of a mail, without one."""
    import smtplib  # noqa: PLC0415

    options = _smtp_options() or {}
    host, use_ssl = options.get("host") or "localhost", bool(options.get("use_ssl"))
    port = int(options.get("port") or (465 if use_ssl else 25))
    context = ssl.create_default_context()
    client: smtplib.SMTP = (
        smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        if use_ssl
        else smtplib.SMTP(host, port, timeout=timeout)
    )
    try:
        code, answer = client.ehlo()
        if code != 250:
            raise CheckFailed(UNEXPECTED_ANSWER, f"EHLO: {code} {answer.decode(errors='replace')}")
        if options.get("use_tls"):
            client.starttls(context=context)
            client.ehlo()
        if options.get("username"):
            try:
                client.login(options["username"], options.get("password") or "")
            except smtplib.SMTPAuthenticationError as exc:
                raise CheckFailed(CREDENTIALS_REFUSED, f"AUTH: {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        code, answer = client.noop()
        if code != 250:
            raise CheckFailed(UNEXPECTED_ANSWER, f"NOOP: {code} {answer.decode(errors='replace')}")
        greeting = (client.ehlo_resp or b"").decode(errors="replace").splitlines()
        client.quit()
    except BaseException:
        client.close()  # not QUIT: a server that stopped answering would make it wait a second timeout
        raise
    return f"EHLO {greeting[0] if greeting else ''}".strip()


def _default_storage_settings() -> dict[str, Any]:
    return cast("dict[str, Any]", settings.STORAGES["default"])  # the settings' dict literal types it as object


def _describe_storage() -> str:
    backend = _default_storage_settings()["BACKEND"]
    options = _default_storage_settings().get("OPTIONS", {})
    if backend.endswith("S3Storage"):
        endpoint = options.get("endpoint_url") or "AWS S3"
        return f"S3 — {mask_url(endpoint)}, bucket {options.get('bucket_name')}"
    if backend.endswith("FileSystemStorage"):
        return f"{backend.rpartition('.')[2]} — {options.get('location') or settings.MEDIA_ROOT}"
    return backend.rpartition(".")[2]


def _storage_secrets() -> Iterable[str]:
    options = _default_storage_settings().get("OPTIONS", {})
    return [options.get("secret_key") or "", options.get("access_key") or ""]


def _storage_for_check(timeout: float):
    """The default storage; for S3, a copy that gives up after ``timeout`` seconds and does not retry (botocore
    waits a minute and retries by default)."""
    from django.core.files.storage import storages  # noqa: PLC0415

    backend = _default_storage_settings()
    if not backend["BACKEND"].endswith("S3Storage"):
        return storages["default"]
    from botocore.config import Config  # type: ignore[import-untyped]  # noqa: PLC0415 (only with S3)

    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 1})
    return storages.create_storage({**backend, "OPTIONS": {**backend.get("OPTIONS", {}), "client_config": config}})


def _probe_storage(timeout: float) -> str:
    """Write a small object under ``STORAGE_PREFIX``, read it back, delete it."""
    storage = _storage_for_check(timeout)
    payload = f"ecandidat connection test {uuid.uuid4()}".encode()
    name = storage.save(f"{STORAGE_PREFIX}{uuid.uuid4().hex}.txt", ContentFile(payload))
    try:
        with storage.open(name, "rb") as handle:
            read = handle.read()
        if read != payload:
            raise CheckFailed(UNEXPECTED_ANSWER, f"{name}: read back {len(read)} bytes, not what was written")
    finally:
        try:
            storage.delete(name)
        except Exception as exc:
            raise CheckFailed(
                gettext_lazy("The test object could not be deleted."), f"{name}: {type(exc).__name__}: {exc}"
            ) from exc
    return gettext("written, read back and deleted: %(name)s") % {"name": name}


def _ent_url() -> str | None:
    """What the login pages fetch first: the OpenID Connect discovery document (allauth adds the well-known path
    unless the address has one), or the CAS server's login page."""
    if not settings.ENT_SERVER_URL:
        return None
    url = settings.ENT_SERVER_URL
    if settings.ENT_PROTOCOL == "cas":
        return url.rstrip("/") + "/login"
    return url if "/.well-known/" in url else url + "/.well-known/openid-configuration"


def _describe_ent() -> str | None:
    url = _ent_url()
    return f"{settings.ENT_PROTOCOL.upper()} — {mask_url(url)}" if url else None


def _probe_ent(timeout: float) -> str:
    url = _ent_url() or ""
    response = requests.get(url, timeout=timeout, headers={"Accept": "application/json, text/html"})
    if response.status_code >= 400:
        raise CheckFailed(UNEXPECTED_ANSWER, f"GET {mask_url(url)}: HTTP {response.status_code}")
    if settings.ENT_PROTOCOL == "cas":
        return f"HTTP {response.status_code}"
    try:
        document = response.json()
    except ValueError as exc:
        raise CheckFailed(UNEXPECTED_ANSWER, f"GET {mask_url(url)}: not JSON") from exc
    if not isinstance(document, dict) or not document.get("authorization_endpoint"):
        raise CheckFailed(UNEXPECTED_ANSWER, f"GET {mask_url(url)}: no authorization_endpoint")
    return f"issuer {document.get('issuer', '?')}"


register(
    Check(
        key="database",
        label=gettext_lazy("Database"),
        order=10,
        settings_names="DATABASE_URL",
        describe=_describe_database,
        probe=_probe_database,
        secrets=lambda: [_database_settings().get("PASSWORD") or ""],
    ),
    Check(
        key="redis",
        label=gettext_lazy("Redis (Celery broker and cache)"),
        order=20,
        settings_names="REDIS_URL",
        describe=_describe_redis,
        probe=_probe_redis,
        secrets=_redis_secrets,
    ),
    Check(
        key="smtp",
        label=gettext_lazy("Mail server (SMTP)"),
        order=30,
        settings_names="EMAIL_URL",
        describe=_describe_smtp,
        probe=_probe_smtp,
        secrets=_smtp_secrets,
    ),
    Check(
        key="storage",
        label=gettext_lazy("File storage"),
        order=40,
        settings_names="AWS_STORAGE_BUCKET_NAME, MEDIA_ROOT",
        describe=_describe_storage,
        probe=_probe_storage,
        secrets=_storage_secrets,
    ),
    Check(
        key="ent",
        label=gettext_lazy("ENT (CAS or OpenID Connect)"),
        order=60,
        settings_names="ENT_SERVER_URL, ENT_PROTOCOL",
        describe=_describe_ent,
        probe=_probe_ent,
        secrets=lambda: [settings.ENT_CLIENT_SECRET or ""],
    ),
)
