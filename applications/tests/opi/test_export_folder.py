"""``OPI_EXPORT_DIR`` (applications.opi.folder): the files are written before the commit and put in place after it,
so a folder that cannot take them, or a piece the storage cannot give, rolls the run back and every OPI stays
pending for the next run; nothing is marked transferred without its file in the folder, and the page that ran the
transfer answers with a message, not an error."""

import datetime
import html
import logging
import os
import stat
from pathlib import Path

import pytest
from django.urls import reverse

from applications.enums import EventKind, OpiState
from applications.models import Opi, OpiExport, OpiPiece
from applications.opi import folder
from applications.opi.services import transfer_opis
from applications.tests.opi.helpers import DAY1, ID_BYTES, admit, confirm, make_candidate, piece
from ecandidat.batches import Report
from ecandidat.models import BatchRun
from offers.tests.factories import PieceTypeFactory

FILES = ["opi-apogee-20260706.csv"]


@pytest.fixture(autouse=True)
def _apogee(settings, time_machine):
    settings.OPI_BACKEND = "apogee"
    time_machine.move_to(DAY1)


@pytest.fixture
def blocked(settings, tmp_path):
    """A folder that cannot be created: its path is a file."""
    path = tmp_path / "opi"
    path.write_text("not a folder")
    settings.OPI_EXPORT_DIR = str(path)
    return path


def confirmed(campaign, formation, manager, decision_type):
    return confirm(admit(make_candidate(campaign), formation, manager=manager, decision_type=decision_type))


def files_in(path: Path) -> list[str]:
    return sorted(str(found.relative_to(path)) for found in path.rglob("*") if found.is_file())


def test_a_folder_that_cannot_take_the_files_keeps_every_opi_pending(
    settings, tmp_path, blocked, campaign, formation, centre_manager, opi_type, django_capture_on_commit_callbacks
):
    application = confirmed(campaign, formation, centre_manager, opi_type)
    report = Report()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert transfer_opis(report) is None

    assert callbacks == []
    assert Opi.objects.get().state == OpiState.PENDING
    assert not OpiExport.objects.exists()
    assert not application.events.filter(kind=EventKind.OPI_PASSED).exists()
    (error,) = report.errors
    assert error.startswith("OPI_EXPORT_DIR: opi-apogee-20260706.csv could not be written ([Errno ")
    assert error.endswith("); nothing was transferred")
    assert "candidates in the day's files" not in report.counts

    # The folder repaired, the next run writes the files and transfers the OPI.
    blocked.unlink()
    with django_capture_on_commit_callbacks(execute=True):
        export = transfer_opis(Report())

    assert files_in(blocked) == FILES
    assert (blocked / FILES[0]).read_text(encoding="utf-8") == export.files[FILES[0]]
    assert Opi.objects.get().state == OpiState.PASSED


def test_a_piece_the_storage_cannot_give_rolls_the_run_back(
    settings, tmp_path, campaign, formation, centre_manager, opi_type, mocker, django_capture_on_commit_callbacks
):
    settings.OPI_PIECES, settings.OPI_EXPORT_DIR = True, str(tmp_path)
    application = admit(make_candidate(campaign), formation, manager=centre_manager, decision_type=opi_type)
    piece(application, PieceTypeFactory(code="CNI", siscol_code="CNI", is_common=True), ID_BYTES, shared=True)
    confirm(application)
    mocker.patch("applications.opi.pieces.default_storage.open", side_effect=ConnectionError("storage unreachable"))
    report = Report()

    with django_capture_on_commit_callbacks(execute=True):
        assert transfer_opis(report) is None

    assert (Opi.objects.get().state, OpiPiece.objects.exists()) == (OpiState.PENDING, False)
    assert report.errors == [
        (
            "OPI_EXPORT_DIR: ECAB123456_OPI/PJ_CNI_ECAB123456.pdf could not be written (storage unreachable); "
            "nothing was transferred"
        )
    ]
    assert "pieces sent by this run" not in report.counts  # rolled back: not told as sent
    assert files_in(tmp_path) == []  # the text file staged before it was removed, no half-copied piece

    mocker.stopall()
    with django_capture_on_commit_callbacks(execute=True):
        transfer_opis(Report())

    assert (tmp_path / "ECAB123456_OPI" / "PJ_CNI_ECAB123456.pdf").read_bytes() == ID_BYTES
    assert OpiPiece.objects.get().transferred_at is not None


