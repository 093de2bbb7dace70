"""The CAS callback and what it cannot read: a ticket validation answered with something that is not XML (an HTML
error page, an empty 503) from a real HTTP peer, and a single-logout post whose ``logoutRequest`` is not a SAML
document. Neither is a 500."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django_cas_ng.models import SessionTicket

from accounts.tests.ent import cas_return
from accounts.tests.ent_logout import LOGOUT_REQUEST

CALLBACK = reverse("accounts:cas_callback")


class _CasAnswer(BaseHTTPRequestHandler):
    """A CAS server in trouble: every request gets ``answer`` (status, content type, body)."""

    answer: tuple[int, str, bytes] = (503, "text/plain", b"")

    def do_GET(self):  # noqa: N802 (http.server's protocol)
        status, content_type, body = self.answer
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def cas_peer(settings):
    """ENT_PROTOCOL=cas, the CAS server a small HTTP server on loopback."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CasAnswer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.ENT_PROTOCOL = "cas"
    settings.ENT_SERVER_URL = f"http://127.0.0.1:{server.server_address[1]}/cas"
    settings.CAS_SERVER_URL = settings.ENT_SERVER_URL + "/"
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "answer",
    [
        (503, "text/plain", b""),
        (502, "text/html", b"<html><head><title>502 Bad Gateway</title></head><body><hr></body></html>"),
        (200, "text/html", b"<!DOCTYPE html><html><body><p>Maintenance du CAS<br></body></html>"),
        # XML of another shape, on which python-cas's parser fails with IndexError or AttributeError (was a 500)
        (200, "application/xml", b'<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"/>'),
        (200, "application/xml", b'<?xml version="1.0"?><error>Service Unavailable</error>'),
        (
            200,
            "application/xml",
            (
                b'<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess>'
                b"<cas:attributes><cas:mail>a@example.org</cas:mail></cas:attributes>"
                b"</cas:authenticationSuccess></cas:serviceResponse>"
            ),
        ),
    ],
    ids=["empty-503", "html-502", "html-200", "empty-response", "gateway-xml", "success-without-user"],
)
def test_a_validation_answer_that_is_not_xml_is_the_message_not_a_500(
    cas_peer, db, answer, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(_CasAnswer, "answer", answer)
    browser = Client()
    back = cas_return(browser, "ST-1")

    # the request's savepoint pair; the session read, and saved without the login's value (3): nothing else
    with django_assert_num_queries(6):
        response = browser.get(CALLBACK, back, headers={"accept-language": "fr"})

    assert response.status_code == 302
    assert response["Location"] == reverse("account_login")
    page = browser.get(response["Location"], headers={"accept-language": "fr"}).content.decode()
    assert "L’ENT n’a pas pu confirmer votre connexion" in page.replace("&#x27;", "’").replace("'", "’")
    assert "_auth_user_id" not in browser.session


@pytest.mark.parametrize(
    "logout_request",
    ["garbage", "<not-closed", '<?xml version="1.0" encoding="UTF-8"?><samlp:LogoutRequest/>'],
    ids=["text", "unclosed", "encoding-declaration"],
)
def test_an_unreadable_single_logout_is_a_400_and_ends_nothing(
    cas_peer, candidate_user, logout_request, django_assert_num_queries
):
    browser = Client()
    browser.force_login(candidate_user)
    key = browser.session.session_key
    SessionTicket.objects.create(session_key=key, ticket="ST-1")

    with django_assert_num_queries(2):  # the request's savepoint pair
        response = Client().post(CALLBACK, {"logoutRequest": logout_request})

    assert response.status_code == 400
    assert Session.objects.filter(session_key=key).exists()


def test_a_well_formed_single_logout_still_ends_its_session(cas_peer, candidate_user, django_assert_num_queries):
    browser = Client()
    browser.force_login(candidate_user)
    key = browser.session.session_key
    SessionTicket.objects.create(session_key=key, ticket="ST-1")

    # savepoint; django-cas-ng's clean_sessions: the ticket's row, the session read (its user: the account), read
    # again and deleted, the proxy and session tickets of its key deleted; release
    with django_assert_num_queries(9):
        response = Client().post(CALLBACK, {"logoutRequest": LOGOUT_REQUEST.format(ticket="ST-1")})

    assert response.status_code == 200
    assert not Session.objects.filter(session_key=key).exists()
    assert not SessionTicket.objects.exists()
