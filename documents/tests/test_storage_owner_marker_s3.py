"""Two deployments on one bucket (moto_server, a separate process): production and a recette (DEPLOYMENT_ID tells
them apart here; two databases would).

Without STORAGE_LOCATION both sweep the bucket's root: the first sweep's marker (documents.storage.DEPLOYMENT_MARKER)
makes the other's delete nothing (no object, no unfinished upload) and end in error. With one STORAGE_LOCATION each
(S3Storage's ``location``), each sees only its own objects, keeps its own marker under its prefix and sweeps only its
own orphans and unfinished uploads."""

import datetime
import io
import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.core.management import call_command

from documents.management.commands.remove_orphan_files import MIN_AGE
from documents.storage import DEPLOYMENT_MARKER
from documents.tests.s3_peer import s3_options
from ecandidat.models import BatchRun
from offers.tests.factories import CampaignFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def campaign():
    return CampaignFactory()


def _as(settings, s3_server, bucket: str, deployment: str, location: str = "") -> None:
    """This process as ``deployment``, its default storage the bucket under ``location``."""
    settings.DEPLOYMENT_ID = deployment
    options = s3_options(s3_server.endpoint_url, bucket)
    options["OPTIONS"]["location"] = location
    settings.STORAGES = {**settings.STORAGES, "default": options}


def _keys(s3_server, bucket: str) -> set[str]:
    return {o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", [])}


def _marker(s3_server, bucket: str, key: str) -> dict:
    return json.loads(s3_server.client().get_object(Bucket=bucket, Key=key)["Body"].read())


def _start_upload(s3_server, bucket: str, key: str) -> None:
    client = s3_server.client()
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"PK" + b"\0" * 4096)


def _unfinished(s3_server, bucket: str) -> set[str]:
    return {u["Key"] for u in s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])}


def _sweep(*args: str) -> BatchRun:
    call_command("remove_orphan_files", *args, stdout=io.StringIO(), stderr=io.StringIO())
    return BatchRun.objects.filter(name="remove_orphan_files").latest("pk")


def test_on_one_bucket_the_second_deployment_deletes_nothing(campaign, s3_server, bucket, settings, time_machine):
    _as(settings, s3_server, bucket, "production")
    assert _sweep().status == BatchRun.Status.FINISH  # production's first night: its marker
    assert _marker(s3_server, bucket, DEPLOYMENT_MARKER) == {"identity": "production", "label": "DEPLOYMENT_ID"}
    # Production's pieces and templates, which the recette's database does not list.
    pieces = {
        default_storage.save(f"{campaign.code}/1/releve.pdf", ContentFile(b"%PDF")),
        default_storage.save("piece-templates/1/attestation.pdf", ContentFile(b"%PDF")),
        default_storage.save(f"quarantine/{campaign.code}/1/scan.pdf", ContentFile(b"%PDF")),
    }
    _start_upload(s3_server, bucket, "packs/pack.zip")
    time_machine.move_to(datetime.datetime.now(datetime.UTC) + 2 * MIN_AGE)
    _as(settings, s3_server, bucket, "recette")

    run = _sweep()

    assert _keys(s3_server, bucket) == pieces | {DEPLOYMENT_MARKER}
    assert _unfinished(s3_server, bucket) == {"packs/pack.zip"}
    assert run.status == BatchRun.Status.ERROR
    assert run.counts == {}
    assert "DEPLOYMENT_ID=production" in run.errors
    assert "DEPLOYMENT_ID=recette" in run.errors
    assert _marker(s3_server, bucket, DEPLOYMENT_MARKER)["identity"] == "production"


def test_one_storage_location_each_and_each_sweeps_its_own(campaign, s3_server, bucket, settings, time_machine):
    production = s3_options(s3_server.endpoint_url, bucket)
    production["OPTIONS"]["location"] = "univ/production"
    recette = s3_options(s3_server.endpoint_url, bucket)
    recette["OPTIONS"]["location"] = "univ/recette"
    on_production, on_recette = storages.create_storage(production), storages.create_storage(recette)
    name = f"{campaign.code}/1/releve.pdf"
    assert on_production.save(name, ContentFile(b"%PDF production")) == name
    assert on_recette.save(name, ContentFile(b"%PDF recette")) == name  # the same name: no clash
    assert on_production.listdir(f"{campaign.code}/1/") == ([], ["releve.pdf"])
    with on_recette.open(name) as handle:
        assert handle.read() == b"%PDF recette"
    on_recette.delete(name)
    assert on_production.exists(name)
    assert not on_recette.exists(name)
    production_orphans = {name, on_production.save("packs/old.zip", ContentFile(b"PK"))}
    recette_orphan = on_recette.save("letters/1/old.pdf", ContentFile(b"%PDF"))
    for location in ("univ/production", "univ/recette"):
        _start_upload(s3_server, bucket, f"{location}/exports/big.csv")
    time_machine.move_to(datetime.datetime.now(datetime.UTC) + 2 * MIN_AGE)

    _as(settings, s3_server, bucket, "production", "univ/production")
    run = _sweep()

    assert (run.status, run.counts) == (
        BatchRun.Status.FINISH,
        {"orphan files deleted": 2, "unfinished uploads aborted": 1},
    )
    assert _keys(s3_server, bucket) == {
        f"univ/production/{DEPLOYMENT_MARKER}",
        f"univ/recette/{recette_orphan}",
    }
    assert _unfinished(s3_server, bucket) == {"univ/recette/exports/big.csv"}
    assert not production_orphans & _keys(s3_server, bucket)

    _as(settings, s3_server, bucket, "recette", "univ/recette")
    run = _sweep()

    assert (run.status, run.counts) == (
        BatchRun.Status.FINISH,
        {"orphan files deleted": 1, "unfinished uploads aborted": 1},
    )
    assert _keys(s3_server, bucket) == {f"univ/production/{DEPLOYMENT_MARKER}", f"univ/recette/{DEPLOYMENT_MARKER}"}
    assert _unfinished(s3_server, bucket) == set()
    assert _marker(s3_server, bucket, f"univ/production/{DEPLOYMENT_MARKER}")["identity"] == "production"
    assert _marker(s3_server, bucket, f"univ/recette/{DEPLOYMENT_MARKER}")["identity"] == "recette"

    _as(settings, s3_server, bucket, "production", "univ/production")  # the next night: each its own marker
    assert _sweep().status == BatchRun.Status.FINISH


def test_adopting_the_bucket_rewrites_its_marker(campaign, s3_server, bucket, settings, time_machine):
    _as(settings, s3_server, bucket, "old-server", "production")
    _sweep()
    orphan = default_storage.save(f"{campaign.code}/orphan.pdf", ContentFile(b"%PDF"))
    time_machine.move_to(datetime.datetime.now(datetime.UTC) + 2 * MIN_AGE)
    _as(settings, s3_server, bucket, "new-server", "production")
    assert _sweep().status == BatchRun.Status.ERROR
    assert default_storage.exists(orphan)

    run = _sweep("--adopt-storage")

    assert (run.status, run.counts) == (BatchRun.Status.FINISH, {"storage adopted": 1, "orphan files deleted": 1})
    assert _keys(s3_server, bucket) == {f"production/{DEPLOYMENT_MARKER}"}
    assert _marker(s3_server, bucket, f"production/{DEPLOYMENT_MARKER}")["identity"] == "new-server"
    assert _sweep().status == BatchRun.Status.FINISH
