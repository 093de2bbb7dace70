"""A decision letter built while the bucket hangs on its signature image: botocore's read and connect time-outs are
``OSError``s, and the build took them for a missing image, so the letter went out unsigned, and for good (its digest
names the image's file, not its bytes: nothing built it again once the bucket was back). Now the build fails
(``StorageUnavailable``): nothing is written, the letter stays « not built yet », and the next build, the candidate's
download or the mail's next attempt, once the bucket answers, prints the signature. Meanwhile the candidate's download
is the 503 page « try again in a few minutes ». An image really gone (its object deleted, before open()'s HEAD or
between it and the GET) or not an image still gives a letter without it, as before.

The bucket is moto_server (a separate process) reached through a proxy over real sockets (this module's rule over
``documents.tests.s3_peer.S3Proxy``) that holds every request for the signature's object unanswered (botocore's own
``ReadTimeoutError``, 1 s time limits), or answers its GET with S3's 404; the letter itself is written through the
same proxy, which passes it.

The same time-outs on a manager's dossier page (``documents.preview``): its PDFs' previews read « try again later »,
not « the file is missing from the storage », after one read of the storage at most; a bucket refusing connections
no longer makes the whole page a 503. (Here, not beside ``documents/tests/test_preview_storage_faults_dec7.py``: the
documents layer's tests may not import the applications layer that builds the page.)"""

import hashlib
import io
import time

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError  # type: ignore[import-untyped]
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, default_storage
from django.urls import reverse
from pypdf import PdfReader

from applications.letters import attachment_content, build_letter
from applications.models import DecisionLetter
from applications.tests.factories_candidature import make_application, with_file
from applications.tests.helpers import REVIEW_PAGE_QUERIES, change_url, released
from documents.tests import hostile_files as hostile
from documents.tests.s3_peer import S3Proxy, SilentBucket, closed_endpoint_url, quick_options
from documents.tests.storage import stored_files
from ecandidat.downloads import STORAGE_RETRY_AFTER_SECONDS, StorageUnavailable
from offers.models import DecisionLetterTemplate

MESSAGE = "This file is temporarily unavailable: try again in a few minutes."
SIGNATURE = "letters/signatures/signature.png"


class SignatureProxy(S3Proxy):
    """Passes every request on to moto_server, but those for an object whose key ends with ``SIGNATURE`` while
    ``mode`` says: "hang" holds them unanswered (until ``stop()``), "vanished" answers a GET with S3's 404 (the object
    deleted between open()'s HEAD and the download's GET). Counts the requests it held (``held``)."""

    mode = "pass"

    def plan(self, method: str, key: str) -> str:
        if not key.endswith(SIGNATURE):
            return "pass"
        if self.mode == "hang":
            return "hold"
        return "vanished" if self.mode == "vanished" and method == "GET" else "pass"

    @property
    def held(self) -> int:
        return self.count("hold")


@pytest.fixture
def proxied(s3_server, bucket, settings):
    """The test's bucket as the default storage, reached through a ``SignatureProxy`` with 1 s time limits."""
    proxy = SignatureProxy(s3_server.endpoint_url)
    settings.STORAGES = {**settings.STORAGES, "default": quick_options(proxy.endpoint_url, bucket)}
    yield proxy
    proxy.stop()


@pytest.fixture
def signed_text(centre):
    """The centre's admission text, with its signature image (stored by the test in whichever storage it sets)."""
    return DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.ADMISSION,
        centre=centre,
        title="Lettre d'admission",
        body="Vous êtes admis(e) en ${formation_title}.",
        signatory="Le directeur de l'UFR",
        signature=SIGNATURE,
    )


def _store_signature(content: bytes | None = None) -> None:
    stored = default_storage.save(SIGNATURE, ContentFile(hostile.png_bytes((200, 80)) if content is None else content))
    assert stored == SIGNATURE


def _images(letter: DecisionLetter) -> int:
    """How many images the stored PDF of ``letter`` prints (the signature is its only one)."""
    with default_storage.open(letter.file.name, "rb") as handle:
        return len(PdfReader(io.BytesIO(handle.read())).pages[0].images)


def _letter_keys(s3_server, bucket) -> list[str]:
    listed = s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted(item["Key"] for item in listed if item["Key"] != SIGNATURE)


