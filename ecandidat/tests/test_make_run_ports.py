"""`make run` on other ports: the development settings and the Makefile follow PORT and ENT_PORT.

Regressions: `ENT_PORT=8011 make run` started the development ENT on 8011 but the app still sent students to 8001
(settings/dev.py hard-coded the URL and the Makefile did not pass ENT_PORT to runserver); `PORT=8130 make run` served
on 8130, but the links of the mails built from SITE_URL ("Votre lettre de décision", the recap of the transmission
reminder) pointed to http://localhost:8000, where nothing answers (and a session opened on 127.0.0.1 is not sent to
localhost anyway)."""

import logging
import os
import subprocess
import sys

from django.conf import settings
from kombu import Connection


def _environment(without: tuple[str, ...], **env: str) -> dict[str, str]:
    environ = {name: value for name, value in os.environ.items() if not name.startswith(without)}
    environ.update(env)
    return environ


def _dev_settings(*names: str, **env: str) -> str:
    """The development settings ``names``, printed by a new interpreter started with ``env`` only."""
    environ = _environment(
        ("ENT_", "PORT", "SITE_URL", "DJANGO_SETTINGS"), DJANGO_SETTINGS_MODULE="ecandidat.settings.dev", **env
    )
    printed = ", ".join(f"settings.{name}" for name in names)
    code = f"import django; django.setup(); from django.conf import settings; print({printed})"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=environ, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _make_run_recipe(*assignments: str) -> str:
    """What `make run` would run (-n prints the recipe without running it; the install prerequisite too)."""
    environ = _environment(("ENT_PORT", "PORT", "MAKEFLAGS", "MAKELEVEL"))
    result = subprocess.run(
        ["make", "-n", "run", *assignments],
        cwd=settings.BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- ENT_PORT ----------------------------------------------------------------------------------------------------


def test_development_settings_follow_ent_port():
    assert (
        _dev_settings("ENT_SERVER_URL", "ENT_ORIGIN", ENT_PORT="8011") == "http://127.0.0.1:8011 http://127.0.0.1:8011"
    )


def test_development_settings_use_the_development_cas_with_ent_protocol_cas():
    printed = _dev_settings("ENT_SERVER_URL", "ENT_ORIGIN", ENT_PORT="8011", ENT_PROTOCOL="cas")

    assert printed == "http://127.0.0.1:8011/cas http://127.0.0.1:8011"


def test_development_settings_default_to_port_8001():
    assert _dev_settings("ENT_SERVER_URL", "ENT_ORIGIN") == "http://127.0.0.1:8001 http://127.0.0.1:8001"


def test_make_run_passes_ent_port_to_the_ent_and_to_runserver():
    recipe = _make_run_recipe("ENT_PORT=8011")

    assert "ENT_PORT=8011 devtools/ent/run.sh" in recipe
    assert "ENT_PORT=8011 DJANGO_SETTINGS_MODULE" in recipe
    assert "runserver 127.0.0.1:8000" in recipe


# --- PORT and SITE_URL -------------------------------------------------------------------------------------------


def test_development_site_url_follows_port():
    assert _dev_settings("SITE_URL", PORT="8130") == "http://127.0.0.1:8130"


def test_development_site_url_defaults_to_the_address_make_run_prints():
    assert _dev_settings("SITE_URL") == "http://127.0.0.1:8000"


def test_an_explicit_site_url_wins():
    assert _dev_settings("SITE_URL", PORT="8130", SITE_URL="https://ecandidat.example") == "https://ecandidat.example"


def test_make_run_passes_port_to_the_demo_seed_and_to_runserver():
    recipe = _make_run_recipe("PORT=8130")

    assert "PORT=8130 DJANGO_SETTINGS_MODULE=" in recipe  # seed_demo writes the demo's mails
    assert "PORT=8130 PEGASE_PORT=" in recipe
    assert "runserver 127.0.0.1:8130" in recipe


# --- the embedded broker -------------------------------------------------------------------------------------------


def test_make_runs_batches_print_no_broker_warning(caplog):
    # Without REDIS_URL the broker is kombu's memory transport; "memory://" made every batch under make run print
    # "No hostname was supplied. Reverting to default 'localhost'".
    url = _dev_settings("CELERY_BROKER_URL", REDIS_URL="")

    with caplog.at_level(logging.WARNING, logger="kombu"):
        Connection(url).info()

    assert url.startswith("memory://")
    assert caplog.records == []
