"""Pieces and questions kept for one type de traitement (eCandidat 2.3.0, ``cod_typ_trait``): requested only from the
applications of that type; a change of type changes the list; a piece already filled stays listed; an upload of a
piece not requested is refused; transmission ignores what is not requested."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from applications.enums import PieceStatus
from applications.pieces import blocking_pieces, piece_rows
from applications.questions import listed_questions
from applications.services import pieces as piece_services
from applications.services import staff
from applications.services.candidature import transmit_refusal
from applications.tests.factories_candidature import ApplicationFactory, PieceSubmissionFactory, complete_candidate
from ecandidat.exceptions import BusinessRuleError
from ecandidat.tests.plugins.browser import pdf_bytes
from offers.enums import TreatmentType
from offers.models import Question
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def formation(commission):
    return FormationFactory(centre=commission.centre, commission=commission)


@pytest.fixture
def application(campaign, formation):
    return ApplicationFactory(candidate=complete_candidate(user__campaign=campaign), formation=formation)


@pytest.fixture
def for_controlled(formation):
    piece = PieceTypeFactory(
        code="ENTRETIEN", label="Lettre pour l'entretien", treatment_type=TreatmentType.CONTROLLED
    )
    formation.piece_types.add(piece)
    return piece


@pytest.fixture
def for_everyone(formation):
    piece = PieceTypeFactory(code="CV", label="CV")
    formation.piece_types.add(piece)
    return piece


def _codes(application):
    return [row.piece_type.code for row in piece_rows(application)]


def test_a_piece_kept_for_a_type_is_requested_from_that_type_only(application, for_controlled, for_everyone):
    assert application.treatment_type == TreatmentType.CONTROLLED
    assert _codes(application) == ["ENTRETIEN", "CV"]

    application.treatment_type = TreatmentType.WAITING
    assert _codes(application) == ["CV"]
    assert [row.piece_type.code for row in blocking_pieces(application)] == ["CV"]


def test_a_change_of_type_changes_the_list_and_what_blocks_transmission(
    application, for_controlled, for_everyone, centre_manager
):
    PieceSubmissionFactory(application=application, piece_type=for_everyone, status=PieceStatus.SUBMITTED)
    assert "Lettre pour l'entretien" in transmit_refusal(application)

    staff.set_treatment_type(
        application, treatment_type=TreatmentType.WAITING, reason="Dossier à revoir", actor=centre_manager
    )

    application.refresh_from_db()
    assert transmit_refusal(application) == ""


def test_a_piece_filled_before_the_change_stays_listed(application, for_controlled, centre_manager):
    PieceSubmissionFactory(application=application, piece_type=for_controlled, status=PieceStatus.SUBMITTED)

    staff.set_treatment_type(
        application, treatment_type=TreatmentType.WAITING, reason="Dossier à revoir", actor=centre_manager
    )

    application.refresh_from_db()
    assert _codes(application) == ["ENTRETIEN"]
    assert blocking_pieces(application) == []


def test_an_upload_of_a_piece_kept_for_another_type_is_refused(application, for_controlled):
    application.treatment_type = TreatmentType.WAITING
    application.save(update_fields=["treatment_type"])

    with pytest.raises(BusinessRuleError, match="not requested"):
        piece_services.upload_piece(
            application=application,
            piece_type=for_controlled,
            uploaded_file=SimpleUploadedFile("lettre.pdf", pdf_bytes("Lettre"), content_type="application/pdf"),
            actor=application.candidate.user,
        )


def test_the_recap_follows_the_type(client, application, for_controlled, for_everyone):
    client.force_login(application.candidate.user)
    url = reverse("applications:detail", args=[application.public_id])

    assertContains(client.get(url), "Lettre pour l&#x27;entretien")

    application.treatment_type = TreatmentType.WAITING
    application.save(update_fields=["treatment_type"])
    assertNotContains(client.get(url), "Lettre pour l&#x27;entretien")  # the cached list is the formation's, filtered


def test_a_question_kept_for_a_type_is_asked_from_that_type_only(application, formation):
    kept = Question.objects.create(
        code="ENT", label="Entretien", candidate_label="Disponible pour un entretien ?", treatment_type="AC"
    )
    open_to_all = Question.objects.create(code="TOUS", label="Tous", candidate_label="Question pour tous ?")
    formation.questions.add(kept, open_to_all)

    assert [q.code for q in listed_questions(application)] == ["ENT", "TOUS"]
    assert [q.code for q in listed_questions(application, cached=True)] == ["ENT", "TOUS"]
    application.treatment_type = TreatmentType.WAITING
    assert [q.code for q in listed_questions(application)] == ["TOUS"]
    assert [q.code for q in listed_questions(application, cached=True)] == ["TOUS"]


def test_a_refused_piece_no_longer_requested_after_a_change_of_type_does_not_block(
    application, for_controlled, centre_manager
):
    PieceSubmissionFactory(application=application, piece_type=for_controlled, status=PieceStatus.REFUSED)
    staff.set_treatment_type(
        application, treatment_type=TreatmentType.WAITING, reason="Dossier à revoir", actor=centre_manager
    )

    application.refresh_from_db()
    [row] = piece_rows(application)
    assert (row.piece_type.code, row.requested, row.is_blocking) == ("ENTRETIEN", False, False)
    assert transmit_refusal(application) == ""
