"""The texts the staff write for candidates, in English for a candidate who reads the site in English (eCandidat's
translatable piece labels, questions, forms and decision labels): the English version when there is one, else the
French text, each marked with its own language (RGAA 8.7); the mails in the candidate's language, whatever the
language of the staff member who sends them; no query more."""

import pytest
from django.core.cache import caches
from django.urls import reverse
from django.utils import translation
from pytest_django.asserts import assertContains, assertNotContains

from applications.enums import DossierStatus, PieceStatus
from applications.services.staff import set_dossier_status, validate_decision
from applications.tests.factories_candidature import (
    ApplicationFactory,
    DecisionFactory,
    DecisionTypeFactory,
    PieceSubmissionFactory,
    complete_candidate,
)
from ecandidat.staff_text import StaffText, shown, shown_in_mail
from offers.enums import Avis
from offers.models import ComplementaryForm, Question
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_cached_lists():
    caches["pages"].clear()
    yield
    caches["pages"].clear()


@pytest.fixture
def formation(commission):
    return FormationFactory(centre=commission.centre, commission=commission, title="MASTER 1 - ÉNERGIE")


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


@pytest.fixture
def letter(formation):
    piece = PieceTypeFactory(label="Lettre de motivation", label_en="Cover letter")
    formation.piece_types.add(piece)
    return piece


@pytest.fixture
def transcript(formation):
    piece = PieceTypeFactory(label="Relevés de notes")  # no English version
    formation.piece_types.add(piece)
    return piece


def _detail(application):
    return reverse("applications:detail", args=[application.public_id])


def test_the_choice_and_its_language():
    assert shown("Lettre", "Letter", language="en") == StaffText("Letter", "en")
    assert shown("Lettre", "Letter", language="fr") == StaffText("Lettre", "fr")
    assert shown("Lettre", "", language="en") == StaffText("Lettre", "fr")  # no English: French, said French
    with translation.override("en"):
        assert str(shown("Lettre", "Letter")) == "Letter"
    lazy = shown_in_mail("Lettre", "Letter")  # chosen when printed, in the language of that moment
    with translation.override("fr"):
        assert str(lazy) == "Lettre"
    with translation.override("en"):
        assert str(lazy) == "Letter"


@pytest.mark.parametrize(
    ("language", "letter_shown", "marked"),
    [("en", "Cover letter", "en"), ("fr", "Lettre de motivation", "fr")],
)
def test_the_pieces_table_shows_the_candidates_language(
    owner, application, letter, transcript, language, letter_shown, marked, django_assert_num_queries
):
    with django_assert_num_queries(7):  # as in French: the English label is in the same rows
        response = owner.get(_detail(application), language=language)

    assertContains(response, f'<span lang="{marked}">{letter_shown}</span>', html=True)
    assertContains(response, '<span lang="fr">Relevés de notes</span>', html=True)  # no English: French, said so
    if language == "en":
        assertNotContains(response, "Lettre de motivation")


def test_questions_and_forms_in_english(owner, application, formation):
    question = Question.objects.create(
        code="PROJET",
        label="Projet",
        candidate_label="Décrivez votre projet.",
        candidate_label_en="Describe your project.",
    )
    formation.questions.add(question)
    form = ComplementaryForm.objects.create(
        code="F1",
        survey_id=101,
        label="Form 1",
        candidate_label="Questionnaire d'entrée",
        candidate_label_en="Entry survey",
        url="https://enquetes.example/101",
    )
    formation.forms.add(form)

    recap = owner.get(_detail(application), language="en")
    questions = owner.get(reverse("applications:questions", args=[application.public_id]), language="en")

    assertContains(recap, "Describe your project.")
    assertContains(recap, '<th scope="row" role="rowheader" lang="en">Entry survey</th>', html=True)
    assertContains(questions, '<legend lang="en">Describe your project.</legend>', html=True)
    assertNotContains(questions, "Décrivez votre projet.")


def test_the_decision_in_english_on_the_recap_and_the_list(owner, application, django_assert_num_queries):
    DecisionFactory(
        application=application,
        decision_type=DecisionTypeFactory(
            avis=Avis.FAVOURABLE, candidate_label="Admis", candidate_label_en="Admitted"
        ),
        validated=True,
    )

    recap = owner.get(_detail(application), language="en")
    with django_assert_num_queries(3):  # session, user, the applications with their current decision
        listing = owner.get(reverse("applications:application_list"), language="en")
    french = owner.get(_detail(application), language="fr")

    assertContains(recap, '<dd><span lang="en">Admitted</span></dd>', html=True)
    assertContains(listing, '<span lang="en">Admitted</span>', html=True)
    assertContains(french, '<span lang="fr">Admis</span>', html=True)


