"""An ENT login that is not a staff account's username, but that the directory lists as staff (fix of December 7th).

Before, such a login went down the candidates' path: a staff member who logged in through the ENT before their staff
account existed got « Création de compte » pre-filled with their work address, and the ENT identity they then
attached to a candidate account opened that account at every later login, the staff account added afterwards never
getting it (``link_ent_identity`` never moves an identity). A login typed as an alias of the entry (``jean.dupont``
for the staff account ``jdupont``) landed on the same sign-up. Now (``directory.staff_for_directory_login``): an
alias logs the staff account in, with the username's rules (refreshed, refused when deactivated); a directory staff
member without a staff account who started the login from the back office (``next`` under ``/gestion/``) is refused
with a message, nothing created; from the candidates' side the same person applies as anyone does (an employee
applying to a DU, a doctoral student who teaches). Students, a directory that does not answer, and an identity already
linked keep today's path.

The directory is the slapd peer with devtools/ldap's fixture (``jdupont`` has the alias ``jean.dupont``, both
faculty; ``estelle.martin`` is a student). CAS answers are stubbed (``cas_ent``), except in the integration test at
the end, which goes through the development ENT's CAS form over real sockets."""

import logging

import pytest
from allauth.socialaccount.models import SocialAccount
from django.urls import reverse

from accounts import directory
from accounts.models import User
from accounts.tests.ent import cas_return, ent_providers, oidc_callback_state
from accounts.tests.ent_logout import cas_login
from accounts.tests.factories import CandidateUserFactory, StaffFactory
from ecandidat.tests.plugins.services import free_port

pytestmark = [pytest.mark.integration]

CALLBACK = reverse("accounts:cas_callback")
OIDC_CALLBACK = "/accounts/oidc/ent/login/callback/"
ADMIN = reverse("admin:index")
LOGIN = reverse("account_login")
SIGNUP = reverse("socialaccount_signup")
FRENCH = {"language": "fr"}
MISSING_FR = "Votre compte de gestionnaire n’existe pas encore : demandez-le à l’administration centrale."
DEACTIVATED_FR = "Ce compte de gestionnaire est désactivé"
AMBIGUOUS_FR = "Plusieurs comptes de gestionnaire correspondent à cet identifiant ENT."


@pytest.fixture(autouse=True)
def second_factor_required(settings):
    settings.STAFF_MFA_REQUIRED = True  # the ENT login counts as the second factor


@pytest.fixture
def jdupont(db):
    """The staff account of the directory entry ``jdupont`` (alias ``jean.dupont``), made from the directory."""
    user = StaffFactory(
        username="jdupont", email="old@univ-perp.fr", first_name="J", last_name="D", from_directory=True
    )
    user.set_unusable_password()
    user.save()
    return user


def _cas(cas_ent, login: str) -> None:
    cas_ent.return_value = (
        login,
        {"mail": ["jean.dupont@univ-perp.fr"], "givenName": ["Jean"], "sn": ["DUPONT"]},
        None,
    )


# --- an alias of a staff account ---


def test_a_cas_login_by_an_alias_logs_the_staff_account_in(
    client, cas_ent, ldap, jdupont, campaign, django_assert_num_queries
):
    _cas(cas_ent, "jean.dupont")
    ticket = cas_return(client, "ST-1")

    # The session read; the request's savepoint; no staff account named jean.dupont; no identity jean.dupont yet; the
    # entry's uids' staff accounts; the refresh (lock, names and address saved, the address made verified and primary:
    # 10, the directory change row, savepoints); allauth's lookup of the identity jdupont (none); the identity linked
    # (read, insert in a savepoint: 4); allauth's checks and the login (new session, last_login, the ENT session row,
    # the history); release; the session saved.
    with django_assert_num_queries(45):
        response = client.get(CALLBACK, ticket, **FRENCH)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(jdupont.pk)
    identity = SocialAccount.objects.get()
    assert (identity.provider, identity.uid, identity.user_id) == ("ent", "jdupont", jdupont.pk)
    jdupont.refresh_from_db()
    assert (jdupont.email, jdupont.first_name, jdupont.last_name) == ("jean.dupont@univ-perp.fr", "Jean", "DUPONT")
    assert User.objects.count() == 1  # no candidate account
    assert client.get(ADMIN).status_code == 200  # the ENT login is the second factor


