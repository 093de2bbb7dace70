"""The absolute session lifetime (SESSION_ABSOLUTE_AGE, ecandidat/sessions.py): however active, a logged-in session
ends that long after its login; the person is logged out and told why on the login page. The pages' countdown and
« Rester connecté » never promise more than that end leaves. (Each login path stamps the session:
accounts/tests/test_login_absolute_age.py.)"""

import runpy
import time

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils import translation

from ecandidat.sessions import LOGGED_IN_AT_KEY, REFRESHED_AT_KEY, absolute_age_message

BASE_SETTINGS = django_settings.BASE_DIR / "ecandidat" / "settings" / "base.py"
LOGIN = reverse("account_login")
MESSAGE_FR = "Pour votre sécurité, une session dure au plus 12 heures : reconnectez-vous."


def _logged_in(client, user, *, ago: int | None, refreshed_ago: int = 0) -> str:
    """Log ``user`` in, then pretend it was ``ago`` seconds ago (None: a session of before the absolute limit,
    without the login's time), last refreshed ``refreshed_ago`` seconds ago. Returns the session's key."""
    client.force_login(user)
    session = client.session
    now = int(time.time())
    session[REFRESHED_AT_KEY] = now - refreshed_ago
    if ago is None:
        del session[LOGGED_IN_AT_KEY]
    else:
        session[LOGGED_IN_AT_KEY] = now - ago
    session.save()
    return session.session_key


def _session_age_on_page(response) -> int:
    return int(response.content.decode().split('data-session-age="')[1].split('"')[0])


@pytest.mark.django_db
def test_the_login_stamps_its_time(client, candidate_user):
    before = int(time.time())
    client.force_login(candidate_user)

    assert before <= client.session[LOGGED_IN_AT_KEY] <= int(time.time())
    assert client.session[REFRESHED_AT_KEY] == client.session[LOGGED_IN_AT_KEY]


@pytest.mark.django_db
def test_an_active_session_older_than_the_limit_is_logged_out_to_the_login_page(
    client, candidate_user, campaign, settings, django_assert_num_queries
):
    """Used a minute ago (the sliding expiry alone would keep it), but logged in 12 hours ago: logged out."""
    key = _logged_in(client, candidate_user, ago=settings.SESSION_ABSOLUTE_AGE, refreshed_ago=60)
    page = reverse("applications:start")

    # the session read, its row read and deleted (the logout: Django's store); no user read: the request is anonymous
    # from the start
    with django_assert_num_queries(3):
        response = client.get(page)

    assert response.status_code == 302
    assert response.url == f"{LOGIN}?next={page}"
    assert not Session.objects.filter(session_key=key).exists()
    assert "_auth_user_id" not in client.session
    login_page = client.get(response.url)
    assert MESSAGE_FR in login_page.content.decode()
    # Said once: the next page does not repeat it.
    assert MESSAGE_FR not in client.get(LOGIN).content.decode()


@pytest.mark.django_db
def test_a_post_after_the_limit_writes_nothing_and_goes_to_the_login_page(client, candidate_user, campaign, settings):
    _logged_in(client, candidate_user, ago=settings.SESSION_ABSOLUTE_AGE + 5)

    response = client.post(reverse("session_keepalive"))

    assert response.status_code == 302
    assert response.url.startswith(LOGIN)
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_public_page_after_the_limit_is_served_anonymous_with_the_message(
    client, candidate_user, campaign, settings
):
    _logged_in(client, candidate_user, ago=settings.SESSION_ABSOLUTE_AGE + 3600)

    response = client.get(reverse("home"))

    assert response.status_code == 200
    assert not response.wsgi_request.user.is_authenticated
    assert MESSAGE_FR in response.content.decode()
    assert 'id="session-warning"' not in response.content.decode()  # no countdown for an anonymous page


@pytest.mark.django_db
def test_near_the_limit_the_countdown_is_what_the_limit_leaves(
    client, candidate_user, campaign, settings, django_assert_num_queries
):
    """Ten minutes before the end the page says ten minutes, not the 40 to 45 of the idle timeout, so the warning
    comes two minutes before the real end. No query more than any logged-in page (session, user)."""
    _logged_in(client, candidate_user, ago=settings.SESSION_ABSOLUTE_AGE - 600, refreshed_ago=30)

    with django_assert_num_queries(2):
        response = client.get(reverse("home"))

    assert response.wsgi_request.user == candidate_user
    assert _session_age_on_page(response) == pytest.approx(600, abs=3)


