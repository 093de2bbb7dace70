"""A promotion from the complementary list does not override a decision waiting for validation.

X is first of the list (a validated complementary-list decision, rank 1); the commission enters « Défavorable » for
X, which waits for its validation (``DECISION_TWO_PERSON_RULE``: someone else validates it). An admitted candidate
withdraws: the place went to X all the same, chosen by their latest *validated* decision only, who was mailed
AVIS_FAVORABLE; the commission's refusal, now older than the promotion's validated decision, could neither be
validated (« no longer the latest ») nor deleted (« a validated decision cannot be deleted »): stuck for ever.
ecandidat-features §2.7 counts only the candidatures whose *latest* avis is a validated complementary list.

Now ``staff._first_of_waiting_list`` passes over a candidate whose latest decision waits for validation, in its
queries (a run of them does not exhaust its attempts) and under the row's lock; the next of the list is admitted.
The one passed over keeps their rank until their decision is validated, which then takes them off the list.
"""

import pytest

from applications.enums import DecisionAction
from applications.models import Application
from applications.services import candidature as candidature_services
from applications.services import staff
from applications.tests.factories_candidature import decide, decision_type, make_application
from applications.tests.helpers import mails
from ecandidat.models import OutboundEmail
from offers.enums import Avis
from offers.models import RefusalReason
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(
        centre=centre,
        commission=commission,
        auto_waiting_list=True,
        waiting_list_decision_type=decision_type(Avis.FAVOURABLE),
        waiting_list_confirmation_delay_days=5,
    )


@pytest.fixture
def listed(formation, campaign, central_manager):
    """X, Y and Z on the complementary list, ranks 1, 2 and 3 (validated)."""
    applications = []
    for rank, name in enumerate(["x", "y", "z"], start=1):
        application = make_application(formation, campaign=campaign, email=f"{name}@example.org")
        decide(application, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=rank)
        applications.append(application)
    return applications


@pytest.fixture
def admitted(formation, campaign, central_manager, listed):
    application = make_application(formation, campaign=campaign, email="admis@example.org")
    decide(application, Avis.FAVOURABLE, actor=central_manager)
    return application


def _refuse_pending(application, actor):
    """The commission's « Défavorable », entered and not validated."""
    return staff.record_decision(
        application,
        decision_type=decision_type(Avis.UNFAVOURABLE),
        refusal_reason=RefusalReason.objects.get_or_create(code="NIV", defaults={"label": "Niveau"})[0],
        actor=actor,
    )


def _ranks(*applications):
    return [Application.objects.get(pk=application.pk).waiting_list_rank for application in applications]


def test_a_withdrawal_passes_over_a_first_in_line_whose_refusal_waits_for_validation(
    settings, listed, admitted, commission_member, central_manager, mailoutbox, django_capture_on_commit_callbacks
):
    x, y, z = listed
    settings.DECISION_TWO_PERSON_RULE = True
    refusal = _refuse_pending(x, commission_member)

    with django_capture_on_commit_callbacks(execute=True):
        candidature_services.withdraw_application(application=admitted, actor=admitted.candidate.user, reason="PER")

    # Y is admitted and mailed through the outbox; X is passed over and keeps their rank, Z moves up.
    y.refresh_from_db()
    promotion = y.decisions.latest()
    assert (promotion.action, promotion.validated_at is not None) == (DecisionAction.WAITING_LIST_PROMOTION, True)
    assert [mail.to for mail in mails("AVIS_FAVORABLE")] == ["admis@example.org", "y@example.org"]
    assert mails("AVIS_FAVORABLE")[-1].status == OutboundEmail.Status.SENT  # sent once the withdrawal committed
    assert [
        message.to for message in mailoutbox if "x@example.org" in message.to or "y@example.org" in message.to
    ] == [["y@example.org"]]
    assert x.decisions.newest_first().values_list("pk", flat=True).first() == refusal.pk
    assert not x.events.filter(kind="waiting_list_promotion").exists()
    assert _ranks(x, y, z) == [1, None, 2]

    # The commission's refusal is still the latest decision of X: someone else validates it, X is refused.
    staff.validate_decision(refusal, actor=central_manager)

    x.refresh_from_db()
    latest = x.decisions.select_related("decision_type").current_validated()
    assert (latest.pk, latest.decision_type.avis) == (refusal.pk, Avis.UNFAVOURABLE)
    assert [mail.to for mail in mails("AVIS_DEFAVORABLE")] == ["x@example.org"]
    assert _ranks(x, z) == [None, 1]


def test_the_exact_list_passes_over_a_pending_decision_too(listed, commission_member, central_manager, formation):
    # Stale ranks (none written): the list computed from the decisions decides, with the same rule.
    x, y, z = listed
    _refuse_pending(x, commission_member)
    Application.objects.filter(formation=formation).update(waiting_list_rank=None)

    assert staff.promote_from_waiting_list(formation=formation, actor=None).pk == y.pk
    assert x.decisions.count() == 2


def test_a_run_of_pending_decisions_does_not_exhaust_the_search(formation, campaign, central_manager):
    # More candidates passed over than the attempts of one query: they are left out by the query itself.
    pending = []
    for rank in range(1, 23):
        application = make_application(formation, campaign=campaign)
        decide(application, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=rank)
        staff.record_decision(application, decision_type=decision_type(Avis.WAITING_LIST), actor=central_manager)
        pending.append(application)
    last = make_application(formation, campaign=campaign)
    decide(last, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=23)

    assert staff.promote_from_waiting_list(formation=formation, actor=None).pk == last.pk
    assert _ranks(pending[0], pending[-1]) == [1, 22]


def test_a_newer_validated_decision_takes_the_candidate_off_the_list(listed, central_manager, formation):
    x = listed[0]
    decide(x, Avis.WAITING_LIST, actor=central_manager)

    assert list(staff.waiting_list_queryset(formation).values_list("pk", flat=True)) == [a.pk for a in listed[1:]]
