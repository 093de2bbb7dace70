"""Staff from the university's LDAP directory (supann schema), through ldap3.

- ``find_person(uid=…)`` / ``find_person(email=…)``: one person of ``LDAP_PEOPLE_BASE`` who matches
  ``LDAP_STAFF_FILTER`` (staff, faculty, employee affiliations by default).
- ``create_staff_from_directory``: what a central administrator uses to add a staff member (``manage.py
  staff_from_directory <uid or mail>``): the account takes the directory's uid, names and address.
- ``staff_for_login``: at each ENT login of a staff member (CAS or OpenID Connect), the staff account is refreshed
  from the directory, and deactivated when the directory no longer lists the person as staff (a uid the directory
  does not know at all: ``deactivate_when_absent``, the nightly refresh's rule too).
- ``link_ent_identity``: at each ENT login (CAS or OpenID Connect) that names a staff account by its directory uid,
  the account refreshed (``staff_for_login``) and, the first time, given that identity (one rule for both
  protocols). A new identity whose login the directory lists as staff but names no staff account by username
  (``staff_for_directory_login``): an alias logs the entry's staff account in; without a staff account the login is
  refused with a message, never offered the candidates' sign-up.
- ``look_up``: many uids at once, for the nightly refresh of every staff account (``accounts.directory_refresh``).
- ``record_directory_address``: the address the directory gives an account is its verified, primary allauth address
  (the directory is the institution's own authority on its staff's addresses): the account's first ENT login asks
  for no confirmation by mail. Called by the creation and by both refreshes (ENT login, nightly). The rule is
  ``accounts.services.record_staff_address``, which the back office applies to an address the central office types.

An entry may have several ``uid`` values (a login renamed, the old one kept as an alias; an accented uid and its ASCII
spelling): the person is found under each of them, and is, for an account, the uid that names it (the one looked up),
not the entry's first value. uids compare as the directory compares them (``uid_key``: Unicode compatibility form,
spaces, case), not as Python strings: ``rene\u0301`` typed ``rené``, or a uid stored with a trailing space, is the
same person at creation, at an ENT login and at the nightly refresh.

A directory value holding a NUL or another control character is never read (``_fitting``), as an over-long one: the
database refuses it, and one such entry stopped every night's refresh and made its owner's ENT login a 500.

Without ``LDAP_URL`` there is no directory: staff are created by hand and CAS logs existing staff in as they are.
"""

import dataclasses
import logging
import re
import ssl
import unicodedata
import warnings
from urllib.parse import urlsplit

from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from accounts.oidc import PROVIDER_ID as ENT_PROVIDER_ID  # the ENT's allauth provider, CAS (accounts.cas) as OIDC
from accounts.services import normalize_email, record_staff_address
from ecandidat.exceptions import BusinessRuleError, FieldRuleError
from ecandidat.models import StaffDirectoryChange

# ldap3's last release (2.9.1) still reads pyasn1 names that pyasn1 0.6.2+ marks as deprecated, at import time only;
# the warning is about ldap3's code, not ours.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "(tagMap|typeMap) is deprecated", DeprecationWarning)
    import ldap3
    import ldap3.core.exceptions
    import ldap3.utils.conv

logger = logging.getLogger(__name__)

ATTRIBUTES = ["uid", "mail", "givenName", "sn", "displayName", "eduPersonAffiliation", "supannEmpId"]
TIMEOUT_SECONDS = 5
STAFF_DEACTIVATED = gettext_lazy("This staff account is deactivated. Please contact the central administration.")
STAFF_NOT_LISTED = gettext_lazy(
    "The directory does not list this login as staff, so the ENT cannot open this account. "
    "Log in with the account's password."
)
STAFF_ACCOUNT_MISSING = gettext_lazy("Your staff account does not exist yet: ask the central administration for it.")
STAFF_LOGIN_AMBIGUOUS = gettext_lazy(
    "Several staff accounts match this ENT login. Please contact the central administration."
)
ENT_IDENTITY_OF_CANDIDATE = gettext_lazy(
    "The ENT identity “%(uid)s” is already linked to the candidate account %(number)s (%(email)s): every ENT login "
    "of this person would open that candidate account, not the staff account. A superuser first removes that identity "
    "from the candidate account (back office, “Social accounts”: the candidate account and its dossiers stay), then "
    "adds the staff member."
)
# NUL and the other C0 control characters, and DEL: PostgreSQL refuses a NUL in a text (psycopg2's ValueError), and
# no name, address or login of a person holds any of them.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class StaffDeactivated(Exception):
    """A staff account that the directory (or an administrator) has deactivated. ``message``: what the person is
    told."""

    message = STAFF_DEACTIVATED


