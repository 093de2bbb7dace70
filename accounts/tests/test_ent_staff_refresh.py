"""A staff member's directory data (LDAP) are refreshed at every ENT login, over OpenID Connect as over CAS, by one
rule (``directory.link_ent_identity`` → ``staff_for_login`` → ``refresh_staff``): names and address brought in
line, the account deactivated when the directory no longer lists the person as staff. Over OpenID Connect it ran
only at the first, linking login. A directory that does not answer changes nothing and the login goes on; the nightly
refresh catches up. Against the real slapd of devtools/ldap (accounts/tests/ldap_peer.py)."""

import io

import pytest
from allauth.socialaccount.models import SocialAccount
from django.core.management import call_command
from django.urls import reverse

from accounts import directory
from accounts.models import User
from accounts.tests.ent import cas_return, oidc_callback_state
from accounts.tests.factories import StaffFactory
from ecandidat.models import StaffDirectoryChange
from ecandidat.tests.plugins.services import free_port

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

CALLBACK = "/accounts/oidc/ent/login/callback/"
LOGIN = reverse("account_login")
OLD = ("old@univ-perp.fr", "S", "G")
DIRECTORY = ("sophie.gestion@univ-perp.fr", "Sophie", "GESTION")


def _claims(**extra) -> dict:
    return {"sub": "f3a9-77", "email": "sophie.gestion@univ-perp.fr", "email_verified": True, **extra}


@pytest.fixture
def linked_staff(db):
    """A directory staff member whose ENT identity was linked at an earlier login; their names and address have
    changed in the directory since."""
    user = StaffFactory(
        username="sophie.gestion", email=OLD[0], first_name=OLD[1], last_name=OLD[2], from_directory=True
    )
    SocialAccount.objects.create(user=user, provider="ent", uid="f3a9-77")
    return user


def _identity(user: User) -> tuple[str, str, str]:
    user.refresh_from_db()
    return (user.email, user.first_name, user.last_name)


def _oidc_login(client, mocker, **claims):
    state = oidc_callback_state(client, mocker, _claims(preferred_username="sophie.gestion", **claims))
    return client.get(CALLBACK, {"code": "c", "state": state})


def test_every_oidc_login_of_a_staff_member_refreshes_the_account(
    client, ldap, oidc_ent, linked_staff, mocker, django_assert_num_queries
):
    state = oidc_callback_state(client, mocker, _claims(preferred_username="sophie.gestion"))

    # The session read; the savepoint; the ENT app (3); the state consumed (3); the session read again; allauth's
    # lookup (the identity, its account, the ENT's latest claims saved on it); the staff account; the refresh in its
    # savepoint (the account locked and saved, its allauth address: verified elsewhere?, its rows, the old one and its
    # confirmations deleted, the new one; the change's row); the identity read; the login as a first login's (account
    # exists?, address verified?, authenticator?, new session: 4, the previous one deleted, last_login, the ENT session
    # row: 2); the history (2); release; the session saved (3).
    with django_assert_num_queries(43):
        response = client.get(CALLBACK, {"code": "c", "state": state})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(linked_staff.pk)
    assert _identity(linked_staff) == DIRECTORY
    change = StaffDirectoryChange.objects.get(user=linked_staff)
    assert (change.kind, change.batch) == ("refreshed", "ent_login")
    assert change.changes["first_name"] == ["S", "Sophie"]
    assert SocialAccount.objects.get().user_id == linked_staff.pk  # the same identity, not linked again


def test_an_oidc_login_of_staff_the_directory_no_longer_lists_is_refused_and_the_account_deactivated(
    client, ldap, oidc_ent, mocker
):
    user = StaffFactory(username="paul.parti", from_directory=True)
    SocialAccount.objects.create(user=user, provider="ent", uid="b7-01")
    state = oidc_callback_state(
        client, mocker, {"sub": "b7-01", "preferred_username": "paul.parti", "email": "p@univ-perp.fr"}
    )

    response = client.get(CALLBACK, {"code": "c", "state": state}, language="fr")

    assert response.url == LOGIN
    assert "_auth_user_id" not in client.session
    user.refresh_from_db()
    assert not user.is_active
    change = StaffDirectoryChange.objects.get(user=user)
    assert (change.kind, change.batch) == ("deactivated", "ent_login")
    assert change.comment == directory._in_the_institutions_language(directory.LOGIN_DEACTIVATION)


