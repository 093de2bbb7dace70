"""Complementary questions answered once and shared by all of the candidate's applications (eCandidat's "Unique" flag
unchecked on a common question, §1.8, as the pieces' §1.7): the answer is written once and read by every application
asking the question (candidate page, recap, staff reading page, dossier PDF, export, "Mes données"), the
transmission counts it, the pieces' lock rule for shared pieces, the history, account deletion, the migrations;
personas and query counts."""

import io
import json
import zipfile

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.cache import caches
from django.urls import reverse
from django.utils import timezone, translation
from pypdf import PdfReader
from pytest_django.asserts import assertContains, assertNotContains

from applications.dossier_pdf import build_dossier_pdf
from applications.enums import DossierStatus, EventKind, PieceStatus
from applications.export_columns import export_rows
from applications.models import Application, ApplicationEvent, QuestionAnswer
from applications.personal_data import build_archive
from applications.questions import answers_of, question_rows
from applications.services import erasure
from applications.services.candidature import transmit_application
from applications.services.questions import answer_questions
from applications.tests.factories_candidature import ApplicationFactory, complete_candidate, decide
from applications.tests.helpers import migrate_to, migrate_to_latest
from ecandidat.exceptions import BusinessRuleError, InvalidTransition
from offers.enums import Avis
from offers.models import Question
from offers.tests.factories import CentreFactory, FormationFactory, make_question

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_pages_cache")]

SHARED_NOTE = "Your answer to this question is shared by all of your applications that ask it"


@pytest.fixture
def applicant(campaign):
    return complete_candidate(user__campaign=campaign)


@pytest.fixture
def formation_a(commission):
    return FormationFactory(centre=commission.centre, commission=commission, title="MASTER 1 - SCIENCES DE LA MER")


@pytest.fixture
def formation_b(commission):
    return FormationFactory(centre=commission.centre, commission=commission, title="LICENCE PRO - INFORMATIQUE")


@pytest.fixture
def application_a(applicant, formation_a):
    return ApplicationFactory(candidate=applicant, formation=formation_a)


@pytest.fixture
def application_b(applicant, formation_b):
    return ApplicationFactory(candidate=applicant, formation=formation_b)


@pytest.fixture
def shared(db):
    """The institution's common question, not "unique" (the default of a new question): answered once."""
    return make_question("CHARTE", candidate_label="Avez-vous lu la charte des examens ?", is_common=True)


@pytest.fixture
def per_application(db):
    """A common question kept "unique": answered for each application (as every question before the flag)."""
    return make_question("MOTIV", candidate_label="Pourquoi cette formation ?", is_common=True, is_unique=True)


@pytest.fixture
def owner(client, applicant):
    client.force_login(applicant.user)
    return client


def _url(name, application):
    return reverse(f"applications:{name}", args=[application.public_id])


def _answer(application, answers, *, not_concerned=()):
    return answer_questions(
        application=application, answers=answers, not_concerned=not_concerned, actor=application.candidate.user
    )


def _values(application):
    return {row.question.code: (row.value, row.status) for row in question_rows(application)}


# --- Answered once, read everywhere -------------------------------------------------------------------------------


def test_a_shared_answer_given_on_one_application_is_read_on_the_others(
    owner, applicant, application_a, application_b, shared
):
    response = owner.post(_url("questions", application_a), {f"question-{shared.pk}": "Oui, lue."})

    assert response.status_code == 302
    answer = QuestionAnswer.objects.get()
    assert (answer.application, answer.candidate, answer.answer) == (None, applicant, "Oui, lue.")
    assert _values(application_b) == {"CHARTE": ("Oui, lue.", PieceStatus.SUBMITTED)}
    page = owner.get(_url("questions", application_b))
    assertContains(page, "Oui, lue.</textarea>")
    assertContains(page, SHARED_NOTE, count=1)
    assertContains(owner.get(_url("detail", application_b)), "Oui, lue.")


def test_changing_it_from_the_other_application_changes_it_for_both(application_a, application_b, shared):
    _answer(application_a, {shared.pk: "Première"})

    assert _answer(application_b, {shared.pk: "Seconde"}) == 1

    assert QuestionAnswer.objects.get().answer == "Seconde"
    assert _values(application_a) == _values(application_b) == {"CHARTE": ("Seconde", PieceStatus.SUBMITTED)}


