"""Stored files on the local file system are durable (security reference A.7): the file's bytes, its name in its
folder, and the folders the save made (a campaign's, ``quarantine/``'s) in their parents are fsynced before the
rows that point to them commit. Remote storages (S3) confirm their writes themselves: nothing to flush."""

import os

import pytest

from accounts.tests.factories import CandidateUserFactory
from documents import scanning, storage
from documents.enums import ScanStatus
from documents.models import Document
from documents.services import store_upload
from documents.tests import hostile_files as hostile
from documents.tests.clamd_peer import ClamdPeer
from documents.tests.storage import on_local_disk


@pytest.fixture
def media(settings, tmp_path):
    """The production default: FileSystemStorage in a temporary MEDIA_ROOT."""
    on_local_disk(settings, tmp_path)
    return tmp_path


@pytest.fixture
def fsynced(monkeypatch):
    """The (device, inode) of everything fsynced, files and folders alike."""
    synced = set()
    real = os.fsync

    def fsync(descriptor):
        found = os.fstat(descriptor)
        synced.add((found.st_dev, found.st_ino))
        real(descriptor)

    monkeypatch.setattr(storage.os, "fsync", fsync)
    return synced


def identity(path) -> tuple[int, int]:
    found = os.stat(path)
    return found.st_dev, found.st_ino


@pytest.mark.django_db
def test_an_upload_flushes_its_file_its_campaigns_folder_and_the_root(media, fsynced):
    document = store_upload(
        hostile.upload("piece.pdf", hostile.pdf_bytes()), campaign_code="C2026", actor=CandidateUserFactory()
    )

    path = media / document.file.name
    assert path.parent == media / "C2026"
    assert {identity(path), identity(media / "C2026"), identity(media)} <= fsynced


@pytest.mark.django_db
def test_a_quarantined_copy_flushes_every_folder_up_to_the_root(settings, media, fsynced):
    peer = ClamdPeer()
    settings.CLAMD_ADDRESS = peer.address
    try:
        document = store_upload(
            hostile.upload(
                "piece.pdf", hostile.build_pdf([hostile.CATALOG, hostile.PAGES, hostile.PAGE], comment=hostile.EICAR)
            ),
            campaign_code="C2026",
            actor=CandidateUserFactory(),
        )
        document.save()
        fsynced.clear()

        assert scanning.scan_stored_document(document_id=document.pk) == ScanStatus.INFECTED
    finally:
        peer.close()

    path = media / Document.objects.get().file.name
    assert path.parent == media / "quarantine" / "C2026"
    assert {
        identity(path),
        identity(media / "quarantine" / "C2026"),
        identity(media / "quarantine"),
        identity(media),
    } <= fsynced


def test_nothing_is_flushed_on_a_remote_storage(fsynced):
    storage.flush("C2026/piece.pdf")  # the tests' in-memory storage stands for S3: not a FileSystemStorage

    assert fsynced == set()