def test_cas_and_oidc_logins_refresh_by_the_same_rule(client, ldap, oidc_ent, cas_ent, linked_staff, mocker, settings):
    """The one rule: both protocols go through ``directory.link_ent_identity`` and ``staff_for_login``, and write the
    same change."""
    rule = mocker.spy(directory, "staff_for_login")
    changes = []
    for protocol in ("cas", "oidc"):
        User.objects.filter(pk=linked_staff.pk).update(email=OLD[0], first_name=OLD[1], last_name=OLD[2])
        client.logout()
        if protocol == "cas":
            settings.ENT_PROTOCOL = "cas"
            cas_ent.return_value = ("sophie.gestion", {"mail": ["sophie.gestion@univ-perp.fr"]}, None)
            client.get(reverse("accounts:cas_callback"), cas_return(client, "ST-1"))
        else:
            settings.ENT_PROTOCOL = "oidc"
            _oidc_login(client, mocker)
        assert client.session["_auth_user_id"] == str(linked_staff.pk)
        assert _identity(linked_staff) == DIRECTORY
        change = StaffDirectoryChange.objects.filter(user=linked_staff).latest("pk")
        changes.append((change.kind, change.batch, change.changes))

    assert changes[0] == changes[1]
    assert [call.args for call in rule.call_args_list] == [("sophie.gestion",), ("sophie.gestion",)]


def test_an_unreachable_directory_lets_the_oidc_login_through_and_the_nightly_refresh_catches_up(
    client, ldap, oidc_ent, linked_staff, mocker, settings
):
    settings.LDAP_URL = f"ldap://127.0.0.1:{free_port()}"  # the directory is down: nobody listens

    response = _oidc_login(client, mocker)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(linked_staff.pk)
    assert _identity(linked_staff) == OLD
    assert linked_staff.is_active
    assert not StaffDirectoryChange.objects.exists()

    settings.LDAP_URL = ldap  # back up for the night
    call_command("refresh_staff_directory", stdout=io.StringIO())

    assert _identity(linked_staff) == DIRECTORY
    change = StaffDirectoryChange.objects.get(user=linked_staff)
    assert change.batch == "refresh_staff_directory"


def test_an_oidc_login_naming_the_staff_member_in_other_capitals_refreshes_the_account(
    client, ldap, oidc_ent, linked_staff, mocker
):
    """The ENT's claim is the login as typed (``Sophie.Gestion``): still the staff account ``sophie.gestion``, as a
    CAS login in other capitals is (``directory.staff_for_login``), refreshed by the same rule."""
    state = oidc_callback_state(client, mocker, _claims(preferred_username="Sophie.Gestion"))

    client.get(CALLBACK, {"code": "c", "state": state})

    assert client.session["_auth_user_id"] == str(linked_staff.pk)
    assert _identity(linked_staff) == DIRECTORY
    assert StaffDirectoryChange.objects.get(user=linked_staff).batch == "ent_login"


def test_an_identity_linked_by_hand_under_another_username_is_left_to_the_nightly_refresh(
    client, ldap, oidc_ent, mocker
):
    """The ENT names the directory uid ``sophie.gestion``; the identity was linked by hand to a local account with
    another username: the login does not refresh it from someone else's entry, nor refresh that entry's account."""
    local = StaffFactory(username="sgestion", email="local@univ-perp.fr")
    other = StaffFactory(username="sophie.gestion", email=OLD[0], first_name=OLD[1], last_name=OLD[2])
    SocialAccount.objects.create(user=local, provider="ent", uid="f3a9-77")
    rule = mocker.spy(directory, "link_ent_identity")

    _oidc_login(client, mocker)

    assert client.session["_auth_user_id"] == str(local.pk)
    assert not rule.called
    assert _identity(other) == OLD
    assert not StaffDirectoryChange.objects.exists()


def test_a_candidates_oidc_login_asks_the_directory_nothing(client, ldap, oidc_ent, ent_candidate, mocker):
    rule = mocker.spy(directory, "link_ent_identity")
    state = oidc_callback_state(
        client, mocker, {"sub": "lucas.bernard", "preferred_username": "sophie.gestion", "email": ent_candidate.email}
    )

    client.get(CALLBACK, {"code": "c", "state": state})

    assert client.session["_auth_user_id"] == str(ent_candidate.pk)
    assert not rule.called
