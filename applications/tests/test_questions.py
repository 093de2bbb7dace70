"""Complementary questions (eCandidat "Questions complémentaires", §1.8): which questions an application asks, the
candidate's page to answer them (Yes/No, text, "Non concerné"), the rules (locked after transmission, 1000
characters, hostile input), transmission blocked until every question is answered, and where staff read the answers
(reading page, dossier PDF, export); personas and query counts."""

import io

import pytest
from django.core.cache import caches
from django.urls import reverse
from django.utils import translation
from pypdf import PdfReader
from pytest_django.asserts import assertContains, assertNotContains

from applications.dossier_pdf import build_dossier_pdf
from applications.enums import DossierStatus, EventKind, PieceStatus
from applications.export_columns import export_rows
from applications.models import Application, QuestionAnswer
from applications.questions import listed_questions, question_rows
from applications.services.candidature import transmit_application
from applications.services.questions import answer_questions
from applications.tests.factories_candidature import ApplicationFactory, complete_candidate
from ecandidat.exceptions import BusinessRuleError, FieldRuleError, InvalidTransition
from offers.models import Question
from offers.tests.factories import CentreFactory, FormationFactory, make_question

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_pages_cache")]


@pytest.fixture
def formation(commission):
    return FormationFactory(centre=commission.centre, commission=commission, title="MASTER 1 - SCIENCES DE LA MER")


@pytest.fixture
def project(formation):
    question = make_question("PROJET", candidate_label="Décrivez votre projet professionnel.", order=1)
    formation.questions.add(question)
    return question


@pytest.fixture
def sea(formation):
    question = make_question(
        "EMBARQUE", kind=Question.Kind.BOOLEAN, candidate_label="Déjà embarqué ?", is_conditional=True, order=2
    )
    formation.questions.add(question)
    return question


@pytest.fixture
def applicant(campaign):
    return complete_candidate(user__campaign=campaign)


@pytest.fixture
def application(applicant, formation):
    return ApplicationFactory(candidate=applicant, formation=formation)


@pytest.fixture
def owner(client, applicant):
    client.force_login(applicant.user)
    return client


def _url(name, application):
    return reverse(f"applications:{name}", args=[application.public_id])


def _post(owner, application, data):
    return owner.post(_url("questions", application), data)


# --- Which questions ----------------------------------------------------------------------------------------------


def test_an_application_asks_its_formations_and_the_common_questions_in_order(application, formation, project, sea):
    institution = make_question("CHARTE", is_common=True, order=0)
    centre = make_question("CENTRE", is_common=True, centre=formation.centre, order=3)
    make_question("AILLEURS", is_common=True, centre=CentreFactory(code="OTHER"))
    make_question("HORS", is_common=True, in_service=False)
    FormationFactory(code="AUTRE").questions.add(make_question("AUTRE"))

    assert [q.code for q in listed_questions(application)] == [institution.code, project.code, sea.code, centre.code]


def test_a_question_on_a_centre_must_be_common():
    with pytest.raises(Exception, match="question_centre_only_for_common"):
        make_question("X", centre=CentreFactory(code="C9"))


# --- The recap ----------------------------------------------------------------------------------------------------


def test_recap_lists_the_questions_and_blocks_transmission(owner, application, project, sea):
    response = owner.get(_url("detail", application))

    assertContains(response, '<a href="#questions">Complementary questions</a>', html=True)
    assertContains(response, "Décrivez votre projet professionnel.")
    assertContains(response, "If the button is not green, a complementary question has no answer")
    assertContains(
        response, '<button type="button" class="button" disabled>Transmit my application</button>', html=True
    )
    assertContains(response, f'href="{_url("questions", application)}"')


def test_recap_without_questions_says_nothing_of_them(owner, application):
    response = owner.get(_url("detail", application))

    assertNotContains(response, "Complementary questions")


def test_recap_reads_the_questions_from_the_cache(owner, application, project, django_assert_num_queries):
    owner.get(_url("detail", application))

    with django_assert_num_queries(6):  # one fewer than the first time: the questions come from the cache
        owner.get(_url("detail", application))


def test_a_question_added_shows_once_the_change_commits(
    owner, application, formation, django_capture_on_commit_callbacks
):
    owner.get(_url("detail", application))  # caches "no question"
    with django_capture_on_commit_callbacks(execute=True):
        formation.questions.add(make_question("NOUVELLE", candidate_label="Nouvelle question ?"))

    assertContains(owner.get(_url("detail", application)), "Nouvelle question ?")


