"""A staff session that gains its second factor gets a new session key (ASVS 3.2.1, session fixation).

A staff session opened with the password alone cannot enter the back office; once a code is typed (allauth's
reauthentication by code, where ``accounts.staff_access.second_factor_redirect`` sends it, or the activation of the
authenticator app) the same session can. Its key changes at that moment, so a key known before (planted, read) opens
nothing; what names the session for the ENT's logouts (the CAS ``SessionTicket``, the OpenID Connect ``EntSession``)
follows the new key."""

import re

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.urls import reverse
from django_cas_ng.models import SessionTicket

from accounts import cas, oidc_backchannel
from accounts.models import EntSession
from accounts.staff_enrolment import issue_enrolment_code
from accounts.tests.factories import StaffMembershipFactory
from accounts.tests.mfa import Client, totp_code
from accounts.tests.personas import PASSWORD

ADMIN = "/gestion/"


@pytest.fixture
def client(client):
    client.language = "fr"
    return client


@pytest.fixture
def staff_with_totp(centre_manager):
    """The centre manager, whose authenticator app is active; returns the app's secret."""
    secret = generate_totp_secret()
    TOTP.activate(centre_manager, secret)
    RecoveryCodes.activate(centre_manager)
    return secret


def _key(client) -> str:
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


def _client_with_key(key: str) -> Client:
    """Another browser presenting ``key``: the session id an attacker planted or read before the second factor."""
    other = Client()
    other.cookies[django_settings.SESSION_COOKIE_NAME] = key
    return other


def _assert_no_back_office(key: str) -> None:
    response = _client_with_key(key).get(ADMIN)
    assert response.status_code == 302
    assert response.url.startswith(f"{ADMIN}login/")  # the admin's login: the old key is nobody's session
    assert not Session.objects.filter(session_key=key).exists()


# --- the reauthentication by code (second_factor_redirect) ---


def test_the_code_at_the_reauthentication_gives_the_session_a_new_key(
    client, centre_manager, staff_with_totp, django_assert_num_queries
):
    client.force_login(centre_manager, mfa=False)  # the password alone
    assert client.get(ADMIN).status_code == 302
    before = _key(client)
    assert _client_with_key(before).get(ADMIN).status_code == 302  # the planted key: no back office yet

    # 12 before the new key: session, user, savepoint, the app's types (3), the code checked, its last use, release,
    # session save (3). The new key: Django's cycle_key, 6: is the new key free?, its row inserted (3), the old row
    # read and deleted (the same as a login's).
    with django_assert_num_queries(18):
        response = client.post(reverse("mfa_reauthenticate"), {"code": totp_code(staff_with_totp), "next": ADMIN})

    assert response.status_code == 302
    assert response.url == ADMIN
    after = _key(client)
    assert after != before
    _assert_no_back_office(before)
    assert client.get(ADMIN).status_code == 200  # the new session holds the second factor


def test_after_the_reauthentication_the_ent_logouts_name_the_new_key(
    client, centre_manager, staff_with_totp, settings
):
    settings.ENT_PROTOCOL = "cas"
    settings.ENT_SERVER_URL = settings.CAS_SERVER_URL = "https://cas.univ-perp.fr/cas/"
    client.force_login(centre_manager, mfa=False)
    session = client.session
    session[cas.SESSION_TICKET] = "ST-1"
    session[oidc_backchannel.SESSION_TIE] = {"sid": "ent-session-1", "sub": "sophie.gestion"}
    session.save()
    before = _key(client)
    SessionTicket.objects.create(session_key=before, ticket="ST-1")
    EntSession.objects.create(session_id=before, sid="ent-session-1", sub="sophie.gestion")

    client.post(reverse("mfa_reauthenticate"), {"code": totp_code(staff_with_totp), "next": ADMIN})

    after = _key(client)
    assert after != before
    assert list(SessionTicket.objects.values_list("session_key", "ticket")) == [(after, "ST-1")]
    assert list(EntSession.objects.values_list("session_id", "sid")) == [(after, "ent-session-1")]


def test_a_wrong_code_keeps_the_key(client, centre_manager, staff_with_totp):
    client.force_login(centre_manager, mfa=False)
    client.get(ADMIN)
    before = _key(client)

    response = client.post(reverse("mfa_reauthenticate"), {"code": "000000", "next": ADMIN})

    assert response.status_code == 200
    assert _key(client) == before
    assert client.get(ADMIN).status_code == 302


# --- the activation of the authenticator app ---


def _log_in_with_password(client):
    return client.post(f"{reverse('account_login')}?next={ADMIN}", {"login": "gestionnaire", "password": PASSWORD})


def _enrol_with_a_code(client, user):
    central = StaffMembershipFactory(central=True).user
    code = issue_enrolment_code(user=user, actor=central)
    response = client.post(reverse("accounts:staff_enrolment"), {"action": "code", "code": code})
    assert response.url == reverse("mfa_activate_totp")


@pytest.mark.django_db(transaction=True)  # the second factor is recorded on commit of the activation, as in production
def test_activating_the_app_gives_the_session_a_new_key(client, centre_manager, django_assert_num_queries):
    _log_in_with_password(client)
    _enrol_with_a_code(client, centre_manager)
    html = client.get(reverse("mfa_activate_totp")).content.decode()
    secret = re.search(r'id="authenticator_secret" value="([A-Z2-7=]+)"', html).group(1)
    before = _key(client)
    assert _client_with_key(before).get(ADMIN).status_code == 302

    # 17 before the new key (the activation, then on commit the other sessions looked for, then the session saved);
    # the new key: Django's cycle_key, 6: is the new key free?, its row inserted (3), the old row read and deleted.
    with django_assert_num_queries(23):
        response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})

    assert response.status_code == 302
    assert response.url == reverse("mfa_view_recovery_codes")
    after = _key(client)
    assert after != before
    _assert_no_back_office(before)
    assert client.get(ADMIN).status_code == 200
