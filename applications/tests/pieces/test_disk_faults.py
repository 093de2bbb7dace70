"""The local disk failing during an upload (full, an I/O error at the write or at the flush) is the 503 page « rien
n'a été enregistré, envoyez-le à nouveau », as the bucket down is, never a 500; nothing is left behind: no row, and
no part of the file (it was left to the orphan sweep, an hour later)."""

import errno
import os

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from applications.models import PieceSubmission
from documents import storage
from documents.models import Document
from documents.tests import hostile_files as hostile
from documents.tests.storage import on_local_disk
from ecandidat.downloads import STORAGE_RETRY_AFTER_SECONDS


@pytest.fixture
def media(settings, tmp_path):
    """The production default: FileSystemStorage in a temporary MEDIA_ROOT."""
    on_local_disk(settings, tmp_path)
    return tmp_path


def files_under(root) -> list[str]:
    return [os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names]


def upload(owner, application, piece):
    url = reverse("pieces:upload", args=[application.public_id, piece.pk])
    return owner.post(url, {"file": hostile.valid_pdf_upload()}, language="fr")


def assert_nothing_kept(response, media):
    assert response.status_code == 503
    assert response["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)
    page = response.content.decode()
    page = response.content.decode()
    assert "ce que vous avez envoyé n'a pas été enregistré. Renvoyez-le" in page, page[page.find("<h1") :][:600]
    assert Document.objects.count() == 0
    assert PieceSubmission.objects.filter(document__isnull=False).count() == 0
    assert files_under(media) == []


def test_a_full_disk_while_writing_is_a_503_and_leaves_no_part_of_the_file(
    owner, application, piece, media, monkeypatch
):
    def half_then_full(self, chunk_size=None):
        yield self.read()[: len(self) // 2]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ContentFile, "chunks", half_then_full)

    assert_nothing_kept(upload(owner, application, piece), media)


def test_an_io_error_at_the_flush_is_a_503_and_deletes_the_written_file(owner, application, piece, media, monkeypatch):
    def failing_fsync(descriptor):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(storage.os, "fsync", failing_fsync)

    assert_nothing_kept(upload(owner, application, piece), media)


def test_with_the_disk_back_the_same_upload_is_stored(owner, application, piece, media):
    response = upload(owner, application, piece)

    assert response.status_code == 302
    assert len(files_under(media)) == 1
