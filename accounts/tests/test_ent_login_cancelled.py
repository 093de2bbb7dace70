"""A login cancelled at the ENT over OpenID Connect: the ENT sends the browser back with ``error=access_denied``
(allauth's ``AuthError.CANCELLED``). The person lands on the login page told, as information, that they cancelled
it, not that the ENT login failed (``accounts.adapters.SocialAccountAdapter.on_authentication_error``); any other
``error=`` keeps « La connexion par l’ENT n’a pas abouti ». Nobody logged in, nothing created."""

import logging

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib import messages
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from accounts.tests.ent import oidc_callback_state

CALLBACK = "/accounts/oidc/ent/login/callback/"
LOGIN = reverse("account_login")
FRENCH = {"language": "fr"}
CANCELLED_FR = "Vous avez annulé la connexion par l’ENT."
NOT_COMPLETED_FR = "La connexion par l’ENT n’a pas abouti : reconnectez-vous."
CLAIMS = {"sub": "a1b2-c3", "email": "anne.etudiante@etudiant.univ-perp.fr", "email_verified": True}

pytestmark = pytest.mark.django_db


def _messages_on_login_page(client, response) -> list[tuple[int, str]]:
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    with translation.override("fr"):
        page = client.get(LOGIN, **FRENCH)
        assert page.status_code == 200
        return [(message.level, str(message)) for message in page.context["messages"]]


def _nobody_logged_in_nothing_created(client) -> None:
    assert "_auth_user_id" not in client.session
    assert not User.objects.exists()
    assert not SocialAccount.objects.exists()


def test_a_login_cancelled_at_the_ent_says_so_as_information(
    client, oidc_ent, campaign, mocker, caplog, django_assert_num_queries
):
    state = oidc_callback_state(client, mocker, CLAIMS)

    # The session read; the request's savepoint; the ENT app; the state consumed in the session (3); release; the
    # session saved (4, with the message). Nothing asked of the ENT: no token, no userinfo.
    with caplog.at_level(logging.INFO), django_assert_num_queries(11):
        response = client.get(CALLBACK, {"error": "access_denied", "state": state}, **FRENCH)

    assert _messages_on_login_page(client, response) == [(messages.INFO, CANCELLED_FR)]
    assert "ENT login cancelled by the person (OpenID Connect, ent)" in caplog.text
    assert "ENT login failed" not in caplog.text
    _nobody_logged_in_nothing_created(client)


def test_the_login_page_shows_the_cancellation_as_information_not_an_error(client, oidc_ent, campaign, mocker):
    state = oidc_callback_state(client, mocker, CLAIMS)
    client.get(CALLBACK, {"error": "access_denied", "state": state}, **FRENCH)

    with translation.override("fr"):
        page = client.get(LOGIN, **FRENCH).content.decode()

    assert f'<p class="message message--info">{CANCELLED_FR}</p>' in page
    assert "message--error" not in page
    assert "Erreur" not in page.split("</title>")[0]  # the page title says « Erreur : » only for an error


@pytest.mark.parametrize("error", ["server_error", "invalid_request", "login_required"])
def test_another_ent_error_keeps_the_failure_message(client, oidc_ent, campaign, mocker, error):
    state = oidc_callback_state(client, mocker, CLAIMS)

    response = client.get(CALLBACK, {"error": error, "state": state}, **FRENCH)

    assert _messages_on_login_page(client, response) == [(messages.ERROR, NOT_COMPLETED_FR)]
    _nobody_logged_in_nothing_created(client)


def test_a_cancel_with_a_state_used_already_is_a_failure(client, oidc_ent, campaign, mocker):
    """The cancellation is believed only on a return to a login this browser started: a replayed or forged
    ``error=access_denied`` is a login that did not complete, as before."""
    state = oidc_callback_state(client, mocker, CLAIMS)
    client.get(CALLBACK, {"error": "server_error", "state": state}, **FRENCH)
    client.get(LOGIN, **FRENCH)  # the first message read

    response = client.get(CALLBACK, {"error": "access_denied", "state": state}, **FRENCH)

    assert _messages_on_login_page(client, response) == [(messages.ERROR, NOT_COMPLETED_FR)]
    _nobody_logged_in_nothing_created(client)
