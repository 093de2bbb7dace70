"""Validating a favourable decision on the evening of its date de confirmation, once the site has closed for the night.

With the maintenance window enforced (production, 22:45–06:00), a decision validated at 22:50 on its own date can
never be answered: the candidate pages are closed until 06:00 and « Confirmer » is refused from then on. The nightly
withdrawal leaves such a decision for staff (``nightly._given_too_late``); the validation now refuses it up front,
nothing written, with the same rule (``first_day_to_act``) and a message next to the date, as it refuses a date gone.
Every release path goes through ``staff.validate_decision``: one application, the bulk preview, the background job.
The test settings turn the window off: these tests turn it on, except where they say otherwise."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from applications.enums import EventKind
from applications.models import ApplicationEvent, ReleaseJob
from applications.services import staff
from applications.services.release import preview_release, request_release, run_release
from applications.tests.factories_candidature import decision_type, make_application
from applications.tests.helpers import formation_confirmed_by, paris
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import OutboundEmail
from offers.enums import Avis

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("before_the_confirmation_date")]

CLOSED = re.escape(
    "The candidate can no longer confirm by the confirmation date (30 Jun 2027): the site is closed until 06:00 "
    "tomorrow. Set a later confirmation date first (“Extend deadlines”), then validate this favourable decision."
)


@pytest.fixture
def formation(centre, commission):
    return formation_confirmed_by(centre, commission)


@pytest.fixture
def entered(formation, campaign, commission_member):
    """An application whose favourable decision the commission entered, waiting for its validation."""
    application = make_application(formation, campaign=campaign, email="fa@example.org")
    staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=commission_member)
    return application


def assert_nothing_written(application):
    decision = application.decisions.get()
    assert (decision.validated_at, decision.validated_by) == (None, None)
    assert not ApplicationEvent.objects.filter(kind=EventKind.DECISION_VALIDATED).exists()
    assert not OutboundEmail.objects.exists()
    application.refresh_from_db()
    assert application.accepted is None


def test_validated_once_the_site_closed_on_its_date_is_refused(maintenance_window, entered, centre_manager):
    decision = entered.decisions.get()

    with (
        time_machine.travel(paris(2027, 6, 30, 22, 50), tick=False),
        translation.override("en"),
        pytest.raises(BusinessRuleError, match=CLOSED),
    ):
        staff.validate_decision(decision, actor=centre_manager)

    assert_nothing_written(entered)


def test_once_given_a_later_date_it_is_validated_that_same_evening(maintenance_window, entered, centre_manager):
    decision = entered.decisions.get()

    with time_machine.travel(paris(2027, 6, 30, 22, 50), tick=False):
        with pytest.raises(BusinessRuleError):
            staff.validate_decision(decision, actor=centre_manager)
        staff.extend_deadlines(entered, actor=centre_manager, confirmation_date=datetime.date(2027, 7, 3))
        staff.validate_decision(decision, actor=centre_manager)

    [mail] = OutboundEmail.objects.filter(code="AVIS_FAVORABLE")
    assert "au plus tard le 03/07/2027, ce jour compris" in mail.body


def test_validated_before_the_site_closed_on_its_date_is_accepted(maintenance_window, entered, centre_manager):
    decision = entered.decisions.get()

    with time_machine.travel(paris(2027, 6, 30, 21, 40), tick=False):  # before the last hour
        staff.validate_decision(decision, actor=centre_manager)

    decision.refresh_from_db()
    assert decision.validated_by == centre_manager
    [mail] = OutboundEmail.objects.filter(code="AVIS_FAVORABLE")
    assert "au plus tard le 30/06/2027, ce jour compris" in mail.body


def test_validated_after_midnight_inside_the_window_keeps_the_past_date_message(
    maintenance_window, entered, centre_manager
):
    """At 01:00 on the next day the date is gone: the message of a date gone, not of the closed site."""
    decision = entered.decisions.get()

    with (
        time_machine.travel(paris(2027, 7, 1, 1, 0), tick=False),
        translation.override("en"),
        pytest.raises(BusinessRuleError, match=re.escape("The confirmation date (30 Jun 2027) has passed")),
    ):
        staff.validate_decision(decision, actor=centre_manager)

    assert_nothing_written(entered)


@pytest.mark.parametrize("moment", [paris(2027, 6, 30, 22, 50), paris(2027, 6, 30, 23, 59)])
def test_without_an_enforced_window_it_is_accepted_until_midnight(entered, centre_manager, moment):
    decision = entered.decisions.get()

    with time_machine.travel(moment, tick=False):
        staff.validate_decision(decision, actor=centre_manager)

    decision.refresh_from_db()
    assert decision.validated_by == centre_manager
    assert OutboundEmail.objects.filter(code="AVIS_FAVORABLE").count() == 1


# --- the release paths ------------------------------------------------------------------------------------------


def test_the_release_preview_shows_the_refusal(maintenance_window, entered, centre_manager):
    with time_machine.travel(paris(2027, 6, 30, 22, 50), tick=False), translation.override("en"):
        [preview] = preview_release([entered], actor=centre_manager)

    assert re.fullmatch(CLOSED, preview.refusal)
    assert preview.mails == []
    assert_nothing_written(entered)


def test_the_background_release_records_the_refusal(maintenance_window, entered, centre_manager):
    with time_machine.travel(paris(2027, 6, 30, 22, 50), tick=False), translation.override("en"):
        job = request_release(actor=centre_manager, application_ids=[entered.pk])
        run_release(job.pk)

    job = ReleaseJob.objects.get(pk=job.pk)
    assert (job.done, len(job.refusals)) == (0, 1)
    assert "can no longer confirm by the confirmation date (30 Jun 2027)" in job.refusals[0]
    assert_nothing_written(entered)


def test_the_one_application_release_page_shows_the_refusal_next_to_the_date(
    client, maintenance_window, entered, centre_manager, django_assert_num_queries
):
    url = reverse("admin:applications_application_operation", args=[entered.pk, "validate_decisions"])
    posted = {"decisions": str(entered.decisions.get().pk)}

    with time_machine.travel(paris(2027, 6, 30, 22, 50), tick=False):
        client.force_login(centre_manager)  # that evening: a session of 1 May would have expired
        # session, user, memberships, the application in scope; the release, refused under the application's lock
        # before any write; the page again, its preview running the same validation in a rolled-back savepoint
        with django_assert_num_queries(29):
            response = client.post(url, posted, language="en")

    assert response.status_code == 200  # the page again, the refusal above its form
    assert "can no longer confirm by the confirmation date (30 Jun 2027)" in response.content.decode()
    assert_nothing_written(entered)