def test_not_concerned_is_shared_too(application_a, application_b):
    conditional = make_question("HANDI", is_common=True, is_conditional=True)

    _answer(application_a, {}, not_concerned={conditional.pk})

    assert _values(application_b) == {"HANDI": ("", PieceStatus.NOT_CONCERNED)}


def test_the_transmission_of_the_other_application_counts_the_shared_answer(
    applicant, application_a, application_b, shared
):
    _answer(application_a, {shared.pk: "Oui"})

    transmit_application(application=application_b, actor=applicant.user)

    application_b.refresh_from_db()
    assert application_b.dossier_status == DossierStatus.RECEIVED


def test_staff_read_the_shared_answer_on_the_page_the_dossier_and_the_export_of_each_application(
    client, centre_manager, application_a, application_b, shared
):
    _answer(application_a, {shared.pk: "Lue et approuvée"})
    client.force_login(centre_manager)

    assertContains(
        client.get(reverse("admin:applications_application_change", args=[application_b.pk])), "Lue et approuvée"
    )
    loaded = Application.objects.select_related("candidate__user", "formation").get(pk=application_b.pk)
    with translation.override("fr"), build_dossier_pdf(loaded) as pdf:  # the staff's language
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.read())).pages)
    assert "Avez-vous lu la charte des examens ? : Lue et approuvée" in text
    rows = export_rows(Application.objects.filter(pk__in=[application_a.pk, application_b.pk]), ["question_answers"])
    assert list(rows) == [["Label CHARTE : Lue et approuvée"]] * 2


def test_a_centre_shared_answer_belongs_to_that_centre_applications_only(applicant, application_a, commission):
    centre_question = make_question("CENTRE", is_common=True, centre=commission.centre)
    elsewhere = ApplicationFactory(candidate=applicant, formation=FormationFactory(centre=CentreFactory(code="AUTRE")))
    _answer(application_a, {centre_question.pk: "Oui"})

    assert question_rows(elsewhere) == []
    assert answers_of(elsewhere, QuestionAnswer.objects.select_related("question")) == []
    assert list(export_rows(Application.objects.filter(pk=elsewhere.pk), ["question_answers"])) == [[""]]


# --- Per application, as before -----------------------------------------------------------------------------------


def test_a_unique_common_question_is_still_answered_per_application(
    applicant, application_a, application_b, per_application
):
    _answer(application_a, {per_application.pk: "Pour A"})

    assert QuestionAnswer.objects.get().application == application_a
    assert _values(application_b) == {"MOTIV": ("", PieceStatus.WAITING)}
    with pytest.raises(InvalidTransition, match="A complementary question has no answer: Pourquoi cette formation"):
        transmit_application(application=application_b, actor=applicant.user)


def test_a_formation_question_is_per_application_whatever_its_flag(application_a, formation_a):
    own = make_question("PROJET", is_unique=False)  # the flag means nothing for a question that is not common
    formation_a.questions.add(own)

    _answer(application_a, {own.pk: "Projet"})

    assert QuestionAnswer.objects.get().application == application_a


def test_the_page_says_shared_of_shared_questions_only(owner, application_a, shared, per_application):
    page = owner.get(_url("questions", application_a))

    assertContains(page, SHARED_NOTE, count=1)
    assertContains(page, "changing it here changes it for each of them")


# --- The lock: the shared pieces' rule ----------------------------------------------------------------------------


def test_a_shared_answer_stays_editable_from_an_application_still_open(
    applicant, application_a, application_b, shared
):
    _answer(application_a, {shared.pk: "Avant"})
    transmit_application(application=application_a, actor=applicant.user)

    with pytest.raises(InvalidTransition, match="transmitted"):
        _answer(application_a, {shared.pk: "Après"})
    _answer(application_b, {shared.pk: "Après"})  # as a shared piece replaced from another application

    assert _values(application_a) == {"CHARTE": ("Après", PieceStatus.SUBMITTED)}
    assert application_a.events.filter(kind=EventKind.QUESTIONS_ANSWERED).count() == 2  # its answer and B's change