class NotStaffInDirectory(StaffDeactivated):
    """An ENT login refused for an account that stays active: a superuser whose uid the directory knows, but not as
    staff (``refresh_staff``). The account is not deactivated, so the message says what is true: log in with its
    password."""

    message = STAFF_NOT_LISTED


class StaffAccountMissing(StaffDeactivated):
    """An ENT login the directory lists as staff (``LDAP_STAFF_FILTER``) for whom no staff account exists, under any of
    the entry's uids (``staff_for_directory_login``): refused, so that no candidate account is created with this ENT
    identity (the staff account added later would never get it, and the person would have no way in)."""

    message = STAFF_ACCOUNT_MISSING


class StaffLoginAmbiguous(StaffDeactivated):
    """An ENT login the directory lists as staff whose entry's uids name two staff accounts: none is taken."""

    message = STAFF_LOGIN_AMBIGUOUS


class EntIdentityOfCandidate(FieldRuleError):
    """``create_staff_from_directory`` refused: an ENT identity named by one of the entry's uids is a candidate's (a
    staff member who signed up through the ENT before their staff account existed). The message, in the active
    language, names the candidate account (number, address) and says how to resolve it; ``field``: the admin form's
    ``identifier``."""

    def __init__(self, *, uid: str, candidate: User) -> None:
        self.uid = uid
        self.candidate = candidate
        message = str(ENT_IDENTITY_OF_CANDIDATE) % {
            "uid": uid,
            "number": candidate.numero_dossier or candidate.username,
            "email": candidate.email,
        }
        super().__init__(message, field="identifier")


class DirectoryUnavailable(Exception):
    """The directory did not answer (down, refused the bind): nothing was changed."""


@dataclasses.dataclass(frozen=True)
class DirectoryPerson:
    """``uid``: the uid naming the person for an account (``uid_spelling``); ``uids``: every uid of the entry, so
    spelled (an account named by any of them is this person's, ``create_staff_from_directory``), not compared: the
    same person whichever entry value named them; ``directory_uids``: the same uids as the directory stores them
    (``rene\u0301``, a trailing space), which named the accounts added before ``uid_spelling``."""

    uid: str
    email: str
    first_name: str
    last_name: str
    affiliations: tuple[str, ...]
    uids: tuple[str, ...] = dataclasses.field(default=(), compare=False)
    directory_uids: tuple[str, ...] = dataclasses.field(default=(), compare=False)


def is_configured() -> bool:
    return bool(settings.LDAP_URL)


def _values(entry, name: str) -> list[str]:
    values = entry["attributes"].get(name) or []
    if isinstance(values, list | tuple):
        return [str(value) for value in values]
    return [str(values)]


def _value(entry, name: str) -> str:
    values = _values(entry, name)
    return values[0] if values else ""


def uid_spelling(uid: str) -> str:
    """A uid as an account is named by it: the directory's spelling, in Unicode compatibility form (NFKC: ``e`` and a
    combining accent are ``é``), without its leading and trailing spaces, inner spaces collapsed to one, case kept.
    The directory's ``uid`` (caseIgnoreMatch, RFC 4518's preparation) sees no difference there either."""
    return " ".join(part for part in unicodedata.normalize("NFKC", uid).split(" ") if part)


def uid_key(uid: str) -> str:
    """How uids compare, approximating the directory's ``uid`` (caseIgnoreMatch): in ``uid_spelling`` (Unicode form,
    spaces) and whatever their case, as a login matches a staff account's username (``staff_for_login``). Used on
    every path, so that a uid the directory finds is never one this side takes for another: ``look_up`` answers under
    these keys."""
    return " ".join(uid_spelling(uid).split()).lower()


def _matching_uids(entry, asked: set[str]) -> dict[str, str]:
    """The entry's uids that are among ``asked`` (keys, ``uid_key``), each key with the uid as an account is named by
    it (``uid_spelling``)."""
    return {key: uid_spelling(uid) for uid in _values(entry, "uid") if (key := uid_key(uid)) in asked}


def _ldap3():
    """The ldap3 module (imported at the top)."""
    return ldap3