@pytest.mark.parametrize("login", ["Jean.Dupont", " jean.dupont "])
def test_an_alias_is_the_staff_account_whatever_its_case(client, cas_ent, ldap, jdupont, campaign, login):
    _cas(cas_ent, login)

    response = client.get(CALLBACK, cas_return(client, "ST-1"))

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(jdupont.pk)
    assert SocialAccount.objects.get().uid == "jdupont"


def test_the_next_login_by_the_alias_opens_the_staff_account_again(client, cas_ent, ldap, jdupont, campaign):
    SocialAccount.objects.create(user=jdupont, provider="ent", uid="jdupont")
    _cas(cas_ent, "jean.dupont")

    client.get(CALLBACK, cas_return(client, "ST-1"))

    assert client.session["_auth_user_id"] == str(jdupont.pk)
    assert SocialAccount.objects.get().user_id == jdupont.pk


def test_an_alias_of_a_deactivated_staff_account_is_refused_with_the_deactivated_message(
    client, cas_ent, ldap, jdupont, campaign, django_assert_num_queries
):
    User.objects.filter(pk=jdupont.pk).update(is_active=False)
    _cas(cas_ent, "jean.dupont")
    ticket = cas_return(client, "ST-1")

    # The session read; the savepoint; no staff account jean.dupont; no identity; the entry's accounts; release; the
    # session saved with the message (3).
    with django_assert_num_queries(9):
        response = client.get(CALLBACK, ticket, **FRENCH)

    assert response.url == LOGIN
    assert "_auth_user_id" not in client.session
    assert DEACTIVATED_FR in client.get(LOGIN, **FRENCH).content.decode()
    assert not SocialAccount.objects.exists()
    assert User.objects.count() == 1


def test_two_staff_accounts_named_by_one_entry_are_neither_taken(client, cas_ent, ldap, jdupont, campaign, caplog):
    """« Ajouter depuis l'annuaire » refuses the second; only accounts typed by hand get there (``JDupont`` beside
    ``jdupont``): the alias names both, neither is taken, and the person is told to ask."""
    StaffFactory(username="JDupont")
    _cas(cas_ent, "jean.dupont")

    response = client.get(CALLBACK, cas_return(client, "ST-1"), **FRENCH)

    assert response.url == LOGIN
    assert "_auth_user_id" not in client.session
    assert AMBIGUOUS_FR in client.get(LOGIN, **FRENCH).content.decode()
    assert not SocialAccount.objects.exists()
    assert "name 2 staff accounts; none taken" in caplog.text


# --- a staff member of the directory without a staff account ---


@pytest.mark.parametrize("login", ["jdupont", "jean.dupont", "Rene.Levy", "rené.lévy"])
def test_directory_staff_without_a_staff_account_are_refused_not_offered_the_signup(
    client, cas_ent, ldap, campaign, login, caplog
):
    _cas(cas_ent, login)

    with caplog.at_level(logging.INFO, logger="accounts.directory"):
        response = client.get(CALLBACK, cas_return(client, "ST-1", next_url=ADMIN), **FRENCH)

    assert response.url == LOGIN  # not the sign-up form
    assert "_auth_user_id" not in client.session
    assert MISSING_FR in client.get(LOGIN, **FRENCH).content.decode()
    assert not User.objects.exists()
    assert not SocialAccount.objects.exists()
    assert "no staff account exists; refused" in caplog.text
    # The sign-up form was not prepared either: opened by hand, it has no ENT login to complete.
    assert client.get(SIGNUP).status_code == 302


