"""A staff member from the directory logs in through the ENT over OpenID Connect (the default protocol) the first time
(and at every later login the same rule refreshes the account, see test_ent_staff_refresh.py):
the ID token's ``ENT_STAFF_UID_CLAIM`` (the directory uid, ``preferred_username`` by default) names the staff account,
which gets the ENT identity and is logged in to the back office, as the CAS callback does (one rule,
``directory.link_ent_identity``). A deactivated account is refused with the CAS message; an account that is not staff
and an identity already linked to someone else are never linked (a superuser is, as CAS always did, unless the
directory knows the uid as someone who is not staff: a student's ENT identity never opens a superuser's session);
anyone else follows the candidates' path, unchanged. The ENT's answers are stubbed here (``ent.oidc_callback_state``);
the development ENT's real answers are in the integration test at the end."""

import datetime

import pytest
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from accounts import directory
from accounts.models import User
from accounts.tests.ent import cas_return, oidc_callback_state, oidc_login
from accounts.tests.factories import CandidateUserFactory, StaffFactory

CALLBACK = "/accounts/oidc/ent/login/callback/"
ADMIN = reverse("admin:index")
LOGIN = reverse("account_login")
SIGNUP = reverse("socialaccount_signup")
FRENCH = {"language": "fr"}
DEACTIVATED_FR = "Ce compte de gestionnaire est désactivé"


def _claims(sub: str, **extra) -> dict:
    """The ENT's verified ID token: an opaque ``sub`` (not the uid), the directory uid as ``preferred_username``."""
    return {"sub": sub, "email": "sophie.gestion@univ-perp.fr", "email_verified": True, **extra}


@pytest.fixture
def staff(db):
    user = StaffFactory(username="sophie.gestion", email="sophie.gestion@univ-perp.fr", from_directory=True)
    user.set_unusable_password()
    user.save()
    return user


@pytest.fixture(autouse=True)
def second_factor_required(settings):
    settings.STAFF_MFA_REQUIRED = True  # the ENT login must count as the second factor, as with CAS


def _history(user: User) -> list[str]:
    return list(LogEntry.objects.filter(object_id=str(user.pk)).values_list("change_message", flat=True))


def test_a_directory_staff_members_first_oidc_login_links_the_identity_and_reaches_the_back_office(
    client, oidc_ent, staff, mocker, django_assert_num_queries
):
    state = oidc_callback_state(client, mocker, _claims("f3a9-77", preferred_username="sophie.gestion"))

    # The session read; the request's savepoint; the ENT app (3); the state consumed (3); the session read again;
    # allauth's lookup (no identity); the staff account; the identity linked (read, insert in its savepoint: 4); the
    # account exists?; allauth's checks (address verified?, authenticator?); the login (new session: 4, the previous
    # one deleted, last_login, the ENT session row: 2); the history (2); release; the session saved (3).
    with django_assert_num_queries(33):
        response = client.get(CALLBACK, {"code": "c", "state": state}, **FRENCH)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)
    identity = SocialAccount.objects.get()
    assert (identity.provider, identity.uid, identity.user_id) == ("ent", "f3a9-77", staff.pk)
    assert _history(staff) == ["Connexion par l'ENT (OpenID Connect)"]
    assert client.get(response.url).url == ADMIN  # the landing page sends staff to the back office
    assert client.get(ADMIN).status_code == 200  # the ENT login is the second factor


def test_the_next_oidc_login_finds_the_identity_and_applies_the_same_rule(client, oidc_ent, staff, mocker):
    """Every staff login goes through the rule, not only the first: the account is refreshed from the directory (no
    directory configured here: as it is; with one, accounts/tests/test_ent_staff_refresh.py), not linked again."""
    SocialAccount.objects.create(user=staff, provider="ent", uid="f3a9-77")
    state = oidc_callback_state(client, mocker, _claims("f3a9-77", preferred_username="sophie.gestion"))
    link = mocker.spy(directory, "link_ent_identity")

    response = client.get(CALLBACK, {"code": "c", "state": state})

    assert client.session["_auth_user_id"] == str(staff.pk)
    assert response.status_code == 302
    assert link.call_args.kwargs == {
        "provider": "ent",
        "uid": "f3a9-77",
        "login": "sophie.gestion",
        "extra_data": SocialAccount.objects.get().extra_data,
        "staff_sign_in": False,  # the ENT button of a login page that goes nowhere in the back office
    }
    assert SocialAccount.objects.count() == 1


def test_the_next_oidc_login_of_a_deactivated_staff_member_is_refused(client, oidc_ent, staff, mocker):
    SocialAccount.objects.create(user=staff, provider="ent", uid="f3a9-77")
    User.objects.filter(pk=staff.pk).update(is_active=False)
    state = oidc_callback_state(client, mocker, _claims("f3a9-77", preferred_username="sophie.gestion"))

    response = client.get(CALLBACK, {"code": "c", "state": state}, **FRENCH)

    assert response.url == LOGIN
    assert "_auth_user_id" not in client.session
    assert DEACTIVATED_FR in client.get(LOGIN, **FRENCH).content.decode()