def connect(*, timeout: int = TIMEOUT_SECONDS, bind: bool = True) -> "ldap3.Connection":
    """The one way to the directory (the lookups here and the connection test, ``accounts.connectivity``): a read-only
    connection to ``LDAP_URL`` as ``LDAP_BIND_DN``, whose TLS checks the directory's certificate and name, against the
    system's CAs or the ``LDAP_CA_FILE`` bundle (an ``ldaps://`` directory, or an ``ldap://`` one with
    ``LDAP_START_TLS``, which starts TLS before the bind). ldap3's default accepts any certificate: a man in the middle
    would read the bind password and answer as the directory (a staff member's address, then a password reset).

    ``bind``: bound (a refused bind raises ``LDAPBindError``); otherwise opened (TLS started), the caller binds. Raises
    an ``LDAPException`` when the directory cannot be reached or trusted (a missing ``LDAP_CA_FILE`` too)."""
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=settings.LDAP_CA_FILE or None)
    # A referral is never followed (``allowed_referral_hosts``, ``auto_referrals``): ldap3's default followed any, to
    # any host, binding there as LDAP_BIND_DN with its password, and took that host's answer as the directory's. A
    # referral is then an answer that is not a success (``DirectoryUnavailable``).
    server = ldap3.Server(
        settings.LDAP_URL, connect_timeout=timeout, get_info=ldap3.NONE, tls=tls, allowed_referral_hosts=[]
    )
    start_tls = bool(settings.LDAP_START_TLS) and not server.ssl
    if bind:
        auto_bind = ldap3.AUTO_BIND_TLS_BEFORE_BIND if start_tls else ldap3.AUTO_BIND_NO_TLS
    else:
        auto_bind = ldap3.AUTO_BIND_NONE
    connection = ldap3.Connection(
        server,
        user=settings.LDAP_BIND_DN or None,
        password=settings.LDAP_BIND_PASSWORD or None,
        auto_bind=auto_bind,
        receive_timeout=timeout,
        read_only=True,
        auto_referrals=False,
    )
    if not bind:
        try:
            connection.open()
            if start_tls:
                connection.start_tls()
        except BaseException:
            connection.unbind()
            raise
    return connection


def directory_spelling(email: str) -> str:
    """A staff account's ``User.email``: the address the directory gives, its domain as ``normalize_email`` reads it
    (the directory writes an internationalised domain in its ASCII form, ``xn--cole-9oa.fr``: the account keeps
    ``école.fr``, the same mailbox), the local part as the directory spells it (capitals kept). So a login by address,
    normalised, finds the account (case-insensitive), and the refreshes, which compare with the directory's address
    read through this too, see no change where the mailbox is the same."""
    local, at, _domain = email.strip().rpartition("@")
    if not at:
        return email
    return f"{local}@{normalize_email(email).rpartition('@')[2]}"


def _fitting(value: str, *, field: str, uid: str, attribute: str) -> str:
    """``value``, or "" when it is longer than the account's ``field`` takes (``User._meta``) or holds a NUL or another
    control character (``CONTROL_CHARACTERS``): the database refused it, a 500 at the staff member's ENT login and a
    nightly refresh stopped at that account. Never cut nor cleaned: a cut address is someone else's mailbox, a cut
    name not the person's. "" is what an entry without the attribute gives: the account keeps what it has (neither
    refresh blanks a value), and the staff member still logs in."""
    if CONTROL_CHARACTERS.search(value):
        logger.warning("directory entry %r: its %s holds a control character; not read", uid, attribute)
        return ""
    limit = getattr(User._meta.get_field(field), "max_length", None)
    if limit is not None and len(value) > limit:
        logger.warning(
            "directory entry %s: its %s has %d characters, more than the %d an account takes; not read",
            uid,
            attribute,
            len(value),
            limit,
        )
        return ""
    return value


def _person(entry, *, uid: str | None = None) -> DirectoryPerson:
    """The person of a directory entry, named by ``uid`` (one of the entry's uids, the one looked up) or, without it,
    by the entry's first uid (``uid_spelling``). A value longer than the account's field, or holding a control
    character, is not read (``_fitting``); a uid holding one names nobody ("")."""
    uids = tuple(spelled for value in _values(entry, "uid") if (spelled := uid_spelling(value)))
    uid = (uids[0] if uids else "") if uid is None else uid
    if CONTROL_CHARACTERS.search(uid):
        logger.warning("directory entry %r: its uid holds a control character; not read", uid)
        uid = ""
    return DirectoryPerson(
        uid=uid,
        uids=tuple(value for value in uids if not CONTROL_CHARACTERS.search(value)),
        directory_uids=tuple(
            value for value in _values(entry, "uid") if value.strip() and not CONTROL_CHARACTERS.search(value)
        ),
        email=_fitting(directory_spelling(_value(entry, "mail")), field="email", uid=uid, attribute="mail"),
        first_name=_fitting(_value(entry, "givenName"), field="first_name", uid=uid, attribute="givenName"),
        last_name=_fitting(_value(entry, "sn"), field="last_name", uid=uid, attribute="sn"),
        affiliations=tuple(str(a) for a in entry["attributes"].get("eduPersonAffiliation") or []),
    )


def _entries(connection) -> list:
    return [e for e in connection.response or [] if e.get("type") == "searchResEntry"]