# --- the bucket hanging on the signature ----------------------------------------------------------------------------


@pytest.mark.integration
def test_a_build_while_the_bucket_hangs_fails_then_the_next_one_prints_the_signature(
    formation, campaign, centre_manager, signed_text, s3_server, bucket, proxied, django_capture_on_commit_callbacks
):
    _store_signature()
    proxied.mode = "hang"

    # The release commits; the build queued after it (the worker's build_decision_letter, eager here) fails.
    start = time.monotonic()
    with (
        pytest.raises(StorageUnavailable, match="ReadTimeoutError"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        application = released(formation, campaign, centre_manager)

    assert time.monotonic() - start < 10  # one held HEAD: open() gave up after its 1 s time limit
    assert proxied.held == 1
    letter = DecisionLetter.objects.get()
    assert application.decisions.get().validated_at is not None
    assert (letter.file.name, letter.size, letter.values_digest) == ("", 0, "")  # nothing of a half-built letter
    assert _letter_keys(s3_server, bucket) == []  # no PDF written

    proxied.mode = "pass"  # the bucket answers again: the next build (download, mail, worker) prints the signature
    built = build_letter(letter.pk)

    assert built is not None
    assert built.file.name.startswith(f"letters/{campaign.pk}/")
    assert _images(built) == 1
    assert _letter_keys(s3_server, bucket) == [built.file.name]


@pytest.mark.integration
def test_the_candidate_download_while_the_bucket_hangs_is_a_503_then_the_signed_letter(
    client, formation, campaign, centre_manager, signed_text, proxied, django_assert_num_queries
):
    _store_signature()
    application = released(formation, campaign, centre_manager)  # the worker has not built the letter yet
    client.force_login(application.candidate.user)
    url = reverse("applications:letter", args=[application.public_id])
    proxied.mode = "hang"
    client.raise_request_exception = False

    # Session, user, the request's savepoint, application, letter; the build's savepoint, its row locked with what it
    # reads, the text, its centre; rollback to and release of both savepoints: nothing written.
    with django_assert_num_queries(13):
        response = client.get(url)

    assert response.status_code == 503
    assert response["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)
    assert MESSAGE in response.content.decode()
    assert not DecisionLetter.objects.get().file

    proxied.mode = "pass"
    response = client.get(url)

    assert response.status_code == 200
    pdf = PdfReader(io.BytesIO(b"".join(response.streaming_content)))
    assert len(pdf.pages[0].images) == 1
    assert _images(DecisionLetter.objects.get()) == 1


@pytest.mark.integration
def test_the_mail_attachment_while_the_bucket_hangs_fails_its_attempt_not_sent_without_the_letter(
    formation, campaign, centre_manager, signed_text, proxied
):
    _store_signature()
    released(formation, campaign, centre_manager)
    letter = DecisionLetter.objects.get()
    proxied.mode = "hang"

    # Not AttachmentUnavailable (the mail would leave without the letter it announces): the attempt fails, retried.
    with pytest.raises(StorageUnavailable):
        attachment_content(str(letter.pk))

    assert not DecisionLetter.objects.get().file
    proxied.mode = "pass"
    assert len(PdfReader(io.BytesIO(attachment_content(str(letter.pk)))).pages[0].images) == 1


# --- an image really gone, or not an image: the letter without it, as before -----------------------------------------


@pytest.mark.integration
def test_a_signature_deleted_from_the_bucket_gives_a_letter_without_it(
    formation, campaign, centre_manager, signed_text, s3_server, bucket, proxied
):
    released(formation, campaign, centre_manager)  # its signature was never stored (or was deleted): HEAD's 404

    built = build_letter(DecisionLetter.objects.get().pk)

    assert built is not None
    assert _images(built) == 0


@pytest.mark.integration
def test_a_signature_gone_between_the_check_and_the_download_gives_a_letter_without_it(
    formation, campaign, centre_manager, signed_text, proxied
):
    _store_signature()
    released(formation, campaign, centre_manager)
    proxied.mode = "vanished"  # open()'s HEAD finds it, the download's GET is S3's 404

    built = build_letter(DecisionLetter.objects.get().pk)

    assert built is not None
    proxied.mode = "pass"
    assert _images(built) == 0


@pytest.mark.parametrize(
    "content",
    [
        b"not an image",  # Pillow's UnidentifiedImageError, an OSError
        hostile.png_bytes((200, 80))[:200],  # a truncated image, an OSError
        hostile.png_of_size(20_000, 20_000),  # Pillow's DecompressionBombError (400 Mpx), not an OSError
    ],
    ids=["not-an-image", "truncated", "decompression-bomb"],
)
def test_a_signature_that_is_not_a_drawable_image_gives_a_letter_without_it(
    formation, campaign, centre_manager, signed_text, content
):
    _store_signature(content)
    released(formation, campaign, centre_manager)

    built = build_letter(DecisionLetter.objects.get().pk)

    assert built is not None
    assert _images(built) == 0


def test_a_signature_missing_from_the_local_storage_gives_a_letter_without_it(
    formation, campaign, centre_manager, signed_text
):
    released(formation, campaign, centre_manager)  # never stored: the storage's FileNotFoundError

    built = build_letter(DecisionLetter.objects.get().pk)

    assert built is not None
    assert _images(built) == 0


# --- any other storage failure of the signature fails the build ------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        ReadTimeoutError(endpoint_url="http://bucket.example/letters/signatures/signature.png"),  # an OSError
        EndpointConnectionError(endpoint_url="http://bucket.example"),
        PermissionError(13, "Permission denied"),
    ],
    ids=["read-timeout", "connection-refused", "disk-permission"],
)
def test_a_storage_failing_on_the_signature_fails_the_build_and_writes_nothing(
    formation, campaign, centre_manager, signed_text, monkeypatch, failure
):
    _store_signature()
    released(formation, campaign, centre_manager)
    letter = DecisionLetter.objects.get()
    real_open = InMemoryStorage._open

    def failing_open(self, name, mode="rb"):
        if name == SIGNATURE:
            raise failure
        return real_open(self, name, mode)

    monkeypatch.setattr(InMemoryStorage, "_open", failing_open)

    with pytest.raises(StorageUnavailable, match=type(failure).__name__):
        build_letter(letter.pk)

    assert not DecisionLetter.objects.get().file
    assert stored_files() == [SIGNATURE]  # no PDF written
    monkeypatch.setattr(InMemoryStorage, "_open", real_open)
    built = build_letter(letter.pk)
    assert built is not None
    assert _images(built) == 1


# --- the manager's dossier page with the bucket hanging or down -----------------------------------------------------

FAILED_PREVIEW = "No preview for now: the server could not draw it; try again later or download the file."


@pytest.fixture
def silent_endpoint():
    """A bucket that never answers: botocore's ReadTimeoutError after a second (``quick_options``)."""
    bucket = SilentBucket()
    yield bucket
    bucket.close()


@pytest.fixture
def closed_endpoint():
    """A bucket endpoint where nothing listens: botocore's EndpointConnectionError at once."""
    return closed_endpoint_url()


@pytest.mark.parametrize("endpoint", ["silent_endpoint", "closed_endpoint"], ids=["hanging", "refusing"])
def test_the_dossier_page_with_the_bucket_failing_shows_its_pieces_with_try_again_later(
    client, formation, campaign, centre_manager, settings, request, endpoint, django_assert_num_queries
):
    application = make_application(formation, campaign=campaign)
    for index in range(3):  # three PDFs never previewed: none in the cache
        document = with_file(application, label=f"Pièce {index}").document
        document.sha256 = hashlib.sha256(f"pièce {index}".encode()).hexdigest()
        document.save()
    client.force_login(centre_manager)
    bucket = request.getfixturevalue(endpoint)
    url = bucket.url if isinstance(bucket, SilentBucket) else bucket
    settings.STORAGES = {**settings.STORAGES, "default": quick_options(url, "ecandidat-down")}

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        response = client.get(change_url(application))

    assert response.status_code == 200  # the manager can still work on the dossier
    items = response.context["piece_items"]
    assert [item.preview_message for item in items] == [FAILED_PREVIEW] * 3
    assert all(item.download_url for item in items)
    if isinstance(bucket, SilentBucket):
        # One request (open()'s HEAD) given up after its 1 s limit for the whole page; before, one per PDF (3 s
        # here), and up to two each with a bucket slow rather than silent (open()'s HEAD, then the GET).
        assert len(bucket.connections) == 1
