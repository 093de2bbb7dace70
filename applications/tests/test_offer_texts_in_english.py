"""The rest of the staff's texts in English (``ecandidat.staff_text``, as the pieces' and questions' labels): a
formation's title and information, the commission's comment for the candidates, the registration instructions and
the refusal reasons. An English reader sees the English version when there is one, else the French text, each
marked with its own language (RGAA 8.7); the mails choose in the candidate's language when they are rendered,
whatever the staff member's; the catalogue keeps one tree per language; no page reads a row more."""

import io

import pytest
from django.urls import reverse
from django.utils import translation
from pypdf import PdfReader
from pytest_django.asserts import assertContains, assertNotContains

from applications import demo_staff
from applications.dossier_pdf import build_dossier_pdf
from applications.models import Application
from applications.services import candidature as services
from applications.services import staff
from applications.tests.factories_candidature import (
    ApplicationFactory,
    DecisionFactory,
    DecisionTypeFactory,
    complete_candidate,
    decide,
    decision_type,
)
from applications.tests.helpers import RELEASED_REVIEW_PAGE_QUERIES, admin_form_data
from ecandidat.models import MailTemplate, OutboundEmail
from ecandidat.staff_text import StaffText
from offers import demo as offers_demo
from offers.enums import Avis
from offers.models import Commission, Formation, Question, RefusalReason
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

CATALOGUE = reverse("offers:catalogue")
ENERGY = "MASTER 1 - ENERGY"
ENERGIE = "MASTER 1 - ÉNERGIE"
CHIMIE = "MASTER 1 - CHIMIE"  # no English title
COMMENT_FR, COMMENT_EN = "Le secrétariat répond le matin.", "The office answers in the morning."
INFORMATION_FR, INFORMATION_EN = "Réunion le 12 mai.", "Meeting on 12 May."
REASON_FR, REASON_EN = "Capacité d'accueil atteinte", "Capacity reached"


@pytest.fixture
def formation(centre, commission):
    commission.return_comment, commission.return_comment_en = COMMENT_FR, COMMENT_EN
    commission.save()
    return FormationFactory(
        centre=centre,
        commission=commission,
        title=ENERGIE,
        title_en=ENERGY,
        additional_information=INFORMATION_FR,
        additional_information_en=INFORMATION_EN,
    )


@pytest.fixture
def untranslated(centre, commission):
    return FormationFactory(centre=centre, commission=commission, title=CHIMIE)


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
def reason():
    return RefusalReason.objects.create(code="CAP", label=REASON_FR, label_en=REASON_EN)


def _recap(client, application, language):
    return client.get(reverse("applications:detail", args=[application.public_id]), language=language)


def test_each_text_in_the_readers_language_and_its_own():
    formation = Formation(title=ENERGIE, title_en=ENERGY, additional_information=INFORMATION_FR)
    commission = Commission(return_comment=COMMENT_FR, return_comment_en=COMMENT_EN)
    refusal = RefusalReason(label=REASON_FR)

    with translation.override("en"):
        assert formation.shown_title == StaffText(ENERGY, "en")
        assert formation.shown_additional_information == StaffText(INFORMATION_FR, "fr")  # no English: French
        assert commission.shown_return_comment == StaffText(COMMENT_EN, "en")
        assert refusal.shown_label == StaffText(REASON_FR, "fr")
    with translation.override("fr"):
        assert formation.shown_title == StaffText(ENERGIE, "fr")
        assert commission.shown_return_comment == StaffText(COMMENT_FR, "fr")


# --- The catalogue: one tree per language, each cached, 0 query once cached -----------------------------------


def test_the_anonymous_catalogue_in_english_then_in_french_each_from_its_own_cache(
    client, formation, untranslated, django_assert_num_queries
):
    with django_assert_num_queries(1):  # the formations (no session for a visitor)
        english = client.get(CATALOGUE, language="en")
    with django_assert_num_queries(0):
        english_again = client.get(CATALOGUE, language="en")
    with django_assert_num_queries(1):  # the French tree is its own
        french = client.get(CATALOGUE, language="fr")
    with django_assert_num_queries(0):
        french_again = client.get(CATALOGUE, language="fr")

    for page in (english, english_again):
        assertContains(page, f'<span lang="en">{ENERGY}</span>', html=True)
        assertContains(page, f'<span lang="fr">{CHIMIE}</span>', html=True)  # no English title: French, said so
        assertNotContains(page, ENERGIE)
    for page in (french, french_again):
        assertContains(page, f'<span lang="fr">{ENERGIE}</span>', html=True)
        assertNotContains(page, ENERGY)


