"""The ENT's allauth configuration in tests: the OpenID Connect app "ent", as ``ecandidat/settings/base.py`` declares
it, pointed at a test server, and the return of the ENT as allauth completes it."""

import re
from unittest.mock import PropertyMock
from urllib.parse import parse_qs, urlsplit

import requests
from allauth.core import context
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.helpers import complete_social_login
from allauth.socialaccount.models import SocialAccount, SocialLogin
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts import cas
from accounts.models import User
from ecandidat.tests.plugins.services import ENT_PASSWORD


def ent_providers(server_url: str, *, client_id: str = "ecandidat", secret: str = "s", pkce: bool = False) -> dict:
    """``SOCIALACCOUNT_PROVIDERS`` with the "ent" app at ``server_url`` (``pkce``: as production, which the
    development ENT checks)."""
    app_settings: dict = {"server_url": server_url}
    provider: dict = {}
    if pkce:
        app_settings["oauth_pkce_enabled"] = True
        provider["OAUTH_PKCE_ENABLED"] = True
    app = {"provider_id": "ent", "name": "ENT", "client_id": client_id, "secret": secret, "settings": app_settings}
    return {"openid_connect": {**provider, "APPS": [app]}}


def cas_return(client: Client, ticket: str, *, next_url: str = "") -> dict[str, str]:
    """The query the CAS server sends the browser ``client`` back with after it pressed the ENT button (which this
    presses, on a login page whose destination is ``next_url``): ``s``, the value of this browser's login
    (``accounts.cas``: the return page logs in only the browser that started the login), and ``ticket``. Call it
    before a query count: the button is a request of its own."""
    client.post(reverse("accounts:cas_login"), {"next": next_url} if next_url else {})
    return {"s": client.session[cas.SESSION_STATE], "ticket": ticket}


def ent_return(
    client: Client, uid: str, email: str, *, claims: dict | None = None
) -> tuple[HttpRequest, HttpResponse]:
    """The return of the ENT for identity ``uid``, as allauth's OpenID Connect callback completes it once the ENT has
    answered (``claims``: the ID token's, besides ``sub``), on ``client``'s session, which keeps what it became."""
    request = RequestFactory().get("/accounts/oidc/ent/login/callback/")
    request.session = client.session
    request.user = AnonymousUser()
    request._messages = default_storage(request)
    provider = get_social_adapter().get_provider(request, "ent")
    sociallogin = SocialLogin(
        provider=provider,
        user=User(email=email),
        account=SocialAccount(provider="ent", uid=uid, extra_data={"id_token": {"sub": uid, **(claims or {})}}),
    )
    with context.request_context(request):
        response = complete_social_login(request, sociallogin)
    request.session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = request.session.session_key
    return request, response


def oidc_login(app: str, username: str, *, next_url: str = "", session: requests.Session | None = None):
    """Over real sockets (``app``: the live server, see the ``oidc_app`` fixture): press the ENT button (posted to
    allauth's OpenID Connect login), log in on the development ENT's form, follow back. Returns the last response."""
    session = session or requests.Session()
    page = f"{app}/accounts/login/" + (f"?next={next_url}" if next_url else "")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', session.get(page, timeout=10).text).group(1)
    data = {"csrfmiddlewaretoken": token} | ({"next": next_url} if next_url else {})
    response = session.post(f"{app}/accounts/oidc/ent/login/", data=data, headers={"Referer": page}, timeout=10)
    ent_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text).group(1)
    return session.post(
        response.url,
        data={"csrfmiddlewaretoken": ent_token, "login": username, "password": ENT_PASSWORD},
        headers={"Referer": response.url},
        timeout=10,
    )


STUB_ENT = "https://ent.example"
STUB_CONFIG = {
    "issuer": STUB_ENT,
    "authorization_endpoint": f"{STUB_ENT}/identity/o/authorize",
    "token_endpoint": f"{STUB_ENT}/identity/o/api/token",
    "userinfo_endpoint": f"{STUB_ENT}/identity/o/api/userinfo",
    "jwks_uri": f"{STUB_ENT}/.well-known/jwks.json",
    "id_token_signing_alg_values_supported": ["RS256"],
}


def oidc_callback_state(client: Client, mocker, claims: dict, *, next_url: str = "") -> str:
    """The ENT button through allauth's OpenID Connect view (``next_url``: where to go after the login), the ENT at
    ``STUB_ENT`` stubbed (discovery, tokens, the verified ``claims``); the state to come back to
    ``/accounts/oidc/ent/login/callback/`` with."""
    mocker.patch.object(
        OpenIDConnectOAuth2Adapter, "openid_config", new_callable=PropertyMock, return_value=STUB_CONFIG
    )
    tokens = {"access_token": "at", "token_type": "Bearer", "id_token": "eyJ.eyJ.c2ln"}
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "get_access_token_data", return_value=tokens)
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "_fetch_user_info", return_value=claims)
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "_decode_id_token", return_value=claims)
    to_ent = client.post(reverse("openid_connect_login", args=["ent"]), {"next": next_url} if next_url else {})
    return parse_qs(urlsplit(to_ent["Location"]).query)["state"][0]
