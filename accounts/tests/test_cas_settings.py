"""CAS configuration and the pieces of accounts/cas.py that need no CAS server (the protocol itself:
test_cas_protocol.py)."""

import runpy
import socket
import threading
from datetime import time
from time import monotonic

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_cas_ng.models import SessionTicket
from django_cas_ng.utils import get_cas_client

from accounts import cas
from accounts.tests.ent_logout import LOGOUT_REQUEST
from ecandidat.tests.helpers import dripping_handler, loopback_http
from ecandidat.tests.plugins.services import free_port

BASE_SETTINGS = django_settings.BASE_DIR / "ecandidat" / "settings" / "base.py"


def test_cas_protocol_points_django_cas_ng_at_the_cas_prefix(monkeypatch):
    monkeypatch.setenv("ENT_PROTOCOL", "cas")
    monkeypatch.setenv("ENT_SERVER_URL", "https://cas.univ-perp.fr/cas")

    production = runpy.run_path(str(BASE_SETTINGS))

    assert production["CAS_SERVER_URL"] == "https://cas.univ-perp.fr/cas/"
    assert production["CAS_VERSION"] == "3"
    assert "https://cas.univ-perp.fr" in production["SECURE_CSP"]["form-action"]


def test_oidc_is_the_default_and_has_no_cas_server(monkeypatch):
    monkeypatch.delenv("ENT_PROTOCOL", raising=False)
    monkeypatch.setenv("ENT_SERVER_URL", "https://ent.univ-perp.fr")

    assert runpy.run_path(str(BASE_SETTINGS))["CAS_SERVER_URL"] is None


def test_an_unknown_protocol_stops_the_start(monkeypatch):
    monkeypatch.setenv("ENT_PROTOCOL", "saml")

    with pytest.raises(ImproperlyConfigured, match="ENT_PROTOCOL must be oidc or cas"):
        runpy.run_path(str(BASE_SETTINGS))


def test_attributes_become_the_claims_of_the_ent_path():
    attributes = {
        "mail": ["estelle.martin@etudiant.univ-perp.fr"],
        "givenName": "Estelle",
        "sn": ["MARTIN"],
        "displayName": ["Estelle MARTIN"],
        "supannEtuId": ["21900001"],
    }

    assert cas.claims_from_attributes("estelle.martin", attributes) == {
        "sub": "estelle.martin",
        "preferred_username": "estelle.martin",
        "email": "estelle.martin@etudiant.univ-perp.fr",
        "given_name": "Estelle",
        "family_name": "MARTIN",
        "name": "Estelle MARTIN",
        "email_verified": True,
        "supannEtuId": "21900001",
    }


def test_staff_attributes_carry_no_student_number():
    claims = cas.claims_from_attributes("sophie.gestion", {"mail": "sophie.gestion@univ-perp.fr"})

    assert "supannEtuId" not in claims


@pytest.mark.django_db
def test_cas_views_answer_400_when_the_ent_speaks_openid_connect(client, settings, django_assert_num_queries):
    settings.ENT_PROTOCOL = "oidc"

    with django_assert_num_queries(4):  # only the savepoints of ATOMIC_REQUESTS, two per request
        assert client.post(reverse("accounts:cas_login")).status_code == 400
        assert client.get(reverse("accounts:cas_callback"), {"ticket": "ST-1"}).status_code == 400


@pytest.mark.django_db
def test_the_ent_button_posts_to_the_cas_login(client, settings):
    settings.ENT_PROTOCOL = "cas"
    settings.ENT_SERVER_URL = settings.CAS_SERVER_URL = "https://cas.univ-perp.fr/cas/"

    response = client.get(reverse("account_login"))

    assert 'action="/compte/ent/cas/"' in response.content.decode()
    response = client.post(reverse("accounts:cas_login"), {"next": "https://evil.example/"})
    assert response.status_code == 302
    assert response.url == (
        "https://cas.univ-perp.fr/cas/login?service=http%3A%2F%2Ftestserver%2Fcompte%2Fent%2Fcas%2Fretour%2F"
        f"%3Fs%3D{client.session[cas.SESSION_STATE]}"  # this browser's login (test_cas_login_csrf.py)
    )
    assert "cas_next" not in client.session  # an outside "next" is dropped


@pytest.mark.django_db
def test_a_callback_without_ticket_goes_back_to_the_login_page(client, settings):
    settings.ENT_PROTOCOL = "cas"
    settings.ENT_SERVER_URL = settings.CAS_SERVER_URL = "https://cas.univ-perp.fr/cas/"

    response = client.get(reverse("accounts:cas_callback"))

    assert response.status_code == 302
    assert response.url == reverse("account_login")


