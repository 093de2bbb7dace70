"""Regression: `PORT=8130 make run` served on 8130, but the links of the mails built from SITE_URL ("Votre lettre de
décision", the recap of the transmission reminder) pointed to http://localhost:8000, where nothing answers (and a
session opened on 127.0.0.1 is not sent to localhost anyway)."""

import os
import subprocess
import sys

from django.conf import settings


def _dev_site_url(**env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k not in {"PORT", "SITE_URL", "DJANGO_SETTINGS_MODULE"}}
    environ.update(env, DJANGO_SETTINGS_MODULE="ecandidat.settings.dev")
    code = "import django; django.setup(); from django.conf import settings; print(settings.SITE_URL)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=environ, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_development_site_url_follows_port():
    assert _dev_site_url(PORT="8130") == "http://127.0.0.1:8130"


def test_development_site_url_defaults_to_the_address_make_run_prints():
    assert _dev_site_url() == "http://127.0.0.1:8000"


def test_an_explicit_site_url_wins():
    assert _dev_site_url(PORT="8130", SITE_URL="https://ecandidat.example") == "https://ecandidat.example"


def test_make_run_passes_port_to_the_demo_seed_and_to_runserver():
    environ = {k: v for k, v in os.environ.items() if k not in {"PORT", "MAKEFLAGS", "MAKELEVEL"}}
    result = subprocess.run(
        ["make", "-n", "run", "PORT=8130"],
        cwd=settings.BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "PORT=8130 DJANGO_SETTINGS_MODULE=" in result.stdout  # seed_demo writes the demo's mails
    assert "PORT=8130 PEGASE_PORT=" in result.stdout
    assert "runserver 127.0.0.1:8130" in result.stdout
