"""Issue 12: désistement after confirmation (candidate and staff on the candidate's behalf) and the type de
traitement (accès direct). Services, hooks, candidate pages and back-office operations with the persona matrix."""

import datetime

import pytest
from django.urls import reverse
from django.utils import translation
from pytest_django.asserts import assertContains, assertNotContains

from applications.enums import DecisionAction, DossierStatus, EventKind
from applications.models import Application, ApplicationEvent
from applications.services import candidature as services
from applications.services import staff
from applications.signals import application_confirmed, confirmation_withdrawn
from applications.tests.factories_candidature import (
    ApplicationFactory,
    DecisionFactory,
    DecisionTypeFactory,
    complete_candidate,
)
from applications.workflow import Role
from ecandidat.exceptions import BusinessRuleError, InvalidTransition
from ecandidat.models import OutboundEmail
from offers.enums import Avis, TreatmentType
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def formation(commission):
    return FormationFactory(
        centre=commission.centre,
        commission=commission,
        code="MINFO",
        auto_waiting_list=True,
        favourable_decision_type=DecisionTypeFactory(avis=Avis.FAVOURABLE),
    )


@pytest.fixture
def applicant(campaign):
    return complete_candidate(user__campaign=campaign)


@pytest.fixture
def favourable(applicant, formation):
    application = ApplicationFactory(candidate=applicant, formation=formation, complete=True)
    DecisionFactory(application=application, decision_type=DecisionTypeFactory(avis=Avis.FAVOURABLE), validated=True)
    return application


@pytest.fixture
def confirmed(favourable):
    return services.confirm_application(application=favourable, actor=favourable.candidate.user)


@pytest.fixture
def waiting(formation, campaign):
    application = ApplicationFactory(candidate=complete_candidate(user__campaign=campaign), formation=formation)
    DecisionFactory(
        application=application,
        decision_type=DecisionTypeFactory(avis=Avis.COMPLEMENTARY_LIST),
        rank=1,
        validated=True,
    )
    return application


def codes():
    return sorted(OutboundEmail.objects.values_list("code", flat=True))


@pytest.fixture
def received():
    """What the two hooks were sent with."""
    calls = []

    def on_confirmed(sender, **kwargs):
        calls.append(("confirmed", kwargs["application"].pk, kwargs["actor"].pk, None))

    def on_withdrawn(sender, **kwargs):
        calls.append(("withdrawn", kwargs["application"].pk, kwargs["actor"].pk, kwargs["reason"]))

    application_confirmed.connect(on_confirmed, weak=False)
    confirmation_withdrawn.connect(on_withdrawn, weak=False)
    yield calls
    application_confirmed.disconnect(on_confirmed)
    confirmation_withdrawn.disconnect(on_withdrawn)


# --- désistement after confirmation: services -------------------------------------------------------------------


def test_withdrawing_after_confirming_frees_the_place_and_promotes(favourable, waiting, received, mailoutbox):
    user = favourable.candidate.user
    services.confirm_application(application=favourable, actor=user)
    OutboundEmail.objects.all().delete()

    services.withdraw_application(application=favourable, actor=user, reason="ADM")

    favourable.refresh_from_db()
    assert (favourable.accepted, favourable.withdrawal_reason, favourable.answered_by) == (False, "ADM", user)
    event = favourable.events.get(kind=EventKind.WITHDRAWN_AFTER_CONFIRMATION)
    assert (event.actor, event.comment) == (user, "Admis(e) dans une autre formation")
    promoted = waiting.decisions.order_by("-id").first()
    assert (promoted.decision_type.avis, promoted.action) == (Avis.FAVOURABLE, DecisionAction.WAITING_LIST_PROMOTION)
    assert codes() == [
        "AVIS_FAVORABLE",
        "CANDIDATURE_DESIST",
        "COMMISSION_ALERT_DESISTEMENT",
        "COMMISSION_ALERT_LISTE_PRINC",
    ]
    desist = OutboundEmail.objects.get(code="CANDIDATURE_DESIST")
    assert "Admis(e) dans une autre formation" in desist.body  # the candidate's language: French
    alert = OutboundEmail.objects.get(code="COMMISSION_ALERT_DESISTEMENT")
    assert "avait confirmé" in alert.body
    assert received == [
        ("confirmed", favourable.pk, user.pk, None),
        ("withdrawn", favourable.pk, user.pk, "ADM"),
    ]