def test_the_candidates_catalogue_links_the_english_title(
    client, candidate_user, formation, django_assert_num_queries
):
    client.force_login(candidate_user)
    client.get(CATALOGUE, language="en")

    with django_assert_num_queries(2):  # session and user, as in French: the tree is cached
        response = client.get(CATALOGUE, language="en")

    apply_url = reverse("applications:apply", args=[formation.pk])
    assertContains(response, f'<a href="{apply_url}" lang="en">{ENERGY}</a>', html=True)


def test_the_filter_finds_a_formation_by_its_english_title(client, formation, untranslated):
    response = client.get(CATALOGUE, {"q": "energy"}, language="en")

    assertContains(response, f'<span lang="en">{ENERGY}</span>', html=True)
    assertNotContains(response, CHIMIE)


# --- The candidate's pages --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "title"), [("en", ENERGY), ("fr", ENERGIE)])
def test_the_list_names_the_formation_in_the_readers_language(
    owner, applicant, application, untranslated, language, title, django_assert_num_queries
):
    ApplicationFactory(candidate=applicant, formation=untranslated)

    with django_assert_num_queries(3):  # session, user, the applications with their formation and decision
        response = owner.get(reverse("applications:application_list"), language=language)

    assertContains(
        response, f'<th scope="row" role="rowheader"><span lang="{language}">{title}</span></th>', html=True
    )
    assertContains(response, f'<th scope="row" role="rowheader"><span lang="fr">{CHIMIE}</span></th>', html=True)


def test_the_recap_in_english(owner, application, reason, centre_manager, django_assert_num_queries):
    decide(application, Avis.UNFAVOURABLE, actor=centre_manager, refusal_reason=reason)

    with django_assert_num_queries(8):  # as in French (test_recap_decision): the texts are in the same rows
        response = _recap(owner, application, "en")

    assertContains(response, f'<dd lang="en">{ENERGY}</dd>', html=True)
    assertContains(response, f'<dd lang="en">{REASON_EN}</dd>', html=True)
    assertContains(response, f'<p lang="en">{COMMENT_EN}</p>', html=True)
    assertContains(response, f'<p lang="en">{INFORMATION_EN}</p>', html=True)
    for french in (ENERGIE, COMMENT_FR, INFORMATION_FR, "Capacité"):
        assertNotContains(response, french)


def test_the_recap_in_french_and_the_french_fallback_in_english(owner, application, formation, centre_manager):
    untranslated_reason = RefusalReason.objects.create(code="PRE", label="Prérequis non satisfaits")
    decide(application, Avis.UNFAVOURABLE, actor=centre_manager, refusal_reason=untranslated_reason)
    french = _recap(owner, application, "fr")
    Commission.objects.filter(pk=formation.commission_id).update(return_comment_en="")
    Formation.objects.filter(pk=formation.pk).update(additional_information_en="")
    english = _recap(owner, application, "en")

    assertContains(french, f'<dd lang="fr">{ENERGIE}</dd>', html=True)
    assertContains(french, f'<p lang="fr">{COMMENT_FR}</p>', html=True)
    assertContains(french, f'<p lang="fr">{INFORMATION_FR}</p>', html=True)
    assertNotContains(french, ENERGY)
    for page in (french, english):
        assertContains(page, '<dd lang="fr">Prérequis non satisfaits</dd>', html=True)
    assertContains(english, f'<p lang="fr">{COMMENT_FR}</p>', html=True)
    assertContains(english, f'<p lang="fr">{INFORMATION_FR}</p>', html=True)


