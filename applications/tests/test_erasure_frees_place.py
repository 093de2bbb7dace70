"""The « Suppression CNIL » of a candidate who holds a place frees it, as their withdrawal would
(``applications.services.erasure.delete_candidate_account``, ``candidature.withdraw_application``): the first
candidate of the complementary list is admitted where the formation manages its list automatically, and the
confirmation page says beforehand which places go.

A place is held when the latest validated decision is favourable and the candidate has not refused it: confirmed,
or still to answer. The deletion removed the application but only closed up the ranks where it had one, so the first
of the list stayed rank 1 for ever (the nightly batch promotes only after a withdrawal), and nobody was told.
"""

import datetime
import threading

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from applications.enums import DecisionAction, EventKind
from applications.models import Application, Decision
from applications.services import candidature, erasure, staff
from applications.services.staff import recompute_waiting_list_ranks
from applications.tests.factories_candidature import complete_candidate, decide, decision_type, make_application
from applications.tests.helpers import backend_pid, mails, run_both, stay_stopped
from ecandidat.models import OutboundEmail
from offers.enums import Avis
from offers.models import Campaign
from offers.tests.factories import CampaignFactory, FormationFactory

pytestmark = pytest.mark.django_db

PAGE = "admin:applications_candidate_delete_account"


@pytest.fixture
def formation(centre, commission):
    """A formation managing its complementary list automatically, whose commission asks for every alert."""
    commission.alert_mode, commission.email = "M", "commission-minfo@univ.example"
    commission.alert_on_withdrawal = commission.alert_on_promotion = True
    commission.save()
    return FormationFactory(
        centre=centre,
        commission=commission,
        code="MINFO",
        auto_waiting_list=True,
        favourable_decision_type=decision_type(Avis.FAVOURABLE),
    )


def _holder(formation, campaign, central_manager, *, confirmed: bool) -> Application:
    """A candidate admitted in ``formation``: confirmed, or the favourable decision still to answer."""
    application = make_application(formation, campaign=campaign, email="holder@example.org")
    decide(application, Avis.FAVOURABLE, actor=central_manager)
    if confirmed:
        candidature.confirm_application(application=application, actor=application.candidate.user)
    return application


def _waiting_list(formation, campaign, central_manager, size: int = 2) -> list[Application]:
    rows = []
    for rank in range(1, size + 1):
        application = make_application(formation, campaign=campaign, email=f"listed{rank}@example.org")
        decide(application, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=rank)
        rows.append(application)
    recompute_waiting_list_ranks(formation=formation)
    return rows


def _erase(user, actor):
    return erasure.delete_candidate_account(user=user, actor=actor, everything=True, notify=False)


