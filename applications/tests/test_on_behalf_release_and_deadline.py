"""Work on a candidate's behalf (applications/admin/on_behalf.py): an admission proposal tells nobody before its
decision is released (``DECISION_TWO_PERSON_RULE``), and is withdrawn when that decision is deleted unvalidated; a
classic application created after the formation's return deadline gets a date of its own, which its mail gives."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from applications.enums import DecisionAction, DossierStatus, EventKind
from applications.models import Application
from applications.services import candidature, staff
from applications.tests.factories_candidature import complete_candidate, decision_type
from applications.tests.helpers import operation_url
from ecandidat.exceptions import FieldRuleError
from ecandidat.models import OutboundEmail
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

APPLY = "admin:applications_application_on_behalf"
COMMISSION_EMAIL = "commission.minfo@univ.example"
PROPOSAL_SENTENCE = (
    "Cette admission vous est proposée : vous n'avez aucune pièce à déposer ni candidature à transmettre."
)
# The queries of the back office's POSTs, the on-behalf page's and « Supprimer le dernier avis » (the session, the
# staff's rights, the form's lookups, the service's writes and its mails): the same whatever the number of
# candidates, formations and applications (``others``).
PROPOSAL_QUERIES_AT_ONCE = 32
PROPOSAL_QUERIES_HELD = 25
REFUSED_PAGE_QUERIES = 10
CLASSIC_WITH_DATE_QUERIES = 21  # +1: the form reads the active campaign's closing date the date is checked against
DELETE_PROPOSAL_QUERIES = 23


@pytest.fixture
def formation(centre, commission):
    """Closed to candidates since yesterday, with its default favourable decision; its commission is alerted of
    proposals at its address."""
    today = timezone.localdate()
    commission.alert_mode, commission.email = "M", COMMISSION_EMAIL
    commission.save()
    return FormationFactory(
        centre=centre,
        commission=commission,
        code="MINFO",
        opens_on=today - datetime.timedelta(days=30),
        closes_on=today - datetime.timedelta(days=1),
        favourable_decision_type=decision_type(Avis.FAVOURABLE),
    )


@pytest.fixture
def others(formation, campaign, centre_manager):
    """Other candidates, formations and applications: the page's queries do not grow with them."""
    law = FormationFactory(centre=formation.centre, commission=formation.commission, code="MDROIT")
    FormationFactory(centre=formation.centre, commission=formation.commission, code="MECO")
    for number in range(3):
        other = complete_candidate(user__campaign=campaign, user__email=f"other{number}@example.org")
        candidature.create_application_on_behalf(candidate=other, formation=law, actor=centre_manager)
    OutboundEmail.objects.all().delete()


def _propose(client, candidate, formation, *, queries, assert_num_queries):
    data = {"numero_dossier": candidate.user.username, "formation": formation.pk, "kind": "proposal"}
    with assert_num_queries(queries):
        response = client.post(reverse(APPLY), data)
    assert response.status_code == 302
    return Application.objects.get(candidate=candidate)


def _mails(application):
    return list(
        OutboundEmail.objects.filter(about=application.candidate.user).order_by("pk").values_list("code", "to")
    )


# --- the admission proposal and the two-person rule -------------------------------------------------------------


def test_with_the_two_person_rule_a_proposal_is_told_only_by_its_validation(
    client, settings, centre_manager, central_manager, formation, campaign, others, django_assert_num_queries
):
    """Control first: without the rule the proposal is told at once, as ever (the proposal's mail, the decision's
    mail, the alert). With it, its decision only entered, nobody is told until someone else validates it: the mail
    said « La décision vous est envoyée dans un autre courriel » and the alert « with a validated favourable
    decision » of a decision the second person could still delete. The validation then tells all three, once each,
    in the same order: the proposal's mail before the decision's."""
    client.force_login(centre_manager)
    at_once = complete_candidate(user__campaign=campaign, user__email="at.once@example.org")

    application = _propose(
        client, at_once, formation, queries=PROPOSAL_QUERIES_AT_ONCE, assert_num_queries=django_assert_num_queries
    )

    assert application.decisions.get().validated_by == centre_manager
    assert _mails(application) == [
        ("CANDIDATURE", at_once.user.email),
        ("AVIS_FAVORABLE", at_once.user.email),
        ("COMMISSION_ALERT_PROPOSITION", COMMISSION_EMAIL),
    ]
    settings.DECISION_TWO_PERSON_RULE = True
    held = complete_candidate(user__campaign=campaign, user__email="held@example.org")

    application = _propose(
        client, held, formation, queries=PROPOSAL_QUERIES_HELD, assert_num_queries=django_assert_num_queries
    )

    decision = application.decisions.get()
    assert (decision.action, decision.validated_at) == (DecisionAction.PROPOSAL, None)
    assert application.dossier_status == DossierStatus.COMPLETE
    assert _mails(application) == []

    staff.validate_decision(decision, actor=central_manager)

    assert _mails(application) == [
        ("CANDIDATURE", held.user.email),
        ("AVIS_FAVORABLE", held.user.email),
        ("COMMISSION_ALERT_PROPOSITION", COMMISSION_EMAIL),
    ]
    assert PROPOSAL_SENTENCE in OutboundEmail.objects.get(code="CANDIDATURE", to=held.user.email).body


