"""A staff account's life against the directory, over real LDAP (devtools/ldap's fixture, accounts/tests/ldap_peer.py):

- a directory entry with several ``uid`` values (a login renamed, the old one kept as an alias; an accented uid and
  its ASCII spelling) is the person under each of them: ``jdupont`` + ``jean.dupont``, whose staff account is
  ``jean.dupont``, stays active at the nightly refresh and at their ENT login, and « Ajouter depuis l'annuaire » with
  ``jean.dupont`` makes the account ``jean.dupont``;
- a uid the directory does not know at all deactivates, at an ENT login as at the nightly refresh, only an account
  made from the directory or one with no usable password: a local account typed in the back office with a password
  (an external jury member whose login the ENT knows) is left alone by both.
"""

import io

import pytest
from django.core.management import call_command

from accounts import directory
from accounts.directory_refresh import refresh_staff_from_directory
from accounts.models import User
from accounts.tests.factories import StaffFactory
from ecandidat.models import StaffDirectoryChange

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

# The fixture's entries with two uids, the first one not the one the account bears.
JEAN = ("jean.dupont", "jdupont")  # dn uid=jdupont: uid jdupont, uid jean.dupont
RENE = ("rene.levy", "rené.lévy")  # dn uid=rene.levy: uid rené.lévy, uid rene.levy
ALIASES = pytest.mark.parametrize(("uid", "first_uid"), [JEAN, RENE], ids=["renamed login", "ascii alias"])


def _directory_staff(username: str, **fields) -> User:
    """As ``create_staff_from_directory`` makes it: the uid as username, no usable password, from the directory."""
    user: User = StaffFactory(username=username, from_directory=True, **fields)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user


def _active(user: User) -> bool:
    user.refresh_from_db()
    return user.is_active


def _deactivations() -> list[tuple[str, str, str]]:
    return list(
        StaffDirectoryChange.objects.filter(kind=StaffDirectoryChange.Kind.DEACTIVATED)
        .order_by("pk")
        .values_list("user__username", "batch", "comment")
    )


# --- several uids on one entry ---


def test_look_up_answers_under_every_uid_asked_for(ldap, monkeypatch):
    found = directory.look_up(["Jean.Dupont", "rene.levy", "RENÉ.LÉVY"])

    assert sorted(found) == ["jean.dupont", "rene.levy", "rené.lévy"]
    assert found["jean.dupont"][1] is True  # staff: the second search reads every uid too
    assert [found[uid][0].uid for uid in sorted(found)] == ["jean.dupont", "rene.levy", "rené.lévy"]
    assert found["jean.dupont"][0].last_name == "DUPONT"
    # Only the uids asked for: the entry's other uid is not an answer nobody asked for.
    assert "jdupont" not in directory.look_up(["jean.dupont"])

    # The same entry found again in another chunk (two accounts whose usernames differ in case) is one person, not two.
    monkeypatch.setattr(directory, "LOOK_UP_CHUNK", 1)
    again = directory.look_up(["jean.dupont", "jdupont", "JEAN.DUPONT"])
    assert {uid: (person is not None, staff) for uid, (person, staff) in again.items()} == {
        "jean.dupont": (True, True),
        "jdupont": (True, True),
    }


@ALIASES
def test_the_nightly_refresh_keeps_staff_who_bear_the_entrys_second_uid(ldap, uid, first_uid):
    user = _directory_staff(uid, email="old@univ-perp.fr")
    out = io.StringIO()

    call_command("refresh_staff_directory", stdout=out)

    assert _active(user)
    assert user.email == f"{uid if uid == JEAN[0] else RENE[0]}@univ-perp.fr"  # refreshed, not "absent"
    assert _deactivations() == []
    assert not User.objects.filter(username=first_uid).exists()


@ALIASES
def test_an_ent_login_keeps_staff_who_bear_the_entrys_second_uid(ldap, uid, first_uid):
    user = _directory_staff(uid, email="old@univ-perp.fr")

    identity = directory.link_ent_identity(provider="cas", uid=None, login=uid)

    assert identity is not None
    assert identity.user_id == user.pk
    assert identity.uid == uid
    assert _active(user)
    assert user.email.endswith("@univ-perp.fr")
    assert user.email != "old@univ-perp.fr"
    assert _deactivations() == []


@ALIASES
def test_adding_from_the_directory_by_the_second_uid_makes_that_account(ldap, uid, first_uid):
    assert directory.find_person(uid=uid).uid == uid
    assert directory.find_person(uid=uid.upper()).uid == uid  # as the directory spells it
    assert directory.find_person(uid=first_uid).uid == first_uid

    user = directory.create_staff_from_directory(identifier=uid, actor=None)

    assert user.username == uid
    assert not User.objects.filter(username=first_uid).exists()
    # The account is the one the person's ENT login names.
    assert directory.staff_for_login(uid) == user


# --- a uid the directory does not know ---

EXTERNAL = "jury.externe"  # the ENT knows the login, LDAP_PEOPLE_BASE does not


def test_a_hand_made_account_with_a_password_survives_an_ent_login_and_the_nightly(ldap):
    jury = StaffFactory(username=EXTERNAL)  # typed in the back office, with a password
    assert jury.has_usable_password()
    assert not jury.from_directory

    assert directory.staff_for_login(EXTERNAL) == jury
    assert _active(jury)
    outcome = refresh_staff_from_directory(max_deactivations=10)

    assert _active(jury)
    assert (outcome.local_kept, outcome.deactivated) == (1, [])
    assert directory.staff_for_login(EXTERNAL) == jury
    assert not StaffDirectoryChange.objects.exists()


@pytest.mark.parametrize(
    "made",
    [
        pytest.param({"from_directory": True}, id="from the directory, with a password chosen since"),
        pytest.param({"from_directory": True, "password": None}, id="from the directory"),
        pytest.param({"password": None}, id="by hand, without a password"),
    ],
)
@pytest.mark.parametrize("path", ["ent login", "nightly"])
def test_an_account_the_ent_alone_can_open_is_deactivated_when_absent_from_the_directory(ldap, made, path):
    made = dict(made)
    usable = made.pop("password", True) is not None
    user = StaffFactory(username="jean.disparu", **made)
    if not usable:
        user.set_unusable_password()
        user.save(update_fields=["password"])

    if path == "ent login":
        with pytest.raises(directory.StaffDeactivated):
            directory.staff_for_login("jean.disparu")
        reason, batch = "absent de l'annuaire, à une connexion par l'ENT", "ent_login"
    else:
        assert refresh_staff_from_directory(max_deactivations=10).deactivated == ["jean.disparu"]
        reason, batch = "absent de l'annuaire", "refresh_staff_directory"

    assert not _active(user)
    assert _deactivations() == [("jean.disparu", batch, reason)]


def test_an_ent_login_and_the_nightly_decide_alike(ldap, mocker):
    """One rule (``directory.deactivate_when_absent``) for both paths."""
    rule = mocker.spy(directory, "deactivate_when_absent")
    StaffFactory(username=EXTERNAL)

    directory.staff_for_login(EXTERNAL)
    refresh_staff_from_directory(max_deactivations=10)

    assert [call.args[0].username for call in rule.call_args_list] == [EXTERNAL, EXTERNAL]
    assert rule.spy_return is False