def test_the_claim_is_a_setting(client, oidc_ent, staff, mocker, settings):
    settings.ENT_STAFF_UID_CLAIM = "uid"
    state = oidc_callback_state(client, mocker, _claims("f3a9-77", preferred_username="s.g", uid="sophie.gestion"))

    client.get(CALLBACK, {"code": "c", "state": state})

    assert client.session["_auth_user_id"] == str(staff.pk)


def test_a_deactivated_staff_member_is_refused_with_the_cas_message(
    client, oidc_ent, staff, mocker, django_assert_num_queries
):
    User.objects.filter(pk=staff.pk).update(is_active=False)
    state = oidc_callback_state(client, mocker, _claims("f3a9-77", preferred_username="sophie.gestion"))

    # The session read; the savepoint; the ENT app (3); the state consumed (3); the session read again; allauth's
    # lookup; the staff account; release; the session saved with the message (3).
    with django_assert_num_queries(15):
        response = client.get(CALLBACK, {"code": "c", "state": state}, **FRENCH)

    assert response.url == LOGIN
    assert DEACTIVATED_FR in client.get(LOGIN, **FRENCH).content.decode()
    assert "_auth_user_id" not in client.session
    assert not SocialAccount.objects.exists()
    assert not LogEntry.objects.exists()


def test_a_superuser_is_linked_as_any_staff_member(client, db, oidc_ent, mocker, django_assert_num_queries):
    admin = StaffFactory(username="sophie.gestion", is_superuser=True)
    state = oidc_callback_state(client, mocker, _claims("f3a9-77", preferred_username="sophie.gestion"))

    with django_assert_num_queries(33):  # as any staff member's first login above
        response = client.get(CALLBACK, {"code": "c", "state": state})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(admin.pk)
    assert SocialAccount.objects.get().user == admin


def test_an_account_that_is_not_staff_is_never_linked(client, oidc_ent, campaign, mocker):
    CandidateUserFactory(campaign=None, username="sophie.gestion", is_staff=False)
    state = oidc_callback_state(client, mocker, _claims("f3a9-77", preferred_username="sophie.gestion"))

    response = client.get(CALLBACK, {"code": "c", "state": state})

    assert response.url == SIGNUP
    assert not SocialAccount.objects.exists()


def test_a_student_follows_the_candidates_path_unchanged(
    client, oidc_ent, campaign, staff, mocker, django_assert_num_queries
):
    state = oidc_callback_state(
        client, mocker, {"sub": "estelle.martin", "email": "e@etudiant.univ-perp.fr", "preferred_username": "e.m"}
    )

    with django_assert_num_queries(16):  # as a superuser's above: no staff account of that uid, the signup form
        response = client.get(CALLBACK, {"code": "c", "state": state})

    assert response.url == SIGNUP
    assert not SocialAccount.objects.exists()


def test_an_identity_already_linked_to_someone_else_is_never_moved(client, oidc_ent, staff, campaign, mocker):
    student = CandidateUserFactory(campaign=campaign, email="lucas.bernard@etudiant.univ-perp.fr")
    SocialAccount.objects.create(user=student, provider="ent", uid="f3a9-77")
    state = oidc_callback_state(client, mocker, _claims("f3a9-77", preferred_username="sophie.gestion"))

    client.get(CALLBACK, {"code": "c", "state": state})

    assert client.session["_auth_user_id"] == str(student.pk)  # its owner logs in, as ever
    assert SocialAccount.objects.get().user_id == student.pk
    # The rule itself, asked directly (as the CAS callback does): the identity stays its owner's.
    assert directory.link_ent_identity(provider="ent", uid="f3a9-77", login="sophie.gestion") is None
    assert SocialAccount.objects.get().user_id == student.pk


def test_only_the_verified_id_token_counts_not_userinfo(client, oidc_ent, staff, campaign, mocker):
    state = oidc_callback_state(client, mocker, _claims("f3a9-77", preferred_username="sophie.gestion"))
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "_decode_id_token", return_value=_claims("f3a9-77"))

    response = client.get(CALLBACK, {"code": "c", "state": state})

    assert response.url == SIGNUP  # userinfo alone names sophie.gestion: not enough
    assert not SocialAccount.objects.exists()


def test_no_claim_setting_no_linking(client, oidc_ent, staff, campaign, mocker, settings):
    settings.ENT_STAFF_UID_CLAIM = ""
    state = oidc_callback_state(client, mocker, _claims("f3a9-77", preferred_username="sophie.gestion"))

    assert client.get(CALLBACK, {"code": "c", "state": state}).url == SIGNUP
    assert not SocialAccount.objects.exists()


