"""A candidate's shared pieces (common, not unique: ``PieceSubmission.application`` empty) reach the staff of an
application only when that application asks for the piece's type (``applications.pieces.applicable_piece_types``):
another centre's common piece of the same candidate is not this centre's to check, preview or download, even through
the candidate's application here (outsiders: 404). Also: the candidates' autocomplete answers in a fixed order."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from applications.enums import PieceStatus
from applications.models import PieceSubmission
from applications.tests.factories import CandidateFactory
from applications.tests.factories_candidature import PieceSubmissionFactory, application_of
from documents.tests import hostile_files
from offers.tests.factories import FormationFactory, PieceTypeFactory

PNG_BYTES = hostile_files.png_bytes((64, 48))


def shared_piece(candidate, piece_type) -> PieceSubmission:
    """The candidate's shared submission of ``piece_type``, its file a PNG in the default storage (previewable)."""
    submission = PieceSubmissionFactory.create(application=None, candidate=candidate, piece_type=piece_type)
    document = submission.document
    document.file = default_storage.save("C/shared.png", ContentFile(PNG_BYTES))
    document.content_type = "image/png"
    document.save()
    return submission


@pytest.fixture
def applications(candidate_user, centre, commission, other_centre):
    """The candidate's application to a formation of ``centre`` (A) and to one of ``other_centre`` (B)."""
    in_a = application_of(candidate_user, FormationFactory(centre=centre, commission=commission))
    in_b = application_of(candidate_user, FormationFactory(centre=other_centre))
    return in_a, in_b


@pytest.fixture
def b_common_piece(applications, other_centre):
    """Centre B's common piece, shared by the candidate's applications (only B's application asks for it)."""
    piece_type = PieceTypeFactory(label="Attestation B", is_common=True, is_unique=False, centre=other_centre)
    return shared_piece(applications[0].candidate, piece_type)


@pytest.fixture
def institution_piece(applications):
    """An institution-wide common piece, shared: both applications ask for it."""
    piece_type = PieceTypeFactory(label="Pièce d'identité", is_common=True, is_unique=False)
    return shared_piece(applications[0].candidate, piece_type)


def check_url(application, submission):
    return reverse("admin:applications_application_piece_check", args=[application.pk, submission.public_id])


def preview_url(application, submission):
    return reverse("admin:applications_application_piece_preview", args=[application.pk, submission.public_id])


def download_url(submission):
    return reverse("pieces:staff_download", args=[submission.public_id])


def test_another_centres_shared_piece_is_not_found_through_this_centres_application(
    client, centre_manager, applications, b_common_piece
):
    """The reviewer's proof: centre A's manager checked (refused, with A's comment) and downloaded centre B's
    common piece of the candidate through the candidate's centre-A application. Now a 404, and nothing changes."""
    in_a, _ = applications
    client.force_login(centre_manager)

    response = client.post(check_url(in_a, b_common_piece), {"status": PieceStatus.REFUSED, "comment": "Illisible"})

    assert response.status_code == 404
    b_common_piece.refresh_from_db()
    assert (b_common_piece.status, b_common_piece.comment) == (PieceStatus.SUBMITTED, "")
    assert b_common_piece.status_changed_by_id is None
    assert client.get(preview_url(in_a, b_common_piece)).status_code == 404
    assert client.get(download_url(b_common_piece)).status_code == 404


def test_the_centre_whose_application_asks_for_the_shared_piece_still_checks_it(
    client, other_centre_manager, applications, b_common_piece
):
    _, in_b = applications
    client.force_login(other_centre_manager)

    assert client.get(preview_url(in_b, b_common_piece)).status_code == 200
    assert client.get(download_url(b_common_piece)).status_code == 200
    response = client.post(check_url(in_b, b_common_piece), {"status": PieceStatus.REFUSED, "comment": "Illisible"})

    assert response.status_code == 302
    b_common_piece.refresh_from_db()
    assert (b_common_piece.status, b_common_piece.comment) == (PieceStatus.REFUSED, "Illisible")


@pytest.mark.parametrize("manager", ["centre_manager", "other_centre_manager"])
def test_an_institution_wide_shared_piece_is_every_applications_staffs(
    request, client, manager, applications, institution_piece
):
    application = applications[0] if manager == "centre_manager" else applications[1]
    client.force_login(request.getfixturevalue(manager))

    assert client.get(preview_url(application, institution_piece)).status_code == 200
    assert client.get(download_url(institution_piece)).status_code == 200
    response = client.post(check_url(application, institution_piece), {"status": PieceStatus.VALIDATED})

    assert response.status_code == 302
    institution_piece.refresh_from_db()
    assert institution_piece.status == PieceStatus.VALIDATED


def test_visible_to_keeps_the_shared_pieces_an_application_the_user_sees_asks_for(
    django_assert_num_queries, centre, centre_manager, other_centre_manager, central_manager, applications
):
    """One query; per kind of piece type (``applicable_piece_types``): institution-wide, a centre's common piece,
    a formation's own piece kept shared (its "unique" flag changed after the file was sent)."""
    in_a, in_b = applications
    candidate = in_a.candidate
    institution = shared_piece(candidate, PieceTypeFactory(is_common=True))
    common_a = shared_piece(candidate, PieceTypeFactory(is_common=True, centre=centre))
    common_b = shared_piece(candidate, PieceTypeFactory(is_common=True, centre=in_b.formation.centre))
    own_type_b = PieceTypeFactory()
    in_b.formation.piece_types.add(own_type_b)
    formation_b = shared_piece(candidate, own_type_b)
    # A common piece of a centre where the candidate applied nowhere: nobody's but the central office's scope…
    elsewhere = shared_piece(candidate, PieceTypeFactory(is_common=True, centre=FormationFactory().centre))
    for user in (centre_manager, other_centre_manager, central_manager):
        user.staff_scope  # noqa: B018  (computed once per user object, as in a request)

    with django_assert_num_queries(1):
        seen_by_a = set(PieceSubmission.objects.visible_to(centre_manager))

    assert seen_by_a == {institution, common_a}
    assert set(PieceSubmission.objects.visible_to(other_centre_manager)) == {institution, common_b, formation_b}
    # …and not even theirs: no application of the candidate asks for it.
    assert elsewhere not in set(PieceSubmission.objects.visible_to(central_manager))


# --- the candidates' autocomplete ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["central_manager", "candidates_manager"])
def test_the_candidates_autocomplete_answers_in_the_order_of_the_names(request, client, campaign, persona):
    """``?app_label=applications&model_name=address&field_name=candidate`` paged an unordered queryset: Django's
    ``UnorderedObjectListWarning`` (an error under the tests' warnings filter, a page order that changes in
    production). Now by name, then id."""
    for birth_name, first_name in [("MARTIN", "Zoé"), ("DURAND", "Luc"), ("MARTIN", "Anne")]:
        CandidateFactory(user__campaign=campaign, birth_name=birth_name, first_name=first_name)
    client.force_login(request.getfixturevalue(persona))

    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "applications", "model_name": "address", "field_name": "candidate"},
    )

    assert response.status_code == 200
    names = [row["text"] for row in response.json()["results"]]
    assert names == ["DURAND Luc", "MARTIN Anne", "MARTIN Zoé"]