# --- Answering ----------------------------------------------------------------------------------------------------


def test_the_page_shows_each_question_with_its_control(owner, application, project, sea, django_assert_num_queries):
    with django_assert_num_queries(7):  # session, account, savepoint pair, the application, questions, answers
        response = owner.get(_url("questions", application))

    assertContains(response, f'<textarea name="question-{project.pk}"', count=1)
    assertContains(response, f'name="question-{sea.pk}" value="O"')
    assertContains(response, f'name="question-{sea.pk}" value="NC"')  # conditional: "Non concerné" among the radios
    assertNotContains(response, f'name="question-{project.pk}-nc"')  # not conditional


def test_answers_are_saved_with_their_history_then_transmission_is_possible(
    owner, application, project, sea, applicant
):
    response = _post(
        owner, application, {f"question-{project.pk}": "  Océanographe.  ", f"question-{sea.pk}-nc": "on"}
    )

    assert response.status_code == 302
    assert response["Location"].endswith("#questions")
    answers = {a.question_id: a for a in QuestionAnswer.objects.all()}
    assert (answers[project.pk].answer, answers[project.pk].status) == ("Océanographe.", PieceStatus.SUBMITTED)
    assert answers[sea.pk].status == PieceStatus.NOT_CONCERNED
    assert answers[project.pk].answered_by == applicant.user
    event = application.events.get(kind=EventKind.QUESTIONS_ANSWERED)
    assert (event.actor, event.comment) == (applicant.user, "2 réponses modifiées")

    recap = owner.get(_url("detail", application))
    assertContains(recap, "Océanographe.")
    assertContains(
        recap,
        f'<a class="button button--success" href="{_url("transmit", application)}">Transmit my application</a>',
        html=True,
    )


def test_a_yes_no_answer_reads_yes_or_no(owner, application, sea):
    _post(owner, application, {f"question-{sea.pk}": "N"})

    assertContains(
        owner.get(_url("detail", application)), '<td role="cell" data-label="Answer" class="questions__answer">No</td>'
    )


def test_unchanged_answers_write_nothing(owner, application, project):
    _post(owner, application, {f"question-{project.pk}": "Texte"})
    response = _post(owner, application, {f"question-{project.pk}": "Texte"})

    assert response.status_code == 302
    assert application.events.filter(kind=EventKind.QUESTIONS_ANSWERED).count() == 1


def test_answering_and_declaring_not_concerned_is_refused_next_to_the_box(owner, application, formation):
    """A conditional text question's (a conditional Yes/No question has "Non concerné" among its radios)."""
    needs = make_question("HANDI", candidate_label="Aménagements ?", is_conditional=True, order=3)
    formation.questions.add(needs)

    response = _post(owner, application, {f"question-{needs.pk}": "Tiers temps", f"question-{needs.pk}-nc": "on"})

    assert response.status_code == 200
    assertContains(response, "Either answer the question or declare that it does not concern you, not both.")
    assert not QuestionAnswer.objects.exists()


def test_a_text_over_1000_characters_is_refused_and_kept_in_the_form(owner, application, project):
    response = _post(owner, application, {f"question-{project.pk}": "x" * 1001})

    assert response.status_code == 200
    assertContains(response, "Ensure this value has at most 1000 characters (it has 1001).")
    assertContains(response, "x" * 1001)
    assert not QuestionAnswer.objects.exists()


@pytest.mark.parametrize("hostile", ["a\x00b", "Peut-être"])
def test_hostile_yes_no_values_are_refused(owner, application, sea, hostile):
    response = _post(owner, application, {f"question-{sea.pk}": hostile})

    assert response.status_code == 200
    assertContains(response, "Select a valid choice.")
    assert not QuestionAnswer.objects.exists()


def test_an_invisible_control_character_in_a_text_is_refused_next_to_the_question(owner, application, project):
    """Regression (hostile-input audit, 2026-12-03): an escape in an answer was stored, and the staff's XLSX export
    holding it failed. The answer's line ends are kept."""
    refused = _post(owner, application, {f"question-{project.pk}": "Mon projet\x1b[31m"})
    kept = _post(owner, application, {f"question-{project.pk}": "Mon projet\r\nen deux lignes"})

    assert refused.status_code == 200
    (message,) = refused.context["form"].errors[f"question-{project.pk}"]
    assert message.startswith("This text contains an invisible character (a control or writing-direction character)")
    assert kept.status_code == 302
    assert QuestionAnswer.objects.get().answer == "Mon projet\nen deux lignes"


