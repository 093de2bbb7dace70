"""The ENT logins during the maintenance (the nightly window or the switch), CAS and OpenID Connect: staff whose only
way in is the university's SSO log in and reach the back office; anyone else (a candidate, a person the ENT names for
the first time) gets the maintenance page once the ENT has said who they are, logged in nowhere, nothing created or
changed. The ENT's answers are stubbed here; the real thing against the development ENT is in test_cas_protocol."""

import datetime
import zoneinfo

import pytest
import time_machine
from allauth.socialaccount.models import SocialAccount
from cas import CASClientV3
from django.urls import reverse
from django_cas_ng.models import SessionTicket

from accounts import cas
from accounts.models import User
from accounts.tests.ent import STUB_ENT, ent_providers, oidc_callback_state, oidc_login
from accounts.tests.factories import CandidateUserFactory, StaffFactory
from accounts.tests.helpers import all_day_maintenance
from ecandidat.maintenance import set_switch
from ecandidat.middleware import EXEMPT_PREFIXES
from offers.tests.factories import CampaignFactory

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NIGHT = datetime.datetime(2026, 11, 28, 23, 30, tzinfo=PARIS)
DAY = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=PARIS)
ADMIN = reverse("admin:index")
LOGIN = reverse("account_login")
FRENCH = {"language": "fr"}
MAINTENANCE_FR = "tous les jours de 22h45 à 06h"
CLAIMS_BEFORE = {"id_token": {"sub": "lucas.bernard", "email": "lucas.bernard@etudiant.univ-perp.fr"}}


@pytest.fixture
def window(settings):
    """The nightly window enforced, and the clock inside it (Retry-After: 6 h 30 min to 06:00)."""
    settings.MAINTENANCE_WINDOW_ENFORCED = True
    with time_machine.travel(NIGHT, tick=False):
        yield


@pytest.fixture
def campaign(db):
    """The active campaign, open on 28 November 2026 (DAY, NIGHT) as well as today: the conftest's opens 60 days
    before today, which is after DAY from 28 January 2027."""
    return CampaignFactory(is_active=True, starts_on=DAY.date() - datetime.timedelta(days=60))


@pytest.fixture
def student(campaign):
    user = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
    SocialAccount.objects.create(user=user, provider="ent", uid="lucas.bernard", extra_data=CLAIMS_BEFORE)
    return user


@pytest.fixture
def staff(db):
    return StaffFactory(username="sophie.gestion", email="sophie.gestion@univ-perp.fr")


def _assert_maintenance_page(response):
    assert response.status_code == 503
    assert response["Retry-After"] == str(int(6.5 * 3600))
    assert response["Cache-Control"] == "no-store"
    assert MAINTENANCE_FR in response.content.decode()


def _assert_student_untouched(client, student):
    assert "_auth_user_id" not in client.session
    assert "socialaccount_sociallogin" not in client.session  # no « Création de compte » pending
    identity = SocialAccount.objects.get(uid="lucas.bernard")
    assert (identity.user_id, identity.extra_data) == (student.pk, CLAIMS_BEFORE)  # the lookup's write undone
    student_before = student.last_login, student.email, student.campaign_id
    student.refresh_from_db()
    assert (student.last_login, student.email, student.campaign_id) == student_before
    assert User.objects.filter(campaign__isnull=False).count() == 1


def test_the_ent_logins_pass_the_middleware_and_nothing_else_of_theirs():
    for url in (
        reverse("accounts:cas_login"),
        reverse("accounts:cas_callback"),
        reverse("openid_connect_login", args=["ent"]),
        reverse("ent_oidc_callback", args=["ent"]),
    ):
        assert url.startswith(EXEMPT_PREFIXES), url
    for url in (reverse("socialaccount_signup"), reverse("accounts:password_set"), reverse("home")):
        assert not url.startswith(EXEMPT_PREFIXES), url


# --- CAS: the callback's GET, the ticket validated by a stubbed CAS server ---


@pytest.fixture
def cas_ent(settings):
    settings.ENT_PROTOCOL = "cas"
    settings.ENT_SERVER_URL = settings.CAS_SERVER_URL = "https://cas.univ-perp.fr/cas/"
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers("https://cas.univ-perp.fr")


