"""The CAS return page logs in only the browser that started the CAS login (login CSRF).

A CAS ticket names whoever logged in at the CAS server, not the browser that brings it back: without more, anyone
could log in at the CAS server with our return address, stop before the last redirect and have a victim open
``/compte/ent/cas/retour/?ticket=ST-…``: the victim would be logged in to the attacker's account (and give it their
documents). So the ENT button (``cas.login``) keeps a random value in the session and puts it in the service URL
(``…/retour/?s=<value>``); the callback validates a ticket only when ``s`` is that value, once."""

from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django_cas_ng.models import SessionTicket

from accounts import cas
from accounts.tests.ent import ent_providers
from accounts.tests.ent_logout import LOGOUT_REQUEST
from ecandidat.tests.helpers import loopback_http

CALLBACK = reverse("accounts:cas_callback")
LOGIN = reverse("account_login")
REFUSED = "The ENT login did not complete: please log in again."
REFUSED_FR = "La connexion par l’ENT n’a pas abouti : reconnectez-vous."


def _start_login(client, **data) -> str:
    """Press the ENT button; the value this browser's session got (also in the service URL sent to CAS)."""
    response = client.post(reverse("accounts:cas_login"), data)
    assert response.status_code == 302
    return client.session[cas.SESSION_STATE]


def _service_urls() -> list[str]:
    """The service URLs ecandidat gave python-cas (the ``cas_ent`` fixture stubs ``get_cas_client``)."""
    return [call.kwargs["service_url"] for call in cas.get_cas_client.call_args_list]


def _assert_refused(client, response, message: str = REFUSED) -> None:
    assert response.status_code == 302
    assert response.url == LOGIN
    assert "_auth_user_id" not in client.session
    assert message in client.get(LOGIN).content.decode()


def test_a_browser_that_never_started_the_login_is_not_logged_in(
    client, cas_ent, ent_candidate, django_assert_num_queries
):
    cas_ent.return_value = ("lucas.bernard", {"mail": [ent_candidate.email]}, None)

    # no session yet, so none read: only the savepoint and its release (ATOMIC_REQUESTS; the message is a cookie)
    with django_assert_num_queries(2):
        response = client.get(CALLBACK, {"ticket": "ST-1"}, language="fr")

    _assert_refused(client, response, REFUSED_FR)
    cas_ent.assert_not_called()  # the ticket is not even validated: it stays the attacker's


def test_the_callback_url_of_someone_elses_login_does_not_log_in(client, cas_ent, ent_candidate):
    """The attacker's own return URL, ``s`` included, opened in the victim's browser."""
    cas_ent.return_value = ("lucas.bernard", {"mail": [ent_candidate.email]}, None)
    attacker = Client()
    state = _start_login(attacker)
    _start_login(client)  # the victim may even have started a login of their own

    response = client.get(CALLBACK, {"s": state, "ticket": "ST-1"})

    _assert_refused(client, response)
    cas_ent.assert_not_called()


def test_a_wrong_value_is_refused_and_uses_the_login_up(client, cas_ent, ent_candidate, django_assert_num_queries):
    cas_ent.return_value = ("lucas.bernard", {"mail": [ent_candidate.email]}, None)
    state = _start_login(client)

    # session, savepoint, release, the session saved without the value (3)
    with django_assert_num_queries(6):
        response = client.get(CALLBACK, {"s": state[:-1] + ("A" if state[-1] != "A" else "B"), "ticket": "ST-1"})

    _assert_refused(client, response)
    cas_ent.assert_not_called()
    assert cas.SESSION_STATE not in client.session
    assert client.get(CALLBACK, {"s": state, "ticket": "ST-2"}).url == LOGIN  # the value went with the attempt
    cas_ent.assert_not_called()


