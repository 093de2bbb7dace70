"""System checks that stop a production start with an unsafe configuration (registered in ecandidat/apps.py).

They are errors, not warnings: Django's own ``security.W009`` only warns about a weak SECRET_KEY, and nothing said that
uploaded pieces go unscanned without ``CLAMD_ADDRESS``. They run with every management command that checks the
project (``check``, ``check --deploy``, ``migrate``, ``runserver``) and with the ``ExecStartPre`` of the deployment
examples (deploy/ecandidat.service), so gunicorn is never started with them failing. ``check_writable_folders``,
``check_site_url``, ``check_default_from_email`` and ``check_allowed_hosts`` run with ``check --deploy`` only: the
service's ExecStartPre (as the service's user) and compose's ``migrate`` step. So do two warnings:
``check_ent_server_url`` (an ENT over plain http, ``ecandidat.W005``) and ``check_ldap_url`` (a directory read
unencrypted, ``ecandidat.W006``), which ``--fail-level WARNING`` turns into a stop.

Production is any settings module but ``ecandidat.settings.dev`` and ``ecandidat.settings.test``: those two ship
known keys and run without clamd on purpose, so the checks leave them alone.
"""

import getpass
import ipaddress
import os
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.files.storage import FileSystemStorage, storages
from django.http.request import split_domain_port, validate_host
from redis.exceptions import RedisError

from ecandidat import admin_wording
from ecandidat.celery import claim_keys, claim_redis, read_claims, redis_address, shared_with
from ecandidat.deployment import deployment_identity, deployment_label
from ecandidat.downloads import signs_urls

NON_PRODUCTION_SETTINGS = frozenset({"ecandidat.settings.dev", "ecandidat.settings.test"})
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_DISTINCT_CHARACTERS = 10
# Keys that were ever written down in this repository or in Django's and allauth's documentation.
KNOWN_SECRET_KEYS = frozenset(
    {
        "dev-only-insecure-key-never-use-in-production",
        "test-only-insecure-key",
        "changeme",
        "change-me",
        "secret",
    }
)


def is_production() -> bool:
    # Under override_settings (a test's ``settings`` fixture) Django answers SETTINGS_MODULE = None: the module the
    # process was started with is then the environment's.
    module = settings.SETTINGS_MODULE or os.environ.get("DJANGO_SETTINGS_MODULE")
    return module not in NON_PRODUCTION_SETTINGS


def weakness_of(key: str) -> str | None:
    """Why ``key`` is not a production secret key, or None."""
    if key in KNOWN_SECRET_KEYS or "insecure" in key.lower():
        return "it is a known development or example value"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"it has {len(key)} characters, fewer than {SECRET_KEY_MIN_LENGTH}"
    if len(set(key)) < SECRET_KEY_MIN_DISTINCT_CHARACTERS:
        return f"it uses fewer than {SECRET_KEY_MIN_DISTINCT_CHARACTERS} different characters"
    return None


GENERATE = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(64))'"


@register("security")
def check_secret_key(app_configs, **kwargs) -> list[Error]:
    """SECRET_KEY (and SECRET_KEY_FALLBACKS) signs sessions, password-reset links and enrolment links."""
    if not is_production():
        return []
    errors = []
    for name, key in [("SECRET_KEY", settings.SECRET_KEY)] + [
        (f"SECRET_KEY_FALLBACKS[{index}]", fallback) for index, fallback in enumerate(settings.SECRET_KEY_FALLBACKS)
    ]:
        reason = weakness_of(str(key))
        if reason:
            errors.append(Error(f"{name} is not fit for production: {reason}.", hint=GENERATE, id="ecandidat.E001"))
    return errors


@register("security")
def check_antivirus(app_configs, **kwargs) -> list[Error]:
    """Staff open the pieces candidates upload: running without clamd must be a decision, written down."""
    if not is_production() or settings.CLAMD_ADDRESS or getattr(settings, "CLAMD_DISABLED", False):
        return []
    return [
        Error(
            "No antivirus: CLAMD_ADDRESS is not set, so uploaded pieces would not be scanned.",
            hint="Set CLAMD_ADDRESS=tcp://127.0.0.1:3310 (or unix:///run/clamav/clamd.ctl); to run without an "
            "antivirus on purpose, set CLAMD_ADDRESS=none.",
            id="ecandidat.E002",
        )
    ]


