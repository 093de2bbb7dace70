"""Test helpers on the default storage."""

from django.core.files.storage import default_storage


def stored_files(prefix: str = "") -> list[str]:
    """Every file name in the (in-memory) default storage, recursively."""
    directories, files = default_storage.listdir(prefix)
    names = [f"{prefix}{name}" for name in files]
    for directory in directories:
        names += stored_files(f"{prefix}{directory}/")
    return names


def on_local_disk(settings, folder) -> None:
    """The production default, ``FileSystemStorage``, in ``folder`` (a test's ``tmp_path``) as MEDIA_ROOT."""
    settings.MEDIA_ROOT = folder
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": folder}},
    }