@pytest.mark.django_db
def test_a_refresh_near_the_limit_promises_only_what_is_left(client, candidate_user, campaign, settings):
    """Due for its sliding refresh (row and cookie moved by 45 minutes), the page still says what the limit leaves."""
    _logged_in(
        client,
        candidate_user,
        ago=settings.SESSION_ABSOLUTE_AGE - 300,
        refreshed_ago=settings.SESSION_REFRESH_AFTER + 1,
    )

    response = client.get(reverse("home"))

    assert response.wsgi_request.user == candidate_user
    assert settings.SESSION_COOKIE_NAME in response.cookies  # refreshed
    assert _session_age_on_page(response) == pytest.approx(300, abs=3)


@pytest.mark.django_db
def test_stay_logged_in_does_not_extend_past_the_limit(client, candidate_user, campaign, settings):
    _logged_in(
        client, candidate_user, ago=settings.SESSION_ABSOLUTE_AGE - 90, refreshed_ago=settings.SESSION_COOKIE_AGE - 100
    )

    response = client.post(reverse("session_keepalive"))

    assert response.json()["expires_in"] == pytest.approx(90, abs=3)
    # Far from the limit, « Rester connecté » gives the whole idle timeout, as before.
    _logged_in(client, candidate_user, ago=3600)
    assert client.post(reverse("session_keepalive")).json() == {"expires_in": settings.SESSION_COOKIE_AGE}


@pytest.mark.django_db
def test_a_session_opened_before_the_limit_existed_is_stamped_not_logged_out(
    client, candidate_user, campaign, settings, django_assert_num_queries
):
    """No login time (a session of before the deploy): its next request stamps it, once (the session saved, as a
    refresh would); it then ends SESSION_ABSOLUTE_AGE later. Nobody is logged out by the deploy."""
    _logged_in(client, candidate_user, ago=None, refreshed_ago=30)
    started = int(time.time())

    # session, user, the session saved with the stamp (savepoint, update, release)
    with django_assert_num_queries(5):
        response = client.get(reverse("home"))

    assert response.wsgi_request.user == candidate_user
    assert started <= client.session[LOGGED_IN_AT_KEY] <= int(time.time())
    assert _session_age_on_page(response) == pytest.approx(settings.SESSION_COOKIE_AGE, abs=3)
    # Stamped: the next request writes nothing.
    with django_assert_num_queries(2):
        client.get(reverse("home"))


@pytest.mark.django_db
def test_the_limit_is_a_setting(client, candidate_user, campaign, settings):
    settings.SESSION_ABSOLUTE_AGE = 2 * 3600
    _logged_in(client, candidate_user, ago=2 * 3600 + 1, refreshed_ago=10)

    response = client.get(reverse("home"))

    assert "_auth_user_id" not in client.session
    assert "une session dure au plus 2 heures : reconnectez-vous." in response.content.decode()


def test_the_message_counts_hours_or_else_minutes(settings):
    with translation.override("en"):
        settings.SESSION_ABSOLUTE_AGE = 12 * 3600
        assert absolute_age_message() == "For your security, a session lasts at most 12 hours: please log in again."
        settings.SESSION_ABSOLUTE_AGE = 3600
        assert absolute_age_message() == "For your security, a session lasts at most 1 hour: please log in again."
        settings.SESSION_ABSOLUTE_AGE = 5400
        assert absolute_age_message() == "For your security, a session lasts at most 90 minutes: please log in again."
    with translation.override("fr"):
        settings.SESSION_ABSOLUTE_AGE = 12 * 3600
        assert absolute_age_message() == MESSAGE_FR


# --- the setting, as base.py computes it from the environment ---


def _setting(monkeypatch, **environment: str) -> int:
    monkeypatch.delenv("SESSION_ABSOLUTE_AGE", raising=False)
    monkeypatch.delenv("SESSION_COOKIE_AGE", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(BASE_SETTINGS))["SESSION_ABSOLUTE_AGE"]


def test_twelve_hours_by_default(monkeypatch):
    assert _setting(monkeypatch) == 12 * 3600


def test_the_environment_sets_it(monkeypatch):
    assert _setting(monkeypatch, SESSION_ABSOLUTE_AGE="28800") == 8 * 3600


def test_it_is_never_shorter_than_the_idle_timeout(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="SESSION_ABSOLUTE_AGE must be at least 2700"):
        _setting(monkeypatch, SESSION_ABSOLUTE_AGE="600")
    # An idle timeout longer than 12 hours (SESSION_COOKIE_AGE) raises the default with it.
    assert _setting(monkeypatch, SESSION_COOKIE_AGE="86400") == 86400