def test_deleting_the_unvalidated_decision_of_a_proposal_withdraws_it_unmailed(
    client, settings, centre_manager, central_manager, formation, campaign, others, django_assert_num_queries
):
    """The second person deletes the proposal's decision instead of validating it: the application was left
    « Complet » with no decision, which the candidate had not asked for and could not cancel, and the decision
    promised never came. It is cancelled, in the name of who deleted the decision, and nobody is mailed: nobody was
    told of the proposal. Control first: a decision entered by hand, then deleted, leaves its application as it is."""
    settings.DECISION_TWO_PERSON_RULE = True
    client.force_login(central_manager)
    entered = candidature.create_application_on_behalf(
        candidate=complete_candidate(user__campaign=campaign, user__email="entered@example.org"),
        formation=formation,
        actor=centre_manager,
    )
    staff.record_decision(entered, decision_type=formation.favourable_decision_type, actor=centre_manager)
    page = client.get(operation_url(entered, "delete_last_decision"), language="fr").content.decode()
    assert "la candidature est annulée" not in page
    assert client.post(operation_url(entered, "delete_last_decision")).status_code == 302
    entered.refresh_from_db()
    assert (entered.is_cancelled, entered.decisions.exists()) == (False, False)
    OutboundEmail.objects.all().delete()
    candidate = complete_candidate(user__campaign=campaign)
    application = candidature.propose_admission(candidate=candidate, formation=formation, actor=centre_manager)
    # The page asking to confirm says what the deletion does to a proposal (and not to a decision entered by hand).
    warning = "la proposition, et la candidature est annulée (le candidat, qui n"
    assert warning in client.get(operation_url(application, "delete_last_decision"), language="fr").content.decode()

    with django_assert_num_queries(DELETE_PROPOSAL_QUERIES):
        response = client.post(operation_url(application, "delete_last_decision"))

    assert response.status_code == 302
    application.refresh_from_db()
    assert application.is_cancelled
    assert application.cancelled_by == central_manager
    assert not application.decisions.exists()
    assert not OutboundEmail.objects.exists()
    deleted, waiting, cancelled = application.events.order_by("-id")[:3][::-1]
    assert (deleted.kind, deleted.actor) == (EventKind.DECISION_DELETED, central_manager)
    # Only a waiting application is ever cancelled: the « Complet » of the proposal is undone first, unmailed.
    assert (waiting.kind, waiting.actor, waiting.from_status, waiting.to_status) == (
        EventKind.STATUS,
        central_manager,
        DossierStatus.COMPLETE,
        DossierStatus.WAITING,
    )
    assert (cancelled.kind, cancelled.actor, cancelled.from_status, cancelled.comment) == (
        EventKind.CANCELLED,
        central_manager,
        DossierStatus.WAITING,
        "Proposition d'admission retirée (son avis favorable a été supprimé avant d'être validé)",
    )
    # The candidate may be proposed this formation again, or apply to it.
    assert candidature.on_behalf_refusal(candidate=candidate, formation=formation) == ""


# --- a classic application after the formation's return deadline --------------------------------------------------


@pytest.fixture
def late_formation(formation):
    """Its return deadline was yesterday: a paper application or a phone call comes after it."""
    formation.return_deadline = timezone.localdate() - datetime.timedelta(days=1)
    formation.save()
    return formation


