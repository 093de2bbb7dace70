"""« Candidater » and « Transmettre ma candidature » tapped twice on a phone on a slow line (the first answer has not
come yet when the second tap posts again).

The second request found the work done and was refused: the page the candidate landed on (the second answer's)
said only « Votre candidature a déjà été transmise. » or « Vous avez déjà candidaté à cette formation », and the
success messages of the first (« … a été transmise », « Vérifiez vos mails… ») were lost. A refusal "already done"
for something this same account did less than two minutes ago (``views_candidature.DOUBLE_SUBMIT_WINDOW``) is now
answered as the first tap was: same success messages, same page, nothing written twice. An older one, or one done
by someone else (staff applying on the candidate's behalf), keeps its message.
"""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.tests.factories import StaffFactory
from applications.enums import EventKind
from applications.models import Application, ApplicationEvent
from applications.services import candidature as services
from applications.services.candidature import _create_application
from applications.tests.factories_candidature import ApplicationFactory, complete_candidate
from ecandidat.exceptions import AlreadyDone, BusinessRuleError, InvalidTransition
from ecandidat.models import OutboundEmail
from offers.models import Campaign
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.django_db

TRANSMITTED = "has been transmitted: the commission will examine it."
CHECK_MAILS = "Check your e-mails: if your dossier has been transmitted correctly"
ALREADY_TRANSMITTED = "Your application has already been transmitted."
APPLIED = "Your application to the formation MASTER 1 - ENERGIE has been registered."
ALREADY_APPLIED = "You have already applied to this formation."


@pytest.fixture
def applicant(campaign):
    return complete_candidate(user__campaign=campaign)


@pytest.fixture
def formation(commission):
    return FormationFactory(centre=commission.centre, commission=commission, title="MASTER 1 - ENERGIE")


@pytest.fixture
def application(applicant, formation):
    return ApplicationFactory(candidate=applicant, formation=formation)


@pytest.fixture
def owner(client, applicant):
    client.force_login(applicant.user)
    return client


def _detail(application) -> str:
    return reverse("applications:detail", args=[application.public_id])


def _first_answer_lost(client) -> None:
    """The second tap's request left before the first one's answer came: the browser followed the second answer
    only, and the first one's messages (its cookie) never reached it."""
    for name in [name for name in client.cookies if "messages" in name]:
        del client.cookies[name]


def _messages(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in response.context["messages"]]


# --- « Transmettre ma candidature » ------------------------------------------------------------------------------


def test_transmit_tapped_twice_says_transmitted_and_writes_once(owner, application, django_assert_num_queries):
    url = reverse("applications:transmit", args=[application.public_id])
    assertRedirects(owner.post(url), _detail(application), fetch_redirect_response=False)
    _first_answer_lost(owner)

    # Session, user, the application; the service's savepoint: the dossier's and the application's locks, refused
    # (already « Réceptionné »: nothing more read), rolled back; the history row « Dossier transmis » of this account
    # (one query more than the refusal cost before); the request's savepoints (4).
    with django_assert_num_queries(11):
        response = owner.post(url)

    assertRedirects(response, _detail(application), fetch_redirect_response=False)
    page = owner.get(_detail(application))
    assert [level for level, _ in _messages(page)] == ["success", "success"]
    assertContains(page, TRANSMITTED)
    assertContains(page, CHECK_MAILS)
    assertNotContains(page, ALREADY_TRANSMITTED)
    assert application.events.count() == 1
    assert OutboundEmail.objects.filter(code="STATUT_RE").count() == 1


def test_transmit_posted_again_after_the_window_keeps_the_refusal(
    owner, application, time_machine, django_assert_num_queries
):
    url = reverse("applications:transmit", args=[application.public_id])
    time_machine.move_to(timezone.now(), tick=False)
    owner.post(url)
    _first_answer_lost(owner)
    time_machine.shift(datetime.timedelta(minutes=2, seconds=1))

    with django_assert_num_queries(11):  # the same: the history row read finds nothing this recent
        response = owner.post(url)

    assertRedirects(response, _detail(application), fetch_redirect_response=False)
    page = owner.get(_detail(application))
    assert _messages(page) == [("error", ALREADY_TRANSMITTED)]
    assertNotContains(page, CHECK_MAILS)
    assert application.events.count() == 1


def test_an_application_transmitted_long_ago_keeps_the_refusal(owner, applicant, formation):
    application = ApplicationFactory(candidate=applicant, formation=formation, transmitted=True)
    ApplicationEvent.objects.create(application=application, actor=applicant.user, kind=EventKind.TRANSMITTED)
    ApplicationEvent.objects.filter(application=application).update(
        created_at=timezone.now() - datetime.timedelta(days=3)
    )

    response = owner.post(reverse("applications:transmit", args=[application.public_id]), follow=True)

    assert _messages(response) == [("error", ALREADY_TRANSMITTED)]


