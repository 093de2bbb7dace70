"""Tests: fast and deterministic. DATABASE_URL and REDIS_URL still apply, so CI runs the same suite on PostgreSQL
and Redis."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-insecure-key")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")

from ecandidat.settings.base import *  # noqa: E402, F403
from ecandidat.settings.base import REDIS_URL  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
# Unit tests run tasks in-process; the integration tests start a real worker on REDIS_URL themselves.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
INTEGRATION_REDIS_URL = REDIS_URL
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "maintenance": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "maintenance"},
    "pages": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pages"},
}
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# Django's cookie names back, not base's __Host- ones (DEBUG is off here): a browser drops a __Host- cookie that is not
# Secure, and the live test servers speak http://, so their browser tests would never stay logged in.
# ecandidat/tests/test_cookie_prefix.py checks the production names.
SESSION_COOKIE_NAME = "sessionid"
CSRF_COOKIE_NAME = "csrftoken"

LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
# No collectstatic in tests: whitenoise serves from the finders.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
MAINTENANCE_WINDOW_ENFORCED = False
# PDFs draw with DejaVu Sans only, whatever the machine's environment; tests that need a fallback font set one.
PDF_FALLBACK_FONTS = []
# Downloads are streamed by Django unless a test sets the prefix, whatever the environment.
DOWNLOAD_ACCEL_REDIRECT_PREFIX = ""
