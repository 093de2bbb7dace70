"""Account services: numéros de dossier, the campaign an account belongs to, e-mail changes and the purge of
accounts never validated.

Reference: ecandidat-features.md §1.1–1.2 (accounts are annual; unvalidated accounts expire).
"""

import datetime
import logging
import secrets
import string
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from enum import StrEnum

from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.core.validators import EmailValidator, MaxLengthValidator
from django.db import IntegrityError, transaction
from django.db.models import Exists, ForeignObjectRel, Model, OuterRef, ProtectedError, Q, QuerySet, TextField, Value
from django.db.models.functions import Cast, Lower
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.enums import LoginMethod
from accounts.models import (
    CandidateAccount,
    EntLogoutToken,
    EntSession,
    NumeroDossierHistory,
    PreviousEmailAddress,
    User,
)
from accounts.notifications import factors_in_words, long_date
from ecandidat import parameters
from ecandidat.absolute_urls import absolute_url
from ecandidat.batches import Report
from ecandidat.emails import enqueue_notification, enqueue_notification_with
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import OutboundEmail
from offers.models import Campaign

logger = logging.getLogger(__name__)

NUMERO_ALPHABET = string.ascii_uppercase + string.digits
NUMERO_LENGTH = 8
# The account mails that carry a link validating the address (accounts.adapters.MAILS): signup, change of address.
VALIDATION_MAIL_CODES = ("CPT_MIN_CREATE", "CPT_MIN_MODIF_MAIL")
# The notice to the address an account had when its address is changed (``change_email``): its owner hears of it,
# whoever made the change (ASVS V2.5, V3). It stays addressed there (``readdress_unsent_mails`` leaves it alone).
FORMER_ADDRESS_NOTICE_CODE = "CPT_MIN_MODIF_MAIL_ANCIEN"
# The notice to the candidate that the helpdesk removed their second factor (``remove_candidate_second_factor``): a
# caller who talked the helpdesk into it is heard of by the account's owner (ASVS V2.5, V3).
SECOND_FACTOR_REMOVED_NOTICE_CODE = "CPT_MIN_DOUBLE_AUTH_RETIREE"
EMAIL_PER_CAMPAIGN_CONSTRAINT = "user_email_unique_per_campaign"  # accounts.models.User.Meta.constraints
# Accounts, and then mails, per pass when the purge deletes the mails of the accounts it deletes (IN lists).
MAIL_DELETION_CHUNK = 500


def issue_numero_dossier() -> str:
    """Draw a new numéro de dossier (8 upper-case letters and digits: ``DOSSIER_NUMBER_PREFIX``, then characters
    drawn with ``secrets``) and record it for ever.

    The history table's unique constraint is the guarantee: a number is never issued twice, across campaigns and
    after purges. A collision (about 1 in 2.8e12 per draw, 1 in 2.2e9 with a two-character prefix) draws again.
    """
    prefix = settings.DOSSIER_NUMBER_PREFIX
    for _attempt in range(20):
        numero = prefix + "".join(secrets.choice(NUMERO_ALPHABET) for _ in range(NUMERO_LENGTH - len(prefix)))
        if User.objects.filter(username=numero).exists():
            continue
        try:
            with transaction.atomic():
                NumeroDossierHistory.objects.create(numero=numero)
        except IntegrityError:
            continue
        return numero
    raise RuntimeError("could not draw a free numéro de dossier")  # pragma: no cover - astronomically unlikely


def signup_campaign(*, today: datetime.date | None = None) -> Campaign:
    """The campaign a new account joins: the active one, while its candidate dates are running.

    Raises BusinessRuleError with a message for the candidate otherwise.
    """
    today = today or timezone.localdate()
    campaign = Campaign.objects.active().first()
    if campaign is None:
        raise BusinessRuleError(_("No admissions campaign is open: accounts cannot be created at the moment."))
    if today < campaign.starts_on:
        raise BusinessRuleError(
            _("The campaign opens to candidates on %(date)s: come back then to create your account.")
            % {"date": date_format(campaign.starts_on, "SHORT_DATE_FORMAT")}
        )
    if today > campaign.ends_on:
        raise BusinessRuleError(_("The campaign is closed to candidates: accounts can no longer be created."))
    return campaign


def candidate_can_log_in(user: User, *, today: datetime.date | None = None) -> bool:
    """Accounts are annual: a candidate logs in only while the campaign of the account is active and open.

    Staff (no campaign) are not concerned. Uses ``user.campaign`` (one query unless already loaded).
    """
    if not user.is_candidate:
        return True
    campaign = user.campaign
    assert campaign is not None  # is_candidate means campaign_id is set
    return campaign.is_open_on(today or timezone.localdate())


def check_stored_length(email: str) -> str:
    """``email`` as stored (``normalize_email``) when it fits the address columns (254 characters), else a
    ``ValidationError`` with Django's message, for the field it was typed in. A form checks what it stores: a typed
    address of 93 characters can be stored as 261 (« ㎒ » is « mhz »), and the database refused it (a 500)."""
    normalised = normalize_email(email)
    MaxLengthValidator(User._meta.get_field("email").max_length)(normalised)
    return normalised


def normalize_email(email: str) -> str:
    """The form in which an address is stored and compared: the spelling of the mailbox the mail reaches.

    Django writes a non-ASCII domain in IDNA when it sends (``django.utils.encoding.punycode``, Python's IDNA 2003
    codec), whose nameprep maps compatibility characters (NFKC: the full-width ``ｅ``) and drops invisible ones (the
    soft hyphen): ``a@examplｅ.org`` is delivered to ``a@example.org``, so it must count as that address (one address
    per campaign, « J'ai oublié mes identifiants », the login). The domain is therefore written as that delivery reads
    it, in Unicode: a genuine internationalised domain keeps its letters (``a@école.fr``; its ASCII form
    ``xn--cole-9oa.fr`` becomes ``école.fr``, the same mailbox). A domain the codec refuses, or whose reading would
    not be a domain any more, stays as typed: such an address reaches nobody else's mailbox. Then lower case, as
    allauth stores addresses and looks them up. The local part is ASCII (Django's ``EmailValidator``)."""
    email = email.strip()
    local, at, domain = email.rpartition("@")
    if at and domain:
        try:
            delivered = domain.encode("idna").decode("idna")
        except UnicodeError:
            delivered = domain
        if delivered != domain and EmailValidator().validate_domain_part(delivered):
            email = f"{local}@{delivered}"
    return email.lower()


class AddressTakenBy(StrEnum):
    """Who keeps an address from an account of a campaign (``email_taken_in_campaign``)."""

    CAMPAIGN_ACCOUNT = "campaign_account"
    STAFF = "staff"


