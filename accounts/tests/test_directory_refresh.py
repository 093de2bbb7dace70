"""The nightly refresh of staff from the directory (eCandidat BATCH_MAJ_GESTIONNAIRE, ``refresh_staff_directory``):
names and addresses refreshed, staff who left deactivated (never deleted), each change recorded with the batch as
actor; a failing directory changes nothing, too many deactivations at once are refused, superusers and local
accounts are never touched. The rules with a stand-in directory first, then over real LDAP (slapd)."""

import importlib
import io
import re

import pytest
from allauth.socialaccount.models import SocialAccount
from django.apps import apps as django_apps
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts import directory, directory_refresh
from accounts.directory import DirectoryPerson
from accounts.directory_refresh import refresh_staff_from_directory
from accounts.models import User
from accounts.tests.ent import ent_providers, ent_return
from accounts.tests.factories import CandidateUserFactory, StaffFactory
from ecandidat.models import BatchRun, OutboundEmail, StaffDirectoryChange
from ecandidat.tests.plugins.services import free_port

pytestmark = pytest.mark.django_db


def _directory_staff(username: str, **fields):
    """A staff account as ``create_staff_from_directory`` makes it: the uid as username, no usable password, marked
    as made from the directory."""
    user = StaffFactory(username=username, from_directory=True, **fields)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user


def _person(uid: str, *, email: str = "", first_name: str = "", last_name: str = "") -> DirectoryPerson:
    return DirectoryPerson(uid=uid, email=email, first_name=first_name, last_name=last_name, affiliations=("staff",))


@pytest.fixture
def stand_in_directory(mocker, settings):
    """``directory.look_up`` answering from a dict ``uid -> (person, is_staff)`` the test fills."""
    settings.LDAP_URL = "ldap://directory.invalid"
    entries: dict[str, tuple[DirectoryPerson | None, bool]] = {}
    look_up = mocker.patch.object(directory, "look_up", side_effect=lambda uids: dict(entries))
    look_up.entries = entries
    return look_up


def _state(user: User) -> tuple:
    user.refresh_from_db()
    return (user.is_active, user.email, user.first_name, user.last_name)


# --- the rules ---


def test_staff_the_directory_lists_get_its_names_and_address(stand_in_directory):
    user = _directory_staff("sophie.gestion", email="old@univ.fr", first_name="S", last_name="Gestion")
    stand_in_directory.entries["sophie.gestion"] = (
        _person("sophie.gestion", email="sophie.gestion@univ.fr", first_name="Sophie", last_name=""),
        True,
    )

    outcome = refresh_staff_from_directory(max_deactivations=10)

    assert outcome.refreshed == ["sophie.gestion"]
    assert _state(user) == (True, "sophie.gestion@univ.fr", "Sophie", "Gestion")  # an empty value never blanks
    change = StaffDirectoryChange.objects.get()
    assert (change.user_id, change.kind, change.batch, change.actor_id) == (
        user.pk,
        StaffDirectoryChange.Kind.REFRESHED,
        "refresh_staff_directory",
        None,
    )
    assert change.changes == {"email": ["old@univ.fr", "sophie.gestion@univ.fr"], "first_name": ["S", "Sophie"]}


def test_an_ambiguous_uid_decides_nothing(stand_in_directory):
    """Two directory entries share the uid: the account is neither refreshed nor deactivated, even without a
    password (a duplicate entry is not "the person left")."""
    user = _directory_staff("sophie.gestion", email="old@univ.fr")
    stand_in_directory.entries["sophie.gestion"] = (None, True)

    outcome = refresh_staff_from_directory(max_deactivations=10)

    assert (outcome.ambiguous_kept, outcome.refreshed, outcome.deactivated) == (1, [], [])
    assert _state(user)[:2] == (True, "old@univ.fr")
    assert not StaffDirectoryChange.objects.exists()


