"""What the tests of the ENT's logouts share (OpenID Connect back-channel logout, CAS single logout): the stubbed
ENT's addresses, signing key and discovery document, how a logout token is signed, how a browser logs in through
the stubbed OpenID Connect views or the development ENT's CAS form, and the CAS server's logoutRequest."""

import re
import time
import uuid
from unittest.mock import PropertyMock
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from cryptography.hazmat.primitives.asymmetric import rsa
from django.urls import reverse

from ecandidat.tests.plugins.services import ENT_PASSWORD

ENT = "https://ent.example"
DISCOVERY = f"{ENT}/.well-known/openid-configuration"
JWKS_URI = f"{ENT}/.well-known/jwks.json"
CLIENT_ID = "ecandidat-univ"
URL = "/accounts/oidc/ent/backchannel-logout/"
EVENT = "http://schemas.openid.net/event/backchannel-logout"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "ent-key-1"
CONFIG = {
    "issuer": ENT,
    "authorization_endpoint": f"{ENT}/identity/o/authorize",
    "token_endpoint": f"{ENT}/identity/o/api/token",
    "userinfo_endpoint": f"{ENT}/identity/o/api/userinfo",
    "jwks_uri": JWKS_URI,
    "id_token_signing_alg_values_supported": ["RS256"],
    "backchannel_logout_supported": True,
    "backchannel_logout_session_supported": True,
}
# The CAS server's single logout (SAML), for the service ticket ``{ticket}``.
LOGOUT_REQUEST = (
    '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="LR-1" Version="2.0" IssueInstant="2027-01-15T22:10:00Z">'
    "<saml:NameID>@NOT_USED@</saml:NameID><samlp:SessionIndex>{ticket}</samlp:SessionIndex></samlp:LogoutRequest>"
)


def jwks(*keys: tuple[rsa.RSAPrivateKey, str]) -> dict:
    return {
        "keys": [
            {**jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "alg": "RS256"}
            for key, kid in keys
        ]
    }


def logout_token(*, key=KEY, kid=KID, algorithm="RS256", drop=(), headers=None, **claims) -> str:
    now = int(time.time())
    payload = {
        "iss": ENT,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "events": {EVENT: {}},
        "sid": "ent-session-1",
        "sub": "lucas.bernard",
        **claims,
    }
    for name in drop:
        payload.pop(name)
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid, "typ": "logout+jwt", **(headers or {})})


def stubbed_oidc_login(client, mocker, *, sid: str | None, uid="lucas.bernard"):
    """allauth's OpenID Connect views, the ENT's answers stubbed, with an ID token naming the ENT session ``sid``."""
    claims = {"sub": uid, "email": f"{uid}@etudiant.univ-perp.fr"} | ({"sid": sid} if sid else {})
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "openid_config", new_callable=PropertyMock, return_value=CONFIG)
    tokens = {"access_token": "at", "token_type": "Bearer", "id_token": "eyJ.eyJ.c2ln"}
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "get_access_token_data", return_value=tokens)
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "_fetch_user_info", return_value=claims)
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "_decode_id_token", return_value=claims)
    to_ent = client.post(reverse("openid_connect_login", args=["ent"]))
    state = parse_qs(urlsplit(to_ent["Location"]).query)["state"][0]
    return client.get("/accounts/oidc/ent/login/callback/", {"code": "c", "state": state})


def csrf_token(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=10)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def cas_login(
    cas_app, username: str, session: requests.Session | None = None, *, next_url: str = ""
) -> tuple[requests.Session, list[str], requests.Response]:
    """Press the ENT button (on a login page whose destination is ``next_url``), log in on the ENT's form, follow the
    ticket back. Returns the session and every URL."""
    session = session or requests.Session()
    login_page = f"{cas_app.url}/accounts/login/"
    token = csrf_token(session, login_page)
    response = session.post(
        f"{cas_app.url}/compte/ent/cas/",
        data={"csrfmiddlewaretoken": token, **({"next": next_url} if next_url else {})},
        headers={"Referer": login_page},
        timeout=10,
    )
    assert "/accounts/login/" in response.url  # the ENT's login form
    assert "cas%2Flogin" in response.url
    ent_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text).group(1)
    response = session.post(
        response.url,
        data={"csrfmiddlewaretoken": ent_token, "login": username, "password": ENT_PASSWORD},
        headers={"Referer": response.url},
        timeout=10,
    )
    return session, [r.url for r in response.history] + [response.url], response
