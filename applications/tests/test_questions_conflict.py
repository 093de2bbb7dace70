"""A questions page read before someone else changed the answers (staff in the candidate's place, the candidate in
another tab): the save writes only what was changed on the page, and an answer changed both on the page and
meanwhile is refused as a conflict (``applications.concurrency``), the answers typed kept beside those stored now."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from accounts.tests.mfa import Client
from applications.concurrency import EditConflict
from applications.enums import PieceStatus
from applications.models import QuestionAnswer
from applications.questions import answers_version, question_rows
from applications.services.questions import answer_questions, enter_answers_for_candidate
from applications.tests.factories_candidature import ApplicationFactory, complete_candidate
from offers.models import Question
from offers.tests.factories import FormationFactory, make_question

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_pages_cache")]


@pytest.fixture
def formation(commission):
    return FormationFactory(centre=commission.centre, commission=commission)


@pytest.fixture
def project(formation):
    question = make_question("PROJET", candidate_label="Décrivez votre projet professionnel.", order=1)
    formation.questions.add(question)
    return question


@pytest.fixture
def sea(formation):
    question = make_question("EMBARQUE", kind=Question.Kind.BOOLEAN, candidate_label="Déjà embarqué ?", order=2)
    formation.questions.add(question)
    return question


@pytest.fixture
def applicant(campaign):
    return complete_candidate(user__campaign=campaign)


@pytest.fixture
def application(applicant, formation, project, sea):
    return ApplicationFactory(candidate=applicant, formation=formation)


@pytest.fixture
def owner(applicant):
    client = Client()
    client.language = "en"  # the pages are asserted in English (msgids)
    client.force_login(applicant.user)
    return client


@pytest.fixture
def staff(centre_manager):
    client = Client()
    client.language = "en"
    client.force_login(centre_manager)
    return client


def _candidate_url(application):
    return reverse("applications:questions", args=[application.public_id])


def _staff_url(application):
    return reverse("admin:applications_application_on_behalf_questions", args=[application.pk])


def _read_at(page):
    return page.context["form"]["read_at"].value()


def _values(application):
    return {row.question.code: (row.value, row.status) for row in question_rows(application)}


def test_a_stale_candidate_page_keeps_the_answer_staff_saved_meanwhile(
    owner, application, project, sea, centre_manager
):
    """Regression: the candidate's page, read before staff entered an answer in their place, wrote back the empty
    answer it showed: the staff's answer was erased, and the candidate told « Your answers have been saved »."""
    read_at = _read_at(owner.get(_candidate_url(application)))
    enter_answers_for_candidate(
        application=application, answers={project.pk: "Océanographe"}, not_concerned=(), actor=centre_manager
    )

    response = owner.post(
        _candidate_url(application), {f"question-{project.pk}": "", f"question-{sea.pk}": "O", "read_at": read_at}
    )

    assert response.status_code == 302
    assert _values(application) == {
        "PROJET": ("Océanographe", PieceStatus.SUBMITTED),
        "EMBARQUE": ("O", PieceStatus.SUBMITTED),
    }


def test_an_answer_changed_on_the_page_and_meanwhile_is_a_conflict_and_the_typed_answer_is_kept(
    owner, application, project, sea, centre_manager
):
    read_at = _read_at(owner.get(_candidate_url(application)))
    enter_answers_for_candidate(
        application=application, answers={project.pk: "Océanographe"}, not_concerned=(), actor=centre_manager
    )
    data = {f"question-{project.pk}": "Marin pêcheur", f"question-{sea.pk}": "N", "read_at": read_at}

    response = owner.post(_candidate_url(application), data)

    assert response.status_code == 200
    assertContains(response, "This section was changed by the admissions office (")
    assertContains(response, "Marin pêcheur</textarea>")  # what the candidate typed
    assertContains(response, "Answers saved now")
    assertContains(response, "<dd>Océanographe</dd>", html=False)
    assert _values(application) == {  # nothing written, not even the answer nobody else changed
        "PROJET": ("Océanographe", PieceStatus.SUBMITTED),
        "EMBARQUE": ("", PieceStatus.WAITING),
    }
    # The page now reads the current answers: saving again, after checking, saves.
    assert _read_at(response) == answers_version(question_rows(application, unlisted=False))
    again = owner.post(_candidate_url(application), {**data, "read_at": _read_at(response)})
    assert again.status_code == 302
    assert _values(application) == {
        "PROJET": ("Marin pêcheur", PieceStatus.SUBMITTED),
        "EMBARQUE": ("N", PieceStatus.SUBMITTED),
    }


def test_a_stale_staff_page_is_a_conflict_naming_the_candidate(staff, application, applicant, project, sea):
    read_at = _read_at(staff.get(_staff_url(application)))
    answer_questions(application=application, answers={project.pk: "Le mien"}, not_concerned=(), actor=applicant.user)

    response = staff.post(
        _staff_url(application), {f"question-{project.pk}": "Celui du dossier papier", "read_at": read_at}
    )

    assert response.status_code == 200
    assertContains(response, "This section was changed by the candidate")
    assertContains(response, "Celui du dossier papier</textarea>")
    assert QuestionAnswer.objects.get().answer == "Le mien"


def test_the_service_refuses_and_writes_nothing(application, applicant, project, sea, centre_manager):
    read_at = answers_version(question_rows(application, unlisted=False))
    answer_questions(application=application, answers={project.pk: "Avant"}, not_concerned=(), actor=applicant.user)

    with pytest.raises(EditConflict) as refused:
        enter_answers_for_candidate(
            application=application,
            answers={project.pk: "Après", sea.pk: "O"},
            not_concerned=(),
            actor=centre_manager,
            read_at=read_at,
        )

    assert (refused.value.changed_by, refused.value.changed_at) == (
        applicant.user,
        QuestionAnswer.objects.get().answered_at,
    )
    assert list(QuestionAnswer.objects.values_list("answer", flat=True)) == ["Avant"]


# "²" is a digit to str.isdigit that int() refuses, and 5,000 digits are past int()'s limit: both were a 500.
@pytest.mark.parametrize("forged", ["", "garbage", "\x00", "x=y,,=,-1=z", "\u00b2=abc", "9" * 5000 + "=abc"])
def test_a_forged_version_writes_nothing_it_did_not_show(owner, application, project, forged):
    response = owner.post(_candidate_url(application), {f"question-{project.pk}": "Texte", "read_at": forged})

    assert response.status_code == 302
    assert not QuestionAnswer.objects.exists()