def test_a_plain_withdrawal_does_not_send_the_confirmation_hook(favourable, received):
    services.withdraw_application(application=favourable, actor=favourable.candidate.user, reason="PER")

    assert received == []
    assert favourable.events.get().kind == EventKind.WITHDRAWN


def test_withdrawing_after_confirming_needs_a_known_reason(confirmed):
    for reason in ("", "XYZ"):
        with pytest.raises(BusinessRuleError, match="Choose the reason for the withdrawal."):
            services.withdraw_application(application=confirmed, actor=confirmed.candidate.user, reason=reason)

    confirmed.refresh_from_db()
    assert confirmed.accepted is True
    assert not confirmed.events.filter(kind=EventKind.WITHDRAWN_AFTER_CONFIRMATION).exists()


def test_a_failing_hook_rolls_the_withdrawal_back(confirmed, waiting):
    def refuse(sender, **kwargs):
        raise RuntimeError("OPI unreachable")

    confirmation_withdrawn.connect(refuse, weak=False)
    try:
        with pytest.raises(RuntimeError):
            services.withdraw_application(application=confirmed, actor=confirmed.candidate.user, reason="FIN")
    finally:
        confirmation_withdrawn.disconnect(refuse)

    confirmed.refresh_from_db()
    assert confirmed.accepted is True
    assert waiting.decisions.count() == 1
    assert not OutboundEmail.objects.filter(code="CANDIDATURE_DESIST").exists()


def test_staff_withdraw_on_behalf_after_the_date_with_a_reason(favourable, centre_manager, waiting, time_machine):
    time_machine.move_to(favourable.formation.confirmation_date + datetime.timedelta(days=3))
    with pytest.raises(InvalidTransition, match="has passed"):
        services.withdraw_application(application=favourable, actor=favourable.candidate.user, reason="PER")
    with pytest.raises(BusinessRuleError, match="Choose the reason"):
        services.withdraw_application(application=favourable, actor=centre_manager, role=Role.STAFF)

    services.withdraw_application(
        application=favourable, actor=centre_manager, role=Role.STAFF, reason="PER", comment="Appel du 12/07"
    )

    event = favourable.events.get(kind=EventKind.WITHDRAWN)
    assert (event.actor, event.comment) == (centre_manager, "Raisons personnelles — Appel du 12/07")
    assert waiting.decisions.validated().newest_first().first().decision_type.avis == Avis.FAVOURABLE


def test_staff_confirm_on_behalf_after_the_date(favourable, centre_manager, received, time_machine):
    time_machine.move_to(favourable.formation.confirmation_date + datetime.timedelta(days=3))

    services.confirm_application(application=favourable, actor=centre_manager, role=Role.STAFF)

    favourable.refresh_from_db()
    assert (favourable.accepted, favourable.answered_by) == (True, centre_manager)
    assert received == [("confirmed", favourable.pk, centre_manager.pk, None)]


@pytest.mark.parametrize("operation", ["confirm", "withdraw"])
def test_staff_recording_an_answer_given_already_read_that_the_candidate_answered(
    favourable, centre_manager, operation
):
    # A double click, or a colleague who recorded it first: "Vous avez déjà répondu" spoke to the staff member.
    def answer():
        if operation == "confirm":
            services.confirm_application(application=favourable, actor=centre_manager, role=Role.STAFF)
        else:
            services.withdraw_application(application=favourable, actor=centre_manager, role=Role.STAFF, reason="PER")

    answer()

    with translation.override("fr"), pytest.raises(InvalidTransition) as refused:
        answer()
    assert str(refused.value) == "Le candidat a déjà répondu : ce choix ne peut plus être modifié."
    with translation.override("fr"), pytest.raises(InvalidTransition) as refused:
        services.confirm_application(application=favourable, actor=favourable.candidate.user)
    assert str(refused.value) == "Vous avez déjà répondu : ce choix ne peut plus être modifié."


