"""The dossier PDF of the second review of December 6th: a piece whose file is gone from the storage has a page
telling its reader what to do, the candidate (« Télécharger mon dossier »: upload it again) or the staff (ask the
candidate for it again); it told the candidate to ask themselves for it."""

import io

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from pypdf import PdfReader

from applications.tests.factories_candidature import make_application, stored_piece
from offers.tests.factories import FormationFactory

CANDIDATE_NOTICE_FR = (
    "Ce fichier est absent du stockage : déposez-le à nouveau ou, si vous ne le pouvez pas, écrivez à l'adresse de"
    " contact de votre candidature."
)
STAFF_NOTICE_FR = "Ce fichier est absent du stockage : demandez-le à nouveau au candidat."
CANDIDATE_QUERIES = 17
STAFF_QUERIES = 18

pytestmark = pytest.mark.usefixtures("documents_in_memory")


@pytest.fixture
def application(centre, commission, campaign):
    formation = FormationFactory(centre=centre, commission=commission, code="M1DEC6B")
    return make_application(formation, campaign=campaign)


@pytest.fixture
def piece_gone(application):
    """A piece of ``application`` whose stored file is gone (database and storage restored from backups of
    different moments)."""
    submission = stored_piece(application, "Relevé de notes")
    default_storage.delete(submission.document.file.name)
    return submission


def last_page_text(client, url: str, django_assert_num_queries, queries: int) -> str:
    client.language = "fr"  # the fixture client reads English
    with django_assert_num_queries(queries):
        response = client.get(url)
        content = b"".join(response.streaming_content)
    assert response.status_code == 200
    return " ".join(PdfReader(io.BytesIO(content)).pages[-1].extract_text().split())


def test_the_candidates_own_dossier_tells_them_to_upload_a_file_gone_from_the_storage_again(
    client, application, piece_gone, django_assert_num_queries
):
    """Regression (review, 6 December): the candidate's « Télécharger mon dossier » printed the staff's notice,
    « demandez-le à nouveau au candidat », telling the candidate to ask themselves for their own file."""
    client.force_login(application.candidate.user)

    text = last_page_text(
        client,
        reverse("pieces:dossier_pdf", args=[application.public_id]),
        django_assert_num_queries,
        CANDIDATE_QUERIES,
    )

    assert CANDIDATE_NOTICE_FR in text
    assert "demandez-le à nouveau au candidat" not in text
    assert "Relevé de notes - releve.pdf" in text  # the piece's header line


def test_the_staffs_dossier_still_tells_them_to_ask_the_candidate(
    client, centre_manager, application, piece_gone, django_assert_num_queries
):
    client.force_login(centre_manager)

    text = last_page_text(
        client,
        reverse("pieces:staff_dossier_pdf", args=[application.public_id]),
        django_assert_num_queries,
        STAFF_QUERIES,
    )

    assert STAFF_NOTICE_FR in text
    assert "Relevé de notes - releve.pdf" in text