def test_the_pages_titled_by_the_formation(owner, application, formation):
    formation.questions.add(Question.objects.create(code="PROJET", label="Projet", candidate_label="Votre projet ?"))
    questions = owner.get(reverse("applications:questions", args=[application.public_id]), language="en")
    transmit = owner.get(reverse("applications:transmit", args=[application.public_id]), language="en")
    apply = owner.get(reverse("applications:apply", args=[application.formation.pk]), language="en")

    assertContains(questions, f'<span lang="en">{ENERGY}</span>', html=True)
    assertContains(transmit, f'<span lang="en">{ENERGY}</span>', html=True)
    assertContains(apply, f"<title>New application – {ENERGY}")
    for page in (questions, transmit, apply):
        assertNotContains(page, ENERGIE)


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        ("apply", "Do you want to apply to the formation '{}'?"),
        ("cancel", "Do you really want to cancel your application to the formation '{}'?"),
        ("confirm", "Do you confirm your application to the formation '{}'?"),
        ("withdraw", "Do you really want to withdraw from the formation '{}'?"),
    ],
)
def test_the_questions_quoting_the_formation_mark_its_french_title(
    owner, applicant, untranslated, name, sentence, django_assert_num_queries
):
    # A sentence of the page quotes the title: untranslated, it is French inside an English sentence (RGAA 8.7).
    args = [untranslated.pk]
    if name != "apply":
        application = ApplicationFactory(candidate=applicant, formation=untranslated, complete=name != "cancel")
        args = [application.public_id]
    if name in ("confirm", "withdraw"):
        favourable = DecisionTypeFactory(avis=Avis.FAVOURABLE)
        DecisionFactory(application=application, decision_type=favourable, validated=True)

    with django_assert_num_queries(10 if name == "apply" else 5):  # as in French (test_confirmation_pages_queries)
        response = owner.get(reverse(f"applications:{name}", args=args), language="en")

    assertContains(response, sentence.format(f'<span lang="fr">{CHIMIE}</span>'))


@pytest.mark.parametrize(("language", "title"), [("en", ENERGY), ("fr", ENERGIE)])
def test_the_dossier_pdf_names_the_formation_in_the_readers_language(application, language, title):
    loaded = Application.objects.select_related("candidate__user", "formation").get(pk=application.pk)

    with translation.override(language), build_dossier_pdf(loaded) as pdf:
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.read())).pages)

    assert f"{application.formation.code} - {title}" in text


# --- Mails: in the candidate's language, whatever the staff member's -------------------------------------------


def test_the_refusal_mail_in_the_candidates_language_and_the_centres_copy_in_french(
    application, reason, centre_manager, django_capture_on_commit_callbacks, mailoutbox
):
    application.candidate.preferred_language = "en"
    application.candidate.save()
    centre = application.formation.centre
    centre.candidate_mail_copy, centre.email = "M", "scolarite@univ.example"
    centre.save()

    with translation.override("fr"), django_capture_on_commit_callbacks(execute=True):
        decide(application, Avis.UNFAVOURABLE, actor=centre_manager, refusal_reason=reason)

    [to_candidate] = [message for message in mailoutbox if message.to == [application.candidate.user.email]]
    [copy] = [message for message in mailoutbox if message.to == ["scolarite@univ.example"]]
    assert f"the formation {ENERGY} (" in to_candidate.body
    assert f"Reason: {REASON_EN}" in to_candidate.body
    assert ENERGIE not in to_candidate.body
    assert f"la formation {ENERGIE} (" in copy.body
    assert REASON_FR in copy.body


def test_the_refusal_mail_falls_back_on_the_french_reason(
    application, centre_manager, django_capture_on_commit_callbacks, mailoutbox
):
    application.candidate.preferred_language = "en"
    application.candidate.save()
    untranslated_reason = RefusalReason.objects.create(code="PRE", label="Prérequis non satisfaits")

    with django_capture_on_commit_callbacks(execute=True):
        decide(application, Avis.UNFAVOURABLE, actor=centre_manager, refusal_reason=untranslated_reason)

    assert "Reason: Prérequis non satisfaits" in mailoutbox[-1].body


@pytest.mark.parametrize(
    ("language", "formation_text", "expected"),
    [
        ("en", "", "Register online from 1 July."),  # the centre's, in English
        ("fr", "", "Inscription en ligne dès le 1er juillet."),
        ("en", "Instructions propres à la formation.", "Own instructions of the formation."),
    ],
)
def test_the_confirmation_mail_gives_the_registration_instructions_in_the_candidates_language(
    applicant, formation, language, formation_text, expected, django_capture_on_commit_callbacks, mailoutbox
):
    applicant.preferred_language = language
    applicant.save()
    formation.centre.registration_instructions = "Inscription en ligne dès le 1er juillet."
    formation.centre.registration_instructions_en = "Register online from 1 July."
    formation.centre.save()
    formation.registration_instructions = formation_text
    formation.registration_instructions_en = "Own instructions of the formation." if formation_text else ""
    formation.save()
    application = ApplicationFactory(candidate=applicant, formation=formation, complete=True)
    DecisionFactory(application=application, decision_type=DecisionTypeFactory(avis=Avis.FAVOURABLE), validated=True)

    with translation.override("fr" if language == "en" else "en"), django_capture_on_commit_callbacks(execute=True):
        services.confirm_application(application=application, actor=applicant.user)

    assert expected in mailoutbox[-1].body