def test_an_account_already_in_line_is_not_touched(stand_in_directory):
    _directory_staff("sophie.gestion", email="sophie.gestion@univ.fr", first_name="Sophie", last_name="GESTION")
    stand_in_directory.entries["sophie.gestion"] = (
        _person("sophie.gestion", email="sophie.gestion@univ.fr", first_name="Sophie", last_name="GESTION"),
        True,
    )

    outcome = refresh_staff_from_directory(max_deactivations=10)

    assert (outcome.checked, outcome.refreshed, outcome.deactivated) == (1, [], [])
    assert not StaffDirectoryChange.objects.exists()


def test_staff_who_left_are_deactivated_not_deleted(stand_in_directory):
    former = _directory_staff("paul.parti")
    gone = _directory_staff("jean.disparu")
    stand_in_directory.entries["paul.parti"] = (_person("paul.parti"), False)  # still known, no longer staff

    outcome = refresh_staff_from_directory(max_deactivations=10)

    assert sorted(outcome.deactivated) == ["jean.disparu", "paul.parti"]
    assert not _state(former)[0]
    assert not _state(gone)[0]
    changes = {c.user_id: c for c in StaffDirectoryChange.objects.all()}
    assert changes[former.pk].kind == StaffDirectoryChange.Kind.DEACTIVATED
    assert changes[former.pk].comment == "n'est plus un personnel dans l'annuaire"  # in the site's language
    assert changes[gone.pk].comment == "absent de l'annuaire"
    assert changes[gone.pk].changes == {"is_active": [True, False]}
    assert {c.batch for c in changes.values()} == {"refresh_staff_directory"}


def test_the_comments_are_in_the_institutions_language_whatever_language_is_active(stand_in_directory):
    """A worker that last served an English request wrote "not in the directory": history is in French."""
    former = _directory_staff("paul.parti")
    gone = _directory_staff("jean.disparu")
    stand_in_directory.entries["paul.parti"] = (_person("paul.parti"), False)
    translation.activate("en")

    refresh_staff_from_directory(max_deactivations=10)

    assert translation.get_language() == "en"  # left as it was
    comments = dict(StaffDirectoryChange.objects.values_list("user_id", "comment"))
    assert comments == {former.pk: "n'est plus un personnel dans l'annuaire", gone.pk: "absent de l'annuaire"}


def test_superusers_candidates_inactive_and_local_accounts_are_never_touched(stand_in_directory, campaign):
    superuser = _directory_staff("root.admin", is_superuser=True)
    local = StaffFactory(username="local.admin")  # typed in the back office, with a password
    candidate = CandidateUserFactory(campaign=campaign)
    inactive = _directory_staff("old.timer", is_active=False)
    before = [_state(user) for user in (superuser, local, candidate, inactive)]

    outcome = refresh_staff_from_directory(max_deactivations=10)

    assert [_state(user) for user in (superuser, local, candidate, inactive)] == before
    assert (outcome.checked, outcome.local_kept, outcome.deactivated) == (1, 1, [])
    assert stand_in_directory.call_args.args == (["local.admin"],)  # nobody else was even looked up
    assert not StaffDirectoryChange.objects.exists()


def test_a_directory_that_fails_changes_nothing(stand_in_directory):
    stand_in_directory.side_effect = directory.DirectoryUnavailable("Can't contact LDAP server")
    users = [_directory_staff("sophie.gestion", email="old@univ.fr"), _directory_staff("paul.parti")]

    outcome = refresh_staff_from_directory(max_deactivations=10)

    assert outcome.directory_error == "Can't contact LDAP server"
    assert [_state(user)[:2] for user in users] == [(True, "old@univ.fr"), (True, "paul.parti@example.org")]
    assert not StaffDirectoryChange.objects.exists()


def test_more_deactivations_than_allowed_deactivate_nobody_but_refreshes_happen(stand_in_directory):
    leavers = [_directory_staff(f"parti{n}") for n in range(3)]
    kept = _directory_staff("sophie.gestion", email="old@univ.fr")
    stand_in_directory.entries["sophie.gestion"] = (_person("sophie.gestion", email="sophie@univ.fr"), True)

    outcome = refresh_staff_from_directory(max_deactivations=2)

    assert outcome.deactivations_refused == 3
    assert outcome.deactivated == []
    assert all(_state(user)[0] for user in leavers)
    assert _state(kept)[:2] == (True, "sophie@univ.fr")
    assert list(StaffDirectoryChange.objects.values_list("kind", flat=True)) == ["refreshed"]


