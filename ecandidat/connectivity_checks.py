"""The connection tests of the services this layer reaches (``ecandidat.connectivity``): the database, Redis, the
SMTP server, the file storage and the ENT. Registered from ``EcandidatConfig.ready()``."""

import contextlib
import os
import smtplib
import ssl
import uuid
from collections.abc import Iterable
from typing import Any, cast
from urllib.parse import urlsplit

import redis
import requests
from botocore.config import Config  # type: ignore[import-untyped]
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, storages
from django.db import connections
from django.db.utils import load_backend
from django.utils.translation import gettext, gettext_lazy

from ecandidat.connectivity import (
    CREDENTIALS_REFUSED,
    MASK,
    UNEXPECTED_ANSWER,
    Check,
    CheckFailed,
    mask_url,
)
from ecandidat.deployment import deployment_identity

STORAGE_PREFIX = "_connectivity-check/"  # the temporary object of the storage check: outside every campaign prefix


def _database_settings() -> dict:
    return connections["default"].settings_dict


def _describe_database() -> str:
    """The database's address, and the deployment identity it gives (``ecandidat.deployment``): what this deployment
    writes in the storage's marker and in its Redis claims, for IT comparing two deployments that share them."""
    db = _database_settings()
    engine = db["ENGINE"].rpartition(".")[2]
    deployment = gettext("deployment %(identity)s") % {"identity": deployment_identity()}
    if engine == "sqlite3":
        return f"sqlite — {db['NAME']} · {deployment}"
    user = f"{db['USER']}:{MASK}@" if db.get("PASSWORD") else (f"{db['USER']}@" if db.get("USER") else "")
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"{engine}://{user}{host}{port}/{db['NAME']} · {deployment}"


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
        described = f"S3 — {mask_url(endpoint)}, bucket {options.get('bucket_name')}"
        location = str(options.get("location") or "").strip("/")
        return f"{described}, prefix {location}/" if location else described
    if backend.endswith("FileSystemStorage"):
        return f"{backend.rpartition('.')[2]} — {options.get('location') or settings.MEDIA_ROOT}"
    return backend.rpartition(".")[2]


def _storage_secrets() -> Iterable[str]:
    options = _default_storage_settings().get("OPTIONS", {})
    return [options.get("secret_key") or "", options.get("access_key") or ""]


def _storage_for_check(timeout: float):
    """The default storage; for S3, a copy of its client configuration (ecandidat.settings.base) that gives up after
    ``timeout`` seconds and does not retry: the page says at once what a request would meet."""
    backend = _default_storage_settings()
    if not backend["BACKEND"].endswith("S3Storage"):
        return storages["default"]
    options = backend.get("OPTIONS", {})
    config = (options.get("client_config") or Config()).merge(
        Config(connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 1})
    )
    return storages.create_storage({**backend, "OPTIONS": {**options, "client_config": config}})


def _remove_empty_folder(storage: Any, name: str) -> None:
    """On a file-system storage, the folder the test object was written into, once empty (object stores have no
    folders): the check leaves nothing behind. A folder another check is still using is not empty and stays."""
    if not isinstance(storage, FileSystemStorage):
        return
    with contextlib.suppress(OSError):
        os.rmdir(os.path.dirname(storage.path(name)))


def _probe_storage(timeout: float) -> str:
    """Write a small object under ``STORAGE_PREFIX``, read it back, delete it (and its folder on a file system)."""
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
            _remove_empty_folder(storage, name)
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


CHECKS = (
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