# --- désistement after confirmation: the candidate's pages ------------------------------------------------------


@pytest.fixture
def owner(client, applicant):
    client.force_login(applicant.user)
    return client


def _url(name, application):
    return reverse(f"applications:{name}", args=[application.public_id])


def test_recap_offers_withdraw_after_confirming(owner, confirmed, django_assert_num_queries):
    with django_assert_num_queries(8):
        response = owner.get(_url("detail", confirmed), language="fr")

    assertContains(response, "Vous avez confirmé cette candidature.")
    assertContains(response, _url("withdraw", confirmed))
    assertNotContains(response, _url("confirm", confirmed))


def test_withdraw_page_lists_the_reasons(owner, confirmed, django_assert_num_queries):
    with django_assert_num_queries(5):
        response = owner.get(_url("withdraw", confirmed), language="fr")

    assertContains(response, "Admis(e) dans une autre formation")
    assertContains(response, "annule votre confirmation")


def test_withdraw_without_a_reason_says_so_next_to_the_field(owner, confirmed):
    response = owner.post(_url("withdraw", confirmed), {}, language="fr")

    assert response.status_code == 200
    assertContains(response, "Choisissez le motif du désistement.")
    confirmed.refresh_from_db()
    assert confirmed.accepted is True


def test_candidate_withdraws_after_confirming(owner, confirmed, waiting, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(_url("withdraw", confirmed), {"reason": "GEO"}, follow=True)

    assertContains(response, "You have withdrawn from this formation.")
    confirmed.refresh_from_db()
    assert (confirmed.accepted, confirmed.withdrawal_reason) == (False, "GEO")
    assert waiting.decisions.count() == 2
    # Once withdrawn, nothing more to answer.
    assertNotContains(owner.get(_url("detail", confirmed)), _url("withdraw", confirmed))


def test_other_candidate_cannot_withdraw_a_confirmed_application(client, other_candidate, confirmed):
    client.force_login(other_candidate.user)

    assert client.post(_url("withdraw", confirmed), {"reason": "GEO"}).status_code == 404
    confirmed.refresh_from_db()
    assert confirmed.accepted is True


# --- back office: withdrawal on the candidate's behalf, type de traitement --------------------------------------


def operation_url(application, name):
    return reverse("admin:applications_application_operation", args=[application.pk, name])


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),
        ("centre_manager", 200),
        ("other_centre_manager", 404),
        ("commission_member", 403),
        ("central_manager", 200),
        ("read_only", 403),
    ],
    indirect=["persona"],
)
@pytest.mark.parametrize("name", ["withdraw_on_behalf", "treatment_type"])
def test_on_behalf_operations_persona_matrix(client, persona, confirmed, name, expected):
    client.force_login(persona)

    assert client.get(operation_url(confirmed, name)).status_code == expected
    client.post(operation_url(confirmed, name), {"reason": "PER", "treatment_type": "AD"})

    confirmed.refresh_from_db()
    changed = (confirmed.accepted is False) if name == "withdraw_on_behalf" else confirmed.treatment_type == "AD"
    # The treatment type cannot change after a validated decision, whoever asks.
    assert changed is (expected == 200 and name == "withdraw_on_behalf")


@pytest.mark.parametrize("name", ["withdraw_on_behalf", "treatment_type"])
def test_on_behalf_operations_anonymous(client, confirmed, name):
    response = client.get(operation_url(confirmed, name))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.parametrize("name", ["withdraw_on_behalf", "treatment_type"])
def test_on_behalf_operation_page_queries(client, centre_manager, confirmed, name, django_assert_num_queries):
    client.force_login(centre_manager)

    with django_assert_num_queries(9):
        response = client.get(operation_url(confirmed, name), language="fr")

    assert response.status_code == 200


