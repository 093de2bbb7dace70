"""Found by review (a candidate on a slow line, the evening of a deadline): a form saved just before the nightly
window (post/redirect/get) was followed by the maintenance page saying that nothing sent had been saved; the GET of
the redirect, arriving in the window, got the page meant for a refused POST. Only a request that sends something
(not GET, HEAD…) is now told it was not saved; a GET gets the plain page. The messages the saved form left are shown
on that page (MessageMiddleware before MaintenanceMiddleware): applications/tests/test_maintenance_after_transmit.py
and applications/tests/pieces/test_maintenance_after_upload.py, with the transmission and the upload themselves.

The test settings turn the window off: these tests turn it on."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from ecandidat.maintenance import forget_switch

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
IN_THE_WINDOW = datetime.datetime(2026, 11, 28, 22, 45, 1, tzinfo=PARIS)

NOT_SAVED = "What you have just sent was not saved: the site was already closed for maintenance"
NOT_SAVED_FR = "Ce que vous venez d'envoyer n'a pas été enregistré"
WINDOW_FR = "indisponible pour cause de maintenance tous les jours de 22h45 à 06h"
OLD_SENTENCE_FR = "Rien de ce que vous avez envoyé"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _window(settings):
    settings.MAINTENANCE_WINDOW_ENFORCED = True
    settings.MAINTENANCE_START = datetime.time(22, 45)
    settings.MAINTENANCE_END = datetime.time(6, 0)
    forget_switch()
    with time_machine.travel(IN_THE_WINDOW, tick=False):
        yield


@pytest.fixture
def candidate_client(client, candidate_user):
    client.force_login(candidate_user)
    return client


def test_a_get_in_the_window_does_not_say_anything_was_lost(candidate_client, django_assert_num_queries):
    # the session, the candidate's account; the switch from memory, no message pending: nothing else
    with django_assert_num_queries(2):
        response = candidate_client.get(reverse("offers:catalogue"), language="fr")

    assert response.status_code == 503
    assertContains(response, WINDOW_FR, status_code=503)
    assertNotContains(response, NOT_SAVED_FR, status_code=503)
    assertNotContains(response, OLD_SENTENCE_FR, status_code=503)


@pytest.mark.parametrize("method", ["get", "head"])
def test_no_safe_method_is_told_it_sent_something(client, method):
    response = getattr(client, method)(reverse("home"), language="en")

    assert response.status_code == 503
    assert response.context["sent_not_saved"] is False


def test_a_post_in_the_window_is_told_it_was_not_saved_and_changes_nothing(client, django_assert_num_queries):
    # anonymous, no session: no query at all; the view (the sign-up) never runs
    with django_assert_num_queries(0):
        response = client.post(
            reverse("account_signup"), {"last_name": "MARTIN", "email": "martin@example.org"}, language="fr"
        )

    assert response.status_code == 503
    assertContains(response, NOT_SAVED_FR, status_code=503)
    assertContains(response, "la maintenance ne repousse aucune date limite", status_code=503)
    assertNotContains(response, OLD_SENTENCE_FR, status_code=503)
    assert not get_user_model().objects.exists()


def test_a_candidates_post_in_the_window_says_so_in_english_and_changes_nothing(
    candidate_client, candidate_user, django_assert_num_queries
):
    before = get_user_model().objects.values().get(pk=candidate_user.pk)

    # the session, the candidate's account; the view (the change of address) never runs
    with django_assert_num_queries(2):
        response = candidate_client.post(
            reverse("accounts:email_change"), {"email": "nouvelle@example.org"}, language="en"
        )

    assert response.status_code == 503
    assertContains(response, NOT_SAVED, status_code=503)
    assertContains(response, "the maintenance does not extend any deadline", status_code=503)
    assert get_user_model().objects.values().get(pk=candidate_user.pk) == before


def test_messages_run_before_the_maintenance():
    middleware = settings.MIDDLEWARE
    assert middleware.index("django.contrib.messages.middleware.MessageMiddleware") < middleware.index(
        "ecandidat.middleware.MaintenanceMiddleware"
    )
