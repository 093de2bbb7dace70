"""Hostile or odd directory entries (the reviewer's findings of 6 December, each seen against a real slapd).

- A NUL (or another control character) in a directory value is not read, as an over-long one: the account keeps its
  value, the nightly refresh goes on to the next accounts and the leavers, the ENT login and « Ajouter depuis
  l'annuaire » work; a value the database driver refuses (ValueError) skips that account alone.
- uids the directory takes for one (a trailing space, ``e`` and a combining accent typed ``é``) are one here too: the
  account added from the directory is found again at its owner's ENT login and by the nightly refresh. An entry the
  directory returns under none of the asked uids names nobody: no account is made from it, and nobody is taken for
  gone because of it; a uid of that search that the directory does not know on its own is gone (a leaver).
- A superuser whose login the directory knows as someone else's (a student's) is not logged in by that ENT identity,
  and is told the truth: the account is not deactivated, its password logs in.
- An account named by any of the entry's uids, whatever its case, is the person's: adding the person again is refused,
  also when the account is named as the directory stores the uid (added before ``uid_spelling``).
- Adding a staff member from the directory is written to the account's history, by whom.

The directory here is a stand-in connection answering the entries a test gives it, whatever the filter (the directory
matched them by its own rules), or the development slapd (devtools/ldap/fixture.ldif)."""

import pytest
from django.conf import settings as django_settings
from django.contrib.admin.models import ADDITION, LogEntry
from django.core.management import call_command
from django.db import connection
from django.utils import translation

from accounts import directory, directory_refresh
from accounts.models import User
from accounts.tests.factories import StaffFactory
from ecandidat.exceptions import BusinessRuleError

FROM_DIRECTORY = "/gestion/accounts/user/from-directory/"


def _entry(
    uid: str | list[str], *, mail: str = "", sn: str = "", staff: bool = True, answers: tuple[str, ...] = ()
) -> dict:
    """``answers``: the uids whose searches return the entry (the directory's own rule); none, every search."""
    uids = [uid] if isinstance(uid, str) else uid
    return {
        "type": "searchResEntry",
        "dn": f"uid={uids[0]},ou=people,dc=univ,dc=fr",
        "attributes": {
            "uid": uids,
            "mail": [mail] if mail else [],
            "givenName": ["Zoé"],
            "sn": [sn] if sn else [],
            "eduPersonAffiliation": ["staff" if staff else "student"],
        },
        "staff": staff,
        "answers": answers,
    }


class StandInDirectory:
    """A connection answering every search with the entries it holds (only the staff ones when the filter asks for
    staff; an entry with ``answers``, only a search for one of those uids), as a directory that matched them by rules
    of its own. ``filters``: the searches made, in order."""

    def __init__(self, entries: list[dict]):
        self.entries = entries
        self.response: list[dict] = []
        self.result: dict = {}
        self.filters: list[str] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def search(self, base, filter_, attributes=None, size_limit=0):
        self.filters.append(filter_)
        staff_only = django_settings.LDAP_STAFF_FILTER in filter_
        self.response = [
            {key: value for key, value in entry.items() if key not in {"staff", "answers"}}
            for entry in self.entries
            if (entry["staff"] or not staff_only)
            and (not entry["answers"] or any(f"(uid={uid})" in filter_ for uid in entry["answers"]))
        ]
        self.result = {"result": 0}


@pytest.fixture
def stand_in(mocker, settings):
    settings.LDAP_URL = "ldap://directory.invalid"
    entries: list[dict] = []
    mocker.patch.object(directory, "connect", side_effect=lambda **kwargs: StandInDirectory(entries))
    return entries


def _from_directory(username: str, **fields) -> User:
    user: User = StaffFactory(username=username, from_directory=True, **fields)
    user.set_unusable_password()
    user.save()
    return user


# --- 1. a NUL in a directory value ---


