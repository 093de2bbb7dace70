"""The ENT's back-channel logout over OpenID Connect (Back-Channel Logout 1.0, ``ENT_PROTOCOL=oidc``).

When a student or staff member logs out at the ENT (its logout page, its ``end_session_endpoint``, its CAS logout),
the ENT posts a signed ``logout_token`` to ``/accounts/oidc/ent/backchannel-logout/`` (registered at the ENT as the
client's ``backchannel_logout_uri``), and every ecandidat session that ENT session opened ends: the next request of
that browser is anonymous. Nothing reaches the browser; the ENT calls ecandidat directly (it must reach it over
HTTPS).

- At each ENT login, ``remember_session`` (from ``AccountAdapter.post_login``) writes the ENT's session ``sid`` (the
  ID token's claim; empty when the ENT sends none) and ``sub`` beside our session key (``EntSession``, cleaned with
  the sessions, see the model). The session keeps them too (``SESSION_TIE``): « Définir un mot de passe » and
  « Modifier mon mot de passe » give the session a new key, deleting the old key's rows, and
  ``follow_new_session_key`` ties the new key in their place.
- ``backchannel_logout`` validates the token as section 2.6 asks: signature by a key of the ENT's JWKS (the
  ``jwks_uri`` of its discovery document, both fetched with allauth's HTTP session and kept in the cache for an
  hour; a key id not in the kept set fetches the set again, at most once a minute), an asymmetric algorithm the ENT
  announces, ``iss`` = the discovery's issuer, ``aud`` = our client id, ``iat`` no more than five minutes old and not
  in the future, ``exp`` not passed (one minute of clock skew), the back-channel logout event in ``events``, no
  ``nonce``, a ``sid`` or a ``sub``, and a ``jti`` never received before (``EntLogoutToken``, kept until the token
  could no longer be accepted). It then ends the sessions of that ``sid`` (and ``sub``), or with a ``sub`` alone all
  the sessions that subject's ENT logins opened, and answers 200, also when there was none (already ended or never
  opened here: the specification allows it). A token that fails answers 400 with ``{"error": "invalid_request",
  "error_description": …}``; every answer has ``Cache-Control: no-store``.
- Section 2.8 names only those answers (200, 400 with an OAuth 2.0 error). Before anything is read, posts are counted
  per IP address (``ENT_BACKCHANNEL_LOGOUT_RATE_LIMITS``, 600 a minute by default, ``ecandidat.ratelimits``): the ENT
  posts one token per session that ends, so a flood from one address is not the ENT, and each post costs a signature
  check and may fetch the ENT's keys. Over the limit the answer is HTTP's 429 with ``Retry-After`` (RFC 6585) and
  ``{"error": "temporarily_unavailable", …}`` as the 503 below, so that an ENT that retries knows when.

PyJWT (allauth's own dependency, with ``cryptography``) checks signatures and standard claims: no cryptography here.
"""

import datetime
import logging
import time

import jwt
import requests
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts import services
from ecandidat import ratelimits

logger = logging.getLogger(__name__)

PROVIDER_ID = "ent"
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# Signature algorithms accepted (the ENT's discovery narrows them): public-key ones only, never "none" or a shared key.
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY = 60  # seconds of clock difference with the ENT
MAX_AGE = 300  # a token issued longer ago is refused, so that its jti need not be kept longer
METADATA_SECONDS = 3600
JWKS_REFETCH_SECONDS = 60
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}  # algorithm prefix → the JWK's kty it needs
RATE_LIMIT_APP = "accounts"  # the cache keys' namespace
RATE_LIMIT_ACTION = "ent_backchannel_logout"
SESSION_TIE = "ent_oidc_backchannel"  # the sid and sub this session is tied to, for a new session key


class InvalidLogoutToken(Exception):
    """A logout token that is refused; its message is the ``error_description`` of the 400 answer."""


class ProviderUnavailable(Exception):
    """The ENT's discovery document or keys could not be fetched."""