def test_the_login_this_browser_started_logs_in_and_validates_with_its_own_service_url(
    client, cas_ent, ent_candidate, django_assert_num_queries
):
    cas_ent.return_value = ("lucas.bernard", {"mail": [ent_candidate.email]}, None)
    state = _start_login(client, next="/candidat/informations-perso/")
    [sent_to_cas] = _service_urls()
    assert sent_to_cas == f"http://testserver{CALLBACK}?s={state}"

    # as test_login_history's CAS login (29), the browser's session (the login started in it) existing already:
    # read it (1); the login's new key replaces its row: the old one read and deleted (2)
    with django_assert_num_queries(32):
        response = client.get(CALLBACK, {"s": state, "ticket": "ST-1"})

    assert response.status_code == 302
    assert response.url == "/candidat/informations-perso/"  # the « next » the button sent, as before
    assert client.session["_auth_user_id"] == str(ent_candidate.pk)
    assert cas.SESSION_STATE not in client.session
    cas_ent.assert_called_once_with("ST-1")
    assert _service_urls()[-1] == sent_to_cas  # CAS validates a ticket for the exact service URL it was issued for
    assert SessionTicket.objects.get(ticket="ST-1").session_key == client.session.session_key


def test_the_value_is_single_use(client, cas_ent, ent_candidate):
    cas_ent.return_value = ("lucas.bernard", {"mail": [ent_candidate.email]}, None)
    state = _start_login(client)
    assert client.get(CALLBACK, {"s": state, "ticket": "ST-1"}).status_code == 302
    assert client.session["_auth_user_id"] == str(ent_candidate.pk)
    client.logout()

    response = client.get(CALLBACK, {"s": state, "ticket": "ST-1"})  # the same return URL, replayed

    _assert_refused(client, response)
    cas_ent.assert_called_once()


def test_the_single_logout_still_ends_the_session_posted_to_the_service_url(client, settings, candidate_user):
    """The CAS server posts its ``logoutRequest`` to the service URL the ticket was issued for, ``?s=`` included."""
    settings.ENT_PROTOCOL = "cas"
    settings.ENT_SERVER_URL = settings.CAS_SERVER_URL = "https://cas.univ-perp.fr/cas/"
    client.force_login(candidate_user)
    key = client.session.session_key
    SessionTicket.objects.create(session_key=key, ticket="ST-1")

    response = Client().post(f"{CALLBACK}?s=whatever", {"logoutRequest": LOGOUT_REQUEST.format(ticket="ST-1")})

    assert response.status_code == 200
    assert not Session.objects.filter(session_key=key).exists()


# --- with python-cas itself, against a CAS server on loopback ---


class _CasServer(BaseHTTPRequestHandler):
    """``p3/serviceValidate``: success for ``lucas.bernard``, the ``service`` it was asked about recorded."""

    services: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's protocol)
        query = parse_qs(urlsplit(self.path).query)
        type(self).services.append(query["service"][0])
        body = (
            b"<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'><cas:authenticationSuccess>"
            b"<cas:user>lucas.bernard</cas:user><cas:attributes>"
            b"<cas:mail>lucas.bernard@etudiant.univ-perp.fr</cas:mail></cas:attributes>"
            b"</cas:authenticationSuccess></cas:serviceResponse>"
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_ticket_is_validated_for_the_service_url_sent_to_the_cas_login(client, settings, ent_candidate):
    _CasServer.services = []
    with loopback_http(_CasServer) as url:
        settings.ENT_PROTOCOL = "cas"
        settings.ENT_SERVER_URL = f"{url}/cas"
        settings.CAS_SERVER_URL = f"{url}/cas/"
        settings.SOCIALACCOUNT_PROVIDERS = ent_providers(settings.CAS_SERVER_URL)

        to_cas = client.post(reverse("accounts:cas_login"))
        service = parse_qs(urlsplit(to_cas.url).query)["service"][0]
        assert to_cas.url.startswith(f"{url}/cas/login?")
        assert service == f"http://testserver{CALLBACK}?s={client.session[cas.SESSION_STATE]}"
        # the CAS server sends the browser back to the service URL, the ticket added to its query
        response = client.get(f"{service}&ticket=ST-1")

    assert _CasServer.services == [service]
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(ent_candidate.pk)