def test_a_control_character_in_a_value_is_not_read(db):
    entry = _entry("zrev.nul", mail="zrev.nul@univ-perp.fr", sn="NUL\x00X")
    entry["attributes"]["givenName"] = ["Zo\x1bé"]

    person = directory._person(entry)

    assert (person.uid, person.email, person.first_name, person.last_name) == (
        "zrev.nul",
        "zrev.nul@univ-perp.fr",
        "",
        "",
    )


def test_a_nul_in_one_entry_stops_neither_the_nightly_refresh_nor_the_leavers_deactivation(stand_in, db):
    stand_in.append(_entry("zrev.nul", mail="zrev.nouvelle@univ-perp.fr", sn="NUL\x00X"))
    nul = _from_directory("zrev.nul", email="zrev.nul@univ-perp.fr", last_name="Ancien")
    gone = _from_directory("zrev.gone")

    outcome = directory_refresh.refresh_staff_from_directory(max_deactivations=10)

    nul.refresh_from_db()
    gone.refresh_from_db()
    assert outcome.failures == []
    assert (nul.email, nul.last_name) == ("zrev.nouvelle@univ-perp.fr", "Ancien")
    assert outcome.deactivated == ["zrev.gone"]
    assert not gone.is_active


def test_that_persons_ent_login_links_and_keeps_the_name(stand_in, db):
    stand_in.append(_entry("zrev.nul", mail="zrev.nul@univ-perp.fr", sn="NUL\x00X"))
    nul = _from_directory("zrev.nul", email="zrev.nul@univ-perp.fr", last_name="Ancien")

    identity = directory.link_ent_identity(provider="cas", uid=None, login="zrev.nul")

    nul.refresh_from_db()
    assert identity is not None
    assert identity.user == nul
    assert (nul.is_active, nul.last_name) == (True, "Ancien")


def test_that_person_is_added_from_the_directory_without_the_value(stand_in, db):
    stand_in.append(_entry("zrev.nul", mail="zrev.nul@univ-perp.fr", sn="NUL\x00X"))

    user = directory.create_staff_from_directory(identifier="zrev.nul", actor=None)

    assert (user.username, user.email, user.last_name) == ("zrev.nul", "zrev.nul@univ-perp.fr", "")


def test_a_value_the_database_driver_refuses_skips_that_account_alone(stand_in, db, mocker):
    stand_in.extend(
        [_entry("zrev.a", mail="zrev.a.new@univ-perp.fr"), _entry("zrev.b", mail="zrev.b.new@univ-perp.fr")]
    )
    first = _from_directory("zrev.a", email="zrev.a@univ-perp.fr")
    second = _from_directory("zrev.b", email="zrev.b@univ-perp.fr")
    gone = _from_directory("zrev.gone")
    real = directory_refresh._refresh

    def refresh(user_id, person, **kwargs):
        if user_id == first.pk:
            raise ValueError("A string literal cannot contain NUL (0x00) characters.")
        return real(user_id, person, **kwargs)

    mocker.patch.object(directory_refresh, "_refresh", side_effect=refresh)

    outcome = directory_refresh.refresh_staff_from_directory(max_deactivations=10)

    assert outcome.failures == ["zrev.a: A string literal cannot contain NUL (0x00) characters."]
    assert outcome.refreshed == ["zrev.b"]
    assert outcome.deactivated == ["zrev.gone"]
    second.refresh_from_db()
    gone.refresh_from_db()
    assert (second.email, gone.is_active) == ("zrev.b.new@univ-perp.fr", False)


@pytest.mark.integration
def test_a_nul_postgresql_refuses_is_one_failure_on_postgresql(db):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    first = _from_directory("zrev.a", last_name="Ancien")
    outcome = directory_refresh.RefreshOutcome()
    person = directory.DirectoryPerson(
        uid="zrev.a", email="", first_name="", last_name="NUL\x00X", affiliations=("staff",)
    )

    changed = directory_refresh._each(
        outcome, "zrev.a", directory_refresh._refresh, first.pk, person, dry_run=False, batch="test"
    )

    first.refresh_from_db()
    assert (changed, first.last_name) == ("", "Ancien")
    assert len(outcome.failures) == 1
    assert outcome.failures[0].startswith("zrev.a: ")


