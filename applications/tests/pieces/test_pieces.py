import pytest
from django.core.files.base import ContentFile

from applications.enums import PieceStatus
from applications.models import PieceSubmission
from applications.pieces import blocking_pieces, piece_rows
from applications.tests.factories_candidature import application_of
from documents.models import Document
from offers.tests.factories import CentreFactory, FormationFactory, PieceTypeFactory


def submit(application, piece_type, *, status=PieceStatus.SUBMITTED, shared=False) -> PieceSubmission:
    document = None
    if status in (PieceStatus.SUBMITTED, PieceStatus.VALIDATED, PieceStatus.REFUSED):
        document = Document.objects.create(
            campaign_code="C",
            file=ContentFile(b"%PDF-1.4", name="x.pdf"),
            original_name="x.pdf",
            size=8,
            content_type="application/pdf",
            sha256="0" * 64,
            uploaded_by=application.created_by,
        )
    return PieceSubmission.objects.create(
        candidate=application.candidate,
        piece_type=piece_type,
        application=None if shared else application,
        status=status,
        document=document,
    )


def test_pieces_are_institution_common_then_centre_common_then_formation_in_order(application, formation):
    institution = PieceTypeFactory(is_common=True, label="Pièce d'identité", order=3)
    centre_piece = PieceTypeFactory(is_common=True, centre=formation.centre, label="CV", order=1)
    other_centre_piece = PieceTypeFactory(is_common=True, centre=CentreFactory(), order=0)
    own = PieceTypeFactory(label="Lettre de motivation", order=2)
    other_formation_piece = PieceTypeFactory(order=0)
    formation.piece_types.add(own)
    FormationFactory().piece_types.add(other_formation_piece)
    PieceTypeFactory(is_common=True, in_service=False, order=0)

    rows = piece_rows(application)

    assert [row.piece_type for row in rows] == [centre_piece, own, institution]
    assert other_centre_piece not in [row.piece_type for row in rows]
    assert [row.status for row in rows] == [PieceStatus.WAITING] * 3
    assert [row.is_shared for row in rows] == [True, False, True]


def test_unique_common_piece_is_per_application(application):
    piece = PieceTypeFactory(is_common=True, is_unique=True)

    (row,) = piece_rows(application)

    assert row.piece_type == piece
    assert not row.is_shared


def test_shared_piece_submission_appears_on_every_application_of_the_candidate(
    candidate_user, application, shared_piece
):
    second = application_of(candidate_user, FormationFactory())
    submit(application, shared_piece, shared=True)

    assert [row.status for row in piece_rows(second)] == [PieceStatus.SUBMITTED]
    assert piece_rows(second)[0].submission.application_id is None


def test_filled_piece_taken_out_of_service_stays_listed_and_empty_one_disappears(application, formation):
    filled = PieceTypeFactory(order=1)
    empty = PieceTypeFactory(order=2)
    formation.piece_types.add(filled, empty)
    submit(application, filled, status=PieceStatus.VALIDATED)
    PieceTypeFactory._meta.model.objects.filter(pk__in=[filled.pk, empty.pk]).update(in_service=False)

    assert [row.piece_type for row in piece_rows(application)] == [filled]


@pytest.mark.parametrize("for_staff", [True, False])  # candidate pages do not join the piece types
def test_filled_piece_detached_from_the_formation_stays_listed(application, formation, piece, for_staff):
    submit(application, piece, status=PieceStatus.REFUSED)
    formation.piece_types.remove(piece)

    rows = piece_rows(application, for_staff=for_staff)

    assert [(row.piece_type, row.status) for row in rows] == [(piece, PieceStatus.REFUSED)]
    assert rows[0].submission.piece_type == piece


def test_other_candidate_submission_is_not_shown(application, other_application, piece, shared_piece):
    submit(other_application, piece)
    submit(other_application, shared_piece, shared=True)

    assert {row.status for row in piece_rows(application)} == {PieceStatus.WAITING}


def test_blocking_pieces_are_waiting_and_refused_only(application, formation):
    pieces = [PieceTypeFactory(order=n, is_conditional=True) for n in range(5)]
    formation.piece_types.add(*pieces)
    submit(application, pieces[1], status=PieceStatus.SUBMITTED)
    submit(application, pieces[2], status=PieceStatus.VALIDATED)
    submit(application, pieces[3], status=PieceStatus.REFUSED)
    submit(application, pieces[4], status=PieceStatus.NOT_CONCERNED)

    assert [row.piece_type for row in blocking_pieces(application)] == [pieces[0], pieces[3]]


def test_piece_rows_query_count_does_not_grow_with_pieces(application, formation, django_assert_num_queries):
    def add_pieces(count, offset):
        for n in range(count):
            common = PieceTypeFactory(is_common=True, order=offset + n)
            own = PieceTypeFactory(order=offset + n)
            formation.piece_types.add(own)
            submit(application, common, shared=True)
            submit(application, own, status=PieceStatus.REFUSED)

    add_pieces(1, 0)
    with django_assert_num_queries(2):
        rows = [(row.document.original_name, row.comment, row.piece_type.label) for row in piece_rows(application)]
    assert len(rows) == 2

    add_pieces(19, 1)
    with django_assert_num_queries(2):
        rows = [(row.document.original_name, row.comment, row.piece_type.label) for row in piece_rows(application)]
    assert len(rows) == 40
