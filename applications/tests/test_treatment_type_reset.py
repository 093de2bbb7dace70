"""TREATMENT_TYPE_RESETS_STATUS (eCandidat SCOL_IS_STATUT_ATT_WHEN_CHANGE_TT, off by default): changing the type de
traitement also sets the dossier back to "En attente", through the staff's status path (history row with the actor,
mail STATUT_AT after the type's mail), in the same transaction; the direct access waits for the dossier to be
complete again. The service, one application's page and the bulk action, with their query counts."""

import pytest
from django.urls import reverse

from applications.enums import DecisionAction, DossierStatus, EventKind
from applications.services import staff
from applications.tests.factories_candidature import decision_type, make_application
from applications.tests.helpers import operation_url
from applications.workflow import STAFF_TRANSITION_BY_TARGET, Role
from ecandidat import parameters
from ecandidat.exceptions import InvalidTransition
from ecandidat.models import OutboundEmail
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:applications_application_changelist")


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(
        centre=centre, commission=commission, code="MINFO", favourable_decision_type=decision_type(Avis.FAVOURABLE)
    )


@pytest.fixture
def reset_on(settings):
    settings.TREATMENT_TYPE_RESETS_STATUS = True


def codes():
    """The candidate's mails, in the order they were written (and are sent: one on-commit dispatch each)."""
    return list(OutboundEmail.objects.order_by("id").values_list("code", flat=True))


def history(application):
    return list(application.events.order_by("id").values_list("kind", "from_status", "to_status", "actor__username"))


# --- the workflow and the parameter -----------------------------------------------------------------------------


@pytest.mark.parametrize("source", [DossierStatus.RECEIVED, DossierStatus.INCOMPLETE, DossierStatus.COMPLETE])
def test_staff_may_set_every_other_status_back_to_waiting(source):
    transition = STAFF_TRANSITION_BY_TARGET[DossierStatus.WAITING]

    assert transition.allows(source=source, role=Role.STAFF)
    assert transition.mail_code == "STATUT_AT"


def test_the_reset_is_off_by_default_as_in_ecandidat(settings):
    parameter = parameters.REGISTRY["TREATMENT_TYPE_RESETS_STATUS"]

    assert parameter.code == "SCOL_IS_STATUT_ATT_WHEN_CHANGE_TT"
    assert settings.TREATMENT_TYPE_RESETS_STATUS is False


# --- the service ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [DossierStatus.RECEIVED, DossierStatus.INCOMPLETE, DossierStatus.COMPLETE])
def test_with_the_reset_the_dossier_goes_back_to_waiting_after_the_type_mail(
    reset_on, formation, campaign, centre_manager, status
):
    application = make_application(formation, campaign=campaign, status=status)

    staff.set_treatment_type(application, treatment_type="AT", reason="Capacité à revoir", actor=centre_manager)

    application.refresh_from_db()
    assert (application.treatment_type, application.dossier_status) == ("AT", DossierStatus.WAITING)
    assert history(application) == [
        (EventKind.TREATMENT_TYPE, "", "", centre_manager.username),
        (EventKind.STATUS, status, DossierStatus.WAITING, centre_manager.username),
    ]
    assert codes() == ["TYPE_TRAIT_ATT", "STATUT_AT"]


def test_without_the_reset_the_status_stays(formation, campaign, centre_manager):
    application = make_application(formation, campaign=campaign, status=DossierStatus.INCOMPLETE)

    staff.set_treatment_type(application, treatment_type="AT", reason="Capacité à revoir", actor=centre_manager)

    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.INCOMPLETE
    assert [row[0] for row in history(application)] == [EventKind.TREATMENT_TYPE]
    assert codes() == ["TYPE_TRAIT_ATT"]


def test_a_dossier_already_waiting_is_left_as_it_is(reset_on, formation, campaign, centre_manager):
    application = make_application(formation, campaign=campaign, status=DossierStatus.WAITING)

    staff.set_treatment_type(application, treatment_type="AT", reason="Capacité à revoir", actor=centre_manager)

    assert [row[0] for row in history(application)] == [EventKind.TREATMENT_TYPE]
    assert codes() == ["TYPE_TRAIT_ATT"]


