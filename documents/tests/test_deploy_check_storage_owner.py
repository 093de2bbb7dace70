"""ecandidat.W007 (documents/checks.py): ``check --deploy`` warns when the storage's deployment marker
(documents.storage.DEPLOYMENT_MARKER) names another deployment: this one shares its bucket, prefix or media root, and
its nightly remove_orphan_files deletes nothing there. The check only reads; a storage that does not answer gives no
warning from it (the connection tests say so)."""

import json
import secrets
import time

import pytest
from django.core.checks import Warning
from django.core.checks.registry import registry
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from documents.checks import check_storage_deployment
from documents.storage import DEPLOYMENT_MARKER, write_storage_owner
from documents.tests.s3_peer import closed_endpoint_url, s3_options
from documents.tests.storage import on_local_disk
from ecandidat.deployment import deployment_identity
from ecandidat.tests.helpers import PRODUCTION_ENV, manage


@pytest.fixture
def production(monkeypatch):
    """The checks' production: the process's settings module is read from the environment (is_production)."""
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "ecandidat.settings.base")


@pytest.fixture
def media_root(settings, tmp_path):
    on_local_disk(settings, tmp_path)
    return tmp_path


def _marker_of(deployment: str, settings) -> None:
    mine = getattr(settings, "DEPLOYMENT_ID", "")
    settings.DEPLOYMENT_ID = deployment
    write_storage_owner()
    settings.DEPLOYMENT_ID = mine


def test_a_marker_naming_another_deployment_is_a_warning(production, media_root, settings):
    _marker_of("recette-univ", settings)

    warnings = check_storage_deployment(None)

    assert [warning.id for warning in warnings] == ["ecandidat.W007"]
    assert isinstance(warnings[0], Warning)
    assert "DEPLOYMENT_ID=recette-univ" in warnings[0].msg
    assert deployment_identity() in warnings[0].msg
    for advice in ("STORAGE_LOCATION", "MEDIA_ROOT", "--adopt-storage"):
        assert advice in warnings[0].hint


def test_this_deployments_marker_or_none_is_no_warning_and_the_check_writes_nothing(production, media_root, settings):
    assert check_storage_deployment(None) == []
    assert not default_storage.exists(DEPLOYMENT_MARKER)  # never written by the check
    assert list(media_root.iterdir()) == []

    write_storage_owner()

    assert check_storage_deployment(None) == []


def test_an_unreadable_marker_is_another_deployments(production, media_root):
    default_storage.save(DEPLOYMENT_MARKER, ContentFile(b"not json"))

    assert [warning.id for warning in check_storage_deployment(None)] == ["ecandidat.W007"]


def test_a_bucket_that_does_not_answer_gives_no_warning_from_this_check(production, settings):
    settings.STORAGES = {**settings.STORAGES, "default": s3_options(closed_endpoint_url(), "ecandidat-univ")}
    started = time.monotonic()

    assert check_storage_deployment(None) == []
    assert time.monotonic() - started < 10


def test_not_in_development_or_tests(media_root, settings):
    _marker_of("recette-univ", settings)

    assert check_storage_deployment(None) == []


def test_check_deploy_warns_and_fails_at_the_warning_level(tmp_path):
    """What CI and the unit's ExecStartPre run: registered with the deploy checks; without a marker, it passes."""
    assert check_storage_deployment in registry.get_checks(include_deployment_checks=True)
    assert check_storage_deployment not in registry.get_checks(include_deployment_checks=False)
    secret = secrets.token_urlsafe(64)
    env = {**PRODUCTION_ENV, "SECRET_KEY": secret, "CLAMD_ADDRESS": "none", "MEDIA_ROOT": str(tmp_path)}
    clean = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert clean.returncode == 0, clean.stderr
    (tmp_path / DEPLOYMENT_MARKER).write_text(json.dumps({"identity": "0123456789abcdef", "label": "recette"}))

    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)

    assert result.returncode != 0
    assert "ecandidat.W007" in result.stderr
    assert "recette (0123456789abcdef)" in result.stderr
