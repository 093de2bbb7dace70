"""Two deployments on one storage (a recette next to production on one media root or bucket, two universities): the
nightly ``remove_orphan_files`` of one deleted every file its own database does not list, so the other's pieces,
letters and piece templates (rows kept, files gone). The storage's root now holds a marker naming the deployment that
sweeps it (documents.storage.DEPLOYMENT_MARKER): written on the first run; another deployment's sweep deletes nothing
and its run ends in error, naming both; ``--adopt-storage`` rewrites it for a database that moved.

On the production default, ``FileSystemStorage`` in a temporary MEDIA_ROOT; the same on moto_server (a separate
process) in documents/tests/test_storage_owner_marker_s3.py. The other deployment is this test database under another
name (``ecandidat.deployment``: the same database is the same deployment)."""

import datetime
import io
import json

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import translation

from documents.management.commands import remove_orphan_files
from documents.storage import DEPLOYMENT_MARKER, StorageOwner, claim_storage, read_storage_owner, write_storage_owner
from documents.tests.storage import on_local_disk, stored_files
from ecandidat.deployment import deployment_identity, deployment_label
from ecandidat.models import BatchRun
from offers.tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _on_disk(settings, tmp_path):
    on_local_disk(settings, tmp_path)


@pytest.fixture
def campaign():
    return CampaignFactory()


def _run(*args: str) -> tuple[BatchRun, str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("remove_orphan_files", *args, stdout=out, stderr=err)
    return BatchRun.objects.filter(name="remove_orphan_files").latest("pk"), out.getvalue(), err.getvalue()


def _later(time_machine) -> None:
    time_machine.move_to(datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=2))


def _marker() -> dict:
    with default_storage.open(DEPLOYMENT_MARKER, "rb") as handle:
        return json.loads(handle.read())


def _claimed_by_the_recette(monkeypatch) -> str:
    """The marker the recette's sweep wrote on the same media root (its database: this one's name + "_recette");
    how the recette is named in the messages."""
    with monkeypatch.context() as recette:
        recette.setitem(
            django_settings.DATABASES["default"], "NAME", f"{django_settings.DATABASES['default']['NAME']}_r"
        )
        write_storage_owner()
        return f"{deployment_label()} ({deployment_identity()})"


def test_the_first_run_writes_this_deployments_marker_and_sweeps(campaign, time_machine):
    orphan = default_storage.save(f"{campaign.code}/orphan.pdf", ContentFile(b"%PDF"))
    _later(time_machine)

    run, _out, _err = _run("--dry-run")  # a dry run writes nothing

    assert run.counts == {"orphan files to delete": 1}
    assert stored_files() == [orphan]

    run, out, _err = _run()

    assert _marker() == {"identity": deployment_identity(), "label": deployment_label()}
    assert stored_files() == [DEPLOYMENT_MARKER]
    assert orphan in out
    assert (run.status, run.counts) == (BatchRun.Status.FINISH, {"orphan files deleted": 1})

    run, _out, _err = _run()  # its own marker: goes on

    assert (run.status, run.errors) == (BatchRun.Status.FINISH, "")
    assert _marker()["identity"] == deployment_identity()


def test_a_storage_another_deployment_claimed_loses_nothing_and_the_run_is_an_error(
    campaign, time_machine, monkeypatch
):
    recette = _claimed_by_the_recette(monkeypatch)
    theirs = default_storage.save(f"{campaign.code}/their-piece.pdf", ContentFile(b"%PDF"))
    template = default_storage.save("piece-templates/1/their-template.pdf", ContentFile(b"%PDF"))
    _later(time_machine)
    before = sorted(stored_files())

    with translation.override("fr"):
        run, out, err = _run()

    assert sorted(stored_files()) == before  # their files, and their marker, as they were
    assert {theirs, template, DEPLOYMENT_MARKER} <= set(before)
    assert read_storage_owner() != StorageOwner(deployment_identity(), deployment_label())
    assert run.status == BatchRun.Status.ERROR
    assert run.counts == {}
    production = f"{deployment_label()} ({deployment_identity()})"
    assert run.errors.startswith("Rien n'a été supprimé : le stockage des fichiers appartient à un autre déploiement.")
    assert recette in run.errors
    assert production in run.errors
    for advice in ("STORAGE_LOCATION", "MEDIA_ROOT", "remove_orphan_files --adopt-storage"):
        assert advice in run.errors
    assert err == f"{run.errors}\n"
    assert out == "remove_orphan_files: nothing to do\n"

    run, _out, _err = _run("--dry-run")  # a dry run says so too

    assert (run.status, run.counts) == (BatchRun.Status.ERROR, {})
    assert sorted(stored_files()) == before