@register()
def check_database(app_configs, **kwargs) -> list[Error]:
    """Without DATABASE_URL the settings fall back to the newcomer's SQLite file under VAR_DIR: production ran on a
    fresh, empty file (``migrate`` created it, /healthz said the database was fine) instead of the university's
    PostgreSQL. Not a deploy check: it stops ``migrate`` and the cron's commands too, before they write there."""
    database = settings.DATABASES["default"]
    if not is_production() or database["ENGINE"] != "django.db.backends.sqlite3":
        return []
    return [
        Error(
            f"The database is an SQLite file ({database['NAME']}), not PostgreSQL: DATABASE_URL is not set, or names "
            "an SQLite file.",
            hint="Set DATABASE_URL=postgres://user:password@host:5432/ecandidat in /etc/ecandidat/env or compose's "
            ".env.",
            id="ecandidat.E006",
        )
    ]


@register("security")
def check_debug(app_configs, **kwargs) -> list[Error]:
    """DEBUG shows every error's settings and local variables to whoever caused it, serves files Django should not,
    and keeps every query in memory; Django's own ``security.W018`` is only a warning, which ExecStartPre
    (``--fail-level ERROR``) let pass."""
    if not is_production() or not settings.DEBUG:
        return []
    return [
        Error(
            "DEBUG is on: every error page would show the settings and the request's data to the visitor.",
            hint="Set DEBUG=0 (or remove DEBUG) in /etc/ecandidat/env or compose's .env.",
            id="ecandidat.E008",
        )
    ]


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a uid with no name (some containers)
        return f"uid {os.getuid()}"


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def unwritable_folders() -> list[tuple[str, Path]]:
    """The folders this process must write to but cannot: MEDIA_ROOT when the pieces are stored on disk (no bucket),
    OPI_EXPORT_DIR when set. A folder not created yet counts as writable when its nearest existing parent is a
    folder this process may write in."""
    folders = []
    if not getattr(settings, "AWS_STORAGE_BUCKET_NAME", None):
        folders.append(("MEDIA_ROOT", Path(settings.MEDIA_ROOT)))
    if getattr(settings, "OPI_EXPORT_DIR", ""):
        folders.append(("OPI_EXPORT_DIR", Path(settings.OPI_EXPORT_DIR)))
    unwritable = []
    for name, folder in folders:
        existing = _nearest_existing(folder.resolve())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            unwritable.append((name, folder))
    return unwritable


@register("storage", deploy=True)
def check_writable_folders(app_configs, **kwargs) -> list[Error]:
    """Uploads (and the OPI files) would fail one by one at run time; ExecStartPre runs this as the service's user,
    in the unit's sandbox (ProtectSystem=strict: only ReadWritePaths are writable), so the start says why instead."""
    if not is_production():
        return []
    return [
        Error(
            f"{name} ({folder}) is not writable by this process (user {_user_name()}).",
            hint=f"Create it for the service's user (install -d -o ecandidat -g ecandidat -m 0750 {folder}) and, "
            "under systemd, list it in ReadWritePaths= of deploy/ecandidat*.service.",
            id="ecandidat.E003",
        )
        for name, folder in unwritable_folders()
    ]


def _is_loopback(host: str) -> bool:
    """``localhost`` (and its subdomains, RFC 6761), a loopback address (127.0.0.0/8, ::1) or 0.0.0.0: an address that
    names the candidate's own machine, not the site."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


SITE_URL_HINT = (
    "Set SITE_URL to the public address of the site, as candidates type it (SITE_URL=https://ecandidat.univ.fr), "
    "in /etc/ecandidat/env or compose's .env."
)


def site_url_problem() -> str | None:
    """Why SITE_URL cannot be the address of the links in the mails (password-set link of an account created by the
    helpdesk, ``${site_url}``, recap, back office and letter links), or None."""
    site_url = settings.SITE_URL
    parts = urlsplit(site_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"SITE_URL ({site_url!r}) is not an absolute http(s) address: the links in the mails lead nowhere."
    if _is_loopback(parts.hostname):
        return (
            f"SITE_URL is {site_url}: every link in the mails (password-set, decision letter, recap) would point to "
            "the candidate's own machine."
        )
    if parts.scheme == "http" and settings.SECURE_SSL_REDIRECT:
        return (
            f"SITE_URL is {site_url}, over http while SECURE_SSL_REDIRECT redirects every request to https: the "
            "links in the mails would go unencrypted first (a password-set link readable on the way)."
        )
    return None


@register("security", deploy=True)
def check_site_url(app_configs, **kwargs) -> list[Error]:
    """Mails sent outside a request (helpdesk account creation, decisions, letters, nightly reminders) build their
    links on SITE_URL, whose default is the developer's http://localhost:8000."""
    if not is_production():
        return []
    problem = site_url_problem()
    return [Error(problem, hint=SITE_URL_HINT, id="ecandidat.E004")] if problem else []