def test_a_shared_answer_a_transmitted_application_holds_is_not_emptied_from_another(
    applicant, application_a, application_b, shared
):
    """Regression: the candidate emptied, from an application still open, the shared answer of a dossier staff were
    reviewing (a shared piece's file cannot be removed so: ``_check_not_held``)."""
    _answer(application_a, {shared.pk: "Oui"})
    transmit_application(application=application_a, actor=applicant.user)

    with pytest.raises(InvalidTransition, match="“MASTER 1 - SCIENCES DE LA MER”, already transmitted") as refused:
        _answer(application_b, {shared.pk: ""})

    assert refused.value.field == f"question-{shared.pk}"
    assert _values(application_a) == {"CHARTE": ("Oui", PieceStatus.SUBMITTED)}
    _answer(application_b, {shared.pk: "Oui, relue"})  # replacing it stays open
    assert _values(application_a) == {"CHARTE": ("Oui, relue", PieceStatus.SUBMITTED)}


def test_a_shared_answer_a_decision_was_given_on_is_not_replaced_from_another(
    owner, applicant, application_a, application_b, shared, central_manager
):
    """Regression: from an application still open, the candidate replaced the shared answer of a dossier whose
    decision was validated: the commission's dossier then showed an answer it never read. Staff may not change it
    (``_decided_elsewhere``), nor may the candidate now; the page says why beside the question."""
    _answer(application_a, {shared.pk: "Oui, lue"})
    transmit_application(application=application_a, actor=applicant.user)
    decide(application_a, Avis.FAVOURABLE, actor=central_manager)

    response = owner.post(_url("questions", application_b), {f"question-{shared.pk}": "Non, jamais"})

    assert response.status_code == 200
    refusal = (
        "This answer is shared with your application to “MASTER 1 - SCIENCES DE LA MER”, on which a decision has "
        "been given: it can no longer be changed."
    )
    assert response.context["form"].errors[f"question-{shared.pk}"] == [refusal]
    assert _values(application_a) == {"CHARTE": ("Oui, lue", PieceStatus.SUBMITTED)}


def test_nor_declared_not_concerned_and_the_page_says_why_beside_the_question(
    owner, applicant, application_a, application_b
):
    conditional = make_question("HANDI", candidate_label="Aménagements ?", is_common=True, is_conditional=True)
    _answer(application_a, {conditional.pk: "Tiers temps"})
    transmit_application(application=application_a, actor=applicant.user)

    response = owner.post(_url("questions", application_b), {f"question-{conditional.pk}-nc": "on"})

    assert response.status_code == 200
    assert "already transmitted" in " ".join(response.context["form"].errors[f"question-{conditional.pk}"])
    assert _values(application_a) == {"HANDI": ("Tiers temps", PieceStatus.SUBMITTED)}


def test_once_every_application_is_transmitted_the_shared_answer_is_frozen(
    owner, applicant, application_a, application_b, shared
):
    _answer(application_a, {shared.pk: "Définitive"})
    for application in (application_a, application_b):
        transmit_application(application=application, actor=applicant.user)

    page = owner.get(_url("questions", application_b))
    assertContains(page, "can no longer be changed")
    assertContains(page, "Your answer to this question is shared by all of your applications that ask it.")
    assertNotContains(page, "changing it here")
    for application in (application_a, application_b):
        with pytest.raises(InvalidTransition):
            _answer(application, {shared.pk: "Autre"})
    assert QuestionAnswer.objects.get().answer == "Définitive"


def test_the_change_is_in_the_history_of_every_live_application(
    applicant, application_a, application_b, shared, per_application
):
    cancelled = ApplicationFactory(candidate=applicant, formation=FormationFactory(), cancelled_at=timezone.now())

    _answer(application_a, {shared.pk: "Oui", per_application.pk: "Pour A"})

    events = {
        event.application_id: (event.actor, event.comment)
        for event in ApplicationEvent.objects.filter(kind=EventKind.QUESTIONS_ANSWERED)
    }
    assert events == {
        application_a.pk: (applicant.user, "2 réponses modifiées"),
        application_b.pk: (applicant.user, "1 réponse partagée par les candidatures du candidat modifiée"),
    }
    assert cancelled.pk not in events