def test_an_unreadable_marker_is_no_claim_of_this_deployment(campaign, time_machine):
    default_storage.save(DEPLOYMENT_MARKER, ContentFile(b"recette\n"))
    orphan = default_storage.save(f"{campaign.code}/orphan.pdf", ContentFile(b"%PDF"))
    _later(time_machine)

    run, _out, _err = _run()

    assert default_storage.exists(orphan)
    assert run.status == BatchRun.Status.ERROR
    assert "unreadable marker b'recette\\n'" in run.errors


def test_adopting_the_storage_rewrites_the_marker_then_sweeps(campaign, time_machine, monkeypatch):
    """The database moved to another server (no DEPLOYMENT_ID): the marker names its former address."""
    former = _claimed_by_the_recette(monkeypatch)
    orphan = default_storage.save(f"{campaign.code}/orphan.pdf", ContentFile(b"%PDF"))
    _later(time_machine)

    run, out, _err = _run("--adopt-storage", "--dry-run")  # what adopting would delete; nothing written

    assert run.counts == {"storage to adopt": 1, "orphan files to delete": 1}
    assert f"would adopt the storage from {former}" in out
    assert _marker()["identity"] != deployment_identity()
    assert default_storage.exists(orphan)

    run, out, _err = _run("--adopt-storage")

    assert _marker() == {"identity": deployment_identity(), "label": deployment_label()}
    assert (run.status, run.counts) == (BatchRun.Status.FINISH, {"storage adopted": 1, "orphan files deleted": 1})
    assert f"adopted the storage from {former}" in out
    assert stored_files() == [DEPLOYMENT_MARKER]

    run, _out, _err = _run()  # the next nights: its own

    assert (run.status, run.errors) == (BatchRun.Status.FINISH, "")


def test_adopting_a_storage_without_a_marker_writes_it(campaign):
    run, _out, _err = _run("--adopt-storage")

    assert _marker()["identity"] == deployment_identity()
    assert (run.status, run.counts) == (BatchRun.Status.FINISH, {})


def test_the_marker_is_never_an_orphan(campaign, time_machine, monkeypatch):
    """Even under a prefix the sweep would walk (here the root itself)."""
    call_command("remove_orphan_files", stdout=io.StringIO())
    monkeypatch.setattr(remove_orphan_files, "_campaign_prefixes", lambda: [""])
    _later(time_machine)

    assert remove_orphan_files.orphan_files() == []
    run, _out, _err = _run()

    assert default_storage.exists(DEPLOYMENT_MARKER)
    assert (run.status, run.counts) == (BatchRun.Status.FINISH, {})


def test_two_first_runs_at_once_leave_one_marker_and_one_sweeper(monkeypatch):
    """The recette's first run wrote its marker between this run's look and its write: the file system saves this
    one's under another name, which is deleted; the recette's holds and this deployment sweeps nothing."""
    recette: dict[str, str] = {}
    reads = iter([None])
    real_read = read_storage_owner

    def read_then_the_recette_writes(storage=None):
        found = next(reads, "read")
        if found is None:
            recette["describe"] = _claimed_by_the_recette(monkeypatch)
            return None
        return real_read(storage)

    monkeypatch.setattr("documents.storage.read_storage_owner", read_then_the_recette_writes)

    owner = claim_storage()

    assert owner is not None
    assert owner.describe() == recette["describe"]
    assert stored_files() == [DEPLOYMENT_MARKER]
