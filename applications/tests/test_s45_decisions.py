"""Decisions, withdrawals and the complementary list (S45 review of the commission's actions and the release).

Each test is the regression test of one finding: "Supprimer le dernier avis" deletes the decision its page named,
once (C1, C2); "Saisir un avis" sent twice records one decision (C3); a preselection date far off is refused beside
its field (C4); a withdrawal stands when a new decision is entered or validated (C6, R4); a promotion never gives a
date de confirmation already gone (R3); a validation and a withdrawal's promotion take their locks in one order (R1)
and a promotion waits for the first of the list rather than admit the second (R2) — those two on PostgreSQL.
"""

import datetime
import threading

import pytest
import time_machine
from django.db import connection, connections, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from applications.enums import DecisionAction, EventKind
from applications.models import Application, ApplicationEvent, Decision
from applications.services import candidature as candidature_services
from applications.services import staff
from applications.tests.factories_candidature import decide, decision_type, make_application
from applications.tests.helpers import mails, operation_url
from applications.workflow import Role
from ecandidat.exceptions import InvalidTransition
from offers.enums import Avis
from offers.tests.factories import FormationFactory

CHANGELIST = "admin:applications_application_changelist"
CHANGED = "has changed since this page was shown"  # delete_last_decision's refusal
DECISIONS_CHANGED = "have changed since this page was shown"  # record_decision's refusal


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(
        centre=centre,
        commission=commission,
        auto_waiting_list=True,
        favourable_decision_type=decision_type(Avis.FAVOURABLE),
    )


@pytest.fixture
def application(formation, campaign):
    return make_application(formation, campaign=campaign)


@pytest.fixture
def listed(formation, campaign, centre_manager):
    """One admitted candidate (validated favourable decision, unanswered) and three on the list, ranks 1, 2, 3."""
    rows = []
    for rank in (1, 2, 3):
        row = make_application(formation, campaign=campaign)
        decide(row, Avis.COMPLEMENTARY_LIST, actor=centre_manager, rank=rank)
        rows.append(row)
    admitted = make_application(formation, campaign=campaign)
    decide(admitted, Avis.FAVOURABLE, actor=centre_manager)
    return admitted, rows


def promoted_ranks(rows) -> list[int]:
    """The ranks (1, 2, 3) of the rows given a waiting-list promotion."""
    promoted = set(
        Decision.objects.filter(action=DecisionAction.WAITING_LIST_PROMOTION).values_list("application_id", flat=True)
    )
    return [rank for rank, row in enumerate(rows, start=1) if row.pk in promoted]


def shown(response) -> str:
    return response.context["form"].initial["shown_decisions"]


# --- C1, C2: "Supprimer le dernier avis" deletes the decision its page named, once ---------------------------------


@pytest.mark.django_db
def test_delete_leaves_a_decision_entered_after_the_page_was_shown(
    client, application, commission_member, centre_manager
):
    mine = staff.record_decision(application, decision_type=decision_type(Avis.WAITING_LIST), actor=commission_member)
    client.force_login(commission_member)
    page = client.get(operation_url(application, "delete_last_decision"))
    assert page.context["decision_to_delete"].pk == mine.pk
    assert f'name="shown_decisions" value="{application.pk}:{mine.pk}"' in page.content.decode()  # what is posted
    # Meanwhile the centre's manager enters another avis.
    theirs = staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)

    response = client.post(operation_url(application, "delete_last_decision"), {"shown_decisions": shown(page)})

    assert response.status_code == 200
    assert CHANGED in str(response.context["form"].non_field_errors())
    assert set(application.decisions.values_list("pk", flat=True)) == {mine.pk, theirs.pk}
    assert not application.events.filter(kind=EventKind.DECISION_DELETED).exists()
    # The page now names theirs, and its form holds it: "Confirm" again, once read, deletes that one.
    assert response.context["decision_to_delete"].pk == theirs.pk
    assert response.context["form"]["shown_decisions"].value() == f"{application.pk}:{theirs.pk}"