# --- the service ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("confirmed", [True, False], ids=["confirmed", "favourable-unanswered"])
def test_erasing_a_holder_admits_the_first_of_the_list(
    formation, campaign, central_manager, confirmed, django_capture_on_commit_callbacks
):
    holder = _holder(formation, campaign, central_manager, confirmed=confirmed)
    first, second = _waiting_list(formation, campaign, central_manager)
    numero = holder.candidate.user.username

    with django_capture_on_commit_callbacks(execute=True):
        record = _erase(holder.candidate.user, central_manager)

    first.refresh_from_db()
    second.refresh_from_db()
    # As a withdrawal leaves it (``promote_from_waiting_list``): a validated favourable decision of the promotion,
    # the rank freed, the next one moved up, the history row, the mail in the outbox.
    decision = first.decisions.newest_first().select_related("decision_type").first()
    assert decision.decision_type.avis == Avis.FAVOURABLE
    assert decision.action == DecisionAction.WAITING_LIST_PROMOTION
    assert decision.validated_at is not None
    assert (first.waiting_list_rank, second.waiting_list_rank) == (None, 1)
    event = first.events.get(kind=EventKind.WAITING_LIST_PROMOTION)
    assert event.actor == central_manager  # the member of staff whose deletion freed the place
    assert [mail.to for mail in mails("AVIS_FAVORABLE")][-1] == "listed1@example.org"
    assert [mail.to for mail in mails("COMMISSION_ALERT_LISTE_PRINC")] == ["commission-minfo@univ.example"]
    # The withdrawal alert names the candidate: nothing of them outlives the deletion.
    assert mails("COMMISSION_ALERT_DESISTEMENT") == []
    assert not OutboundEmail.objects.filter(body__contains=numero).exists()
    (place,) = erasure.places_freed(record)
    assert (place.formation.pk, place.promoted.pk, place.left_to_staff) == (formation.pk, first.pk, None)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_decision_validated_while_the_deletion_waits_is_seen(monkeypatch, formation, campaign, central_manager):
    """The places are read once every lock is held: a validation of the holder's favourable decision, holding their
    application, commits while the deletion waits for it; the deletion then frees the place it gave. Read with the
    applications' lock (their decisions in the same statement), the validation was not seen: PostgreSQL re-reads a
    row it waited for, not what a subquery of the statement reads."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    holder = make_application(formation, campaign=campaign)
    entered = staff.record_decision(holder, decision_type=decision_type(Avis.FAVOURABLE), actor=central_manager)
    (first,) = _waiting_list(formation, campaign, central_manager, size=1)
    held, done = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []
    original = staff.record_event

    def record_event(*args, **kwargs):  # the application locked, the decision validated: its history row next
        if threading.current_thread().name == "validation" and not held.is_set():
            held.set()
            seen_waiting.append(stay_stopped(done, pids, "deletion"))
        return original(*args, **kwargs)

    monkeypatch.setattr(staff, "record_event", record_event)

    def validation():
        with transaction.atomic():
            staff.validate_decision(entered, actor=central_manager)

    def deletion():
        pids["deletion"] = backend_pid()
        assert held.wait(timeout=15)
        try:
            _erase(holder.candidate.user, central_manager)
        finally:
            done.set()

    outcomes = run_both({"validation": validation, "deletion": deletion})

    assert outcomes == {"validation": "ok", "deletion": "ok"}
    assert seen_waiting == [True], "the deletion never waited: the interleaving was not forced"
    assert Decision.objects.filter(application=first, action=DecisionAction.WAITING_LIST_PROMOTION).exists()


def test_without_an_automatic_list_the_place_is_freed_but_nobody_is_admitted(
    formation, campaign, central_manager, client
):
    formation.auto_waiting_list = False
    formation.save(update_fields=["auto_waiting_list"])
    holder = _holder(formation, campaign, central_manager, confirmed=True)
    (first,) = _waiting_list(formation, campaign, central_manager, size=1)
    client.force_login(central_manager)
    numero = holder.candidate.user.username

    page = client.get(reverse(PAGE), {"numero": numero})

    assertContains(page, "MINFO")
    assertContains(page, "place confirmed")
    assertContains(page, "no automatic waiting list: nobody will be admitted in this place")
    assertContains(page, "A complete deletion frees these places")

    response = client.post(
        reverse(PAGE), {"numero": numero, "what": "everything", "confirmation": numero}, follow=True
    )

    first.refresh_from_db()
    assert first.decisions.count() == 1
    assert first.waiting_list_rank == 1
    assert not OutboundEmail.objects.filter(code="AVIS_FAVORABLE", to=first.candidate.user.email).exists()
    assertContains(response, "The place held in MINFO is freed: nobody was admitted in it")


def test_erasing_a_candidate_of_the_list_only_closes_it_up(formation, campaign, central_manager):
    holder = _holder(formation, campaign, central_manager, confirmed=True)
    first, second = _waiting_list(formation, campaign, central_manager)

    record = _erase(first.candidate.user, central_manager)

    second.refresh_from_db()
    assert second.waiting_list_rank == 1
    assert second.decisions.count() == 1  # not promoted: the place is still held
    assert not Decision.objects.filter(action=DecisionAction.WAITING_LIST_PROMOTION).exists()
    assert Application.objects.get(pk=holder.pk).accepted is True
    assert erasure.places_freed(record) == ()


def test_a_refused_or_withdrawn_place_is_not_freed_again(formation, campaign, central_manager):
    holder = _holder(formation, campaign, central_manager, confirmed=False)
    (first,) = _waiting_list(formation, campaign, central_manager, size=1)
    Application.objects.filter(pk=holder.pk).update(accepted=False, answered_at=timezone.now())  # withdrawn before

    _erase(holder.candidate.user, central_manager)

    assert first.decisions.count() == 1


def test_a_promotion_left_to_staff_is_said_as_after_a_withdrawal(formation, campaign, central_manager, client):
    holder = _holder(formation, campaign, central_manager, confirmed=True)
    (first,) = _waiting_list(formation, campaign, central_manager, size=1)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    Campaign.objects.filter(pk=campaign.pk).update(
        starts_on=yesterday - datetime.timedelta(days=30), ends_on=yesterday
    )
    client.force_login(central_manager)
    numero = holder.candidate.user.username

    response = client.post(
        reverse(PAGE), {"numero": numero, "what": "everything", "confirmation": numero}, follow=True
    )

    assertContains(response, "Nobody was promoted from the waiting list of MINFO")
    assert first.decisions.count() == 1


def test_the_page_after_the_deletion_names_who_was_admitted(formation, campaign, central_manager, client):
    holder = _holder(formation, campaign, central_manager, confirmed=False)
    (first,) = _waiting_list(formation, campaign, central_manager, size=1)
    client.force_login(central_manager)
    numero = holder.candidate.user.username

    response = client.post(
        reverse(PAGE), {"numero": numero, "what": "everything", "confirmation": numero}, follow=True
    )

    assertContains(
        response,
        "The place held in MINFO is freed: the first candidate of its complementary list "
        f"({first.candidate.user.username}) was admitted.",
    )


# --- the confirmation page ----------------------------------------------------------------------------------------

# As ``test_account_erasure.test_summary_page_queries_do_not_grow``: the places come with the applications' ids.
SUMMARY_PAGE_QUERIES = 18


@pytest.mark.parametrize("applications", [1, 3])
def test_the_page_lists_the_places_held_without_a_query_more(
    client, campaign, centre, commission, central_manager, applications, django_assert_num_queries
):
    candidate = complete_candidate(user__campaign=campaign)
    favourable = decision_type(Avis.FAVOURABLE)
    for index in range(applications):
        formation = FormationFactory(
            centre=centre,
            commission=commission,
            code=f"F{index}",
            title=f"Master {index}",
            auto_waiting_list=index % 2 == 0,
            favourable_decision_type=favourable,
        )
        application = make_application(formation, campaign=campaign)
        Application.objects.filter(pk=application.pk).update(candidate=candidate)
        application.refresh_from_db()
        decide(application, Avis.FAVOURABLE, actor=central_manager)
        if index == 1:
            candidature.confirm_application(application=application, actor=candidate.user)
    client.force_login(central_manager)

    with django_assert_num_queries(SUMMARY_PAGE_QUERIES):
        response = client.get(reverse(PAGE), {"numero": candidate.user.username})

    assertContains(response, "Places the candidate holds")
    assertContains(response, "F0 – Master 0")
    assertContains(response, "favourable decision awaiting an answer")
    assertContains(response, "automatic waiting list: the first candidate of its complementary list will be admitted")
    assertContains(response, "A complete deletion frees these places")
    if applications == 3:
        assertContains(response, "F1 – Master 1")
        assertContains(response, "place confirmed")
        assertContains(response, "no automatic waiting list: nobody will be admitted in this place")


def test_the_page_says_nothing_of_places_for_a_candidate_on_the_list(client, formation, campaign, central_manager):
    (listed,) = _waiting_list(formation, campaign, central_manager, size=1)
    client.force_login(central_manager)

    response = client.get(reverse(PAGE), {"numero": listed.candidate.user.username})

    assertNotContains(response, "Places the candidate holds")


def test_nothing_is_promoted_in_an_archived_campaign(formation, campaign, central_manager, client):
    """An archived campaign's applications are never changed: its list stays as it was, and the page lists no place
    to free."""
    last_year = CampaignFactory(
        is_active=False,
        starts_on=campaign.starts_on - datetime.timedelta(days=365),
        ends_on=campaign.ends_on - datetime.timedelta(days=365),
    )
    holder = _holder(formation, last_year, central_manager, confirmed=False)
    (first,) = _waiting_list(formation, last_year, central_manager, size=1)
    Campaign.objects.filter(pk=last_year.pk).update(archive_on=campaign.starts_on - datetime.timedelta(days=1))
    client.force_login(central_manager)

    page = client.get(reverse(PAGE), {"numero": holder.candidate.user.username})
    record = _erase(holder.candidate.user, central_manager)

    assertNotContains(page, "Places the candidate holds")
    assert first.decisions.count() == 1
    assert erasure.places_freed(record) == ()
