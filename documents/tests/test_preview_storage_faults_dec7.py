"""The staff preview with the storage failing: only a file that is missing (the storage's ``FileNotFoundError``, the
bucket's 404) reads « the file is missing from the storage »; a bucket that hangs (botocore's read and connect
time-outs are ``OSError``s: they read as « missing » before), that refuses connections (``EndpointConnectionError``,
which made the whole dossier page a 503) or a request, or an I/O error, is the passing failure « try again later »
("failed", never remembered), as ``ecandidat.downloads.storage_errors`` classifies them for the downloads. Once the
storage failed, a dossier's other PDFs never seen before are "failed" without asking it again: the page waits for
one read at most, not one per PDF (two time limits each, open()'s HEAD then the GET, with a hanging bucket).

Unit level: the in-memory storage made to raise, and a bucket endpoint that accepts connections and never answers
(real botocore time-outs; ``documents.tests.s3_peer.SilentBucket``). The dossier page itself:
``applications/tests/pieces/test_s3_hang_letters_dec7.py`` (these tests may not import the applications layer)."""

import hashlib
import io

import pytest
from boto3 import exceptions as boto3_errors
from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, default_storage
from pypdf import PdfWriter
from s3transfer import exceptions as transfer_errors  # type: ignore[import-untyped]

from documents import preview as preview_module
from documents.models import Document
from documents.preview import PreviewUnavailable, preview_infos, render_page
from documents.tests import hostile_files
from documents.tests.s3_peer import SilentBucket, closed_endpoint_url, quick_options
from documents.validation import PDF, PNG

FAILED = "No preview for now: the server could not draw it; try again later or download the file."
MISSING = "No preview: the file is missing from the storage."


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def _pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def _stored(content: bytes, pk: int, content_type: str = PDF) -> Document:
    name = default_storage.save(f"2026/piece-{pk}.pdf", ContentFile(content))
    digest = hashlib.sha256(content).hexdigest()
    return Document(pk=pk, file=name, content_type=content_type, size=len(content), sha256=digest)


def _client_error(status: int, code: str) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")


@pytest.fixture
def opens(monkeypatch):
    """The names the in-memory storage is asked to open, and what it raises meanwhile (``opens.failure``)."""
    real_open = InMemoryStorage._open

    class Opens(list):
        failure: BaseException | None = None

    opened = Opens()

    def counting_open(self, name, mode="rb"):
        opened.append(name)
        if opened.failure is not None:
            raise opened.failure
        return real_open(self, name, mode)

    monkeypatch.setattr(InMemoryStorage, "_open", counting_open)
    return opened


STORAGE_FAILURES = [
    ReadTimeoutError(endpoint_url="http://bucket.example/2026/piece-1.pdf"),  # an OSError: read « missing » before
    ConnectTimeoutError(endpoint_url="http://bucket.example/2026/piece-1.pdf"),  # an OSError too
    EndpointConnectionError(endpoint_url="http://bucket.example"),  # neither: the page's 503 before
    _client_error(403, "AccessDenied"),
    _client_error(503, "SlowDown"),
    transfer_errors.RetriesExceededError(ReadTimeoutError(endpoint_url="http://bucket.example")),  # a stalled GET
    boto3_errors.S3TransferFailedError("cut"),
    PermissionError(13, "Permission denied"),  # the local disk refusing: not a missing file
]
STORAGE_FAILURE_IDS = [
    "read-timeout",
    "connect-timeout",
    "connection-refused",
    "access-denied",
    "slow-down",
    "transfer-retries-exceeded",
    "transfer-failed",
    "disk-permission",
]


@pytest.mark.parametrize("failure", STORAGE_FAILURES, ids=STORAGE_FAILURE_IDS)
def test_a_storage_failing_is_a_passing_failure_never_a_missing_file(opens, failure):
    document = _stored(_pdf(), pk=1)
    opens.failure = failure

    info = preview_infos([document])[1]

    assert (info.pages, info.code, info.message) == (0, "failed", FAILED)
    assert cache.get(preview_module._cache_key(document)) is None  # not remembered: the next view tries again
    opens.failure = None
    assert preview_infos([document])[1].pages == 1


@pytest.mark.parametrize("failure", STORAGE_FAILURES, ids=STORAGE_FAILURE_IDS)
@pytest.mark.parametrize("content_type", [PDF, PNG])
def test_a_page_asked_while_the_storage_fails_is_a_passing_failure(opens, failure, content_type):
    content = _pdf() if content_type == PDF else hostile_files.png_bytes()
    document = _stored(content, pk=1, content_type=content_type)
    opens.failure = failure

    with pytest.raises(PreviewUnavailable) as drawn:
        render_page(document, 1)

    assert drawn.value.code == "failed"
    assert cache.get(preview_module._cache_key(document)) is None


