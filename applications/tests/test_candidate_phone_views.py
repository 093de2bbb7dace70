"""Issue 13, server side: the transmission asks first, the recap's sentences follow the dossier's state, forms carry
autocomplete tokens and an error summary, page titles name the formation and the errors, the stepper names steps,
"Créer un compte" asks the situation first."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.tests.ent import ent_providers
from accounts.tests.factories import CandidateUserFactory
from applications.enums import DossierStatus, PieceStatus
from applications.tests.factories import CandidateFactory
from applications.tests.factories_candidature import ApplicationFactory, PieceSubmissionFactory, complete_candidate
from offers.models import ComplementaryForm
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def applicant(campaign):
    return complete_candidate(user__campaign=campaign)


@pytest.fixture
def application(applicant, commission):
    formation = FormationFactory(centre=commission.centre, commission=commission, title="MASTER 1 - ENERGIE")
    return ApplicationFactory(candidate=applicant, formation=formation)


@pytest.fixture
def owner(client, applicant):
    client.force_login(applicant.user)
    client.language = "fr"
    return client


@pytest.fixture
def letter(application):
    piece = PieceTypeFactory(is_common=True, is_unique=True, label="Lettre de motivation")
    PieceSubmissionFactory(application=application, piece_type=piece)
    return piece


def _transmit_url(application):
    return reverse("applications:transmit", args=[application.public_id])


def test_transmit_first_shows_what_will_be_sent_and_that_pieces_lock(
    owner, application, letter, django_assert_num_queries
):
    # session, user; in the request's savepoint: application, piece types, submissions with their documents, forms;
    # then the session save (savepoint, update, release)
    with django_assert_num_queries(9):
        response = owner.get(_transmit_url(application))

    assertContains(response, "<title>Transmettre ma candidature – MASTER 1 - ENERGIE · eCandidat", html=False)
    assertContains(response, "Ce qui sera envoyé à la commission")
    assertContains(response, "Lettre de motivation")
    assertContains(response, "vos pièces justificatives sont verrouillées")
    assertContains(
        response, '<button type="submit" class="button button--success">Transmettre ma candidature</button>', html=True
    )
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.WAITING


def test_transmit_page_says_why_not_when_a_piece_is_missing(owner, application):
    PieceTypeFactory(is_common=True, is_unique=True, label="Relevé de notes")

    response = owner.get(_transmit_url(application))

    assertContains(response, 'role="alert"')
    assertNotContains(response, '<button type="submit" class="button button--success">')


def test_transmit_result_says_what_happened(owner, application, letter):
    response = owner.post(_transmit_url(application), follow=True)

    assertContains(
        response, "Votre candidature à MASTER 1 - ENERGIE a été transmise : la commission va l&#x27;examiner."
    )
    assertContains(response, "Votre candidature a été transmise le")
    assertNotContains(response, "Une fois ceci effectué vous devrez transmettre votre candidature")
    assertNotContains(response, "Transmettre ma candidature</button>")  # no grey button left once transmitted


def test_other_candidate_gets_404_on_the_transmit_page(client, application, campaign):
    client.force_login(complete_candidate(user__campaign=campaign, user__email="autre@example.org").user)

    assert client.get(_transmit_url(application)).status_code == 404


def test_recap_of_an_incomplete_dossier_asks_to_replace_and_transmit_again(owner, application, letter):
    application.dossier_status = DossierStatus.INCOMPLETE
    application.save()
    refused = PieceTypeFactory(is_common=True, is_unique=True, label="Relevé de notes")
    PieceSubmissionFactory(application=application, piece_type=refused, status=PieceStatus.REFUSED, comment="flou")

    response = owner.get(reverse("applications:detail", args=[application.public_id]))

    assertContains(response, "Votre dossier est incomplet : remplacez les pièces justificatives refusées")
    assertContains(response, f'<a href="#piece-{refused.pk}"><span lang="fr">Relevé de notes</span></a>', html=True)
    assertContains(response, "<title>Récapitulatif de votre candidature – MASTER 1 - ENERGIE · eCandidat", html=False)


def test_recap_without_forms_has_no_tab_bar(owner, application, letter):
    response = owner.get(reverse("applications:detail", args=[application.public_id]))

    assertNotContains(response, 'class="tabs"')


def test_withdrawn_application_no_longer_points_to_the_forms(owner, application):
    form = ComplementaryForm.objects.create(
        code="F1", survey_id=1, label="Q", candidate_label="Questionnaire", url="https://x"
    )
    application.formation.forms.add(form)
    application.dossier_status = DossierStatus.RECEIVED
    application.accepted = False
    application.answered_at = application.created_at
    application.save()

    response = owner.get(reverse("applications:detail", args=[application.public_id]))

    assertNotContains(response, "Formulaires complémentaires »")
    assertNotContains(response, "N'oubliez pas")


def test_personal_details_fields_say_their_purpose(owner):
    html = owner.get(reverse("applications:personal_details")).content.decode()

    assert 'type="tel" name="phone"' in html
    assert 'autocomplete="tel"' in html
    assert 'autocomplete="mobile tel"' in html
    assert 'autocomplete="given-name"' in html
    assert 'autocomplete="family-name"' in html
    assert 'type="date" name="birth_date"' in html
    assert 'autocomplete="bday"' in html


def test_address_fields_say_their_purpose(owner):
    html = owner.get(reverse("applications:address")).content.decode()

    for token in ("address-line1", "address-line2", "postal-code", "address-level2", "country"):
        assert f'autocomplete="{token}"' in html


def test_form_errors_are_summarised_on_top_with_links_and_in_the_title(owner):
    response = owner.post(reverse("applications:address"), {"country": "100", "line1": ""})

    html = response.content.decode()
    assert html.index('id="error-summary"') < html.index('<div class="field">')
    assertContains(response, "<title>Erreur : Adresse · eCandidat", html=False)
    assertContains(response, 'role="alert" tabindex="-1"')
    assertContains(response, 'href="#id_line1"')
    assertContains(response, "js/forms.js")


def test_stepper_names_the_steps(client, campaign):
    client.force_login(CandidateUserFactory(campaign=campaign))
    client.language = "fr"
    client.get(reverse("applications:personal_details"))

    response = client.get(reverse("applications:personal_details"))

    assertContains(response, "Étape 1 sur 3 : Informations perso.")
    assertContains(response, '<span aria-current="step">Informations perso.</span>', html=True)


def test_create_an_account_asks_the_situation_first(client, settings, django_assert_num_queries):
    settings.ENT_SERVER_URL = "https://ent.example/identity/o"
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(settings.ENT_SERVER_URL)
    client.language = "fr"

    # the ENT button's provider: the site and the social app (settings-defined apps are looked up too)
    with django_assert_num_queries(2):
        response = client.get(reverse("signup_choice"))

    assertContains(response, "Je suis étudiant")
    assertContains(response, "Se connecter avec l'ENT")
    assertContains(response, f'href="{reverse("account_signup")}"')
    assertContains(response, "Créer un compte avec mon adresse mail")
    assert 'href="/creer-un-compte/"' in client.get(reverse("home")).content.decode()


def test_apply_refusal_links_to_the_missing_step(client, campaign, commission, django_assert_num_queries):
    candidate = CandidateFactory(user__campaign=campaign)  # personal details only: no address yet
    formation = FormationFactory(centre=commission.centre, commission=commission)
    client.force_login(candidate.user)
    client.language = "fr"

    # session, user, savepoint, formation, dossier, its applications, release; session save (3)
    with django_assert_num_queries(7):
        response = client.get(reverse("applications:apply", args=[formation.pk]))

    assertContains(response, "Renseignez votre adresse")
    link = f'<a class="button button--primary" href="{reverse("applications:address")}">'
    assertContains(response, link + "Compléter cette étape de mon dossier</a>", html=True)


def test_logged_out_catalogue_says_to_log_in_to_apply(client, campaign):
    FormationFactory(title="MASTER 1 - ENERGIE")
    client.language = "fr"

    response = client.get(reverse("offers:catalogue"))

    assertContains(response, "Pour candidater, connectez-vous d'abord")
    assertContains(response, f'href="{reverse("signup_choice")}"')


def test_english_mode_marks_french_database_content(owner, application, letter):
    owner.language = "en"
    PieceSubmissionFactory(
        application=application,
        piece_type=PieceTypeFactory(is_common=True, is_unique=True, label="Relevé de notes"),
        status=PieceStatus.REFUSED,
        comment="scan illisible",
    )

    response = owner.get(reverse("applications:detail", args=[application.public_id]))

    assertContains(response, '<html lang="en">', html=False)
    assertContains(response, '<dd lang="fr">MASTER 1 - ENERGIE</dd>', html=True)
    assertContains(response, '<span lang="fr">Relevé de notes</span>', html=True)
    assertContains(response, '<span lang="fr">scan illisible</span>', html=True)
