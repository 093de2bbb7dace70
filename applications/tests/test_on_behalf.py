"""Issue 12: staff on a candidate's behalf: creating the candidate's e-mail account (the candidate chooses a
password through the usual reset mail) and creating an application for a candidate."""

import datetime

import pytest
from allauth.account.models import EmailAddress
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from accounts import services as account_services
from accounts.models import CandidateAccount, User
from applications.enums import DecisionAction, DossierStatus, EventKind
from applications.models import Application
from applications.services import staff
from applications.tests.factories import CandidateFactory
from applications.tests.factories_candidature import complete_candidate, decision_type
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import OutboundEmail
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

ACCOUNT = "admin:applications_application_on_behalf_account"
APPLY = "admin:applications_application_on_behalf"


@pytest.fixture
def formation(centre, commission):
    today = timezone.localdate()
    # Closed to candidates since yesterday: staff still apply for a candidate (paper application, phone call).
    return FormationFactory(
        centre=centre,
        commission=commission,
        code="MINFO",
        opens_on=today - datetime.timedelta(days=30),
        closes_on=today - datetime.timedelta(days=1),
    )


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("centre_manager", 200),
        ("other_centre_manager", 200),  # manages another centre: may create accounts, apply to its own formations
        ("commission_member", 404),  # the readers are never offered the pages: not found, as an outsider
        ("central_manager", 200),
        ("read_only_staff", 404),
        ("candidate", 302),
    ],
)
@pytest.mark.parametrize("page", [ACCOUNT, APPLY])
def test_persona_matrix(client, persona, expected, page, request):
    user = request.getfixturevalue(persona)
    client.force_login(getattr(user, "user", user))

    assert client.get(reverse(page)).status_code == expected


@pytest.mark.parametrize("page", [ACCOUNT, APPLY])
def test_anonymous_goes_to_login(client, page):
    response = client.get(reverse(page))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.parametrize("page", [ACCOUNT, APPLY])
def test_page_queries(client, centre_manager, formation, page, django_assert_num_queries):
    FormationFactory(centre=formation.centre, commission=formation.commission, code="MDROIT")
    client.force_login(centre_manager)

    with django_assert_num_queries(7 if page == ACCOUNT else 8):
        response = client.get(reverse(page), language="fr")

    assert response.status_code == 200


# --- the account ------------------------------------------------------------------------------------------------


def test_manager_creates_an_account_and_the_candidate_chooses_a_password(client, centre_manager, campaign, settings):
    settings.SITE_URL = "https://ecandidat.univ.example"
    client.force_login(centre_manager)
    data = {"email": "Nina.Roux@example.org", "last_name": "Roux", "first_name": "Nina"}

    response = client.post(reverse(ACCOUNT), data, follow=True, language="fr")

    user = User.objects.get(email="nina.roux@example.org")
    assert user.campaign == campaign
    assert not user.has_usable_password()
    assert not EmailAddress.objects.get(user=user).verified  # the candidate validates it by the link
    assertContains(response, f"Compte {user.username} créé")
    mail = OutboundEmail.objects.get(to="nina.roux@example.org")
    assert mail.code == "CPT_MIN_CREATE"  # accounts/tests/test_staff_created_account_mail.py
    assert user.username in mail.body
    link = next(line for line in mail.body.splitlines() if line.startswith("https://ecandidat.univ.example/"))
    # The link validates the address, then opens allauth's "choose a password" page.
    client.logout()
    page = client.post(link.removeprefix("https://ecandidat.univ.example"), follow=True)
    assertContains(page, 'name="password1"')


def test_the_same_address_twice_is_refused_next_to_the_field(client, centre_manager, campaign):
    client.force_login(centre_manager)
    data = {"email": "nina@example.org", "last_name": "Roux", "first_name": "Nina"}
    client.post(reverse(ACCOUNT), data)

    response = client.post(reverse(ACCOUNT), {**data, "email": "NINA@example.org"}, language="fr")

    assertContains(response, "Un compte de cette campagne utilise déjà cette adresse mail.")
    assert User.objects.filter(email__iexact="nina@example.org").count() == 1


def test_invalid_address_changes_nothing(client, centre_manager, campaign):
    client.force_login(centre_manager)

    response = client.post(reverse(ACCOUNT), {"email": "pas-une-adresse", "last_name": "R", "first_name": "N"})

    assert response.status_code == 200
    assert not User.objects.filter(campaign=campaign).exists()
    assert not OutboundEmail.objects.exists()