def _cas_ticket(client, mocker, username: str, *, next_url: str = "") -> dict[str, str]:
    """The ENT button pressed in this browser (``accounts.cas.login``: its value in the session) and a ticket the CAS
    server says is ``username``'s: the query of the CAS server's redirect back."""
    attributes = {"mail": f"{username}@etudiant.univ-perp.fr", "givenName": "Lucas", "sn": "BERNARD"}
    mocker.patch.object(CASClientV3, "verify_ticket", return_value=(username, attributes, None))
    session = client.session
    session[cas.SESSION_STATE] = "this-browsers-login"
    if next_url:
        session[cas.SESSION_NEXT] = next_url
    session.save()
    return {"s": "this-browsers-login", "ticket": "ST-night"}


def _cas_return(client, back: dict[str, str]):
    """The CAS server's redirect back (``_cas_ticket``)."""
    return client.get(reverse("accounts:cas_callback"), back, **FRENCH)


def test_cas_staff_log_in_during_the_window_and_reach_the_back_office(
    client, cas_ent, staff, window, mocker, django_assert_num_queries
):
    back = _cas_ticket(client, mocker, "sophie.gestion")

    # The request's savepoint; the staff account; the ENT identity linked (get_or_create: 4); site, ENT app; allauth's
    # lookup (identity, user, save); allauth's checks (user, verified address, MFA); the login (new session: 4,
    # last_login, session saved: 3, CAS session ticket); release; the session saved (3). The session of the browser
    # that pressed the ENT button read (1), its old row read and deleted at the login (2).
    with django_assert_num_queries(32):  # the login written to the history (2)
        response = _cas_return(client, back)

    assert response.status_code == 302
    assert response.url == ADMIN
    assert client.session["_auth_user_id"] == str(staff.pk)
    assert SessionTicket.objects.get().session_key == client.session.session_key
    assert client.get(ADMIN).status_code == 200


def test_cas_a_known_student_gets_the_maintenance_page_and_is_not_logged_in(
    client, cas_ent, student, window, mocker, django_assert_num_queries
):
    back = _cas_ticket(client, mocker, "lucas.bernard")

    # The request's savepoint; a staff account?; site, ENT app; allauth's lookup (identity, user, save); rolled back,
    # released; the browser's session read. Nothing else: the session is not saved with a 5xx answer.
    with django_assert_num_queries(10):
        response = _cas_return(client, back)

    _assert_maintenance_page(response)
    _assert_student_untouched(client, student)
    assert cas.SESSION_TICKET not in client.session
    assert not SessionTicket.objects.exists()


def test_cas_a_new_person_gets_the_maintenance_page_and_nothing_is_created(
    client, cas_ent, campaign, window, mocker, django_assert_num_queries
):
    back = _cas_ticket(client, mocker, "estelle.martin")

    with django_assert_num_queries(8):  # as above, the lookup finding no identity (1 instead of 3)
        response = _cas_return(client, back)

    _assert_maintenance_page(response)
    assert "socialaccount_sociallogin" not in client.session
    assert not User.objects.exists()
    assert not SocialAccount.objects.exists()


def test_cas_the_switch_refuses_a_student_with_its_message(client, cas_ent, student, admin_user, mocker):
    set_switch(is_on=True, message="Migration en cours, retour à 14h.", actor=admin_user)

    response = _cas_return(client, _cas_ticket(client, mocker, "lucas.bernard"))

    assert response.status_code == 503
    assert "Migration en cours, retour à 14h." in response.content.decode()
    _assert_student_untouched(client, student)
    set_switch(is_on=False, actor=admin_user)


def test_cas_outside_the_window_a_student_logs_in_as_before(client, cas_ent, student, settings, mocker):
    settings.MAINTENANCE_WINDOW_ENFORCED = True

    with time_machine.travel(DAY, tick=False):
        response = _cas_return(client, _cas_ticket(client, mocker, "lucas.bernard"))
        session = dict(client.session.items())  # read at that time: the session has expired since

    assert response.status_code == 302
    assert session["_auth_user_id"] == str(student.pk)


# --- OpenID Connect: allauth's login and callback views, the ENT's answers stubbed ---


@pytest.fixture
def oidc_ent(settings):
    settings.ENT_PROTOCOL = "oidc"
    settings.ENT_SERVER_URL = STUB_ENT
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(STUB_ENT, pkce=True)


