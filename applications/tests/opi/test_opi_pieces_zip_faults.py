"""The day's ZIP with its PJ-OPI when the server's own disk fails, not the storage: the temporary file the ZIP is
written to cannot be made, or the temporary directory fills up (ENOSPC) while the day's files, a piece or the ZIP's
end are written. The central office is sent back to the OPI screen with a French message saying so (never a 500 page,
nor the storage's 503 « try again in a few minutes », which would blame the storage), the temporary file is closed
(its space given back), the download is not recorded (``record_collection``) and the failure is logged."""

import errno
import io
import logging
import tempfile
import zipfile

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from applications.models import OpiExport
from applications.opi import admin as opi_admin
from applications.opi.services import export_zip, transfer_opis
from applications.tests.opi.helpers import BAC_BYTES, ID_BYTES, admit, confirm, make_candidate, piece
from ecandidat.batches import Report
from offers.tests.factories import PieceTypeFactory

MESSAGE_FR = (
    "Le ZIP des fichiers OPI du {day} n'a pas pu être écrit sur le serveur (son disque temporaire est plein ou en "
    "erreur) : rien n'a été téléchargé ni enregistré. Réessayez plus tard ; si l'erreur se répète, prévenez "
    "l'équipe technique."
)
# Session, user, the request's savepoint, the staff's roles, the export locked, (the day's pieces with their files,
# once the day's text files are in the ZIP), the savepoint released: no record of the download. The message travels
# in its cookie; the OPI screen the redirect leads to is not followed here.
QUERIES_BEFORE_THE_PIECES = 6
QUERIES_AFTER_THE_PIECES = 7

# The screen in French, its language: the client asks for it and the test runs in translation.override("fr").
pytestmark = pytest.mark.usefixtures("back_office_in_french")


@pytest.fixture(autouse=True)
def _apogee_with_pieces(settings):
    settings.OPI_BACKEND = "apogee"
    settings.OPI_PIECES = True


@pytest.fixture
def export(campaign, formation, centre_manager, opi_type):
    """A day's files with two PJ-OPI in the storage (Django's in-memory one)."""
    identity, marks = PieceTypeFactory(siscol_code="CNI", is_common=True), PieceTypeFactory(siscol_code="RBAC")
    application = admit(make_candidate(campaign, ine=""), formation, manager=centre_manager, decision_type=opi_type)
    piece(application, identity, ID_BYTES, shared=True)
    piece(application, marks, BAC_BYTES)
    confirm(application)
    return transfer_opis(Report())


class _FullDisk:
    """A temporary file on a disk with ``room`` bytes free: a write past them fails as the kernel's does."""

    def __init__(self, room: int):
        self.file = io.BytesIO()
        self.room = room

    def write(self, data) -> int:
        if self.file.tell() + len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)


class _FailingOnce(_FullDisk):
    """A temporary file whose disk fails one write inside the first piece (an I/O error), then writes again: the
    ZIP's end is written, so the error the view meets is this one alone."""

    def write(self, data) -> int:
        if self.room is not None and self.file.tell() + len(data) > self.room:
            self.room = None
            raise OSError(errno.EIO, "Input/output error")
        return self.file.write(data)


def _room(export: OpiExport, where: str) -> int:
    """Bytes free on the disk so that it fills up at ``where`` of the ZIP: before its first byte, inside the first
    piece (the day's text files fit), or at its central directory (every file fits)."""
    whole = export_zip(export)
    if where == "start":
        return 0
    if where == "piece":
        first = next(info for info in zipfile.ZipFile(io.BytesIO(whole)).infolist() if info.filename.endswith(".pdf"))
        return first.header_offset + 100
    return len(whole) - 10


