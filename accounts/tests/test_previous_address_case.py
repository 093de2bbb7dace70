"""The addresses an account had before a change (``PreviousEmailAddress``), stored and searched as every other address
is (``accounts.services.normalize_email``: the mailbox the mail reaches, in lower case).

- A capital alone was never missed: the back office's search is case-insensitive (Django's ``icontains``), whichever
  side has it. Kept here as a guard.
- What was missed: the other spellings of the same mailbox. ``change_email`` kept the old address as the account had
  stored it (before accounts 0015/0016, capitals, an ``xn--`` domain, full-width letters; an address 0016 left as it
  was), and the search took the helpdesk's words as typed: « jean.dupont@xn--cole-9oa.fr » (how the directory and
  some mail clients write it) did not find a candidate who had « jean.dupont@école.fr », nor the reverse. The old
  address is now stored normalised, and an address in the search is read normalised; accounts 0018 rewrites the rows
  kept before (the migrations 0015 and 0016 did every other address, not these).
- The same mailbox in another spelling is no change of address: no previous address kept for it.
"""

import importlib

import pytest
from django.apps import apps as django_apps
from django.urls import reverse

from accounts.models import PreviousEmailAddress, User
from accounts.services import change_email
from accounts.tests.factories import CandidateUserFactory, StaffFactory

pytestmark = pytest.mark.django_db

ACCOUNTS = reverse("admin:accounts_candidateaccount_changelist")
MAILBOX = "jean.dupont@école.fr"
ASCII_FORM = "jean.dupont@xn--cole-9oa.fr"  # the same mailbox, as the directory and some mail clients write it
# Spellings an older version stored, and the form addresses are stored in.
OLD_SPELLINGS = {
    "capitals": ("Jean.Dupont@Example.org", "jean.dupont@example.org"),
    "ASCII form of the domain": ("Jean.Dupont@XN--COLE-9OA.FR", MAILBOX),
    "full-width letters": ("jean.dupont@ｅｘａｍｐｌｅ.org", "jean.dupont@example.org"),
}


def _stored_as(user: User, email: str) -> None:
    """The account's address as an older version stored it: the raw value, written past every service."""
    User.objects.filter(pk=user.pk).update(email=email)
    user.refresh_from_db()


def _previous(user: User) -> list[str]:
    return list(PreviousEmailAddress.objects.filter(user=user).values_list("email", flat=True))


@pytest.mark.parametrize("spelling", list(OLD_SPELLINGS))
def test_the_previous_address_is_kept_as_addresses_are_stored(campaign, spelling):
    old, stored = OLD_SPELLINGS[spelling]
    account = CandidateUserFactory(campaign=campaign)
    _stored_as(account, old)

    assert change_email(user=account, new_email="nouvelle@example.org", actor=account) is True

    assert _previous(account) == [stored]


def test_the_same_mailbox_in_another_spelling_is_no_previous_address(campaign):
    account = CandidateUserFactory(campaign=campaign)
    _stored_as(account, ASCII_FORM)

    assert change_email(user=account, new_email=MAILBOX, actor=account) is True

    account.refresh_from_db()
    assert account.email == MAILBOX
    assert _previous(account) == []


@pytest.fixture
def moved(campaign):
    """A candidate who left jean.dupont@école.fr, and one who left jean.dupont@example.org."""
    accounts = {}
    for old in (MAILBOX, "jean.dupont@example.org"):
        account = CandidateUserFactory(campaign=campaign, email=old)
        change_email(user=account, new_email=f"nouvelle.{account.pk}@example.org", actor=account)
        accounts[old] = account
    return accounts


@pytest.mark.parametrize(
    ("typed", "old"),
    [
        ("Jean.Dupont@Example.ORG", "jean.dupont@example.org"),  # capitals: found before too (icontains)
        (ASCII_FORM, MAILBOX),
        ("JEAN.DUPONT@XN--COLE-9OA.FR", MAILBOX),
        ("jean.dupont@ｅｘａｍｐｌｅ.org", "jean.dupont@example.org"),
        (f'"{ASCII_FORM}"', MAILBOX),  # a quoted word, as Django's search reads it
    ],
)
def test_the_helpdesk_finds_the_previous_address_in_any_spelling_of_the_mailbox(
    client, candidates_manager, moved, typed, old
):
    client.force_login(candidates_manager)

    response = client.get(ACCOUNTS, {"q": typed})

    assert [account.pk for account in response.context["cl"].result_list] == [moved[old].pk]
    assert f"{old} (" in response.content.decode()  # the column saying which previous address matched


def _migration():
    return importlib.import_module("accounts.migrations.0018_normalize_previous_email_addresses")


def test_the_migration_normalises_the_previous_addresses_kept_before(campaign):
    candidate = CandidateUserFactory(campaign=campaign)
    staff = StaffFactory()
    rows = {
        old: PreviousEmailAddress.objects.create(user=candidate, email=old).pk for old, _ in OLD_SPELLINGS.values()
    }
    staff_row = PreviousEmailAddress.objects.create(user=staff, email="Sophie.Gestion@XN--COLE-9OA.FR").pk
    untouched = PreviousEmailAddress.objects.create(user=candidate, email="deja@example.org").pk

    _migration().normalize_previous_addresses(django_apps, None)
    _migration().normalize_previous_addresses(django_apps, None)  # idempotent

    stored = dict(PreviousEmailAddress.objects.values_list("pk", "email"))
    assert {old: stored[pk] for old, pk in rows.items()} == dict(OLD_SPELLINGS.values())
    assert stored[staff_row] == "sophie.gestion@école.fr"
    assert stored[untouched] == "deja@example.org"
