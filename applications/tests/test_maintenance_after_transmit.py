"""Found by review (a candidate on a slow 3G line, the evening of the return deadline): « Transmettre ma candidature »
posted at 22:44:59.70 went through (302, the application « Réceptionné »), but the page it redirects to, asked at
22:45:00.79, was the maintenance page saying that nothing sent during the maintenance had been saved, and the
« Votre candidature a été transmise » message waited until the first page after 06:00 (MaintenanceMiddleware ran
before MessageMiddleware). That GET now gets the plain maintenance page, which shows the message; only a form posted
in the window is told it was not saved (ecandidat/tests/test_maintenance_after_post.py).

The test settings turn the window off: these tests turn it on (the ``maintenance_window`` fixture)."""

import datetime

import pytest
import time_machine
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from applications.enums import DossierStatus
from applications.tests.factories_candidature import ApplicationFactory, PieceSubmissionFactory, complete_candidate
from applications.tests.helpers import paris
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("maintenance_window")]

DEADLINE = datetime.date(2027, 5, 3)  # the formation's date limite de retour: the evening of the review
JUST_BEFORE = paris(2027, 5, 3, 22, 44, 59, 700000)  # the tap on « Transmettre ma candidature »
JUST_AFTER = paris(2027, 5, 3, 22, 45, 0, 790000)  # the page the transmission redirects to, asked on a slow line
NEXT_MORNING = paris(2027, 5, 4, 6, 0)

TRANSMITTED = "has been transmitted: the commission will examine it"
CHECK_MAILS = "Check your e-mails: if your dossier has been transmitted correctly"
NOT_SAVED = "was not saved"
OLD_SENTENCE = "Nothing you sent during the maintenance was saved"

# The page the transmission redirects to, answered by the maintenance: the session, the candidate's account; nothing
# else (the messages are in their cookie, emptied by the same response).
QUERIES_MAINTENANCE_PAGE_WITH_MESSAGES = 2


@pytest.fixture(autouse=True)
def _deadline_day():
    with time_machine.travel(paris(2027, 5, 3, 22, 30), tick=False):  # the login: the session is 45 minutes
        yield


@pytest.fixture
def applicant(campaign):
    return complete_candidate(user__campaign=campaign)


@pytest.fixture
def application(applicant, commission):
    formation = FormationFactory(
        centre=commission.centre, commission=commission, closes_on=DEADLINE, return_deadline=DEADLINE
    )
    application = ApplicationFactory(candidate=applicant, formation=formation)
    PieceSubmissionFactory(
        application=application,
        piece_type=PieceTypeFactory(is_common=True, is_unique=True, label="Lettre de motivation"),
    )
    return application


@pytest.fixture
def owner(client, applicant):
    client.force_login(applicant.user)
    return client


def test_the_page_after_a_transmission_just_before_the_window_says_it_was_transmitted(
    owner, applicant, application, django_assert_num_queries
):
    with time_machine.travel(JUST_BEFORE, tick=False):
        transmitted = owner.post(reverse("applications:transmit", args=[application.public_id]))

    assert transmitted.status_code == 302
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED
    with (
        time_machine.travel(JUST_AFTER, tick=False),
        django_assert_num_queries(QUERIES_MAINTENANCE_PAGE_WITH_MESSAGES),
    ):
        page = owner.get(transmitted["Location"])

    assert page.status_code == 503
    assertContains(page, TRANSMITTED, status_code=503)
    assertContains(page, CHECK_MAILS, status_code=503)
    assertContains(
        page, "The application is unavailable for maintenance every day from 22:45 to 06:00", status_code=503
    )
    assertNotContains(page, NOT_SAVED, status_code=503)
    assertNotContains(page, OLD_SENTENCE, status_code=503)
    # Said once: not again on the first page of the morning (logged in again: the session has ended overnight).
    with time_machine.travel(NEXT_MORNING, tick=False):
        owner.force_login(applicant.user)
        morning = owner.get(transmitted["Location"])
    assert morning.status_code == 200
    assertNotContains(morning, TRANSMITTED)


def test_a_transmission_posted_in_the_window_is_refused_and_says_so(owner, application):
    with time_machine.travel(JUST_AFTER, tick=False):
        refused = owner.post(reverse("applications:transmit", args=[application.public_id]))

    assert refused.status_code == 503
    assertContains(refused, NOT_SAVED, status_code=503)
    assertContains(refused, "the maintenance does not extend any deadline", status_code=503)
    assertNotContains(refused, TRANSMITTED, status_code=503)
    application.refresh_from_db()
    assert application.dossier_status != DossierStatus.RECEIVED
