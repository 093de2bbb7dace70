#!/bin/sh
# Development ENT (OpenID Connect provider for ecandidat): migrate, seed, serve on 127.0.0.1:${ENT_PORT:-8001}.
set -eu
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
export DJANGO_SETTINGS_MODULE=entserver.settings
"$PYTHON" manage.py migrate --noinput -v0
"$PYTHON" manage.py seed_ent
exec "$PYTHON" manage.py runserver "127.0.0.1:${ENT_PORT:-8001}" --noreload
