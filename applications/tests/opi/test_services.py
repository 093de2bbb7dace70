"""OPI records (applications.opi.services): creation on confirmation, withdrawal, re-queue and cancel, with history."""

import re

from django.utils import translation

from accounts.services import issue_numero_dossier
from applications.enums import EventKind, OpiState
from applications.models import Application, Opi
from applications.opi.services import cancel_opis, opi_counts, requeue_selected_opis
from applications.services import staff
from applications.signals import application_confirmed
from applications.tests.opi.helpers import admit, confirm, make_candidate, withdraw_after_confirmation


def opi_events(application):
    return list(application.events.filter(kind__startswith="opi_").values_list("kind", "actor_id", "comment"))


def test_confirming_an_opi_decision_creates_a_pending_opi(opi_candidate, formation, centre_manager, opi_type):
    application = admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type)

    confirm(application)

    opi = Opi.objects.get(application=application)
    assert (opi.code, opi.state, opi.withdrawn, opi.passed_at) == ("ECAB123456", OpiState.PENDING, False, None)
    assert opi_events(application) == [(EventKind.OPI_CREATED, opi_candidate.user.pk, "ECAB123456")]


def test_the_prefix_is_configurable(settings, opi_candidate, formation, centre_manager, opi_type):
    settings.OPI_PREFIX = "UP"
    application = admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type)

    confirm(application)

    assert application.opi.code == "UPAB123456"


def test_a_prefixed_dossier_number_still_makes_a_ten_character_code(
    settings, campaign, formation, centre_manager, opi_type
):
    settings.DOSSIER_NUMBER_PREFIX, settings.OPI_PREFIX = "UP", "EC"
    numero = issue_numero_dossier()  # as at sign-up
    application = admit(
        make_candidate(campaign, username=numero), formation, manager=centre_manager, decision_type=opi_type
    )

    confirm(application)

    assert application.opi.code == f"EC{numero}"
    assert re.fullmatch(r"ECUP[A-Z0-9]{6}", application.opi.code)


def test_a_decision_type_without_opi_transfer_creates_none(opi_candidate, formation, centre_manager, plain_favourable):
    application = admit(opi_candidate, formation, manager=centre_manager, decision_type=plain_favourable)

    confirm(application)

    assert not Opi.objects.exists()


def test_opi_off_creates_none(settings, opi_candidate, formation, centre_manager, opi_type):
    settings.OPI_BACKEND = "none"
    application = admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type)

    confirm(application)

    assert not Opi.objects.exists()


def test_withdrawal_before_any_transfer_cancels_the_opi(opi_candidate, formation, centre_manager, opi_type):
    application = admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type)
    confirm(application)

    withdraw_after_confirmation(application, actor=opi_candidate.user)

    opi = Opi.objects.get()
    assert (opi.state, opi.withdrawn) == (OpiState.CANCELLED, True)
    assert opi_events(application)[-1] == (
        EventKind.OPI_WITHDRAWN,
        opi_candidate.user.pk,
        "Jamais déversée : annulée.",  # the history's language, the institution's, whoever withdrew
    )


def test_withdrawal_after_a_transfer_queues_the_withdrawal(opi_candidate, formation, centre_manager, opi_type):
    application = admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type)
    confirm(application)
    Opi.objects.update(state=OpiState.PASSED, passed_at="2026-01-05T10:00:00Z")

    withdraw_after_confirmation(application, actor=opi_candidate.user)

    opi = Opi.objects.get()
    assert (opi.state, opi.withdrawn) == (OpiState.PENDING, True)
    assert opi_events(application)[-1][0] == EventKind.OPI_WITHDRAWN


def test_requeue_and_cancel_record_the_actor(
    opi_candidate, formation, other_formation, centre_manager, central_manager, opi_type, campaign
):
    first = admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type)
    second = admit(opi_candidate, other_formation, manager=centre_manager, decision_type=opi_type)
    confirm(first)
    confirm(second)
    Opi.objects.filter(application=first).update(state=OpiState.PASSED, passed_at="2026-01-05T10:00:00Z")

    cancelled = cancel_opis(
        opi_ids=Opi.objects.values_list("pk", flat=True), actor=central_manager
    )  # only the pending one
    requeued = requeue_selected_opis(
        opi_ids=Opi.objects.values_list("pk", flat=True), actor=central_manager
    ).requeued  # the transferred and the cancelled

    assert (cancelled, requeued) == (1, 2)
    assert opi_counts(campaign) == {
        "pending": 2,
        "pending_withdrawals": 0,
        "passed": 0,
        "cancelled": 0,
        "pegase_removals": 0,
        "pending_archived": 0,
    }
    assert opi_events(second)[-2:] == [
        (EventKind.OPI_CANCELLED, central_manager.pk, ""),
        (EventKind.OPI_REQUEUED, central_manager.pk, ""),
    ]
    assert opi_events(first)[-1] == (EventKind.OPI_REQUEUED, central_manager.pk, "")


def test_an_opi_withdrawn_before_transfer_is_not_requeued(
    opi_candidate, formation, centre_manager, central_manager, opi_type
):
    application = admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type)
    confirm(application)
    withdraw_after_confirmation(application, actor=opi_candidate.user)

    assert requeue_selected_opis(opi_ids=Opi.objects.values_list("pk", flat=True), actor=central_manager).requeued == 0
    assert Opi.objects.get().state == OpiState.CANCELLED


def test_history_labels_are_french():
    with translation.override("fr"):
        labels = [str(kind.label) for kind in (EventKind.OPI_CREATED, EventKind.OPI_WITHDRAWN, EventKind.OPI_PASSED)]

    assert labels == ["OPI créée", "OPI désistée", "OPI déversée"]


def test_a_new_decision_after_confirmation_withdraws_then_a_new_confirmation_replays(
    opi_candidate, formation, centre_manager, opi_type
):
    """Validating a new decision resets the candidate's answer (§2.7; not its entry, which the candidate does not
    see): the OPI follows; confirming the new favourable decision queues it again."""
    application = admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type)
    confirm(application)
    Opi.objects.update(state=OpiState.PASSED, passed_at="2026-01-05T10:00:00Z")

    decision = staff.record_decision(application, decision_type=opi_type, actor=centre_manager)
    assert (Opi.objects.get().state, Opi.objects.get().withdrawn) == (OpiState.PASSED, False)
    staff.validate_decision(decision, actor=centre_manager)
    assert (Opi.objects.get().state, Opi.objects.get().withdrawn) == (OpiState.PENDING, True)
    confirm(application)

    opi = Opi.objects.get()
    assert (opi.state, opi.withdrawn) == (OpiState.PENDING, False)
    assert [kind for kind, _actor, _comment in opi_events(application)] == [
        EventKind.OPI_CREATED,
        EventKind.OPI_WITHDRAWN,
        EventKind.OPI_REQUEUED,
    ]


def test_the_same_confirmation_received_twice_changes_nothing(opi_candidate, formation, centre_manager, opi_type):
    application = admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type)
    confirm(application)

    application_confirmed.send(sender=Application, application=application, actor=opi_candidate.user)

    assert [kind for kind, _actor, _comment in opi_events(application)] == [EventKind.OPI_CREATED]
    assert Opi.objects.get().state == OpiState.PENDING
