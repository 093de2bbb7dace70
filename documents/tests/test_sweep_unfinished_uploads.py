"""The nightly sweep (remove_orphan_files) on S3 aborts the multipart uploads a killed worker left unfinished (a
commission pack or an export above 8 MB is sent in parts): their parts are in no listing of the objects, so the sweep
of the files never saw them and they stayed in the bucket for ever. Against moto_server (a separate process): an
upload started more than the grace period ago under a prefix of the sweep is aborted and counted, a recent one is
kept, one outside the sweep's prefixes is never touched, ``--dry-run`` aborts nothing."""

import datetime
import uuid

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from django.core.files.storage import default_storage
from django.core.management import call_command

from documents.management.commands.remove_orphan_files import MIN_AGE
from documents.tests.s3_peer import s3_options
from ecandidat.models import BatchRun
from offers.tests.factories import CampaignFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _start_upload(s3_server, bucket: str, key: str) -> str:
    """What a worker killed while ``default_storage.save`` sent a big file leaves: an unfinished upload with a part."""
    client = s3_server.client()
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"PK" + b"\0" * 4096)
    return upload_id


def _uploads(s3_server, bucket: str) -> list[dict]:
    return s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def _unfinished(s3_server, bucket: str) -> set[str]:
    return {upload["Key"] for upload in _uploads(s3_server, bucket)}


def _last_run() -> BatchRun:
    return BatchRun.objects.filter(name="remove_orphan_files").latest("pk")


def test_unfinished_uploads_older_than_the_grace_period_are_aborted(s3_server, bucket, time_machine, capsys):
    campaign = CampaignFactory()
    pack = f"packs/{uuid.uuid4()}.zip"
    pack_id = _start_upload(s3_server, bucket, pack)
    piece = f"{campaign.code}/1/releve.pdf"
    _start_upload(s3_server, bucket, piece)
    outside = "elsewhere/archive.zip"  # no prefix of the sweep: never touched, whatever its age
    _start_upload(s3_server, bucket, outside)
    # The age is the bucket's « Initiated » against this process's clock, which the test moves.
    started = max(upload["Initiated"] for upload in _uploads(s3_server, bucket))

    time_machine.move_to(started + MIN_AGE / 2)
    call_command("remove_orphan_files")

    assert _unfinished(s3_server, bucket) == {pack, piece, outside}  # in flight: kept
    assert "unfinished upload" not in capsys.readouterr().out
    assert _last_run().counts == {}

    time_machine.move_to(started + 2 * MIN_AGE)
    call_command("remove_orphan_files", "--dry-run")

    assert _unfinished(s3_server, bucket) == {pack, piece, outside}
    out = capsys.readouterr().out
    assert f"{pack} (unfinished upload)" in out
    assert "unfinished uploads to abort: 2" in out
    assert _last_run().counts == {"unfinished uploads to abort": 2}

    call_command("remove_orphan_files")

    assert _unfinished(s3_server, bucket) == {outside}
    assert "unfinished uploads aborted: 2" in capsys.readouterr().out
    run = _last_run()
    assert (run.status, run.counts, run.errors) == (BatchRun.Status.FINISH, {"unfinished uploads aborted": 2}, "")
    with pytest.raises(ClientError, match="NoSuchUpload"):  # its parts are gone with it
        s3_server.client().list_parts(Bucket=bucket, Key=pack, UploadId=pack_id)


def test_the_storage_location_is_part_of_the_prefix(s3_server, bucket, settings, time_machine):
    options = s3_options(s3_server.endpoint_url, bucket)
    options["OPTIONS"]["location"] = "media"
    settings.STORAGES = {**settings.STORAGES, "default": options}
    inside = "media/packs/big.zip"
    _start_upload(s3_server, bucket, inside)
    beside = "packs/big.zip"  # another tenant of the bucket, outside the storage's location
    _start_upload(s3_server, bucket, beside)
    time_machine.move_to(max(u["Initiated"] for u in _uploads(s3_server, bucket)) + 2 * MIN_AGE)

    call_command("remove_orphan_files")

    assert _unfinished(s3_server, bucket) == {beside}
    assert _last_run().counts == {"unfinished uploads aborted": 1}


def test_an_upload_the_bucket_refuses_to_abort_is_reported_and_the_others_go_on(s3_server, bucket, time_machine):
    refused = "packs/refused.zip"
    _start_upload(s3_server, bucket, refused)
    gone = "packs/gone.zip"  # completed or aborted between the listing and its abort: nothing to report
    gone_id = _start_upload(s3_server, bucket, gone)
    aborted = "exports/export.csv"
    _start_upload(s3_server, bucket, aborted)
    time_machine.move_to(max(u["Initiated"] for u in _uploads(s3_server, bucket)) + datetime.timedelta(days=1))

    def meanwhile(params, **kwargs):
        if params["Key"] == refused:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "AbortMultipartUpload")
        if params["Key"] == gone:
            s3_server.client().abort_multipart_upload(Bucket=bucket, Key=gone, UploadId=gone_id)

    default_storage.connection.meta.client.meta.events.register(
        "before-parameter-build.s3.AbortMultipartUpload", meanwhile
    )

    call_command("remove_orphan_files")

    assert _unfinished(s3_server, bucket) == {refused}
    run = _last_run()
    assert run.status == BatchRun.Status.ERROR
    assert run.counts == {"unfinished uploads aborted": 1}
    assert run.errors.startswith(f"{refused} (unfinished upload): ClientError:")
    assert "AccessDenied" in run.errors
    assert gone not in run.errors
