"""Settings of the development ENT: an OpenID Connect provider (allauth.idp.oidc) for local logins to ecandidat.

Self-contained on purpose (it never imports ecandidat's settings) and not meant for production.
Environment: ENT_VAR_DIR (database and signing key), ENT_SECRET_KEY, ENT_DEBUG.
"""

import os
from pathlib import Path

from entserver.keys import load_or_create_private_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ENT_VAR_DIR") or BASE_DIR / "var")

SECRET_KEY = os.environ.get("ENT_SECRET_KEY", "dev-ent-insecure-secret-key")
DEBUG = os.environ.get("ENT_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "entserver",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "allauth",
    "allauth.account",
    "allauth.idp.oidc",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]
ROOT_URLCONF = "entserver.urls"
WSGI_APPLICATION = "entserver.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "ent.sqlite3"}}
AUTH_USER_MODEL = "entserver.User"
AUTHENTICATION_BACKENDS = ["allauth.account.auth_backends.AuthenticationBackend"]

# The ENT runs on the same host as ecandidat (cookies ignore ports): no cookie may share a name with the app's.
SESSION_COOKIE_NAME = "ent_sessionid"
CSRF_COOKIE_NAME = "ent_csrftoken"
LANGUAGE_COOKIE_NAME = "ent_language"
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"  # the default writes a "messages" cookie

LANGUAGE_CODE = "fr"
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

LOGIN_REDIRECT_URL = "/"
ACCOUNT_ADAPTER = "entserver.adapters.EntAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_RATE_LIMITS = False  # demos mistype passwords on purpose; no lockout on a development server

IDP_OIDC_ADAPTER = "entserver.adapters.EntOIDCAdapter"
IDP_OIDC_PRIVATE_KEY = load_or_create_private_key(VAR_DIR / "oidc-private-key.pem")
# Logout from ecandidat (RP-initiated, /identity/o/logout, announced as end_session_endpoint): with an id_token_hint
# naming the person logged in here, the ENT session ends without a question, as a university ENT does; otherwise
# (no hint, someone else's) the ENT asks first (allauth).
IDP_OIDC_RP_INITIATED_LOGOUT_ASKS_FOR_OP_LOGOUT = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}
