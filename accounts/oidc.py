"""Logging out of the ENT too after an OpenID Connect login (``ENT_PROTOCOL=oidc``): RP-Initiated Logout 1.0.

A student who logged in through the ENT and presses « Déconnexion » is sent on to the ENT's ``end_session_endpoint``,
which ends the ENT session (the next « Se connecter avec l'ENT » asks for the password again: a shared phone is safe)
and sends the browser back to our home page (``post_logout_redirect_uri``, to be registered with the ENT).

What the logout needs is taken at login, from allauth's own callback (the one URL the ENT knows,
``/accounts/oidc/<provider_id>/login/callback/``, served by ``callback`` below with allauth's view and a subclass of
its adapter): the ``end_session_endpoint`` of the discovery document allauth fetched in that request (so a logout
fetches nothing), the raw ID token (sent back as ``id_token_hint``, so the ENT logs the person out without asking
"do you want to log out of the ENT too?") and its ``sub``. They live in the session only
(``SOCIALACCOUNT_STORE_TOKENS`` stays off), which is safe: the session is stored server side (the cookie holds only
its key) and ends at logout or expiry; the ID token is a signed statement of who logged in, addressed to ecandidat,
which ecandidat accepts nowhere as a credential (and the ENT takes as a hint only: it ends its session only for the
person logged in there). Access and refresh tokens are kept nowhere.

Only a session that logged in through the ENT does this: the session's allauth authentication records must show the
``ent`` identity whose ``sub`` the ID token names. A password login logs out locally, as does a session whose ENT
discovery announces no ``end_session_endpoint``. The CAS path (``accounts.cas``) has its own single logout.
"""

import logging

from allauth.account.authentication import get_authentication_records
from allauth.socialaccount import app_settings as socialaccount_settings
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.base import ProviderException
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from allauth.utils import build_absolute_uri
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy

from accounts.claims import has_control_character

logger = logging.getLogger(__name__)

PROVIDER_ID = "ent"
SESSION_LOGOUT = "ent_oidc_logout"
# The ENT's discovery document, token or userinfo endpoint does not answer: said on the login page by
# accounts.middleware.EntUnreachableMiddleware and accounts.adapters.SocialAccountAdapter.on_authentication_error.
ENT_UNREACHABLE = gettext_lazy(
    "The ENT does not answer at the moment: try again in a few minutes, or log in with your password "
    "(dossier number or e-mail address)."
)


def _holds_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def check_claims(claims, source: str) -> dict:
    """``claims`` (the ID token's, or the userinfo answer), if its ``sub`` can name an ENT identity: a string of 1 to
    ``SOCIALACCOUNT_UID_MAX_LENGTH`` characters (the identity column's), without a control character. Otherwise
    allauth's ``ProviderException``, which its callback turns into a failed login (the login page with a message,
    ``accounts.adapters.SocialAccountAdapter.on_authentication_error``), before allauth builds the login: it would
    store a list as the text ``['x9']``, and fail on the rest with a 500 (a missing or too long ``sub``; a NUL, on
    PostgreSQL).

    A claim that holds a NUL anywhere (``"supannEtuId": "2191\\u00002345"``) is left out, logged: allauth keeps the
    claims on the identity's row (``extra_data``), and PostgreSQL stores no NUL in JSON (a 500 at the account's
    creation, or at every later login of the identity)."""
    if not isinstance(claims, dict):
        raise ProviderException(f"ENT {source}: not a JSON object")
    sub = claims.get("sub")
    if (
        not isinstance(sub, str)
        or not sub
        or len(sub) > socialaccount_settings.UID_MAX_LENGTH
        or has_control_character(sub)
    ):
        raise ProviderException(f"ENT {source}: a sub that names no identity: {sub!r:.80}")
    if dropped := [name for name, value in claims.items() if _holds_nul(name) or _holds_nul(value)]:
        logger.warning("ENT %s: claims holding a NUL left out: %s", source, ", ".join(repr(n)[:80] for n in dropped))
        claims = {name: value for name, value in claims.items() if name not in dropped}
    return claims


class EntOpenIDConnectAdapter(OpenIDConnectOAuth2Adapter):
    """allauth's adapter, which also keeps what the ENT logout needs from the login it completes, and refuses a
    ``sub`` that names no identity (``check_claims``) in what allauth reads it from (userinfo, else the ID token)."""

    logout_data: dict[str, str] | None = None

    def _fetch_user_info(self, access_token: str) -> dict:
        return check_claims(super()._fetch_user_info(access_token), "userinfo")

    def _decode_id_token(self, app, id_token: str) -> dict:
        return check_claims(super()._decode_id_token(app, id_token), "ID token")

    def complete_login(self, request: HttpRequest, app, token, **kwargs):
        login = super().complete_login(request, app, token, **kwargs)
        id_token = (kwargs.get("response") or {}).get("id_token") or ""
        self.logout_data = {
            "client_id": app.client_id,
            "end_session_endpoint": str(self.openid_config.get("end_session_endpoint") or ""),
            "id_token": id_token if isinstance(id_token, str) else "",
            "sub": login.account.uid,
        }
        return login


@login_not_required
def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    """allauth's OpenID Connect callback (same view, same URL), then the logout data of the ENT login it completed.

    Written after allauth's view has run: logging in renews the session (and an ENT login over a logged-in session
    first logs that one out), and the data must be the new session's."""
    adapter = EntOpenIDConnectAdapter(request, provider_id)
    try:
        response = OAuth2CallbackView.adapter_view(adapter)(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None
    if provider_id == PROVIDER_ID and adapter.logout_data is not None:
        request.session[SESSION_LOGOUT] = adapter.logout_data
    return response


def _ent_login_in_this_session(request: HttpRequest, sub: str) -> bool:
    records = get_authentication_records(request, request.user)
    return any(
        record.get("method") == "socialaccount" and record.get("provider") == PROVIDER_ID and record.get("uid") == sub
        for record in records
    )


def logout_url(request: HttpRequest, after_logout: str) -> str | None:
    """The ENT's end-session URL for this session, coming back to ``after_logout``; None for a local logout."""
    data = request.session.get(SESSION_LOGOUT)
    if settings.ENT_PROTOCOL != "oidc" or not isinstance(data, dict):
        return None
    endpoint = data.get("end_session_endpoint") or ""
    if not endpoint or not _ent_login_in_this_session(request, data.get("sub") or ""):
        return None
    params = {
        "client_id": data.get("client_id") or "",
        "post_logout_redirect_uri": build_absolute_uri(request, after_logout),
    }
    if data.get("id_token"):
        params["id_token_hint"] = data["id_token"]
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{urlencode(params)}"