def email_taken_in_campaign(
    *, email: str, campaign: Campaign, exclude_user: User | None = None
) -> AddressTakenBy | None:
    """Whether ``email`` (case-insensitive) is taken for an account of ``campaign``, and by whom: another account of
    the campaign that uses it (``CAMPAIGN_ACCOUNT``), else a staff account that holds it as validated (``STAFF``):
    allauth keeps a validated address unique, so a candidate account given it could never validate it (the link
    fails « déjà confirmé par un autre compte », and the login asks for it again). None when it is free; so the
    answer reads as a yes/no too. One query."""
    accounts = User.objects.filter(campaign=campaign, email__iexact=email)
    if exclude_user is not None:
        accounts = accounts.exclude(pk=exclude_user.pk)
    staff = EmailAddress.objects.filter(email__iexact=email, verified=True, user__campaign__isnull=True)
    owners = set(
        accounts.annotate(owner=Value(AddressTakenBy.CAMPAIGN_ACCOUNT.value))
        .values_list("owner", flat=True)
        .union(staff.annotate(owner=Value(AddressTakenBy.STAFF.value)).values_list("owner", flat=True), all=True)[:2]
    )
    if AddressTakenBy.CAMPAIGN_ACCOUNT in owners:
        return AddressTakenBy.CAMPAIGN_ACCOUNT
    return AddressTakenBy.STAFF if owners else None


def password_reset_accounts(*, email: str) -> list[User]:
    """The accounts « J'ai oublié mes identifiants » mails a link for ``email`` (normalised, ``normalize_email``):
    the active campaign's account that uses it, validated or not yet (accounts are annual: a returning candidate
    whose new account waits for its validation link gets in by choosing a password), and the staff accounts that
    have it (their address, or one they validated). Active accounts only. Never an account of a past campaign: it
    can no longer log in, and an address only such an account uses gets « compte inconnu » (CPT_MIN_INCONNU: create
    this campaign's account), as an address nobody uses. The page is the same whatever is found
    (ACCOUNT_PREVENT_ENUMERATION). One query (the adapter then reads a candidate's campaign: is it open?)."""
    validated = EmailAddress.objects.filter(user_id=OuterRef("pk"), email__iexact=email, verified=True)
    return list(
        User.objects.filter(is_active=True)
        .filter(
            Q(campaign__is_active=True, email__iexact=email)
            | Q(Q(email__iexact=email) | Exists(validated), campaign__isnull=True)
        )
        .order_by("pk")
    )


# Where an account keeps the language its owner reads, as lookups from the account (``register_owner_language``),
# first found first: the candidate's dossier, ``Candidate.preferred_language``, which applications registers in its
# ready() (accounts does not import applications). After them, the account's own ``User.language``: the page's at
# signup (``signup_language``), for an account without a dossier yet.
_owner_language_lookups: list[str] = []


def register_owner_language(lookup: str) -> None:
    """Name a field, as a lookup from the account (``"candidate__preferred_language"``), that holds the language its
    owner reads: the mails to the owner of an address (:func:`owner_language`) are written in it, before the
    language the account kept at signup (``User.language``)."""
    if lookup not in _owner_language_lookups:
        _owner_language_lookups.append(lookup)


def signup_language() -> str:
    """The language an account created now keeps (``User.language``, ``AccountAdapter.save_user``): the one the page
    is read in (the candidate's choice with the switch, ``ecandidat.middleware.ChosenLanguageMiddleware``), one of
    ``LANGUAGES``; "" (the institution's) when none is active."""
    try:
        return translation.get_supported_language_variant(translation.get_language() or "")
    except LookupError:
        return ""


def owner_language(*, email: str, campaign: Campaign | None) -> str:
    """The language of a mail to the owner of the account of ``campaign`` that uses ``email`` (not to whoever typed
    the address: « compte existant »): the language the account keeps for its owner, else the institution's
    (``LANGUAGE_CODE``, French). One query, whatever is found: the caller's answer does not depend on it."""
    if campaign is None:
        return settings.LANGUAGE_CODE
    return _kept_language(User.objects.filter(campaign=campaign, email__iexact=email).order_by("pk"))


def account_language(user: User) -> str:
    """The language of a mail to ``user``'s owner: the one their account keeps for them (their dossier's, else the
    page's at signup), else the institution's (``LANGUAGE_CODE``, French). One query."""
    return _kept_language(User.objects.filter(pk=user.pk))


def _kept_language(accounts: QuerySet[User]) -> str:
    """The language the first of ``accounts`` keeps for its owner: the first of the registered lookups that holds one
    (``register_owner_language``: the dossier's), else the account's own (``User.language``), else the
    institution's."""
    values = accounts.values_list(*_owner_language_lookups, "language").first()
    known = dict(settings.LANGUAGES)
    return next((value for value in values or () if value in known), settings.LANGUAGE_CODE)


def in_owner_language(*, user: User, actor: User) -> AbstractContextManager:
    """Where a mail about ``user``'s account is written: in the language of the page when its owner acts (they
    read it), in the language their account keeps (:func:`account_language`) when someone else does (staff: their
    page's language is not the candidate's; the README's « la langue de ses mails »)."""
    if actor.pk == user.pk:
        return nullcontext()
    return translation.override(account_language(user))


# The relation from an account to its dossier (``register_account_dossier``): ``Candidate.user``'s, which applications
# registers in its ready(). A change the candidate makes to their account is also written to the dossier's history.
_account_dossier_relations: list[str] = []


def register_account_dossier(relation: str) -> None:
    """Name the relation from an account to its dossier (``"candidate"``, a reverse one-to-one): the candidate's own
    changes to their account (their address, :func:`change_email`) are written to its history too, where the
    helpdesk's changes of an account that has a dossier are (``applications.admin.account_email``)."""
    if relation not in _account_dossier_relations:
        _account_dossier_relations.append(relation)


def _account_dossier(user: User) -> Model | None:
    """``user``'s dossier through the registered relation (``register_account_dossier``), or None. One query per
    relation registered (one: applications')."""
    for relation in _account_dossier_relations:
        rel = User._meta.get_field(relation)
        if not isinstance(rel, ForeignObjectRel) or not isinstance(rel.related_model, type):
            raise ImproperlyConfigured(f"{relation!r} is not a relation to the accounts' dossiers")
        dossier = rel.related_model._default_manager.filter(**{rel.field.name: user}).first()
        if dossier is not None:
            return dossier
    return None


def release_email_from_past_campaigns(*, email: str, user: User) -> int:
    """Un-verify ``email`` on the accounts of other campaigns, so that ``user`` (this campaign) can verify it.

    allauth keeps a verified address unique, which is what we want among live accounts; accounts of past campaigns
    can no longer log in ("les comptes sont annuels"), so their address is handed over to the new account.
    Returns the number of addresses released. Never an address of an account of the active campaign: ``user`` may
    itself be a past campaign's account (its old link), and the account its owner uses now keeps its address.
    """
    if not user.is_candidate:
        return 0
    return (
        EmailAddress.objects.filter(email__iexact=email, verified=True, user__campaign__isnull=False)
        .exclude(user__campaign_id=user.campaign_id)
        .exclude(user__campaign__is_active=True)
        .update(verified=False, primary=False)
    )


def is_past_campaign_account(user: User) -> bool:
    """Whether ``user`` is a candidate account of a campaign that is no longer the active one (archived, or
    replaced): it can no longer log in, and its owner creates a new account for the active campaign. One query
    (``user.campaign``) unless already loaded; staff: no query."""
    return user.is_candidate and user.campaign is not None and not user.campaign.is_active


