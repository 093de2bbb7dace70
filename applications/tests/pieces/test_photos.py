"""Several photos of one document sent for one piece, stored as one PDF (issue 13), without JavaScript: the form
posts the files in one ``file`` field and the server merges them."""

import pytest
from django.urls import reverse
from pypdf import PdfReader

from accounts.tests.mfa import Client
from applications.enums import PieceStatus
from applications.models import PieceSubmission
from applications.tests.helpers import upload_url
from documents.merge import MAX_PAGES
from documents.models import Document
from documents.tests import hostile_files as hostile
from documents.tests.storage import stored_files


def _photos(count: int) -> list:
    return [hostile.upload(f"page{n}.jpg", hostile.jpeg_bytes((300 + n, 400))) for n in range(1, count + 1)]


def _messages(client, response) -> list[str]:
    page = client.get(response["Location"])
    return [str(m) for m in page.context["messages"]]


@pytest.mark.parametrize("count", [2, 3])
def test_photos_are_stored_as_one_pdf_with_one_page_each_and_constant_queries(
    owner, application, piece, count, django_assert_num_queries
):
    # Same queries as one file (test_views.test_upload_query_count): merging reads nothing from the database.
    with django_assert_num_queries(12):
        response = owner.post(upload_url(application, piece), {"file": _photos(count)})

    assert response.status_code == 302
    submission = PieceSubmission.objects.select_related("document").get()
    document = submission.document
    assert submission.status == PieceStatus.SUBMITTED
    assert (document.original_name, document.content_type) == ("page1.pdf", "application/pdf")
    with document.file.open("rb") as stored:
        reader = PdfReader(stored)
        assert [round(float(page.mediabox.width)) for page in reader.pages] == [300 + n for n in range(1, count + 1)]
    assert len(stored_files()) == 1


def test_a_single_photo_is_stored_as_it_is_today(owner, application, piece):
    owner.post(upload_url(application, piece), {"file": _photos(1)})

    assert Document.objects.get().content_type == "image/jpeg"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            lambda: [*_photos(1), hostile.valid_pdf_upload()],
            (
                "Lettre de motivation: To send several files, choose only photos (JPEG or PNG): they will be put "
                "together in one PDF. Nothing was saved."
            ),
        ),
        (
            lambda: _photos(MAX_PAGES + 1),
            (
                f"Lettre de motivation: At most {MAX_PAGES} photos can be put together in one PDF. Nothing was "
                "saved: choose fewer photos, or send a PDF of the document."
            ),
        ),
        (
            lambda: [*_photos(1), hostile.jpeg_zip_polyglot_upload(), hostile.pixel_flood_png_upload()],
            (
                "Lettre de motivation: Photo 3: The image is too large (16 million pixels at most): reduce its "
                "resolution, for example to 300 dpi for a scanned page."
            ),
        ),
        (
            lambda: [*_photos(1), hostile.png_html_polyglot_as_jpg_upload()],
            "Lettre de motivation: Photo 2: The file content does not match its extension.",
        ),
        (
            # Within the pixel budget, but longer than a PDF page can be: Pillow's writer raised OSError, a 500.
            lambda: [*_photos(1), hostile.upload("strip.png", hostile.grey_png(1, 65_536, "L"))],
            (
                "Lettre de motivation: Photo 2: The image is too long or too wide to be put in a PDF (65,500 pixels "
                "on a side at most): crop it, or send it on its own."
            ),
        ),
    ],
    ids=["pdf-among-photos", "over-the-page-cap", "pixel-flood", "polyglot", "longer-than-a-pdf-page"],
)
def test_refused_sets_say_why_next_to_the_piece_and_store_nothing(
    owner, application, piece, files, message, django_assert_num_queries
):
    # session, user, application, piece type, the piece is requested; refused before any lock or write.
    with django_assert_num_queries(5):
        response = owner.post(upload_url(application, piece), {"file": files()})

    assert response["Location"].endswith(f"#piece-{piece.pk}")
    assert _messages(owner, response) == [message]
    assert not Document.objects.exists()
    assert not PieceSubmission.objects.exists()
    assert stored_files() == []


def test_more_files_than_django_reads_get_the_400_page_saying_so_and_nothing_is_stored(
    candidate_user, application, piece, settings, django_assert_num_queries
):
    # Without JavaScript, 101 photos in one post: Django's parser refuses them when the CSRF check reads the form,
    # before the view. A browser's client: the CSRF check on, its token in the form before the files.
    assert settings.DATA_UPLOAD_MAX_NUMBER_FILES == 100  # Django's default
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(candidate_user)
    browser.get(reverse("applications:detail", args=[application.public_id]))
    token = browser.cookies[settings.CSRF_COOKIE_NAME].value
    photo = hostile.jpeg_bytes((8, 8))
    files = [hostile.upload(f"p{n}.jpg", photo) for n in range(101)]

    with django_assert_num_queries(2):  # the session and the account, for the page's language switch
        response = browser.post(upload_url(application, piece), {"csrfmiddlewaretoken": token, "file": files})

    assert response.status_code == 400
    page = response.content.decode()
    assert "<h1>Requête incorrecte</h1>" in page
    assert (
        "Trop de fichiers ont été envoyés en une fois ; rien n'a été enregistré. Revenez à votre candidature et "
        "envoyez un PDF du document, ou moins de photos." in page
    )
    assert "Le serveur n" not in page
    assert not Document.objects.exists()
    assert not PieceSubmission.objects.exists()
    assert stored_files() == []
    # The same post with 11 photos reaches the view: its own message beside the piece.
    response = browser.post(upload_url(application, piece), {"csrfmiddlewaretoken": token, "file": files[:11]})
    assert response.status_code == 302


def test_the_refusal_is_in_french_next_to_the_piece(owner, application, piece):
    response = owner.post(
        upload_url(application, piece), {"file": [*_photos(1), hostile.valid_pdf_upload()]}, language="fr"
    )

    page = owner.get(response["Location"], language="fr").content.decode()
    assert (
        "Pour envoyer plusieurs fichiers, choisissez uniquement des photos (JPEG ou PNG) : elles seront réunies en un "
        "seul PDF. Rien n&#x27;a été enregistré." in page
    )


def test_a_photo_longer_than_a_pdf_page_is_refused_in_french_with_its_number(owner, application, piece):
    strip = hostile.upload("strip.png", hostile.grey_png(65_536, 1, "L"))

    response = owner.post(upload_url(application, piece), {"file": [*_photos(1), strip]}, language="fr")

    page = owner.get(response["Location"], language="fr").content.decode()
    assert (
        "Photo 2 : L&#x27;image est trop longue ou trop large pour être mise dans un PDF (65\xa0500 pixels de côté au "
        "plus) : recadrez-la, ou envoyez-la seule." in page
    )
    assert not Document.objects.exists()


def test_the_form_accepts_several_files_and_says_so(owner, application, piece):
    page = owner.get(reverse("applications:detail", args=[application.public_id])).content.decode()

    assert 'name="file" accept=".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"' in page
    assert "multiple required" in page
    assert f"choose all the photos of the same document at once (JPEG or PNG, {MAX_PAGES} at most)" in page