def test_a_nul_character_in_a_text_is_refused_by_the_service(application, project, applicant):
    with pytest.raises(FieldRuleError) as refused:
        answer_questions(
            application=application, answers={project.pk: "a\x00b"}, not_concerned=(), actor=applicant.user
        )

    assert refused.value.field == f"question-{project.pk}"
    assert not QuestionAnswer.objects.exists()


def test_the_service_refuses_a_question_not_asked_and_not_concerned_on_a_plain_one(application, project, applicant):
    elsewhere = make_question("AILLEURS")

    with pytest.raises(BusinessRuleError, match="not asked"):
        answer_questions(application=application, answers={elsewhere.pk: "x"}, not_concerned=(), actor=applicant.user)
    with pytest.raises(FieldRuleError, match="not conditional"):
        answer_questions(application=application, answers={}, not_concerned={project.pk}, actor=applicant.user)
    assert not QuestionAnswer.objects.exists()


def test_an_empty_answer_puts_the_question_back_to_waiting(owner, application, project):
    _post(owner, application, {f"question-{project.pk}": "Texte"})
    _post(owner, application, {f"question-{project.pk}": ""})

    [row] = question_rows(application)
    assert row.status == PieceStatus.WAITING


# --- Transmission and locking -----------------------------------------------------------------------------------


def test_transmission_is_refused_until_every_question_is_answered(application, project, applicant):
    with pytest.raises(InvalidTransition, match="A complementary question has no answer: Décrivez votre projet"):
        transmit_application(application=application, actor=applicant.user)

    answer_questions(application=application, answers={project.pk: "Oui"}, not_concerned=(), actor=applicant.user)
    transmit_application(application=application, actor=applicant.user)

    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED


def test_a_question_made_required_after_not_concerned_blocks_transmission_until_answered(
    application, project, sea, applicant
):
    """The central office makes a conditional question required once the candidate declared it "Non concerné": it
    has no answer, so the transmission waits for one (it went through), and the answers page takes it."""
    answer_questions(
        application=application, answers={project.pk: "Projet"}, not_concerned={sea.pk}, actor=applicant.user
    )
    Question.objects.filter(pk=sea.pk).update(is_conditional=False)
    caches["pages"].clear()  # the questions are read from the pages cache, refreshed on commit in real use

    with pytest.raises(InvalidTransition, match="A complementary question has no answer: Déjà embarqué"):
        transmit_application(application=application, actor=applicant.user)

    answer_questions(
        application=application, answers={project.pk: "Projet", sea.pk: "O"}, not_concerned=(), actor=applicant.user
    )
    transmit_application(application=application, actor=applicant.user)
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED


def test_after_transmission_the_answers_are_read_only(owner, application, project, applicant):
    answer_questions(application=application, answers={project.pk: "Avant"}, not_concerned=(), actor=applicant.user)
    transmit_application(application=application, actor=applicant.user)

    page = owner.get(_url("questions", application))
    assertContains(page, "can no longer be changed")
    assertNotContains(page, "Save my answers")
    assertNotContains(owner.get(_url("detail", application)), f'href="{_url("questions", application)}"')

    response = _post(owner, application, {f"question-{project.pk}": "Après"})
    assert response.status_code == 302
    assert QuestionAnswer.objects.get().answer == "Avant"
    with pytest.raises(InvalidTransition):
        answer_questions(
            application=application, answers={project.pk: "Après"}, not_concerned=(), actor=applicant.user
        )


# --- Personas -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["other_candidate", "centre_manager", "commission_member", "central_manager"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_outsiders_get_404(client, application, project, persona, method, request):
    user = request.getfixturevalue(persona)
    client.force_login(getattr(user, "user", user))

    response = getattr(client, method)(_url("questions", application), {f"question-{project.pk}": "Intrus"})

    assert response.status_code == 404
    assert not QuestionAnswer.objects.exists()


def test_anonymous_is_sent_to_login(client, application, project):
    response = client.get(_url("questions", application))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_an_application_without_questions_has_no_page(owner, application):
    assert owner.get(_url("questions", application)).status_code == 404


