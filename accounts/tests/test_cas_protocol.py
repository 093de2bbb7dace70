"""CAS 3.0 over HTTP: ecandidat (pytest-django's live server, ENT_PROTOCOL=cas) against the development ENT's CAS
endpoints (devtools/ent/entserver/cas.py) as a separate process: service validation with attributes, the account
rules of the ENT path, staff login, and single logout both ways."""

import re
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from cas import CASClient
from django.conf import settings

from accounts import directory
from accounts.models import User
from accounts.tests.ent import ent_providers
from accounts.tests.ent_logout import cas_login as _ent_login
from accounts.tests.ent_logout import csrf_token as _csrf
from accounts.tests.factories import CandidateUserFactory, StaffFactory
from accounts.tests.helpers import all_day_maintenance
from ecandidat.models import OutboundEmail
from ecandidat.tests.plugins.services import ENT_PASSWORD

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

RETURN = re.compile(r"/compte/ent/cas/retour/\?s=[\w-]+&ticket=ST-")  # the value of this browser's login, the ticket


@pytest.fixture
def cas_app(live_server, ent_server, settings, campaign):
    settings.ENT_PROTOCOL = "cas"
    settings.ENT_SERVER_URL = f"{ent_server.base_url}/cas"
    settings.CAS_SERVER_URL = f"{ent_server.base_url}/cas/"
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(ent_server.base_url)
    return live_server


def test_login_page_button_posts_to_the_cas_login(cas_app):
    html = requests.get(f"{cas_app.url}/accounts/login/", timeout=10).text

    assert 'action="/compte/ent/cas/"' in html


def test_service_validation_returns_the_cas_3_attributes(ent_server):
    """The development CAS itself, as any CAS 3.0 client sees it (python-cas, the library under django-cas-ng)."""
    service = "http://127.0.0.1:9/compte/ent/cas/retour/"
    session = requests.Session()
    response = session.get(f"{ent_server.base_url}/cas/login", params={"service": service}, timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text).group(1)
    response = session.post(
        response.url,
        data={"csrfmiddlewaretoken": token, "login": "ines.garcia", "password": ENT_PASSWORD},
        headers={"Referer": response.url},
        allow_redirects=False,
        timeout=10,
    )
    response = session.get(urljoin(response.url, response.headers["Location"]), allow_redirects=False, timeout=10)
    location = response.headers["Location"]
    assert location.startswith(service)
    ticket = parse_qs(urlsplit(location).query)["ticket"][0]
    client = CASClient(version=3, service_url=service, server_url=f"{ent_server.base_url}/cas/")

    assert (
        CASClient(version=3, service_url=service + "x", server_url=client.server_url).verify_ticket(ticket)[0] is None
    )
    # the failed attempt above used the ticket up: tickets are single use, whoever presents them
    response = session.get(f"{ent_server.base_url}/cas/login", params={"service": service}, allow_redirects=False)
    ticket = parse_qs(urlsplit(response.headers["Location"]).query)["ticket"][0]
    user, attributes, _ = client.verify_ticket(ticket)

    assert user == "ines.garcia"
    assert attributes["supannEtuId"] == "21900003"
    assert attributes["mail"] == "ines.garcia@etudiant.univ-perp.fr"
    assert (attributes["givenName"], attributes["sn"]) == ("Inès", "GARCIA")
    assert client.verify_ticket(ticket)[0] is None  # single use


def test_new_student_lands_on_the_account_creation_form_prefilled_from_the_attributes(cas_app):
    _, urls, response = _ent_login(cas_app, "estelle.martin")

    assert any(RETURN.search(url) for url in urls)
    assert response.url == f"{cas_app.url}/accounts/3rdparty/signup/"
    assert 'value="estelle.martin@etudiant.univ-perp.fr"' in response.text
    assert 'value="MARTIN"' in response.text
    assert not SocialAccount.objects.exists()  # nothing is created before the student confirms