def test_manager_records_a_withdrawal_after_confirmation(client, centre_manager, confirmed, waiting):
    client.force_login(centre_manager)

    response = client.post(
        operation_url(confirmed, "withdraw_on_behalf"), {"reason": "", "comment": "x"}, language="fr"
    )
    assertContains(response, "Choisissez le motif du désistement.")
    client.post(operation_url(confirmed, "withdraw_on_behalf"), {"reason": "FIN", "comment": "Courrier reçu"})

    confirmed.refresh_from_db()
    assert (confirmed.accepted, confirmed.answered_by) == (False, centre_manager)
    event = confirmed.events.get(kind=EventKind.WITHDRAWN_AFTER_CONFIRMATION)
    assert (event.actor, event.comment) == (centre_manager, "Raisons financières — Courrier reçu")
    assert waiting.decisions.count() == 2


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),
        ("centre_manager", 200),
        ("other_centre_manager", 404),
        ("commission_member", 403),
        ("central_manager", 200),
        ("read_only", 403),
    ],
    indirect=["persona"],
)
def test_confirm_on_behalf_persona_matrix(client, persona, favourable, expected):
    client.force_login(persona)

    assert client.get(operation_url(favourable, "confirm_on_behalf")).status_code == expected
    client.post(operation_url(favourable, "confirm_on_behalf"), {"comment": "Appel du 12/07"})

    favourable.refresh_from_db()
    assert (favourable.accepted is True) is (expected == 200)


def test_confirm_on_behalf_page_queries(client, centre_manager, favourable, django_assert_num_queries):
    client.force_login(centre_manager)

    with django_assert_num_queries(9):
        response = client.get(operation_url(favourable, "confirm_on_behalf"), language="fr")

    assertContains(response, "Enregistrer une confirmation pour le candidat")
    assertContains(response, "Comment le candidat a confirmé")


def test_manager_records_a_confirmation_after_the_date_and_the_candidate_is_mailed(
    client, centre_manager, favourable, received, time_machine, django_capture_on_commit_callbacks
):
    time_machine.move_to(favourable.formation.confirmation_date + datetime.timedelta(days=3))
    client.force_login(centre_manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            operation_url(favourable, "confirm_on_behalf"),
            {"comment": "Courrier reçu le 12/07"},
            language="fr",
        )

    assert response.status_code == 302
    favourable.refresh_from_db()
    assert (favourable.accepted, favourable.answered_by) == (True, centre_manager)
    event = favourable.events.get(kind=EventKind.CONFIRMED)
    assert (event.actor, event.comment) == (centre_manager, "Courrier reçu le 12/07")
    assert "CANDIDATURE_CONFIRM" in codes()
    assert received == [("confirmed", favourable.pk, centre_manager.pk, None)]


def test_confirm_on_behalf_without_a_favourable_decision_says_why_and_changes_nothing(client, centre_manager, waiting):
    client.force_login(centre_manager)

    response = client.post(operation_url(waiting, "confirm_on_behalf"), {"comment": "x"}, language="fr", follow=True)

    assertContains(response, "Seule une candidature ayant reçu un avis favorable peut être confirmée")
    waiting.refresh_from_db()
    assert waiting.accepted is None
    assert not waiting.events.filter(kind=EventKind.CONFIRMED).exists()


def test_confirm_on_behalf_twice_is_refused(client, centre_manager, confirmed):
    client.force_login(centre_manager)

    response = client.post(operation_url(confirmed, "confirm_on_behalf"), {}, language="fr", follow=True)

    assertContains(response, "Le candidat a déjà répondu")
    assert confirmed.events.filter(kind=EventKind.CONFIRMED).count() == 1


# --- type de traitement ------------------------------------------------------------------------------------------


def test_a_new_application_takes_the_formation_type(applicant, formation):
    formation.treatment_type = TreatmentType.DIRECT
    formation.save()

    application = services.create_application(candidate=applicant, formation=formation, actor=applicant.user)

    assert application.treatment_type == TreatmentType.DIRECT
    assert Application._meta.get_field("treatment_type").default == TreatmentType.CONTROLLED