def site_host_refused() -> str | None:
    """SITE_URL's host when ALLOWED_HOSTS refuses it (as Django's ``HttpRequest.get_host`` would, with a 400 to every
    request for it), else None; None too when SITE_URL has no host (ecandidat.E004 says so)."""
    netloc = urlsplit(settings.SITE_URL).netloc.rpartition("@")[2]
    if not netloc:
        return None
    domain, _port = split_domain_port(netloc)
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]
    if domain and validate_host(domain, allowed_hosts):
        return None
    return domain or netloc


@register("security", deploy=True)
def check_allowed_hosts(app_configs, **kwargs) -> list[Error]:
    """ALLOWED_HOSTS defaults to localhost,127.0.0.1: an install that left it out started cleanly, then answered 400 to
    every request nginx passed on with the site's name."""
    if not is_production():
        return []
    host = site_host_refused()
    if host is None:
        return []
    allowed = ", ".join(settings.ALLOWED_HOSTS) or "empty"
    return [
        Error(
            f"SITE_URL's host {host} is not allowed by ALLOWED_HOSTS ({allowed}): every request for the site's "
            "address would be answered 400 Bad Request.",
            hint=f"Add {host} to ALLOWED_HOSTS (comma-separated, with any other name the site is reached by), or "
            "correct SITE_URL, in /etc/ecandidat/env or compose's .env.",
            id="ecandidat.E007",
        )
    ]


# Domains no mail can come from (RFC 2606, RFC 6761): the top-level names reserved for tests and documentation, and
# the second-level ones reserved for examples. Relays refuse a sender there, SPF and DMARC fail, replies go nowhere.
RESERVED_TOP_LEVEL_DOMAINS = frozenset({"localhost", "example", "invalid", "test"})
RESERVED_EXAMPLE_DOMAINS = frozenset({"example.org", "example.com", "example.net"})
SENDER_HINT = (
    "Set DEFAULT_FROM_EMAIL to an address of the university's mail domain, one its relay may send from (SPF, DKIM), "
    "e.g. DEFAULT_FROM_EMAIL=ne-pas-repondre@univ.fr, in /etc/ecandidat/env or compose's .env."
)


def sender_problem() -> str | None:
    """Why DEFAULT_FROM_EMAIL (the sender of every mail, and of the error mails: SERVER_EMAIL) cannot leave for the
    candidates' mailboxes, or None."""
    sender = str(settings.DEFAULT_FROM_EMAIL)
    address = parseaddr(sender)[1]
    domain = address.rpartition("@")[2].lower().rstrip(".") if "@" in address else ""
    if not domain:
        return f"DEFAULT_FROM_EMAIL ({sender!r}) is not an e-mail address: every mail would leave without a sender."
    labels = domain.split(".")
    if labels[-1] in RESERVED_TOP_LEVEL_DOMAINS or ".".join(labels[-2:]) in RESERVED_EXAMPLE_DOMAINS:
        return (
            f"DEFAULT_FROM_EMAIL is {sender}: {domain} is a reserved domain, so every mail (account validation, "
            "password reset, decisions) would leave with a sender relays refuse and SPF/DMARC fail."
        )
    return None


@register("security", deploy=True)
def check_default_from_email(app_configs, **kwargs) -> list[Error]:
    """The sender's default, ne-pas-repondre@ecandidat.localhost, suits ``make run`` only; nothing said so before the
    first mails bounced in production."""
    if not is_production():
        return []
    problem = sender_problem()
    return [Error(problem, hint=SENDER_HINT, id="ecandidat.E005")] if problem else []


