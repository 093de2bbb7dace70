"""Piece uploads in maintenance (eCandidat TECH_IS_DEMAT_MAINTENANCE, ecandidat-features §1.7): while the central
office has the switch on, candidates still read and fill their dossier, but every upload, replacement and removal of
a file is refused with the message in the piece's row, and nothing is stored; staff uploads go on."""

import json

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from applications.enums import PieceStatus
from applications.models import PieceSubmission
from applications.tests.helpers import post_file, upload_url
from documents.models import Document
from documents.tests import hostile_files as hostile
from documents.tests.storage import stored_files
from ecandidat.maintenance import set_uploads_switch

MESSAGE = "Stockage des fichiers en maintenance jusqu'à 14h."
# The central office's own words apart, marked French (RGAA 8.7): the message is HTML, escaped but for its span.
REFUSAL = (
    "Lettre de motivation: The supporting documents are in maintenance: nothing was changed. Please try again "
    'later. <span lang="fr">Stockage des fichiers en maintenance jusqu&#x27;à 14h.</span>'
)


def messages_of(response) -> list[tuple[str, str]]:
    return [(str(m), m.extra_tags) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def paused(central_manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the switch is published when its save commits
        set_uploads_switch(paused=True, message=MESSAGE, actor=central_manager)


def test_an_upload_is_refused_in_the_pieces_row_and_nothing_is_stored(
    owner, application, piece, paused, django_assert_num_queries
):
    # session, user (the candidate's account), their application, the piece type; nothing else: the switch is read
    # from memory and the message goes in its cookie
    with django_assert_num_queries(4):
        response = post_file(owner, application, piece, hostile.valid_pdf_upload())

    assert response.status_code == 302
    assert response["Location"].endswith(f"#piece-{piece.pk}")
    page = owner.get(response["Location"])
    assert messages_of(page) == [(REFUSAL, f"piece-{piece.pk}")]
    assertContains(page, f'<p class="pieces__status--error">{REFUSAL}</p>', html=False)
    assert not Document.objects.exists()
    assert not PieceSubmission.objects.exists()
    assert stored_files() == []


def test_the_upload_script_gets_the_page_to_read_the_refusal_on(owner, application, piece, paused):
    response = owner.post(
        upload_url(application, piece), {"file": hostile.valid_pdf_upload()}, HTTP_X_UPLOAD_PROGRESS="1"
    )

    location = json.loads(response.content)["location"]
    assert [text for text, _tag in messages_of(owner.get(location))] == [REFUSAL]
    assert stored_files() == []


def test_a_refused_piece_cannot_be_replaced_nor_a_file_removed(
    owner, application, piece, candidate_user, central_manager, django_capture_on_commit_callbacks
):
    post_file(owner, application, piece, hostile.valid_pdf_upload())
    submission = PieceSubmission.objects.get()
    stored = stored_files()
    set_uploads_switch(paused=True, message=MESSAGE, actor=central_manager)

    with django_capture_on_commit_callbacks(execute=True):
        removal = owner.post(reverse("pieces:remove", args=[application.public_id, piece.pk]))
    PieceSubmission.objects.filter(pk=submission.pk).update(status=PieceStatus.REFUSED)
    replacement = post_file(owner, application, piece, hostile.valid_pdf_upload("nouveau.pdf"))

    assert removal.status_code == replacement.status_code == 302
    assertContains(owner.get(removal["Location"]), f'<p class="pieces__status--error">{REFUSAL}</p>', html=False)
    submission.refresh_from_db()
    assert (submission.document_id, submission.status) == (Document.objects.get().pk, PieceStatus.REFUSED)
    assert stored_files() == stored
    assert default_storage.exists(stored[0])


def test_the_pieces_page_says_so_and_the_dossier_stays_open(owner, application, piece, paused):
    pieces = owner.get(reverse("pieces:pieces", args=[application.public_id]))
    recap = owner.get(reverse("applications:detail", args=[application.public_id]))
    dossier = owner.get(reverse("applications:personal_details"))

    for page in (pieces, recap):
        assertContains(page, "Supporting documents in maintenance")
        # The central office's own words, in French on an English page: marked so (RGAA 8.7).
        assertContains(page, '<p lang="fr">Stockage des fichiers en maintenance jusqu&#x27;à 14h.</p>', html=False)
    assert dossier.status_code == 200


def test_no_banner_while_the_uploads_are_open(owner, application, piece):
    page = owner.get(reverse("pieces:pieces", args=[application.public_id]))

    assertNotContains(page, "Supporting documents in maintenance")


def test_declaring_a_piece_not_concerned_touches_no_file_and_still_works(
    owner, application, conditional_piece, paused
):
    owner.post(reverse("pieces:not_concerned", args=[application.public_id, conditional_piece.pk]))

    assert PieceSubmission.objects.get().status == PieceStatus.NOT_CONCERNED


def test_staff_uploads_are_not_blocked(client, centre_manager, application, piece, paused):
    client.force_login(centre_manager)

    response = client.post(
        reverse("pieces:staff_upload", args=[application.public_id, piece.pk]), {"file": hostile.valid_pdf_upload()}
    )

    assert response.status_code == 302
    assert PieceSubmission.objects.get().status == PieceStatus.SUBMITTED
    assert len(stored_files()) == 1


def test_uploads_work_again_once_the_switch_is_off(owner, application, piece, paused, central_manager):
    set_uploads_switch(paused=False, actor=central_manager)

    post_file(owner, application, piece, hostile.valid_pdf_upload())

    assert PieceSubmission.objects.get().status == PieceStatus.SUBMITTED
    assert len(stored_files()) == 1