@pytest.mark.usefixtures("back_office_in_french")
def test_produce_now_with_a_broken_folder_says_so_and_transfers_nothing(
    client, django_assert_num_queries, blocked, central_manager, campaign, formation, centre_manager, opi_type
):
    confirmed(campaign, formation, centre_manager, opi_type)
    client.force_login(central_manager)

    with django_assert_num_queries(23):  # 22, and the SIS's countries read once by the file's country codes
        response = client.post(reverse("admin:applications_opi_transfer"))

    assert response.status_code == 302
    page = html.unescape(client.get(response["Location"]).content.decode())
    assert "OPI_EXPORT_DIR : opi-apogee-20260706.csv n'a pas pu être écrit (" in page
    assert "rien n'a été déversé" in page
    assert BatchRun.objects.get().status == BatchRun.Status.ERROR
    assert Opi.objects.get().state == OpiState.PENDING


def test_publish_puts_the_others_in_place_when_one_rename_fails(settings, tmp_path, mocker, caplog):
    settings.OPI_EXPORT_DIR = str(tmp_path)
    staged = folder.stage([("a.csv", lambda out: out.write(b"a")), ("b.csv", lambda out: out.write(b"b"))])
    real = Path.replace

    def replace(self, target):
        if self.name == ".a.csv.tmp":
            raise OSError("no space left")
        return real(self, target)

    mocker.patch.object(Path, "replace", replace)
    with caplog.at_level(logging.ERROR, logger="applications.opi.folder"):
        folder.publish(staged)

    assert files_in(tmp_path) == [".a.csv.tmp", "b.csv"]  # the failed one kept beside its place
    assert "could not put" in caplog.text


def test_files_a_killed_run_committed_but_never_renamed_are_put_in_place_by_the_next_run(
    settings, tmp_path, campaign, formation, centre_manager, opi_type, time_machine, django_capture_on_commit_callbacks
):
    """The process killed between the commit and the renames: the OPIs are transferred, their files only staged.
    The next run (the next night: the day's files are not rewritten then) puts them in place first."""
    settings.OPI_PIECES, settings.OPI_EXPORT_DIR = True, str(tmp_path)
    application = admit(make_candidate(campaign), formation, manager=centre_manager, decision_type=opi_type)
    piece(application, PieceTypeFactory(code="CNI", siscol_code="CNI", is_common=True), ID_BYTES, shared=True)
    confirm(application)
    with django_capture_on_commit_callbacks(execute=False):  # committed; the renames never ran
        transfer_opis(Report())
    assert files_in(tmp_path) == [
        ".opi-apogee-20260706.csv.tmp",
        ".opi-apogee-pj-20260706.csv.tmp",
        "ECAB123456_OPI/.PJ_CNI_ECAB123456.pdf.tmp",
    ]
    (tmp_path / ".rolled-back.csv.tmp").write_text("a run that rolled back")  # matches nothing committed
    time_machine.move_to(DAY1 + datetime.timedelta(days=1))
    report = Report()

    with django_capture_on_commit_callbacks(execute=True):
        assert transfer_opis(report) is None  # nothing new to transfer

    assert report.counts["files put in place after an interrupted run"] == 3
    assert files_in(tmp_path) == [
        ".rolled-back.csv.tmp",
        "ECAB123456_OPI/PJ_CNI_ECAB123456.pdf",
        "opi-apogee-20260706.csv",
        "opi-apogee-pj-20260706.csv",
    ]
    assert (tmp_path / "ECAB123456_OPI" / "PJ_CNI_ECAB123456.pdf").read_bytes() == ID_BYTES


def test_the_folder_is_flushed_after_staging_and_after_publishing(
    settings, tmp_path, campaign, formation, centre_manager, opi_type, mocker, django_capture_on_commit_callbacks
):
    """A power loss after the commit must not undo the renames: the folder's entries are flushed (``fsync`` of the
    folder) once the files are staged, before the commit, and once they are renamed, after it."""
    settings.OPI_EXPORT_DIR = str(tmp_path)
    confirmed(campaign, formation, centre_manager, opi_type)
    real_fsync, flushed = os.fsync, []

    def recording_fsync(descriptor):
        if stat.S_ISDIR(os.fstat(descriptor).st_mode):
            flushed.append(sorted(found.name for found in tmp_path.iterdir()))  # what the folder held then
        return real_fsync(descriptor)

    mocker.patch.object(os, "fsync", side_effect=recording_fsync)
    with django_capture_on_commit_callbacks(execute=True):
        transfer_opis(Report())

    assert flushed == [[".opi-apogee-20260706.csv.tmp"], ["opi-apogee-20260706.csv"]]


def test_a_folder_that_cannot_be_flushed_is_skipped(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="documents.storage"):
        folder.sync_folders([tmp_path / "missing", tmp_path])

    assert [record.getMessage() for record in caplog.records] == [
        f"OPI_EXPORT_DIR: could not open {tmp_path / 'missing'} to flush it"
    ]