def test_the_cap_itself_is_allowed(stand_in_directory):
    leavers = [_directory_staff(f"parti{n}") for n in range(2)]

    outcome = refresh_staff_from_directory(max_deactivations=2)

    assert len(outcome.deactivated) == 2
    assert not any(_state(user)[0] for user in leavers)


def test_dry_run_decides_the_same_and_writes_nothing(stand_in_directory):
    refreshed = _directory_staff("sophie.gestion", email="old@univ.fr")
    leaver = _directory_staff("paul.parti")
    stand_in_directory.entries["sophie.gestion"] = (_person("sophie.gestion", email="sophie@univ.fr"), True)

    outcome = refresh_staff_from_directory(max_deactivations=10, dry_run=True)

    assert (outcome.refreshed, outcome.deactivated) == (["sophie.gestion"], ["paul.parti"])
    assert _state(refreshed)[:2] == (True, "old@univ.fr")
    assert _state(leaver)[0]
    assert not StaffDirectoryChange.objects.exists()


# --- the command ---


def test_the_command_records_its_run_and_names_whom_it_deactivated(stand_in_directory):
    _directory_staff("paul.parti")
    out = io.StringIO()

    call_command("refresh_staff_directory", stdout=out)

    run = BatchRun.objects.get(name="refresh_staff_directory")
    assert run.status == BatchRun.Status.FINISH
    assert run.counts["accounts deactivated"] == 1
    assert "deactivated: paul.parti" in out.getvalue()


def test_the_command_reports_refused_deactivations_as_an_error(stand_in_directory, settings):
    settings.STAFF_DIRECTORY_MAX_DEACTIVATIONS = 1
    leavers = [_directory_staff("parti1"), _directory_staff("parti2")]
    err = io.StringIO()

    call_command("refresh_staff_directory", stdout=io.StringIO(), stderr=err)
    assert all(_state(user)[0] for user in leavers)
    call_command("refresh_staff_directory", "--max-deactivations", "2", stdout=io.StringIO())  # the operator agrees

    assert (
        "2 comptes de gestionnaires seraient désactivés, plus que le maximum permis (1, STAFF_DIRECTORY_"
        in err.getvalue()
    )
    runs = list(
        BatchRun.objects.filter(name="refresh_staff_directory").order_by("id").values_list("status", flat=True)
    )
    assert runs == [BatchRun.Status.ERROR, BatchRun.Status.FINISH]
    assert not any(_state(user)[0] for user in leavers)


def test_the_command_reports_an_outage_as_an_error(stand_in_directory):
    stand_in_directory.side_effect = directory.DirectoryUnavailable("Can't contact LDAP server")
    user = _directory_staff("paul.parti")
    err = io.StringIO()

    call_command("refresh_staff_directory", stdout=io.StringIO(), stderr=err)

    assert "annuaire indisponible, rien n'a changé : Can't contact LDAP server" in err.getvalue()
    assert BatchRun.objects.get(name="refresh_staff_directory").status == BatchRun.Status.ERROR
    assert _state(user)[0]


def test_the_command_dry_run_says_whom_it_would_deactivate(stand_in_directory):
    user = _directory_staff("paul.parti")
    out = io.StringIO()

    call_command("refresh_staff_directory", "--dry-run", stdout=out)

    assert "would deactivate: paul.parti" in out.getvalue()
    assert "[dry run] refresh_staff_directory:" in out.getvalue()
    assert "accounts to deactivate: 1" in out.getvalue()
    assert _state(user)[0]


def test_without_a_directory_the_command_skips(settings, mocker):
    settings.LDAP_URL = None
    look_up = mocker.patch.object(directory_refresh.directory, "look_up")
    user = _directory_staff("paul.parti")
    out = io.StringIO()

    call_command("refresh_staff_directory", stdout=out)

    assert "skipped, no directory configured (LDAP_URL): 1" in out.getvalue()
    look_up.assert_not_called()
    assert _state(user)[0]


