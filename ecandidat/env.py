"""Read configuration from the environment.

Each helper raises ``ImproperlyConfigured`` naming the variable when a value is malformed, so that a bad
deployment fails at start with a message an operator can act on, never later at request time.
"""

import logging
import os
import re
from datetime import time
from typing import overload
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from redis.connection import parse_url

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@overload
def env_str(name: str, default: str) -> str: ...
@overload
def env_str(name: str, default: None = None) -> str | None: ...
def env_str(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ImproperlyConfigured(f"The environment variable {name} is required.")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), not {raw!r}.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


FONT_EXTENSIONS = (".ttf", ".otf", ".ttc", ".otc")
_FONT_FACE = re.compile(r"(?P<path>.+\.(?:ttc|otc)):(?P<face>\d+)", re.IGNORECASE)


def env_font_files(name: str) -> list[tuple[str, int]]:
    """Comma-separated font files, each as ``(path, face)``: a collection (.ttc/.otc) may name its face after a colon
    (``NotoSansCJK-Regular.ttc:2``), else its first face (0). Whether the files exist is a system check's business
    (ecandidat/checks.py): a missing file must not stop ``manage.py`` on a machine that draws no PDF."""
    files = []
    for item in env_list(name, []):
        face = _FONT_FACE.fullmatch(item)
        path, number = (face["path"], int(face["face"])) if face else (item, 0)
        if not path.lower().endswith(FONT_EXTENSIONS):
            raise ImproperlyConfigured(
                f"{name} lists font files ({', '.join(FONT_EXTENSIONS)}, a collection's face after a colon: "
                f"NotoSansCJK-Regular.ttc:2), not {item!r}."
            )
        files.append((path, number))
    return files


def env_time(name: str, default: str) -> time:
    raw = os.environ.get(name, default)
    try:
        return time.fromisoformat(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a time of day such as 22:45, not {raw!r}.") from None


def env_email_url(name: str) -> dict | None:
    """Parse ``smtp://user:password@host:port`` into the SMTP backend's OPTIONS.

    ``smtps://`` means implicit TLS, ``?tls=1`` STARTTLS, ``?timeout=N`` a timeout in seconds.
    """
    raw = os.environ.get(name)
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise ImproperlyConfigured(f"{name} must look like smtp://user:password@host:port, not {raw!r}.")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise ImproperlyConfigured(f"{name} has an invalid port.") from None
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    try:
        timeout = int(query.get("timeout", "10"))
    except ValueError:
        raise ImproperlyConfigured(f"{name} has an invalid timeout.") from None
    return {
        "host": parts.hostname,
        "port": port,
        "username": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "use_ssl": parts.scheme == "smtps",
        "use_tls": query.get("tls", "0").lower() in _TRUE,
        "timeout": timeout,
    }


_PASSWORD = re.compile(r"^(\s*(?:[a-z][a-z0-9+.-]*:)?(?://)?[^/@:]*:)[^/@]*@", re.IGNORECASE)


def _shown(urls: str) -> str:
    """``urls`` (one, or a list separated by commas or semicolons) as a message may quote them: the password of
    ``scheme://user:password@host`` (or of ``user:password@host``, with no scheme) replaced by ``***``."""
    return re.sub(r"[^;,]+", lambda url: _PASSWORD.sub(r"\1***@", url.group()), urls)


CLAMD_FORMS = "tcp://host:port, unix:///path, or none to run without an antivirus on purpose"


def env_clamd_address(name: str) -> str | None:
    """clamd's address, in the two forms documents/antivirus.py connects to: ``tcp://host:port`` or ``unix:///path``
    (a host before the path, ``unix://run/clamav/clamd.ctl``, would be dropped from it). ``none`` in any case is
    returned as ``"none"``: running without an antivirus, said on purpose. Unset or empty: None (the error
    ecandidat.E002 in production). Anything else stopped every scan with ImproperlyConfigured, each piece left
    pending, after a start that the mere presence of the variable let pass."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if raw.lower() == "none":
        return "none"
    parts = urlsplit(raw)
    try:
        port = parts.port
    except ValueError:
        port = None
    if (parts.scheme == "tcp" and parts.hostname and port) or (
        parts.scheme == "unix" and not parts.netloc and parts.path.startswith("/")
    ):
        return raw
    raise ImproperlyConfigured(f"{name} must be {CLAMD_FORMS}; not {raw!r}.")


REDIS_FORMS = "redis://host:port/db, rediss://host:port/db (TLS) or unix:///path/to/redis.sock"


def env_redis_url(name: str) -> str | None:
    """Redis's address for the cache and Celery's broker: ``redis://host:port/db``, ``rediss://`` (TLS) or
    ``unix:///path``; a list (commas or semicolons, as Django's RedisCache splits it) is read item by item. Each is
    read as redis-py reads it, so that a value it refuses (``127.0.0.1:6379/11``: no scheme) stops the start instead
    of answering 500 at every login (the cache's ValueError is no "Redis is down"). Unset or empty: None."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    for url in re.split("[;,]", raw):
        url = url.strip()
        if not url.startswith(("redis://", "rediss://", "unix://")) or (
            url.startswith("unix://") and not urlsplit(url).path
        ):
            raise ImproperlyConfigured(f"{name} must be {REDIS_FORMS}; not {_shown(raw)!r}.")
        try:
            parse_url(url)
        except ValueError as error:
            raise ImproperlyConfigured(f"{name} is malformed ({error}); use {REDIS_FORMS}.") from None
    return raw


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def env_log_level(name: str, default: str) -> str:
    """A logging level's name in any case (``info`` is ``INFO``); unset or empty: ``default``. logging's own
    "Unknown level: 'verbose'" named no variable."""
    raw = os.environ.get(name, "")
    value = raw.strip().upper() or default
    if value not in logging.getLevelNamesMapping():
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(LOG_LEVELS)} (any case), not {raw!r}.")
    return value