@register("admin")
def check_admin_wording(app_configs, **kwargs) -> list[Warning]:
    """A Django upgrade that moves the admin's yes/no icon function brings back alt="True" (admin_wording.py)."""
    if admin_wording.installed():
        return []
    return [
        Warning(
            "The back office's yes/no icons say True/False again: django.contrib.admin.templatetags.admin_list has "
            "no _boolean_icon any more.",
            hint="Find where this Django version writes the icon and point ecandidat/admin_wording.py there.",
            id="ecandidat.W001",
        )
    ]


# The backgrounds the institution's colour (INSTITUTION_BRAND_COLOUR, served by /theme.css) sits on or under, in
# static/css/app.css: text and links in that colour on white, on --bg-soft (tabs, buttons on hover) and on the
# menu's hover band; white text on it (primary buttons, the header). WCAG 1.4.3 asks 4.5:1 for each.
BRAND_BACKGROUNDS = ("#ffffff", "#f3f5f8", "#e6eaf0")
MIN_TEXT_CONTRAST = 4.5


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance of a ``#rrggbb`` colour."""
    channels = (int(colour[index : index + 2], 16) / 255 for index in (1, 3, 5))
    red, green, blue = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours, from 1 to 21."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@register()
def check_brand_colour_contrast(app_configs, **kwargs) -> list[Warning]:
    """A light institution colour would make every link, tab and primary button unreadable to some (RGAA 3.2)."""
    brand = settings.INSTITUTION_BRAND_COLOUR
    worst = min(contrast_ratio(brand, background) for background in BRAND_BACKGROUNDS)
    if worst >= MIN_TEXT_CONTRAST:
        return []
    return [
        Warning(
            f"INSTITUTION_BRAND_COLOUR {brand} has a contrast of {worst:.2f}:1 with the backgrounds it is read on "
            f"(white, {BRAND_BACKGROUNDS[1]}, {BRAND_BACKGROUNDS[2]}); links, tabs and buttons need "
            f"{MIN_TEXT_CONTRAST}:1.",
            hint="Choose a darker shade of the institution's colour.",
            id="ecandidat.W002",
        )
    ]


@register()
def check_pdf_fallback_fonts(app_configs, **kwargs) -> list[Warning]:
    """A fallback font the process cannot read leaves Chinese, Japanese, Korean, Arabic… as « � » in the PDFs (each
    PDF that needs it logs the error too, and is still drawn): a warning, not an error, since the PDFs are what they
    were without the setting."""
    return [
        Warning(
            f"PDF_FALLBACK_FONTS: {path} is not a file this process can read (user {_user_name()}).",
            hint="Install the font's package (fonts-noto-cjk: /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc;"
            " fonts-noto-core: /usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf) or correct the path.",
            id="ecandidat.W003",
        )
        for path, _face in settings.PDF_FALLBACK_FONTS
        if not Path(path).is_file() or not os.access(path, os.R_OK)
    ]


@register()
def check_download_accel_redirect(app_configs, **kwargs) -> list[Warning]:
    """DOWNLOAD_ACCEL_REDIRECT_PREFIX hands the large downloads to nginx: files on this disk by their path, files on S3
    by a signed URL of the object (ecandidat/downloads.py). Any other storage (an S3 one without signed URLs, a
    custom domain) has neither, so the downloads stay streamed by Django: say so rather than ignore it silently."""
    storage = storages["default"]
    if not settings.DOWNLOAD_ACCEL_REDIRECT_PREFIX or isinstance(storage, FileSystemStorage) or signs_urls(storage):
        return []
    return [
        Warning(
            "DOWNLOAD_ACCEL_REDIRECT_PREFIX is set but the files are neither on this disk nor in a bucket whose "
            "objects get signed URLs: Django streams the downloads, held by the gunicorn timeout.",
            hint="Store the files on this disk or on S3 with signed URLs (AWS_STORAGE_BUCKET_NAME), or unset "
            "DOWNLOAD_ACCEL_REDIRECT_PREFIX (README, Production deployment, large downloads).",
            id="ecandidat.W004",
        )
    ]