@pytest.mark.django_db
def test_a_double_click_on_delete_deletes_one_decision(client, application, centre_manager):
    first = staff.record_decision(application, decision_type=decision_type(Avis.WAITING_LIST), actor=centre_manager)
    staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    client.force_login(centre_manager)
    data = {"shown_decisions": shown(client.get(operation_url(application, "delete_last_decision")))}

    client.post(operation_url(application, "delete_last_decision"), data)
    second = client.post(operation_url(application, "delete_last_decision"), data)

    assert list(application.decisions.values_list("pk", flat=True)) == [first.pk]
    assert CHANGED in str(second.context["form"].non_field_errors())
    assert application.events.filter(kind=EventKind.DECISION_DELETED).count() == 1


@pytest.mark.django_db
def test_delete_last_decision_refuses_another_decision_than_the_expected_one(application, centre_manager):
    named = staff.record_decision(application, decision_type=decision_type(Avis.WAITING_LIST), actor=centre_manager)
    staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)

    with pytest.raises(InvalidTransition, match=CHANGED):
        staff.delete_last_decision(application, actor=centre_manager, expected=named.pk)

    assert application.decisions.count() == 2


# --- C3: "Saisir un avis" sent twice records one decision ------------------------------------------------------------


@pytest.mark.django_db
def test_enter_decision_sent_twice_records_one_decision(client, application, commission_member):
    client.force_login(commission_member)
    page = client.get(operation_url(application, "enter_decision"))
    data = {
        "decision_type": decision_type(Avis.FAVOURABLE).pk,
        "comment": "Très bon dossier",
        "shown_decisions": shown(page),
    }

    first = client.post(operation_url(application, "enter_decision"), data)
    second = client.post(operation_url(application, "enter_decision"), data)

    assert first.status_code == 302
    [decision] = application.decisions.all()
    assert application.events.filter(kind=EventKind.DECISION_ENTERED).count() == 1
    # Said above the form, which keeps what was typed and now holds the decision the page shows.
    assert second.status_code == 200
    form = second.context["form"]
    assert DECISIONS_CHANGED in str(form.non_field_errors())
    assert form["comment"].value() == "Très bon dossier"
    assert form["shown_decisions"].value() == f"{application.pk}:{decision.pk}"
    assert second.context["last_decision"].pk == decision.pk


@pytest.mark.django_db
def test_a_bulk_decision_sent_twice_records_one_decision_each(client, formation, campaign, centre_manager):
    applications = [make_application(formation, campaign=campaign) for _ in range(2)]
    client.force_login(centre_manager)
    selection = {"action": "action_enter_decision", "_selected_action": [row.pk for row in applications]}
    page = client.post(reverse(CHANGELIST), selection)
    assert f'name="shown_decisions" value="{shown(page)}"' in page.content.decode()
    data = {
        **selection,
        "apply": "1",
        "decision_type": decision_type(Avis.FAVOURABLE).pk,
        "shown_decisions": shown(page),
    }

    client.post(reverse(CHANGELIST), data)
    second = client.post(reverse(CHANGELIST), data, follow=True)

    assert Decision.objects.count() == 2
    assert ApplicationEvent.objects.filter(kind=EventKind.DECISION_ENTERED).count() == 2
    refusals = [str(message) for message in second.context["messages"] if DECISIONS_CHANGED in str(message)]
    assert len(refusals) == 2


@pytest.mark.django_db
def test_record_decision_refuses_when_a_decision_appeared_since_the_page(application, centre_manager):
    staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)

    with pytest.raises(InvalidTransition, match=DECISIONS_CHANGED):
        staff.record_decision(
            application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager, expected_latest=0
        )

    assert application.decisions.count() == 1


# --- C4: a preselection date far off is refused beside its field ----------------------------------------------------


PRESELECTION_IN_YEAR_ONE = {
    "preselection_date": "0001-01-01",
    "preselection_time": "00:00",
    "preselection_place": "Salle B204",
}


@pytest.mark.django_db
def test_a_preselection_in_year_one_is_refused_beside_the_field(client, application, commission_member):
    client.force_login(commission_member)

    response = client.post(
        operation_url(application, "enter_decision"),
        {"decision_type": decision_type(Avis.PRESELECTION).pk, **PRESELECTION_IN_YEAR_ONE},
    )

    assert response.status_code == 200
    errors = response.context["form"].errors["preselection_date"]
    assert [error.startswith("Enter a preselection date between") for error in errors] == [True]
    assert not Decision.objects.exists()