@pytest.fixture
def direct(applicant, formation):
    return ApplicationFactory(
        candidate=applicant, formation=formation, transmitted=True, treatment_type=TreatmentType.DIRECT
    )


def test_direct_access_gives_a_validated_favourable_decision_when_complete(direct, centre_manager):
    staff.set_dossier_status(direct, target=DossierStatus.INCOMPLETE, actor=centre_manager)
    assert not direct.decisions.exists()

    staff.set_dossier_status(direct, target=DossierStatus.COMPLETE, actor=centre_manager)

    decision = direct.decisions.get()
    assert (decision.action, decision.decision_type.avis) == (DecisionAction.DIRECT_ACCESS, Avis.FAVOURABLE)
    assert (decision.validated_by, decision.created_by) == (centre_manager, centre_manager)
    assert direct.events.filter(kind=EventKind.DIRECT_ACCESS, actor=centre_manager).count() == 1
    assert "AVIS_FAVORABLE" in codes()
    # The candidate then confirms, as after any favourable decision.
    services.confirm_application(application=direct, actor=direct.candidate.user)
    # Set complete again: no second decision.
    staff.set_dossier_status(direct, target=DossierStatus.RECEIVED, actor=centre_manager)
    staff.set_dossier_status(direct, target=DossierStatus.COMPLETE, actor=centre_manager)
    assert direct.decisions.count() == 1


def test_controlled_access_waits_for_the_commission(applicant, formation, centre_manager):
    application = ApplicationFactory(candidate=applicant, formation=formation, transmitted=True)

    staff.set_dossier_status(application, target=DossierStatus.COMPLETE, actor=centre_manager)

    assert not application.decisions.exists()
    assert "Il a été transmis à la commission pédagogique." in OutboundEmail.objects.get(code="STATUT_CO").body


@pytest.mark.parametrize(("language", "words"), [("en", "is in direct access"), ("fr", "relève de l'accès direct")])
def test_the_complete_mail_of_a_direct_access_says_a_favourable_decision_follows(
    direct, centre_manager, language, words
):
    direct.candidate.preferred_language = language
    direct.candidate.save()

    staff.set_dossier_status(direct, target=DossierStatus.COMPLETE, actor=centre_manager)

    body = OutboundEmail.objects.get(code="STATUT_CO").body
    assert words in body
    # It said "sent to the pedagogical commission", which no commission examines in direct access.
    assert "commission" not in body


def test_staff_change_the_type_with_a_reason(applicant, formation, centre_manager):
    application = ApplicationFactory(candidate=applicant, formation=formation, complete=True)
    with pytest.raises(BusinessRuleError, match="Give the reason"):
        staff.set_treatment_type(application, treatment_type="AD", reason=" ", actor=centre_manager)

    staff.set_treatment_type(application, treatment_type="AD", reason="Dossier de VAE", actor=centre_manager)

    application.refresh_from_db()
    assert application.treatment_type == "AD"
    event = application.events.get(kind=EventKind.TREATMENT_TYPE)
    assert (event.actor, event.comment) == (centre_manager, "Accès contrôlé → Accès direct — Dossier de VAE")
    # Already complete: the direct access is granted at once.
    assert application.decisions.get().action == DecisionAction.DIRECT_ACCESS
    with pytest.raises(InvalidTransition, match="already been validated"):
        staff.set_treatment_type(application, treatment_type="AC", reason="erreur", actor=centre_manager)


@pytest.mark.parametrize(
    ("previous", "new", "mail"),
    [("AC", "AD", "TYPE_TRAIT_AD"), ("AD", "AC", "TYPE_TRAIT_AC"), ("AC", "AT", "TYPE_TRAIT_ATT")],
)
def test_the_candidate_is_mailed_the_new_type(applicant, formation, centre_manager, previous, new, mail):
    application = ApplicationFactory(candidate=applicant, formation=formation, treatment_type=previous)

    staff.set_treatment_type(application, treatment_type=new, reason="Dossier de VAE", actor=centre_manager)

    [sent] = OutboundEmail.objects.filter(code=mail)
    assert sent.to == applicant.user.email
    assert application.formation.code in sent.body
    assert not OutboundEmail.objects.filter(code__startswith="AVIS_").exists()  # not complete: no direct access yet