def test_from_the_candidates_side_directory_staff_without_a_staff_account_apply_as_anyone(
    client, cas_ent, ldap, campaign, caplog
):
    """An employee applying to a DU, a doctoral student who teaches: the ENT button of the candidates' login page."""
    _cas(cas_ent, "jdupont")

    with caplog.at_level(logging.INFO, logger="accounts.directory"):
        response = client.get(CALLBACK, cas_return(client, "ST-1", next_url="/candidat/candidatures/"), **FRENCH)

    assert response.url == SIGNUP
    assert "no staff account; a candidate's login" in caplog.text
    assert not SocialAccount.objects.exists()  # the sign-up creates it, as for any student


def test_over_openid_connect_from_the_candidates_side_directory_staff_apply_as_anyone(
    client, oidc_ent, ldap, campaign, mocker
):
    state = oidc_callback_state(client, mocker, _claims("f3a9-77", "jdupont"))

    assert client.get(OIDC_CALLBACK, {"code": "c", "state": state}).url == SIGNUP


def test_the_refusal_costs_no_more_than_a_message(client, cas_ent, ldap, campaign, django_assert_num_queries):
    _cas(cas_ent, "jdupont")
    ticket = cas_return(client, "ST-1", next_url=ADMIN)

    # The session read; the savepoint; no staff account jdupont; no identity jdupont; the entry's accounts: none;
    # release; the session saved with the message (3).
    with django_assert_num_queries(9):
        response = client.get(CALLBACK, ticket, **FRENCH)

    assert response.url == LOGIN


def test_once_the_central_office_adds_them_the_same_login_opens_the_staff_account(client, cas_ent, ldap, campaign):
    _cas(cas_ent, "jdupont")
    client.get(CALLBACK, cas_return(client, "ST-1", next_url=ADMIN))
    staff = directory.create_staff_from_directory(identifier="jdupont", actor=None)

    client.get(CALLBACK, cas_return(client, "ST-2"))

    assert client.session["_auth_user_id"] == str(staff.pk)
    assert SocialAccount.objects.get().user_id == staff.pk


def test_with_the_ent_closed_to_candidates_the_message_is_still_the_staff_ones(
    client, cas_ent, ldap, campaign, settings
):
    settings.ENT_CANDIDATE_LOGIN = False
    _cas(cas_ent, "jdupont")

    response = client.get(CALLBACK, cas_return(client, "ST-1", next_url=ADMIN), **FRENCH)

    assert response.url == LOGIN
    assert MISSING_FR in client.get(LOGIN, **FRENCH).content.decode()


# --- unchanged: students, a known identity, a directory that does not answer, no directory ---


@pytest.mark.parametrize("login", ["estelle.martin", "paul.parti", "lucas.bernard"])
def test_students_former_staff_and_unknowns_keep_the_candidates_path(client, cas_ent, ldap, campaign, login):
    """estelle.martin: a student of the directory; paul.parti: no longer staff; lucas.bernard: unknown to it."""
    _cas(cas_ent, login)

    response = client.get(CALLBACK, cas_return(client, "ST-1"))

    assert response.url == SIGNUP
    assert not User.objects.exists()


def test_a_known_identity_logs_its_owner_in_without_asking_the_directory(
    client, cas_ent, ldap, campaign, mocker, django_assert_num_queries
):
    """A candidate account linked to the identity before (the finding's state, or a staff member who once applied):
    it logs in as ever, and a returning student's login asks the directory nothing."""
    candidate = CandidateUserFactory(campaign=campaign, email="jean.dupont@univ-perp.fr")
    SocialAccount.objects.create(user=candidate, provider="ent", uid="jdupont")
    _cas(cas_ent, "jdupont")
    find = mocker.spy(directory, "find_person")

    client.get(CALLBACK, cas_return(client, "ST-1"))

    assert client.session["_auth_user_id"] == str(candidate.pk)
    assert not find.called


