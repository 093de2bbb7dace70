"""The candidate's services: apply, transmit, cancel, confirm, withdraw (rules in order, history, mails)."""

import datetime
import importlib
import re

import pytest
from django.apps import apps
from django.utils import timezone

from applications.enums import DossierStatus, PieceStatus
from applications.models import Application, ApplicationEvent
from applications.services import candidature as services
from applications.tests.factories_candidature import (
    ApplicationFactory,
    DecisionFactory,
    DecisionTypeFactory,
    PieceSubmissionFactory,
    complete_candidate,
)
from ecandidat.exceptions import BusinessRuleError, InvalidTransition
from ecandidat.models import OutboundEmail
from ecandidat.parameters import set_parameters
from offers.enums import ApplicationMode, Avis
from offers.tests.factories import CentreFactory, FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def applicant(campaign):
    return complete_candidate(user__campaign=campaign)


@pytest.fixture
def formation(commission):
    return FormationFactory(centre=commission.centre, commission=commission)


def _apply(candidate, formation):
    return services.create_application(candidate=candidate, formation=formation, actor=candidate.user)


# --- Applying ---------------------------------------------------------------------------------------------------


def test_create_application_waits_with_history_and_mail(
    applicant, formation, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        application = _apply(applicant, formation)

    assert application.dossier_status == DossierStatus.WAITING
    assert not application.decisions.exists()
    event = ApplicationEvent.objects.get(application=application)
    assert (event.kind, event.actor, event.to_status) == ("application_created", applicant.user, "AT")
    assert [m.to for m in mailoutbox] == [[applicant.user.email]]
    assert mailoutbox[0].subject == "Candidature sur eCandidat"
    assert formation.title in mailoutbox[0].body
    assert OutboundEmail.objects.get().code == "CANDIDATURE"


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("address", "Fill in your address before applying."),
        ("baccalaureate", "Fill in your baccalaureate (or equivalent) before applying."),
    ],
)
def test_apply_needs_a_complete_dossier(applicant, formation, missing, message):
    getattr(applicant, missing).delete()
    applicant.refresh_from_db()

    with pytest.raises(BusinessRuleError, match=re.escape(message)):
        _apply(applicant, formation)
    assert not Application.objects.exists()


def test_apply_without_personal_details_is_refused(candidate_user, formation):
    refusal = services.application_refusal(user=candidate_user, candidate=None, formation=formation)
    assert refusal == "Fill in your personal details before applying."


def test_apply_needs_an_open_campaign(applicant, formation, campaign):
    campaign.ends_on = timezone.localdate() - datetime.timedelta(days=1)
    campaign.starts_on = campaign.ends_on - datetime.timedelta(days=30)
    campaign.save()

    with pytest.raises(BusinessRuleError, match="The application campaign is not open."):
        _apply(applicant, formation)


@pytest.mark.parametrize("change", ["out_of_service", "centre_out_of_service", "not_open_yet", "closed"])
def test_apply_only_to_open_formations(applicant, formation, change):
    today = timezone.localdate()
    if change == "out_of_service":
        formation.in_service = False
    elif change == "centre_out_of_service":
        formation.centre.in_service = False
        formation.centre.save()
    elif change == "not_open_yet":
        formation.opens_on = today + datetime.timedelta(days=1)
    else:
        formation.opens_on, formation.closes_on = (
            today - datetime.timedelta(days=20),
            today - datetime.timedelta(days=1),
        )
    formation.save()

    with pytest.raises(BusinessRuleError, match="You can only select the formations open in the application campaign"):
        _apply(applicant, formation)


def test_apply_twice_creates_one_application(applicant, formation):
    _apply(applicant, formation)

    with pytest.raises(BusinessRuleError, match="You have already applied to this formation."):
        _apply(applicant, formation)
    assert Application.objects.count() == 1


def test_apply_after_the_account_was_deleted_is_refused_in_words(applicant, formation):
    """The dossier deleted between the page's load and the service's lock (the account's deletion committed first):
    a refusal the page shows, not ``Candidate.DoesNotExist`` (a 500), and nothing written."""
    user = applicant.user
    applicant.delete()  # the object the view loaded stays in memory

    with pytest.raises(BusinessRuleError, match=r"This dossier no longer exists \(its account was deleted\)"):
        services.create_application(candidate=applicant, formation=formation, actor=user)
    assert not Application.objects.exists()
    assert not ApplicationEvent.objects.exists()
    assert not OutboundEmail.objects.exists()


def test_apply_again_after_cancelling(applicant, formation):
    first = _apply(applicant, formation)
    services.cancel_application(application=first, actor=applicant.user)

    second = _apply(applicant, formation)

    assert second.pk != first.pk
    assert Application.objects.active().get() == second