def test_known_student_is_logged_in_and_the_cas_single_logout_ends_the_session(cas_app, campaign):
    user = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
    SocialAccount.objects.create(user=user, provider="ent", uid="lucas.bernard")
    session, _, response = _ent_login(cas_app, "lucas.bernard")
    assert response.status_code == 200
    assert "/accounts/login/" not in response.url
    private = session.get(f"{cas_app.url}/candidat/informations-perso/", allow_redirects=False, timeout=10)
    assert private.status_code == 200

    # Logging out elsewhere (the ENT's own logout): the CAS server posts a logoutRequest to our callback.
    ent_logout = session.get(f"{_ent_url(cas_app)}/logout", allow_redirects=False, timeout=10)
    assert ent_logout.status_code == 302

    after = session.get(f"{cas_app.url}/candidat/informations-perso/", allow_redirects=False, timeout=10)
    assert after.status_code == 302
    assert "/accounts/login/" in after.headers["Location"]


def _ent_url(cas_app) -> str:
    return settings.ENT_SERVER_URL or ""


def test_logout_from_ecandidat_ends_the_cas_session_too(cas_app, campaign):
    user = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
    SocialAccount.objects.create(user=user, provider="ent", uid="lucas.bernard")
    session, _, response = _ent_login(cas_app, "lucas.bernard")
    token = _csrf(session, f"{cas_app.url}/accounts/logout/")

    response = session.post(
        f"{cas_app.url}/accounts/logout/",
        data={"csrfmiddlewaretoken": token},
        headers={"Referer": f"{cas_app.url}/accounts/logout/"},
        allow_redirects=False,
        timeout=10,
    )

    assert response.headers["Location"].startswith(f"{_ent_url(cas_app)}/logout?service=")
    session.get(response.headers["Location"], timeout=10)
    # the ENT session is over: the next CAS login asks for the password again
    again = session.get(f"{_ent_url(cas_app)}/login", params={"service": cas_app.url + "/"}, timeout=10)
    assert 'name="password"' in again.text


def test_a_forged_ticket_is_refused_with_a_message(cas_app):
    session = requests.Session()
    login_page = f"{cas_app.url}/accounts/login/"
    to_cas = session.post(
        f"{cas_app.url}/compte/ent/cas/",
        data={"csrfmiddlewaretoken": _csrf(session, login_page)},
        headers={"Referer": login_page},
        allow_redirects=False,
        timeout=10,
    )
    service = parse_qs(urlsplit(to_cas.headers["Location"]).query)["service"][0]  # this browser's login

    response = session.get(service, params={"ticket": "ST-forged"}, timeout=10)

    assert response.url == f"{cas_app.url}/accounts/login/"
    assert "L’ENT n’a pas pu confirmer votre connexion" in response.text
    assert "_auth_user_id" not in session.cookies.get_dict()


def test_staff_log_in_through_cas_refreshed_from_the_directory(cas_app, ldap):
    StaffFactory(username="sophie.gestion", email="old@univ-perp.fr")

    session, _, response = _ent_login(cas_app, "sophie.gestion")

    assert response.url == f"{cas_app.url}/gestion/"
    staff = User.objects.get(username="sophie.gestion")
    assert (staff.email, staff.last_name) == ("sophie.gestion@univ-perp.fr", "GESTION")
    assert SocialAccount.objects.get(provider="ent", uid="sophie.gestion").user == staff


def test_staff_the_directory_no_longer_lists_are_deactivated_at_login(cas_app, ldap, settings):
    settings.LDAP_STAFF_FILTER = "(eduPersonAffiliation=faculty)"  # Sophie is staff, not faculty: "gone"
    StaffFactory(username="sophie.gestion")

    session, _, response = _ent_login(cas_app, "sophie.gestion")

    assert response.url == f"{cas_app.url}/accounts/login/"
    assert "Ce compte de gestionnaire est désactivé" in response.text
    assert not User.objects.get(username="sophie.gestion").is_active
    assert not SocialAccount.objects.exists()


