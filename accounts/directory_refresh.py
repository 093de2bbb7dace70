"""The nightly refresh of staff accounts from the LDAP directory (eCandidat BATCH_MAJ_GESTIONNAIRE, run by
``manage.py refresh_staff_directory``).

Which accounts: every active staff account (``is_staff``, no campaign) that is not a superuser. The directory's uid
is the username of the accounts it created (``accounts.directory.create_staff_from_directory``), and there is no
other mark, so each one is looked up by username:

- the directory lists it as staff (``LDAP_STAFF_FILTER``): names and address are brought in line (an empty value in
  the directory never blanks the account's); a new address becomes the account's verified allauth address
  (``directory.record_directory_address``), the old one goes;
- the directory knows the uid but no longer as staff (former staff, students…): the account is deactivated;
- the directory does not know the uid at all: the account is deactivated when it was made from the directory
  (``User.from_directory``), even if its owner has since chosen a password by reset, or when it has no usable
  password (an account nobody can log in to but through the ENT); a local account typed in the back office, which
  has a password, is never touched (``directory.deactivate_when_absent``, the rule of an ENT login too).

A directory entry with several uids is the person under each of them (``directory.look_up``): an account named by
any one of them is that person's.

Superusers and candidates are never touched. Accounts are deactivated (``is_active`` False), never deleted.

Safety: the directory is read in full before anything is written, and a directory that does not answer or answers
with an error changes nothing. More than ``max_deactivations`` (``STAFF_DIRECTORY_MAX_DEACTIVATIONS``) accounts to
deactivate in one run looks like a misconfiguration ("everyone left"): then none is deactivated (the refreshes
still happen) and the run says so. Each change writes a ``StaffDirectoryChange`` row with the batch as actor, in the
same transaction, one account per transaction. An account the database refuses to write (an error of the database,
or of its driver: psycopg2's ValueError for a NUL in a text) is rolled back alone, logged and counted
(``RefreshOutcome.failures``): the others are still refreshed, and the leavers still deactivated. A directory value
holding a control character is not read at all (``directory._fitting``): the account keeps its value.
"""

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from accounts import directory
from accounts.models import User
from ecandidat.models import StaffDirectoryChange

logger = logging.getLogger(__name__)

BATCH = "refresh_staff_directory"
REFRESHED_FIELDS = ("email", "first_name", "last_name")
NO_LONGER_STAFF = _("no longer staff in the directory")
NOT_IN_DIRECTORY = _("not in the directory")


@dataclass
class RefreshOutcome:
    """What a run did (or, dry, would do). ``directory_error`` set: the directory failed and nothing changed.
    ``deactivations_refused``: how many deactivations the cap stopped (none of them was made). ``failures``: the
    accounts the database refused to write (each "username: error"), nothing written for them."""

    checked: int = 0
    refreshed: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    local_kept: int = 0
    ambiguous_kept: int = 0
    deactivations_refused: int = 0
    directory_error: str = ""
    failures: list[str] = field(default_factory=list)


def directory_staff_accounts():
    """The accounts the refresh looks at: active staff, not superusers, not candidates."""
    return User.objects.filter(is_active=True, is_staff=True, is_superuser=False, campaign__isnull=True)


