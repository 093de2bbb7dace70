"""Settings for every environment.

Production is this module plus environment variables (see README, "Configuration"). ``dev`` and ``test``
only add local conveniences and defaults for secrets; there is deliberately no ``prod.py``.
"""

import logging
import re
from email.utils import formataddr, getaddresses
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from boto3.s3.transfer import TransferConfig
from botocore.config import Config  # type: ignore[import-untyped]
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from ecandidat.env import (
    env_bool,
    env_clamd_address,
    env_email_url,
    env_font_files,
    env_int,
    env_list,
    env_log_level,
    env_redis_url,
    env_required,
    env_str,
    env_time,
)
from ecandidat.http import cas_session

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

# --- Core -------------------------------------------------------------------------------------------------
SECRET_KEY = env_required("SECRET_KEY")
# Key rotation: the previous keys, comma-separated, still accepted for what they signed (sessions, reset links) until
# those expire; each must be as strong as SECRET_KEY (ecandidat/checks.py).
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
ROOT_URLCONF = "ecandidat.urls"
WSGI_APPLICATION = "ecandidat.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
SITE_ID = 1

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.mfa",
    "django_cas_ng",  # CAS 3.0 login (ENT_PROTOCOL=cas): ticket validation and single-logout session tickets
    "ecandidat",
    "accounts",
    "offers",
    "applications",
    "documents",
]

MIDDLEWARE = [
    # First: every log line of a request carries its reference, also given back as X-Request-ID and shown on the 500
    # page (« Référence de l'erreur »), so that a person's report finds its lines in the log (ecandidat/request_id.py).
    "ecandidat.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # A query string with NUL (%00) gets a 400, not a 500 from PostgreSQL in a list filter (ecandidat/text.py).
    "ecandidat.middleware.RefuseNulInQueryString",
    # A file whose part headers are not UTF-8 (a forged or Latin-1 name) is read, not dropped (ecandidat/uploads.py).
    "ecandidat.uploads.RepairedMultipartMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "ecandidat.sessions.SessionRefreshMiddleware",
    # French unless the person chose English with the switch; the browser's Accept-Language is not followed.
    "ecandidat.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Default deny: every view needs a login unless it opts out with @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Before the maintenance: its page shows what a form saved just before the window said (the page it redirects
    # to is answered by the maintenance), instead of holding it until the window ends.
    "django.contrib.messages.middleware.MessageMiddleware",
    # A session logged out by SessionRefreshMiddleware at SESSION_ABSOLUTE_AGE says why (ecandidat/sessions.py), on
    # the maintenance page too.
    "ecandidat.sessions.SessionEndedMessageMiddleware",
    "ecandidat.middleware.MaintenanceMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Staff may activate a first authenticator app only with an enrolment secret (accounts/staff_enrolment.py).
    "accounts.middleware.StaffEnrolmentGateMiddleware",
    # Pages seen logged in are never stored by browsers or proxies (Cache-Control: no-store, private).
    "accounts.middleware.NoStoreWhenAuthenticatedMiddleware",
    # A candidate whose campaign closed to candidates since the login is logged out (accounts.services.
    # candidate_can_log_in, checked at the login only before); after MessageMiddleware: the login page says why.
    "accounts.middleware.ClosedCampaignLogoutMiddleware",
    # An ENT that does not answer sends the person back to the login page with a message, not a 500.
    "accounts.middleware.EntUnreachableMiddleware",
    # The file storage unreachable (the bucket down) while a file is read: a 503 page, not a 500 (ecandidat/downloads).
    "ecandidat.downloads.StorageUnavailableMiddleware",
]

TEMPLATES = [
    {
        # Django's, with the "i18n" library replaced on purpose not reported as a duplicate (templatetags/memo.py).
        "BACKEND": "ecandidat.template_backend.Templates",
        "NAME": "django",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "ecandidat.context_processors.institution",
            ],
            # {% url 'literal' %}, {% translate "literal" %} and {% static "literal" %} remembered per process
            # (issue 14, see ecandidat/templatetags/memo.py); templates are unchanged.
            "builtins": ["ecandidat.templatetags.memo"],
            "libraries": {"i18n": "ecandidat.templatetags.memo", "static": "ecandidat.templatetags.memo"},
        },
    },
]

# --- Database ---------------------------------------------------------------------------------------------
# Default: an SQLite file under var/ so that a newcomer needs nothing installed; production sets DATABASE_URL (SQLite
# there is the error ecandidat.E006, ecandidat/checks.py: a fresh, empty file instead of the university's database).
_database_url = env_str("DATABASE_URL")
if not _database_url:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _database_url = f"sqlite:///{VAR_DIR / 'ecandidat.sqlite3'}"
try:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60))}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
# Each request is one transaction: a failure anywhere leaves nothing half-written.
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web process and an in-process worker share the file without "database locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
# PostgreSQL: the hot candidate reads (ecandidat/prepared.py) are prepared once per connection on the server, which
# then skips planning them. Off behind a connection pooler in transaction mode (README, settings).
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
# PostgreSQL: no JIT compilation of queries in this deployment's sessions. The back office's lists and home figures
# are estimated above `jit_above_cost` at a large university's volume, and PostgreSQL then spent seconds compiling a
# query that runs in a few hundred milliseconds (the central office's list sorted on « Pièces à contrôler » at 20,000
# applications: 7.2 s of JIT for 0.3 s of execution). Set at connection (libpq's `options`); DATABASE_JIT=1 leaves the
# server's setting, for a pooler that refuses startup options (then `ALTER ROLE … SET jit = off`, README).
DATABASE_JIT = env_bool("DATABASE_JIT", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not DATABASE_JIT:
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c jit=off".strip()
# PostgreSQL: a server that takes the connection and never answers (a failover under way, a stuck pooler) fails the
# connection after DATABASE_CONNECT_TIMEOUT seconds (libpq's connect_timeout, at least 2), as a refused connection
# does at once: /healthz answers 503 and a page its error, instead of holding every worker until gunicorn kills it at
# 60 s (nginx's 502 after a minute), and the cron sweeper (send_pending_mails) ends instead of hanging for ever.
# TCP keepalives find a server gone away (its host down, a firewall that forgot the connection) on an idle kept
# connection (DATABASE_CONN_MAX_AGE) in about 25 s. No statement timeout: the nightly batches run long queries. A
# value given in DATABASE_URL's query string (?connect_timeout=10) is kept. The "cache" alias below copies these.
DATABASE_CONNECT_TIMEOUT = env_int("DATABASE_CONNECT_TIMEOUT", 5, minimum=2)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    for _name, _value in {
        "connect_timeout": DATABASE_CONNECT_TIMEOUT,
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
    }.items():
        _options.setdefault(_name, _value)

# --- Redis: broker, cache and rate-limit store ------------------------------------------------------------
# redis://, rediss:// or unix://: anything else stops the start (ecandidat/env.py), not every login with a 500.
REDIS_URL = env_redis_url("REDIS_URL")


def cache_key_prefix(explicit: str | None, celery_queue: str | None) -> str:
    """The prefix of every cache key of this deployment: CACHE_KEY_PREFIX, else CELERY_QUEUE when it names a queue of
    its own, else none (the keys of a single deployment, unchanged). Two deployments on one Redis (a "recette" beside
    production) share no maintenance switch, home message, catalogue fragment, rate limit or upload slot."""
    for value in (explicit, celery_queue):
        value = (value or "").strip()
        if value and value != "celery":  # Celery's own queue name is the default: no prefix, as when unset
            return value
    return ""


CACHE_KEY_PREFIX = cache_key_prefix(env_str("CACHE_KEY_PREFIX"), env_str("CELERY_QUEUE"))
# This deployment's identity where it shares a service with another (ecandidat.deployment): set it when the database
# moves to another server; unset, it is derived from the database's engine, host, port and name.
DEPLOYMENT_ID = env_str("DEPLOYMENT_ID", "").strip()


def _prefixed(alias_prefix: str) -> str:
    """An alias's KEY_PREFIX under the deployment's (``recette:maintenance``), or the alias's alone."""
    return ":".join(part for part in (CACHE_KEY_PREFIX, alias_prefix) if part)


if REDIS_URL:
    # Fails open (ecandidat/cache.py): while Redis is down, reads miss and writes are dropped, so pages keep working
    # and rate limits do not apply (README, "When Redis is down"). Short timeouts: a dead host costs at most 1 s.
    CACHES: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "ecandidat.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": _prefixed(""),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    # Without Redis the cache holds the login lockouts and the other rate limits, so it must be shared by every
    # process (gunicorn workers, manage.py commands): Django's DatabaseCache, in the table of the accounts migration
    # 0003 (model SharedCacheEntry), is the simplest store all of them already reach. A per-process LocMemCache
    # would give each worker its own counter (n workers = n times the limit).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "ecandidat_cache",
            "KEY_PREFIX": _prefixed(""),
            # Expired rows are culled on write once the table passes this size (Django's default, 300, is too small
            # for one key per login and per IP).
            "OPTIONS": {"MAX_ENTRIES": 50_000},
        }
    }
    if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        # Counters are written on a second connection in autocommit, not inside the request's transaction, so that
        # concurrent logins counted on one key do not wait for each other (accounts/routers.py). SQLite keeps the one
        # connection: its write lock is per database file anyway.
        DATABASES["cache"] = {**DATABASES["default"], "ATOMIC_REQUESTS": False, "TEST": {"MIRROR": "default"}}
        DATABASE_ROUTERS = ["accounts.routers.SharedCacheRouter"]