def _answered(connection, *, accepted: tuple[int, ...] = (0,)) -> list:
    """The entries of the search ``connection`` has just made, when the directory answered it in full; otherwise
    ``DirectoryUnavailable``: an error (a wrong base is "no such object", not "nobody"), a referral (never followed,
    ``connect``), or a partial answer, with a continuation reference (``searchResRef``: a part of the base that
    another server holds, whose people the answer does not list). ``accepted``: the result codes besides success
    that the caller reads."""
    result = connection.result or {}
    if result.get("result") not in accepted:
        raise DirectoryUnavailable(f"search failed: {result.get('description')} {result.get('message')}".strip())
    if any(item.get("type") == "searchResRef" for item in connection.response or []):
        raise DirectoryUnavailable("partial answer: continuation reference")
    return _entries(connection)


SIZE_LIMIT_EXCEEDED = 4  # LDAP result code: more entries than the search's size_limit


def _search(filter_: str, *, uid: str | None = None) -> list[DirectoryPerson]:
    """The people ``filter_`` finds; ``uid``: the uid searched for, which names them (as the entry spells it,
    ``uid_spelling``), rather than the entry's first uid; an entry the directory matched by a rule of its own, none of
    whose uids ``uid_key`` takes for ``uid``, names nobody (``uid`` "", logged): an account named as typed would not
    be found again at its owner's ENT login (``look_up``), and would be deactivated as absent. At most two: a
    directory that stopped at two (size limit exceeded) is read as it is, two people, ambiguous. Raises
    DirectoryUnavailable when the directory does not answer the search in full (``_answered``), never "nobody"."""
    ldap3 = _ldap3()
    try:
        with connect() as connection:
            connection.search(settings.LDAP_PEOPLE_BASE, filter_, attributes=ATTRIBUTES, size_limit=2)
            entries = _answered(connection, accepted=(0, SIZE_LIMIT_EXCEEDED))
    except ldap3.core.exceptions.LDAPException as exc:
        raise DirectoryUnavailable(str(exc)) from exc
    if uid is None:
        return [_person(e) for e in entries]
    key = uid_key(uid)
    people = []
    for entry in entries:
        spelled = _matching_uids(entry, {key}).get(key, "")
        if not spelled:
            logger.warning("directory entry %s answers uid %r under no uid that matches it", entry.get("dn", ""), uid)
        people.append(_person(entry, uid=spelled))
    return people


LOOK_UP_CHUNK = 100  # uids per search: a filter of 100 alternatives stays far below any server's limits


def look_up(uids: list[str]) -> dict[str, tuple[DirectoryPerson | None, bool]]:
    """The people of ``LDAP_PEOPLE_BASE`` whose uid is one of ``uids``, by lower-cased uid (``uid_key``), each with
    whether ``LDAP_STAFF_FILTER`` matches them (staff now) or not (former staff, students…). A uid the directory does
    not know is absent; a uid that two entries share (ambiguous) maps to ``(None, …)``: known, but no answer.

    An entry with several uids answers under each one that was asked for, as the person named by that uid
    (``DirectoryPerson.uid``); one entry found twice (asked for in two chunks) is still one person. An entry the
    directory returns under none of the asked uids (``uid_key`` does not take any of its uids for one asked: the
    directory compared by a rule of its own) is logged, and each uid of its search that found nobody is then searched
    for on its own, over the same connection (a rare path): a uid whose own search returns an entry maps to
    ``(None, False)``, no answer (that person, or another the directory takes for them: not taken for gone); a uid
    whose own search returns nothing is absent, gone as ever (one such entry hid up to 99 leavers of its chunk).

    All or nothing, over one connection: raises DirectoryUnavailable when the directory does not answer, refuses the
    bind, or answers any search with an error (a wrong base is "no such object", not "nobody"), a referral or a
    continuation reference (a part of the base held elsewhere: its people would look gone), so that a caller
    deciding who left never decides from a partial answer.
    """
    ldap3 = _ldap3()
    escape = ldap3.utils.conv.escape_filter_chars
    found: dict[str, dict[str, DirectoryPerson]] = {}  # uid key -> {entry's dn: person}
    staff: set[str] = set()
    unanswered: set[str] = set()  # uid keys the directory answers, on their own, with an entry matching none

    def search(connection, filter_: str, attributes: list[str]) -> list:
        connection.search(settings.LDAP_PEOPLE_BASE, filter_, attributes=attributes)
        return _answered(connection)

    try:
        with connect() as connection:
            for start in range(0, len(uids), LOOK_UP_CHUNK):
                by_key = {uid_key(uid): uid for uid in uids[start : start + LOOK_UP_CHUNK]}
                asked = set(by_key)
                chunk = "".join(f"(uid={escape(uid)})" for uid in uids[start : start + LOOK_UP_CHUNK])
                unmatched = False
                for entry in search(connection, f"(|{chunk})", ATTRIBUTES):
                    matching = _matching_uids(entry, asked)
                    if not matching:
                        logger.warning("directory entry %s matches none of the uids asked for", entry.get("dn", ""))
                        unmatched = True
                    for key, uid in matching.items():
                        found.setdefault(key, {})[entry.get("dn", "")] = _person(entry, uid=uid)
                for entry in search(connection, f"(&(|{chunk}){settings.LDAP_STAFF_FILTER})", ["uid"]):
                    staff.update(_matching_uids(entry, asked))
                if unmatched:
                    unanswered.update(
                        key
                        for key in sorted(asked - found.keys())
                        if search(connection, f"(uid={escape(by_key[key])})", ["uid"])
                    )
    except ldap3.core.exceptions.LDAPException as exc:
        raise DirectoryUnavailable(str(exc)) from exc
    # An ambiguous uid (two entries) is no answer: None, and the caller decides nothing about that account.
    answers: dict[str, tuple[DirectoryPerson | None, bool]] = {
        uid: (next(iter(people.values())) if len(people) == 1 else None, uid in staff) for uid, people in found.items()
    }
    return {**dict.fromkeys(unanswered, (None, False)), **answers}