@pytest.mark.parametrize(
    "failure",
    [
        FileNotFoundError(2, "No such file or directory"),  # the disk's, and the bucket's 404 at open()'s HEAD
        _client_error(404, "NoSuchKey"),  # the bucket's 404 at the GET: gone since open()'s HEAD
    ],
    ids=["file-not-found", "no-such-key"],
)
def test_a_missing_file_is_still_missing(opens, failure):
    document = _stored(_pdf(), pk=1)
    opens.failure = failure

    info = preview_infos([document])[1]

    assert (info.code, info.message) == ("missing", MISSING)
    with pytest.raises(PreviewUnavailable) as drawn:
        render_page(document, 1)
    assert drawn.value.code == "missing"


def test_a_file_never_stored_is_missing():
    document = Document(pk=1, file="2026/never.pdf", content_type=PDF, size=10, sha256="1" * 64)

    assert preview_infos([document])[1].code == "missing"


@pytest.mark.parametrize(
    "failure",
    [ReadTimeoutError(endpoint_url="http://bucket.example"), EndpointConnectionError(endpoint_url="http://x")],
    ids=["read-timeout", "connection-refused"],
)
def test_after_one_storage_failure_the_other_pdfs_are_not_read(opens, monkeypatch, failure):
    children = []
    monkeypatch.setattr(preview_module, "_run_child", lambda *arguments: children.append(arguments))
    known = _stored(_pdf(2), pk=1)
    cache.set(preview_module._cache_key(known), (2, "", ""))  # counted at an earlier view
    documents = [known, _stored(_pdf(), pk=2), _stored(_pdf(), pk=3), _stored(_pdf(), pk=4)]
    image = _stored(hostile_files.png_bytes(), pk=5, content_type=PNG)
    opens.clear()
    opens.failure = failure

    infos = preview_infos([*documents, image])

    assert opens == ["2026/piece-2.pdf"]  # once for the three PDFs never seen before
    assert [infos[pk].code for pk in (2, 3, 4)] == ["failed", "failed", "failed"]
    assert (infos[1].pages, infos[5].pages) == (2, 1)  # known from the cache; an image is read only when drawn
    assert children == []  # nothing to count
    assert all(cache.get(preview_module._cache_key(document)) is None for document in documents[1:])


def test_a_missing_pdf_does_not_stop_the_others_being_read(opens):
    gone = Document(pk=1, file="2026/never.pdf", content_type=PDF, size=10, sha256="1" * 64)
    documents = [gone, _stored(_pdf(), pk=2), _stored(_pdf(2), pk=3)]
    opens.clear()

    infos = preview_infos(documents)

    assert [infos[pk].code for pk in (1, 2, 3)] == ["missing", "", ""]
    assert [infos[pk].pages for pk in (2, 3)] == [1, 2]
    assert len(opens) == 3


# --- a real bucket endpoint that does not answer ------------------------------------------------------------------


@pytest.fixture
def silent_bucket(settings):
    """The default storage a bucket that never answers, with one attempt of 1 s: botocore's own ReadTimeoutError
    after a second."""
    bucket = SilentBucket()
    settings.STORAGES = {**settings.STORAGES, "default": quick_options(bucket.url, "ecandidat-silent")}
    yield bucket
    bucket.close()


def _unsaved(pk: int) -> Document:
    content = _pdf()
    return Document(
        pk=pk,
        file=f"2026/piece-{pk}.pdf",
        content_type=PDF,
        size=len(content),
        sha256=hashlib.sha256(f"{pk}".encode()).hexdigest(),
    )


def test_a_hanging_bucket_costs_one_read_for_the_whole_dossier(silent_bucket):
    documents = [_unsaved(pk) for pk in (1, 2, 3)]

    infos = preview_infos(documents)

    assert [infos[pk].code for pk in (1, 2, 3)] == ["failed", "failed", "failed"]
    # One request (open()'s HEAD) given up after its 1 s limit for the three PDFs; before, one per PDF, each read as
    # « missing », and up to two with a bucket slow rather than silent (open()'s HEAD, then the GET).
    assert len(silent_bucket.connections) == 1


def test_a_bucket_refusing_connections_is_a_passing_failure(settings):
    settings.STORAGES = {**settings.STORAGES, "default": quick_options(closed_endpoint_url(), "ecandidat-down")}

    infos = preview_infos([_unsaved(1), _unsaved(2)])

    assert [infos[pk].code for pk in (1, 2)] == ["failed", "failed"]
