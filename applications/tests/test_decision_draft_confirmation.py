"""A decision entered and not validated (a draft) leaves the candidate's confirmation and OPI alone; its validation
resets them (F1). Decisions at any dossier status, said on "Enter a decision" and on the release's preview (F2).

F1, as a reviewer saw it in a browser: Chloé, admitted, confirmed, her OPI transferred to Pégase; a commission member
enters « liste complémentaire » rank 5 and the history said at once « (la confirmation du candidat est annulée) » and
« OPI désistée »; « Supprimer le dernier avis » then gave back the favourable decision but not her confirmation, and
her OPI's withdrawal still went with the next transfer. The candidate only ever sees validated decisions (§1.12):
the confirmation is now reset when the new decision is validated (``staff.validate_decision``), not when it is
entered (``staff.record_decision``), a deliberate departure from the reference's §2.7.
"""

import pytest
from django.urls import reverse
from django.utils import timezone

from applications.enums import DossierStatus, EventKind, OpiState
from applications.models import Application, Opi
from applications.services import staff
from applications.tests.factories_candidature import decision_type, make_application
from applications.tests.helpers import operation_url
from applications.tests.opi.helpers import admit, confirm, make_candidate
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("back_office_in_french", "pegase_opi")]

CHANGELIST = "admin:applications_application_changelist"
# The history rows, in the institution's language (French).
WILL_BE_CANCELLED = "(la confirmation du candidat sera annulée une fois cette décision validée)"
CANCELLED = "(la confirmation du candidat est annulée)"
# The pages' sentences (the back office in French).
CONFIRMED = "Le candidat a confirmé : sa confirmation (et son OPI) sera annulée quand cet avis sera validé."
INCOMPLETE = "Dossier non complet (Réceptionné) : vérifiez ses pièces avant de valider."
# "Enter a decision" on one application with a decision (as applications/tests/test_admin_duplicate_decision.py's
# QUERIES_PAGE): the notes read the application's row, no query more.
QUERIES_ENTRY_PAGE = 12


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1EEEA", pegase_code="M1-EEEA")


@pytest.fixture
def admitted(campaign, formation, centre_manager, opi_type):
    """Chloé: a validated favourable decision marked « Déversement OPI », not answered yet (dossier « Complet »)."""
    return admit(make_candidate(campaign), formation, manager=centre_manager, decision_type=opi_type)


@pytest.fixture
def chloe(admitted):
    """Chloé confirmed, her OPI transferred to Pégase."""
    confirm(admitted)
    Opi.objects.filter(application=admitted).update(state=OpiState.PASSED, passed_at=timezone.now())
    return Application.objects.get(pk=admitted.pk)


def answer(application) -> tuple:
    application = Application.objects.get(pk=application.pk)
    return application.accepted, application.answered_at, application.answered_by_id, application.withdrawal_reason


def opi_state(application) -> tuple:
    opi = Opi.objects.get(application=application)
    return opi.state, opi.withdrawn, opi.queued_at, opi.passed_at


def enter_rank_5(application, actor):
    return staff.record_decision(
        application, decision_type=decision_type(Avis.COMPLEMENTARY_LIST), rank=5, actor=actor
    )


def comment_of(application, kind) -> str:
    return application.events.filter(kind=kind).latest("pk").comment


# --- F1: the draft changes nothing of the answer, its validation does --------------------------------------------


def test_a_draft_leaves_the_confirmation_and_the_opi_as_they_are(chloe, commission_member):
    before, opi_before = answer(chloe), opi_state(chloe)
    assert before[0] is True

    enter_rank_5(chloe, commission_member)

    assert answer(chloe) == before
    assert opi_state(chloe) == opi_before
    assert not chloe.events.filter(kind=EventKind.OPI_WITHDRAWN).exists()
    entered = comment_of(chloe, EventKind.DECISION_ENTERED)
    assert entered == f"Complementary list {WILL_BE_CANCELLED}"
    assert CANCELLED not in entered


def test_deleting_the_draft_leaves_everything_as_before_the_entry(chloe, commission_member, centre_manager):
    before, opi_before = answer(chloe), opi_state(chloe)
    favourable = chloe.decisions.current_validated()
    enter_rank_5(chloe, commission_member)

    staff.delete_last_decision(chloe, actor=commission_member)

    assert chloe.decisions.current() == favourable
    assert answer(chloe) == before
    assert opi_state(chloe) == opi_before
    assert not chloe.events.filter(kind=EventKind.OPI_WITHDRAWN).exists()


def test_validating_the_draft_resets_the_confirmation_and_withdraws_the_opi(chloe, commission_member, centre_manager):
    draft = enter_rank_5(chloe, commission_member)

    staff.validate_decision(draft, actor=centre_manager)

    assert answer(chloe) == (None, None, None, "")
    opi = Opi.objects.get(application=chloe)
    # Transferred: back to pending as a withdrawal, for the next transfer (what the entry did before).
    assert (opi.state, opi.withdrawn) == (OpiState.PENDING, True)
    assert chloe.events.filter(kind=EventKind.OPI_WITHDRAWN).count() == 1
    assert comment_of(chloe, EventKind.DECISION_VALIDATED) == f"Complementary list {CANCELLED}"