def test_a_classic_application_after_the_return_deadline_needs_a_date_of_its_own(
    client, centre_manager, late_formation, campaign, others, django_assert_num_queries
):
    """Created without one, its mail asked to transmit « avant le » yesterday, and the candidate could neither upload
    nor transmit. Refused beside the new field, in French, nothing created; a date gone likewise (the rule of any new
    date limite de retour). A proposal, created « Complet », needs none (control)."""
    candidate = complete_candidate(user__campaign=campaign, user__email="late@example.org")
    client.force_login(centre_manager)
    data = {"numero_dossier": candidate.user.username, "formation": late_formation.pk}
    yesterday = f"{late_formation.return_deadline:%d/%m/%Y}"

    with django_assert_num_queries(REFUSED_PAGE_QUERIES):
        response = client.post(reverse(APPLY), data, language="fr")

    assert response.status_code == 200
    assert response.context["form"].errors["return_deadline"] == [
        (
            f"Le candidat ne peut plus transmettre sa candidature avant la date limite de retour de la formation "
            f"({yesterday}) : donnez à cette candidature sa propre date limite de retour."
        )
    ]
    assertContains(response, "Date limite de retour pour cette candidature")
    response = client.post(
        reverse(APPLY), {**data, "return_deadline": late_formation.return_deadline.isoformat()}, language="fr"
    )
    assert response.context["form"].errors["return_deadline"] == [
        "La nouvelle date doit être aujourd'hui ou plus tard."
    ]
    assert not Application.objects.filter(candidate=candidate).exists()
    assert not OutboundEmail.objects.exists()
    # The service refuses it too, whoever calls it.
    with pytest.raises(FieldRuleError) as refused:
        candidature.create_application_on_behalf(candidate=candidate, formation=late_formation, actor=centre_manager)
    assert refused.value.field == "return_deadline"

    response = client.post(reverse(APPLY), {**data, "kind": "proposal"})

    assert response.status_code == 302
    assert Application.objects.get(candidate=candidate).return_deadline_override is None


def test_a_classic_application_after_the_return_deadline_gets_the_date_given_and_its_mail_says_it(
    client, centre_manager, late_formation, campaign, others, django_assert_num_queries
):
    candidate = complete_candidate(user__campaign=campaign, user__email="late@example.org")
    client.force_login(centre_manager)
    new_date = timezone.localdate() + datetime.timedelta(days=10)
    data = {
        "numero_dossier": candidate.user.username,
        "formation": late_formation.pk,
        "kind": "classic",
        "return_deadline": new_date.isoformat(),
    }

    with django_assert_num_queries(CLASSIC_WITH_DATE_QUERIES):
        response = client.post(reverse(APPLY), data)

    application = Application.objects.get(candidate=candidate)
    assert response.status_code == 302
    assert application.return_deadline_override == new_date
    mail = OutboundEmail.objects.get(to=candidate.user.email)
    assert mail.code == "CANDIDATURE"
    assert f"transmettez votre candidature avant le {new_date:%d/%m/%Y}" in mail.body
    assert f"{late_formation.return_deadline:%d/%m/%Y}" not in mail.body
    created, given = application.events.order_by("id")
    assert (created.kind, created.actor) == (EventKind.CREATED, centre_manager)
    assert (given.kind, given.actor, given.comment) == (
        EventKind.DEADLINES,
        centre_manager,
        f"date limite de retour : {new_date:%d/%m/%Y}",
    )
    # The candidate may transmit by that date (their pieces, forms and answers aside).
    assert (
        candidature.transmit_refusal(application, blocking_rows=[], missing_form_rows=[], missing_question_rows=[])
        == ""
    )


def test_a_date_that_changes_nothing_is_refused_beside_the_field(client, centre_manager, formation, campaign):
    """Before the formation's own, the date given would be recorded in the history and never apply
    (``effective_return_deadline`` keeps the later one)."""
    candidate = complete_candidate(user__campaign=campaign)
    client.force_login(centre_manager)
    data = {
        "numero_dossier": candidate.user.username,
        "formation": formation.pk,
        "return_deadline": timezone.localdate().isoformat(),
    }

    response = client.post(reverse(APPLY), data, language="fr")

    assert response.context["form"].errors["return_deadline"] == [
        (
            f"La date limite de retour de la formation ({formation.return_deadline:%d/%m/%Y}) n'est pas antérieure "
            "à cette date : laissez ce champ vide."
        )
    ]
    assert not Application.objects.exists()
    response = client.post(reverse(APPLY), {**data, "return_deadline": ""})
    assert response.status_code == 302
    assert Application.objects.get().return_deadline_override is None
