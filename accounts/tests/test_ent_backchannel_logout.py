"""The ENT's back-channel logout over OpenID Connect (Back-Channel Logout 1.0, accounts/oidc_backchannel.py): the
logout token's checks, one test per refusal, the sessions it ends, the table that maps the ENT's sid to our sessions,
and, at the end, the real thing against the development ENT process."""

import datetime
import re
import time

import jwt
import pytest
import requests
import responses
from allauth.socialaccount.models import SocialAccount
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import oidc_backchannel
from accounts.models import EntLogoutToken, EntSession
from accounts.tests.ent import ent_providers, oidc_login
from accounts.tests.ent_logout import (
    CLIENT_ID,
    CONFIG,
    DISCOVERY,
    ENT,
    JWKS_URI,
    KEY,
    KID,
    URL,
)
from accounts.tests.ent_logout import jwks as _jwks
from accounts.tests.ent_logout import logout_token as _token
from accounts.tests.ent_logout import stubbed_oidc_login as _ent_login
from accounts.tests.factories import CandidateUserFactory
from accounts.tests.helpers import all_day_maintenance
from ecandidat.settings.base import _rate_limits

OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def ent(settings):
    settings.ENT_PROTOCOL = "oidc"
    settings.ENT_SERVER_URL = ENT
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(ENT, client_id=CLIENT_ID, pkce=True)


