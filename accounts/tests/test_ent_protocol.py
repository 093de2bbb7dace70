"""The development ENT (devtools/ent) spoken to over real OpenID Connect: discovery, PKCE code flow, signed ID token.

The ENT runs as its own process with its own database, as the university's would; nothing here touches the app DB.
"""

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urljoin, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from ecandidat.tests.plugins.services import ENT_CLIENT_ID as CLIENT_ID
from ecandidat.tests.plugins.services import ENT_CLIENT_SECRET as CLIENT_SECRET
from ecandidat.tests.plugins.services import ENT_PASSWORD as PASSWORD
from ecandidat.tests.plugins.services import free_port as _free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def redirect_uri():
    # Nobody listens there: the tests stop at the redirect. seed_ent registers 127.0.0.1:8000, and loopback
    # redirect URIs match on any port (test_loopback_redirect_uri_matches_on_any_port).
    return f"http://127.0.0.1:{_free_port()}/accounts/oidc/ent/login/callback/"


@pytest.fixture(scope="module")
def ent(ent_server):
    """The development ENT process, shared with the browser tests (ecandidat.tests.plugins.services)."""
    return ent_server


@pytest.fixture(scope="module")
def config(ent):
    return requests.get(ent.discovery_url, timeout=5).json()


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _authorize_url(config, redirect_uri, *, state, challenge) -> str:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": redirect_uri,
        "scope": "openid profile email",
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    url = requests.Request("GET", config["authorization_endpoint"], params=params).prepare().url
    assert url is not None
    return url


def _follow_until(session: requests.Session, url: str, stop_prefix: str) -> requests.Response:
    """Follow redirects inside the ENT, stopping at the first one that leaves for `stop_prefix` (nobody listens)."""
    response = session.get(url, allow_redirects=False, timeout=5)
    while response.is_redirect:
        location = urljoin(response.url, response.headers["Location"])
        if location.startswith(stop_prefix):
            return response
        response = session.get(location, allow_redirects=False, timeout=5)
    return response


def _submit_login(session: requests.Session, login_page: requests.Response, username: str, password: str):
    csrf_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
    return session.post(
        login_page.url,
        data={"csrfmiddlewaretoken": csrf_token, "login": username, "password": password},
        headers={"Referer": login_page.url},
        allow_redirects=False,
        timeout=5,
    )


def _log_in_and_get_code(config, redirect_uri, *, challenge, username="estelle.martin", session=None) -> str:
    session = session or requests.Session()
    state = secrets.token_urlsafe(16)
    url = _authorize_url(config, redirect_uri, state=state, challenge=challenge)
    login_page = _follow_until(session, url, redirect_uri)
    assert "/accounts/login/" in login_page.url
    response = _submit_login(session, login_page, username, PASSWORD)
    assert response.status_code == 302
    back_to_app = _follow_until(session, urljoin(login_page.url, response.headers["Location"]), redirect_uri)
    location = back_to_app.headers["Location"]
    assert location.startswith(redirect_uri)
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [state]
    return query["code"][0]