def find_person(*, uid: str | None = None, email: str | None = None) -> DirectoryPerson | None:
    """The staff member with this uid or this address, or None (unknown, not staff, or ambiguous). Found by uid, the
    person is named by that uid (as the directory spells it), whichever of the entry's uids comes first; found by
    address, by the entry's first uid."""
    if bool(uid) == bool(email):
        raise ValueError("find_person takes a uid or an email")
    escape = _ldap3().utils.conv.escape_filter_chars
    key = f"(uid={escape(uid)})" if uid else f"(mail={escape(email or '')})"
    people = _search(f"(&{key}{settings.LDAP_STAFF_FILTER})", uid=uid or None)
    return people[0] if len(people) == 1 else None


def _apply(user: User, person: DirectoryPerson) -> list[str]:
    changed = []
    for field, value in (("email", person.email), ("first_name", person.first_name), ("last_name", person.last_name)):
        if value and getattr(user, field) != value:
            setattr(user, field, value)
            changed.append(field)
    return changed


def record_directory_address(*, user: User) -> bool:
    """Make ``user.email``, as the directory has just given it, the account's verified and primary allauth
    ``EmailAddress`` (``accounts.services.record_staff_address``, the central office's rule too for an address typed
    in the back office): the account's first ENT login asks for no confirmation by mail, and the address the directory
    gave before goes. The directory's changes are in its own history, not the back office's. Called inside the
    writer's transaction. Returns whether the address is verified."""
    return record_staff_address(user=user)


def _record_addition(*, actor: User, user: User) -> None:
    """The account's first line of history in the back office (the users' admin), by ``actor``: « Ajouté depuis
    l'annuaire », in the institution's language whatever the request's."""
    with translation.override(settings.LANGUAGE_CODE):
        message = gettext("Added from the directory.")
    LogEntry.objects.create(
        user=actor,
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(user.pk),
        object_repr=str(user)[:200],
        action_flag=ADDITION,
        change_message=message,
    )


def create_staff_from_directory(*, identifier: str, actor: User | None) -> User:
    """Add a staff member found in the directory by uid or, when ``identifier`` has an @, by address.

    The account's username is the uid typed as the directory spells it (``uid_spelling``), even when the person's
    entry has another uid first; added by address, it is the entry's first uid. An entry none of whose uids
    ``uid_key`` takes for the one typed is refused (the account would not be found again at its owner's ENT login).
    The account has no usable password: the staff member logs in through CAS (or sets a password by reset). It is
    marked ``from_directory``, so the nightly refresh deactivates it when the person leaves the directory, password
    or not. Roles and scopes are given afterwards in the back office. The account's history (« Ajouté depuis
    l'annuaire ») names ``actor`` when there is one. Raises BusinessRuleError when the directory has no such staff
    member, or when a staff account (no campaign) is named by any of the entry's uids whatever its case, in
    ``uid_spelling`` or as the directory stores it (the account exists already: ``jean.dupont`` is ``jdupont``'s
    alias, ``Sophie.Gestion`` is ``sophie.gestion``, and an account added before ``uid_spelling`` is named
    ``rene\u0301`` or with the trailing space), EntIdentityOfCandidate (a BusinessRuleError) when an ENT identity
    named by one of the entry's uids is a candidate's (``_refuse_ent_identity_of_candidate``: nothing is created, the
    message names the candidate account), DirectoryUnavailable when the directory does not answer.
    """
    identifier = identifier.strip()
    person = find_person(email=identifier) if "@" in identifier else find_person(uid=identifier)
    if person is None or not person.uid:
        raise BusinessRuleError(f"The directory has no staff member {identifier!r}.")
    exists = BusinessRuleError(f"An account {person.uid!r} exists already.")
    named = Q()
    for uid in {person.uid, *person.uids, *person.directory_uids}:
        named |= Q(username__iexact=uid)
    existing = User.objects.filter(named, campaign__isnull=True)
    try:
        with transaction.atomic():
            if existing.exists():
                raise exists
            _refuse_ent_identity_of_candidate(person)
            user = User(username=person.uid, is_staff=True, is_active=True, from_directory=True)
            _apply(user, person)
            user.set_unusable_password()
            user.save()
            record_directory_address(user=user)
            if actor is not None:
                _record_addition(actor=actor, user=user)
    except IntegrityError:
        # Someone added the same person at the same moment (two « Ajouter depuis l'annuaire »): between the check and
        # the insert, their account was committed. Everything here is rolled back; the same answer as the check's.
        if existing.exists() or User.objects.filter(username=person.uid).exists():
            raise exists from None
        raise
    logger.info("staff %s created from the directory by %s", person.uid, getattr(actor, "username", "-"))
    return user