def test_a_directory_that_does_not_answer_keeps_todays_path(client, cas_ent, ldap, campaign, settings, caplog):
    """No staff account, and the directory cannot say whether the login is staff's: the login goes on (the
    candidates' sign-up, as before), and the log says why."""
    settings.LDAP_URL = f"ldap://127.0.0.1:{free_port()}"  # nobody listens
    _cas(cas_ent, "jdupont")

    response = client.get(CALLBACK, cas_return(client, "ST-1"))

    assert response.url == SIGNUP
    assert "directory unavailable, ENT login jdupont not looked up as staff" in caplog.text


def test_without_a_directory_nothing_is_looked_up(client, cas_ent, campaign, settings, mocker):
    settings.LDAP_URL = ""
    _cas(cas_ent, "jdupont")
    find = mocker.spy(directory, "find_person")

    assert client.get(CALLBACK, cas_return(client, "ST-1")).url == SIGNUP
    assert not find.called


# --- OpenID Connect: the same rule (``link_ent_identity``), named by ENT_STAFF_UID_CLAIM ---


def _claims(sub: str, uid: str) -> dict:
    return {"sub": sub, "email": "jean.dupont@univ-perp.fr", "email_verified": True, "preferred_username": uid}


def test_over_openid_connect_an_alias_logs_the_staff_account_in(client, oidc_ent, ldap, jdupont, campaign, mocker):
    state = oidc_callback_state(client, mocker, _claims("f3a9-77", "jean.dupont"))

    response = client.get(OIDC_CALLBACK, {"code": "c", "state": state})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(jdupont.pk)
    assert SocialAccount.objects.get().uid == "f3a9-77"


def test_over_openid_connect_directory_staff_without_an_account_are_refused(client, oidc_ent, ldap, campaign, mocker):
    state = oidc_callback_state(client, mocker, _claims("f3a9-77", "jdupont"), next_url=ADMIN)

    response = client.get(OIDC_CALLBACK, {"code": "c", "state": state}, **FRENCH)

    assert response.url == LOGIN
    assert MISSING_FR in client.get(LOGIN, **FRENCH).content.decode()
    assert not User.objects.exists()
    assert not SocialAccount.objects.exists()


def test_over_openid_connect_a_student_keeps_the_signup(client, oidc_ent, ldap, campaign, mocker):
    state = oidc_callback_state(client, mocker, _claims("e-1", "estelle.martin"))

    assert client.get(OIDC_CALLBACK, {"code": "c", "state": state}).url == SIGNUP


# --- over real sockets: the development ENT's CAS, the slapd peer ---


@pytest.fixture
def cas_app(live_server, ent_server, settings, campaign):
    settings.ENT_PROTOCOL = "cas"
    settings.ENT_SERVER_URL = f"{ent_server.base_url}/cas"
    settings.CAS_SERVER_URL = f"{ent_server.base_url}/cas/"
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(ent_server.base_url)
    return live_server


@pytest.mark.django_db(transaction=True)
def test_through_the_development_ent_a_staff_member_without_an_account_gets_the_message_not_the_signup(cas_app, ldap):
    _session, urls, response = cas_login(cas_app, "sophie.gestion", next_url=ADMIN)

    assert not any("/accounts/3rdparty/signup/" in url for url in urls)
    assert response.url == f"{cas_app.url}/accounts/login/"
    assert MISSING_FR in response.text
    assert not User.objects.exists()
    assert not SocialAccount.objects.exists()
    # The central office adds her: the next ENT login opens the staff account, with its ENT identity.
    staff = directory.create_staff_from_directory(identifier="sophie.gestion", actor=None)
    _session, _urls, response = cas_login(cas_app, "sophie.gestion")  # another browser: the form again
    assert response.url == f"{cas_app.url}{ADMIN}"
    assert SocialAccount.objects.get().user_id == staff.pk
