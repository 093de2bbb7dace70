"""The address the staff directory gives an account is its verified, primary allauth address: at the creation, at
a refresh that changes it (CAS login and nightly; the old address goes), and, by accounts 0013, on the directory
accounts made before. So a directory staff member's first ENT login, CAS or OpenID Connect, reaches the back office
without the mailed confirmation step (which answered 503 in the maintenance window). Candidates' addresses stay
theirs to validate. The directory and the ENT are stubbed here; test_directory runs the creation over real LDAP."""

import datetime
import importlib
import zoneinfo

import pytest
import time_machine
from allauth.account.models import EmailAddress, EmailConfirmation
from allauth.socialaccount.models import SocialAccount
from cas import CASClientV3
from django.apps import apps as django_apps
from django.urls import reverse

from accounts import directory
from accounts.directory import DirectoryPerson
from accounts.directory_refresh import refresh_staff_from_directory
from accounts.models import User
from accounts.tests.ent import STUB_ENT, cas_return, ent_providers, oidc_callback_state
from accounts.tests.factories import CandidateUserFactory, StaffFactory
from ecandidat.models import OutboundEmail, StaffDirectoryChange

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NIGHT = datetime.datetime(2026, 11, 28, 23, 30, tzinfo=PARIS)
ADMIN = reverse("admin:index")
SOPHIE = DirectoryPerson(
    uid="sophie.gestion",
    email="Sophie.Gestion@univ-perp.fr",
    first_name="Sophie",
    last_name="GESTION",
    affiliations=("staff",),
)


@pytest.fixture
def stand_in_directory(mocker, settings):
    """A directory that lists ``entries`` (uid -> (person, is_staff)), the test's to change; Sophie to begin with."""
    settings.LDAP_URL = "ldap://directory.invalid"
    entries: dict[str, tuple[DirectoryPerson | None, bool]] = {"sophie.gestion": (SOPHIE, True)}
    mocker.patch.object(directory, "look_up", side_effect=lambda uids: dict(entries))
    mocker.patch.object(directory, "find_person", side_effect=lambda uid=None, email=None: entries[uid][0])
    return entries


def _addresses(user: User) -> list[tuple[str, bool, bool]]:
    return list(EmailAddress.objects.filter(user=user).order_by("email").values_list("email", "verified", "primary"))


# --- creation and refreshes ---


def test_a_staff_member_added_from_the_directory_has_its_address_verified(
    stand_in_directory, django_assert_num_queries
):
    # The savepoint; the uid taken?; an ENT identity of a candidate under the entry's uids?; the account saved; another
    # account's verified address?; the account's addresses (none); the address created; release.
    with django_assert_num_queries(8):
        user = directory.create_staff_from_directory(identifier="sophie.gestion", actor=None)

    assert user.email == "Sophie.Gestion@univ-perp.fr"  # as the directory spells it
    assert _addresses(user) == [("sophie.gestion@univ-perp.fr", True, True)]  # as allauth keeps it


def test_a_login_refresh_changing_the_address_moves_the_verification(stand_in_directory):
    user = directory.create_staff_from_directory(identifier="sophie.gestion", actor=None)
    stand_in_directory["sophie.gestion"] = (
        DirectoryPerson("sophie.gestion", "sophie.martin@univ-perp.fr", "Sophie", "MARTIN", ("staff",)),
        True,
    )

    directory.staff_for_login("sophie.gestion")

    user.refresh_from_db()
    assert user.email == "sophie.martin@univ-perp.fr"
    assert _addresses(user) == [("sophie.martin@univ-perp.fr", True, True)]  # the old one is gone
    assert StaffDirectoryChange.objects.get(user=user).changes["email"] == [
        "Sophie.Gestion@univ-perp.fr",
        "sophie.martin@univ-perp.fr",
    ]


def test_the_nightly_refresh_changing_the_address_moves_the_verification(stand_in_directory):
    user = directory.create_staff_from_directory(identifier="sophie.gestion", actor=None)
    EmailAddress.objects.create(user=user, email="sophie@ancienne-adresse.fr", verified=False, primary=False)
    stand_in_directory["sophie.gestion"] = (
        DirectoryPerson("sophie.gestion", "sophie.martin@univ-perp.fr", "", "", ("staff",)),
        True,
    )

    outcome = refresh_staff_from_directory(max_deactivations=10)

    assert outcome.refreshed == ["sophie.gestion"]
    assert _addresses(user) == [("sophie.martin@univ-perp.fr", True, True)]


def test_a_refresh_that_leaves_the_address_as_it_is_writes_no_address(stand_in_directory):
    user = directory.create_staff_from_directory(identifier="sophie.gestion", actor=None)
    EmailAddress.objects.filter(user=user).update(verified=False)  # e.g. an address confirmed by nobody yet
    stand_in_directory["sophie.gestion"] = (
        DirectoryPerson("sophie.gestion", SOPHIE.email, "Sophie", "MARTIN", ("staff",)),
        True,
    )

    refresh_staff_from_directory(max_deactivations=10)

    assert _addresses(user) == [("sophie.gestion@univ-perp.fr", False, True)]


def test_an_address_a_candidate_has_verified_stays_the_candidates(stand_in_directory, campaign):
    candidate = CandidateUserFactory(campaign=campaign, email="sophie.gestion@univ-perp.fr")

    user = directory.create_staff_from_directory(identifier="sophie.gestion", actor=None)

    assert _addresses(user) == [("sophie.gestion@univ-perp.fr", False, True)]  # to confirm by mail, as before
    assert _addresses(candidate) == [("sophie.gestion@univ-perp.fr", True, True)]