def test_an_english_mail_text_prints_the_commissions_comment_in_english(application, centre_manager):
    application.candidate.preferred_language = "en"
    application.candidate.save()
    MailTemplate.objects.create(
        code="AVIS_DEFAVORABLE",
        language="en",
        subject="About ${formation_title}",
        body="${reason}. ${commission_comment}",
    )
    application = Application.objects.select_related("candidate__user", "formation__centre").get(pk=application.pk)

    with translation.override("fr"):
        staff.validate_decision(
            staff.record_decision(
                application,
                decision_type=decision_type(Avis.UNFAVOURABLE),
                actor=centre_manager,
                refusal_reason=RefusalReason.objects.create(code="CAP", label=REASON_FR, label_en=REASON_EN),
            ),
            actor=centre_manager,
        )

    email = OutboundEmail.objects.get(code="AVIS_DEFAVORABLE")
    assert email.subject == f"About {ENERGY}"
    assert email.body == f"{REASON_EN}. {COMMENT_EN}"


# --- The back office: the English beside the French, optional -----------------------------------------------------


def test_a_centre_manager_gives_their_formation_and_commission_english_texts(
    client, centre_manager, formation, commission
):
    client.force_login(centre_manager)
    formation_url = reverse("admin:offers_formation_change", args=[formation.pk])
    commission_url = reverse("admin:offers_commission_change", args=[commission.pk])
    formation_page = client.get(formation_url, language="en")
    commission_page = client.get(commission_url, language="en")
    for page, names in (
        (formation_page, ("title_en", "additional_information_en", "registration_instructions_en")),
        (commission_page, ("return_comment_en",)),
    ):
        for name in names:
            assertContains(page, f'name="{name}"')
        assertContains(page, "empty: the French text is shown.")

    saved = client.post(formation_url, {**admin_form_data(formation_page), "title_en": "MASTER 1 - SOLAR ENERGY"})
    emptied = client.post(commission_url, {**admin_form_data(commission_page), "return_comment_en": ""})

    assert saved.status_code == 302
    assert emptied.status_code == 302
    formation.refresh_from_db()
    commission.refresh_from_db()
    assert formation.title_en == "MASTER 1 - SOLAR ENERGY"
    assert commission.return_comment_en == ""


@pytest.mark.parametrize(
    ("page", "name"),
    [("offers_centre_add", "registration_instructions_en"), ("offers_refusalreason_add", "label_en")],
)
def test_the_central_office_gives_centres_and_refusal_reasons_english_texts(admin_client, page, name):
    response = admin_client.get(reverse(f"admin:{page}"), language="en")

    assertContains(response, f'name="{name}"')
    assertContains(response, "empty: the French text is shown.")


def test_the_demo_shows_both_english_texts_and_the_french_fallback(client, campaign):
    offers_demo.seed()
    demo_staff.seed()

    response = client.get(CATALOGUE, language="en")

    assertContains(response, f'<span lang="en">{offers_demo.FORMATIONS_IN_ENGLISH["M1ENER"]}</span>', html=True)
    assertContains(response, '<span lang="fr">MASTER 1 - SCIENCES DE LA MER</span>', count=0, html=True)
    assertContains(
        response,
        '<span lang="fr">MASTER 2 - SCIENCES DE LA MER Parc. Molécules bioactives et environnement</span>',
        html=True,
    )
    assert RefusalReason.objects.filter(label_en="").exists()
    assert RefusalReason.objects.exclude(label_en="").exists()


def test_the_review_page_in_english_marks_the_french_refusal_reason(
    client, application, reason, centre_manager, django_assert_num_queries
):
    # Staff pages show the staff's French texts; on an English page each is marked so (RGAA 8.7), the refusal
    # reason of the decisions table included (it was read with the English voice).
    decide(application, Avis.UNFAVOURABLE, actor=centre_manager, refusal_reason=reason)
    client.force_login(centre_manager)

    with django_assert_num_queries(RELEASED_REVIEW_PAGE_QUERIES):
        response = client.get(reverse("admin:applications_application_change", args=[application.pk]), language="en")

    assert response.status_code == 200
    assertContains(response, f'<span lang="fr">{REASON_FR}</span>', html=True)
