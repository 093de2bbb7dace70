"""Fixtures of the integration tests whose Celery worker (``celery_worker_process``) and test process share files
(pieces, packs, letters) through one directory on disk. A module imports them by name, which also replaces the
default ``worker_env`` for its tests only."""

import pytest


@pytest.fixture
def media_root(tmp_path):
    return tmp_path / "media"


@pytest.fixture
def worker_env(media_root):
    """The worker gets the same MEDIA_ROOT as this process."""
    return {"MEDIA_ROOT": str(media_root)}


@pytest.fixture
def shared_storage(settings, media_root):
    """This process's default storage on that directory."""
    settings.MEDIA_ROOT = media_root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": media_root}},
    }