# --- over real LDAP (devtools/ldap's fixture: sophie.gestion and marc.enseignant staff, paul.parti former staff,
# estelle.martin a student) ---


@pytest.mark.integration
def test_over_real_ldap_staff_are_refreshed_and_leavers_deactivated(ldap, campaign):
    sophie = _directory_staff("sophie.gestion", email="old@univ-perp.fr", first_name="S", last_name="G")
    marc = _directory_staff("Marc.Enseignant", email="marc.enseignant@univ-perp.fr", first_name="Marc")
    paul = _directory_staff("paul.parti")
    estelle = _directory_staff("estelle.martin")  # a student's uid on a staff account
    gone = _directory_staff("jean.disparu")
    local = StaffFactory(username="local.admin")
    root = _directory_staff("root.admin", is_superuser=True)
    out = io.StringIO()

    call_command("refresh_staff_directory", stdout=out)

    assert _state(sophie) == (True, "sophie.gestion@univ-perp.fr", "Sophie", "GESTION")
    assert _state(marc) == (True, "marc.enseignant@univ-perp.fr", "Marc", "ENSEIGNANT")  # uids ignore case
    assert [_state(user)[0] for user in (paul, estelle, gone)] == [False, False, False]
    assert _state(local)[0]
    assert _state(root)[0]
    run = BatchRun.objects.get(name="refresh_staff_directory")
    assert run.counts == {
        "staff accounts checked": 6,
        "accounts refreshed": 2,
        "accounts deactivated": 3,
        "local accounts kept (not in the directory, with a password)": 1,
    }
    assert StaffDirectoryChange.objects.filter(kind="deactivated", batch="refresh_staff_directory").count() == 3


@pytest.mark.integration
@pytest.mark.parametrize(
    "broken",
    [
        {"LDAP_PEOPLE_BASE": "ou=nowhere,dc=univ,dc=fr"},  # "no such object": not "nobody is staff"
        {"LDAP_BIND_PASSWORD": "wrong"},
        {"LDAP_URL": "unreachable"},
    ],
    ids=["wrong base", "refused bind", "unreachable"],
)
def test_over_real_ldap_a_failing_directory_changes_nothing(ldap, settings, broken):
    for name, value in broken.items():
        setattr(settings, name, f"ldap://127.0.0.1:{free_port()}" if value == "unreachable" else value)
    users = [_directory_staff("sophie.gestion", email="old@univ-perp.fr"), _directory_staff("paul.parti")]
    err = io.StringIO()

    call_command("refresh_staff_directory", stdout=io.StringIO(), stderr=err)

    assert "annuaire indisponible, rien n'a changé" in err.getvalue()
    assert [_state(user)[:2] for user in users] == [(True, "old@univ-perp.fr"), (True, "paul.parti@example.org")]
    assert not StaffDirectoryChange.objects.exists()


@pytest.mark.integration
def test_over_real_ldap_many_uids_are_looked_up_in_chunks(ldap, monkeypatch):
    monkeypatch.setattr(directory, "LOOK_UP_CHUNK", 2)

    found = directory.look_up(["nobody", "SOPHIE.GESTION", "paul.parti", "estelle.martin", "x*)(uid=*"])

    assert sorted(found) == ["estelle.martin", "paul.parti", "sophie.gestion"]
    assert found["sophie.gestion"][1] is True
    assert found["paul.parti"][1] is False
    assert found["estelle.martin"][1] is False


# --- staff who chose a password by « J'ai oublié mes identifiants », then left; and no way back in ---

LOCAL_PASSWORD = "un-mot-de-passe-personnel-2026"


def _password_by_reset(client, user, mailoutbox, capture) -> None:
    """The staff member chooses a local password the way they can: the forgotten-credentials link."""
    with capture(execute=True):
        client.post(reverse("account_reset_password"), {"email": user.email})
    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+", mailoutbox[-1].body).group(0)
    client.post(client.get(link).url, {"password1": LOCAL_PASSWORD, "password2": LOCAL_PASSWORD})
    user.refresh_from_db()
    assert user.check_password(LOCAL_PASSWORD)