def remember_session(request: HttpRequest, sociallogin) -> None:
    """After a login (``AccountAdapter.post_login``): an ENT login over OpenID Connect ties this session to the ENT
    session named in the ID token (``sid``) and to its subject, for the back-channel logout."""
    if sociallogin is None or settings.ENT_PROTOCOL != "oidc" or sociallogin.account.provider != PROVIDER_ID:
        return
    id_token = (sociallogin.account.extra_data or {}).get("id_token")
    if not isinstance(id_token, dict) or not sociallogin.account.uid:
        return  # not an OpenID Connect login (the CAS path shares the provider id)
    sid = id_token.get("sid")
    request.session[SESSION_TIE] = {"sid": sid if isinstance(sid, str) else "", "sub": str(sociallogin.account.uid)}
    if request.session.session_key is None:
        request.session.save()
    services.remember_ent_session(session_key=request.session.session_key or "", **request.session[SESSION_TIE])


def follow_new_session_key(sender, request: HttpRequest, **kwargs) -> None:
    """allauth's ``password_set`` and ``password_changed``: the password step kept this session under a new key
    (``update_session_auth_hash``), and the old key's ``EntSession`` rows went with the old session (database
    cascade); the ENT session this one was opened by must still end it, so the new key is tied in their place."""
    tie = request.session.get(SESSION_TIE)
    if not isinstance(tie, dict) or not tie.get("sub") or request.session.session_key is None:
        return  # not a session opened by an ENT login over OpenID Connect
    services.remember_ent_session(
        session_key=request.session.session_key, sid=str(tie.get("sid") or ""), sub=str(tie["sub"])
    )


def _fetch_json(url: str) -> dict:
    try:
        with get_social_adapter().get_requests_session() as session:
            response = session.get(url, timeout=5)
            response.raise_for_status()
            data = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(f"{url}: {exc}") from exc
    if not isinstance(data, dict):
        raise ProviderUnavailable(f"{url}: not a JSON object")
    return data


def provider_metadata(server_url: str) -> dict:
    """The ENT's issuer, ``jwks_uri`` and signing algorithms, from its discovery document (``server_url``, the
    provider's, as allauth reads it; cached an hour)."""
    key = f"ent-oidc-backchannel:metadata:{server_url}"
    metadata = cache.get(key)
    if metadata is None:
        config = _fetch_json(server_url)
        if not config.get("issuer") or not config.get("jwks_uri"):
            raise ProviderUnavailable(f"{server_url}: no issuer or jwks_uri")
        announced = config.get("id_token_signing_alg_values_supported") or ["RS256"]
        metadata = {
            "issuer": str(config["issuer"]),
            "jwks_uri": str(config["jwks_uri"]),
            "algorithms": [alg for alg in ASYMMETRIC_ALGORITHMS if alg in announced],
        }
        cache.set(key, metadata, METADATA_SECONDS)
    return metadata


def _find_key(jwks: dict, kid: str | None) -> jwt.PyJWK | None:
    try:
        keys = jwt.PyJWKSet.from_dict(jwks).keys
    except jwt.PyJWTError:
        return None
    if kid is None:
        return keys[0] if len(keys) == 1 else None
    return next((key for key in keys if key.key_id == kid), None)


def signing_key(jwks_uri: str, kid: str | None) -> jwt.PyJWK:
    """The ENT's public key ``kid`` from its JWKS (cached an hour; fetched again for an unknown key id, at most once
    every ``JWKS_REFETCH_SECONDS``, so that forged key ids cannot make us hammer the ENT)."""
    key = f"ent-oidc-backchannel:jwks:{jwks_uri}"
    cached = cache.get(key)
    if cached is not None and (found := _find_key(cached["jwks"], kid)) is not None:
        return found
    if cached is not None and time.time() - cached["at"] < JWKS_REFETCH_SECONDS:
        raise InvalidLogoutToken("unknown signing key")
    jwks = _fetch_json(jwks_uri)
    cache.set(key, {"jwks": jwks, "at": time.time()}, METADATA_SECONDS)
    found = _find_key(jwks, kid)
    if found is None:
        raise InvalidLogoutToken("unknown signing key")
    return found


