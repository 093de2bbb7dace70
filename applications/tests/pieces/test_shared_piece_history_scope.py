"""A shared piece's history goes to the applications that ask for it, not to every live application of the candidate.

A centre's common piece (shared, not unique: e.g. a disability certificate of centre Y) is asked for by the
formations of centre Y only (``applicable_piece_types``). Its upload, its check by centre Y's manager (with the
comment) and its quarantine were written in the history of every live application of the candidate, and so read by
centre X's staff on their review page, comment and manager's username included. An institution-wide common piece
is still in the history of each application.
"""

import pytest

from applications.enums import EventKind, PieceStatus
from applications.history import live_applications_asking_for
from applications.models import ApplicationEvent
from applications.pieces import listed_piece_types
from applications.services import pieces as services
from applications.tests.factories_candidature import application_of
from applications.tests.helpers import REVIEW_PAGE_QUERIES, change_url, upload_pdf
from documents.enums import ScanStatus
from documents.models import Document
from documents.tests import hostile_files as hostile
from documents.tests.clamd_peer import SIGNATURE, ClamdPeer
from offers.tests.factories import FormationFactory, PieceTypeFactory

COMMENT = "taux d'incapacite illisible"


@pytest.fixture
def centre_y_application(candidate_user, other_centre):
    """The candidate's application to a formation of centre Y (``other_centre``, managed by ``other_centre_manager``);
    ``application`` is theirs to centre X (``centre``, ``centre_manager``)."""
    return application_of(candidate_user, FormationFactory(centre=other_centre))


@pytest.fixture
def centre_y_piece(other_centre):
    """A common piece of centre Y, shared by the candidate's applications that ask for it."""
    return PieceTypeFactory(label="Attestation de handicap", is_common=True, is_unique=False, centre=other_centre)


def history(application) -> list[tuple[str, str]]:
    return list(ApplicationEvent.objects.filter(application=application).order_by("id").values_list("kind", "comment"))


def refuse(submission, actor):
    return services.set_piece_status(submission=submission, status=PieceStatus.REFUSED, comment=COMMENT, actor=actor)


def test_a_centre_piece_refused_by_its_manager_is_only_in_the_history_of_that_centre(
    client,
    django_assert_num_queries,
    application,
    centre_y_application,
    centre_y_piece,
    centre_manager,
    other_centre_manager,
):
    submission = upload_pdf(centre_y_application, centre_y_piece)
    assert submission.application_id is None  # shared: the candidate's one file for every application asking for it

    refuse(submission, other_centre_manager)

    code = centre_y_piece.code
    assert history(centre_y_application)[-2:] == [
        (EventKind.PIECE_UPLOADED, code),
        (EventKind.PIECE_STATUS, f"{code}: {COMMENT}"),
    ]
    assert not ApplicationEvent.objects.filter(application=application, comment__startswith=code).exists()

    # Centre Y's manager reads the refusal on their application (the words the other page must not hold)…
    client.force_login(other_centre_manager)
    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        page_y = client.get(change_url(centre_y_application)).content.decode()
    assert "incapacite illisible" in page_y
    assert "autre.gestionnaire" in page_y
    # … centre X's manager reads neither the comment nor who wrote it.
    client.force_login(centre_manager)
    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        page_x = client.get(change_url(application)).content.decode()
    assert "incapacite illisible" not in page_x
    assert "autre.gestionnaire" not in page_x
    assert "Attestation de handicap" not in page_x