def _record_account_change(*, actor: User, account: User, change_message: str) -> None:
    """A line of the account's history in the back office, by ``actor``: a candidate's in « Comptes candidats », a
    staff member's in the users' admin (« Utilisateurs »)."""
    model = CandidateAccount if account.is_candidate else User
    LogEntry.objects.create(
        user=actor,
        content_type=ContentType.objects.get_for_model(model, for_concrete_model=False),
        object_id=str(account.pk),
        object_repr=str(account)[:200],
        action_flag=CHANGE,
        change_message=change_message,
    )


def record_staff_address(*, user: User, actor: User | None = None) -> bool:
    """Make ``user.email`` the staff account's verified and primary allauth ``EmailAddress``, as the institution gave
    it: the directory (``accounts.directory``, at the account's creation and at each refresh) or the central office,
    which typed it on the account's page of the back office (``accounts.admin.UserAdmin``, the only way without a
    directory). The account's other addresses (the one it had before) are deleted, so that an address the account no
    longer has neither stays verified nor receives its reset links; a staff account without an address keeps none.

    Staff accounts log in with ``ACCOUNT_EMAIL_VERIFICATION = "mandatory"``: without this, their first login mails a
    candidate's validation link (CPT_MIN_MODIF_MAIL) and stops on /accounts/confirm-email/ (a 503 in the maintenance
    window). Never candidates' accounts (a campaign), whose addresses are validated by their owners. An address
    another account has verified (allauth keeps verified addresses unique) is recorded unverified, with a warning:
    the staff member then confirms it by mail, as before. Nothing is written when the address is in place already.

    With ``actor`` (the back office), a change is a line of the account's history by ``actor``; the directory's
    changes are in its own history (``StaffDirectoryChange``, « Ajouté depuis l'annuaire »). Called inside the
    writer's transaction. Returns whether the address is verified.
    """
    if user.campaign_id is not None:
        return False
    rows = list(EmailAddress.objects.filter(user=user))  # none for a new account: no delete, no update
    if not user.email:
        if rows:
            EmailAddress.objects.filter(pk__in=[row.pk for row in rows]).delete()
        return False
    email = normalize_email(user.email)  # as every address is stored (the mailbox, in lower case) and looked up
    current = [(row.email, row.verified, row.primary) for row in rows]
    if current == [(email, True, True)]:
        return True
    verified = not EmailAddress.objects.filter(email__iexact=email, verified=True).exclude(user=user).exists()
    if current == [(email, verified, True)]:  # left to confirm before, still verified by another account
        return verified
    if not verified:
        logger.warning("address of staff %s is verified by another account: left to confirm by mail", user.username)
    # A row kept in another spelling of the same mailbox (``xn--`` before accounts 0016) is this address, rewritten.
    if stale := [row.pk for row in rows if normalize_email(row.email) != email]:
        EmailAddress.objects.filter(pk__in=stale).delete()
    if kept := [row.pk for row in rows if normalize_email(row.email) == email]:
        EmailAddress.objects.filter(pk=kept[0]).update(email=email, verified=verified, primary=True)
    else:
        EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    if actor is not None:
        with translation.override(settings.LANGUAGE_CODE):  # history: the institution's language
            if verified:
                message = _("Address %(email)s recorded as the account's verified address.") % {"email": email}
            else:
                message = _("Address %(email)s left to confirm by mail: another account has it verified.") % {
                    "email": email
                }
        _record_account_change(actor=actor, account=user, change_message=message)
        logger.info("address of staff %s recorded (verified: %s) by %s", user.pk, verified, actor.pk)
    return verified


def login_history_messages() -> set[str]:
    """The history's words for a login, as ``record_login`` writes them (in the institution's language): a login is
    not a change, and lists of changes leave these lines out (the back office's home)."""
    with translation.override(settings.LANGUAGE_CODE):
        return {str(method.label) for method in LoginMethod}


def record_login(*, user: User, method: LoginMethod) -> None:
    """Write a login of ``user`` (the actor: the person who logged in) to the account's history in the back office,
    with how it was made: « Connexion par mot de passe » (« … et second facteur » when a staff member typed an
    authenticator code too), « Connexion par l'ENT (OpenID Connect) » or « Connexion par l'ENT (CAS) ».

    Called once per completed login, whatever the path, by ``AccountAdapter.post_login`` (allauth's password login,
    its OpenID Connect callback and ``accounts.cas`` all end there). A refused or failed login writes nothing here
    (no one logged in; the log says why), nor does a login stopped before its end (address to validate, second
    factor not typed). Two queries: the content type (cached per process after the first), the row."""
    with translation.override(settings.LANGUAGE_CODE):  # history: the institution's language
        change_message = str(method.label)
    _record_account_change(actor=user, account=user, change_message=change_message)
    logger.info("login of account %s (%s)", user.pk, method.value)


LOGIN_HISTORY_CHUNK = 5000  # rows per DELETE: each chunk is its own short transaction


def login_history_rows(*, before: datetime.datetime) -> QuerySet[LogEntry]:
    """The login lines (``record_login``) of the accounts' history written before ``before``: a line on an
    account's own history (a candidate's or a staff member's), by the account itself, whose words are a login's.
    Every other line (an address changed, an identity handed over, a state changed by staff) is not one."""
    account_types = ContentType.objects.get_for_models(User, CandidateAccount, for_concrete_models=False)
    return LogEntry.objects.filter(
        content_type__in=list(account_types.values()),
        action_flag=CHANGE,
        change_message__in=login_history_messages(),
        object_id=Cast("user_id", output_field=TextField()),
        action_time__lt=before,
    )


def _delete_login_history_chunk(rows: QuerySet[LogEntry], *, size: int) -> int:
    """Delete the ``size`` oldest of ``rows`` in one statement (``DELETE … WHERE id IN (SELECT id … LIMIT size)``)
    and its own transaction; returns how many went."""
    with transaction.atomic():
        deleted, _by_model = LogEntry.objects.filter(pk__in=rows.order_by("pk").values("pk")[:size]).delete()
    return deleted


def prune_login_history(
    report: Report, *, dry_run: bool, limit: int | None, now: datetime.datetime | None = None
) -> None:
    """Delete the login lines of the accounts' history older than ``LOGIN_HISTORY_RETENTION_DAYS`` (the CNIL's
    6 months to 1 year for connection logs), by chunks of ``LOGIN_HISTORY_CHUNK`` rows, oldest first, each chunk
    one statement in its own transaction: no long lock on the history, and a crash loses nothing but the chunk being
    deleted, which the next run deletes. ``limit``: at most this many chunks (the rest is left for the next run).
    Only login lines go (``login_history_rows``); the history of changes stays whole. Counts: « login lines
    deleted » (added chunk by chunk, so a run that fails midway records what it did)."""
    now = now or timezone.now()
    rows = login_history_rows(before=now - datetime.timedelta(days=settings.LOGIN_HISTORY_RETENTION_DAYS))
    if dry_run:
        report.add("login lines to delete", rows.count())
        return
    chunks = 0
    while True:
        if limit is not None and chunks >= limit:
            if rows.exists():
                report.add("chunks left for the next run")
            return
        deleted = _delete_login_history_chunk(rows, size=LOGIN_HISTORY_CHUNK)
        chunks += 1
        report.add("login lines deleted", deleted)
        if deleted < LOGIN_HISTORY_CHUNK:
            break
    logger.info("login history pruned: %s lines", report.counts["login lines deleted"])


