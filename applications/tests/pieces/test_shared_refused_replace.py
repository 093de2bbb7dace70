"""A refused shared piece is replaced from the open application asking for it, even when a transmitted one shares it.

The candidate's M1BEE is « Incomplet »: staff refused the shared « Relevés de notes depuis le bac » and asked for
a new file (the mail and the recap: « remplacez les pièces justificatives refusées … puis transmettez de nouveau »),
while M1CHPS and M2ENER, already transmitted, ask for the same piece. The service accepts the new file (replacing a
refused piece stays open, ``services.pieces._check_not_held``), but the M1BEE page said the piece « ne peut plus être
modifiée » and offered nothing: the candidate could neither replace it nor transmit. The page now offers the
« Remplacer » form there, as on a locked application (targeted correction); « - » stays off, as the service refuses
to take a held file off. A held piece that is not refused keeps its notice and offers nothing.
"""

import pytest
from django.urls import reverse

from applications.enums import DossierStatus, EventKind, PieceStatus
from applications.models import Application, ApplicationEvent, PieceSubmission
from applications.pieces import pieces_table_context
from applications.services import pieces as services
from applications.services import staff
from applications.tests.factories_candidature import application_of
from applications.tests.helpers import post_file, upload_pdf, upload_url
from documents.tests import hostile_files as hostile
from offers.tests.factories import FormationFactory, PieceTypeFactory

HELD_NOTICE = "Shared with an application already transmitted: this piece can no longer be changed."
# The pieces page of an application with a shared row, whether the piece is refused or not: session, user,
# application, submissions, the candidate's transmitted applications (``transmitted_sharers``); the piece types come
# from the "pages" cache, which ``table_context`` fills first.
PIECES_PAGE_QUERIES = 5


@pytest.fixture
def transcripts(db):
    """The institution's common piece, shared by all the candidate's applications."""
    return PieceTypeFactory(label="Relevés de notes depuis le bac", is_common=True, order=0)


@pytest.fixture
def m1bee(candidate_user, formation):
    return application_of(candidate_user, formation)


@pytest.fixture
def transmitted(candidate_user):
    """M1CHPS and M2ENER, transmitted: they ask for the shared piece too."""
    applications = [application_of(candidate_user, FormationFactory(title=title)) for title in ("M1CHPS", "M2ENER")]
    Application.objects.filter(pk__in=[a.pk for a in applications]).update(dossier_status=DossierStatus.RECEIVED)
    return applications


def table_context(application) -> dict:
    return pieces_table_context(Application.objects.select_related("formation").get(pk=application.pk))


def row_of(page: str, piece_type) -> str:
    return page[page.index(f'id="piece-{piece_type.pk}"') :].split("</tr>")[0]


def pieces_page(owner, application, django_assert_num_queries) -> str:
    with django_assert_num_queries(PIECES_PAGE_QUERIES):
        response = owner.get(reverse("pieces:pieces", args=[application.public_id]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_refused_shared_piece_is_replaced_from_the_incomplete_application_which_can_then_be_transmitted(
    owner, m1bee, transmitted, transcripts, centre_manager, django_assert_num_queries
):
    submission = upload_pdf(m1bee, transcripts)
    services.set_piece_status(
        submission=submission, status=PieceStatus.REFUSED, comment="Illisible", actor=centre_manager
    )
    staff.set_dossier_status(m1bee, target=DossierStatus.INCOMPLETE, actor=centre_manager)
    context = table_context(m1bee)
    assert context["can_change_pieces"]
    assert transcripts.pk in context["held_pieces"] & context["replaceable_pieces"]

    row = row_of(pieces_page(owner, m1bee, django_assert_num_queries), transcripts)

    assert f'action="{upload_url(m1bee, transcripts)}"' in row
    assert ">Replace<" in row
    assert HELD_NOTICE not in row
    # « - » would take the file off the transmitted dossiers too: the service refuses it, the page does not offer it.
    assert reverse("pieces:remove", args=[m1bee.public_id, transcripts.pk]) not in row
    assert "Illisible" in row
    recap = owner.get(reverse("applications:detail", args=[m1bee.public_id]))
    assert not recap.context["can_transmit"]
    assert [r.piece_type for r in recap.context["missing_pieces"]] == [transcripts]

    response = post_file(owner, m1bee, transcripts, hostile.valid_pdf_upload())

    assert response.status_code == 302
    submission = PieceSubmission.objects.get(piece_type=transcripts)
    assert (submission.application_id, submission.status, submission.comment) == (None, PieceStatus.SUBMITTED, "")
    # The one shared file: the transmitted applications read the new one too, and their history says so.
    for other in transmitted:
        assert ApplicationEvent.objects.filter(application=other, kind=EventKind.PIECE_UPLOADED).count() == 2
    recap = owner.get(reverse("applications:detail", args=[m1bee.public_id]))
    assert recap.context["can_transmit"]
    assert recap.context["missing_pieces"] == []

    assert owner.post(reverse("applications:transmit", args=[m1bee.public_id])).status_code == 302
    m1bee.refresh_from_db()
    assert m1bee.dossier_status == DossierStatus.RECEIVED


def test_a_shared_piece_that_is_not_refused_stays_held_on_the_open_application(
    owner, m1bee, transmitted, transcripts, django_assert_num_queries
):
    upload_pdf(m1bee, transcripts)
    Application.objects.filter(pk=m1bee.pk).update(dossier_status=DossierStatus.INCOMPLETE)
    context = table_context(m1bee)
    assert (context["can_change_pieces"], context["held_pieces"], context["replaceable_pieces"]) == (
        True,
        {transcripts.pk},
        set(),
    )

    row = row_of(pieces_page(owner, m1bee, django_assert_num_queries), transcripts)

    assert HELD_NOTICE in row
    assert upload_url(m1bee, transcripts) not in row
    assert reverse("pieces:remove", args=[m1bee.public_id, transcripts.pk]) not in row
    assert ">Replace<" not in row
