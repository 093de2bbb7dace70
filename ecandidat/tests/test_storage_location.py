"""STORAGE_LOCATION (ecandidat/settings/base.py): the prefix of a deployment's files in a bucket it shares with another
deployment, S3Storage's ``location``; without it IT could not keep a recette and production apart on one bucket, and
each one's remove_orphan_files deleted the other's files. Empty by default: the files of an existing deployment stay
named from the bucket's root."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

BUCKET = {"AWS_STORAGE_BUCKET_NAME": "ecandidat-univ", "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9"}


def _default_storage(**env: str) -> subprocess.CompletedProcess:
    """STORAGES["default"]'s backend and location as ecandidat.settings.base computes them from ``env``."""
    base = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    code = (
        "import json, ecandidat.settings.base as s; d = s.STORAGES['default']; "
        "print(json.dumps([d['BACKEND'], d.get('OPTIONS', {}).get('location')]))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**base, "DJANGO_SETTINGS_MODULE": "ecandidat.settings.base", "SECRET_KEY": "x" * 60, **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (None, ""),  # an existing deployment: its rows name the files from the bucket's root
        ("", ""),
        ("recette", "recette"),
        (" recette ", "recette"),
        ("univ-exemple/production", "univ-exemple/production"),
        ("univ_exemple.fr/v2", "univ_exemple.fr/v2"),
    ],
)
def test_storage_location_is_the_buckets_location(location, expected):
    env = {**BUCKET, **({} if location is None else {"STORAGE_LOCATION": location})}

    result = _default_storage(**env)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["storages.backends.s3.S3Storage", expected]


@pytest.mark.parametrize(
    "location",
    [
        "/recette",
        "recette/",
        "univ//recette",
        "../production",
        "univ/../production",
        "./recette",
        "recette ée",
        "a\\b",
    ],
)
def test_a_storage_location_that_is_no_relative_path_stops_the_start(location):
    result = _default_storage(**BUCKET, STORAGE_LOCATION=location)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "STORAGE_LOCATION=" in result.stderr


def test_a_storage_location_without_a_bucket_stops_the_start_and_names_media_root():
    result = _default_storage(STORAGE_LOCATION="recette")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "own MEDIA_ROOT" in result.stderr
    assert json.loads(_default_storage().stdout) == ["django.core.files.storage.FileSystemStorage", None]