def test_staff_pass_the_maintenance_window_at_their_first_login(client, oidc_ent, staff, mocker, settings):
    settings.MAINTENANCE_WINDOW_ENFORCED = True
    settings.MAINTENANCE_START, settings.MAINTENANCE_END = datetime.time(0, 0), datetime.time(23, 59, 59)
    state = oidc_callback_state(client, mocker, _claims("f3a9-77", preferred_username="sophie.gestion"))

    response = client.get(CALLBACK, {"code": "c", "state": state})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)
    assert client.get(ADMIN).status_code == 200


def test_staff_log_in_with_the_ent_closed_to_candidates(client, oidc_ent, staff, mocker, settings):
    settings.ENT_CANDIDATE_LOGIN = False
    state = oidc_callback_state(client, mocker, _claims("f3a9-77", preferred_username="sophie.gestion"))

    response = client.get(CALLBACK, {"code": "c", "state": state})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)


# --- CAS: the same rule, from its callback ---


def test_cas_links_a_superuser_as_it_always_did(client, db, cas_ent):
    admin = StaffFactory(username="sophie.gestion", is_superuser=True)
    cas_ent.return_value = ("sophie.gestion", {"mail": ["sophie.gestion@univ-perp.fr"]}, None)

    response = client.get(reverse("accounts:cas_callback"), cas_return(client, "ST-1"))

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(admin.pk)
    assert SocialAccount.objects.get().user == admin


@pytest.mark.parametrize("login", ["sophie.gestion", "zrev.admin"], ids=["directory-staff", "not-in-directory"])
def test_with_a_directory_cas_links_a_superuser_it_lists_as_staff_or_does_not_know(client, db, cas_ent, ldap, login):
    admin = StaffFactory(username=login, is_superuser=True)
    cas_ent.return_value = (login, {}, None)

    response = client.get(reverse("accounts:cas_callback"), cas_return(client, "ST-1"))

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(admin.pk)
    assert SocialAccount.objects.get().user == admin


def test_a_superuser_named_by_a_students_uid_is_not_logged_in_by_the_students_cas_login(
    client, db, cas_ent, ldap, caplog, django_assert_num_queries
):
    """``createsuperuser`` under a login that is a student's ENT uid: the student's CAS login is refused (the
    superuser stays active, for a password login), never a superuser's session with its second factor."""
    admin = StaffFactory(username="estelle.martin", is_superuser=True)
    cas_ent.return_value = ("estelle.martin", {}, None)
    ticket = cas_return(client, "ST-1")

    # The session read; the request's savepoint; the staff account; the lock in a savepoint (3, rolled back: 4);
    # the request's release; the session saved with the message (3).
    with django_assert_num_queries(11):
        response = client.get(reverse("accounts:cas_callback"), ticket, **FRENCH)

    assert response.url == LOGIN
    assert "_auth_user_id" not in client.session
    page = client.get(LOGIN, **FRENCH).content.decode()
    # Said as it is: the account is active (not « désactivé »), the ENT cannot open it, its password can.
    assert "ne compte pas cet identifiant parmi le personnel" in page
    assert "Connectez-vous avec le mot de passe du compte." in page
    assert DEACTIVATED_FR not in page
    assert not SocialAccount.objects.exists()
    admin.refresh_from_db()
    assert admin.is_active
    assert "ENT login refused" in caplog.text


# --- Over real sockets: the development ENT sends preferred_username (and uid) in its ID token ---


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("claim", ["preferred_username", "uid"])
def test_a_directory_staff_member_logs_in_through_the_development_ent(oidc_app, settings, claim):
    settings.ENT_STAFF_UID_CLAIM = claim
    staff = StaffFactory(username="sophie.gestion", email="sophie.gestion@univ-perp.fr", from_directory=True)

    response = oidc_login(oidc_app, "sophie.gestion", next_url=ADMIN)

    assert response.status_code == 200
    assert response.url == f"{oidc_app}{ADMIN}"
    assert SocialAccount.objects.get(provider="ent").user_id == staff.pk
    assert _history(staff) == ["Connexion par l'ENT (OpenID Connect)"]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_at_night_with_the_ent_closed_to_candidates_a_new_staff_member_gets_in_and_a_new_student_does_not(
    oidc_app, settings
):
    settings.MAINTENANCE_WINDOW_ENFORCED = True
    settings.MAINTENANCE_START, settings.MAINTENANCE_END = datetime.time(0, 0), datetime.time(23, 59, 59)
    settings.ENT_CANDIDATE_LOGIN = False
    staff = StaffFactory(username="sophie.gestion", email="sophie.gestion@univ-perp.fr", from_directory=True)

    student = oidc_login(oidc_app, "estelle.martin")
    staff_in = oidc_login(oidc_app, "sophie.gestion", next_url=ADMIN)

    assert student.status_code == 503
    assert staff_in.status_code == 200
    assert staff_in.url == f"{oidc_app}{ADMIN}"
    assert SocialAccount.objects.get().user_id == staff.pk