def test_a_confirmation_given_between_entry_and_validation_is_reset_at_validation(
    admitted, commission_member, centre_manager
):
    draft = enter_rank_5(admitted, commission_member)
    assert comment_of(admitted, EventKind.DECISION_ENTERED) == "Complementary list"  # no answer yet
    confirm(Application.objects.get(pk=admitted.pk))  # the candidate still sees the favourable decision
    assert Opi.objects.get(application=admitted).withdrawn is False

    staff.validate_decision(draft, actor=centre_manager)

    assert answer(admitted) == (None, None, None, "")
    assert Opi.objects.get(application=admitted).withdrawn is True
    assert comment_of(admitted, EventKind.DECISION_VALIDATED) == f"Complementary list {CANCELLED}"


# --- the pages --------------------------------------------------------------------------------------------------


def test_the_entry_page_says_a_confirmation_will_be_cancelled_once_validated(
    client, django_assert_num_queries, chloe, commission_member
):
    client.force_login(commission_member)

    with django_assert_num_queries(QUERIES_ENTRY_PAGE):
        page = client.get(operation_url(chloe, "enter_decision")).content.decode()

    assert CONFIRMED in page
    assert "Dossier non complet" not in page  # Chloé's dossier is « Complet »


def test_the_entry_page_says_nothing_of_a_confirmation_the_candidate_has_not_given(
    client, django_assert_num_queries, admitted, commission_member
):
    client.force_login(commission_member)

    with django_assert_num_queries(QUERIES_ENTRY_PAGE):
        page = client.get(operation_url(admitted, "enter_decision")).content.decode()

    assert "Le candidat a confirmé" not in page
    assert 'id="decision-warnings"' not in page


# --- F2: decisions at any dossier status, said where they are entered and validated -------------------------------


def test_the_entry_page_warns_of_a_dossier_not_complete(
    client, django_assert_num_queries, formation, campaign, commission_member
):
    received = make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED)
    complete = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
    for application in (received, complete):
        enter_rank_5(application, commission_member)
    client.force_login(commission_member)

    with django_assert_num_queries(QUERIES_ENTRY_PAGE):
        received_page = client.get(operation_url(received, "enter_decision")).content.decode()
    with django_assert_num_queries(QUERIES_ENTRY_PAGE):
        complete_page = client.get(operation_url(complete, "enter_decision")).content.decode()

    assert INCOMPLETE in received_page
    assert "Dossier non complet" not in complete_page
    assert 'id="decision-warnings"' not in complete_page


def test_the_entry_page_of_a_selection_names_the_dossiers_not_complete(client, formation, campaign, commission_member):
    received = make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED)
    complete = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
    client.force_login(commission_member)

    page = client.post(
        reverse(CHANGELIST), {"action": "action_enter_decision", "_selected_action": [received.pk, complete.pk]}
    ).content.decode()

    numero = received.candidate.user.username
    assert f"({numero}) – {formation.code} : {INCOMPLETE}" in page
    assert page.count("Dossier non complet") == 1


@pytest.mark.parametrize("count", [1, 3])
def test_the_release_preview_warns_of_each_dossier_not_complete(
    client, django_assert_num_queries, formation, campaign, commission_member, centre_manager, count
):
    received = [make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED) for _ in range(count)]
    complete = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
    for application in (*received, complete):  # favourable decisions, as test_release.py's formula counts them
        staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=commission_member)
    client.force_login(centre_manager)
    selection = [application.pk for application in (*received, complete)]

    # applications/tests/test_release.py's formula (19 + 17 per application previewed): no query more per dossier.
    with django_assert_num_queries(19 + 17 * (count + 1)):
        page = client.post(
            reverse(CHANGELIST), {"action": "action_validate_decisions", "_selected_action": selection}
        ).content.decode()

    assert page.count("Dossier non complet (Réceptionné)") == count
    for application in received:
        assert f"({application.candidate.user.username}) – {formation.code} : {INCOMPLETE}" in page
    assert f"({complete.candidate.user.username}) – {formation.code} : Dossier" not in page


def test_the_release_preview_of_one_application(client, formation, campaign, commission_member, centre_manager):
    received = make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED)
    complete = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
    for application in (received, complete):
        enter_rank_5(application, commission_member)
    client.force_login(centre_manager)

    received_page = client.get(operation_url(received, "validate_decisions")).content.decode()
    complete_page = client.get(operation_url(complete, "validate_decisions")).content.decode()

    assert f'<li class="warning">{INCOMPLETE}</li>' in received_page
    assert "Dossier non complet" not in complete_page
    assert 'id="incomplete-dossiers"' not in complete_page


def test_a_decision_on_a_dossier_not_complete_is_still_entered_and_validated(
    formation, campaign, commission_member, centre_manager
):
    """As in eCandidat: the warning is a warning, nothing refuses the decision."""
    received = make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED)

    staff.validate_decision(enter_rank_5(received, commission_member), actor=centre_manager)

    assert received.decisions.current_validated().rank == 5