@pytest.mark.parametrize(
    ("where", "queries"),
    [("start", QUERIES_BEFORE_THE_PIECES), ("piece", QUERIES_AFTER_THE_PIECES), ("end", QUERIES_AFTER_THE_PIECES)],
)
def test_the_temporary_disk_full_while_the_zip_is_written(
    client, central_manager, export, monkeypatch, mocker, caplog, django_assert_num_queries, where, queries
):
    spool = _FullDisk(_room(export, where))
    monkeypatch.setattr(tempfile, "TemporaryFile", lambda *args, **kwargs: spool)
    recorded = mocker.spy(opi_admin, "record_collection")
    client.force_login(central_manager)
    client.raise_request_exception = False

    with caplog.at_level(logging.ERROR, logger="applications.opi.admin"), django_assert_num_queries(queries):
        response = client.get(reverse("admin:applications_opi_export_zip", args=[export.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:applications_opi_changelist")
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert shown == [MESSAGE_FR.format(day=export.day.strftime("%d/%m/%Y"))]
    assert spool.closed  # its space given back: a TemporaryFile has no name, closing it deletes it
    assert not recorded.called
    assert OpiExport.objects.get().collected_at is None
    (logged,) = caplog.records
    assert "could not be written" in logged.getMessage()
    assert logged.exc_info[0] is OSError


@pytest.mark.parametrize(
    "error",
    [OSError(errno.ENOSPC, "No space left on device"), FileNotFoundError(errno.ENOENT, "No such directory")],
    ids=["disk-full", "no-temporary-directory"],
)
def test_no_temporary_file_for_the_zip(
    client, central_manager, export, monkeypatch, mocker, caplog, django_assert_num_queries, error
):
    def _refused(*args, **kwargs):
        raise error

    monkeypatch.setattr(tempfile, "TemporaryFile", _refused)
    recorded = mocker.spy(opi_admin, "record_collection")
    client.force_login(central_manager)
    client.raise_request_exception = False

    queries = django_assert_num_queries(QUERIES_BEFORE_THE_PIECES)
    with caplog.at_level(logging.ERROR, logger="applications.opi.admin"), queries:
        response = client.get(reverse("admin:applications_opi_export_zip", args=[export.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:applications_opi_changelist")
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert shown == [MESSAGE_FR.format(day=export.day.strftime("%d/%m/%Y"))]
    assert not recorded.called
    assert OpiExport.objects.get().collected_at is None
    assert len(caplog.records) == 1


def test_the_screen_shows_the_message_next_to_the_day_s_files(client, central_manager, export, monkeypatch):
    monkeypatch.setattr(tempfile, "TemporaryFile", lambda *args, **kwargs: _FullDisk(0))
    client.force_login(central_manager)

    response = client.get(reverse("admin:applications_opi_export_zip", args=[export.pk]), follow=True)

    assert response.status_code == 200
    assert "son disque temporaire est plein ou en erreur" in response.content.decode()
    assert reverse("admin:applications_opi_export_zip", args=[export.pk]) in response.content.decode()


def test_the_temporary_disk_failing_in_a_piece_is_not_blamed_on_the_storage(
    client, central_manager, export, monkeypatch, mocker, caplog, django_assert_num_queries
):
    """The write of a piece into the ZIP is the server's disk, not the storage: not the 503 page saying the storage
    is unavailable (the pieces' reads alone are the storage's, ``applications.opi.pieces.copy_into_zip``)."""
    spool = _FailingOnce(_room(export, "piece"))
    monkeypatch.setattr(tempfile, "TemporaryFile", lambda *args, **kwargs: spool)
    recorded = mocker.spy(opi_admin, "record_collection")
    client.force_login(central_manager)
    client.raise_request_exception = False

    queries = django_assert_num_queries(QUERIES_AFTER_THE_PIECES)
    with caplog.at_level(logging.ERROR, logger="applications.opi.admin"), queries:
        response = client.get(reverse("admin:applications_opi_export_zip", args=[export.pk]))

    assert response.status_code == 302
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert shown == [MESSAGE_FR.format(day=export.day.strftime("%d/%m/%Y"))]
    assert spool.closed
    assert not recorded.called
    assert OpiExport.objects.get().collected_at is None
    (logged,) = caplog.records
    assert logged.exc_info[1].errno == errno.EIO