def record_ent_identity_handover(*, identity: SocialAccount, previous_owner_id: int, new_owner: User) -> None:
    """Write to the history of the account of a past campaign that its ENT identity now logs in to ``new_owner``,
    the account its student created for the active campaign (accounts are annual; an ENT identity opens one account
    only, so the new account takes it over, see ``SocialAccountAdapter.pre_social_login``). Actor: the student."""
    previous = User.objects.select_related("campaign").filter(pk=previous_owner_id).first()
    if previous is None:
        return
    with translation.override(settings.LANGUAGE_CODE):  # history: the institution's language
        change_message = _("ENT identity %(uid)s taken over by account %(numero)s of campaign %(campaign)s") % {
            "uid": identity.uid,
            "numero": new_owner.username,
            "campaign": new_owner.campaign.code if new_owner.campaign else "",
        }
    _record_account_change(actor=new_owner, account=previous, change_message=change_message)
    logger.info("ENT identity of account %s taken over by account %s", previous.pk, new_owner.pk)


def _never_validated_candidate_accounts() -> QuerySet[User]:
    """Candidate accounts still where the e-mail signup (or staff) left them: not staff, never logged in, no dossier
    (``candidate``: applications' Candidate, which protects its account) and no validated address. What the nightly
    purge deletes once they are old enough (:func:`purge_unvalidated_accounts`) and what gives way to a student's ENT
    identity (:func:`unvalidated_holder_of`), each with its own further conditions."""
    verified = EmailAddress.objects.filter(user_id=OuterRef("pk"), verified=True)
    return User.objects.filter(is_staff=False, last_login__isnull=True, candidate__isnull=True).exclude(
        Exists(verified)
    )


def unvalidated_holder_of(*, email: str, campaign: Campaign) -> User | None:
    """The account of ``campaign`` that holds ``email`` (case-insensitive) without ever having proved it reads that
    mailbox, so that the address gives way to the student whose ENT identity it is (``accounts.forms.
    SocialSignupForm``); None when the address is free, or held otherwise (its owner is then mailed, as today).

    Such an account was created by the e-mail signup (or by staff) and is still where it started: its address never
    validated, no usable password (never chosen through « J'ai oublié mes identifiants »), never logged in, no ENT
    identity, not staff, and no dossier (``candidate``: an account that cannot log in holds nothing of the candidate
    but its names and address; a dossier staff opened for a paper application protects it, as from the purge,
    :func:`purge_unvalidated_accounts`). Not when a staff account holds the address as validated either (the new
    account could never validate it). Anyone can create one with anyone's address, and the university's addresses
    of its students are predictable: kept, it stopped the student's ENT account from being created.

    One query; the account is locked (``select_for_update``, until the request's transaction ends): it cannot choose
    a password meanwhile."""
    identity = SocialAccount.objects.filter(user_id=OuterRef("pk"))
    staff = EmailAddress.objects.filter(email__iexact=email, verified=True, user__campaign__isnull=True)
    holder = (
        _never_validated_candidate_accounts()
        .select_for_update(of=("self",))
        .filter(campaign=campaign, email__iexact=email, password__startswith=UNUSABLE_PASSWORD_PREFIX)
        .exclude(Exists(identity))
        .exclude(Exists(staff))
        .order_by("pk")
        .first()
    )
    if holder is None or holder.has_usable_password():
        return None
    return holder


def delete_unvalidated_holder(*, holder: User, ent_uid: str) -> bool:
    """Delete ``holder`` (:func:`unvalidated_holder_of`), whose address the student of ENT identity ``ent_uid`` is
    taking for the account being created, as the purge deletes an account never validated (:func:`_delete_accounts`:
    its mails, its history, its address and its row; its numéro de dossier stays in the history, never issued
    again), in a savepoint of the caller's transaction, the account creation's. False, nothing deleted, when a row
    still protects it: the address then stays its, and the creation takes the path of an address already used.
    Logged with the reason; the new account's history says it (:func:`record_unvalidated_holder_deleted`)."""
    try:
        with transaction.atomic():
            _delete_accounts([holder.pk])
    except ProtectedError as error:
        kinds = sorted({type(row).__name__ for row in error.protected_objects})
        logger.warning(
            "unvalidated account %s kept for ENT identity %s: still referenced (%s)", holder.pk, ent_uid, kinds
        )
        return False
    logger.warning(
        "unvalidated account %s (%s) deleted: its address %s, never validated, is taken by ENT identity %s",
        holder.pk,
        holder.username,
        holder.email,
        ent_uid,
    )
    return True


def record_unvalidated_holder_deleted(*, user: User, numero: str) -> None:
    """Write to the history of ``user``, the account its student has just created through the ENT, that its address
    was taken from account ``numero`` (:func:`delete_unvalidated_holder`), deleted since. Actor: the student."""
    with translation.override(settings.LANGUAGE_CODE):  # history: the institution's language
        change_message = _(
            "Address %(email)s taken from account %(numero)s, deleted: the address was never validated there and "
            "the account had no password"
        ) % {"email": user.email, "numero": numero}
    _record_account_change(actor=user, account=user, change_message=change_message)


def purge_unvalidated_accounts(
    *, now: datetime.datetime | None = None, dry_run: bool = False, report: Report | None = None
) -> int:
    """Delete candidate accounts whose address was never validated within ``UNVALIDATED_ACCOUNT_DAYS`` days.

    Idempotent: a second run finds nothing. Their numéros de dossier stay in the history, so they are never reused.
    Staff accounts are never purged. Returns the number of accounts deleted (or that would be, with ``dry_run``).

    The days count from the latest of: the account's creation, its address given (replaced by the candidate or the
    helpdesk, ``PreviousEmailAddress``) and a validation link mailed to its address (at signup, after a change, sent
    again by the helpdesk or by allauth at a login attempt: the outbox's CPT_MIN_CREATE and CPT_MIN_MODIF_MAIL,
    which cannot be put out of service). Each link is valid that long (ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS): an
    old account, created by staff for a paper application, whose address the helpdesk has just corrected is not
    deleted the same night.

    Only the active campaign's accounts: a past campaign's go with its archive (``destroy_archived_campaigns``). Its
    address may no longer be verified only because its owner gave it to this year's account
    (``release_email_from_past_campaigns``). Never an account with a dossier (``candidate``, which protects it): an
    account staff created for a paper application never logs in, and its address may have been corrected since.
    An account some other row still protects is kept, the others go: counted in ``report`` (« accounts kept »)
    with an error naming it, so that one row does not stop the purge every night. An account goes with its mails,
    as with its full deletion (:func:`delete_mails_of_accounts`), and the back office's history of both.
    """
    now = now or timezone.now()
    limit = now - datetime.timedelta(days=settings.UNVALIDATED_ACCOUNT_DAYS)
    address_given = PreviousEmailAddress.objects.filter(user_id=OuterRef("pk"), replaced_at__gte=limit)
    link_mailed = OutboundEmail.objects.filter(
        to__iexact=OuterRef("email"), code__in=VALIDATION_MAIL_CODES, created_at__gte=limit
    )
    expired = (
        _never_validated_candidate_accounts()
        .filter(campaign__is_active=True, date_joined__lt=limit)
        .exclude(Exists(address_given))
        .exclude(Exists(link_mailed))
    )
    count = expired.count()
    if dry_run or not count:
        return count
    ids = list(expired.values_list("pk", flat=True))
    try:
        with transaction.atomic():
            _delete_accounts(ids)
        deleted = len(ids)
    except ProtectedError:
        # A row still protects one of them: each account in its own savepoint, the protected ones kept.
        deleted = 0
        for pk in ids:
            try:
                with transaction.atomic():
                    _delete_accounts([pk])
            except ProtectedError as error:
                kinds = sorted({type(row).__name__ for row in error.protected_objects})
                message = f"unvalidated account {pk} kept: still referenced ({', '.join(kinds)})"
                if report is not None:
                    report.add("accounts kept")
                    report.error(message)
                else:
                    logger.warning(message)
            else:
                deleted += 1
    logger.info("purged %s unvalidated accounts", deleted)
    return deleted