def test_max_wishes_per_centre(applicant, formation, settings):
    settings.MAX_WISHES = 2
    settings.MAX_WISHES_PER_INSTITUTION = False
    for _ in range(2):
        _apply(applicant, FormationFactory(centre=formation.centre, commission=formation.commission))
    elsewhere = FormationFactory()

    with pytest.raises(BusinessRuleError, match=r"maximum number of applications for .* \(2\)"):
        _apply(applicant, formation)
    assert _apply(applicant, elsewhere).formation == elsewhere


def test_max_wishes_of_the_centre_wins(applicant, formation, settings):
    settings.MAX_WISHES = 20
    formation.centre.max_wishes = 1
    formation.centre.save()
    _apply(applicant, FormationFactory(centre=formation.centre, commission=formation.commission))

    with pytest.raises(BusinessRuleError, match=r"\(1\)"):
        _apply(applicant, formation)


def test_max_wishes_per_institution(applicant, formation, settings):
    settings.MAX_WISHES = 2
    settings.MAX_WISHES_PER_INSTITUTION = True
    _apply(applicant, FormationFactory())
    _apply(applicant, FormationFactory(centre=CentreFactory()))

    with pytest.raises(BusinessRuleError, match=r"maximum number of applications for the institution \(2\)"):
        _apply(applicant, formation)


def test_cancelled_applications_do_not_count_as_wishes(applicant, formation, settings):
    settings.MAX_WISHES = 1
    first = _apply(applicant, FormationFactory(centre=formation.centre, commission=formation.commission))
    services.cancel_application(application=first, actor=applicant.user)

    assert _apply(applicant, formation).formation == formation


# --- Transmitting -----------------------------------------------------------------------------------------------


@pytest.fixture
def application(applicant, formation):
    return ApplicationFactory(candidate=applicant, formation=formation)


def test_transmit_moves_to_received_with_mails(application, django_capture_on_commit_callbacks, mailoutbox):
    commission = application.formation.commission
    commission.alert_on_transmission = True
    commission.save()
    PieceSubmissionFactory(application=application, piece_type=PieceTypeFactory(is_common=True, is_unique=True))

    with django_capture_on_commit_callbacks(execute=True):
        services.transmit_application(application=application, actor=application.candidate.user)

    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED
    assert application.transmitted_at is not None
    # Received the day it is transmitted (eCandidat's dat_recept_dossier_cand): the exports' « Réceptionné le » and
    # the SVA alerts counted from the reception date were empty for every online dossier.
    assert application.received_on == timezone.localdate(application.transmitted_at)
    event = application.events.get()
    assert (event.kind, event.actor, event.from_status, event.to_status) == (
        "transmitted",
        application.candidate.user,
        "AT",
        "RE",
    )
    assert sorted(OutboundEmail.objects.values_list("code", flat=True)) == [
        "COMMISSION_ALERT_TRANSMISSION",
        "STATUT_RE",
    ]
    assert {m.to[0] for m in mailoutbox} == {application.candidate.user.email, commission.email}
    candidate_mail = next(m for m in mailoutbox if m.to[0] == application.candidate.user.email)
    assert "a bien été transmise" in candidate_mail.body


def test_dossiers_transmitted_before_get_their_reception_date_from_the_migration(applicant, formation):
    """Migration 0028: the transmission's day for an online dossier transmitted before the transmission stamped it;
    a reception date staff entered, and a dossier never transmitted, are left alone."""
    migration = importlib.import_module("applications.migrations.0028_received_on_transmission")
    late_evening = datetime.datetime(2026, 3, 26, 23, 30, tzinfo=datetime.UTC)  # 27/03 in Paris
    transmitted = ApplicationFactory(candidate=applicant, formation=formation)
    entered = ApplicationFactory(formation=formation)
    never = ApplicationFactory(formation=formation)
    Application.objects.filter(pk__in=[transmitted.pk, entered.pk]).update(transmitted_at=late_evening)
    Application.objects.filter(pk=entered.pk).update(received_on=datetime.date(2026, 3, 30))

    migration.received_when_transmitted(apps, None)

    received = dict(Application.objects.values_list("pk", "received_on"))
    assert received[transmitted.pk] == datetime.date(2026, 3, 27)
    assert received[entered.pk] == datetime.date(2026, 3, 30)
    assert received[never.pk] is None