# --- 2. uids the directory takes for one ---


@pytest.mark.parametrize(
    ("stored", "typed", "username"),
    [("zrev.space ", "zrev.space", "zrev.space"), ("zrev.rene\u0301", "zrev.rené", "zrev.rené")],
    ids=["trailing-space", "nfd"],
)
def test_a_uid_spelled_otherwise_in_the_directory_is_the_same_person_at_every_step(
    stand_in, db, stored, typed, username
):
    stand_in.append(_entry(stored, mail="zrev@univ-perp.fr"))

    user = directory.create_staff_from_directory(identifier=typed, actor=None)
    identity = directory.link_ent_identity(provider="cas", uid=None, login=username)
    outcome = directory_refresh.refresh_staff_from_directory(max_deactivations=10)

    user.refresh_from_db()
    assert user.username == username
    assert identity is not None
    assert identity.user == user
    assert user.is_active
    assert outcome.deactivated == []


def test_an_entry_matching_no_uid_asked_makes_no_account(stand_in, db):
    stand_in.append(_entry("zrev.other", mail="zrev.other@univ-perp.fr"))

    with pytest.raises(BusinessRuleError, match="no staff member"):
        directory.create_staff_from_directory(identifier="zrev.alias", actor=None)

    assert not User.objects.filter(username__in=["zrev.alias", "zrev.other"]).exists()


def test_an_entry_matching_no_uid_asked_takes_nobody_for_gone(stand_in, db):
    stand_in.append(_entry("zrev.other", mail="zrev.other@univ-perp.fr"))
    account = _from_directory("zrev.alias")

    directory.link_ent_identity(provider="cas", uid=None, login="zrev.alias")
    outcome = directory_refresh.refresh_staff_from_directory(max_deactivations=10)

    account.refresh_from_db()
    assert account.is_active
    assert (outcome.deactivated, outcome.ambiguous_kept) == ([], 1)


def test_an_entry_matching_no_uid_asked_hides_no_leaver_of_its_search(stand_in, db):
    # The directory answers zrev.alias with zrev.other's entry (a rule of its own); zrev.gone is in no entry.
    stand_in.append(_entry("zrev.other", mail="zrev.other@univ-perp.fr", answers=("zrev.alias",)))
    alias = _from_directory("zrev.alias")
    gone = _from_directory("zrev.gone")

    answer = directory.look_up(["zrev.alias", "zrev.gone"])
    outcome = directory_refresh.refresh_staff_from_directory(max_deactivations=10)

    alias.refresh_from_db()
    gone.refresh_from_db()
    assert answer == {"zrev.alias": (None, False)}
    assert (outcome.deactivated, outcome.ambiguous_kept) == (["zrev.gone"], 1)
    assert (alias.is_active, gone.is_active) == (True, False)


def test_a_uid_slapd_takes_for_another_hides_no_leaver_of_its_search(ldap, db):
    # slapd matches U+0130 (İ) with sophie.gestion's i; uid_key does not (its lower case is i and a combining dot).
    unmatched = _from_directory("SOPHIE.GEST\u0130ON")
    gone = _from_directory("zrev.gone")

    answer = directory.look_up(["SOPHIE.GEST\u0130ON", "zrev.gone"])
    outcome = directory_refresh.refresh_staff_from_directory(max_deactivations=10)

    unmatched.refresh_from_db()
    gone.refresh_from_db()
    assert answer == {directory.uid_key("SOPHIE.GEST\u0130ON"): (None, False)}
    assert outcome.deactivated == ["zrev.gone"]
    assert (unmatched.is_active, gone.is_active) == (True, False)


# --- 3. a superuser named by someone else's uid ---