def test_two_first_answers_at_once_save_one_and_refuse_the_other(application_a, application_b, shared, monkeypatch):
    _answer(application_a, {shared.pk: "Depuis A"})
    events = ApplicationEvent.objects.count()
    # B read no shared answer yet (the other request had not committed): its insert meets A's row.
    monkeypatch.setattr("applications.services.questions.split_answers", lambda answers: ({}, {}))

    with pytest.raises(BusinessRuleError, match="saved from another page at the same time"):
        _answer(application_b, {shared.pk: "Depuis B"})

    assert list(QuestionAnswer.objects.values_list("answer", flat=True)) == ["Depuis A"]
    assert ApplicationEvent.objects.count() == events


# --- A question's flags changed after answers ----------------------------------------------------------------------


def test_answers_given_per_application_still_count_once_the_question_is_shared(
    applicant, application_a, application_b, per_application
):
    _answer(application_a, {per_application.pk: "Pour A"})
    _answer(application_b, {per_application.pk: "Pour B"})
    per_application.is_unique = False
    per_application.save()

    assert _values(application_a) == {"MOTIV": ("Pour A", PieceStatus.SUBMITTED)}
    assert _answer(application_a, {per_application.pk: "Pour A"}) == 0  # what the candidate read: nothing changes
    transmit_application(application=application_b, actor=applicant.user)

    _answer(application_a, {per_application.pk: "Pour toutes"})
    assert _values(application_b) == {"MOTIV": ("Pour toutes", PieceStatus.SUBMITTED)}


def test_a_shared_answer_still_counts_once_the_question_is_unique(application_a, application_b, shared):
    _answer(application_a, {shared.pk: "Commune"})
    shared.is_unique = True
    shared.save()

    assert _values(application_b) == {"CHARTE": ("Commune", PieceStatus.SUBMITTED)}
    _answer(application_b, {shared.pk: "Pour B"})
    assert _values(application_a) == {"CHARTE": ("Commune", PieceStatus.SUBMITTED)}
    assert _values(application_b) == {"CHARTE": ("Pour B", PieceStatus.SUBMITTED)}


def test_an_answer_to_a_question_taken_off_is_not_a_field_of_the_candidate_form(
    owner, application_a, formation_a, shared
):
    """Regression: such an answer was listed on the candidate's page too, and its field made every save refused."""
    taken_off = make_question("RETIREE")
    formation_a.questions.add(taken_off)
    _answer(application_a, {taken_off.pk: "Gardée"})
    formation_a.questions.remove(taken_off)
    caches["pages"].clear()

    page = owner.get(_url("questions", application_a))
    assertNotContains(page, f'name="question-{taken_off.pk}"')
    owner.post(_url("questions", application_a), {f"question-{shared.pk}": "Oui"})

    assert _values(application_a) == {
        "CHARTE": ("Oui", PieceStatus.SUBMITTED),
        "RETIREE": ("Gardée", PieceStatus.SUBMITTED),  # staff still read it
    }


# --- Personas ----------------------------------------------------------------------------------------------------


def test_the_owner_reads_the_shared_answer_on_each_application(owner, application_a, application_b, shared):
    _answer(application_a, {shared.pk: "Oui"})

    for application in (application_a, application_b):
        assert owner.get(_url("questions", application)).status_code == 200