def _delete_accounts(ids: list[int]) -> None:
    """Delete these accounts (``purge_unvalidated_accounts``) with their mails (:func:`delete_mails_of_accounts`:
    the signup's, often to a mistyped address, names the person and their dossier number) and the back office's
    history of them ("Comptes candidats": an address changed, a link sent again; their addresses and ENT identities
    in allauth's pages; their mails' « resend »), which names them and their addresses."""
    for start in range(0, len(ids), MAIL_DELETION_CHUNK):
        delete_mails_of_accounts(ids[start : start + MAIL_DELETION_CHUNK])
    account_types = ContentType.objects.get_for_models(User, CandidateAccount, for_concrete_models=False)
    history = Q(content_type__in=list(account_types.values()), object_id__in=[str(pk) for pk in ids])
    for model in (EmailAddress, SocialAccount):
        pks = [str(pk) for pk in model.objects.filter(user_id__in=ids).values_list("pk", flat=True)]
        if pks:
            history |= Q(content_type=ContentType.objects.get_for_model(model), object_id__in=pks)
    LogEntry.objects.filter(history).delete()
    User.objects.filter(pk__in=ids).delete()


def delete_mails_of_accounts(ids: list[int]) -> int:
    """Delete the mails of these candidate accounts, as the full deletion (« Suppression CNIL »,
    ``applications.services.erasure._mails``) deletes an account's, with the outbox's history of them (its
    « resend » lines, « CPT_MIN_CREATE → address »): every mail about one of them (``OutboundEmail.about``: the
    account mails, the centre's copies, the commission's alerts), and those written to one of their addresses while
    they had it (the current one since the account was created, a former one until it was replaced), unless an
    account outside ``ids`` uses that address (its mails are its own). Before the accounts: deleting one unlinks
    the mails about it (``about``, SET_NULL). Four queries and the deletes, whatever the number of accounts (the
    caller keeps it to a few hundred: they are IN lists); returns how many mails went."""
    joined_at: dict[int, datetime.datetime] = {}
    periods: dict[str, list[tuple[datetime.datetime, datetime.datetime | None]]] = {}
    for pk, email, joined in User.objects.filter(pk__in=ids).values_list("pk", "email", "date_joined"):
        joined_at[pk] = joined
        if email:
            periods.setdefault(email.lower(), []).append((joined, None))
    former = PreviousEmailAddress.objects.filter(user_id__in=ids).values_list("user_id", "email", "replaced_at")
    for user_id, email, replaced_at in former:
        if email:
            periods.setdefault(email.lower(), []).append((joined_at[user_id], replaced_at))
    taken = (
        User.objects.annotate(address=Lower("email"))
        .filter(address__in=list(periods))
        .exclude(pk__in=ids)
        .values_list("address", flat=True)
    )
    for address in set(taken):
        del periods[address]
    theirs = set(ids)
    rows = (
        OutboundEmail.objects.annotate(address=Lower("to"))
        .filter(Q(about_id__in=ids) | Q(address__in=list(periods)))
        .values_list("pk", "address", "created_at", "about_id")
    )
    doomed = [
        pk
        for pk, address, created_at, about_id in rows
        if about_id in theirs
        or any(
            since <= created_at and (until is None or created_at <= until) for since, until in periods.get(address, ())
        )
    ]
    deleted = 0
    outbox = ContentType.objects.get_for_model(OutboundEmail)
    for start in range(0, len(doomed), MAIL_DELETION_CHUNK):
        part = doomed[start : start + MAIL_DELETION_CHUNK]
        LogEntry.objects.filter(content_type=outbox, object_id__in=[str(pk) for pk in part]).delete()
        deleted += OutboundEmail.objects.filter(pk__in=part).delete()[1].get(OutboundEmail._meta.label, 0)
    return deleted


def change_email(
    *, user: User, new_email: str, actor: User, may_mail_owner: Callable[[str], bool] | None = None
) -> bool:
    """Replace the candidate's e-mail address with ``new_email``, to be validated by a link ("Modifier mon adresse
    mail"). Returns whether the address was changed.

    The account keeps only the new, unverified address (allauth ``EmailAddress``) and the validation mail goes
    through allauth, so through our adapter and the outbox (code CPT_MIN_MODIF_MAIL). Verification is mandatory,
    so the candidate cannot log in again until the link is opened. Every session of the account ends (its
    ``session_generation`` moves on, which changes its sessions' hash: ``User.get_session_auth_hash``): another
    browser, or the candidate's own while the helpdesk changes the address, is logged out at its next page. The
    candidate's page also logs its own session out at once (``logout``), as the guide's warning says.

    An address already used by another account of the campaign (or taken by one at the same moment), or held as
    validated by a staff account (the account could never validate it: ``email_taken_in_campaign``), is refused the
    way signup refuses it, without telling the caller: nothing changes on the account and the owner of the address
    is mailed instead, unless ``may_mail_owner(address)`` answers False (the caller's limit on these mails, as
    signup's: the candidate's page applies allauth's ``confirm_email`` per address; the helpdesk's never mails them,
    ``applications.services.dossier.staff_change_account_email``).

    The address is stored normalised (``normalize_email``: the mailbox the mail reaches, in lower case, as allauth
    stores it at signup): allauth finds an account by its address (« J'ai oublié mes identifiants ») with an exact
    match on the lower-cased address. The mails to the old address that have not left follow the account
    (``readdress_unsent_mails``).

    The old address, when there was one, is told of the change (CPT_MIN_MODIF_MAIL_ANCIEN, in the same language as
    the validation mail): when, by whom (its owner or the helpdesk), the new address masked (``mask_email``), and
    whom to contact if its owner did not ask for it: someone with their session or their password, or a helpdesk
    typo, would otherwise take the account away without their knowing.

    The same change submitted twice at once (a double click) is made once: the second finds, under the lock, the
    account waiting for the validation of this address, and returns True with nothing deleted nor sent again
    (``_email_change_already_made``): the first mail's link stays the one that works.

    The candidate's own change is written to the account's history (and their dossier's), with the address it
    replaced (``_record_own_address_change``); staff's is written by the caller, on the page it was made from.
    """
    new_email = normalize_email(new_email)  # as signup stores addresses, and allauth looks them up (exact)
    with transaction.atomic():
        user = User.objects.select_related("campaign").select_for_update(of=("self",)).get(pk=user.pk)
        if _email_change_already_made(user=user, new_email=new_email):
            return True
        # is_candidate means the account has a campaign; the "is not None" only tells mypy so.
        if (
            user.is_candidate
            and user.campaign is not None
            and (taken_by := email_taken_in_campaign(email=new_email, campaign=user.campaign, exclude_user=user))
        ):
            _refuse_email_change(
                user=user, new_email=new_email, actor=actor, may_mail_owner=may_mail_owner, taken_by=taken_by
            )
            return False
        old_email, generation = user.email, user.session_generation
        # Compared and kept normalised, as every address is: an address stored before addresses were normalised
        # (or one accounts 0016 left as it was) is the same mailbox in another spelling, no change; the helpdesk's
        # search reads the address it is given normalised too (``SearchesPreviousAddresses``).
        replaced = bool(old_email) and normalize_email(old_email) != new_email
        try:
            # A savepoint: another account may take the address between the check and the save (two candidates
            # changing to it at once); the campaign's unique constraint then refuses it, as the check would have.
            with transaction.atomic():
                if replaced:
                    # allauth keeps the new address only: the helpdesk still finds the account by this one.
                    PreviousEmailAddress.objects.create(user=user, email=normalize_email(old_email), replaced_by=actor)
                    readdress_unsent_mails(user=user, old_email=old_email, new_email=new_email)
                EmailAddress.objects.filter(user=user).delete()
                user.email = new_email
                # Every session of the account ends: the account is unusable until the new address is validated.
                user.session_generation = generation + 1
                user.save(update_fields=["email", "session_generation"])
        except IntegrityError as error:
            if not violates_email_per_campaign(error):
                raise
            user.email, user.session_generation = old_email, generation
            _refuse_email_change(user=user, new_email=new_email, actor=actor, may_mail_owner=may_mail_owner)
            return False
        address = EmailAddress.objects.create(user=user, email=new_email, primary=True, verified=False)
        with in_owner_language(user=user, actor=actor):
            address.send_confirmation(signup=False)
            if replaced:
                _notify_former_address(user=user, old_email=old_email, new_email=new_email, actor=actor)
        if actor.pk == user.pk:  # staff's change is written by its caller (``staff_change_account_email``'s view)
            _record_own_address_change(user=user, old_email=old_email, new_email=new_email)
        logger.info(
            "e-mail of account %s changed from %s to %s by %s, to validate", user.pk, old_email, new_email, actor.pk
        )
    return True