def test_a_staff_accounts_validated_address_is_refused_next_to_the_field(
    client, centre_manager, central_manager, campaign
):
    # allauth keeps a validated address unique: the account's own validated address was a 500 (IntegrityError).
    EmailAddress.objects.create(user=central_manager, email="marie.dupont@univ.example", primary=False, verified=True)
    client.force_login(centre_manager)
    data = {"email": "marie.dupont@univ.example", "last_name": "Dupont", "first_name": "Marie"}

    response = client.post(reverse(ACCOUNT), data, language="fr")

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "Cette adresse mail est celle d'un compte du personnel : le candidat doit en utiliser une autre."
    ]
    assert not User.objects.filter(campaign=campaign).exists()
    assert not OutboundEmail.objects.exists()


def test_the_same_account_created_twice_at_once_is_refused_next_to_the_field(
    client, centre_manager, campaign, monkeypatch
):
    # A double click, two staff members: the second request passed the check before the first one saved.
    client.force_login(centre_manager)
    data = {"email": "nina@example.org", "last_name": "Roux", "first_name": "Nina"}
    assert client.post(reverse(ACCOUNT), data).status_code == 302
    monkeypatch.setattr(account_services, "email_taken_in_campaign", lambda **kwargs: False)

    response = client.post(reverse(ACCOUNT), data, language="fr")

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == ["Un compte de cette campagne utilise déjà cette adresse mail."]
    assert User.objects.filter(email__iexact="nina@example.org").count() == 1
    assert OutboundEmail.objects.count() == 1


def test_the_account_created_by_staff_is_in_its_history(client, centre_manager, campaign):
    client.force_login(centre_manager)
    data = {"email": "nina@example.org", "last_name": "Roux", "first_name": "Nina"}

    client.post(reverse(ACCOUNT), data, language="en")

    user = User.objects.get(email="nina@example.org")
    entry = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(CandidateAccount, for_concrete_model=False),
        object_id=str(user.pk),
    )
    # In the institution's language, whatever the staff member's.
    assert (entry.user, entry.change_message) == (centre_manager, "Compte créé par le personnel pour le candidat")


@pytest.mark.parametrize("field", ["last_name", "first_name"])
def test_invisible_characters_in_the_names_are_refused(client, centre_manager, campaign, field):
    client.force_login(centre_manager)
    data = {"email": "nina@example.org", "last_name": "Roux", "first_name": "Nina"}

    response = client.post(reverse(ACCOUNT), {**data, field: data[field] + "\u202e"}, language="fr")

    assert response.status_code == 200
    refusal = (
        "Ce texte contient un caractère invisible (de contrôle ou de sens d'écriture) : retirez-le, puis enregistrez "
        "à nouveau."
    )
    assert response.context["form"].errors[field] == [refusal]
    assert not User.objects.filter(campaign=campaign).exists()


# --- the application --------------------------------------------------------------------------------------------


def test_manager_applies_for_a_candidate_outside_the_window(client, centre_manager, formation, campaign):
    candidate = complete_candidate(user__campaign=campaign)
    client.force_login(centre_manager)

    response = client.post(
        reverse(APPLY), {"numero_dossier": candidate.user.username.lower(), "formation": formation.pk}
    )

    application = Application.objects.get(candidate=candidate)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:applications_application_change", args=[application.pk])
    assert (application.created_by, application.formation) == (centre_manager, formation)
    event = application.events.get()
    assert (event.kind, event.actor, event.comment) == (
        EventKind.CREATED,
        centre_manager,
        "Créée par un gestionnaire pour le candidat",
    )
    mail = OutboundEmail.objects.get()
    assert mail.code == "CANDIDATURE"
    assert "Déposez vos pièces justificatives et transmettez votre candidature avant le" in mail.body


