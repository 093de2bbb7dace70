"""A conditional Yes/No question declared "Non concerné" after Yes or No was saved (review of 2026-12-06): its
answer was two radios, which cannot be unticked, and the form refused the "Non concerné" box beside an answer, so
a "Oui" ticked by mistake went to the commission. "Non concerné" is now the third radio of the question's group,
for the candidate and for staff in the candidate's place; a text question keeps its box. Query counts as the
questions pages'."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from applications.enums import PieceStatus
from applications.models import QuestionAnswer
from applications.tests.factories_candidature import ApplicationFactory, complete_candidate
from offers.enums import ApplicationMode
from offers.models import Question
from offers.tests.factories import FormationFactory, make_question

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_pages_cache")]


@pytest.fixture
def formation(commission):
    return FormationFactory(centre=commission.centre, commission=commission)


@pytest.fixture
def sea(formation):
    question = make_question(
        "EMBARQUE", kind=Question.Kind.BOOLEAN, candidate_label="Déjà embarqué ?", is_conditional=True, order=1
    )
    formation.questions.add(question)
    return question


@pytest.fixture
def charter(formation):
    question = make_question("CHARTE", kind=Question.Kind.BOOLEAN, candidate_label="Charte lue ?", order=2)
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


def _url(application):
    return reverse("applications:questions", args=[application.public_id])


def _staff_url(application):
    return reverse("admin:applications_application_on_behalf_questions", args=[application.pk])


def _radio(question, value, index, *, checked=False):
    return (
        f'<input type="radio" name="question-{question.pk}" value="{value}" id="id_question-{question.pk}_{index}"'
        f"{' checked' if checked else ''}>"
    )


def _stored(question):
    answer = QuestionAnswer.objects.get(question=question)
    return answer.answer, answer.not_concerned, answer.status


def _save(client, url, data, django_assert_num_queries, queries):
    """Posts ``data`` with the version of the page as served (as a browser does), in ``queries`` queries."""
    read_at = client.get(url).context["form"]["read_at"].value()
    with django_assert_num_queries(queries):
        response = client.post(url, {"read_at": read_at, **data})
    assert response.status_code == 302
    return response


# The candidate's page: session, account, savepoint pair, the application, questions, answers.
PAGE_QUERIES = 7
# Its save of one answer: the page's reads, then the service's savepoint, the application locked, its questions,
# the answers locked, the answer written (INSERT or UPDATE), one history row, the two savepoints released.
SAVE_QUERIES = 14


def test_a_yes_saved_by_mistake_is_then_declared_not_concerned(owner, application, sea, django_assert_num_queries):
    _save(owner, _url(application), {f"question-{sea.pk}": "O"}, django_assert_num_queries, SAVE_QUERIES)
    assert _stored(sea) == ("O", False, PieceStatus.SUBMITTED)

    with django_assert_num_queries(PAGE_QUERIES):
        page = owner.get(_url(application))
    assertContains(page, _radio(sea, "O", 0, checked=True), html=True)
    assertContains(page, "This question does not concern me")
    assertNotContains(page, f'name="question-{sea.pk}-nc"')  # no box beside the radios: they say it

    _save(owner, _url(application), {f"question-{sea.pk}": "NC"}, django_assert_num_queries, SAVE_QUERIES)

    assert _stored(sea) == ("", True, PieceStatus.NOT_CONCERNED)
    with django_assert_num_queries(PAGE_QUERIES):
        page = owner.get(_url(application))
    assertContains(page, _radio(sea, "O", 0), html=True)
    assertContains(page, _radio(sea, "NC", 2, checked=True), html=True)
    recap = owner.get(reverse("applications:detail", args=[application.public_id]))
    assertContains(recap, '<td role="cell" data-label="Status">Not concerned</td>', html=True)
    assertContains(recap, '<td role="cell" data-label="Answer" class="questions__answer"></td>', html=True)


def test_a_conditional_yes_no_question_is_still_answered_yes_or_no(owner, application, sea, django_assert_num_queries):
    _save(owner, _url(application), {f"question-{sea.pk}": "NC"}, django_assert_num_queries, SAVE_QUERIES)
    _save(owner, _url(application), {f"question-{sea.pk}": "N"}, django_assert_num_queries, SAVE_QUERIES)

    assert _stored(sea) == ("N", False, PieceStatus.SUBMITTED)
    assertContains(owner.get(_url(application)), _radio(sea, "N", 1, checked=True), html=True)

    _save(owner, _url(application), {f"question-{sea.pk}": "O"}, django_assert_num_queries, SAVE_QUERIES)
    assert _stored(sea) == ("O", False, PieceStatus.SUBMITTED)


def test_a_yes_no_question_that_is_not_conditional_offers_no_third_choice(
    owner, application, charter, django_assert_num_queries
):
    with django_assert_num_queries(PAGE_QUERIES):
        page = owner.get(_url(application))

    assertContains(page, _radio(charter, "O", 0), html=True)
    assertContains(page, _radio(charter, "N", 1), html=True)
    assertNotContains(page, 'value="NC"')
    assertNotContains(page, "This question does not concern me")

    response = owner.post(_url(application), {f"question-{charter.pk}": "NC"})
    assert response.status_code == 200
    assert "Select a valid choice." in " ".join(response.context["form"].errors[f"question-{charter.pk}"])
    assert not QuestionAnswer.objects.exists()


def test_the_box_of_a_page_served_before_the_third_choice_wins_over_its_yes(
    owner, application, sea, django_assert_num_queries
):
    """A page served before the change had a "Non concerné" box beside the radios: ticked with "Oui" (still ticked
    from a save), the question is declared not concerned, as the third radio would have replaced "Oui"."""
    _save(owner, _url(application), {f"question-{sea.pk}": "O"}, django_assert_num_queries, SAVE_QUERIES)

    data = {f"question-{sea.pk}": "O", f"question-{sea.pk}-nc": "on"}
    _save(owner, _url(application), data, django_assert_num_queries, SAVE_QUERIES)

    assert _stored(sea) == ("", True, PieceStatus.NOT_CONCERNED)


def test_a_conditional_text_question_keeps_its_box_and_refuses_both(owner, application, formation):
    needs = make_question("HANDI", candidate_label="Aménagements ?", is_conditional=True, order=3)
    formation.questions.add(needs)

    assertContains(owner.get(_url(application)), f'name="question-{needs.pk}-nc"')
    response = owner.post(_url(application), {f"question-{needs.pk}": "Tiers temps", f"question-{needs.pk}-nc": "on"})

    assert response.status_code == 200
    assert response.context["form"].errors[f"question-{needs.pk}"] == [
        "Either answer the question or declare that it does not concern you, not both."
    ]
    assert not QuestionAnswer.objects.exists()


# --- Staff in the candidate's place ---------------------------------------------------------------------------------

# The staff page: session, user, savepoint pair, scope, the application, editable_by, questions, answers, a
# validated decision?, the admin's two permission reads (as test_staff_questions).
STAFF_PAGE_QUERIES = 12
# Its save: the page's reads but the menu, then the service's (as test_staff_questions' ENTER_ANSWERS_QUERIES).
STAFF_SAVE_QUERIES = 18


@pytest.fixture
def paper_application(applicant, formation, sea):
    formation.mode = ApplicationMode.PAPER
    formation.save(update_fields=["mode"])
    return ApplicationFactory(candidate=applicant, formation=formation, transmitted=True)


def test_staff_declare_not_concerned_a_question_answered_yes(
    client, centre_manager, paper_application, sea, django_assert_num_queries
):
    client.force_login(centre_manager)
    url = _staff_url(paper_application)
    _save(client, url, {f"question-{sea.pk}": "O"}, django_assert_num_queries, STAFF_SAVE_QUERIES)

    _save(client, url, {f"question-{sea.pk}": "NC"}, django_assert_num_queries, STAFF_SAVE_QUERIES)

    assert _stored(sea) == ("", True, PieceStatus.NOT_CONCERNED)
    with django_assert_num_queries(STAFF_PAGE_QUERIES):
        page = client.get(url)
    assertContains(page, _radio(sea, "NC", 2, checked=True), html=True)
    assertContains(page, "This question does not concern the candidate")
    assertNotContains(page, f'name="question-{sea.pk}-nc"')