def _record_own_address_change(*, user: User, old_email: str, new_email: str) -> None:
    """The candidate changed their own address (« Modifier mon adresse mail »): a line of the account's history in the
    back office, by them, beside their logins (« Comptes candidats »), in the institution's language and in the words
    of the helpdesk's change (« Adresse mail du compte : ancienne → nouvelle ») saying who made it; the same line in
    their dossier's history when they have one (``register_account_dossier``), where the helpdesk's changes of such
    an account's address are written. Without it the helpdesk saw an address to validate and logins, not that the
    candidate had just replaced a validated address, nor which. Inside the change's transaction. Three queries (the
    dossier, the content types, the row), four with a dossier (its row)."""
    with translation.override(settings.LANGUAGE_CODE):  # history: the institution's language, not the candidate's
        change_message = _(
            "Account e-mail address: %(old)s → %(new)s (changed by the candidate, to be validated by the link sent "
            "to it)"
        ) % {"old": old_email or "—", "new": new_email}
    dossier = _account_dossier(user)
    if dossier is not None:  # both content types in one query; ``_record_account_change`` then finds its own cached
        ContentType.objects.get_for_models(CandidateAccount, type(dossier), for_concrete_models=False)
    _record_account_change(actor=user, account=user, change_message=change_message)
    if dossier is not None:
        LogEntry.objects.create(
            user=user,
            content_type=ContentType.objects.get_for_model(type(dossier)),
            object_id=str(dossier.pk),
            object_repr=str(dossier)[:200],
            action_flag=CHANGE,
            change_message=change_message,
        )


def _email_change_already_made(*, user: User, new_email: str) -> bool:
    """Whether ``user`` (locked) already waits for the validation of ``new_email``: the same change submitted twice
    at once (a double click), the first one made while the second waited for the lock. The second then changes
    nothing: deleting the address again would kill the link of the first mail (its address row gone: « Ce lien a
    expiré ») and send a second one. No query unless the account's address is already ``new_email``."""
    return (
        bool(user.email)
        and normalize_email(user.email) == new_email
        and EmailAddress.objects.filter(user=user, email=new_email, verified=False).exists()
    )


def mask_email(email: str) -> str:
    """``email`` as a notice to another address may show it: the first and last characters of the local part, the
    domain (« i•••s@example.org »); only the first of a local part of one or two characters."""
    local, _at, domain = email.rpartition("@")
    return local[:1] + "•••" + (local[-1] if len(local) > 2 else "") + "@" + domain


def _notify_former_address(*, user: User, old_email: str, new_email: str, actor: User) -> None:
    """Queue, in the caller's transaction and language, the notice to ``old_email`` that the account's address was
    changed to ``new_email`` (masked), now, by its owner or by staff (``actor``): CPT_MIN_MODIF_MAIL_ANCIEN."""
    moment = timezone.localtime()
    enqueue_notification_with(
        FORMER_ADDRESS_NOTICE_CODE,
        user,
        to=old_email,
        extra={
            "new_email_masked": mask_email(new_email),
            "change_date": long_date(moment),  # written in the mail's language when it is rendered
            "change_time": moment.strftime("%H:%M"),
            "changed_by_staff": actor.pk != user.pk,
            "contact_email": settings.INSTITUTION_CONTACT_EMAIL,
            "site_url": absolute_url(reverse("home")),
        },
        about=user,
    )


def _refuse_email_change(
    *,
    user: User,
    new_email: str,
    actor: User,
    may_mail_owner: Callable[[str], bool] | None,
    taken_by: AddressTakenBy = AddressTakenBy.CAMPAIGN_ACCOUNT,
) -> None:
    """``change_email`` refuses an address another account of the campaign uses, or a staff account holds
    (``taken_by``), as signup does: its owner is mailed (CPT_MIN_MODIF_MAIL_EXISTE, in the owner's language; a staff
    member reads that a candidate account needs another address, in the institution's) unless ``may_mail_owner``
    says no (the caller's limit, or the helpdesk, who is told the refusal beside the field and whose refusal is no
    news to the owner); the caller is told nothing."""
    staff = taken_by == AddressTakenBy.STAFF
    whose = "a staff account's" if staff else "used in the campaign"
    if may_mail_owner is not None and not may_mail_owner(new_email):
        logger.info(
            "e-mail change of account %s refused: address %s, its owner not mailed (actor %s)",
            user.pk,
            whose,
            actor.pk,
        )
        return
    enqueue_notification(
        "CPT_MIN_MODIF_MAIL_EXISTE",
        None,  # the owner of the address is not told whose account tried
        to=new_email,
        # The owner's language, not the candidate's; staff accounts keep none: the institution's.
        language=settings.LANGUAGE_CODE if staff else owner_language(email=new_email, campaign=user.campaign),
        password_reset_url=absolute_url(reverse("account_reset_password")),
        staff_address=staff,
    )
    logger.info("e-mail change of account %s refused: address %s (actor %s)", user.pk, whose, actor.pk)


