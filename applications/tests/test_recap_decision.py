"""The candidate's recap shows what the validated decision says (ecandidat-features §1.6, "Informations détaillées"):
the reason of a refusal, the preselection's date, time and place, and the comment when the decision type shows it
to the candidate; nothing of a decision not yet validated. In the same single query as the application. And the
commission's phone in "Adresse de contact"."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from applications.services import staff
from applications.tests.factories_candidature import decide, decision_type, make_application
from offers.enums import Avis
from offers.models import RefusalReason
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def application(centre, commission, campaign):
    return make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)


def _recap(client, application):
    return client.get(reverse("applications:detail", args=[application.public_id]), language="fr")


def test_a_refusal_shows_its_reason(client, application, centre_manager, django_assert_num_queries):
    reason = RefusalReason.objects.create(code="CAP", label="Capacité d'accueil atteinte")
    decide(application, Avis.UNFAVOURABLE, actor=centre_manager, refusal_reason=reason, comment="Note interne")
    client.force_login(application.candidate.user)

    with django_assert_num_queries(8):  # as before: the details come with the application
        response = _recap(client, application)

    assertContains(response, '<dt>Motif</dt><dd lang="fr">Capacité d&#x27;accueil atteinte</dd>', html=True)
    assertNotContains(response, "Note interne")  # this decision type does not show its comment


def test_a_preselection_shows_its_date_time_and_place(client, application, centre_manager):
    when = timezone.make_aware(datetime.datetime(2026, 6, 3, 9, 30))
    decide(application, Avis.PRESELECTION, actor=centre_manager, preselection_at=when, preselection_place="Salle B204")
    client.force_login(application.candidate.user)

    response = _recap(client, application)

    assertContains(
        response, '<dt>Convocation</dt><dd>Le 03/06/2026 à 09:30, <span lang="fr">Salle B204</span></dd>', html=True
    )


def test_the_comment_is_shown_when_the_decision_type_says_so(client, application, centre_manager):
    kind = decision_type(Avis.FAVOURABLE)
    kind.show_comment = True
    kind.save()
    decision = staff.record_decision(application, decision_type=kind, actor=centre_manager, comment="Bienvenue !")
    staff.validate_decision(decision, actor=centre_manager)
    client.force_login(application.candidate.user)

    response = _recap(client, application)

    assertContains(response, "Commentaire")
    assertContains(response, "Bienvenue !")


def test_nothing_of_a_decision_not_yet_validated(client, application, centre_manager):
    reason = RefusalReason.objects.create(code="NIV", label="Niveau insuffisant")
    staff.record_decision(
        application, decision_type=decision_type(Avis.UNFAVOURABLE), actor=centre_manager, refusal_reason=reason
    )
    client.force_login(application.candidate.user)

    response = _recap(client, application)

    assertNotContains(response, "Niveau insuffisant")
    assertNotContains(response, "Motif")


def test_the_contact_address_gives_the_commissions_phone(client, application):
    commission = application.formation.commission
    commission.phone = "04 68 66 20 00"
    commission.save()
    client.force_login(application.candidate.user)

    response = _recap(client, application)

    assertContains(response, '<a href="tel:0468662000">04 68 66 20 00</a>', html=True)
    assertContains(response, "Tél. :")


def test_the_useful_dates_and_the_formations_information(client, application, django_assert_num_queries):
    formation = application.formation
    formation.preanalysis_on = formation.closes_on + datetime.timedelta(days=1)
    formation.jury_on = formation.return_deadline + datetime.timedelta(days=3)
    formation.publication_on = formation.jury_on + datetime.timedelta(days=2)
    formation.additional_information = "Réunion d'information le 12 mai, amphi A."
    formation.full_clean()
    formation.save()
    client.force_login(application.candidate.user)

    with django_assert_num_queries(7):  # as without these dates: the formation's row comes with the application
        response = _recap(client, application)

    for label, day in (
        ("Date de pré-analyse", formation.preanalysis_on),
        ("Date du jury", formation.jury_on),
        ("Date de publication", formation.publication_on),
    ):
        assertContains(response, f"<dt>{label}</dt><dd>{day:%d/%m/%Y}</dd>", html=True)
    assertContains(response, "Informations complémentaires")
    assertContains(response, "Réunion d&#x27;information le 12 mai, amphi A.")


def test_dates_not_given_are_not_shown(client, application):
    client.force_login(application.candidate.user)

    response = _recap(client, application)

    assertNotContains(response, "Date du jury")
    assertNotContains(response, "Informations complémentaires")
    assertContains(response, "Date limite de retour")