def test_a_superuser_whose_uid_the_directory_knows_as_a_student_is_refused_at_the_ent(ldap, db, caplog):
    admin = StaffFactory(username="estelle.martin", is_superuser=True)

    with pytest.raises(directory.NotStaffInDirectory) as refused:
        directory.link_ent_identity(provider="cas", uid=None, login="estelle.martin")

    admin.refresh_from_db()
    assert admin.is_active
    assert isinstance(refused.value, directory.StaffDeactivated)  # the ENT logins' callers catch that one
    with translation.override("fr"):
        assert str(refused.value.message) == (
            "L'annuaire ne compte pas cet identifiant parmi le personnel : l'ENT ne peut donc pas ouvrir ce compte. "
            "Connectez-vous avec le mot de passe du compte."
        )
    assert not admin.socialaccount_set.exists()
    assert "ENT login refused" in caplog.text


# --- 4. an account named by another of the entry's uids, or in another case ---


@pytest.mark.parametrize(
    ("existing", "identifier"),
    [("jean.dupont", "jean.dupont@univ-perp.fr"), ("jean.dupont", "jdupont"), ("Sophie.Gestion", "sophie.gestion")],
    ids=["alias-by-address", "alias-by-uid", "case"],
)
def test_an_account_of_any_of_the_entrys_uids_exists_already(ldap, db, existing, identifier):
    account = StaffFactory(username=existing)

    with pytest.raises(BusinessRuleError, match="exists already"):
        directory.create_staff_from_directory(identifier=identifier, actor=None)

    assert list(User.objects.filter(campaign__isnull=True)) == [account]


@pytest.mark.parametrize(
    ("stored", "typed"),
    [("zrev.space ", "zrev.space"), ("zrev.rene\u0301", "zrev.ren\u00e9"), ("zrev.rene\u0301", "zrev.rene\u0301")],
    ids=["trailing-space", "nfd-typed-nfc", "nfd-typed-nfd"],
)
def test_an_account_named_by_the_directorys_own_spelling_exists_already(stand_in, db, stored, typed):
    # Added before uid_spelling: the account is named as the directory stores the uid.
    stand_in.append(_entry(stored, mail="zrev@univ-perp.fr"))
    account = _from_directory(stored)

    with pytest.raises(BusinessRuleError, match="exists already"):
        directory.create_staff_from_directory(identifier=typed, actor=None)

    assert list(User.objects.filter(campaign__isnull=True)) == [account]


def test_a_deactivated_staff_accounts_message_is_unchanged():
    assert directory.StaffDeactivated("zrev.a").message == directory.STAFF_DEACTIVATED


# --- 5. who added the staff member ---


def test_the_back_office_addition_is_in_the_accounts_history_by_whom(
    ldap, client, central_manager, django_assert_num_queries
):
    client.force_login(central_manager)

    # The session, the user, the request's savepoint, their scope; in a savepoint (2): the check (any of the entry's
    # uids, any case), no candidate's ENT identity under them, the account, its address (3), the history's content
    # type and line; the request's release.
    with django_assert_num_queries(15):
        response = client.post(FROM_DIRECTORY, {"identifier": "sophie.gestion"}, language="fr")

    assert response.status_code == 302
    user = User.objects.get(username="sophie.gestion")
    entry = LogEntry.objects.get(object_id=str(user.pk))
    assert (entry.user, entry.action_flag, entry.change_message) == (
        central_manager,
        ADDITION,
        "Ajouté depuis l'annuaire.",
    )


def test_the_commands_actor_is_in_the_accounts_history(ldap, db):
    admin = StaffFactory(username="zrev.admin", is_superuser=True)

    call_command("staff_from_directory", "marc.enseignant", "--by", "zrev.admin")

    user = User.objects.get(username="marc.enseignant")
    entry = LogEntry.objects.get(object_id=str(user.pk))
    assert (entry.user, entry.action_flag, entry.change_message) == (admin, ADDITION, "Ajouté depuis l'annuaire.")