def test_a_centre_piece_declared_not_concerned_or_removed_stays_in_its_centre(
    application, centre_y_application, other_centre
):
    conditional = PieceTypeFactory(
        label="Attestation de bourse Y", is_common=True, is_conditional=True, centre=other_centre
    )
    actor = centre_y_application.created_by

    services.declare_not_concerned(application=centre_y_application, piece_type=conditional, actor=actor)
    services.declare_concerned(application=centre_y_application, piece_type=conditional, actor=actor)
    upload_pdf(centre_y_application, conditional)
    services.remove_piece(application=centre_y_application, piece_type=conditional, actor=actor)

    assert [kind for kind, _comment in history(centre_y_application)][-4:] == [
        EventKind.PIECE_NOT_CONCERNED,
        EventKind.PIECE_CONCERNED,
        EventKind.PIECE_UPLOADED,
        EventKind.PIECE_REMOVED,
    ]
    assert not ApplicationEvent.objects.filter(application=application, comment__startswith=conditional.code).exists()


def test_an_institution_piece_is_still_in_the_history_of_each_application(
    application, centre_y_application, shared_piece, other_centre_manager
):
    refuse(upload_pdf(centre_y_application, shared_piece), other_centre_manager)

    for each in (application, centre_y_application):
        assert history(each)[-2:] == [
            (EventKind.PIECE_UPLOADED, shared_piece.code),
            (EventKind.PIECE_STATUS, f"{shared_piece.code}: {COMMENT}"),
        ]


def test_a_cancelled_application_gets_no_row(candidate_user, application, shared_piece):
    cancelled = application_of(candidate_user, FormationFactory(centre=application.formation.centre))
    cancelled.cancelled_at = cancelled.created_at
    cancelled.save(update_fields=["cancelled_at"])

    upload_pdf(application, shared_piece)

    assert not ApplicationEvent.objects.filter(application=cancelled, kind=EventKind.PIECE_UPLOADED).exists()


def test_the_applications_asking_for_a_piece_are_those_that_list_it_in_one_query(
    candidate_user, application, centre_y_application, centre_y_piece, shared_piece, piece, django_assert_num_queries
):
    """The rule of ``applicable_piece_types`` (which pieces an application lists), read from the piece's side; one
    query whatever the number of applications."""
    centre_x_piece = PieceTypeFactory(label="Attestation X", is_common=True, centre=application.formation.centre)
    out_of_service = PieceTypeFactory(label="Ancienne attestation Y", is_common=True, centre=centre_y_piece.centre)
    out_of_service.in_service = False
    out_of_service.save(update_fields=["in_service"])
    more = [application_of(candidate_user, FormationFactory(centre=application.formation.centre)) for _ in range(3)]
    applications = [application, centre_y_application, *more]

    for piece_type in (centre_y_piece, centre_x_piece, shared_piece, piece, out_of_service):
        with django_assert_num_queries(1):
            asking = live_applications_asking_for(application.candidate_id, piece_type)
        listing = [each.pk for each in applications if piece_type in listed_piece_types(each)]
        assert sorted(asking) == sorted(listing), piece_type.label

    assert live_applications_asking_for(application.candidate_id, centre_y_piece) == [centre_y_application.pk]


# --- the antivirus ----------------------------------------------------------------------------------------------


@pytest.fixture
def peer(settings):
    peer = ClamdPeer()
    settings.CLAMD_ADDRESS = peer.address
    yield peer
    peer.close()


def test_a_quarantined_centre_piece_is_only_in_the_history_of_that_centre(
    peer, application, centre_y_application, centre_y_piece, django_capture_on_commit_callbacks
):
    eicar = hostile.build_pdf([hostile.CATALOG, hostile.PAGES, hostile.PAGE], comment=hostile.EICAR)
    with django_capture_on_commit_callbacks(execute=True):  # the scan task runs after the commit
        services.upload_piece(
            application=centre_y_application,
            piece_type=centre_y_piece,
            uploaded_file=hostile.upload("piece.pdf", eicar),
            actor=centre_y_application.created_by,
        )

    assert Document.objects.get().scan_status == ScanStatus.INFECTED
    events = ApplicationEvent.objects.filter(kind=EventKind.PIECE_QUARANTINED)
    assert [(event.application_id, event.comment) for event in events] == [
        (centre_y_application.pk, f"{centre_y_piece.code}: {SIGNATURE}")
    ]