def _refuse_ent_identity_of_candidate(person: DirectoryPerson) -> None:
    """Raise EntIdentityOfCandidate when an ENT identity (the ``ent`` provider's, CAS or OpenID Connect) named by one
    of the person's uids, whatever its case, belongs to an account that is not staff (a candidate's): created anyway,
    the staff account would never get that identity (``link_ent_identity`` never moves one), and every ENT login of
    its owner would open the candidate account. Nothing is deleted nor detached here: the central office decides."""
    named = Q()
    for uid in {person.uid, *person.uids, *person.directory_uids}:
        named |= Q(uid__iexact=uid)
    taken = (
        SocialAccount.objects.filter(named, provider=ENT_PROVIDER_ID)
        .exclude(user__is_staff=True)
        .exclude(user__is_superuser=True)
        .select_related("user")
        .order_by("pk")
        .first()
    )
    if taken is not None:
        logger.warning(
            "staff %s not created from the directory: ENT identity %s is account %s's (not staff)",
            person.uid,
            taken.uid,
            taken.user.username,
        )
        raise EntIdentityOfCandidate(uid=taken.uid, candidate=taken.user)


# The "batch" of the changes an ENT login makes (StaffDirectoryChange); rows written before OpenID Connect logins
# refreshed too say "cas_login".
LOGIN_REFRESH = "ent_login"
LOGIN_DEACTIVATION = gettext_lazy("no longer listed as staff by the directory, at an ENT login")
LOGIN_ABSENT = gettext_lazy("not in the directory, at an ENT login")


def deactivate_when_absent(user: User) -> bool:
    """Whether a staff account whose uid the directory does not know at all is deactivated, at an ENT login
    (``refresh_staff``) as at the nightly refresh (``accounts.directory_refresh``): when it was made from the directory
    (``User.from_directory``), even if its owner has since chosen a password by reset, or when it has no usable
    password (nobody can log in to it but through the ENT). A local account typed in the back office with a password
    (an external jury member whose login the ENT knows, not ``LDAP_PEOPLE_BASE``) is left as it is."""
    return user.from_directory or not user.has_usable_password()


def _in_the_institutions_language(text) -> str:
    with translation.override(settings.LANGUAGE_CODE):  # the history is read in the institution's language
        return str(text)