def _exchange(config, redirect_uri, code: str, verifier: str) -> requests.Response:
    return requests.post(
        config["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    )


def test_discovery_document_announces_code_flow_with_pkce_and_rs256(ent, config):
    assert config["issuer"] == ent.base_url
    assert {"openid", "profile", "email"} <= set(config["scopes_supported"])
    assert "code" in config["response_types_supported"]
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "client_secret_post" in config["token_endpoint_auth_methods_supported"]
    for endpoint in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert config[endpoint].startswith(ent.base_url)


def test_jwks_publishes_an_rsa_signing_key(config):
    keys = requests.get(config["jwks_uri"], timeout=5).json()["keys"]
    assert keys
    assert all(key["kty"] == "RSA" and key["kid"] for key in keys)


def test_code_flow_with_pkce_yields_a_verified_id_token_and_userinfo(config, redirect_uri):
    verifier, challenge = _pkce_pair()
    code = _log_in_and_get_code(config, redirect_uri, challenge=challenge)

    response = _exchange(config, redirect_uri, code, verifier)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"].lower() == "bearer"

    signing_key = jwt.PyJWKClient(config["jwks_uri"]).get_signing_key_from_jwt(tokens["id_token"])
    id_token = jwt.decode(
        tokens["id_token"],
        signing_key.key,
        algorithms=["RS256"],
        audience=CLIENT_ID,
        issuer=config["issuer"],
        options={"require": ["exp", "iat", "sub", "aud", "iss"]},
    )
    expected = {
        "sub": "estelle.martin",
        "email": "estelle.martin@etudiant.univ-perp.fr",
        "given_name": "Estelle",
        "family_name": "MARTIN",
        "supannEtuId": "21900001",
    }
    assert expected.items() <= id_token.items()
    assert id_token["email_verified"] is True

    userinfo = requests.get(
        config["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=5
    )
    assert userinfo.status_code == 200
    assert expected.items() <= userinfo.json().items()


def test_id_token_signature_does_not_verify_with_a_foreign_key(config, redirect_uri):
    verifier, challenge = _pkce_pair()
    code = _log_in_and_get_code(config, redirect_uri, username="lucas.bernard", challenge=challenge)
    id_token = _exchange(config, redirect_uri, code, verifier).json()["id_token"]
    foreign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()

    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(id_token, foreign_key, algorithms=["RS256"], audience=CLIENT_ID, issuer=config["issuer"])


def test_wrong_password_stays_on_login_page(config, redirect_uri):
    session = requests.Session()
    _, challenge = _pkce_pair()
    url = _authorize_url(config, redirect_uri, state="s", challenge=challenge)
    login_page = _follow_until(session, url, redirect_uri)

    response = _submit_login(session, login_page, "estelle.martin", "not-the-password")

    assert response.status_code == 200
    assert 'name="password"' in response.text
    assert _follow_until(session, url, redirect_uri).url.startswith(urljoin(url, "/accounts/login/"))


def test_token_endpoint_refuses_wrong_code_verifier(config, redirect_uri):
    _, challenge = _pkce_pair()
    code = _log_in_and_get_code(config, redirect_uri, challenge=challenge)
    other_verifier, _ = _pkce_pair()

    response = _exchange(config, redirect_uri, code, other_verifier)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_authorization_code_is_single_use(config, redirect_uri):
    verifier, challenge = _pkce_pair()
    code = _log_in_and_get_code(config, redirect_uri, challenge=challenge)
    assert _exchange(config, redirect_uri, code, verifier).status_code == 200

    replay = _exchange(config, redirect_uri, code, verifier)

    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "unregistered_uri",
    [
        "http://attacker.example/accounts/oidc/ent/login/callback/",
        "http://127.0.0.1:8000/accounts/oidc/other/login/callback/",
        "http://localhost:9/accounts/oidc/ent/login/callback/",
    ],
)
def test_unregistered_redirect_uri_is_refused_without_redirecting(config, redirect_uri, unregistered_uri):
    session = requests.Session()
    _, challenge = _pkce_pair()
    _log_in_and_get_code(config, redirect_uri, challenge=challenge, session=session)  # a logged-in ENT session

    response = session.get(
        _authorize_url(config, unregistered_uri, state="s", challenge=challenge), allow_redirects=False, timeout=5
    )

    assert response.status_code == 200
    assert "Location" not in response.headers
    assert "Mismatching redirect URI" in response.text


def test_loopback_redirect_uri_matches_on_any_port(config):
    # RFC 8252 section 7.3, implemented by allauth: registering 127.0.0.1:8000 also admits test servers' ports.
    _, challenge = _pkce_pair()
    other_port_uri = f"http://127.0.0.1:{_free_port()}/accounts/oidc/ent/login/callback/"

    assert _log_in_and_get_code(config, other_port_uri, challenge=challenge)