def violates_email_per_campaign(error: IntegrityError) -> bool:
    """Whether ``error`` is the unique constraint of an address per campaign (``user_email_unique_per_campaign``):
    another account took the address between a check and a save (a signup posted twice, two candidates changing to
    the same address at once). The constraint's name is in the database's message (PostgreSQL's and SQLite's)."""
    return EMAIL_PER_CAMPAIGN_CONSTRAINT in str(error)


def readdress_unsent_mails(*, user: User, old_email: str, new_email: str) -> int:
    """The account's mails that have not left, to the address it had, go to its new one: those the mail server
    refused for good (« FAILED », a wrong address: the outbox's log says to correct the address, then resend them
    from the admin, and a resend went to the wrong address again) and those waiting for their next attempt.

    Not when another active account has the old address (a staff member sharing it): the outbox does not say whose
    mail a row is, so none is moved. A mail being sent at this moment is left to its sender, a notice that an
    account's address was changed (CPT_MIN_MODIF_MAIL_ANCIEN) to the address it was sent to. Returns the number of
    mails readdressed.
    """
    if User.objects.filter(email__iexact=old_email, is_active=True).exclude(pk=user.pk).exists():
        return 0
    return (
        OutboundEmail.objects.filter(
            to__iexact=old_email, status__in=[OutboundEmail.Status.FAILED, OutboundEmail.Status.PENDING]
        )
        # A notice that the account's address was changed is for the address it went to: its owner must read it
        # there, never at the address the change gave the account (``change_email``).
        .exclude(code=FORMER_ADDRESS_NOTICE_CODE)
        .update(to=new_email)
    )


def resend_email_validation(*, user: User, actor: User) -> str:
    """Send the candidate's account the link that validates its address again ("I never got the mail"), as
    allauth sends it at login (the caller applies allauth's limit on these mails, ``confirm_email``, keyed on the
    address): through our adapter and the outbox, CPT_MIN_CREATE (identifier and link) for an account that never
    logged in, else CPT_MIN_MODIF_MAIL. Refused (``BusinessRuleError``) once the address is validated. Logged with
    the actor; returns the address the link went to."""
    with transaction.atomic():
        user = User.objects.select_for_update(of=("self",)).get(pk=user.pk)
        address = EmailAddress.objects.filter(user=user, email__iexact=user.email).first()
        if address is not None and address.verified:
            raise BusinessRuleError(_("The address of this account is already validated."))
        if not user.email:
            raise BusinessRuleError(_("This account has no e-mail address."))
        if address is None:  # an account set up without allauth's row: the link needs one
            address = EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
        with in_owner_language(user=user, actor=actor):
            address.send_confirmation(signup=user.last_login is None)
        logger.info("validation link of account %s sent again to its address by %s", user.pk, actor.pk)
    return address.email


@transaction.atomic
def create_candidate_account(*, email: str, first_name: str, last_name: str, actor: User) -> User:
    """Staff create a candidate's e-mail account (a phone call, a paper application; issue 12): the account joins
    the active campaign with a new numéro de dossier, no password and its address to validate, and the candidate
    receives CPT_MIN_CREATE saying the institution created it for them (``created_by_staff``), with their identifier
    and the link of a signup: allauth's validation link (an HMAC of the address, no row), which validates the address
    (the candidate proves they read the mailbox), then leads to choosing a password
    (``AccountAdapter.get_email_verification_redirect_url``). That link is valid ``UNVALIDATED_ACCOUNT_DAYS`` days
    (ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS), as long as the account lives unvalidated
    (:func:`purge_unvalidated_accounts`), and once: it answers only while the address is not validated. The helpdesk
    sends it again like any account's (:func:`resend_email_validation`). Not the « forgotten credentials » link
    (CPT_MIN_ID_OUBLIE): valid 2 hours (PASSWORD_RESET_TIMEOUT), for a request the candidate never made. The mail is
    in the account's language, else the institution's, never the staff member's page's (:func:`in_owner_language`).
    Refused (``BusinessRuleError``) when an account of the campaign
    uses the address (also one created meanwhile: a double click, two staff members) or a staff account holds it as
    validated (allauth keeps a validated address unique). Written to the account's history in the back office
    (« Comptes candidats ») with the staff actor."""
    campaign = Campaign.objects.active().first()
    if campaign is None:
        raise BusinessRuleError(_("No admissions campaign is open: accounts cannot be created at the moment."))
    email = normalize_email(email)  # as signup stores addresses
    taken = _("An account of this campaign already uses this e-mail address.")
    taken_by = email_taken_in_campaign(email=email, campaign=campaign)
    if taken_by == AddressTakenBy.STAFF:
        raise BusinessRuleError(_("This e-mail address belongs to a staff account: the candidate needs another one."))
    if taken_by:
        raise BusinessRuleError(taken)
    user = User(
        username=issue_numero_dossier(),
        campaign=campaign,
        email=email,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
    )
    user.set_unusable_password()
    try:
        # A savepoint: another account may take the address between the check and the save (a double click, two
        # staff members at once); the campaign's unique constraint then refuses it, as the check would have.
        with transaction.atomic():
            user.save()
    except IntegrityError as error:
        if not violates_email_per_campaign(error):
            raise
        raise BusinessRuleError(taken) from None
    # Validated by the link (``AccountAdapter.confirm_email`` then releases it from past campaigns' accounts).
    address = EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
    activate_url = absolute_url(reverse("account_confirm_email", args=[EmailConfirmationHMAC(address).key]))
    with in_owner_language(user=user, actor=actor):
        enqueue_notification("CPT_MIN_CREATE", user, to=email, activate_url=activate_url, created_by_staff=True)
    with translation.override(settings.LANGUAGE_CODE):  # history: the institution's language
        change_message = _("Account created by staff for the candidate")
    _record_account_change(actor=actor, account=user, change_message=change_message)
    logger.info("candidate account %s created by staff %s", user.username, actor.username)
    return user


def may_set_password(user: User | AnonymousUser) -> bool:
    """Whether ``user`` may choose a password of their own ("Définir un mot de passe"): a candidate whose account has
    none (an ENT account) while ``ENT_ACCOUNTS_PASSWORD`` is on (eCandidat CANDIDAT_IS_MDP_CONNECT_CAS). Staff
    passwords are managed in the back office. Costs no query when the account already has a password."""
    if not user.is_authenticated or not user.is_candidate or user.has_usable_password():
        return False
    return bool(parameters.get("ENT_ACCOUNTS_PASSWORD"))


def may_reset_password(user: User) -> bool:
    """Whether « J'ai oublié mes identifiants » (allauth's password reset) may give ``user`` a new password: an
    active account, and for an account created through the ENT (linked to an ENT identity) only while
    ``ENT_ACCOUNTS_PASSWORD`` is on (eCandidat CANDIDAT_IS_MDP_CONNECT_CAS), or while ``ENT_CANDIDATE_LOGIN`` is off:
    the ENT then no longer logs candidates in, and a password is the student's only way in (the login page says
    so). Staff are not concerned by the parameter. Costs a query only for a candidate while both parameters would
    refuse an ENT account."""
    if not user.is_active:
        return False
    if not user.is_candidate or parameters.get("ENT_ACCOUNTS_PASSWORD") or not parameters.get("ENT_CANDIDATE_LOGIN"):
        return True
    return not SocialAccount.objects.filter(user=user).exists()