def test_transmit_refused_while_a_piece_is_missing_or_refused(application):
    missing = PieceTypeFactory(is_common=True, label="Lettre de motivation")
    refused = PieceTypeFactory(is_common=True, label="Relevé de notes")
    PieceSubmissionFactory(
        application=application, piece_type=refused, status=PieceStatus.REFUSED, comment="scan illisible"
    )

    with pytest.raises(BusinessRuleError) as error:
        services.transmit_application(application=application, actor=application.candidate.user)

    assert str(error.value) == "A supporting document is missing: Lettre de motivation; Relevé de notes."
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.WAITING
    assert missing.pk


def test_not_concerned_conditional_piece_does_not_block(application):
    piece = PieceTypeFactory(is_common=True, is_unique=True, is_conditional=True)
    PieceSubmissionFactory(application=application, piece_type=piece, status=PieceStatus.NOT_CONCERNED)

    services.transmit_application(application=application, actor=application.candidate.user)

    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED


def test_transmit_twice_has_one_effect(application):
    services.transmit_application(application=application, actor=application.candidate.user)

    with pytest.raises(InvalidTransition, match="Your application has already been transmitted."):
        services.transmit_application(application=application, actor=application.candidate.user)
    assert application.events.count() == 1


def test_incomplete_dossier_can_be_transmitted_again(applicant, formation):
    application = ApplicationFactory(candidate=applicant, formation=formation, incomplete=True)

    services.transmit_application(application=application, actor=applicant.user)

    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED


def test_transmit_refused_after_the_return_deadline(application, time_machine):
    time_machine.move_to(application.formation.return_deadline + datetime.timedelta(days=1))

    with pytest.raises(InvalidTransition, match="The return deadline .* has passed"):
        services.transmit_application(application=application, actor=application.candidate.user)


def test_extended_return_deadline_allows_transmitting(application, time_machine):
    application.return_deadline_override = application.formation.return_deadline + datetime.timedelta(days=5)
    application.save()
    time_machine.move_to(application.formation.return_deadline + datetime.timedelta(days=1))

    services.transmit_application(application=application, actor=application.candidate.user)


def test_paper_dossier_is_not_transmitted_online(application):
    application.formation.mode = ApplicationMode.PAPER
    application.formation.save()

    with pytest.raises(InvalidTransition, match="Paper dossier"):
        services.transmit_application(application=application, actor=application.candidate.user)


# --- Cancelling -------------------------------------------------------------------------------------------------


def test_cancel_keeps_the_application_deletes_own_files_and_mails(
    application, django_capture_on_commit_callbacks, mailoutbox
):
    commission = application.formation.commission
    commission.alert_on_cancellation = True
    commission.save()
    own = PieceSubmissionFactory(application=application, piece_type=PieceTypeFactory(is_common=True, is_unique=True))
    shared = PieceSubmissionFactory(
        application=None, candidate=application.candidate, piece_type=PieceTypeFactory(is_common=True)
    )
    user = application.candidate.user

    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_application(application=application, actor=user)

    application.refresh_from_db()
    assert application.cancelled_at is not None
    assert application.cancelled_by == user
    own.refresh_from_db()
    shared.refresh_from_db()
    assert own.document_id is None
    assert shared.document_id is not None
    assert application.events.get().kind == "application_cancelled"
    assert sorted(OutboundEmail.objects.values_list("code", flat=True)) == [
        "CANDIDATURE_ANNULATION",
        "COMMISSION_ALERT_ANNULATION",
    ]
    assert len(mailoutbox) == 2


def test_cancel_twice_has_one_effect(application):
    services.cancel_application(application=application, actor=application.candidate.user)

    with pytest.raises(InvalidTransition, match="This application has already been cancelled."):
        services.cancel_application(application=application, actor=application.candidate.user)
    assert application.events.count() == 1


def test_transmitted_application_cannot_be_cancelled(applicant, formation):
    application = ApplicationFactory(candidate=applicant, formation=formation, transmitted=True)

    with pytest.raises(InvalidTransition, match="A transmitted application can no longer be cancelled."):
        services.cancel_application(application=application, actor=applicant.user)


def test_application_with_a_decision_cannot_be_cancelled(application):
    DecisionFactory(application=application, decision_type=DecisionTypeFactory(avis=Avis.UNFAVOURABLE))

    with pytest.raises(InvalidTransition, match="An application with a decision can no longer be cancelled."):
        services.cancel_application(application=application, actor=application.candidate.user)


# --- Confirming or withdrawing ----------------------------------------------------------------------------------


@pytest.fixture
def favourable(applicant, formation):
    application = ApplicationFactory(candidate=applicant, formation=formation, complete=True)
    DecisionFactory(application=application, decision_type=DecisionTypeFactory(avis=Avis.FAVOURABLE), validated=True)
    return application


