"""The documents layer's system check (``check --deploy``): a file storage another deployment has claimed.

Here, not in ``ecandidat.checks``, because it reads ``documents.storage`` (apps import one another in one direction
only); registered by ``DocumentsConfig.ready``. Its id follows the project's checks (``ecandidat.W007``)."""

from typing import Any

from botocore.config import Config  # type: ignore[import-untyped]
from django.conf import settings
from django.core.checks import Warning, register
from django.core.files.storage import storages

from documents.storage import DEPLOYMENT_MARKER, read_storage_owner, shareable, this_deployment
from ecandidat.checks import is_production


@register("storage", deploy=True)
def check_storage_deployment(app_configs, **kwargs) -> list[Warning]:
    """The storage's marker (documents.storage.DEPLOYMENT_MARKER) names another deployment: this one shares its bucket,
    prefix or media root, and its nightly remove_orphan_files deletes nothing there (it would delete the other's
    files). Read only, never written here; a storage that does not answer in 5 s gives no warning from this check
    (the connection tests say so: /gestion/connectivite/)."""
    if not is_production():
        return []
    backend: dict[str, Any] = dict(settings.STORAGES["default"])
    if str(backend["BACKEND"]).endswith("S3Storage"):
        options: dict[str, Any] = dict(backend.get("OPTIONS", {}))
        quick = Config(connect_timeout=5, read_timeout=5, retries={"total_max_attempts": 1})
        options["client_config"] = (options.get("client_config") or Config()).merge(quick)
        storage = storages.create_storage({**backend, "OPTIONS": options})
    else:
        storage = storages["default"]
    if not shareable(storage):
        return []
    try:
        owner = read_storage_owner(storage)
    except Exception:  # unreachable, refused: not this check's to say
        return []
    ours = this_deployment()
    if owner is None or owner.identity == ours.identity:
        return []
    return [
        Warning(
            f"The file storage's marker {DEPLOYMENT_MARKER} names another deployment, {owner.describe()}; this one is "
            f"{ours.describe()}. They share a bucket, a prefix or a media root: the nightly remove_orphan_files "
            "deletes nothing here, and another deployment's sweep may delete this one's files.",
            hint="Give each deployment its own bucket, its own prefix in the bucket (STORAGE_LOCATION) or its own "
            "MEDIA_ROOT. If this deployment's database only moved to another server, run `manage.py "
            "remove_orphan_files --adopt-storage` once (README, Production deployment).",
            id="ecandidat.W007",
        )
    ]