def test_direct_access_on_a_complete_dossier_is_granted_at_once_without_the_reset(formation, campaign, centre_manager):
    application = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)

    staff.set_treatment_type(application, treatment_type="AD", reason="VAE", actor=centre_manager)

    assert application.decisions.get().action == DecisionAction.DIRECT_ACCESS
    assert codes() == ["TYPE_TRAIT_AD", "AVIS_FAVORABLE"]


def test_with_the_reset_direct_access_waits_for_the_dossier_to_be_complete_again(
    reset_on, formation, campaign, centre_manager
):
    application = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)

    staff.set_treatment_type(application, treatment_type="AD", reason="VAE", actor=centre_manager)

    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.WAITING
    assert not application.decisions.exists()
    assert codes() == ["TYPE_TRAIT_AD", "STATUT_AT"]
    # Sent again and set complete by staff: the direct access is granted then, as for any AD application.
    staff.set_dossier_status(application, target=DossierStatus.COMPLETE, actor=centre_manager)
    assert application.decisions.get().action == DecisionAction.DIRECT_ACCESS


def test_a_refused_change_resets_nothing(reset_on, formation, campaign, centre_manager):
    application = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
    staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    staff.validate_decision(application.decisions.get(), actor=centre_manager)
    OutboundEmail.objects.all().delete()

    with pytest.raises(InvalidTransition, match="already been validated"):
        staff.set_treatment_type(application, treatment_type="AT", reason="erreur", actor=centre_manager)

    application.refresh_from_db()
    assert (application.treatment_type, application.dossier_status) == ("AC", DossierStatus.COMPLETE)
    assert not OutboundEmail.objects.exists()


def test_a_failing_reset_undoes_the_type_change_too(reset_on, formation, campaign, centre_manager, mocker):
    """One transaction: the type, its history and its mail are not kept without the reset."""
    application = make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED)
    mocker.patch(
        "applications.services.staff.change_status", side_effect=RuntimeError("the status could not be written")
    )

    with pytest.raises(RuntimeError):
        staff.set_treatment_type(application, treatment_type="AT", reason="Capacité", actor=centre_manager)

    application.refresh_from_db()
    assert (application.treatment_type, application.dossier_status) == ("AC", DossierStatus.RECEIVED)
    assert not application.events.exists()
    assert not OutboundEmail.objects.exists()


def test_a_change_on_the_parameters_page_applies_to_the_next_change(formation, campaign, centre_manager, admin_user):
    application = make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED)

    parameters.set_parameters(actor=admin_user, values={"TREATMENT_TYPE_RESETS_STATUS": True})
    parameters.forget()  # as once the change commits
    staff.set_treatment_type(application, treatment_type="AT", reason="Capacité", actor=centre_manager)

    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.WAITING


# --- the back office --------------------------------------------------------------------------------------------


# With the reset: its update, history row, mail template and outbox row, then the mail's sending on commit (5).
@pytest.mark.parametrize(("reset", "queries"), [(False, 23), (True, 33)])
def test_one_application_s_page_changes_the_type_and_resets_the_status(
    client,
    settings,
    centre_manager,
    formation,
    campaign,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
    mailoutbox,
    reset,
    queries,
):
    settings.TREATMENT_TYPE_RESETS_STATUS = reset
    application = make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED)
    client.force_login(centre_manager)

    with django_assert_num_queries(queries), django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            operation_url(application, "treatment_type"), {"treatment_type": "AT", "reason": "Capacité à revoir"}
        )

    assert response.status_code == 302
    application.refresh_from_db()
    expected = DossierStatus.WAITING if reset else DossierStatus.RECEIVED
    assert application.dossier_status == expected
    sent = ["TYPE_TRAIT_ATT", "STATUT_AT"] if reset else ["TYPE_TRAIT_ATT"]
    assert codes() == sent
    assert [mail.to for mail in mailoutbox] == [[application.candidate.user.email]] * len(sent)