@pytest.mark.django_db
def test_an_unreachable_cas_server_sends_back_to_the_login_page_with_a_message(client, settings):
    settings.ENT_PROTOCOL = "cas"
    settings.ENT_SERVER_URL = settings.CAS_SERVER_URL = f"http://127.0.0.1:{free_port()}/cas/"  # nobody listens
    client.post(reverse("accounts:cas_login"))
    state = client.session[cas.SESSION_STATE]

    response = client.get(reverse("accounts:cas_callback"), {"s": state, "ticket": "ST-1"}, follow=True)

    assert response.redirect_chain == [(reverse("account_login"), 302)]
    assert "The ENT could not confirm your login. Please try again." in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_nightly_cleanup_forgets_tickets_of_ended_sessions_only(client, candidate_user):
    client.force_login(candidate_user)
    live = SessionTicket.objects.create(session_key=client.session.session_key, ticket="ST-live")
    SessionTicket.objects.create(session_key="ended-session-key", ticket="ST-ended")

    call_command("django_cas_ng_clean_sessions")

    assert list(SessionTicket.objects.all()) == [live]


def test_the_crontab_runs_the_cleanup():
    crontab = (django_settings.BASE_DIR / "deploy" / "crontab").read_text(encoding="utf-8")

    assert "/srv/ecandidat/deploy/manage.sh django_cas_ng_clean_sessions" in crontab


@pytest.mark.django_db
def test_the_cas_single_logout_ends_the_session_during_the_maintenance_window(client, candidate_user, settings):
    # The CAS server posts its logoutRequest when the student logs out of the ENT, whatever the hour: answered 503,
    # it was lost and the ecandidat session stayed open on a shared computer after the window.
    settings.ENT_PROTOCOL = "cas"
    settings.ENT_SERVER_URL = settings.CAS_SERVER_URL = "https://cas.univ-perp.fr/cas/"
    settings.MAINTENANCE_WINDOW_ENFORCED = True
    settings.MAINTENANCE_START, settings.MAINTENANCE_END = time(0, 0), time(23, 59, 59)
    client.force_login(candidate_user)
    key = client.session.session_key
    SessionTicket.objects.create(session_key=key, ticket="ST-night")
    callback = reverse("accounts:cas_callback")

    response = Client().post(callback, {"logoutRequest": LOGOUT_REQUEST.format(ticket="ST-night")})

    assert response.status_code == 200
    assert not Session.objects.filter(session_key=key).exists()
    # (the callback's GET, a login, passes the middleware too: only staff log in then, test_ent_maintenance)


def test_a_cas_server_that_never_answers_fails_the_validation_in_time(settings, rf):
    """The CAS server accepts the connection and says nothing: the ticket's validation gives up after
    CAS_TIMEOUT_SECONDS with an OSError, which the callback turns into « L'ENT n'a pas pu confirmer votre connexion »
    (python-cas has no timeout of its own: the login, and a web worker, waited until the process was killed)."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)
    try:
        settings.ENT_PROTOCOL = "cas"
        settings.ENT_SERVER_URL = f"http://127.0.0.1:{silent.getsockname()[1]}/cas"
        settings.CAS_SERVER_URL = settings.ENT_SERVER_URL + "/"
        settings.CAS_TIMEOUT_SECONDS = 1
        request = rf.get("/compte/ent/cas/retour/", {"ticket": "ST-1"})
        client = get_cas_client(service_url=cas.service_url(request), request=request)
        outcome: dict = {}

        def validate():
            try:
                client.verify_ticket("ST-1")
            except Exception as exc:  # noqa: BLE001 - what the callback's except clause will see
                outcome["error"] = exc

        worker = threading.Thread(target=validate, daemon=True)
        worker.start()
        worker.join(30)  # without a timeout the validation waits for ever: the test fails here, it does not hang

        assert not worker.is_alive(), "the ticket validation is still waiting for the CAS server"
        assert isinstance(outcome.get("error"), OSError), outcome
    finally:
        silent.close()


def test_a_cas_server_dripping_its_answer_fails_the_validation_in_time(settings, rf):
    """The CAS server answers a byte at a time, each within CAS_TIMEOUT_SECONDS: requests' timeout bounds each wait
    on the socket only, and the login waited as long as the drip lasted (found by review). The whole answer is due
    within the timeout: an OSError, the callback's message."""
    stop = threading.Event()
    dripping = dripping_handler(b"<cas:serviceResponse/>".ljust(50), stop, content_type="application/xml")  # 10 s

    with loopback_http(dripping) as url:
        try:
            settings.ENT_PROTOCOL = "cas"
            settings.ENT_SERVER_URL = f"{url}/cas"
            settings.CAS_SERVER_URL = settings.ENT_SERVER_URL + "/"
            settings.CAS_TIMEOUT_SECONDS = 1
            request = rf.get("/compte/ent/cas/retour/", {"ticket": "ST-1"})
            client = get_cas_client(service_url=cas.service_url(request), request=request)
            started = monotonic()

            with pytest.raises(OSError, match="did not come within"):
                client.verify_ticket("ST-1")

            assert monotonic() - started < 3.0  # the drip lasts 10 s
        finally:
            stop.set()