@pytest.mark.parametrize(
    ("language", "expected"), [("en", "Cover letter: floue"), ("fr", "Lettre de motivation : floue")]
)  # the colon of the language: "Cover letter : floue" was the French spacing in English
def test_the_incomplete_mail_names_the_piece_in_the_candidates_language(
    application, letter, centre_manager, django_capture_on_commit_callbacks, mailoutbox, language, expected
):
    application.candidate.preferred_language = language
    application.candidate.save()
    application.dossier_status = DossierStatus.RECEIVED
    application.save()
    PieceSubmissionFactory(application=application, piece_type=letter, status=PieceStatus.REFUSED, comment="floue")

    with translation.override("fr" if language == "en" else "en"), django_capture_on_commit_callbacks(execute=True):
        set_dossier_status(application=application, target=DossierStatus.INCOMPLETE, actor=centre_manager)

    assert f"- {expected}" in mailoutbox[-1].body


def test_the_decision_mail_names_the_decision_in_the_candidates_language(
    application, centre_manager, django_capture_on_commit_callbacks, mailoutbox
):
    application.candidate.preferred_language = "en"
    application.candidate.save()
    decision = DecisionFactory(
        application=application,
        decision_type=DecisionTypeFactory(
            avis=Avis.FAVOURABLE, candidate_label="Admis", candidate_label_en="Admitted"
        ),
    )

    with translation.override("fr"), django_capture_on_commit_callbacks(execute=True):
        validate_decision(decision, actor=centre_manager)

    assert "Admitted" in mailoutbox[-1].body
    assert "Admis" not in mailoutbox[-1].body


@pytest.mark.parametrize(
    "page", ["offers_piecetype_add", "offers_question_add", "offers_complementaryform_add", "offers_decisiontype_add"]
)
def test_the_setup_pages_ask_for_the_english_text(admin_client, page):
    response = admin_client.get(reverse(f"admin:{page}"), language="en")

    assertContains(response, '_en"')  # label_en or candidate_label_en
    assertContains(response, "empty: the French text is shown.")


@pytest.mark.parametrize(
    ("language", "shown_text", "marked"), [("en", "Your project?", "en"), ("fr", "Votre projet ?", "fr")]
)
def test_the_reading_page_marks_the_questions_language(
    client, centre_manager, application, formation, language, shown_text, marked
):
    question = Question.objects.create(
        code="PROJET", label="Projet", candidate_label="Votre projet ?", candidate_label_en="Your project?"
    )
    formation.questions.add(question)
    client.force_login(centre_manager)

    response = client.get(reverse("admin:applications_application_change", args=[application.pk]), language=language)

    assertContains(response, f'<dt lang="{marked}">{shown_text}</dt>', html=True)


def test_a_french_label_inside_an_english_phrase_is_marked_french(
    owner, application, formation, django_assert_num_queries
):
    # RGAA 8.8: the staff's French label inside "File for …", "Sending …", "Add a file for …" is a change of
    # language, marked (the "+" button's name was an aria-label, which cannot carry it: now a hidden text).
    piece = PieceTypeFactory(label="Relevés de notes", is_conditional=True, template="piece-templates/modele.pdf")
    formation.piece_types.add(piece)
    label = '<span lang="fr">Relevés de notes</span>'

    with django_assert_num_queries(7):  # as without the marks: the label is read once per row, from the same rows
        response = owner.get(_detail(application), language="en")

    template_url = reverse("pieces:template_download", args=[piece.pk])
    assertContains(response, f'<a href="{template_url}" download>Download the template of {label}</a>', html=True)
    assertContains(
        response, f'<label class="visually-hidden" for="file-{piece.pk}">File for {label}</label>', html=True
    )
    assertContains(response, f'<label for="progress-{piece.pk}">Sending {label}</label>', html=True)
    assertContains(response, f'Not concerned by this piece<span class="visually-hidden">: {label}</span>')
    assertContains(
        response,
        '<button type="submit" class="button button--small button--primary"><span aria-hidden="true">+</span>'
        f'<span class="visually-hidden">Add a file for {label}</span></button>',
        html=True,
    )
    assertNotContains(response, 'aria-label="Add a file')
