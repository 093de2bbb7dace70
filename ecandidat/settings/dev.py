"""Local development: `make run`. Defaults for secrets live here, never in base."""

import os

os.environ.setdefault("SECRET_KEY", "dev-only-insecure-key-never-use-in-production")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("ENT_SERVER_URL", "http://127.0.0.1:8001")
os.environ.setdefault("ENT_CLIENT_SECRET", "dev-ent-secret")

from ecandidat.settings.base import *  # noqa: E402, F403