@pytest.fixture
def ent_http(ent):
    """The ENT's discovery document and keys over HTTP (responses), none of them cached yet."""
    oidc_backchannel.cache.delete_many(
        [f"ent-oidc-backchannel:metadata:{DISCOVERY}", f"ent-oidc-backchannel:jwks:{JWKS_URI}"]
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.get(DISCOVERY, json=CONFIG)
        mocked.get(JWKS_URI, json=_jwks((KEY, KID)))
        yield mocked


def _logged_in(campaign, *, sid="ent-session-1", sub="lucas.bernard") -> tuple[Client, str]:
    """A browser logged in through the ENT: its session, tied to the ENT's sid and sub."""
    browser = Client()
    browser.force_login(CandidateUserFactory(campaign=campaign))
    key = browser.session.session_key or ""
    EntSession.objects.create(session_id=key, sid=sid, sub=sub)
    return browser, key


def _post(token: str | None):
    return Client().post(URL, {} if token is None else {"logout_token": token})


def _refused(response, description: str) -> None:
    assert response.status_code == 400
    assert response["Cache-Control"] == "no-store"
    assert response.json()["error"] == "invalid_request"
    assert description in response.json()["error_description"]


# --- what a valid token does ---


def test_a_valid_logout_token_ends_the_sessions_of_that_ent_session(ent_http, campaign, django_assert_num_queries):
    browser, key = _logged_in(campaign)
    other_browser, other_key = _logged_in(campaign, sid="ent-session-2", sub="ines.garcia")
    token = _token()

    # In the request's transaction: the ENT app (site, app), expired jti deleted, jti recorded (savepoint, insert,
    # release), the sessions deleted (their EntSession rows by the database's cascade).
    with django_assert_num_queries(9):
        response = _post(token)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert not Session.objects.filter(session_key=key).exists()
    assert "_auth_user_id" not in browser.session  # the browser's next request is anonymous
    assert not EntSession.objects.filter(session_id=key).exists()
    assert Session.objects.filter(session_key=other_key).exists()
    assert "_auth_user_id" in other_browser.session


def test_a_token_with_a_sub_only_ends_every_session_of_that_subject(ent_http, campaign):
    _browser, key = _logged_in(campaign, sid="ent-session-1")
    _second, second_key = _logged_in(campaign, sid="ent-session-2")
    _other, other_key = _logged_in(campaign, sid="ent-session-3", sub="ines.garcia")

    response = _post(_token(drop=("sid",)))

    assert response.status_code == 200
    assert not Session.objects.filter(session_key__in=[key, second_key]).exists()
    assert Session.objects.filter(session_key=other_key).exists()


def test_a_token_with_a_sid_only_ends_that_ent_sessions(ent_http, campaign):
    _browser, key = _logged_in(campaign)

    assert _post(_token(drop=("sub",))).status_code == 200

    assert not Session.objects.filter(session_key=key).exists()


def test_an_unknown_sid_is_a_200_that_ends_nothing(ent_http, campaign):
    """Already logged out here, expired, or never logged in here: the specification lets the RP answer 200."""
    _browser, key = _logged_in(campaign)

    response = _post(_token(sid="ent-session-unknown"))

    assert response.status_code == 200
    assert Session.objects.filter(session_key=key).exists()


def test_the_sid_of_another_subject_ends_nothing(ent_http, campaign):
    _browser, key = _logged_in(campaign)

    assert _post(_token(sub="ines.garcia")).status_code == 200

    assert Session.objects.filter(session_key=key).exists()


# --- every refusal: 400, a JSON error, nothing ended ---


@pytest.fixture
def session_kept(ent_http, campaign):
    _browser, key = _logged_in(campaign)
    yield
    assert Session.objects.filter(session_key=key).exists()


def test_a_bad_signature_is_refused(session_kept):
    _refused(_post(_token(key=OTHER_KEY)), "Signature verification failed")


def test_a_token_for_another_client_is_refused(session_kept):
    _refused(_post(_token(aud="another-application")), "Audience")


def test_a_token_from_another_issuer_is_refused(session_kept):
    _refused(_post(_token(iss="https://evil.example")), "issuer")


def test_an_expired_token_is_refused(session_kept):
    now = int(time.time())
    _refused(_post(_token(iat=now - 300, exp=now - 120)), "expired")


def test_a_token_issued_too_long_ago_is_refused(session_kept):
    now = int(time.time())
    _refused(_post(_token(iat=now - 3600, exp=now + 3600)), "too long ago")


def test_an_expiry_written_as_a_string_is_refused(session_kept):
    """PyJWT checks ``exp="1700000120"`` as a number; the expiry kept for the replay check then failed (a 500)."""
    now = int(time.time())
    _refused(_post(_token(iat=now, exp=str(now + 120))), "exp is not a number")


def test_a_token_issued_in_the_future_is_refused(session_kept):
    now = int(time.time())
    _refused(_post(_token(iat=now + 600, exp=now + 720)), "not yet valid")


def test_a_token_with_a_nonce_is_refused(session_kept):
    _refused(_post(_token(nonce="n-0S6_WzA2Mj")), "nonce")


def test_a_token_without_events_is_refused(session_kept):
    _refused(_post(_token(drop=("events",))), "no back-channel logout event")


def test_a_token_with_another_event_is_refused(session_kept):
    _refused(_post(_token(events={"http://schemas.openid.net/event/other": {}})), "no back-channel logout event")


def test_a_token_without_sid_or_sub_is_refused(session_kept):
    _refused(_post(_token(drop=("sid", "sub"))), "neither sid nor sub")


@pytest.mark.parametrize("claim", ["iss", "aud", "iat", "exp", "jti"])
def test_a_token_without_a_required_claim_is_refused(session_kept, claim):
    _refused(_post(_token(drop=(claim,))), claim)


def test_a_replayed_token_is_refused(ent_http, campaign):
    token = _token(sid="ent-session-unknown")
    assert _post(token).status_code == 200
    _browser, key = _logged_in(campaign, sid="ent-session-unknown")

    _refused(_post(token), "already received")

    assert Session.objects.filter(session_key=key).exists()
    assert EntLogoutToken.objects.count() == 1


def test_an_unsigned_token_is_refused(session_kept):
    unsigned = jwt.encode(jwt.decode(_token(), options={"verify_signature": False}), None, algorithm="none")
    _refused(_post(unsigned), "'none' is not accepted")


def test_a_token_signed_with_a_shared_secret_is_refused(session_kept):
    _refused(_post(_token(key="the-client-secret-0123456789abcdef", algorithm="HS256")), "'HS256' is not accepted")


def test_garbage_is_refused(session_kept):
    _refused(_post("not-a-jwt"), "not a signed JWT")


def test_a_missing_logout_token_is_refused(session_kept):
    _refused(_post(None), "logout_token is missing")


def test_an_unknown_key_id_fetches_the_keys_once_then_is_refused(session_kept, ent_http):
    _refused(_post(_token(kid="forged")), "unknown signing key")
    _refused(_post(_token(kid="forged-again")), "unknown signing key")

    assert len([call for call in ent_http.calls if call.request.url == JWKS_URI]) == 1
    assert len([call for call in ent_http.calls if call.request.url == DISCOVERY]) == 1


def test_a_new_key_of_the_ent_is_fetched(ent_http, campaign):
    """The ENT rotated its key since the set was cached: the unknown key id fetches the set again."""
    assert _post(_token(sid="ent-session-unknown")).status_code == 200  # caches the set with KID only
    ent_http.replace(responses.GET, JWKS_URI, json=_jwks((KEY, KID), (OTHER_KEY, "ent-key-2")))
    oidc_backchannel.cache.set(
        f"ent-oidc-backchannel:jwks:{JWKS_URI}", {"jwks": _jwks((KEY, KID)), "at": time.time() - 120}
    )
    _browser, key = _logged_in(campaign)

    assert _post(_token(key=OTHER_KEY, kid="ent-key-2")).status_code == 200

    assert not Session.objects.filter(session_key=key).exists()


def test_an_unreachable_ent_is_a_503(ent, campaign):
    oidc_backchannel.cache.delete(f"ent-oidc-backchannel:metadata:{DISCOVERY}")
    _browser, key = _logged_in(campaign)
    with responses.RequestsMock() as mocked:
        mocked.get(DISCOVERY, body=requests.ConnectionError("refused"))

        response = _post(_token())

    assert response.status_code == 503
    assert response["Cache-Control"] == "no-store"
    assert Session.objects.filter(session_key=key).exists()


def test_logging_out_needs_a_post(ent, db):
    response = Client().get(URL)

    assert response.status_code == 405


def test_with_cas_the_endpoint_is_a_404(ent, db, settings):
    settings.ENT_PROTOCOL = "cas"

    assert _post(_token()).status_code == 404


def test_it_works_during_the_maintenance_window(ent_http, campaign, settings):
    """Staff keep working during maintenance: their ENT logout still ends their session."""
    with all_day_maintenance(settings):
        assert Client().get("/").status_code == 503  # candidates' pages are closed
        _browser, key = _logged_in(campaign)

        assert _post(_token()).status_code == 200

    assert not Session.objects.filter(session_key=key).exists()


# --- the rate limit per address (ENT_BACKCHANNEL_LOGOUT_RATE_LIMITS) ---


def test_a_flood_from_one_address_gets_a_429_with_retry_after_before_any_token_is_read(
    ent_http, campaign, settings, django_assert_num_queries
):
    settings.ENT_BACKCHANNEL_LOGOUT_RATE_LIMITS = "3/1m/ip"
    flood = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(3):
        _refused(flood.post(URL, {"logout_token": "forged"}), "not a signed JWT")
    _browser, key = _logged_in(campaign)
    fetched = len(ent_http.calls)

    with django_assert_num_queries(2):  # the request's transaction only: nothing of the ENT's app or tokens read
        response = flood.post(URL, {"logout_token": _token()})

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["Cache-Control"] == "no-store"
    assert response.json()["error"] == "temporarily_unavailable"
    assert len(ent_http.calls) == fetched  # the ENT's keys were not fetched for it
    assert Session.objects.filter(session_key=key).exists()
    # The ENT, at its own address, is not held back by the flood.
    assert Client(REMOTE_ADDR="198.51.100.2").post(URL, {"logout_token": _token()}).status_code == 200
    assert not Session.objects.filter(session_key=key).exists()


def test_the_default_limit_lets_the_ent_log_out_a_busy_hour_s_burst(ent_http, campaign, django_assert_num_queries):
    """600 a minute by default: the ENT posts one token per session that ends; 100 at once (a lecture hall logging
    out) all end their sessions, each with the single logout's queries (but the site, cached after the first)."""
    sessions = [_logged_in(campaign, sid=f"ent-session-{n}", sub=f"student-{n}")[1] for n in range(100)]
    ent = Client(REMOTE_ADDR="198.51.100.2")
    for n in range(99):
        assert ent.post(URL, {"logout_token": _token(sid=f"ent-session-{n}", sub=f"student-{n}")}).status_code == 200

    with django_assert_num_queries(8):
        response = ent.post(URL, {"logout_token": _token(sid="ent-session-99", sub="student-99")})

    assert response.status_code == 200
    assert not Session.objects.filter(session_key__in=sessions).exists()


@pytest.mark.parametrize("value", ["600/1m/user", "600/1m", "0/1m/ip", "many"])
def test_a_limit_not_per_address_is_refused_at_startup(value):
    with pytest.raises(ImproperlyConfigured, match="600/1m/ip"):
        _rate_limits("ENT_BACKCHANNEL_LOGOUT_RATE_LIMITS", value, anonymous=True)


def test_an_empty_limit_is_no_limit(ent_http, campaign, settings):
    settings.ENT_BACKCHANNEL_LOGOUT_RATE_LIMITS = ""
    flood = Client(REMOTE_ADDR="203.0.113.7")

    assert {flood.post(URL, {"logout_token": "forged"}).status_code for _ in range(5)} == {400}


# --- the table: filled at the ENT login, emptied with the sessions ---


@pytest.fixture
def student(campaign):
    user = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
    SocialAccount.objects.create(user=user, provider="ent", uid="lucas.bernard")
    return user


def test_an_ent_login_ties_the_session_to_the_ent_sid_and_sub(client, ent, student, mocker):
    _ent_login(client, mocker, sid="ent-session-1")

    assert client.session["_auth_user_id"] == str(student.pk)
    row = EntSession.objects.get()
    assert (row.session_id, row.sid, row.sub) == (client.session.session_key, "ent-session-1", "lucas.bernard")


def test_an_ent_without_sid_still_ties_the_session_to_the_subject(client, ent, student, mocker):
    _ent_login(client, mocker, sid=None)

    assert EntSession.objects.get().sid == ""


def test_a_password_login_is_not_tied(client, ent, campaign):
    user = CandidateUserFactory(campaign=campaign)
    client.post(reverse("account_login"), {"login": user.username, "password": "mot-de-passe-de-test-2026"})

    assert "_auth_user_id" in client.session
    assert not EntSession.objects.exists()


def test_logging_out_of_ecandidat_deletes_the_row(client, ent, student, mocker):
    _ent_login(client, mocker, sid="ent-session-1")

    client.post(reverse("account_logout"))

    assert not EntSession.objects.exists()


def test_rows_of_expired_sessions_go_at_the_next_ent_login(client, ent, student, mocker, campaign):
    _browser, key = _logged_in(campaign, sid="ent-session-old")
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - datetime.timedelta(seconds=1))

    _ent_login(client, mocker, sid="ent-session-1")

    assert list(EntSession.objects.values_list("sid", flat=True)) == ["ent-session-1"]


