"""The language switch on a page that answers a POST (an upload refused for fair use, 429): its address is the
upload's, POST only, where a GET is a blank 405. The switch brings the reader back to the page the form was sent
from, or to the home page, never to that address."""

import re
from html import unescape

import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.urls import reverse

from applications.tests.factories_candidature import application_of
from documents import fair_use
from documents.tests import hostile_files as hostile
from offers.tests.factories import FormationFactory, PieceTypeFactory

NEXT = re.compile(r'<input type="hidden" name="next" value="([^"]*)">')


@pytest.fixture(autouse=True)
def _one_upload_per_account(settings):
    """In-memory files, no antivirus, and one upload per account every 10 minutes, counted from zero."""
    settings.CLAMD_ADDRESS = None
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    settings.DOCUMENTS_RATE_LIMITS = {
        fair_use.UPLOAD: "1/10m/user,5/10m/ip",
        fair_use.STAFF_UPLOAD: "1/10m/user,5/10m/ip",
        fair_use.DOSSIER_PDF: "1/10m/user,5/10m/ip",
        fair_use.STAFF_DOSSIER_PDF: "1/10m/user,5/10m/ip",
    }
    if isinstance(caches["default"], LocMemCache):  # never FLUSHDB a real Redis
        caches["default"].clear()
    yield
    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


@pytest.fixture
def refused_upload(client, candidate_user, centre, commission):
    """The pieces page of a French-speaking candidate, then two uploads from it: the second is refused (429)."""
    formation = FormationFactory(centre=centre, commission=commission)
    first, second = (PieceTypeFactory(label=f"Pièce {n}", order=n) for n in (1, 2))
    formation.piece_types.add(first, second)
    application = application_of(candidate_user, formation)
    client.language = "fr"
    client.force_login(candidate_user)
    pieces_url = reverse("pieces:pieces", args=[application.public_id])

    def upload(piece_type, **headers):
        url = reverse("pieces:upload", args=[application.public_id, piece_type.pk])
        return url, client.post(url, {"file": hostile.valid_pdf_upload()}, headers=headers)

    assert upload(first, referer=f"http://testserver{pieces_url}")[1].status_code == 302
    return pieces_url, upload, second


def switch_target(response) -> str:
    (value,) = NEXT.findall(response.content.decode())
    return unescape(value)


def test_the_switch_on_a_refused_upload_goes_back_to_the_pieces_page(
    client, refused_upload, django_assert_num_queries
):
    pieces_url, upload, second = refused_upload
    upload_url, response = upload(second, referer=f"http://testserver{pieces_url}")
    assert response.status_code == 429
    assert switch_target(response) != upload_url
    assert switch_target(response) == f"http://testserver{pieces_url}"

    # session, user (middleware), the request's savepoint (2): set_language only sets the cookie
    with django_assert_num_queries(4):
        switched = client.post(
            reverse("set_language"),
            {"language": "en", "next": switch_target(response)},
            headers={"referer": upload_url},
        )
    assert switched.status_code == 302
    assert switched["Location"] == f"http://testserver{pieces_url}"

    # session, user, application, submissions (the requested pieces were cached by the 429's page)
    with django_assert_num_queries(4):
        page = client.get(switched["Location"])
    assert page.status_code == 200
    assert '<html lang="en"' in page.content.decode()


def test_without_a_referer_the_switch_on_a_refused_upload_goes_to_the_home_page(
    client, refused_upload, django_assert_num_queries
):
    _pieces_url, upload, second = refused_upload
    upload_url, response = upload(second)
    assert response.status_code == 429
    assert switch_target(response) == "/"

    switched = client.post(
        reverse("set_language"), {"language": "en", "next": switch_target(response)}, headers={"referer": upload_url}
    )
    assert switched["Location"] == "/"

    # session, user, the home message
    with django_assert_num_queries(3):
        page = client.get("/")
    assert page.status_code == 200