@pytest.fixture
def left_with_a_password(stand_in_directory, client, mailoutbox, django_capture_on_commit_callbacks):
    """A directory staff account whose owner chose a local password by reset; the directory no longer knows the uid."""
    user = _directory_staff("jean.disparu", email="jean.disparu@univ.fr")
    _password_by_reset(client, user, mailoutbox, django_capture_on_commit_callbacks)
    client.logout()
    return user


def test_a_directory_account_with_a_password_chosen_by_reset_is_deactivated_when_it_vanishes(left_with_a_password):
    outcome = refresh_staff_from_directory(max_deactivations=10)

    assert outcome.deactivated == ["jean.disparu"]
    assert outcome.local_kept == 0
    assert not _state(left_with_a_password)[0]
    change = StaffDirectoryChange.objects.get(user=left_with_a_password)
    assert change.kind == StaffDirectoryChange.Kind.DEACTIVATED


def test_a_directory_account_with_a_password_is_deactivated_when_no_longer_staff(
    stand_in_directory, client, mailoutbox, django_capture_on_commit_callbacks
):
    user = _directory_staff("paul.parti", email="paul.parti@univ.fr")
    _password_by_reset(client, user, mailoutbox, django_capture_on_commit_callbacks)
    stand_in_directory.entries["paul.parti"] = (_person("paul.parti"), False)

    outcome = refresh_staff_from_directory(max_deactivations=10)

    assert outcome.deactivated == ["paul.parti"]
    assert not _state(user)[0]


def test_a_deactivated_directory_account_logs_in_neither_with_its_password_nor_its_session(
    left_with_a_password, client, django_assert_num_queries
):
    other_device = Client()
    other_device.force_login(left_with_a_password)
    refresh_staff_from_directory(max_deactivations=10)

    # savepoint; the account by username (Django's backend: refused as inactive), then by address and by username
    # (allauth's backend); release; the new session (exists? savepoint, insert, release)
    with django_assert_num_queries(10):
        response = client.post(
            reverse("account_login"), {"login": left_with_a_password.username, "password": LOCAL_PASSWORD}
        )
    by_email = client.post(reverse("account_login"), {"login": left_with_a_password.email, "password": LOCAL_PASSWORD})

    assert "_auth_user_id" not in client.session
    assert response.status_code in (200, 302)
    assert by_email.status_code in (200, 302)
    assert "_auth_user_id" not in client.session
    assert other_device.get(reverse("admin:index")).status_code == 302  # the session opened before has ended


def test_a_deactivated_directory_account_gets_no_reset_link(
    left_with_a_password, client, mailoutbox, django_capture_on_commit_callbacks, django_assert_num_queries
):
    refresh_staff_from_directory(max_deactivations=10)
    client.get(reverse("account_reset_password"))
    mailoutbox.clear()

    # savepoint; the address's active accounts (none); the mail's template override, the outbox row; release
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(5):
        response = client.post(reverse("account_reset_password"), {"email": left_with_a_password.email})

    assert response.status_code == 302  # the page any address gets
    assert OutboundEmail.objects.order_by("-pk").first().code == "CPT_MIN_INCONNU"
    assert "/accounts/password/reset/key/" not in mailoutbox[0].body