def refresh_staff(*, user: User, ent_identity: bool = False) -> User:
    """Bring a staff account in line with the directory at its ENT login (CAS or OpenID Connect): names and address
    updated, the account deactivated when the directory no longer lists the person as staff (``is_active`` is then
    False), unless it is a superuser's. A superuser whose uid the directory knows, but not as staff (a student's ENT
    uid taken as a superuser's login), stays active; with ``ent_identity`` (the login is an ENT identity about to be
    linked, ``link_ent_identity``) it is refused (``NotStaffInDirectory``, a ``StaffDeactivated`` whose message says
    to log in with the password; logged): that identity is the other person's,
    and would open a superuser's session with its second factor. A uid the directory does not know at all
    deactivates the account only by the
    nightly refresh's rule (``deactivate_when_absent``). Each change is a ``StaffDirectoryChange`` row, as the nightly
    refresh writes them. A directory that does not answer, or that holds two entries with this uid, changes nothing
    (the login goes on with the account as it is, and the nightly refresh catches up)."""
    try:
        known = look_up([user.username]).get(uid_key(user.username))
    except DirectoryUnavailable as exc:
        logger.warning("directory unavailable, %s not refreshed: %s", user.username, exc)
        return user
    if known is not None and known[0] is None:
        logger.warning("uid %s is ambiguous in the directory (or unmatched); account left as it is", user.username)
        return user
    person = known[0] if known is not None and known[1] else None
    with transaction.atomic():
        locked = User.objects.select_for_update(of=("self",)).get(pk=user.pk)
        if person is None and locked.is_superuser:
            # As the nightly refresh: a superuser is never deactivated by the directory (an administrator whose entry
            # does not match LDAP_STAFF_FILTER would otherwise lock everybody out of the back office). But the ENT
            # identity of a uid the directory knows as someone else (a student) never logs in as that superuser.
            if known is not None and ent_identity:
                logger.warning(
                    "superuser %s: the directory knows this uid but not as staff; left active, ENT login refused",
                    locked.username,
                )
                raise NotStaffInDirectory(locked.username)
            logger.warning("superuser %s is not listed as staff in the directory; left active", locked.username)
            return locked
        if known is None and not deactivate_when_absent(locked):
            logger.info("staff %s is not in the directory: a local account, left as it is", locked.username)
            return locked
        if person is None:
            reason = LOGIN_DEACTIVATION if known is not None else LOGIN_ABSENT
            locked.is_active = False
            locked.save(update_fields=["is_active"])
            StaffDirectoryChange.objects.create(
                user=locked,
                kind=StaffDirectoryChange.Kind.DEACTIVATED,
                changes={"is_active": [True, False]},
                comment=_in_the_institutions_language(reason),
                batch=LOGIN_REFRESH,
            )
            logger.info(
                "staff %s deactivated: %s",
                locked.username,
                "not in the directory" if known is None else "no longer staff",
            )
            return locked
        before = {name: getattr(locked, name) for name in ("email", "first_name", "last_name")}
        if changed := _apply(locked, person):
            locked.save(update_fields=changed)
            if "email" in changed:
                record_directory_address(user=locked)
            StaffDirectoryChange.objects.create(
                user=locked,
                kind=StaffDirectoryChange.Kind.REFRESHED,
                changes={name: [before[name], getattr(locked, name)] for name in changed},
                batch=LOGIN_REFRESH,
            )
    return locked


def staff_for_login(username: str, *, ent_identity: bool = False) -> User | None:
    """The staff account for this ENT login (refreshed from the directory when one is configured), or None when the
    login is not a staff member's. Raises StaffDeactivated for a staff account that is (or has just been) inactive,
    and, with ``ent_identity`` (``link_ent_identity``), for a superuser the directory knows but not as staff
    (``refresh_staff``).

    The login matches the username whatever its case, as the directory's uids do (``look_up``): Apereo CAS hands
    the login over as typed (``Sophie.Gestion``), which is still the staff member's. When two staff accounts differ
    only in case, the exact one is taken, and a login that names neither exactly is nobody's."""
    matches = list(User.objects.filter(username__iexact=username, campaign__isnull=True))
    user = next((match for match in matches if match.username == username), None)
    if user is None and len(matches) == 1:
        user = matches[0]
    elif user is None and matches:
        logger.warning("login %s names %d staff accounts differing in case: none taken", username, len(matches))
    if user is None or not (user.is_staff or user.is_superuser):
        return None
    return _logged_in_staff(user, ent_identity=ent_identity)


def _logged_in_staff(user: User, *, ent_identity: bool) -> User:
    """The rule of a staff account found for an ENT login: refreshed from the directory when one is configured
    (``refresh_staff``), StaffDeactivated when it is (or has just become) inactive."""
    if user.is_active and is_configured():
        user = refresh_staff(user=user, ent_identity=ent_identity) or user
    if not user.is_active:
        raise StaffDeactivated(user.username)
    return user


