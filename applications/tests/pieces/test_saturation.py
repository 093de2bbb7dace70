"""Uploads under saturation (issue 14): every upload slot taken gives a clear French 503 with Retry-After, in the
site's layout, and nothing stored; slots are given back; a failing cache lets uploads through."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from applications.models import PieceSubmission
from applications.services import pieces as services
from documents import saturation
from documents.models import Document
from documents.tests import hostile_files as hostile
from documents.tests.storage import stored_files

SATURATED = "Beaucoup de fichiers sont envoyés en ce moment"
# The message left for the page (the pieces table also carries the upload script's own text, which starts alike).
SEND_AGAIN = "Renvoyez-le dans quelques secondes"


def upload_url(application, piece_type):
    return reverse("pieces:upload", args=[application.public_id, piece_type.pk])


def _post_by_script(owner, application, piece, *, retries_left: str):
    """An upload as static/js/upload.js sends it, saying how many more times it would send the file by itself."""
    return owner.post(
        upload_url(application, piece),
        {"file": hostile.valid_pdf_upload()},
        HTTP_X_UPLOAD_PROGRESS="1",
        HTTP_X_UPLOAD_RETRIES_LEFT=retries_left,
        language="fr",
    )


@pytest.fixture
def two_slots(settings):
    settings.UPLOAD_CONCURRENCY = 2
    yield
    cache.delete_many([saturation.SLOT_KEY.format(n) for n in range(2)])


def _take_every_slot():
    """Fault injection: two uploads in flight elsewhere (another process holds the slots)."""
    for n in range(2):
        assert cache.add(saturation.SLOT_KEY.format(n), "elsewhere", timeout=60)


@pytest.mark.usefixtures("two_slots")
def test_saturated_server_answers_503_in_french_with_retry_after_and_stores_nothing(
    owner, application, piece, django_assert_num_queries
):
    _take_every_slot()

    # session, user, application, piece type: nothing after the refusal
    with django_assert_num_queries(4):
        response = owner.post(upload_url(application, piece), {"file": hostile.valid_pdf_upload()}, language="fr")

    assert response.status_code == 503
    assert response["Retry-After"] == str(saturation.RETRY_AFTER_SECONDS)
    page = response.content.decode()
    assert SATURATED in page
    assert SEND_AGAIN in page
    assert "pas été enregistré" in page
    assert "<main" in page  # the site's layout, not a bare error page
    assert not Document.objects.exists()
    assert not PieceSubmission.objects.filter(document__isnull=False).exists()
    assert stored_files() == []
    # The other uploads' slots are left alone.
    assert cache.get(saturation.SLOT_KEY.format(0)) == "elsewhere"


@pytest.mark.usefixtures("two_slots")
def test_saturated_upload_by_script_gets_the_address_and_the_message_in_the_row(owner, application, piece):
    _take_every_slot()

    response = owner.post(
        upload_url(application, piece),
        {"file": hostile.valid_pdf_upload()},
        HTTP_X_UPLOAD_PROGRESS="1",
        language="fr",
    )

    assert response.status_code == 503
    assert response["Retry-After"] == str(saturation.RETRY_AFTER_SECONDS)
    page = owner.get(response.json()["location"], language="fr").content.decode()
    assert SEND_AGAIN in page
    assert not Document.objects.exists()


@pytest.mark.usefixtures("two_slots")
def test_the_script_that_will_send_again_gets_only_the_delay_and_no_message_is_left(
    owner, application, piece, django_assert_num_queries
):
    _take_every_slot()

    # session, user, application, piece type: nothing after the refusal
    with django_assert_num_queries(4):
        response = _post_by_script(owner, application, piece, retries_left="3")

    assert response.status_code == 503
    assert response["Retry-After"] == str(saturation.RETRY_AFTER_SECONDS)
    assert response.json() == {"retry_after": saturation.RETRY_AFTER_SECONDS}
    assert not Document.objects.exists()
    assert stored_files() == []
    # The file is received at the next try: its page shows that, not a stale "send it again".
    cache.delete(saturation.SLOT_KEY.format(0))
    response = _post_by_script(owner, application, piece, retries_left="2")
    page = owner.get(response.json()["location"], language="fr").content.decode()
    assert "fichier reçu" in page
    assert SEND_AGAIN not in page
    assert Document.objects.count() == 1


@pytest.mark.usefixtures("two_slots")
@pytest.mark.parametrize("retries_left", ["0", "", "abc", "-1", "1.5", "٣", "100"])
def test_the_last_try_or_an_unreadable_count_gets_the_message(owner, application, piece, retries_left):
    """An Arabic-Indic three is a decimal digit to Python, not a count the script sends."""
    _take_every_slot()

    response = _post_by_script(owner, application, piece, retries_left=retries_left)

    assert response.status_code == 503
    page = owner.get(response.json()["location"], language="fr").content.decode()
    assert SEND_AGAIN in page
    assert not Document.objects.exists()


@pytest.mark.usefixtures("two_slots")
def test_a_slot_frees_and_the_upload_then_succeeds(owner, application, piece):
    _take_every_slot()
    assert owner.post(upload_url(application, piece), {"file": hostile.valid_pdf_upload()}).status_code == 503

    cache.delete(saturation.SLOT_KEY.format(1))  # one upload elsewhere ends
    response = owner.post(upload_url(application, piece), {"file": hostile.valid_pdf_upload()})

    assert response.status_code == 302
    assert Document.objects.count() == 1
    # Its own slot was given back; the other upload's is still held.
    assert cache.get(saturation.SLOT_KEY.format(1)) is None
    assert cache.get(saturation.SLOT_KEY.format(0)) == "elsewhere"


@pytest.mark.usefixtures("two_slots")
def test_the_slot_is_given_back_when_the_upload_fails(owner, application, piece, monkeypatch):
    def broken_storage(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(services, "_store_piece", broken_storage)
    owner.raise_request_exception = False

    response = owner.post(upload_url(application, piece), {"file": hostile.valid_pdf_upload()})

    assert response.status_code == 500
    assert cache.get_many([saturation.SLOT_KEY.format(n) for n in range(2)]) == {}


@pytest.mark.usefixtures("two_slots")
def test_a_failing_cache_lets_uploads_through(owner, application, piece, monkeypatch):
    class Down:
        def __getattr__(self, name):
            raise ConnectionError("redis down")

    monkeypatch.setattr(saturation, "cache", Down())

    response = owner.post(upload_url(application, piece), {"file": hostile.valid_pdf_upload()})

    assert response.status_code == 302
    assert Document.objects.count() == 1


def test_no_bound_when_turned_off(settings):
    settings.UPLOAD_CONCURRENCY = 0
    with saturation.upload_slot() as admitted:
        assert admitted