@pytest.mark.django_db
def test_a_bulk_preselection_in_year_one_is_refused_beside_the_field(client, application, centre_manager):
    client.force_login(centre_manager)

    response = client.post(
        reverse(CHANGELIST),
        {
            "action": "action_enter_decision",
            "_selected_action": [application.pk],
            "apply": "1",
            "decision_type": decision_type(Avis.PRESELECTION).pk,
            **PRESELECTION_IN_YEAR_ONE,
        },
    )

    assert response.status_code == 200
    assert "preselection_date" in response.context["form"].errors
    assert not Decision.objects.exists()


# --- C6, R4: a withdrawal stands ------------------------------------------------------------------------------------


def favourable_not_withdrawn(formation) -> int:
    """How many applications of ``formation`` hold a place: latest validated decision favourable, not withdrawn."""
    count = 0
    for row in Application.objects.filter(formation=formation).exclude(accepted=False):
        latest = row.decisions.select_related("decision_type").current_validated()
        count += latest is not None and latest.decision_type.avis == Avis.FAVOURABLE
    return count


@pytest.mark.django_db
def test_validating_a_decision_after_a_withdrawal_that_promoted_gives_no_place_back(
    formation, listed, centre_manager, central_manager
):
    admitted, rows = listed
    corrected = staff.record_decision(
        admitted, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager, comment="Bienvenue"
    )
    candidature_services.withdraw_application(application=admitted, actor=admitted.candidate.user, reason="ADM")
    assert promoted_ranks(rows) == [1]

    staff.validate_decision(corrected, actor=central_manager)

    admitted.refresh_from_db()
    assert (admitted.accepted, admitted.withdrawal_reason) == (False, "ADM")
    assert favourable_not_withdrawn(formation) == 1  # one place freed, one candidate admitted in it
    event = admitted.events.filter(kind=EventKind.DECISION_VALIDATED).latest("pk")
    with translation.override("fr"):
        assert event.comment == gettext("%(decision)s (the candidate's withdrawal stands)") % {
            "decision": "Favourable"
        }


@pytest.mark.django_db
def test_entering_a_decision_on_a_withdrawn_application_keeps_the_withdrawal_and_says_so(application, centre_manager):
    decide(application, Avis.FAVOURABLE, actor=centre_manager)
    candidature_services.withdraw_application(application=application, actor=application.candidate.user, reason="PER")

    staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)

    application.refresh_from_db()
    assert (application.accepted, application.withdrawal_reason) == (False, "PER")
    assert application.answered_at is not None
    event = application.events.filter(kind=EventKind.DECISION_ENTERED).latest("pk")
    with translation.override("fr"):
        assert event.comment == gettext("%(decision)s (the candidate's withdrawal stands)") % {
            "decision": "Favourable"
        }
    with pytest.raises(InvalidTransition):
        candidature_services.confirm_application(application=application, actor=application.candidate.user)


@pytest.mark.django_db
def test_validating_a_decision_resets_a_confirmation_and_says_so(application, centre_manager):
    # Reset at the validation, not at the entry (applications/tests/test_decision_draft_confirmation.py).
    decide(application, Avis.FAVOURABLE, actor=centre_manager)
    candidature_services.confirm_application(application=application, actor=application.candidate.user)

    entered = staff.record_decision(application, decision_type=decision_type(Avis.WAITING_LIST), actor=centre_manager)
    application.refresh_from_db()
    assert application.accepted is True
    staff.validate_decision(entered, actor=centre_manager)

    application.refresh_from_db()
    assert (application.accepted, application.answered_at) == (None, None)
    event = application.events.filter(kind=EventKind.DECISION_VALIDATED).latest("pk")
    with translation.override("fr"):
        expected = gettext("%(decision)s (the candidate's confirmation is cancelled)") % {"decision": "Waiting list"}
    assert event.comment == expected


