"""Addresses stored before addresses were normalised (``accounts.services.normalize_email``), in the spellings
the lookups no longer meet: an internationalised domain in its ASCII form (``xn--``, as the LDAP directory gives it),
a decomposed accent, full-width letters. Accounts 0016 rewrites them (a row that would take another's address is left
as it was), so such an account logs in by address and gets its « J'ai oublié mes identifiants » link again; the
directory's staff addresses are stored in the same form from now on (``accounts.directory``)."""

import importlib
import re

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import directory
from accounts.directory import DirectoryPerson
from accounts.directory_refresh import refresh_staff_from_directory
from accounts.models import User
from accounts.tests.factories import CandidateUserFactory, StaffFactory
from accounts.tests.personas import PASSWORD
from ecandidat.models import OutboundEmail, StaffDirectoryChange

pytestmark = pytest.mark.django_db

ASCII_FORM = "marie.dupont@xn--cole-9oa.fr"  # how the directory, and some mail clients, write école.fr
MAILBOX = "marie.dupont@école.fr"
DECOMPOSED = "paul.martin@e\u0301cole.fr"  # "e" + COMBINING ACUTE ACCENT
FULL_WIDTH = "jean.petit@ｅｘａｍｐｌｅ.org"  # full-width letters (U+FF45…)


def _migration():
    return importlib.import_module("accounts.migrations.0016_normalize_email_addresses")


def _stored_as(user: User, email: str) -> None:
    """The account as an older version stored it: the raw value, written past every service."""
    User.objects.filter(pk=user.pk).update(email=email)
    EmailAddress.objects.filter(user=user).update(email=email)


def _addresses(user: User) -> tuple[str, list[str]]:
    user.refresh_from_db()
    return user.email, list(EmailAddress.objects.filter(user=user).values_list("email", flat=True))


def test_the_migration_rewrites_the_old_spellings_and_leaves_a_conflict_as_it_was(campaign):
    ascii_form = CandidateUserFactory(campaign=campaign)
    _stored_as(ascii_form, ASCII_FORM)
    decomposed = CandidateUserFactory(campaign=campaign)
    _stored_as(decomposed, DECOMPOSED)
    full_width = CandidateUserFactory(campaign=campaign)
    _stored_as(full_width, FULL_WIDTH)
    staff = StaffFactory(from_directory=True)
    _stored_as(staff, "Sophie.Gestion@xn--cole-9oa.fr")  # the directory's spelling, capitals included
    # The same mailbox twice in the campaign: the first is already normalised, its twin is left as it was (the
    # campaign's unique address, and allauth's unique verified address).
    first = CandidateUserFactory(campaign=campaign, email="zoe@école.fr")
    twin = CandidateUserFactory(campaign=campaign)
    _stored_as(twin, "zoe@xn--cole-9oa.fr")
    untouched = CandidateUserFactory(campaign=campaign)

    with CaptureQueriesContext(connection) as queries:
        _migration().normalize_addresses(django_apps, None)

    assert _addresses(ascii_form) == (MAILBOX, [MAILBOX])
    assert _addresses(decomposed) == ("paul.martin@école.fr", ["paul.martin@école.fr"])
    assert _addresses(full_width) == ("jean.petit@example.org", ["jean.petit@example.org"])
    assert _addresses(staff) == ("Sophie.Gestion@école.fr", ["sophie.gestion@école.fr"])
    assert _addresses(first) == ("zoe@école.fr", ["zoe@école.fr"])
    assert _addresses(twin) == ("zoe@xn--cole-9oa.fr", ["zoe@xn--cole-9oa.fr"])
    assert _addresses(untouched) == (untouched.email, [untouched.email])
    # Only the rows that change are written: 4 addresses and 4 accounts, and the twin's 2 attempts.
    updates = [query for query in queries.captured_queries if query["sql"].startswith("UPDATE")]
    assert len(updates) == 10

    with CaptureQueriesContext(connection) as queries:
        _migration().normalize_addresses(django_apps, None)  # idempotent: only the twin is tried again
    assert len([query for query in queries.captured_queries if query["sql"].startswith("UPDATE")]) == 2


def test_an_account_stored_with_the_ascii_domain_logs_in_by_address_once_migrated(
    client, campaign, django_assert_num_queries
):
    account = CandidateUserFactory(campaign=campaign)
    _stored_as(account, ASCII_FORM)
    _migration().normalize_addresses(django_apps, None)

    # savepoint, the address's accounts (one query), the site, the account, its campaign, a validated address?, a
    # second factor?, the session (exists? savepoint, insert, release), the last login, the dossier's SIS import
    # (savepoint, read, release), the login history (content type, row), release, the session saved (3)
    with django_assert_num_queries(21):
        response = client.post(reverse("account_login"), {"login": MAILBOX, "password": PASSWORD})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(account.pk)