def refresh_staff_from_directory(
    *, max_deactivations: int, dry_run: bool = False, limit: int | None = None, batch: str = BATCH
) -> RefreshOutcome:
    """Refresh every staff account from the directory and deactivate those it no longer lists (module docstring).

    ``dry_run``: the same decisions, nothing written. ``limit``: at most this many accounts, by id. Raises nothing
    for a directory outage: the outcome carries the error and nothing was changed.
    """
    outcome = RefreshOutcome()
    accounts = list(
        directory_staff_accounts().order_by("id")[:limit].only("id", "username", "password", "from_directory")
    )
    outcome.checked = len(accounts)
    try:
        entries = directory.look_up([account.username for account in accounts])
    except directory.DirectoryUnavailable as exc:
        logger.warning("%s: directory unavailable, nothing changed: %s", batch, exc)
        outcome.directory_error = str(exc)
        return outcome

    # The comments are history: in the institution's language, whatever the language active when the batch runs (a
    # worker that last served an English request).
    with translation.override(settings.LANGUAGE_CODE):
        no_longer_staff, not_in_directory = str(NO_LONGER_STAFF), str(NOT_IN_DIRECTORY)
    to_refresh: list[tuple[int, directory.DirectoryPerson]] = []
    to_deactivate: list[tuple[int, str]] = []
    for account in accounts:
        known = entries.get(directory.uid_key(account.username))
        if known is not None and known[0] is None:
            # Two directory entries share this uid: no decision about the account (neither refreshed nor deactivated).
            logger.warning("%s: uid %s is ambiguous in the directory, account left as it is", batch, account.username)
            outcome.ambiguous_kept += 1
            continue
        person, is_staff = known or (None, False)
        if person is not None and is_staff:
            to_refresh.append((account.pk, person))
        elif person is not None:
            to_deactivate.append((account.pk, no_longer_staff))
        elif directory.deactivate_when_absent(account):  # the ENT login's rule too (directory.refresh_staff)
            to_deactivate.append((account.pk, not_in_directory))
        else:
            outcome.local_kept += 1
    if len(to_deactivate) > max_deactivations:
        logger.error(
            "%s: %s accounts to deactivate, more than the %s allowed: none deactivated",
            batch,
            len(to_deactivate),
            max_deactivations,
        )
        outcome.deactivations_refused = len(to_deactivate)
        to_deactivate = []

    usernames = {account.pk: account.username for account in accounts}
    for user_id, person in to_refresh:
        if username := _each(outcome, usernames[user_id], _refresh, user_id, person, dry_run=dry_run, batch=batch):
            outcome.refreshed.append(username)
    for user_id, reason in to_deactivate:
        if username := _each(outcome, usernames[user_id], _deactivate, user_id, reason, dry_run=dry_run, batch=batch):
            outcome.deactivated.append(username)
    return outcome


def _each(outcome: RefreshOutcome, username: str, change, *args, batch: str, **kwargs) -> str:
    """``change(*args, …)`` for one account, in its own transaction (a savepoint inside a caller's): a write the
    database refuses (a value longer than its column, a constraint; a value its driver refuses, psycopg2's ValueError
    for a NUL) is rolled back, logged and counted in ``outcome.failures``, and the run goes on with the next account;
    it stopped there, every night (the later accounts never refreshed, and nobody deactivated)."""
    try:
        return change(*args, batch=batch, **kwargs)
    except (DatabaseError, ValueError) as error:
        logger.exception("%s: staff %s not changed, the database refused it", batch, username)
        outcome.failures.append(f"{username}: {error}".strip())
        return ""


def _current(user_id: int, *, lock: bool) -> User | None:
    """The account (locked for a real run) if it is still one the refresh may change (not made superuser or
    deactivated since it was read)."""
    accounts = directory_staff_accounts()
    return (accounts.select_for_update(of=("self",)) if lock else accounts).filter(pk=user_id).first()


def _refresh(user_id: int, person: directory.DirectoryPerson, *, dry_run: bool, batch: str) -> str:
    """Names and address from the directory; returns the username when something changed (or would)."""
    with transaction.atomic():
        user = _current(user_id, lock=not dry_run)
        if user is None:
            return ""
        changes = {
            name: [getattr(user, name), getattr(person, name)]
            for name in REFRESHED_FIELDS
            if getattr(person, name) and getattr(user, name) != getattr(person, name)
        }
        if not changes:
            return ""
        if not dry_run:
            for name, (_before, after) in changes.items():
                setattr(user, name, after)
            user.save(update_fields=list(changes))
            if "email" in changes:
                directory.record_directory_address(user=user)
            StaffDirectoryChange.objects.create(
                user=user, kind=StaffDirectoryChange.Kind.REFRESHED, changes=changes, batch=batch
            )
            logger.info("%s: staff %s refreshed (%s)", batch, user.username, ", ".join(changes))
        return user.username


def _deactivate(user_id: int, reason: str, *, dry_run: bool, batch: str) -> str:
    """``is_active`` False (the account and its history stay); returns the username."""
    with transaction.atomic():
        user = _current(user_id, lock=not dry_run)
        if user is None:
            return ""
        if not dry_run:
            user.is_active = False
            user.save(update_fields=["is_active"])
            StaffDirectoryChange.objects.create(
                user=user,
                kind=StaffDirectoryChange.Kind.DEACTIVATED,
                changes={"is_active": [True, False]},
                comment=reason,
                batch=batch,
            )
            logger.info("%s: staff %s deactivated: %s", batch, user.username, reason)
        return user.username
