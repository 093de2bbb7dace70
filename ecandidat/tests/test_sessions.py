"""Sliding sessions refreshed only when their last refresh is older than SESSION_REFRESH_AFTER (issue 14)."""

import time
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from ecandidat.sessions import REFRESHED_AT_KEY, SessionStore


def _age_session(client, seconds: int) -> None:
    """Pretend the session was last refreshed ``seconds`` ago (its row keeps the expiry it was saved with)."""
    session = client.session
    session[REFRESHED_AT_KEY] = int(time.time()) - seconds
    session.save()


def _expiry(client):
    return Session.objects.get(session_key=client.session.session_key).expire_date


@pytest.mark.django_db
def test_a_fresh_session_is_not_written_again(candidate_user, client, campaign, settings, django_assert_num_queries):
    client.force_login(candidate_user)  # the login stamps the session as refreshed
    expiry = _expiry(client)

    # session, user: no UPDATE of the session
    with django_assert_num_queries(2):
        response = client.get(reverse("home"))

    assert _expiry(client) == expiry
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    # The countdown of the expiry warning starts from what the session really has left.
    left = int(response.content.decode().split('data-session-age="')[1].split('"')[0])
    assert settings.SESSION_COOKIE_AGE - 5 <= left <= settings.SESSION_COOKIE_AGE


@pytest.mark.django_db
def test_a_session_near_its_refresh_time_is_not_written(candidate_user, client, campaign, settings):
    client.force_login(candidate_user)
    _age_session(client, settings.SESSION_REFRESH_AFTER - 30)
    expiry = _expiry(client)

    response = client.get(reverse("home"))

    assert _expiry(client) == expiry
    left = int(response.content.decode().split('data-session-age="')[1].split('"')[0])
    assert left == pytest.approx(settings.SESSION_COOKIE_AGE - settings.SESSION_REFRESH_AFTER + 30, abs=3)


@pytest.mark.django_db
def test_an_older_session_is_renewed_row_and_cookie(candidate_user, client, campaign, settings):
    client.force_login(candidate_user)
    _age_session(client, settings.SESSION_REFRESH_AFTER + 1)
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=Session.objects.get().expire_date.replace(microsecond=0)
    )
    before = _expiry(client)

    response = client.get(reverse("home"))

    assert _expiry(client) > before
    # The cookie is renewed as one that ends with the browser (SESSION_EXPIRE_AT_BROWSER_CLOSE): no Max-Age, no
    # Expires; the 45 minutes of inactivity are the row's.
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie.value == client.session.session_key
    assert (cookie["max-age"], cookie["expires"]) == ("", "")
    assert _expiry(client) >= timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE - 5)
    assertContains(response, f'data-session-age="{settings.SESSION_COOKIE_AGE}"')


@pytest.mark.django_db
def test_the_idle_timeout_is_never_longer_than_the_session_age(candidate_user, client, campaign, settings):
    """Refreshed or not, a session's row never expires later than SESSION_COOKIE_AGE after the last request."""
    client.force_login(candidate_user)
    for seconds in (0, 10, settings.SESSION_REFRESH_AFTER - 1, settings.SESSION_REFRESH_AFTER + 1):
        _age_session(client, seconds)
        started = time.time()
        client.get(reverse("home"))
        assert _expiry(client).timestamp() <= started + settings.SESSION_COOKIE_AGE + 1


@pytest.mark.django_db
def test_stay_logged_in_renews_a_session_that_was_not_due(candidate_user, client, campaign, settings):
    client.force_login(candidate_user)
    _age_session(client, 60)
    before = _expiry(client)

    response = client.post(reverse("session_keepalive"))

    assert response.json() == {"expires_in": settings.SESSION_COOKIE_AGE}
    assert _expiry(client) > before


@pytest.mark.django_db
def test_anonymous_requests_get_no_session(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(reverse("home"))

    assert response.status_code == 200
    assert not Session.objects.exists()


@pytest.mark.django_db
def test_the_session_store_reads_its_row_through_the_prepared_query(settings):

    assert settings.SESSION_ENGINE == "ecandidat.sessions"
    store = SessionStore()
    store["answer"] = 42
    store.create()
    key = store.session_key
    assert SessionStore(key)["answer"] == 42

    # Expired: empty, and the key is dropped (a new session is created on save), as with Django's store.
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    expired = SessionStore(key)
    assert expired.get("answer") is None
    assert expired.session_key is None
    assert SessionStore("unknownkey0123456789")._get_session_from_db() is None