def test_manager_proposes_an_admission(client, centre_manager, formation, campaign):
    formation.favourable_decision_type = decision_type(Avis.FAVOURABLE)
    formation.save()
    formation.commission.alert_mode, formation.commission.email = "M", "commission.minfo@univ.example"
    formation.commission.save()
    candidate = complete_candidate(user__campaign=campaign)
    client.force_login(centre_manager)

    response = client.post(
        reverse(APPLY), {"numero_dossier": candidate.user.username, "formation": formation.pk, "kind": "proposal"}
    )

    application = Application.objects.get(candidate=candidate)
    assert response.status_code == 302
    assert application.dossier_status == DossierStatus.COMPLETE
    decision = application.decisions.get()
    assert (decision.action, decision.decision_type, decision.validated_by) == (
        DecisionAction.PROPOSAL,
        formation.favourable_decision_type,
        centre_manager,
    )
    kinds = list(application.events.order_by("id").values_list("kind", flat=True))
    assert kinds == [EventKind.CREATED, EventKind.STATUS, EventKind.ADMISSION_PROPOSED]
    mails = sorted(OutboundEmail.objects.values_list("code", "to"))
    assert mails == [
        ("AVIS_FAVORABLE", candidate.user.email),
        ("CANDIDATURE", candidate.user.email),
        ("COMMISSION_ALERT_PROPOSITION", "commission.minfo@univ.example"),
    ]  # no "dossier complete" mail: the decision says more
    # Regression: the application mail of a proposal asked to upload the pieces and transmit before the deadline
    # ("Un dossier non transmis ne sera pas examiné"), while the decision mail asked to confirm.
    body = OutboundEmail.objects.get(code="CANDIDATURE").body
    assert (
        "Cette admission vous est proposée : vous n'avez aucune pièce à déposer ni candidature à transmettre." in body
    )
    assert "transmettez" not in body


def test_with_the_two_person_rule_a_proposal_waits_for_someone_elses_validation(
    client, settings, centre_manager, central_manager, formation, campaign
):
    """The rule covers every decision a person gives: the proposal's favourable decision is entered, not released,
    and mailed once someone else validates it (it was validated and mailed by its author alone)."""
    settings.DECISION_TWO_PERSON_RULE = True
    formation.favourable_decision_type = decision_type(Avis.FAVOURABLE)
    formation.save()
    candidate = complete_candidate(user__campaign=campaign)
    client.force_login(centre_manager)

    response = client.post(
        reverse(APPLY),
        {"numero_dossier": candidate.user.username, "formation": formation.pk, "kind": "proposal"},
        follow=True,
    )

    decision = Application.objects.get(candidate=candidate).decisions.get()
    assert (decision.created_by, decision.validated_at) == (centre_manager, None)
    assert "AVIS_FAVORABLE" not in OutboundEmail.objects.values_list("code", flat=True)
    assertContains(response, "its favourable decision waits for someone else")
    with pytest.raises(BusinessRuleError, match="Two-person rule"):
        staff.validate_decision(decision, actor=centre_manager)

    staff.validate_decision(decision, actor=central_manager)

    assert OutboundEmail.objects.filter(code="AVIS_FAVORABLE", to=candidate.user.email).count() == 1


def test_a_proposal_without_the_formations_favourable_decision_creates_nothing(
    client, centre_manager, formation, campaign
):
    candidate = complete_candidate(user__campaign=campaign)
    client.force_login(centre_manager)

    response = client.post(
        reverse(APPLY),
        {"numero_dossier": candidate.user.username, "formation": formation.pk, "kind": "proposal"},
        language="fr",
    )

    assertContains(
        response, "Une proposition d&#x27;admission demande l&#x27;avis favorable par défaut de la formation"
    )
    assert not Application.objects.exists()
    assert not OutboundEmail.objects.exists()


def test_another_centres_formation_is_not_offered(client, other_centre_manager, formation, campaign):
    candidate = complete_candidate(user__campaign=campaign)
    client.force_login(other_centre_manager)

    response = client.post(reverse(APPLY), {"numero_dossier": candidate.user.username, "formation": formation.pk})

    assert response.status_code == 200
    assert not Application.objects.exists()


def test_unknown_number_and_incomplete_dossier(client, centre_manager, formation, campaign):
    client.force_login(centre_manager)

    response = client.post(reverse(APPLY), {"numero_dossier": "ZZZZ9999", "formation": formation.pk}, language="fr")
    assertContains(response, "Aucun candidat de la campagne active n&#x27;a ce numéro de dossier")
    bare = CandidateFactory(user__campaign=campaign)  # no address, no baccalaureate
    response = client.post(
        reverse(APPLY), {"numero_dossier": bare.user.username, "formation": formation.pk}, language="fr"
    )
    assertContains(response, "pas assez complet")
    assert not Application.objects.exists()


def test_list_links_only_for_managers(client, centre_manager, read_only_staff):
    client.force_login(centre_manager)
    assertContains(client.get(reverse("admin:applications_application_changelist")), reverse(APPLY))
    client.force_login(read_only_staff)
    assertNotContains(client.get(reverse("admin:applications_application_changelist")), reverse(APPLY))