def test_an_account_stored_with_the_ascii_domain_gets_its_link_once_migrated(
    client, campaign, mailoutbox, django_capture_on_commit_callbacks, django_assert_num_queries
):
    account = CandidateUserFactory(campaign=campaign)
    _stored_as(account, ASCII_FORM)
    _migration().normalize_addresses(django_apps, None)

    # savepoint, the address's accounts (one query), allauth's reads of the account's addresses (2), the account's
    # campaign, the outbox row, release
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(8):
        response = client.post(reverse("account_reset_password"), {"email": ASCII_FORM})

    assert response.status_code == 302
    row = OutboundEmail.objects.get()
    assert (row.code, row.to) == ("CPT_MIN_ID_OUBLIE", MAILBOX)
    assert account.username in mailoutbox[0].body
    assert re.search(r"https?://\S+/password/reset/key/\S+", mailoutbox[0].body)


def test_a_directory_staff_account_gets_its_link_once_migrated(client, mailoutbox, django_capture_on_commit_callbacks):
    staff = StaffFactory(from_directory=True)
    _stored_as(staff, "Sophie.Gestion@xn--cole-9oa.fr")
    _migration().normalize_addresses(django_apps, None)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": "sophie.gestion@école.fr"})

    row = OutboundEmail.objects.get()
    assert (row.code, row.to) == ("CPT_MIN_ID_OUBLIE", "sophie.gestion@école.fr")
    assert staff.username in mailoutbox[0].body


# --- the directory's addresses, from now on ---


def test_the_directory_address_is_recorded_as_the_mailbox():
    staff = StaffFactory(from_directory=True, email="Sophie.Gestion@xn--cole-9oa.fr", verified_email=False)

    assert directory.record_directory_address(user=staff)

    assert list(EmailAddress.objects.filter(user=staff).values_list("email", "verified", "primary")) == [
        ("sophie.gestion@école.fr", True, True)
    ]


def test_an_address_recorded_before_in_the_ascii_form_is_the_same_address():
    """The account's row kept in the ``xn--`` form (before 0016) is rewritten, not deleted and made again."""
    staff = StaffFactory(from_directory=True, email="sophie.gestion@xn--cole-9oa.fr")
    row = EmailAddress.objects.get(user=staff)

    directory.record_directory_address(user=staff)

    assert list(EmailAddress.objects.filter(user=staff).values_list("pk", "email")) == [
        (row.pk, "sophie.gestion@école.fr")
    ]


def test_the_directory_entry_reads_the_domain_as_the_mailbox():
    entry = {"attributes": {"uid": ["sophie.gestion"], "mail": ["Sophie.Gestion@xn--cole-9oa.fr"]}}

    assert directory._person(entry).email == "Sophie.Gestion@école.fr"  # the directory's capitals kept


def test_the_nightly_refresh_sees_no_change_in_a_migrated_staff_address(mocker, settings):
    settings.LDAP_URL = "ldap://directory.invalid"
    staff = StaffFactory(username="sophie.gestion", from_directory=True, first_name="Sophie", last_name="GESTION")
    _stored_as(staff, "Sophie.Gestion@xn--cole-9oa.fr")
    _migration().normalize_addresses(django_apps, None)
    entry = {
        "attributes": {
            "uid": ["sophie.gestion"],
            "mail": ["Sophie.Gestion@xn--cole-9oa.fr"],
            "givenName": ["Sophie"],
            "sn": ["GESTION"],
        }
    }
    mocker.patch.object(directory, "look_up", return_value={"sophie.gestion": (directory._person(entry), True)})

    outcome = refresh_staff_from_directory(max_deactivations=10)

    assert outcome.refreshed == []
    assert not StaffDirectoryChange.objects.exists()
    staff.refresh_from_db()
    assert staff.email == "Sophie.Gestion@école.fr"


def test_a_refresh_giving_the_ascii_form_stores_the_mailbox(mocker, settings):
    settings.LDAP_URL = "ldap://directory.invalid"
    staff = StaffFactory(username="sophie.gestion", from_directory=True, first_name="Sophie", last_name="GESTION")
    person = DirectoryPerson(
        "sophie.gestion", directory.directory_spelling("Sophie.Gestion@xn--cole-9oa.fr"), "Sophie", "GESTION", ()
    )
    mocker.patch.object(directory, "look_up", return_value={"sophie.gestion": (person, True)})

    refresh_staff_from_directory(max_deactivations=10)

    assert _addresses(staff) == ("Sophie.Gestion@école.fr", ["sophie.gestion@école.fr"])