# --- over real sockets: the live server and the development ENT process ---


def _ent_csrf(session: requests.Session, url: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', session.get(url, timeout=10).text).group(1)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_logging_out_at_the_ent_ends_the_ecandidat_session(oidc_app, ent_server, campaign):
    user = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
    SocialAccount.objects.create(user=user, provider="ent", uid="lucas.bernard")
    discovery = requests.get(ent_server.discovery_url, timeout=10).json()
    assert discovery["backchannel_logout_supported"] is True
    assert discovery["backchannel_logout_session_supported"] is True
    browser = requests.Session()
    assert oidc_login(oidc_app, "lucas.bernard", session=browser).status_code == 200
    private = f"{oidc_app}/candidat/informations-perso/"
    assert browser.get(private, allow_redirects=False, timeout=10).status_code == 200
    assert EntSession.objects.get().sid  # the ID token carried the ENT's sid

    # « Se déconnecter » on the ENT's own page: ecandidat is not involved in the browser.
    home = f"{ent_server.base_url}/"
    log_before = len(ent_server.log_path.read_text())
    logged_out = browser.post(
        f"{ent_server.base_url}/accounts/logout/",
        data={"csrfmiddlewaretoken": _ent_csrf(browser, home)},
        headers={"Referer": home},
        allow_redirects=False,
        timeout=10,
    )

    assert logged_out.status_code == 302
    assert browser.get(private, allow_redirects=False, timeout=10).status_code == 302  # anonymous: to the login
    assert not EntSession.objects.exists()
    assert EntLogoutToken.objects.get().issuer == ent_server.base_url  # the ENT's token, validated and recorded
    assert "back-channel logout" not in ent_server.log_path.read_text()[log_before:]  # the ENT logged no failure


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_second_ent_login_then_the_ent_logout_ends_only_that_browsers_session(oidc_app, ent_server, campaign):
    for uid in ("lucas.bernard", "ines.garcia"):
        user = CandidateUserFactory(campaign=campaign, email=f"{uid}@etudiant.univ-perp.fr")
        SocialAccount.objects.create(user=user, provider="ent", uid=uid)
    lucas, ines = requests.Session(), requests.Session()
    oidc_login(oidc_app, "lucas.bernard", session=lucas)
    oidc_login(oidc_app, "ines.garcia", session=ines)
    private = f"{oidc_app}/candidat/informations-perso/"
    home = f"{ent_server.base_url}/"

    lucas.post(
        f"{ent_server.base_url}/accounts/logout/",
        data={"csrfmiddlewaretoken": _ent_csrf(lucas, home)},
        headers={"Referer": home},
        timeout=10,
    )

    assert lucas.get(private, allow_redirects=False, timeout=10).status_code == 302
    assert ines.get(private, allow_redirects=False, timeout=10).status_code == 200
