"""clamd down left no trace in the log: each upload's scan was recorded in error on its document, nothing was logged,
and the worker reported the task as succeeded. Now an outage is an ERROR line naming clamd's address and the error, at
most one a minute per process (the next one counts the scans failed meanwhile), and a WARNING when clamd answers
again; only documents' ids, nothing of the candidate or of the file's name."""

import logging

import pytest

from accounts.tests.factories import CandidateUserFactory
from documents import scanning
from documents.enums import ScanStatus
from documents.models import Document
from documents.services import store_upload
from documents.tests import hostile_files as hostile
from documents.tests.clamd_peer import ClamdPeer

FILE_NAME = "releve-de-notes-jeanne-dupont.pdf"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """A fresh outage log for the test (the process's one is shared), on a clock the test moves."""
    clock = Clock()
    monkeypatch.setattr(scanning, "_outage", scanning._OutageLog(scanning.OUTAGE_LOG_INTERVAL, clock=clock))
    return clock


def _stored_documents(count: int) -> list[Document]:
    """``count`` stored documents, uploaded while no antivirus was configured (« not scanned »: due for a scan)."""
    actor = CandidateUserFactory()
    documents = []
    for _ in range(count):
        document = store_upload(hostile.upload(FILE_NAME, hostile.pdf_bytes()), campaign_code="C2026", actor=actor)
        document.save()
        documents.append(document)
    return documents


def _scanning_lines(caplog) -> list[tuple[int, str]]:
    return [(record.levelno, record.getMessage()) for record in caplog.records if record.name == "documents.scanning"]


@pytest.mark.django_db
def test_clamd_unreachable_is_an_error_in_the_log_once_a_minute_then_its_return(
    settings, closed_port_address, clock, caplog
):
    documents = _stored_documents(4)
    settings.CLAMD_ADDRESS = closed_port_address
    caplog.set_level(logging.DEBUG, logger="documents.scanning")

    statuses = [scanning.scan_stored_document(document_id=document.pk) for document in documents[:3]]
    clock.now += scanning.OUTAGE_LOG_INTERVAL + 1
    statuses.append(scanning.scan_stored_document(document_id=documents[3].pk))

    assert statuses == [ScanStatus.ERROR] * 4
    lines = _scanning_lines(caplog)
    assert [level for level, _message in lines] == [logging.ERROR, logging.ERROR]  # not one per upload
    first, second = (message for _level, message in lines)
    assert first.startswith(f"antivirus unreachable at {closed_port_address}: [Errno 111] Connection refused")
    assert f"(document {documents[0].pk} left in error for the nightly rescan_documents; 0 other scans" in first
    assert f"(document {documents[3].pk} left in error for the nightly rescan_documents; 2 other scans" in second

    peer = ClamdPeer()  # clamd is back
    settings.CLAMD_ADDRESS = peer.address
    try:
        assert scanning.scan_stored_document(document_id=documents[0].pk) == ScanStatus.CLEAN
        assert scanning.scan_stored_document(document_id=documents[1].pk) == ScanStatus.CLEAN
    finally:
        peer.close()

    back = f"antivirus at {peer.address} answers again; 4 scans failed meanwhile, rescanned by the nightly "
    back += "rescan_documents"
    assert _scanning_lines(caplog)[2:] == [(logging.WARNING, back)]  # one line, not one per scan
    assert all(FILE_NAME not in message and "@" not in message for _level, message in _scanning_lines(caplog))


@pytest.mark.django_db
def test_a_file_clamd_refuses_is_one_warning_not_an_outage(settings, clock, caplog):
    (document,) = _stored_documents(1)
    peer = ClamdPeer()
    peer.failing = True  # clamd answers « ... ERROR » (a size limit, for one)
    settings.CLAMD_ADDRESS = peer.address
    caplog.set_level(logging.DEBUG, logger="documents.scanning")
    try:
        assert scanning.scan_stored_document(document_id=document.pk) == ScanStatus.ERROR
    finally:
        peer.close()

    ((level, message),) = _scanning_lines(caplog)
    assert level == logging.WARNING
    assert message.startswith(f"antivirus scan of document {document.pk} failed: ")
    assert FILE_NAME not in message