def test_a_reset_link_mailed_before_the_deactivation_no_longer_works(
    left_with_a_password, client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": left_with_a_password.email})
    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+", mailoutbox[-1].body).group(0)
    form_page = client.get(link).url
    refresh_staff_from_directory(max_deactivations=10)

    opened = client.get(link, follow=True)
    posted = client.post(form_page, {"password1": "encore-un-autre-2026", "password2": "encore-un-autre-2026"})

    assert "expired or has already been used" in opened.text
    assert "expired or has already been used" in posted.text
    left_with_a_password.refresh_from_db()
    assert left_with_a_password.check_password(LOCAL_PASSWORD)  # unchanged


def test_a_deactivated_directory_account_is_refused_at_the_ent(left_with_a_password, client, settings):
    """CAS (``staff_for_login``) refuses it before the directory is even asked; the OpenID Connect return of its ENT
    identity does not log it in."""
    refresh_staff_from_directory(max_deactivations=10)
    settings.ENT_SERVER_URL = "https://ent.example/identity/o"
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(settings.ENT_SERVER_URL)
    SocialAccount.objects.create(user=left_with_a_password, provider="ent", uid="jean.disparu")

    with pytest.raises(directory.StaffDeactivated):
        directory.staff_for_login("jean.disparu")
    request, response = ent_return(client, "jean.disparu", left_with_a_password.email)

    assert "_auth_user_id" not in request.session
    assert response.status_code == 302
    assert response.url == reverse("account_inactive")


@pytest.mark.integration
def test_over_real_ldap_a_directory_account_with_a_password_is_deactivated_when_it_vanishes(
    ldap, client, mailoutbox, django_capture_on_commit_callbacks
):
    user = directory.create_staff_from_directory(identifier="sophie.gestion", actor=None)
    _password_by_reset(client, user, mailoutbox, django_capture_on_commit_callbacks)
    User.objects.filter(pk=user.pk).update(username="sophie.partie")  # the entry gone from the directory

    outcome = refresh_staff_from_directory(max_deactivations=10)

    assert user.from_directory
    assert outcome.deactivated == ["sophie.partie"]
    assert not _state(user)[0]


def test_the_migration_marks_the_directory_accounts_already_made(campaign):
    """accounts 0010: staff without a usable password (the former mark) and staff the directory has changed are
    marked; local staff with a password, superusers and candidates are not."""
    migration = importlib.import_module("accounts.migrations.0010_user_from_directory")
    unusable = _directory_staff("sophie.gestion")
    refreshed = StaffFactory(username="marc.enseignant")  # chose a password by reset; the directory refreshed it
    StaffDirectoryChange.objects.create(user=refreshed, kind=StaffDirectoryChange.Kind.REFRESHED, batch="x")
    local = StaffFactory(username="local.admin")
    root = _directory_staff("root.admin", is_superuser=True)
    candidate = CandidateUserFactory(campaign=campaign)
    candidate.set_unusable_password()
    candidate.save()
    User.objects.update(from_directory=False)

    migration.mark_directory_accounts(django_apps, None)

    marked = set(User.objects.filter(from_directory=True).values_list("username", flat=True))
    assert marked == {unusable.username, refreshed.username}
    assert {local.username, root.username, candidate.username}.isdisjoint(marked)


# --- the back office ---


def test_the_central_office_reads_the_changes_and_nobody_edits_them(stand_in_directory, client, central_manager):
    _directory_staff("paul.parti")
    refresh_staff_from_directory(max_deactivations=10)
    change = StaffDirectoryChange.objects.get()
    client.force_login(central_manager)

    listing = client.get("/gestion/ecandidat/staffdirectorychange/", language="fr")
    edit = client.post(f"/gestion/ecandidat/staffdirectorychange/{change.pk}/change/", {"comment": "x"})

    assert listing.status_code == 200
    assert "paul.parti" in listing.text
    assert "désactivé d&#x27;après l&#x27;annuaire" in listing.text
    assert edit.status_code == 403
    assert client.get("/gestion/ecandidat/staffdirectorychange/add/").status_code == 403


@pytest.mark.parametrize("persona", ["centre_manager", "commission_member", "read_only_staff"])
def test_other_staff_do_not_see_the_changes(request, client, persona):
    client.force_login(request.getfixturevalue(persona))

    # The readers (commission members, read-only staff) do not find the list, as an outsider; a manager: 403.
    refused = 403 if persona == "centre_manager" else 404
    assert client.get("/gestion/ecandidat/staffdirectorychange/").status_code == refused


def test_a_login_with_an_ambiguous_uid_changes_nothing(stand_in_directory):
    """At a CAS login as at night: two directory entries with this uid are no answer (the account stays active)."""
    user = _directory_staff("sophie.gestion", email="old@univ.fr")
    stand_in_directory.entries["sophie.gestion"] = (None, True)

    assert directory.staff_for_login("sophie.gestion") == user

    assert _state(user)[:2] == (True, "old@univ.fr")
    assert not StaffDirectoryChange.objects.exists()