@pytest.mark.parametrize("persona", ["other_candidate", "centre_manager", "commission_member", "central_manager"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_outsiders_get_404(client, application_a, application_b, shared, persona, method, request):
    _answer(application_a, {shared.pk: "Oui"})
    user = request.getfixturevalue(persona)
    client.force_login(getattr(user, "user", user))

    response = getattr(client, method)(_url("questions", application_b), {f"question-{shared.pk}": "Intrus"})

    assert response.status_code == 404
    assert QuestionAnswer.objects.get().answer == "Oui"


# --- Queries: constant whatever the number of applications and shared questions ------------------------------------


def _crowd(applicant, commission, count):
    """``count`` applications of ``applicant`` and ``count`` shared questions, each answered once."""
    questions = [make_question(f"Q{index}", is_common=True, order=index) for index in range(count)]
    applications = [
        ApplicationFactory(
            candidate=applicant, formation=FormationFactory(centre=commission.centre, commission=commission)
        )
        for _ in range(count)
    ]
    _answer(applications[-1], {question.pk: f"Réponse {question.pk}" for question in questions})
    return applications[0], questions


@pytest.mark.parametrize("count", [1, 5])
def test_candidate_pages_queries_do_not_grow(owner, applicant, commission, count, django_assert_num_queries):
    application, questions = _crowd(applicant, commission, count)

    with django_assert_num_queries(7):  # session, account, savepoint pair, the application, questions, answers
        page = owner.get(_url("questions", application))
    owner.get(_url("detail", application))  # the questions into the cache
    with django_assert_num_queries(6):  # the recap, as without shared answers
        recap = owner.get(_url("detail", application))

    assertContains(page, SHARED_NOTE, count=count)
    assertContains(recap, "Réponse", count=count)


@pytest.mark.parametrize("count", [1, 5])
def test_staff_page_pdf_and_export_queries_do_not_grow(
    client, applicant, commission, centre_manager, count, django_assert_num_queries
):
    application, questions = _crowd(applicant, commission, count)
    ContentType.objects.clear_cache()
    ContentType.objects.get_for_model(Application)  # the admin reads it once per process
    client.force_login(centre_manager)
    loaded = Application.objects.select_related("candidate__user", "formation").get(pk=application.pk)

    with django_assert_num_queries(STAFF_PAGE):
        page = client.get(reverse("admin:applications_application_change", args=[application.pk]))
    with django_assert_num_queries(DOSSIER_PDF), build_dossier_pdf(loaded):
        pass
    with django_assert_num_queries(EXPORT):
        [[cell]] = list(export_rows(Application.objects.filter(pk=application.pk), ["question_answers"]))

    assertContains(page, "Réponse", count=count)
    assert cell.count("Réponse") == count


STAFF_PAGE = 34  # as test_admin_applications.QUERIES_CHANGE: the shared answers cost no query
DOSSIER_PDF = 12
EXPORT = 9  # the rows and their prefetches (the formations' forms included)


# --- Account deletion and "Mes données" --------------------------------------------------------------------------


def test_account_deletion_deletes_the_shared_answers(
    applicant, application_a, shared, per_application, central_manager, campaign
):
    _answer(application_a, {shared.pk: "Oui", per_application.pk: "Pour A"})
    other = complete_candidate(user__campaign=campaign, user__email="other@example.org")
    other_application = ApplicationFactory(candidate=other, formation=application_a.formation)
    _answer(other_application, {shared.pk: "Autre"})

    erasure.delete_candidate_account(user=applicant.user, actor=central_manager, everything=True, notify=False)

    assert list(QuestionAnswer.objects.values_list("candidate_id", "answer")) == [(other.pk, "Autre")]


def test_my_data_holds_the_shared_answers_once(applicant, application_a, application_b, shared, per_application):
    _answer(application_a, {shared.pk: "Oui", per_application.pk: "Pour A"})

    archive = build_archive(user=applicant.user, candidate=applicant)
    data = json.loads(zipfile.ZipFile(archive).read("donnees.json"))

    assert [entry["answer"] for entry in data["shared_questions"]] == ["Oui"]
    assert data["shared_questions"][0]["question"] == "Avez-vous lu la charte des examens ?"
    by_formation = {entry["formation"]["code"]: entry["questions"] for entry in data["applications"]}
    assert [entry["answer"] for entry in by_formation[application_a.formation.code]] == ["Pour A"]
    assert by_formation[application_b.formation.code] == []


def test_the_question_admin_shows_the_flag_in_the_form_and_the_list(admin_client, shared):
    page = admin_client.get(reverse("admin:offers_question_add"))

    assertContains(page, '<input type="checkbox" name="is_unique" aria-describedby="id_is_unique_helptext"')
    assertContains(
        admin_client.get(reverse("admin:offers_question_changelist")),
        '<th scope="col" role="columnheader" class="sortable column-is_unique"',
    )


# --- Migrations ---------------------------------------------------------------------------------------------------

BEFORE = [("applications", "0017_internal_cursus_results"), ("offers", "0012_commission_url_and_comment")]
AFTER = [("applications", "0018_shared_question_answers"), ("offers", "0013_question_unique")]


@pytest.mark.django_db(transaction=True)
def test_existing_questions_keep_their_answers_per_application_and_the_answers_get_their_candidate(campaign):
    applicant = complete_candidate(user__campaign=campaign)
    application = ApplicationFactory(candidate=applicant)
    try:
        old = migrate_to(BEFORE)
        question = old.get_model("offers", "Question").objects.create(
            code="EXISTANTE", label="Existante", candidate_label="Existante ?", is_common=True
        )
        old.get_model("applications", "QuestionAnswer").objects.create(
            application_id=application.pk, question_id=question.pk, answer="Avant", answered_by_id=applicant.user_id
        )
        migrate_to(AFTER)
    finally:
        migrate_to_latest()

    assert Question.objects.get(code="EXISTANTE").is_unique
    answer = QuestionAnswer.objects.get()
    assert (answer.application_id, answer.candidate_id, answer.answer) == (application.pk, applicant.pk, "Avant")
    assert not Question._meta.get_field("is_unique").default  # new questions are shared, as new pieces


@pytest.mark.django_db(transaction=True)
def test_rolling_back_copies_each_shared_answer_to_the_applications_it_concerns(campaign):
    applicant = complete_candidate(user__campaign=campaign)
    centre = CentreFactory(code="SEE")
    first, second = (ApplicationFactory(candidate=applicant, formation=FormationFactory(centre=centre)) for _ in "ab")
    elsewhere = ApplicationFactory(candidate=applicant, formation=FormationFactory(centre=CentreFactory(code="AUT")))
    everywhere = make_question("PARTOUT", is_common=True)
    of_centre = make_question("CENTRE", is_common=True, centre=centre)
    _answer(first, {everywhere.pk: "Pour toutes", of_centre.pk: "Pour le centre"})
    try:
        old = migrate_to(BEFORE)
        rows = old.get_model("applications", "QuestionAnswer").objects.values_list("application_id", "answer")
        assert sorted(rows) == sorted(
            [(app.pk, "Pour toutes") for app in (first, second, elsewhere)]
            + [(app.pk, "Pour le centre") for app in (first, second)]
        )
    finally:
        migrate_to_latest()

    assert not QuestionAnswer.objects.filter(application__isnull=True).exists()
    assert set(QuestionAnswer.objects.values_list("candidate_id", flat=True)) == {applicant.pk}


def test_the_history_row_of_a_shared_answer_goes_only_where_the_question_is_asked(
    applicant, application_a, commission
):
    """Regression: a question common to one centre, changed from its application, wrote « 1 answer shared by the
    candidate's applications changed » on the candidate's application in another centre too, whose staff never see
    that answer. Now only the applications asking it get the row, counting the answers they ask."""
    centre_only = make_question("CENTREQ", candidate_label="Question du centre ?", is_common=True)
    centre_only.centre = commission.centre
    centre_only.save()
    same_centre = ApplicationFactory(candidate=applicant, formation=FormationFactory(centre=commission.centre))
    elsewhere = ApplicationFactory(candidate=applicant, formation=FormationFactory(centre=CentreFactory()))
    charter = make_question("CHARTE2", candidate_label="Charte ?", is_common=True)  # everyone's

    _answer(application_a, {centre_only.pk: "Oui", charter.pk: "Lue"})

    def rows(application):
        return list(
            ApplicationEvent.objects.filter(application=application, kind=EventKind.QUESTIONS_ANSWERED).values_list(
                "comment", flat=True
            )
        )

    assert rows(same_centre) == ["2 réponses partagées par les candidatures du candidat modifiées"]
    assert rows(elsewhere) == ["1 réponse partagée par les candidatures du candidat modifiée"]  # the charter only