# The maintenance switch's state, read on every request: its own alias so that clearing the default cache
# (rate limits) never forces a database read on every page. Each process also keeps it in memory for a few
# seconds, and reads the database when this cache fails (ecandidat/maintenance.py).
CACHES["maintenance"] = {**CACHES["default"], "KEY_PREFIX": _prefixed("maintenance"), "TIMEOUT": 30}
# Rendered fragments shared by every visitor (the catalogue tree, offers/catalogue.py): their own alias, so that a
# test or an operator can empty them without touching rate limits or sessions.
CACHES["pages"] = {**CACHES["default"], "KEY_PREFIX": _prefixed("pages"), "TIMEOUT": 60}

# --- Celery -----------------------------------------------------------------------------------------------
# Without REDIS_URL, tasks run in-process right after the transaction commits (the embedded default).
# (The memory transport with a host name: without one kombu warns "No hostname was supplied" on every batch.)
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged once done, and requeued if its worker dies: tasks are idempotent, so at-least-once is safe.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 180, minimum=1)
# A broker that takes the connection and never answers (Redis stuck in a save, a half-open firewall) fails a publish
# after socket_timeout, as a refused connection does (the row waits for the sweeper), instead of holding the request
# until gunicorn kills it (502 for a committed action). Above the 1 s a worker's BRPOP waits for a task; keepalive
# finds a dead peer on an idle connection.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "socket_keepalive": True,
}
# A publish to an unreachable broker gives up quickly: the outbox row stays pending and the sweeper sends it.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_TIMEZONE = "Europe/Paris"
# The queue tasks are published to and consumed from: two deployments (or test runs) sharing one Redis keep their
# tasks apart. Their cache keys are kept apart by CACHE_KEY_PREFIX, which follows CELERY_QUEUE unless set (above).
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
# The long jobs (soft time limit of an hour: commission packs, exports, releases of decisions) go to a queue of their
# own, consumed by their own workers (deploy/ecandidat-worker-long.service, compose's worker-long): on the one queue,
# four packs asked in a morning took the four slots of the worker and every mail (password reset, account
# validation, decisions) waited for them, for minutes. Mails, scans and sweepers stay on CELERY_QUEUE, which the main
# worker consumes alone (-Q). Derived from CELERY_QUEUE, so that two deployments on one Redis keep these apart too
# (each worker claims the queues it consumes, ecandidat/celery.py). The routes apply to every publish (delay,
# apply_async, the sweepers' requeues); without REDIS_URL tasks run in-process and no queue is used.
CELERY_LONG_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}-long"
CELERY_TASK_ROUTES = {
    name: {"queue": CELERY_LONG_QUEUE}
    for name in (
        "applications.tasks.build_commission_pack",
        "applications.tasks.build_export_job",
        "applications.tasks.run_release_job",
    )
}
# Run by `celery -A ecandidat beat` (make beat, deploy/ecandidat-beat.service) when Redis is configured; without
# Redis, cron runs `manage.py send_pending_mails` (deploy/crontab). Expires: runs missed while workers were down
# are dropped, not piled up.
CELERY_BEAT_SCHEDULE = {
    "send-pending-mails": {"task": "ecandidat.tasks.sweep_outbox", "schedule": 60.0, "options": {"expires": 55}},
    # Releases of decisions whose task was lost (applications/lost_tasks.py), also when nobody watches their page.
    "requeue-lost-releases": {
        "task": "applications.tasks.requeue_lost_release_jobs",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Packs, exports and releases still RUNNING whose worker process was killed (OOM killer, kill -9): their task is
    # queued again once their progress is stale, so that its claim takes them back (applications/lost_tasks.py).
    "requeue-stalled-jobs": {
        "task": "applications.tasks.requeue_stalled_jobs",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
}

# --- E-mail -----------------------------------------------------------------------------------------------
# Every mail is first a row of the outbox (ecandidat.OutboundEmail); this only says how rows leave.
_smtp_options = env_email_url("EMAIL_URL")
MAILERS = {
    "default": (
        {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": _smtp_options}
        if _smtp_options
        # No SMTP server: rows stay readable in the outbox (and the demo mailbox) and are printed on the console.
        else {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    )
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ne-pas-repondre@ecandidat.localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL


def admins_from(raw: str | None) -> list[str]:
    """``ADMINS``: the addresses that get a mail when a page fails (a 500) or another error is logged by Django,
    comma-separated, each an address or ``Name <address>`` (a name holding a comma in double quotes:
    ``"Dupont, Jean" <jean.dupont@univ.example>``). Empty or unset: nobody (the error is in the log only)."""
    listed = (raw or "").strip().strip(",").strip()  # a comma left at the end is no error
    if not listed:
        return []
    admins = []
    for name, address in getaddresses([listed]):
        try:
            validate_email(address)
        except ValidationError:
            raise ImproperlyConfigured(
                f"ADMINS must list addresses separated by commas, each an address or Name <address> "
                f'("Dupont, Jean" <jean.dupont@univ.example> for a name with a comma), not {raw!r}.'
            ) from None
        admins.append(formataddr((name, address)) if name else address)
    return admins


ADMINS = admins_from(env_str("ADMINS"))
# The outbox (ecandidat/emails.py): failed mails are retried with a back-off (1 min, 5 min, 15 min, 1 h, 2 h, then
# every 4 h) for this many hours, then FAILED (the admin can resend them).
OUTBOX_RETRY_HOURS = env_int("OUTBOX_RETRY_HOURS", 48, minimum=1)
# A sender owns a row it claimed for this long; after it, the sweeper sends it again (the sender died). Longer than
# an SMTP conversation and CELERY_TASK_TIME_LIMIT.
OUTBOX_LEASE_SECONDS = env_int("OUTBOX_LEASE_SECONDS", 300, minimum=1)
# At most this many mails per sweeper run (every minute).
OUTBOX_SWEEP_LIMIT = 500
EMAIL_SUBJECT_PREFIX = env_str("EMAIL_SUBJECT_PREFIX", "")

# --- Storage ----------------------------------------------------------------------------------------------
# Uploaded pieces are private: MEDIA_ROOT is never served directly, only through views that check access.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media-private-not-served/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
# Each call to the bucket gives up after these many seconds (connection, then each read of its answer) and is tried
# twice at most: during an S3 outage an upload or a download answers an error page (ecandidat/downloads.py) before
# gunicorn's timeout kills the worker (botocore alone waits 60 s and tries 3 times). 2 × (connect + read) stays under
# that timeout (deploy/gunicorn.conf.py). The connection test (ecandidat/connectivity_checks.py) starts from it.
AWS_S3_CONNECT_TIMEOUT = env_int("AWS_S3_CONNECT_TIMEOUT", 5, minimum=1)
AWS_S3_READ_TIMEOUT = env_int("AWS_S3_READ_TIMEOUT", 20, minimum=1)
# storage.open() then read (dossier PDF, "Mes données", letters, piece templates) downloads through s3transfer, which
# by itself repeats a GET whose body the bucket cut or stalled 5 times, each with botocore's own two attempts: 5 × 20 s
# for a body stalled mid-way, 5 × 2 × (connect + read) for one whose headers never come, past gunicorn's timeout. Once
# here: a stalled read costs botocore's attempts only. django-storages reads it for any S3Storage (tests' buckets too).
AWS_S3_TRANSFER_CONFIG = TransferConfig(num_download_attempts=1)
# A file read from the bucket through storage.open() (dossier PDF, "Mes données", letters) is held in memory up to
# this size, then in a temporary file: django-storages' default (0) keeps a whole object in memory.
AWS_S3_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# The prefix of this deployment's files in the bucket, e.g. "recette" or "univ-exemple/production": deployments that
# share a bucket (a recette next to production, two universities) each need their own, or one's nightly
# remove_orphan_files deletes the other's files (it deletes what its own database does not list). Empty (the default):
# the bucket's root, where the rows of an existing deployment name their files; changing it later moves no file.
# On this disk, each deployment needs its own MEDIA_ROOT instead. The sweep also refuses a storage whose marker
# (.ecandidat-deployment, documents/storage.py) names another deployment.
STORAGE_LOCATION = env_str("STORAGE_LOCATION", "").strip()
if STORAGE_LOCATION and not re.fullmatch(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*", STORAGE_LOCATION):
    raise ImproperlyConfigured(
        f"STORAGE_LOCATION={STORAGE_LOCATION!r}: a relative path in the bucket, of letters, digits, '.', '_' and '-' "
        "separated by '/', with no '/' at either end, e.g. recette or univ-exemple/production; or empty."
    )
if STORAGE_LOCATION and set(STORAGE_LOCATION.split("/")) & {".", ".."}:
    raise ImproperlyConfigured(f"STORAGE_LOCATION={STORAGE_LOCATION!r}: '.' and '..' are no folder names.")
if STORAGE_LOCATION and not AWS_STORAGE_BUCKET_NAME:
    raise ImproperlyConfigured(
        "STORAGE_LOCATION is a prefix in the bucket (AWS_STORAGE_BUCKET_NAME), which is not set: on this disk, give "
        "each deployment its own MEDIA_ROOT, and unset STORAGE_LOCATION."
    )
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "location": STORAGE_LOCATION,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL"),
            "region_name": env_str("AWS_S3_REGION_NAME"),
            "access_key": env_str("AWS_ACCESS_KEY_ID"),
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY"),
            "default_acl": "private",
            "file_overwrite": False,
            "querystring_auth": True,
            "querystring_expire": 60,
            "client_config": Config(
                connect_timeout=AWS_S3_CONNECT_TIMEOUT,
                read_timeout=AWS_S3_READ_TIMEOUT,
                retries={"total_max_attempts": 2, "mode": "standard"},
            ),
            "transfer_config": AWS_S3_TRANSFER_CONFIG,
            "max_memory_size": AWS_S3_MAX_MEMORY_SIZE,
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    # Static files are public and read by another user than the one who wrote them: nginx (deploy/nginx.conf.example),
    # or gunicorn in the image, where collectstatic runs as root at build. Without these modes collectstatic writes
    # them and its manifest with FILE_UPLOAD_PERMISSIONS (0640, meant for the private pieces): nginx answered 403 for
    # every stylesheet, and the image's pages failed on staticfiles.json.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage",
        "OPTIONS": {"file_permissions_mode": 0o644, "directory_permissions_mode": 0o755},
    },
}
# clamd for uploaded pieces: "tcp://127.0.0.1:3310" or "unix:///run/clamav/clamd.ctl". Running without an
# antivirus must be said explicitly with CLAMD_ADDRESS=none: unset is a configuration error in production
# (ecandidat/checks.py), because staff open the files candidates upload. Any other form stops the start
# (ecandidat/env.py): every scan would fail, leaving each piece pending.
_clamd_address = env_clamd_address("CLAMD_ADDRESS")
CLAMD_DISABLED = _clamd_address == "none"
CLAMD_ADDRESS = None if CLAMD_DISABLED else _clamd_address
FILE_UPLOAD_PERMISSIONS = 0o640
# Large stored files (the commission packs) handed to the web server after the view's access check: the URI prefix of
# nginx's `internal` location (deploy/nginx.conf.example, ecandidat/downloads.py), /_protected_media/ (alias
# MEDIA_ROOT) for files on this disk, /_protected_s3/ (proxy to a signed URL of the object) for files on S3, so no
# gunicorn worker streams a download for longer than its timeout. Empty: Django streams them.
DOWNLOAD_ACCEL_REDIRECT_PREFIX = env_str("DOWNLOAD_ACCEL_REDIRECT_PREFIX", "")
if DOWNLOAD_ACCEL_REDIRECT_PREFIX and not re.fullmatch(r"/[\w./-]*/", DOWNLOAD_ACCEL_REDIRECT_PREFIX):
    raise ImproperlyConfigured(
        f"DOWNLOAD_ACCEL_REDIRECT_PREFIX={DOWNLOAD_ACCEL_REDIRECT_PREFIX!r}: a URI path starting and ending with '/', "
        "e.g. /_protected_media/ or /_protected_s3/ (nginx's internal location), or empty."
    )
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 2 * 1024 * 1024, minimum=1024)
# Pages of a PDF piece (documents/validation.py): above it the upload is refused, read from the page tree's own
# count before any page is parsed. A thesis runs to 300-600 pages; a 15,000-page PDF of 1.8 MB cost 2.4 s to accept
# and 4 s per dossier PDF holding it (candidate, staff, each commission pack). Files stored before still build.
UPLOAD_MAX_PDF_PAGES = env_int("UPLOAD_MAX_PDF_PAGES", 1000, minimum=1)
# Uploads validated and stored at the same time, over every process sharing the cache (documents/saturation.py);
# beyond it an upload is answered 503 with Retry-After at once. 0: no bound.
UPLOAD_CONCURRENCY = env_int("UPLOAD_CONCURRENCY", 16, minimum=0)
# The staff preview draws PDF pages in a child process (documents/preview.py): stopped after this many CPU seconds
# (killed after three times that in wall clock), refused more address space than this; a PDF that uses up its CPU
# or memory is "too costly to show" in words.
PREVIEW_TIME_LIMIT = env_int("PREVIEW_TIME_LIMIT", 10, minimum=1)
PREVIEW_MEMORY_LIMIT_MB = env_int("PREVIEW_MEMORY_LIMIT_MB", 512, minimum=128)
# Django refuses request bodies above this: an upload of a few pieces plus the form fields.
DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES + 512 * 1024


def _rate_limits(name: str, value: str, *, anonymous: bool = False) -> str:
    """An allauth rate list ("30/10m/user,300/10m/ip"): each part per ``user`` or ``ip``; empty means no limit. An
    ``anonymous`` endpoint's parts are per ``ip`` only (nobody is logged in to count per account)."""
    per, example = ("ip", "600/1m/ip") if anonymous else ("(user|ip)", "30/10m/user,300/10m/ip")
    for part in filter(None, (p.strip() for p in value.split(","))):
        if not re.fullmatch(rf"[1-9]\d*/(\d+(\.\d+)?)?[smhd]/{per}", part):
            raise ImproperlyConfigured(f"{name} must look like {example}, not {value!r}.")
    return value


# Fair use (documents/fair_use.py): uploads and dossier PDFs per account, then per IP address, on the shared cache.
DOCUMENTS_RATE_LIMITS = {
    "upload": _rate_limits("UPLOAD_RATE_LIMITS", env_str("UPLOAD_RATE_LIMITS", "30/10m/user,300/10m/ip")),
    "staff_upload": _rate_limits(
        "STAFF_UPLOAD_RATE_LIMITS", env_str("STAFF_UPLOAD_RATE_LIMITS", "60/10m/user,600/10m/ip")
    ),
    "dossier_pdf": _rate_limits(
        "DOSSIER_PDF_RATE_LIMITS", env_str("DOSSIER_PDF_RATE_LIMITS", "10/10m/user,100/10m/ip")
    ),
    "staff_dossier_pdf": _rate_limits(
        "STAFF_DOSSIER_PDF_RATE_LIMITS", env_str("STAFF_DOSSIER_PDF_RATE_LIMITS", "120/10m/user,600/10m/ip")
    ),
}

# --- Internationalisation ---------------------------------------------------------------------------------
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["ecandidat.formats"]  # English short dates name the month (ecandidat/formats/__init__.py)
TIME_ZONE = env_str("TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

# --- Institution ------------------------------------------------------------------------------------------
INSTITUTION_NAME = env_str("INSTITUTION_NAME", "Université de Perpignan Via Domitia")
INSTITUTION_SHORT_NAME = env_str("INSTITUTION_SHORT_NAME", "UPVD")
INSTITUTION_CONTACT_EMAIL = env_str("INSTITUTION_CONTACT_EMAIL", "assistance.ecandidat@univ-perp.fr")
# The office named in the personal-data notice, as the guide's login screen says it, and its name in English (the
# English notice said "by contacting la sous direction …"). Empty: the English notice names it in French, marked so.
_PERSONAL_DATA_OFFICE_DEFAULT = "la sous direction Gestion de la formation et des Etudes"
PERSONAL_DATA_OFFICE = env_str("PERSONAL_DATA_OFFICE", _PERSONAL_DATA_OFFICE_DEFAULT)
PERSONAL_DATA_OFFICE_EN = env_str(
    "PERSONAL_DATA_OFFICE_EN",
    # The default's English only with the default: another office's name is not the guide's office's.
    "the Training and Studies Management sub-directorate"
    if PERSONAL_DATA_OFFICE == _PERSONAL_DATA_OFFICE_DEFAULT
    else "",
)
# Visual identity: a logo (a URL or a path under /static/, shown in the header with the institution's name as its
# text alternative) and the main colour (#rrggbb; white text sits on it, so pick one with 4.5:1 contrast on white).
INSTITUTION_LOGO_URL = env_str("INSTITUTION_LOGO_URL", "")
INSTITUTION_BRAND_COLOUR = env_str("INSTITUTION_BRAND_COLOUR", "#0b4f8a")
if not re.fullmatch(r"#[0-9a-fA-F]{6}", INSTITUTION_BRAND_COLOUR):
    raise ImproperlyConfigured("INSTITUTION_BRAND_COLOUR must be a colour written #rrggbb.")
# "Mentions légales": who publishes the site and who hosts it (name and address).
LEGAL_PUBLICATION_DIRECTOR = env_str("LEGAL_PUBLICATION_DIRECTOR", "le président ou la présidente de l'université")
LEGAL_HOST = env_str("LEGAL_HOST", "la direction du numérique de l'université")

# --- PDFs -------------------------------------------------------------------------------------------------
# Fonts for what the embedded DejaVu Sans lacks (Chinese, Japanese, Korean, Arabic…), comma-separated .ttf/.otf/.ttc
# files, a collection's face after a colon; e.g. /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc:2 (Debian's
# fonts-noto-cjk, face 2: Simplified Chinese), /usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf
# (fonts-noto-core; Arabic text is shaped with uharfbuzz). A PDF reads them only when a text needs one
# (ecandidat/pdf.py): a 20 MB CJK font parsed for every PDF would multiply the cost of each. Empty: such characters
# print « � ».
PDF_FALLBACK_FONTS = env_font_files("PDF_FALLBACK_FONTS")

# --- Maintenance window -----------------------------------------------------------------------------------
# Nightly batches run inside this window (local time); candidates see a maintenance page then.
MAINTENANCE_START = env_time("MAINTENANCE_START", "22:45")
MAINTENANCE_END = env_time("MAINTENANCE_END", "06:00")
# Off only in tests, so that the suite gives the same results at 23:00 as at noon; maintenance tests turn it on.
MAINTENANCE_WINDOW_ENFORCED = env_bool("MAINTENANCE_WINDOW_ENFORCED", True)

# --- Candidate rules --------------------------------------------------------------------------------------
MAX_WISHES = env_int("MAX_WISHES", 20, minimum=1)
MAX_WISHES_PER_INSTITUTION = env_bool("MAX_WISHES_PER_INSTITUTION", False)
# eCandidat CANDIDATURE_IS_BLOC_TRANS_FORM: on, an application cannot be transmitted while one of its complementary
# forms is neither answered nor declared "Non concerné" (off by default: LimeSurvey answers arrive only nightly).
FORMS_BLOCK_TRANSMISSION = env_bool("FORMS_BLOCK_TRANSMISSION", False)
# Two-person rule on decisions (issue 12): the person who validates (releases) a decision must not be the one who
# entered it.
DECISION_TWO_PERSON_RULE = env_bool("DECISION_TWO_PERSON_RULE", False)
# eCandidat GEST_IS_UTILISE_BLOCAGE_MASSE: "Enter a decision" in bulk is refused on a selection where an application
# already has a validated decision (a new decision resets the answer and withdraws the OPI).
BULK_DECISION_LOCK = env_bool("BULK_DECISION_LOCK", True)
# eCandidat GEST_IS_UTILISE_REG_STU: staff enter the régime d'inscription and the situation des droits (exemption
# category, complement, amount) of applications ("Régime / droits…"), sent in the Apogée OPI; off, hidden.
SIS_REGIME_ENTRY = env_bool("SIS_REGIME_ENTRY", False)
# eCandidat GEST_IS_EXPORT_BLOC_NOTE (off by default): the exports of the applications list carry the internal notes
# (bloc-notes) with their dates and authors: the quick export's last column, offered by the export with chosen columns.
EXPORT_NOTES = env_bool("EXPORT_NOTES", False)
# eCandidat SCOL_IS_STATUT_ATT_WHEN_CHANGE_TT (off by default): changing an application's type de traitement also sets
# its dossier back to "En attente" (mail STATUT_AT), so that the candidate sends it again under the new type (the
# pieces and questions asked may depend on the type).
TREATMENT_TYPE_RESETS_STATUS = env_bool("TREATMENT_TYPE_RESETS_STATUS", False)
# eCandidat SCOL_GESTION_CANDIDAT_CTR_CAND (W by default): a centre manager may correct the dossier (personal
# details, address, baccalaureate, cursus, internships, experience) of a candidate who applied to one of their
# centres' formations; off, only the central office changes dossiers ("R": managers read them).
CENTRE_MANAGERS_EDIT_DOSSIERS = env_bool("CENTRE_MANAGERS_EDIT_DOSSIERS", True)
# eCandidat SCOL_IS_APPEL (on by default): a decision may be marked as given after an appeal ("Appel"); its mail then
# says so (variable appeal_sentence, eCandidat complementAppel) and the candidate's summary shows it.
DECISION_APPEALS = env_bool("DECISION_APPEALS", True)
# eCandidat CANDIDAT_IS_UTILISE_SYNCHRO_INE: an e-mail candidate's INE is looked up in the student records system.
SIS_LOOKUP_BY_INE = env_bool("SIS_LOOKUP_BY_INE", True)
# eCandidat CANDIDAT_IS_COMPTE_EXTERNE_AUT: candidates who are not students here create an account with an e-mail.
EMAIL_ACCOUNTS = env_bool("EMAIL_ACCOUNTS", True)
# eCandidat CANDIDAT_IS_MDP_CONNECT_CAS: a student whose account came from the ENT may also choose a local password
# (at the account creation, or later from the menu), and log in with it when the ENT is down.
ENT_ACCOUNTS_PASSWORD = env_bool("ENT_ACCOUNTS_PASSWORD", True)
# eCandidat CANDIDAT_IS_CONNECT_CAS: candidates log in through the ENT (OpenID Connect or CAS); off, only staff do
# (the back office's login still offers it), and candidates use their numéro de dossier or e-mail and password.
ENT_CANDIDATE_LOGIN = env_bool("ENT_CANDIDATE_LOGIN", True)
# eCandidat DOWNLOAD_IS_LETTRE_ADM_APRES_CONFIRM: the admission letter only once the candidate has confirmed.
ADMISSION_LETTER_AFTER_CONFIRMATION = env_bool("ADMISSION_LETTER_AFTER_CONFIRMATION", False)
# eCandidat CANDIDAT_IS_INE_OBLI_FR (on by default): a candidate of French nationality gives their INE with their
# personal details.
INE_REQUIRED_FOR_FRENCH = env_bool("INE_REQUIRED_FOR_FRENCH", True)
# eCandidat LC_MODE_AFFICHAGE_RANG: the rank a candidate of the complementary list sees on their recap. "R" (rang
# réel: their place now, kept up to date by every validation, withdrawal and promotion, and mailed nightly when it
# improves), "S" (rang saisi: the rank the commission entered with the decision) or "N" (none).
WAITING_LIST_RANK_DISPLAY = env_str("WAITING_LIST_RANK_DISPLAY", "R").strip().upper()
if WAITING_LIST_RANK_DISPLAY not in ("N", "S", "R"):
    raise ImproperlyConfigured(f"WAITING_LIST_RANK_DISPLAY must be N, S or R, not {WAITING_LIST_RANK_DISPLAY!r}.")
# eCandidat SVA_ALERT_DAT: the date SVA ("silence vaut acceptation") alerts count from, in the staff applications
# list (codes of applications.enums.SvaReferenceDate): NO none, CRE creation, ANN cancellation, ACC the candidate's
# answer, TRANS transmission, REC reception, COM complete, INC incomplete. The levels are data (SvaAlertLevel).
SVA_ALERT_DATE = env_str("SVA_ALERT_DATE", "NO").strip().upper()
if SVA_ALERT_DATE not in ("NO", "CRE", "ANN", "ACC", "TRANS", "REC", "COM", "INC"):
    raise ImproperlyConfigured(
        f"SVA_ALERT_DATE must be NO, CRE, ANN, ACC, TRANS, REC, COM or INC, not {SVA_ALERT_DATE!r}."
    )
# eCandidat SCOL_MODE_TYPE_FORMATION: the catalogue's second level, under each centre. "DIP" the diploma type
# (MASTER LMD, DU…), "NOM" the institution's own "types de formation" (offers.FormationType; a formation without one
# is listed under "Autres formations"), "NO" none (each centre lists its formations in one table).
CATALOGUE_GROUPING = env_str("CATALOGUE_GROUPING", "DIP").strip().upper()
if CATALOGUE_GROUPING not in ("DIP", "NOM", "NO"):
    raise ImproperlyConfigured(f"CATALOGUE_GROUPING must be DIP, NOM or NO, not {CATALOGUE_GROUPING!r}.")
# eCandidat SVA_ALERT_DEFINITIF: on, only a validated decision of a final type ends an application's SVA alert.
SVA_ALERT_FINAL_ONLY = env_bool("SVA_ALERT_FINAL_ONLY", False)
# The public address of the site, for links in mails sent outside a request (decision letters, issue 12).
SITE_URL = env_str("SITE_URL", "http://localhost:8000").rstrip("/")
UNVALIDATED_ACCOUNT_DAYS = env_int("UNVALIDATED_ACCOUNT_DAYS", 5, minimum=1)

# --- Authentication (django-allauth) ----------------------------------------------------------------------
# Django's and allauth's backends; each logged-in request's account is read by a prepared query (accounts/backends.py).
AUTHENTICATION_BACKENDS = [
    "accounts.backends.ModelBackend",
    "accounts.backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # CNIL recommendation for a password alone: at least 12 characters.
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "applications:start"  # the dossier's next step, the applications, or the back office
LOGOUT_REDIRECT_URL = "home"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGOUT_ON_GET = False
# No « Se souvenir de moi »: eCandidat has no such choice, and candidates log in on shared university computers. Every
# login, password or ENT, gets the same session (SESSION_EXPIRE_AT_BROWSER_CLOSE below); allauth drops the box.
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_PASSWORD_RESET_TIMEOUT = 2 * 3600
PASSWORD_RESET_TIMEOUT = 2 * 3600
ACCOUNT_RATE_LIMITS = {
    # Failed logins: 5 per account (the login typed) and, separately, 30 per IP address in 5 minutes, so that one
    # account under attack is locked without locking everyone behind the same campus NAT.
    "login_failed": "30/5m/ip,5/5m/key",
    # Staff enrolment (accounts/staff_enrolment.py): mailed links per account, codes typed per account and per IP.
    "staff_enrolment_mail": "3/h/user",
    "staff_enrolment_code": "5/15m/user,20/h/ip",
    "signup": "20/h/ip",
    "reset_password": "5/h/ip,3/h/key",
    "confirm_email": "3/10m/key",
}
# The client's address, that every per-IP rate limit counts (login_failed, signup, reset_password above, the fair use
# of documents/fair_use.py, the ENT's back-channel logout), as allauth's ``get_client_ip`` reads it. 0: the TCP
# peer (REMOTE_ADDR), X-Forwarded-For ignored (anyone could send one and get a fresh counter at each request): `make
# run`, or gunicorn reached directly. N, the number of proxies of ours in front (each appends to X-Forwarded-For the
# address it was reached from): the N-th address from the end is the client's. 1 behind deploy/nginx.conf.example;
# left at 0 there, every visitor is 127.0.0.1, and 30 typos from 30 candidates lock everyone out of the login.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
# Every allauth form a page of ours shows is one of accounts.forms (its placeholders dropped, RGAA 11.1).
ACCOUNT_FORMS = {
    "login": "accounts.forms.LoginForm",
    "signup": "accounts.forms.SignupForm",
    "reset_password": "accounts.forms.ResetPasswordForm",
    "set_password": "accounts.forms.SetPasswordForm",
    "change_password": "accounts.forms.ChangePasswordForm",
    "reset_password_from_key": "accounts.forms.ResetPasswordKeyForm",
    "reauthenticate": "accounts.forms.ReauthenticateForm",
    # The reset link is refused to accounts that may no longer get a password that way (ENT, deactivated).
    "user_token": "accounts.forms.UserTokenForm",
}
SOCIALACCOUNT_FORMS = {"signup": "accounts.forms.SocialSignupForm"}
MFA_FORMS = {
    "authenticate": "accounts.forms.MfaAuthenticateForm",
    "reauthenticate": "accounts.forms.MfaReauthenticateForm",
    "activate_totp": "accounts.forms.ActivateTOTPForm",
}
# Staff: the back office (admin) needs a second factor in the session, a TOTP code or an ENT login; see
# accounts/staff_access.py. dev.py turns it off by default so that the demo staff logins of `make run` stay simple.
STAFF_MFA_REQUIRED = env_bool("STAFF_MFA_REQUIRED", True)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]  # recovery codes: the way back when the phone is lost
MFA_TOTP_ISSUER = INSTITUTION_NAME  # the account's name in the authenticator app
MFA_TOTP_TOLERANCE = 1  # one 30-second step either side: a code typed as it changes is still accepted
MFA_RECOVERY_CODE_COUNT = 10
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = UNVALIDATED_ACCOUNT_DAYS
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # never link an ENT identity to an e-mail account silently
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
# No ENT token is stored in the database; only the session of an ENT login keeps its ID token (the id_token_hint of
# the ENT logout, accounts/oidc.py), until logout or expiry.
SOCIALACCOUNT_STORE_TOKENS = False
ENT_SERVER_URL = env_str("ENT_SERVER_URL")
ENT_CLIENT_ID = env_str("ENT_CLIENT_ID", "ecandidat")
ENT_CLIENT_SECRET = env_str("ENT_CLIENT_SECRET", "")
ENT_ORIGIN = "{0.scheme}://{0.netloc}".format(urlsplit(ENT_SERVER_URL)) if ENT_SERVER_URL else ""
# The ENT speaks OpenID Connect (ENT_SERVER_URL = the issuer) or CAS 3.0 (ENT_SERVER_URL = the CAS prefix, e.g.
# https://cas.univ.fr/cas): accounts/cas.py. Both map to the same "ent" identities (uid = the ENT login).
ENT_PROTOCOL = env_str("ENT_PROTOCOL", "oidc")
# The ID token claim that carries the person's directory uid (OpenID Connect): a staff member's first ENT login links
# their identity to the staff account of that username (accounts/directory.py link_ent_identity). Apereo CAS maps
# uid to preferred_username; an ENT that releases the supann uid as such: ENT_STAFF_UID_CLAIM=uid. Empty: no linking.
ENT_STAFF_UID_CLAIM = env_str("ENT_STAFF_UID_CLAIM", "preferred_username")
# The ENT's back-channel logout (accounts/oidc_backchannel.py) per IP address, counted before any token is read: the
# ENT posts one logout token per session that ends, a few a minute; 600 a minute from one address is not the ENT.
# Over the limit: 429 with Retry-After. Empty: no limit.
ENT_BACKCHANNEL_LOGOUT_RATE_LIMITS = _rate_limits(
    "ENT_BACKCHANNEL_LOGOUT_RATE_LIMITS", env_str("ENT_BACKCHANNEL_LOGOUT_RATE_LIMITS", "600/1m/ip"), anonymous=True
)
if ENT_PROTOCOL not in {"oidc", "cas"}:
    raise ImproperlyConfigured(f"ENT_PROTOCOL must be oidc or cas, not {ENT_PROTOCOL!r}.")
CAS_SERVER_URL = ENT_SERVER_URL.rstrip("/") + "/" if ENT_PROTOCOL == "cas" and ENT_SERVER_URL else None
CAS_VERSION = "3"
CAS_VERIFY_SSL_CERTIFICATE = True
# Seconds the ticket validation waits for the CAS server (python-cas sets no limit of its own; ecandidat/http.py).
CAS_TIMEOUT_SECONDS = env_int("CAS_TIMEOUT_SECONDS", 5, minimum=1)
# with CAS, bytes the answer to a ticket validation may hold: a longer one is refused as a CAS server that does not
# answer, rather than held whole in a web worker's memory.
CAS_MAX_ANSWER_BYTES = env_int("CAS_MAX_ANSWER_BYTES", 1024 * 1024, minimum=1)
CAS_SESSION_FACTORY = cas_session
# Staff directory (accounts/directory.py): LDAP_URL empty means no directory (staff are created by hand).
LDAP_URL = env_str("LDAP_URL")
LDAP_BIND_DN = env_str("LDAP_BIND_DN")
LDAP_BIND_PASSWORD = env_str("LDAP_BIND_PASSWORD")
LDAP_PEOPLE_BASE = env_str("LDAP_PEOPLE_BASE", "ou=people,dc=univ,dc=fr")
LDAP_STAFF_FILTER = env_str(
    "LDAP_STAFF_FILTER", "(|(eduPersonAffiliation=staff)(eduPersonAffiliation=faculty)(eduPersonAffiliation=employee))"
)
# The directory's certificate is always checked (ldaps://, or ldap:// with LDAP_START_TLS: StartTLS before the bind),
# against the system's CAs, or the CA bundle (PEM) at LDAP_CA_FILE for a directory signed by the university's own CA.
LDAP_CA_FILE = env_str("LDAP_CA_FILE")
LDAP_START_TLS = env_bool("LDAP_START_TLS", False)
# The nightly staff refresh (refresh_staff_directory) deactivates at most this many accounts in one run, and none when
# more would go: a misconfigured directory (wrong base, filter) looks like "everyone left".
STAFF_DIRECTORY_MAX_DEACTIVATIONS = env_int("STAFF_DIRECTORY_MAX_DEACTIVATIONS", 10, minimum=0)
SOCIALACCOUNT_PROVIDERS = {
    "openid_connect": {
        "OAUTH_PKCE_ENABLED": True,
        "APPS": (
            [
                {
                    "provider_id": "ent",
                    "name": "ENT",
                    "client_id": ENT_CLIENT_ID,
                    "secret": ENT_CLIENT_SECRET,
                    "settings": {"server_url": ENT_SERVER_URL, "oauth_pkce_enabled": True},
                }
            ]
            if ENT_SERVER_URL
            else []
        ),
    }
}

# --- Sessions and security --------------------------------------------------------------------------------
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 45 * 60, minimum=60)  # eCandidat's 45-minute session
# Sliding expiry (45 minutes of inactivity, not of total time) without a write per request: the session is saved
# again only once SESSION_REFRESH_AFTER seconds have passed since its last refresh (ecandidat/sessions.py, README).
SESSION_SAVE_EVERY_REQUEST = False
# The cookie ends with the browser (closing it on a shared computer logs out), and the session ends anyway after
# SESSION_COOKIE_AGE of inactivity on the server (its row's expiry, moved by each refresh): the same for every login.
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_ENGINE = "ecandidat.sessions"  # Django's database store, its row read by a prepared query (issue 14)
SESSION_REFRESH_AFTER = max(1, min(300, SESSION_COOKIE_AGE // 9))
# Absolute lifetime (ANSSI, OWASP): a logged-in session ends this many seconds after its login, however active it is;
# the person logs in again (ecandidat/sessions.py). 12 hours by default, never shorter than SESSION_COOKIE_AGE.
SESSION_ABSOLUTE_AGE = env_int("SESSION_ABSOLUTE_AGE", max(12 * 3600, SESSION_COOKIE_AGE), minimum=SESSION_COOKIE_AGE)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
# Over HTTPS (DEBUG off), the __Host- prefix: browsers keep such a cookie only if it is Secure, has Path=/ and no
# Domain, so no other host of the university's domain (a sibling application, a subdomain taken over) can set or
# overwrite it (session fixation, CSRF token injection). The domains and paths stay Django's (none, and /): the
# project has no FORCE_SCRIPT_NAME, each deployment its own host name. With DEBUG on (http://), Django's names.
_session_cookie_name = "sessionid" if DEBUG else "__Host-ecandidat_session"
_csrf_cookie_name = "csrftoken" if DEBUG else "__Host-ecandidat_csrftoken"
SESSION_COOKIE_NAME = env_str("SESSION_COOKIE_NAME", _session_cookie_name).strip() or _session_cookie_name
CSRF_COOKIE_NAME = env_str("CSRF_COOKIE_NAME", _csrf_cookie_name).strip() or _csrf_cookie_name
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    # The ENT button posts to our own URL, which redirects the browser to the ENT's authorization page: browsers
    # apply form-action to that redirect too, so without the ENT's origin the button silently does nothing.
    "form-action": [CSP.SELF, *filter(None, [ENT_ORIGIN])],
}
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Logging ----------------------------------------------------------------------------------------------


def _one_warning_line(record: logging.LogRecord) -> bool:
    """A request for a host not in ALLOWED_HOSTS (scanners, a stray DNS name): Django logs an ERROR with its whole
    traceback (django.security.DisallowedHost) at every such request, which floods the journal. It is not our error:
    one WARNING line naming the host is enough for IT."""
    record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
    record.exc_info, record.exc_text = None, None
    return True


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # [the request's reference] (ecandidat/request_id.py): the one the 500 page shows and X-Request-ID gives; "-"
        # outside a request (batches, tasks).
        "plain": {"format": "%(asctime)s [%(request_id)s] %(levelname)s %(name)s %(message)s"},
    },
    "filters": {
        "one_warning_line": {"()": lambda: _one_warning_line},
        "request_id": {"()": "ecandidat.request_id.RequestIdFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
        "admins_mail_throttle": {"()": "ecandidat.request_id.AdminMailThrottle"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]},
        # Django's mail to ADMINS on each error it logs (a page's 500 above all), which is a no-op while ADMINS is
        # empty. With the reference and the traceback only, not Django's report of the request (its form fields,
        # cookies, the person's address: candidates' personal data by mail), and once per error and per process every
        # 10 minutes (a database outage fails every page at the same line: one mail, not one per page).
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false", "admins_mail_throttle"],
            "reporter_class": "ecandidat.request_id.ReferenceOnlyReporter",
        },
    },
    "root": {"handlers": ["console"], "level": env_log_level("LOG_LEVEL", "INFO")},
    "loggers": {
        # Instead of Django's own (DEFAULT_LOGGING: its mail to ADMINS with the whole report, and in DEBUG a second
        # console that wrote each of its lines twice); the lines still reach the console above.
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        "django.db.backends": {"level": "WARNING"},
        # pypdf logs one ERROR per object it recovers from: a 175 KB PDF of nested dictionaries wrote 12,000 lines at
        # each upload and each dossier PDF holding it (about 140,000 for 2 MB), slightly damaged scans a warning at
        # every build. The upload checks answer the candidate and the dossier PDF logs what it leaves out.
        "pypdf": {"level": "CRITICAL"},
        # fpdf2 subsets the embedded fonts of every letter and dossier PDF with fontTools, which logs each step at
        # INFO: 100 to 400 lines per PDF (1,600 before `make run`'s banner) buried everything else in the journal.
        "fontTools": {"level": "WARNING"},
        # deploy/nginx.conf.example keeps foreign hosts away; behind another proxy they reach Django.
        "django.security.DisallowedHost": {"filters": ["one_warning_line"]},
    },
}

# --- Nightly batches --------------------------------------------------------------------------------------
FAVOURABLE_REMINDER_DAYS = env_int("FAVOURABLE_REMINDER_DAYS", 2, minimum=0)
# Remind a candidate who has not transmitted an online application this many days before its return deadline
# (remind_transmission, mail CANDIDATURE_RELANCE_TRANSMISSION); 0 switches the reminder off.
TRANSMISSION_REMINDER_DAYS = env_int("TRANSMISSION_REMINDER_DAYS", 3, minimum=0)
ARCHIVE_RETENTION_DAYS = env_int("ARCHIVE_RETENTION_DAYS", 365, minimum=1)
OUTBOX_RETENTION_DAYS = env_int("OUTBOX_RETENTION_DAYS", 400, minimum=1)
# Above this many applications, « Exporter avec les colonnes choisies » is built in the background
# (applications.export_jobs).
EXPORT_IN_REQUEST_MAX_ROWS = env_int("EXPORT_IN_REQUEST_MAX_ROWS", 2000, minimum=1)
# Days a login line stays in the accounts' history (prune_login_history): the CNIL recommends keeping connection
# logs 6 months to 1 year; a year covers a whole campaign, from its opening to its archiving.
LOGIN_HISTORY_RETENTION_DAYS = env_int("LOGIN_HISTORY_RETENTION_DAYS", 365, minimum=1)
# Days of batch history kept (prune_batch_history, eCandidat TECH_NB_JOUR_KEEP_HISTO_BATCH); each batch's last run
# is always kept.
BATCH_HISTORY_DAYS = env_int("BATCH_HISTORY_DAYS", 30, minimum=1)
# Seconds between a running batch's signs of life (ecandidat.batches.Heartbeat); one silent for 5 of them is taken as
# crashed and may run again (eCandidat BATCH_NETTOYAGE waited a fixed 4 hours, and took a long batch for dead).
BATCH_HEARTBEAT_SECONDS = env_int("BATCH_HEARTBEAT_SECONDS", 60, minimum=1)
LIMESURVEY_URL = env_str("LIMESURVEY_URL")  # e.g. https://enquetes.univ.example/index.php/admin/remotecontrol
LIMESURVEY_USER = env_str("LIMESURVEY_USER", "")
LIMESURVEY_PASSWORD = env_str("LIMESURVEY_PASSWORD", "")
# Bytes a LimeSurvey answer may hold (a survey's whole export), at most: a longer one is an error of that call, not
# read whole into the nightly's memory.
LIMESURVEY_MAX_ANSWER_BYTES = env_int("LIMESURVEY_MAX_ANSWER_BYTES", 64 * 1024 * 1024, minimum=1)

# --- Student records system (applications/sis.py) ----------------------------------------------------------
# csv: the local copy loaded by `manage.py import_sis FILE` (docs/sis-format.md); pegase: Pégase's REST API.
STUDENT_RECORDS_BACKEND = env_str("STUDENT_RECORDS_BACKEND", "csv")
if STUDENT_RECORDS_BACKEND not in ("csv", "pegase"):
    raise ImproperlyConfigured(f"STUDENT_RECORDS_BACKEND must be csv or pegase, not {STUDENT_RECORDS_BACKEND!r}.")
# Pégase (eCandidat's configUrlServicesPegase.properties and pegase.* JNDI settings). The token comes from the
# authentication URL (a CAS REST endpoint: form username, password, token=true; the body is the JWT).
PEGASE_AUTH_URL = env_str("PEGASE_AUTH_URL", "")  # e.g. https://authn-app.univ.fr/cas/v1/tickets
PEGASE_USERNAME = env_str("PEGASE_USERNAME", "")
PEGASE_PASSWORD = env_str("PEGASE_PASSWORD", "")
PEGASE_ETABLISSEMENT = env_str("PEGASE_ETABLISSEMENT", "")  # the institution's code in Pégase, e.g. ETAB00
PEGASE_REF_URL = env_str("PEGASE_REF_URL", "")  # e.g. https://ref.univ.fr/api/v1/ref/ (nomenclatures)
PEGASE_IDT_URL = env_str("PEGASE_IDT_URL", "")  # e.g. https://idt.univ.fr/api/idt/v1/ (identities)
PEGASE_INS_URL = env_str("PEGASE_INS_URL", "")  # e.g. https://ins.univ.fr/api/ins/ext/v2/ (enrolments)
# e.g. https://coc.univ.fr/api/coc/publication/v2/ (published results); empty: the cursus comes without results.
PEGASE_COC_URL = env_str("PEGASE_COC_URL", "")
# Seconds each call to Pégase may take, connection and whole answer (not each read): a login must not hang on it.
PEGASE_TIMEOUT = env_int("PEGASE_TIMEOUT", 10, minimum=1)
# Bytes an answer of Pégase may hold, at most: a longer one is refused as an outage, not read whole into the web
# worker's memory (an answer of 400 MiB grew a worker by 1.2 GiB).
PEGASE_MAX_ANSWER_BYTES = env_int("PEGASE_MAX_ANSWER_BYTES", 32 * 1024 * 1024, minimum=1)
if STUDENT_RECORDS_BACKEND == "pegase":
    _missing = [
        name
        for name in ("PEGASE_AUTH_URL", "PEGASE_USERNAME", "PEGASE_PASSWORD", "PEGASE_ETABLISSEMENT")
        + ("PEGASE_REF_URL", "PEGASE_IDT_URL", "PEGASE_INS_URL")
        if not globals()[name]
    ]
    if _missing:
        raise ImproperlyConfigured(f"STUDENT_RECORDS_BACKEND=pegase needs {', '.join(_missing)}.")
# --- OPI: admitted candidates pre-registered in the student records system (ecandidat-features §2.12) --------
# Which file the nightly transfer_opi batch writes: "pegase" (the three CSV files Pégase imports) or "apogee" (one
# file an Apogée team loads); "none" creates no OPI at all (eCandidat OPI_IS_UTILISE=N).
OPI_BACKEND = env_str("OPI_BACKEND", "pegase").strip().lower()
if OPI_BACKEND not in {"pegase", "apogee", "none"}:
    raise ImproperlyConfigured(f"OPI_BACKEND must be pegase, apogee or none, not {OPI_BACKEND!r}.")
# OPI code = this prefix + numéro de dossier (eCandidat OPI_PREFIXE: at most 2 characters, Apogée's code is 10).
OPI_PREFIX = env_str("OPI_PREFIX", "EC").strip().upper()
if not re.fullmatch(r"[0-9A-Z]{0,2}", OPI_PREFIX):
    raise ImproperlyConfigured(f"OPI_PREFIX must be at most 2 letters A-Z or digits, not {OPI_PREFIX!r}.")
# The first characters of every new numéro de dossier (eCandidat CANDIDAT_PREFIXE_NUM_DOSS): the number stays 8
# characters long, so the OPI code stays 10; numbers already issued keep theirs.
DOSSIER_NUMBER_PREFIX = env_str("DOSSIER_NUMBER_PREFIX", "").strip().upper()
if not re.fullmatch(r"[0-9A-Z]{0,2}", DOSSIER_NUMBER_PREFIX):
    raise ImproperlyConfigured(
        f"DOSSIER_NUMBER_PREFIX must be at most 2 letters A-Z or digits, not {DOSSIER_NUMBER_PREFIX!r}."
    )
# At most this many candidates per nightly run (eCandidat OPI_NB_BATCH_MAX; 0 = no cap); the rest wait a night.
OPI_BATCH_MAX = env_int("OPI_BATCH_MAX", 0, minimum=0)
# eCandidat OPI_IS_UTILISE_PJ (off by default): with OPI_BACKEND=apogee, the validated files of the pieces whose type
# has an Apogée code (COD_TPJ) go with the candidate's OPI (PJ-OPI, docs/opi-apogee.md). A parameter of « Paramètres ».
OPI_PIECES = env_bool("OPI_PIECES", False)
# Optional folder where the batch also writes the day's files (eCandidat pegase.opi.path), for an import job that
# reads a folder; unset: the files live in the database only and staff download them from the OPI screen.
OPI_EXPORT_DIR = env_str("OPI_EXPORT_DIR", "")
# Days the day's OPI files (OpiExport.files: names, birth dates, addresses, INE) are kept once collected (written to
# OPI_EXPORT_DIR, or first downloaded from the OPI screen), then emptied by the nightly prune_opi_files; files nobody
# collected are kept until their campaign's dossiers are destroyed (ARCHIVE_RETENTION_DAYS), never longer.
OPI_FILES_RETENTION_DAYS = env_int("OPI_FILES_RETENTION_DAYS", 30, minimum=1)
