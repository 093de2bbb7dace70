"""Regression: `ENT_PORT=8011 make run` started the development ENT on 8011 but the app still sent students to 8001
(settings/dev.py hard-coded the URL and the Makefile did not pass ENT_PORT to runserver)."""

import os
import subprocess
import sys

from django.conf import settings

PRINT_ENT = "from django.conf import settings; print(settings.ENT_SERVER_URL, settings.ENT_ORIGIN)"


def _dev_settings(**env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("ENT_", "DJANGO_SETTINGS"))}
    environ.update(env, DJANGO_SETTINGS_MODULE="ecandidat.settings.dev")
    code = f"import django; django.setup(); {PRINT_ENT}"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=environ, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_development_settings_follow_ent_port():
    assert _dev_settings(ENT_PORT="8011") == "http://127.0.0.1:8011 http://127.0.0.1:8011"


def test_development_settings_use_the_development_cas_with_ent_protocol_cas():
    printed = _dev_settings(ENT_PORT="8011", ENT_PROTOCOL="cas")

    assert printed == "http://127.0.0.1:8011/cas http://127.0.0.1:8011"


def test_development_settings_default_to_port_8001():
    assert _dev_settings() == "http://127.0.0.1:8001 http://127.0.0.1:8001"


def test_make_run_passes_ent_port_to_the_ent_and_to_runserver():
    environ = {k: v for k, v in os.environ.items() if k not in {"ENT_PORT", "MAKEFLAGS", "MAKELEVEL"}}
    # -n prints the recipe without running it; the install prerequisite is only printed too.
    result = subprocess.run(
        ["make", "-n", "run", "ENT_PORT=8011"],
        cwd=settings.BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "ENT_PORT=8011 devtools/ent/run.sh" in result.stdout
    assert "ENT_PORT=8011 DJANGO_SETTINGS_MODULE" in result.stdout
    assert "runserver 127.0.0.1:8000" in result.stdout
