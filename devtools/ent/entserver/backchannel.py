"""OpenID Connect Back-Channel Logout 1.0 from the development ENT: logging out here ends the client's sessions too.

allauth's provider (``allauth.idp.oidc``) has no back-channel logout; these pieces add it around its views:

- ``authorize``: allauth's authorization endpoint (same URL), then, when it hands a code to a client, the ENT session
  gets its ``sid`` (random, made once per ENT session; never the session key) and remembers that this client has a
  session with the person (client id and the redirect URI used). The code is mapped to the ``sid`` (cache, as long as
  the code lives) for the ID token.
- ``EntOIDCAdapter.populate_id_token`` (``entserver.adapters``) puts that ``sid`` in the ID token: the token request
  carries the code.
- ``send_logout_tokens`` (``user_logged_out``, connected in ``EntServerConfig.ready``): whatever ends the ENT session
  (the ``end_session_endpoint``, the ENT's own « Se déconnecter », the CAS ``/cas/logout``) posts, to each client of
  that session that registered a ``backchannel_logout_uri`` (``client.data["client_metadata"]``, the registration
  metadata name, set by ``seed_ent``), a ``logout_token``: a JWT signed with the ID tokens' key, with ``iss``, ``aud``,
  ``iat``, ``exp`` (two minutes), ``jti``, ``events``, ``sid`` and ``sub``, header ``typ: logout+jwt``.

As with the redirect URIs (RFC 8252), a loopback ``backchannel_logout_uri`` is posted to on the port of the redirect
URI the client used at login, so ecandidat on any port of 127.0.0.1 (a test's live server) needs no registration.
Consent is skipped for the clients ``seed_ent`` makes; the client is read from the request's ``client_id``.
"""

import logging
import secrets
import time
import uuid
from urllib.parse import parse_qs, urlsplit, urlunsplit

import jwt
import requests
from allauth.core.internal import jwkkit
from allauth.idp.oidc.adapter import get_adapter
from allauth.idp.oidc.models import Client
from allauth.idp.oidc.views import authorization
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

SESSION_SID = "oidc_sid"
SESSION_CLIENTS = "oidc_rp_sessions"  # [[client_id, redirect_uri], …] of this ENT session
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_SECONDS = 120
CODE_SECONDS = 600  # longer than allauth's authorization code (IDP_OIDC_AUTHORIZATION_CODE_EXPIRES_IN, 60 s)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _code_key(client_id: str, code: str) -> str:
    return f"oidc-sid:{client_id}:{code}"


def authorize(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """allauth's authorization endpoint; a code handed to a client ties that client to this ENT session."""
    response = authorization(request, *args, **kwargs)
    location = response.get("Location", "") if response.status_code == 302 else ""
    code = (parse_qs(urlsplit(location).query).get("code") or [""])[0]
    client_id = request.GET.get("client_id", "")
    if code and client_id and request.user.is_authenticated:
        sid = request.session.get(SESSION_SID) or secrets.token_urlsafe(24)
        request.session[SESSION_SID] = sid
        redirect_uri = location.split("?", 1)[0]
        clients = [entry for entry in request.session.get(SESSION_CLIENTS, []) if entry[0] != client_id]
        request.session[SESSION_CLIENTS] = [*clients, [client_id, redirect_uri]]
        cache.set(_code_key(client_id, code), sid, CODE_SECONDS)
    return response


def sid_for_code(client_id: str, code: str) -> str | None:
    """The ENT session (``sid``) a code was handed out in; once (the code is exchanged once)."""
    sid = cache.get(_code_key(client_id, code))
    cache.delete(_code_key(client_id, code))
    return sid


def backchannel_logout_uri(client: Client, redirect_uri: str) -> str:
    """The client's registered ``backchannel_logout_uri``, on the port of ``redirect_uri`` when both are loopback."""
    metadata = (client.data or {}).get("client_metadata") or {}
    uri = metadata.get("backchannel_logout_uri") or ""
    if not uri:
        return ""
    parts, used = urlsplit(uri), urlsplit(redirect_uri)
    if parts.hostname in LOOPBACK and used.hostname in LOOPBACK and used.port:
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        parts = parts._replace(netloc=f"{host}:{used.port}")
    return urlunsplit(parts)


def logout_token(*, client: Client, sub: str, sid: str) -> str:
    """The signed ``logout_token`` (Back-Channel Logout 1.0, section 2.4), with the key that signs ID tokens."""
    adapter = get_adapter()
    now = int(time.time())
    claims = {
        "iss": adapter.get_issuer(),
        "aud": client.id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_SECONDS,
        "jti": uuid.uuid4().hex,
        "events": {LOGOUT_EVENT: {}},
        "sub": sub,
    }
    if sid:
        claims["sid"] = sid
    jwk_dict, private_key = jwkkit.load_jwk_from_pem(adapter.get_signing_key().pem)
    return jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": jwk_dict["kid"], "typ": "logout+jwt"})


def send_logout_tokens(sender, request, user, **kwargs) -> None:
    """``user_logged_out``: before the ENT session is flushed, post a logout token to each of its clients."""
    if request is None or user is None or not hasattr(request, "session"):
        return
    sid = request.session.get(SESSION_SID, "")
    entries = request.session.get(SESSION_CLIENTS, [])
    clients = Client.objects.in_bulk([client_id for client_id, _ in entries])
    for client_id, redirect_uri in entries:
        client = clients.get(client_id)
        uri = backchannel_logout_uri(client, redirect_uri) if client else ""
        if not uri:
            continue
        token = logout_token(client=client, sub=get_adapter().get_user_sub(client, user), sid=sid)
        try:  # a client that does not answer does not stop the logout (as the CAS single logout)
            response = requests.post(uri, data={"logout_token": token}, timeout=5)
        except requests.RequestException as exc:
            logger.warning("back-channel logout to %s failed: %s", uri, exc)
            continue
        if response.status_code != 200:
            logger.warning("back-channel logout to %s answered %s: %s", uri, response.status_code, response.text[:200])
