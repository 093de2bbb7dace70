"""Local development: `make run`. Defaults for secrets live here, never in base."""

import os

os.environ.setdefault("SECRET_KEY", "dev-only-insecure-key-never-use-in-production")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("ENT_SERVER_URL", "http://127.0.0.1:8001")
os.environ.setdefault("ENT_CLIENT_SECRET", "dev-ent-secret")
# The demo staff logins work with a password alone; STAFF_MFA_REQUIRED=1 make run to try TOTP (README).
os.environ.setdefault("STAFF_MFA_REQUIRED", "0")

from ecandidat.settings.base import *  # noqa: E402, F403