# --- « Candidater » ---------------------------------------------------------------------------------------------


def test_apply_tapped_twice_says_registered_and_creates_one_application(
    owner, applicant, formation, django_assert_num_queries
):
    url = reverse("applications:apply", args=[formation.pk])
    first = owner.post(url)
    application = Application.objects.get(candidate=applicant)
    assertRedirects(first, _detail(application), fetch_redirect_response=False)
    _first_answer_lost(owner)

    # Session, user, the formation, the dossier; the service's savepoint: the dossier's lock, the formation, the
    # campaign, the application found: refused, rolled back; the application this account has just created (one
    # query more than the refusal cost before); the request's savepoints (4).
    with django_assert_num_queries(14):
        response = owner.post(url)

    assertRedirects(response, _detail(application), fetch_redirect_response=False)
    page = owner.get(_detail(application))
    assert _messages(page) == [("success", APPLIED)]
    assertNotContains(page, ALREADY_APPLIED)
    assert Application.objects.filter(candidate=applicant).count() == 1
    assert OutboundEmail.objects.filter(code="CANDIDATURE").count() == 1


def test_apply_posted_again_after_the_window_keeps_the_refusal(
    owner, applicant, formation, time_machine, django_assert_num_queries
):
    url = reverse("applications:apply", args=[formation.pk])
    time_machine.move_to(timezone.now(), tick=False)
    owner.post(url)
    _first_answer_lost(owner)
    time_machine.shift(datetime.timedelta(minutes=2, seconds=1))

    with django_assert_num_queries(14):  # the same: the application found is not this recent
        response = owner.post(url)

    assertRedirects(response, reverse("applications:apply", args=[formation.pk]), fetch_redirect_response=False)
    page = owner.get(reverse("applications:apply", args=[formation.pk]))
    assert ("error", ALREADY_APPLIED) in _messages(page)
    assert Application.objects.filter(candidate=applicant).count() == 1


def test_an_application_staff_just_made_on_the_candidates_behalf_keeps_the_refusal(owner, applicant, formation):
    ApplicationFactory(candidate=applicant, formation=formation, created_by=StaffFactory())

    response = owner.post(reverse("applications:apply", args=[formation.pk]))

    assertRedirects(response, reverse("applications:apply", args=[formation.pk]), fetch_redirect_response=False)
    assert ("error", ALREADY_APPLIED) in _messages(owner.get(reverse("applications:apply", args=[formation.pk])))


# --- The services' refusals: "already done" by type, not by message ---------------------------------------------


def test_the_services_raise_already_done_only_for_work_already_done(applicant, formation):
    """The views tell a double tap by the exception's type (``AlreadyDone``): its message is translated, and any
    other refusal (here: a closed campaign, a missing piece) must keep its own answer."""
    first = services.create_application(candidate=applicant, formation=formation, actor=applicant.user)
    with pytest.raises(AlreadyDone, match=ALREADY_APPLIED):
        services.create_application(candidate=applicant, formation=formation, actor=applicant.user)
    with pytest.raises(AlreadyDone, match="The candidate has already applied"):
        services.create_application_on_behalf(
            candidate=applicant, formation=formation, actor=StaffFactory(), return_deadline=None
        )

    services.transmit_application(application=first, actor=applicant.user)
    with pytest.raises(AlreadyDone, match=ALREADY_TRANSMITTED):
        services.transmit_application(application=first, actor=applicant.user)

    other = FormationFactory(centre=formation.centre, commission=formation.commission)
    today = timezone.localdate()
    Campaign.objects.filter(pk=applicant.user.campaign_id).update(
        starts_on=today - datetime.timedelta(days=30), ends_on=today - datetime.timedelta(days=1)
    )
    with pytest.raises(BusinessRuleError) as refused:
        services.create_application(candidate=applicant, formation=other, actor=applicant.user)
    assert not isinstance(refused.value, AlreadyDone)


def test_a_missing_piece_is_not_taken_for_work_already_done(applicant, formation):
    application = ApplicationFactory(candidate=applicant, formation=formation)
    PieceTypeFactory(is_common=True, is_unique=True)  # asked of every application, not uploaded

    with pytest.raises(InvalidTransition, match="A supporting document is missing") as refused:
        services.transmit_application(application=application, actor=applicant.user)
    assert not isinstance(refused.value, AlreadyDone)


def test_two_simultaneous_applications_end_as_already_done(applicant, formation):
    """The race the unique constraint settles (the rules' check found nothing yet): ``AlreadyDone`` too."""
    ApplicationFactory(candidate=applicant, formation=formation, created_by=applicant.user)

    with pytest.raises(AlreadyDone, match="already"):
        _create_application(
            applicant, formation, actor=applicant.user, refusal=lambda *_: "", already_applied="already applied"
        )