def _oidc_start(client, mocker, uid: str, *, next_url: str = ""):
    """Press the ENT button (allauth's login view, posted); the ENT will answer with an ID token naming ``uid``.
    Returns the query string of the callback the ENT sends the browser back to."""
    claims = {"sub": uid, "email": f"{uid}@etudiant.univ-perp.fr"}
    return {"code": "c", "state": oidc_callback_state(client, mocker, claims, next_url=next_url)}


CALLBACK = reverse("ent_oidc_callback", args=["ent"])


def test_oidc_staff_log_in_during_the_window_and_reach_the_back_office(
    client, oidc_ent, staff, window, mocker, django_assert_num_queries
):
    SocialAccount.objects.create(user=staff, provider="ent", uid="sophie.gestion")
    back = _oidc_start(client, mocker, "sophie.gestion", next_url=ADMIN)

    # The session read; the request's savepoint; ENT app (3); the state consumed (savepoint, session saved, release);
    # the session read again; allauth's lookup (identity, user, save); allauth's checks (3); the login (new session:
    # 4, the previous one deleted: 2, last_login, the ENT session row for the back-channel logout: 2); release; the
    # session saved (3).
    with django_assert_num_queries(30):  # the login written to the history (2)
        response = client.get(CALLBACK, back, **FRENCH)

    assert response.status_code == 302
    assert response.url == ADMIN
    assert client.session["_auth_user_id"] == str(staff.pk)
    assert client.get(ADMIN).status_code == 200


def test_oidc_a_known_student_gets_the_maintenance_page_and_is_not_logged_in(
    client, oidc_ent, student, window, mocker, django_assert_num_queries
):
    back = _oidc_start(client, mocker, "lucas.bernard")

    # The session read; the request's savepoint; ENT app (3); the state consumed (3); the session read again; allauth's
    # lookup (identity, user, save); rolled back, released.
    with django_assert_num_queries(14):
        response = client.get(CALLBACK, back, **FRENCH)

    _assert_maintenance_page(response)
    _assert_student_untouched(client, student)


def test_oidc_a_new_person_gets_the_maintenance_page_and_nothing_is_created(
    client, oidc_ent, campaign, window, mocker, django_assert_num_queries
):
    back = _oidc_start(client, mocker, "estelle.martin")

    with django_assert_num_queries(12):  # as above, the lookup finding no identity (1 instead of 3)
        response = client.get(CALLBACK, back, **FRENCH)

    _assert_maintenance_page(response)
    assert "socialaccount_sociallogin" not in client.session
    assert not User.objects.exists()
    assert not SocialAccount.objects.exists()


def test_oidc_outside_the_window_a_student_logs_in_as_before(client, oidc_ent, student, settings, mocker):
    settings.MAINTENANCE_WINDOW_ENFORCED = True

    with time_machine.travel(DAY, tick=False):
        response = client.get(CALLBACK, _oidc_start(client, mocker, "lucas.bernard"))
        session = dict(client.session.items())  # read at that time: the session has expired since

    assert response.status_code == 302
    assert session["_auth_user_id"] == str(student.pk)
    assert SocialAccount.objects.get(uid="lucas.bernard").extra_data != CLAIMS_BEFORE  # the claims refreshed, as ever


# --- OpenID Connect over real sockets: the live server against the development ENT process ---


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_oidc_during_the_window_staff_get_in_and_a_student_gets_the_maintenance_page(oidc_app, campaign, settings):
    student = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
    SocialAccount.objects.create(user=student, provider="ent", uid="lucas.bernard", extra_data=CLAIMS_BEFORE)
    staff = StaffFactory(username="sophie.gestion")
    SocialAccount.objects.create(user=staff, provider="ent", uid="sophie.gestion")

    with all_day_maintenance(settings):
        refused = oidc_login(oidc_app, "lucas.bernard")
        new_person = oidc_login(oidc_app, "estelle.martin")
        staff_in = oidc_login(oidc_app, "sophie.gestion", next_url=ADMIN)

    assert refused.status_code == 503
    assert refused.url.startswith(f"{oidc_app}{CALLBACK}?")
    assert refused.headers["Cache-Control"] == "no-store"
    assert SocialAccount.objects.get(uid="lucas.bernard").extra_data == CLAIMS_BEFORE
    student.refresh_from_db()
    assert student.last_login is None
    assert new_person.status_code == 503
    assert not User.objects.filter(email__startswith="estelle.martin").exists()
    assert SocialAccount.objects.count() == 2
    assert staff_in.status_code == 200
    assert staff_in.url == f"{oidc_app}{ADMIN}"
