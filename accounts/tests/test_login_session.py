"""No « Se souvenir de moi »: every login, by password (whatever the form posts) or through the ENT, gets the same
session: a cookie that ends with the browser (SESSION_EXPIRE_AT_BROWSER_CLOSE) and a row that ends after
SESSION_COOKIE_AGE (45 minutes) of inactivity, moved by the sliding refresh (ecandidat/sessions.py)."""

import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from accounts.tests.ent import cas_return, oidc_callback_state
from accounts.tests.personas import PASSWORD
from ecandidat.sessions import REFRESHED_AT_KEY

LOGIN = reverse("account_login")


def _assert_browser_session(response, client) -> None:
    """The session cookie has neither Max-Age nor Expires; its row ends SESSION_COOKIE_AGE from now."""
    cookie = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert cookie.value == client.session.session_key
    assert (cookie["max-age"], cookie["expires"]) == ("", "")
    expiry = Session.objects.get(session_key=client.session.session_key).expire_date
    end = timezone.now() + timedelta(seconds=django_settings.SESSION_COOKIE_AGE)
    assert end - timedelta(seconds=10) <= expiry <= end


@pytest.mark.parametrize("posted", [{}, {"remember": "on"}])
def test_a_password_login_gets_a_cookie_that_ends_with_the_browser(client, candidate_user, posted):
    """« remember » posted by an old page, or a hand-made form, changes nothing: the field no longer exists."""
    response = client.post(LOGIN, {"login": candidate_user.username, "password": PASSWORD, **posted})

    assert response.status_code == 302
    _assert_browser_session(response, client)


def test_an_ent_login_over_openid_connect_gets_the_same_cookie(client, oidc_ent, ent_candidate, mocker):
    state = oidc_callback_state(client, mocker, {"sub": "lucas.bernard", "email": ent_candidate.email})

    response = client.get("/accounts/oidc/ent/login/callback/", {"code": "c", "state": state})

    assert client.session["_auth_user_id"] == str(ent_candidate.pk)
    _assert_browser_session(response, client)


def test_an_ent_login_over_cas_gets_the_same_cookie(client, cas_ent, ent_candidate):
    cas_ent.return_value = ("lucas.bernard", {"mail": [ent_candidate.email]}, None)

    response = client.get(reverse("accounts:cas_callback"), cas_return(client, "ST-1"))

    assert client.session["_auth_user_id"] == str(ent_candidate.pk)
    _assert_browser_session(response, client)


def test_the_sliding_refresh_keeps_the_browser_cookie_and_moves_the_row(
    client, candidate_user, django_assert_num_queries
):
    client.post(LOGIN, {"login": candidate_user.username, "password": PASSWORD})
    session = client.session
    session[REFRESHED_AT_KEY] = int(time.time()) - django_settings.SESSION_REFRESH_AFTER - 1
    session.save()
    Session.objects.filter(session_key=session.session_key).update(expire_date=timezone.now() + timedelta(minutes=1))

    # session, user, the session saved with its new expiry (savepoint, update, release)
    with django_assert_num_queries(5):
        response = client.get(reverse("home"))

    assert response.status_code == 200
    _assert_browser_session(response, client)