def test_direct_access_needs_a_default_favourable_decision(applicant, commission, centre_manager):
    formation = FormationFactory(centre=commission.centre, commission=commission)
    application = ApplicationFactory(candidate=applicant, formation=formation)

    with pytest.raises(BusinessRuleError, match="default favourable decision"):
        staff.set_treatment_type(application, treatment_type="AD", reason="VAE", actor=centre_manager)

    assert not ApplicationEvent.objects.filter(kind=EventKind.TREATMENT_TYPE).exists()


def test_manager_changes_the_type_from_the_back_office(client, centre_manager, applicant, formation):
    application = ApplicationFactory(candidate=applicant, formation=formation, transmitted=True)
    client.force_login(centre_manager)

    response = client.post(
        operation_url(application, "treatment_type"), {"treatment_type": "AD", "reason": ""}, language="fr"
    )
    assertContains(response, "Donnez la raison de ce changement.")
    client.post(operation_url(application, "treatment_type"), {"treatment_type": "AD", "reason": "VAE"})

    application.refresh_from_db()
    assert application.treatment_type == "AD"
    assert application.events.get(kind=EventKind.TREATMENT_TYPE).actor == centre_manager


def test_the_type_page_of_one_application_says_its_type_and_offers_the_others(
    client, centre_manager, applicant, formation, django_assert_num_queries
):
    # It offered the three types, the current one too, without saying which it was: choosing it was refused after
    # the reason had been typed ("nothing was done").
    application = ApplicationFactory(candidate=applicant, formation=formation, transmitted=True)
    client.force_login(centre_manager)

    with django_assert_num_queries(9):
        response = client.get(operation_url(application, "treatment_type"))

    field = response.context["form"]["treatment_type"]
    assert [value for value, _label in field.field.choices] == ["", "AD", "AT"]
    assert field.help_text == f"Now: {TreatmentType.CONTROLLED.label}."
    assertContains(response, f"Now: {TreatmentType.CONTROLLED.label}.")
    response = client.post(operation_url(application, "treatment_type"), {"treatment_type": "AC", "reason": "VAE"})
    assert "treatment_type" in response.context["form"].errors
    application.refresh_from_db()
    assert application.treatment_type == "AC"


def test_application_page_shows_the_type_and_the_withdrawal_reason(client, centre_manager, confirmed):
    services.withdraw_application(application=confirmed, actor=centre_manager, role=Role.STAFF, reason="GEO")
    client.force_login(centre_manager)

    response = client.get(reverse("admin:applications_application_change", args=[confirmed.pk]), language="fr")

    assertContains(response, "Type de traitement : <strong>Accès contrôlé</strong>")
    assertContains(response, "<strong>Désistée</strong> (Éloignement ou déménagement)")
    assertContains(response, "Désistement après confirmation par gestionnaire : Éloignement ou déménagement")


def test_formation_form_refuses_direct_access_without_a_favourable_decision(client, central_manager, formation):
    client.force_login(central_manager)
    url = reverse("admin:offers_formation_change", args=[formation.pk])
    data = client.get(url).context["adminform"].form.initial
    payload = {key: value for key, value in data.items() if value is not None and not isinstance(value, list)}
    payload.update(
        {
            "treatment_type": "AD",
            "favourable_decision_type": "",
            "auto_waiting_list": "",
            "centre": formation.centre_id,
            "commission": formation.commission_id,
            "diploma_type": formation.diploma_type_id,
        }
    )

    response = client.post(url, payload, language="fr")

    assertContains(response, "L&#x27;accès direct nécessite l&#x27;avis favorable par défaut de la formation")
    formation.refresh_from_db()
    assert formation.treatment_type == "AC"