def staff_for_directory_login(login: str, *, ent_identity: bool = False, staff_sign_in: bool = False) -> User | None:
    """For an ENT login that names no staff account by its username (``staff_for_login`` answered None): when the
    directory lists the login as staff (``LDAP_STAFF_FILTER``), the staff account named by another uid of the same
    entry (an alias: ``s.gestion`` for ``sophie.gestion``, ``jean.dupont`` for ``jdupont``, whatever their case), with
    the same rules as a username's (refreshed, StaffDeactivated when inactive); two: StaffLoginAmbiguous. No such
    account: StaffAccountMissing when the login started from the back office (``staff_sign_in``: the candidates'
    sign-up is not offered to someone who came to work), else None: from the candidates' side, a member of staff (an
    employee applying to a DU, a doctoral student who teaches and whom the directory lists as staff too) applies as
    anyone does.

    None, and the login goes on as today (the candidates' path), without a directory, when the directory does not
    answer (logged), or when it does not list the login as staff (a student, a former staff member, someone it does
    not know, or a uid two entries share)."""
    if not login or not is_configured():
        return None
    try:
        person = find_person(uid=login)
    except DirectoryUnavailable as exc:
        logger.warning("directory unavailable, ENT login %s not looked up as staff: %s", login, exc)
        return None
    if person is None or not person.uid:
        return None
    named = Q()
    for uid in {person.uid, *person.uids, *person.directory_uids}:
        named |= Q(username__iexact=uid)
    accounts = [
        user for user in User.objects.filter(named, campaign__isnull=True) if user.is_staff or user.is_superuser
    ]
    if not accounts and not staff_sign_in:
        logger.info("ENT login %s: the directory lists it as staff, no staff account; a candidate's login", login)
        return None
    if not accounts:
        logger.info("ENT login %s: the directory lists it as staff, but no staff account exists; refused", login)
        raise StaffAccountMissing(login)
    if len(accounts) > 1:
        logger.warning(
            "ENT login %s: the directory entry's uids name %d staff accounts; none taken", login, len(accounts)
        )
        raise StaffLoginAmbiguous(login)
    logger.info("ENT login %s is the directory alias of staff %s", login, accounts[0].username)
    return _logged_in_staff(accounts[0], ent_identity=ent_identity)


def started_from_back_office(next_url: str) -> bool:
    """Whether an ENT login whose destination after it is ``next_url`` was started from the back office (its login
    page, reached from ``/gestion/``): the one case where a member of staff without a staff account is told so."""
    return bool(next_url) and urlsplit(next_url).path.startswith(reverse("admin:index"))


def link_ent_identity(
    *,
    provider: str,
    uid: str | None,
    login: str,
    extra_data: dict | None = None,
    candidate_uid: str | None = None,
    staff_sign_in: bool = False,
) -> SocialAccount | None:
    """The ENT identity ``(provider, uid)`` linked to the staff account whose username is ``login`` (the directory's
    uid, as the ENT names the person), or None when the login does not go to a staff account: then the candidates'
    path goes on unchanged. The one rule of every ENT login of a staff member, over CAS (``accounts.cas``, ``login`` =
    the CAS login) and over OpenID Connect (``accounts.adapters``, ``login`` = the ``ENT_STAFF_UID_CLAIM`` claim of the
    verified ID token): the staff account is refreshed from the directory each time (``staff_for_login``; a directory
    that does not answer changes nothing and the login goes on), and linked to the identity the first time. Raises
    StaffDeactivated for a staff account that is (or, refreshed from the directory, has just become)
    inactive.

    Never linked: an account that is not staff, and an identity already linked to another account (returned as None:
    it logs its own owner in, as ever). A superuser is staff, linked as the CAS callback always linked them, unless
    the directory knows the uid but not as staff (someone else's ENT identity: NotStaffInDirectory, the superuser left
    active, ``refresh_staff``). An identity already linked to this account is returned as it is.

    ``uid`` None: the identity is named by the staff account's username (CAS, whose identity is the login: the login
    matches the username whatever its case, and ``Sophie.Gestion`` is the one identity ``sophie.gestion``).

    A login that names no staff account by username, and whose identity is not linked to any account yet (its uid on
    the candidates' path: ``candidate_uid``, else ``uid``; a known identity logs its owner in as ever, no directory
    asked), is looked up in the directory (``staff_for_directory_login``): an alias of a staff account logs that
    account in (the identity named by its username over CAS); a login the directory lists as staff without a staff
    account raises StaffAccountMissing rather than open the candidates' sign-up when the login started from the back
    office (``staff_sign_in``; from the candidates' side it goes on as a candidate's). A directory that does not
    answer, or does not list the login as staff, changes nothing: the candidates' path goes on."""
    login = login.strip()
    staff = staff_for_login(login, ent_identity=True) if login else None
    if staff is None and login and is_configured():
        identity_uid = candidate_uid if candidate_uid is not None else uid
        if identity_uid is not None and not SocialAccount.objects.filter(provider=provider, uid=identity_uid).exists():
            staff = staff_for_directory_login(login, ent_identity=True, staff_sign_in=staff_sign_in)
    if staff is None:
        return None
    identity, created = SocialAccount.objects.get_or_create(
        provider=provider,
        uid=staff.username if uid is None else uid,
        defaults={"user": staff, "extra_data": extra_data or {}},
    )
    if identity.user_id != staff.pk:
        logger.warning("ENT identity %s is another account's: not linked to staff %s", identity.uid, staff.username)
        return None
    if created:
        logger.info("ENT identity %s linked to staff %s at its first ENT login", identity.uid, staff.username)
    identity.user = staff
    return identity