def validate_logout_token(token: str, *, metadata: dict, audience: str) -> dict:
    """The logout token's claims once every check of Back-Channel Logout 1.0, section 2.6 passed (the ``jti`` is then
    recorded as received); ``InvalidLogoutToken`` otherwise."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidLogoutToken("not a signed JWT") from exc
    algorithm = str(header.get("alg"))
    if algorithm not in metadata["algorithms"]:
        raise InvalidLogoutToken(f"signature algorithm {algorithm!r} is not accepted")
    key = signing_key(metadata["jwks_uri"], header.get("kid"))
    if key.key_type != KEY_TYPES[algorithm[:2]]:
        raise InvalidLogoutToken("the signature algorithm does not match the key")
    try:
        claims = jwt.decode(
            token,
            key=key.key,
            algorithms=[algorithm],
            audience=audience,
            issuer=metadata["issuer"],
            leeway=LEEWAY,
            options={"require": ["iss", "aud", "iat", "exp", "jti"], "strict_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidLogoutToken(f"invalid token: {exc}") from exc
    iat, exp = claims["iat"], claims["exp"]
    if not isinstance(iat, int | float) or time.time() - iat > MAX_AGE + LEEWAY:
        raise InvalidLogoutToken("the token was issued too long ago")
    if not isinstance(exp, int | float):  # PyJWT takes "1700000120" (a numeric string); the sum below would not
        raise InvalidLogoutToken("exp is not a number")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
        raise InvalidLogoutToken("no back-channel logout event")
    if "nonce" in claims:
        raise InvalidLogoutToken("a logout token carries no nonce")
    sid, sub = claims.get("sid"), claims.get("sub")
    if not (isinstance(sid, str) and sid) and not (isinstance(sub, str) and sub):
        raise InvalidLogoutToken("neither sid nor sub")
    if not isinstance(claims["jti"], str) or not claims["jti"]:
        raise InvalidLogoutToken("no jti")
    kept_until = min(exp, iat + MAX_AGE) + LEEWAY
    expires_at = datetime.datetime.fromtimestamp(kept_until, tz=datetime.UTC)
    if not services.claim_logout_token(issuer=metadata["issuer"], jti=claims["jti"], expires_at=expires_at):
        raise InvalidLogoutToken("this token was already received")
    return claims


def _answer(status: int, error: str = "", description: str = "") -> HttpResponse:
    response = (
        JsonResponse({"error": error, "error_description": description}, status=status)
        if error
        else HttpResponse(status=status)
    )
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt  # the ENT posts here, server to server, without our CSRF token
@login_not_required
@require_POST
def backchannel_logout(request: HttpRequest) -> HttpResponse:
    """The ``backchannel_logout_uri``: a valid logout token ends the sessions of its ENT session or subject."""
    if settings.ENT_PROTOCOL != "oidc" or not settings.ENT_SERVER_URL:
        raise Http404
    config = {RATE_LIMIT_ACTION: settings.ENT_BACKCHANNEL_LOGOUT_RATE_LIMITS}
    wait = ratelimits.consume(request, app=RATE_LIMIT_APP, action=RATE_LIMIT_ACTION, config=config)
    if wait is not None:
        logger.warning("ENT back-channel logout: too many posts from this address, refused for %d s", wait)
        response = _answer(429, "temporarily_unavailable", "too many logout requests from this address")
        response["Retry-After"] = str(wait)
        return response
    try:
        provider = OpenIDConnectOAuth2Adapter(request, PROVIDER_ID).get_provider()
    except SocialApp.DoesNotExist:
        raise Http404 from None
    token = request.POST.get("logout_token", "")
    if not token:
        return _answer(400, "invalid_request", "logout_token is missing")
    try:
        metadata = provider_metadata(provider.server_url)
        claims = validate_logout_token(token, metadata=metadata, audience=provider.app.client_id)
    except InvalidLogoutToken as exc:
        logger.warning("ENT back-channel logout refused: %s", exc)
        return _answer(400, "invalid_request", str(exc))
    except ProviderUnavailable as exc:
        logger.warning("ENT back-channel logout: the ENT's keys could not be fetched: %s", exc)
        return _answer(503, "temporarily_unavailable", "the ENT's keys could not be fetched")
    sid, sub = claims.get("sid"), claims.get("sub")
    services.end_ent_sessions(sid=sid if isinstance(sid, str) else "", sub=sub if isinstance(sub, str) else "")
    return _answer(200)