# --- Staff --------------------------------------------------------------------------------------------------------


def test_staff_read_the_answers_on_the_reading_page_in_the_dossier_and_the_export(
    client, centre_manager, application, project, sea, applicant
):
    answer_questions(
        application=application,
        answers={project.pk: "Océanographe", sea.pk: "O"},
        not_concerned=(),
        actor=applicant.user,
    )
    client.force_login(centre_manager)

    page = client.get(reverse("admin:applications_application_change", args=[application.pk]))
    assertContains(page, "Décrivez votre projet professionnel.")
    assertContains(page, "Océanographe")

    # The dossier as the staff read it, in French (the reader's language; English writes "…: Océanographe").
    with (
        translation.override("fr"),
        build_dossier_pdf(
            Application.objects.select_related("candidate__user", "formation").get(pk=application.pk)
        ) as pdf,
    ):
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.read())).pages)
    assert "Décrivez votre projet professionnel. : Océanographe" in text
    assert "Déjà embarqué ? : Oui" in text

    [row] = export_rows(Application.objects.filter(pk=application.pk), ["question_answers"])
    assert row == ["Label PROJET : Océanographe\nLabel EMBARQUE : Yes"]


def test_an_answer_to_a_question_taken_off_stays_visible_to_staff(application, project, applicant, formation):
    answer_questions(application=application, answers={project.pk: "Gardée"}, not_concerned=(), actor=applicant.user)
    formation.questions.remove(project)

    assert [(row.question.code, row.value) for row in question_rows(application)] == [("PROJET", "Gardée")]
    assert question_rows(application, unlisted=False) == []
    caches["pages"].clear()


def test_line_breaks_count_once_as_in_the_browser(owner, application, project):
    text = ("x" * 98 + "\r\n") * 10  # 1,000 characters for the browser's maxlength, 1,010 bytes of CR LF

    response = _post(owner, application, {f"question-{project.pk}": text})

    assert response.status_code == 302
    assert len(QuestionAnswer.objects.get().answer) == 98 * 10 + 9  # the last line break stripped, LF only


def test_a_paper_dossier_says_why_the_answers_are_not_taken_here(owner, application, project, formation):
    formation.mode = "P"
    formation.save(update_fields=["mode"])

    assertContains(owner.get(_url("questions", application)), "Paper dossier: answer the questions on the paper")


# --- The question's admin ------------------------------------------------------------------------------------------


def _question_form(question, **changes):
    data = {
        "code": question.code,
        "label": question.label,
        "candidate_label": question.candidate_label,
        "candidate_label_en": question.candidate_label_en,
        "kind": question.kind,
        "centre": "",
        "is_common": "on" if question.is_common else "",
        "is_unique": "on" if question.is_unique else "",
        "is_conditional": "on" if question.is_conditional else "",
        "treatment_type": question.treatment_type,
        "order": question.order,
        "in_service": "on" if question.in_service else "",
        **changes,
    }
    return {key: value for key, value in data.items() if value != ""}


def test_the_kind_of_an_answered_question_no_longer_changes(admin_client, application, project, applicant):
    """Regression: a text question turned Yes/No after candidates answered it counted their text as an answer, and
    the candidate's next save of the page erased it silently."""
    answer_questions(
        application=application, answers={project.pk: "Océanographe"}, not_concerned=(), actor=applicant.user
    )
    url = reverse("admin:offers_question_change", args=[project.pk])

    response = admin_client.post(url, _question_form(project, kind=Question.Kind.BOOLEAN))

    assert response.status_code == 200
    assert "Des candidats ont déjà répondu à cette question" in " ".join(
        response.context["adminform"].form.errors["kind"]
    )
    project.refresh_from_db()
    assert project.kind == Question.Kind.TEXT
    # Its other fields still change; and a question nobody answered changes kind.
    assert admin_client.post(url, _question_form(project, label="Projet pro")).status_code == 302
    unanswered = make_question("AUTRE")
    other_url = reverse("admin:offers_question_change", args=[unanswered.pk])
    assert admin_client.post(other_url, _question_form(unanswered, kind=Question.Kind.BOOLEAN)).status_code == 302
    unanswered.refresh_from_db()
    assert unanswered.kind == Question.Kind.BOOLEAN
