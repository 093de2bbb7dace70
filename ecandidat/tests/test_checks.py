"""Production refuses a weak SECRET_KEY and an unsaid absence of antivirus (ecandidat/checks.py), as errors."""

import secrets

import pytest

from ecandidat.checks import (
    check_brand_colour_contrast,
    check_pdf_fallback_fonts,
    contrast_ratio,
    is_production,
    weakness_of,
)
from ecandidat.tests.helpers import PRODUCTION_ENV, manage


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("dev-only-insecure-key-never-use-in-production", "known development or example value"),
        ("test-only-insecure-key", "known development or example value"),
        ("django-insecure-" + "a" * 50, "known development or example value"),
        ("k" * 20 + "0123456789abcdefghij", "fewer than 50"),
        ("ab" * 40, "fewer than 10 different characters"),
    ],
)
def test_weak_keys_are_named_with_the_reason(key, reason):
    assert reason in weakness_of(key)


def test_a_random_key_is_fit():
    assert weakness_of(secrets.token_urlsafe(64)) is None


def test_production_with_a_short_key_and_no_clamd_address_is_refused():
    result = manage("check", "--deploy", **PRODUCTION_ENV, SECRET_KEY="short-but-not-empty")

    assert result.returncode == 1
    assert "ecandidat.E001" in result.stderr
    assert "SECRET_KEY is not fit for production: it has 19 characters, fewer than 50." in result.stderr
    assert "ecandidat.E002" in result.stderr
    assert "CLAMD_ADDRESS=none" in result.stderr
    # the same errors stop migrate, so a deployment script stops before touching the database
    assert manage("migrate", "--plan", **PRODUCTION_ENV, SECRET_KEY="short-but-not-empty").returncode == 1


def test_production_like_ci_passes_with_clamd_address_none_said_explicitly():
    # .ci/run's deploy_check step: a random key, antivirus explicitly off, warnings are failures too.
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **PRODUCTION_ENV,
        SECRET_KEY=secrets.token_urlsafe(64),
        CLAMD_ADDRESS="none",
    )

    assert result.returncode == 0, result.stderr


def test_a_weak_fallback_key_from_the_environment_is_refused_and_a_strong_one_accepted():
    """SECRET_KEY_FALLBACKS (key rotation) comes from the environment like SECRET_KEY, and is checked the same way:
    production is base.py plus the environment, so a setting not read from it cannot be set at all."""
    strong = secrets.token_urlsafe(64)
    weak = manage(
        "check",
        "--deploy",
        **PRODUCTION_ENV,
        SECRET_KEY=strong,
        CLAMD_ADDRESS="none",
        SECRET_KEY_FALLBACKS=f"{secrets.token_urlsafe(64)},old-short-key",
    )

    assert weak.returncode == 1
    assert "SECRET_KEY_FALLBACKS[1] is not fit for production: it has 13 characters, fewer than 50." in weak.stderr
    assert "SECRET_KEY_FALLBACKS[0]" not in weak.stderr

    rotated = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **PRODUCTION_ENV,
        SECRET_KEY=strong,
        CLAMD_ADDRESS="none",
        SECRET_KEY_FALLBACKS=secrets.token_urlsafe(64),
    )
    assert rotated.returncode == 0, rotated.stderr


def test_development_settings_keep_their_key_and_run_without_clamd():
    result = manage("check", DJANGO_SETTINGS_MODULE="ecandidat.settings.dev")

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("first", "second", "ratio"),
    [
        ("#000000", "#ffffff", 21.0),
        ("#ffffff", "#ffffff", 1.0),
        ("#0b4f8a", "#ffffff", 8.4),
        ("#0b4f8a", "#e6eaf0", 6.96),
    ],
)
def test_contrast_ratio_is_wcags(first, second, ratio):
    assert round(contrast_ratio(first, second), 2) == ratio
    assert round(contrast_ratio(second, first), 2) == ratio


@pytest.mark.parametrize(("colour", "warned"), [("#0b4f8a", False), ("#a0147c", False), ("#e2001a", True)])
def test_a_light_brand_colour_is_warned_about(settings, colour, warned):
    """A bright red, #e2001a, is 4.9:1 on white but 4.1:1 on the menu's hover band: links there are hard to read."""
    settings.INSTITUTION_BRAND_COLOUR = colour
    warnings = check_brand_colour_contrast(None)
    assert [warning.id for warning in warnings] == (["ecandidat.W002"] if warned else [])


def test_a_media_root_the_service_cannot_write_stops_the_deploy_check(tmp_path):
    # deploy/ecandidat.service runs `check --deploy` as ExecStartPre, as the service's user and in its sandbox: a
    # MEDIA_ROOT it cannot create (here under a file; under systemd, outside ReadWritePaths) stops the start with its
    # name instead of failing each upload later.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    production = {**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(64), "CLAMD_ADDRESS": "none"}

    refused = manage("check", "--deploy", **production, MEDIA_ROOT=str(blocker / "media"))
    accepted = manage("check", "--deploy", **production, MEDIA_ROOT=str(tmp_path / "var" / "media"))
    without_deploy = manage("check", **production, MEDIA_ROOT=str(blocker / "media"))

    assert refused.returncode == 1
    assert "ecandidat.E003" in refused.stderr
    assert f"MEDIA_ROOT ({blocker / 'media'}) is not writable" in refused.stderr
    assert "ReadWritePaths" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr
    assert without_deploy.returncode == 0, without_deploy.stderr  # migrate and the tests are not concerned


def test_an_unwritable_opi_export_dir_is_named_too(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")

    result = manage(
        "check",
        "--deploy",
        **PRODUCTION_ENV,
        SECRET_KEY=secrets.token_urlsafe(64),
        CLAMD_ADDRESS="none",
        MEDIA_ROOT=str(tmp_path / "media"),
        OPI_EXPORT_DIR=str(blocker / "opi"),
    )

    assert result.returncode == 1
    assert f"OPI_EXPORT_DIR ({blocker / 'opi'}) is not writable" in result.stderr
    assert "MEDIA_ROOT" not in result.stderr


def test_a_fallback_font_the_process_cannot_read_is_warned_about(settings, tmp_path):
    font = tmp_path / "font.ttc"
    font.write_bytes(b"")
    settings.PDF_FALLBACK_FONTS = [(str(font), 2), (str(tmp_path / "missing.ttf"), 0)]

    warnings = check_pdf_fallback_fonts(None)

    assert [warning.id for warning in warnings] == ["ecandidat.W003"]
    assert str(tmp_path / "missing.ttf") in warnings[0].msg


def test_a_test_overriding_a_setting_is_still_not_production(settings):
    # Django answers SETTINGS_MODULE = None under override_settings: every test that changed a setting ran as
    # production, and seed_demo (which refuses the production settings) refused inside those tests.
    settings.SIS_REGIME_ENTRY = True

    assert settings.SETTINGS_MODULE is None
    assert is_production() is False