def test_a_candidates_address_is_never_recorded_as_verified(campaign):
    candidate = CandidateUserFactory(campaign=campaign, verified_email=False)

    assert directory.record_directory_address(user=candidate) is False

    assert _addresses(candidate) == [(candidate.email, False, True)]


# --- accounts 0013: the directory accounts made before ---


def test_the_migration_verifies_the_addresses_of_directory_accounts_only(campaign):
    migration = importlib.import_module("accounts.migrations.0013_directory_staff_verified_addresses")
    without_row = StaffFactory(username="sophie.gestion", from_directory=True, verified_email=None)
    EmailAddress.objects.filter(user=without_row).delete()
    unconfirmed = StaffFactory(username="marc.enseignant", from_directory=True, verified_email=False)
    EmailAddress.objects.create(user=unconfirmed, email="marc@ancienne-adresse.fr", verified=False, primary=False)
    already = StaffFactory(username="anne.prof", from_directory=True)
    local = StaffFactory(username="jean.local", from_directory=False, verified_email=False)
    candidate = CandidateUserFactory(campaign=campaign, verified_email=False)
    taken = StaffFactory(username="paul.double", from_directory=True, email=candidate.email, verified_email=False)
    CandidateUserFactory(campaign=campaign, email="lea.double@example.org")
    taken_by_verified = StaffFactory(
        username="lea.double", from_directory=True, email="lea.double@example.org", verified_email=False
    )

    migration.verify_directory_addresses(django_apps, None)

    assert _addresses(without_row) == [(without_row.email, True, True)]
    assert _addresses(unconfirmed) == [(unconfirmed.email, True, True)]
    assert _addresses(already) == [(already.email, True, True)]
    assert _addresses(local) == [(local.email, False, True)]  # local staff: not the directory's word
    assert _addresses(candidate) == [(candidate.email, False, True)]  # candidates validate their own
    assert _addresses(taken) == [(candidate.email, True, True)]  # nobody had it verified
    assert EmailAddress.objects.filter(email=candidate.email, verified=True).count() == 1
    assert _addresses(taken_by_verified) == [("lea.double@example.org", False, True)]  # a candidate verified it


# --- the first ENT login of a staff member just added from the directory, in the maintenance window ---


@pytest.fixture
def night(settings):
    settings.MAINTENANCE_WINDOW_ENFORCED = True
    with time_machine.travel(NIGHT, tick=False):
        yield


def _assert_in_the_back_office(client, response, user):
    assert response.status_code == 302
    assert response.url == ADMIN  # not /accounts/confirm-email/
    assert client.session["_auth_user_id"] == str(user.pk)
    assert not EmailConfirmation.objects.exists()
    assert not OutboundEmail.objects.exists()  # no confirmation link mailed
    assert client.get(ADMIN).status_code == 200


def test_cas_first_login_of_a_new_directory_staff_member_reaches_the_back_office(
    client, settings, stand_in_directory, night, mocker, django_assert_num_queries
):
    settings.ENT_PROTOCOL = "cas"
    settings.ENT_SERVER_URL = settings.CAS_SERVER_URL = "https://cas.univ-perp.fr/cas/"
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers("https://cas.univ-perp.fr")
    user = directory.create_staff_from_directory(identifier="sophie.gestion", actor=None)
    attributes = {"mail": SOPHIE.email, "givenName": "Sophie", "sn": "GESTION"}
    mocker.patch.object(CASClientV3, "verify_ticket", return_value=(SOPHIE.uid, attributes, None))

    # test_ent_maintenance's CAS staff login (32 with the history's 2, the ENT identity linked for the first time there
    # too), and the directory refresh at the login (the account locked, with its savepoint: 3; nothing changed).
    # allauth's check of a verified address finds it: no confirmation row, no mail.
    back = cas_return(client, "ST-1")
    with django_assert_num_queries(35):
        response = client.get(reverse("accounts:cas_callback"), back)

    _assert_in_the_back_office(client, response, user)
    assert SocialAccount.objects.get(provider="ent", uid="sophie.gestion").user == user


def test_oidc_first_login_of_a_new_directory_staff_member_reaches_the_back_office(
    client, settings, stand_in_directory, night, mocker, django_assert_num_queries
):
    settings.ENT_PROTOCOL = "oidc"
    settings.ENT_SERVER_URL = STUB_ENT
    settings.SOCIALACCOUNT_PROVIDERS = ent_providers(STUB_ENT, pkce=True)
    user = directory.create_staff_from_directory(identifier="sophie.gestion", actor=None)
    # The ID token names the directory uid (ENT_STAFF_UID_CLAIM): the first login links the identity, as CAS does.
    claims = {"sub": "sophie.gestion", "email": "sophie.gestion@univ-perp.fr", "email_verified": True}
    claims["preferred_username"] = "sophie.gestion"
    state = oidc_callback_state(client, mocker, claims, next_url=ADMIN)

    # As test_ent_staff_link's first OpenID Connect staff login (33, the identity linked there too), and the directory
    # refresh at the login (the account locked, with its savepoint: 3; nothing changed). The verified address is
    # found, nothing is mailed.
    with django_assert_num_queries(36):
        response = client.get(reverse("ent_oidc_callback", args=["ent"]), {"code": "c", "state": state})

    _assert_in_the_back_office(client, response, user)
    assert SocialAccount.objects.get(provider="ent", uid="sophie.gestion").user == user
