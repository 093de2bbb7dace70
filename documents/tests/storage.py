"""Test helpers on the default storage."""

from django.core.files.storage import default_storage


def stored_files(prefix: str = "") -> list[str]:
    """Every file name in the (in-memory) default storage, recursively."""
    directories, files = default_storage.listdir(prefix)
    names = [f"{prefix}{name}" for name in files]
    for directory in directories:
        names += stored_files(f"{prefix}{directory}/")
    return names