# --- R3: a promotion never gives a date de confirmation already gone ------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("waiting_list_date", [False, True])
def test_a_promotion_after_the_confirmation_date_gives_a_date_to_come(
    formation, listed, centre_manager, waiting_list_date
):
    admitted, rows = listed
    if waiting_list_date:  # the formation's date LC, here its last date (the latest it may be)
        formation.waiting_list_confirmation_date = formation.confirmation_date
        formation.save(update_fields=["waiting_list_confirmation_date"])
    day_after = formation.confirmation_date + datetime.timedelta(days=1)

    with time_machine.travel(datetime.datetime.combine(day_after, datetime.time(10, 0)), tick=False):
        candidature_services.withdraw_application(
            application=admitted, actor=centre_manager, role=Role.STAFF, reason="ADM"
        )
        first = rows[0]
        first.refresh_from_db()
        assert promoted_ranks(rows) == [1]
        given = day_after + datetime.timedelta(days=staff.LATE_PROMOTION_CONFIRMATION_DAYS)
        assert first.confirmation_date_override == given
        [mail] = [mail for mail in mails("AVIS_FAVORABLE") if mail.to == first.candidate.user.email]
        assert f"{given:%d/%m/%Y}" in mail.body  # the mail's French date
        assert f"{formation.confirmation_date:%d/%m/%Y}" not in mail.body
        candidature_services.confirm_application(application=first, actor=first.candidate.user)  # not refused


@pytest.mark.django_db
def test_a_promotion_keeps_the_date_staff_gave_the_application(formation, listed, centre_manager):
    admitted, rows = listed
    given = timezone.localdate() + datetime.timedelta(days=120)
    staff.extend_deadlines(rows[0], actor=centre_manager, confirmation_date=given)

    candidature_services.withdraw_application(application=admitted, actor=admitted.candidate.user, reason="PER")

    rows[0].refresh_from_db()
    assert promoted_ranks(rows) == [1]
    assert rows[0].confirmation_date_override == given


# --- R1, R2: the lock order of the complementary list (PostgreSQL) --------------------------------------------------


def run_threads(*targets) -> list[BaseException]:
    """Run each (name, function) in its own thread, each closing its connection; the exceptions raised."""
    errors: list[BaseException] = []

    def wrapped(function):
        def run():
            try:
                function()
            except BaseException as error:  # noqa: BLE001 - reported to the test
                errors.append(error)
            finally:
                connections.close_all()

        return run

    threads = [threading.Thread(target=wrapped(function), name=name) for name, function in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_validation_and_a_withdrawals_promotion_do_not_deadlock(
    formation, listed, centre_manager, central_manager, monkeypatch
):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    admitted, rows = listed
    new = staff.record_decision(
        rows[2],
        decision_type=decision_type(Avis.COMPLEMENTARY_LIST),
        actor=centre_manager,
        rank=3,
        comment="rang confirmé",
    )
    x_locked, formation_taken = threading.Event(), threading.Event()
    original = staff._lock_formation

    def lock_formation(formation):
        # The validation stops where it locks the formation; the withdrawal takes it meanwhile.
        name = threading.current_thread().name
        if name == "validate" and not x_locked.is_set():
            x_locked.set()
            formation_taken.wait(timeout=10)
        original(formation)
        if name == "withdraw":
            formation_taken.set()

    monkeypatch.setattr(staff, "_lock_formation", lock_formation)

    def withdraw():
        x_locked.wait(timeout=10)
        candidature_services.withdraw_application(application=admitted, actor=admitted.candidate.user, reason="PER")

    errors = run_threads(
        ("validate", lambda: staff.validate_decision(new, actor=central_manager)),
        ("withdraw", withdraw),
    )

    assert errors == []
    assert promoted_ranks(rows) == [1]
    assert Decision.objects.get(pk=new.pk).validated_at is not None


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_promotion_waits_for_the_first_of_the_list_held_by_other_work(formation, listed):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    admitted, rows = listed
    holding, withdrawn = threading.Event(), threading.Event()

    def hold_the_first():
        # Unrelated work on the first of the list (a note, a piece check) holds its row for a while.
        with transaction.atomic():
            Application.objects.select_for_update().get(pk=rows[0].pk)
            holding.set()
            withdrawn.wait(timeout=3)

    def withdraw():
        holding.wait(timeout=10)
        try:
            candidature_services.withdraw_application(application=admitted, actor=admitted.candidate.user)
        finally:
            withdrawn.set()

    errors = run_threads(("hold", hold_the_first), ("withdraw", withdraw))

    assert errors == []
    assert promoted_ranks(rows) == [1]