@pytest.mark.parametrize("reset", [False, True])
def test_the_type_page_says_before_the_click_that_the_dossier_goes_back_to_waiting(
    client, settings, centre_manager, formation, campaign, django_assert_num_queries, reset
):
    settings.TREATMENT_TYPE_RESETS_STATUS = reset
    application = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
    client.force_login(centre_manager)
    note = (
        "Sauf s&#x27;il l&#x27;est déjà, le statut du dossier est aussi remis à « En attente », avec son mail au "
        "candidat."
    )

    with django_assert_num_queries(9):  # as without the parameter: it is read from this process's memory
        page = client.get(operation_url(application, "treatment_type"), language="fr")
    selection = client.post(
        CHANGELIST, {"action": "action_treatment_type", "_selected_action": [application.pk]}, language="fr"
    )

    assert (note in page.content.decode()) is reset
    assert "Actuellement : Accès contrôlé." in page.content.decode()
    assert (note in selection.content.decode()) is reset


def test_the_bulk_action_resets_each_application_but_the_refused_one(
    reset_on, client, centre_manager, formation, campaign, django_assert_num_queries
):
    received = make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED)
    waiting = make_application(formation, campaign=campaign, status=DossierStatus.WAITING)
    decided = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
    staff.record_decision(decided, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    staff.validate_decision(decided.decisions.get(), actor=centre_manager)
    OutboundEmail.objects.all().delete()
    client.force_login(centre_manager)

    with django_assert_num_queries(51):
        response = client.post(
            CHANGELIST,
            {
                "action": "action_treatment_type",
                "_selected_action": [received.pk, waiting.pk, decided.pk],
                "apply": "1",
                "treatment_type": "AT",
                "reason": "Capacité à revoir",
            },
            language="fr",
        )

    assert response.status_code == 302
    for application in (received, waiting, decided):
        application.refresh_from_db()
    assert [(a.treatment_type, a.dossier_status) for a in (received, waiting, decided)] == [
        ("AT", DossierStatus.WAITING),
        ("AT", DossierStatus.WAITING),
        ("AC", DossierStatus.COMPLETE),  # a validated decision: refused, nothing reset
    ]
    assert history(received)[-1] == (EventKind.STATUS, DossierStatus.RECEIVED, "AT", centre_manager.username)
    assert [row[0] for row in history(waiting)] == [EventKind.TREATMENT_TYPE]
    sent = list(OutboundEmail.objects.order_by("id").values_list("to", "code"))
    assert sent == [
        (received.candidate.user.email, "TYPE_TRAIT_ATT"),
        (received.candidate.user.email, "STATUT_AT"),
        (waiting.candidate.user.email, "TYPE_TRAIT_ATT"),
    ]


def test_after_a_bulk_action_the_list_has_no_application_selected(client, centre_manager, formation, campaign):
    """Why GEST_IS_WARNING_CAND_SELECT ("candidatures still selected after an action") is not built: every bulk
    action of the list ends on a new page, its done and refused ones on the list read again by GET (Django's
    post/redirect/get), whose checkboxes are rendered unticked. Nothing stays selected to warn about."""
    first = make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED)
    second = make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED)
    client.force_login(centre_manager)
    selection = {"action": "action_treatment_type", "_selected_action": [first.pk, second.pk]}

    done = client.post(
        CHANGELIST, {**selection, "apply": "1", "treatment_type": "AT", "reason": "Capacité"}, follow=True
    )
    refused = client.post(CHANGELIST, {**selection, "apply": "1", "treatment_type": "AT", "reason": ""})

    assert done.redirect_chain == [(CHANGELIST, 302)]
    assert 'name="_selected_action"' in done.content.decode()
    assert " checked" not in done.content.decode().split('id="result_list"')[1].split("</table>")[0]
    # A refused form stays on the action's own page (the selection listed, nothing changed), not on the list.
    assert refused.status_code == 200
    assert refused.templates[0].name == "admin/applications/application/operation.html"