def set_candidate_password(*, user: User, password: str, actor: User) -> User:
    """Give an ENT candidate's account a local password (eCandidat CANDIDAT_IS_MDP_CONNECT_CAS), so that they also log
    in with their numéro de dossier (or e-mail address) and this password, the ENT down or not. The password is
    checked by the caller's form (AUTH_PASSWORD_VALIDATORS). Refused (``BusinessRuleError``) when the parameter is
    off, for staff, and for an account that already has a password (it is changed with the current one). Written to
    the account's history in the back office (Django's log, "Comptes candidats") with the actor. Returns the account
    as saved (the caller keeps its session with the new hash)."""
    with transaction.atomic():
        user = User.objects.select_for_update(of=("self",)).get(pk=user.pk)
        if not user.is_candidate:
            raise BusinessRuleError(_("Staff passwords are managed in the back office."))
        if user.has_usable_password():
            raise BusinessRuleError(_("This account already has a password: change it with the current one."))
        if not parameters.get("ENT_ACCOUNTS_PASSWORD"):
            raise BusinessRuleError(_("Accounts created through the ENT log in through the ENT only."))
        user.set_password(password)
        user.save(update_fields=["password"])
        with translation.override(settings.LANGUAGE_CODE):  # history: the institution's language, not the candidate's
            change_message = _("Password chosen (account created through the ENT)")
        _record_account_change(actor=actor, account=user, change_message=change_message)
    logger.info("password of ENT account %s set by %s", user.pk, actor.pk)
    return user


def remove_candidate_second_factor(*, user: User, actor: User) -> int:
    """Remove every second factor of a candidate's account (allauth's ``Authenticator`` rows: the authenticator app,
    security keys, recovery codes), for a candidate who lost both their phone and their recovery codes: a password
    reset does not remove them, and the login would ask for a code forever. The helpdesk does it from the account's
    page in « Comptes candidats » (``applications.admin.accounts``), after checking who is calling; the candidate then
    logs in with their password alone, and may activate a new app from their account.

    Written to the account's history in the back office with ``actor``, in the institution's language. Refused
    (``BusinessRuleError``) for a staff account (« Seconds facteurs du personnel » is theirs). Returns the number of
    rows removed: 0 when the account had none (a double submit's second request), nothing recorded nor sent then.

    The candidate is told at their account's address (CPT_MIN_DOUBLE_AUTH_RETIREE, a security mail the central office
    cannot switch off, in the language their account keeps): which factors were removed, when, and whom to contact if
    they did not ask for it, since a caller may have talked the helpdesk into it. Queued in the removal's transaction,
    it leaves when the removal commits, never if it rolls back."""
    with transaction.atomic():
        user = User.objects.select_for_update(of=("self",)).get(pk=user.pk)
        if not user.is_candidate:
            raise BusinessRuleError(_("A staff member's second factor is removed on “Staff second factors”."))
        factors = Authenticator.objects.filter(user=user)
        kinds = sorted({Authenticator.Type(kind) for kind in factors.values_list("type", flat=True)})
        if not kinds:
            return 0
        removed = factors.delete()[1].get(Authenticator._meta.label, 0)
        with translation.override(settings.LANGUAGE_CODE):  # history: the institution's language
            change_message = _(
                "Second factor removed (%(kinds)s): the candidate logs in with their password alone."
            ) % {"kinds": ", ".join(str(kind.label) for kind in kinds)}
        _record_account_change(actor=actor, account=user, change_message=change_message)
        _notify_second_factor_removed(user=user, kinds=tuple(kind.value for kind in kinds), actor=actor)
    logger.info("second factor of candidate account %s removed (%s) by %s", user.pk, removed, actor.pk)
    return removed


def _notify_second_factor_removed(*, user: User, kinds: tuple[str, ...], actor: User) -> None:
    """Queue, in the caller's transaction and in the language the account keeps, the notice to the account's address
    that its second factors ``kinds`` (allauth's ``Authenticator.Type`` values) were removed by the helpdesk, now:
    CPT_MIN_DOUBLE_AUTH_RETIREE. Nothing for an account without an address (nowhere to send it)."""
    if not user.email:
        return
    moment = timezone.localtime()
    with in_owner_language(user=user, actor=actor):
        enqueue_notification_with(
            SECOND_FACTOR_REMOVED_NOTICE_CODE,
            user,
            to=user.email,
            extra={
                "removed_factors": factors_in_words(kinds),  # written in the mail's language when it is rendered
                "change_date": long_date(moment),
                "change_time": moment.strftime("%H:%M"),
                "contact_email": settings.INSTITUTION_CONTACT_EMAIL,
                "site_url": absolute_url(reverse("home")),
            },
            about=user,
        )


def remember_ent_session(*, session_key: str, sid: str, sub: str) -> None:
    """Tie an ecandidat session, just opened by an ENT login over OpenID Connect, to the ENT's session ``sid`` and
    subject ``sub``, so that the ENT's back-channel logout can end it (``accounts.oidc_backchannel``). The rows of
    sessions that have expired meanwhile go first (one query; those of deleted sessions went with them)."""
    EntSession.objects.filter(session__expire_date__lt=timezone.now()).delete()
    # One INSERT: the login has just given the session a new key; the unique constraint keeps a repeat out.
    EntSession.objects.bulk_create([EntSession(session_id=session_key, sid=sid, sub=sub)], ignore_conflicts=True)


def end_ent_sessions(*, sid: str, sub: str) -> int:
    """The ENT's back-channel logout: end every ecandidat session of the ENT session ``sid`` (and of subject ``sub``
    when given too), or with ``sub`` alone every session its ENT logins opened. Deleting a session logs it out (its
    next request is anonymous); its ``EntSession`` rows go with it (database cascade). Returns the sessions ended;
    none is not an error (already logged out, expired, or never logged in here)."""
    sessions = EntSession.objects.all()
    if sid:
        sessions = sessions.filter(sid=sid)
    if sub:
        sessions = sessions.filter(sub=sub)
    if not sid and not sub:
        return 0
    ended, _by_model = Session.objects.filter(session_key__in=sessions.values("session_id")).delete()
    # Recorded in the log with its actor, the ENT: ecandidat keeps no history of logins and logouts.
    logger.info("ENT back-channel logout (sid %r, sub %r): %s session(s) ended by the ENT", sid, sub, ended)
    return ended


def claim_logout_token(*, issuer: str, jti: str, expires_at: datetime.datetime) -> bool:
    """Record a logout token of the ENT as received; False when it already was (a replay). Kept until it expires
    (later than that its ``exp`` refuses it anyway); expired ones are deleted here."""
    EntLogoutToken.objects.filter(expires_at__lt=timezone.now()).delete()
    try:
        with transaction.atomic():
            EntLogoutToken.objects.create(issuer=issuer, jti=jti, expires_at=expires_at)
    except IntegrityError:
        return False
    return True
