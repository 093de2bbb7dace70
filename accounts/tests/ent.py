"""The ENT's allauth configuration in tests: the OpenID Connect app "ent", as ``ecandidat/settings/base.py`` declares
it, pointed at a test server, and the return of the ENT as allauth completes it."""

from allauth.core import context
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.helpers import complete_social_login
from allauth.socialaccount.models import SocialAccount, SocialLogin
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory

from accounts.models import User


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