# --- ENT_CANDIDATE_LOGIN off (eCandidat CANDIDAT_IS_CONNECT_CAS): staff only ---


@pytest.mark.parametrize("known", [True, False], ids=["known-student", "new-student"])
def test_with_the_ent_closed_to_candidates_a_student_is_refused_with_a_message(cas_app, campaign, settings, known):
    settings.ENT_CANDIDATE_LOGIN = False
    if known:
        user = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
        SocialAccount.objects.create(user=user, provider="ent", uid="lucas.bernard")

    session, urls, response = _ent_login(cas_app, "lucas.bernard")

    assert any(RETURN.search(url) for url in urls)
    assert response.url == f"{cas_app.url}/accounts/login/"
    assert "Les candidats ne se connectent plus par l&#x27;ENT" in response.text
    assert 'action="/compte/ent/cas/"' not in response.text  # no ENT button for candidates
    private = session.get(f"{cas_app.url}/candidat/informations-perso/", allow_redirects=False, timeout=10)
    assert private.status_code == 302  # not logged in
    assert SocialAccount.objects.count() == (1 if known else 0)


def test_with_the_ent_closed_to_candidates_staff_still_log_in_through_cas(cas_app, settings):
    settings.ENT_CANDIDATE_LOGIN = False
    StaffFactory(username="sophie.gestion")
    html = requests.get(f"{cas_app.url}/accounts/login/?next=/gestion/", timeout=10).text

    _session, _urls, response = _ent_login(cas_app, "sophie.gestion")

    assert 'action="/compte/ent/cas/"' in html  # the back office's login keeps the ENT button
    assert response.url == f"{cas_app.url}/gestion/"


# --- the maintenance (the nightly window): staff log in through CAS, the others get the maintenance page ---


@pytest.fixture
def night(settings):
    with all_day_maintenance(settings):
        yield


def test_during_the_window_staff_log_in_through_cas_and_reach_the_back_office(cas_app, night):
    StaffFactory(username="sophie.gestion")
    assert requests.get(f"{cas_app.url}/", timeout=10).status_code == 503  # the candidates' pages are closed

    session, urls, response = _ent_login(cas_app, "sophie.gestion")

    assert any(RETURN.search(url) for url in urls)
    assert response.status_code == 200
    assert response.url == f"{cas_app.url}/gestion/"
    assert session.get(f"{cas_app.url}/gestion/", timeout=10).status_code == 200


def test_during_the_window_a_staff_member_just_added_from_the_directory_gets_in_without_confirming(
    cas_app, ldap, night
):
    directory.create_staff_from_directory(identifier="sophie.gestion", actor=None)

    session, urls, response = _ent_login(cas_app, "sophie.gestion")

    assert not any("/accounts/confirm-email/" in url for url in urls)  # the directory's address is verified
    assert response.status_code == 200
    assert response.url == f"{cas_app.url}/gestion/"
    assert not OutboundEmail.objects.exists()


@pytest.mark.parametrize("known", [True, False], ids=["known-student", "new-student"])
def test_during_the_window_a_student_gets_the_maintenance_page_from_cas_and_nothing_changes(
    cas_app, campaign, night, known
):
    before = {"id_token": {"sub": "lucas.bernard"}}
    if known:
        user = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
        SocialAccount.objects.create(user=user, provider="ent", uid="lucas.bernard", extra_data=before)

    session, urls, response = _ent_login(cas_app, "lucas.bernard")

    assert any(RETURN.search(url) for url in urls)
    assert response.status_code == 503
    assert response.headers["Cache-Control"] == "no-store"
    assert int(response.headers["Retry-After"]) >= 60
    assert "Maintenance" in response.text
    assert session.get(f"{cas_app.url}/accounts/3rdparty/signup/", timeout=10).status_code == 503
    assert list(SocialAccount.objects.values_list("extra_data", flat=True)) == ([before] if known else [])
    assert User.objects.count() == (1 if known else 0)
    assert not User.objects.filter(last_login__isnull=False).exists()