@register("security", deploy=True)
def check_ent_server_url(app_configs, **kwargs) -> list[Warning]:
    """ENT_SERVER_URL is the CAS prefix (``ENT_PROTOCOL=cas``: the service tickets are validated there, and the answer
    names who logs in, staff included) or the OpenID Connect issuer (discovery, keys, tokens): over plain http a
    machine on the way reads the tickets and codes, or answers as the ENT and logs anyone in as anyone."""
    if not is_production() or not settings.ENT_SERVER_URL:
        return []
    if urlsplit(settings.ENT_SERVER_URL).scheme.lower() == "https":
        return []
    return [
        Warning(
            f"ENT_SERVER_URL is {settings.ENT_SERVER_URL}, not an https:// address: the ENT's answers (CAS tickets "
            "and the login they name, OpenID Connect tokens and keys) would travel unencrypted and unauthenticated, "
            "so a machine on the way could log anyone in as anyone, staff included.",
            hint="Set ENT_SERVER_URL to the ENT's https:// address (e.g. https://cas.univ.fr/cas), in "
            "/etc/ecandidat/env or compose's .env.",
            id="ecandidat.W005",
        )
    ]


@register("security", deploy=True)
def check_ldap_url(app_configs, **kwargs) -> list[Warning]:
    """An ``ldap://`` directory without ``LDAP_START_TLS`` is read in the clear (accounts.directory.connect): the bind
    password crosses the network as it is, and a machine on the way answers as the directory (a staff member's
    address, then a password reset). ``ldaps://``, or ``ldap://`` with StartTLS, checks the certificate."""
    if not is_production() or not settings.LDAP_URL:
        return []
    if urlsplit(settings.LDAP_URL).scheme.lower() != "ldap" or settings.LDAP_START_TLS:
        return []
    return [
        Warning(
            f"LDAP_URL is {settings.LDAP_URL} without LDAP_START_TLS: the directory is read unencrypted, the bind "
            "password (LDAP_BIND_PASSWORD) sent in the clear, and a machine on the way could answer as the "
            "directory (a staff member's address, then a password reset).",
            hint="Use ldaps:// in LDAP_URL, or set LDAP_START_TLS=1 for a directory reachable only over ldap:// "
            "(the certificate is then checked as for ldaps://; LDAP_CA_FILE for the university's own CA).",
            id="ecandidat.W006",
        )
    ]


@register("deployment", deploy=True)
def check_redis_deployment(app_configs, **kwargs) -> list[Warning]:
    """Another deployment has claimed this one's Celery queue or cache key prefix in the shared Redis (written by its
    workers at their start: ecandidat.celery.claim_the_shared_redis): the two take each other's tasks and share the
    maintenance switch. Read only; Redis unreachable gives no warning from this check (the connection tests say so).

    A warning, not an error: the first deployment to start a worker holds the names, so an error could stop
    production's web service because a recette claimed them first; the other deployment's worker already refuses to
    start, which stops the taking of tasks."""
    url = getattr(settings, "REDIS_URL", None)
    if not is_production() or not url:
        return []
    client = claim_redis(url)
    try:
        claims = read_claims(client, claim_keys([settings.CELERY_TASK_DEFAULT_QUEUE], settings.CACHE_KEY_PREFIX))
    except (RedisError, OSError):
        return []
    finally:
        client.close()
    ours = deployment_identity()
    return [
        Warning(
            f"{shared_with(claim)} on the Redis {redis_address(url)}; this deployment is {deployment_label()}, "
            f"identity {ours}. "
            "Each takes the other's tasks (a mail then waits for its sweeper) and one's maintenance switch closes "
            "the other.",
            hint="Set CELERY_QUEUE (and CACHE_KEY_PREFIX) to a name of its own in each deployment's environment "
            "(/etc/ecandidat/env), e.g. CELERY_QUEUE=recette, then restart its services. If that deployment no "
            f"longer exists (or was this one before its database moved: DEPLOYMENT_ID keeps it), delete {claim.key} "
            "in Redis; a claim expires a week after its last worker stopped.",
            id="ecandidat.W008",
        )
        for claim in claims
        if claim.identity != ours
    ]