def test_confirm_mails_registration_instructions(favourable, django_capture_on_commit_callbacks, mailoutbox):
    favourable.formation.centre.registration_instructions = "Inscrivez-vous sur le site de la scolarité."
    favourable.formation.centre.save()

    with django_capture_on_commit_callbacks(execute=True):
        services.confirm_application(application=favourable, actor=favourable.candidate.user)

    favourable.refresh_from_db()
    assert favourable.accepted is True
    assert favourable.answered_by == favourable.candidate.user
    assert favourable.events.get().kind == "application_confirmed"
    assert [m.subject for m in mailoutbox] == ["Candidature confirmée"]
    assert "Inscrivez-vous sur le site de la scolarité." in mailoutbox[0].body


def test_formation_instructions_win_over_the_centre(favourable, django_capture_on_commit_callbacks, mailoutbox):
    favourable.formation.centre.registration_instructions = "centre"
    favourable.formation.centre.save()
    favourable.formation.registration_instructions = "Instructions de la formation"
    favourable.formation.save()

    with django_capture_on_commit_callbacks(execute=True):
        services.confirm_application(application=favourable, actor=favourable.candidate.user)

    assert "Instructions de la formation" in mailoutbox[0].body
    assert "centre\n" not in mailoutbox[0].body


def test_answer_is_irreversible(favourable):
    services.confirm_application(application=favourable, actor=favourable.candidate.user)

    with pytest.raises(InvalidTransition, match="You have already answered"):
        services.confirm_application(application=favourable, actor=favourable.candidate.user)
    # Withdrawing after confirming remains possible (issue 12), with a reason; then nothing more.
    with pytest.raises(InvalidTransition, match="Choose the reason for the withdrawal."):
        services.withdraw_application(application=favourable, actor=favourable.candidate.user)
    services.withdraw_application(application=favourable, actor=favourable.candidate.user, reason="ADM")
    for service in (services.confirm_application, services.withdraw_application):
        with pytest.raises(InvalidTransition, match="You have already answered"):
            service(application=favourable, actor=favourable.candidate.user)


def test_confirm_needs_a_validated_favourable_decision(application):
    DecisionFactory(application=application, decision_type=DecisionTypeFactory(avis=Avis.FAVOURABLE))

    with pytest.raises(InvalidTransition, match="Only an application with a favourable decision"):
        services.confirm_application(application=application, actor=application.candidate.user)


def test_confirm_refused_after_the_confirmation_date(favourable, time_machine):
    time_machine.move_to(favourable.formation.confirmation_date + datetime.timedelta(days=1))

    with pytest.raises(InvalidTransition, match="The confirmation date .* has passed."):
        services.confirm_application(application=favourable, actor=favourable.candidate.user)


def test_withdraw_mails_and_promotes_the_waiting_list(
    favourable, campaign, django_capture_on_commit_callbacks, mailoutbox
):
    formation = favourable.formation
    formation.auto_waiting_list = True
    formation.favourable_decision_type = DecisionTypeFactory(avis=Avis.FAVOURABLE)
    formation.save()
    waiting = ApplicationFactory(candidate=complete_candidate(user__campaign=campaign), formation=formation)
    DecisionFactory(
        application=waiting, decision_type=DecisionTypeFactory(avis=Avis.COMPLEMENTARY_LIST), rank=1, validated=True
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.withdraw_application(application=favourable, actor=favourable.candidate.user)

    favourable.refresh_from_db()
    assert favourable.accepted is False
    assert favourable.events.get().kind == "application_withdrawn"
    promoted = waiting.decisions.order_by("-id").first()
    assert promoted.decision_type.avis == Avis.FAVOURABLE
    assert promoted.validated_at is not None
    codes = sorted(OutboundEmail.objects.values_list("code", flat=True))
    assert codes == [
        "AVIS_FAVORABLE",
        "CANDIDATURE_DESIST",
        "COMMISSION_ALERT_DESISTEMENT",
        "COMMISSION_ALERT_LISTE_PRINC",
    ]
    assert "Vous vous êtes désisté(e)" in next(m.body for m in mailoutbox if m.to == [favourable.candidate.user.email])


def test_max_wishes_lowered_in_the_back_office_refuses_the_next_application(
    applicant, formation, settings, admin_user, django_capture_on_commit_callbacks
):
    # A live change (ecandidat.parameters): the environment says 20; the central office lowers it to 1.
    settings.MAX_WISHES, settings.MAX_WISHES_PER_INSTITUTION = 20, False
    _apply(applicant, FormationFactory(centre=formation.centre, commission=formation.commission))

    with django_capture_on_commit_callbacks(execute=True):
        set_parameters(actor=admin_user, values={"MAX_WISHES": 1})

    with pytest.raises(BusinessRuleError, match=r"maximum number of applications for .* \(1\)"):
        _apply(applicant, formation)
