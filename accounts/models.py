from typing import TYPE_CHECKING, ClassVar, Self

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.sessions.models import Session
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from ecandidat.staff import CENTRAL_SCOPE, StaffScope, scope_of

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from offers.models import Centre, Commission


class User(AbstractUser):
    """Everyone who logs in: candidates (one account per campaign) and staff.

    For a candidate, ``username`` is the numéro de dossier (8 upper-case letters and digits), which is also the
    login. The e-mail address is unique within a campaign only: accounts are annual, and the same person
    registers again for the next campaign.
    """

    email = models.EmailField(_("email address"), max_length=254)
    campaign = models.ForeignKey(
        "offers.Campaign",
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
        help_text=_("Set for candidates: their account belongs to this campaign. Empty for staff."),
    )
    student_number = models.CharField(
        _("student number"),
        max_length=20,
        blank=True,
        help_text=_("For students of the institution: the number given by the ENT (supannEtuId)."),
    )
    # The mark the nightly refresh needs (accounts.directory_refresh): a password chosen later by reset must not
    # turn a directory account into a local one that outlives its owner's departure.
    from_directory = models.BooleanField(
        _("made from the directory"),
        default=False,
        editable=False,
        help_text=_("Staff account made from the LDAP directory: deactivated when its owner leaves the directory."),
    )
    # Moved on to end every session of the account at once (``get_session_auth_hash``): an address change.
    session_generation = models.PositiveIntegerField(
        _("session generation"),
        default=0,
        db_default=0,
        editable=False,
        help_text=_("Increased when every session of the account must end (its e-mail address changed)."),
    )
    # The language of the page the candidate signed up on (``AccountAdapter.save_user``): the language of the mails
    # someone else sends them (the helpdesk) while the account has no dossier, whose ``preferred_language`` comes
    # first (``accounts.services.account_language``). Empty: the institution's (accounts made before, by staff).
    language = models.CharField(
        _("language of the account"),
        max_length=5,
        choices=settings.LANGUAGES,
        blank=True,
        default="",
        db_default="",
        editable=False,
        help_text=_(
            "The language of the page the account was created on: its mails are written in it until its dossier "
            "says otherwise. Empty: the institution's language."
        ),
    )

    objects: ClassVar[UserManager[Self]] = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                "campaign",
                name="user_email_unique_per_campaign",
                condition=models.Q(campaign__isnull=False),
                violation_error_message=_("An account already uses this e-mail address for this campaign."),
            ),
        ]

    @property
    def is_candidate(self) -> bool:
        return self.campaign_id is not None

    SESSION_GENERATION_SALT = "accounts.models.User.session_generation"

    def get_session_auth_hash(self) -> str:
        """What each session keeps at login; Django logs out a session whose hash no longer matches the account's
        (``django.contrib.auth.get_user``, at every request, with no query of its own). Django's is an HMAC of the
        password field: a new password ends the other sessions. An address change must end them all too (« Modifier
        mon adresse mail », the helpdesk's change: the account is unusable until the new address is validated,
        ``accounts.services.change_email``), and leaves the password alone: it moves ``session_generation`` on,
        which this hash mixes in.

        A counter, not the address in the hash nor the sessions deleted: sessions are database rows whose account is
        only in their signed data (every row would be decoded to find an account's), and only ENT logins are
        recorded (``EntSession``); the address also changes where nobody must be logged out (the directory's nightly
        refresh of a staff address, a migration normalising addresses). At generation 0, every account's at deploy,
        the hash is Django's own: no session opened before is logged out, and no fallback hash is needed (one that
        accepted the hash without the address would let a session outlive the change meant to end it). The
        ``SECRET_KEY_FALLBACKS`` still verify sessions after a key rotation (``get_session_auth_fallback_hash``)."""
        if not self.session_generation:
            return super().get_session_auth_hash()
        return self._session_generation_hash(secret=None)

    def get_session_auth_fallback_hash(self):
        if not self.session_generation:
            yield from super().get_session_auth_fallback_hash()
            return
        for secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_generation_hash(secret=secret)

    def _session_generation_hash(self, *, secret) -> str:
        """Django's hash of the password field (same secret, same algorithm), with the generation mixed in."""
        value = f"{self.password}\n{self.session_generation}"
        return salted_hmac(self.SESSION_GENERATION_SALT, value, secret=secret, algorithm="sha256").hexdigest()

    @property
    def numero_dossier(self) -> str:
        return self.username if self.is_candidate else ""

    @cached_property
    def staff_scope(self) -> StaffScope:
        """What this user may reach in the back office (``ecandidat.staff``), read once per user object (one
        query; none for superusers, who act as the central office). Use ``ecandidat.staff.scope_of(user)``, which
        also answers for anonymous and inactive users."""
        if self.is_superuser:
            return CENTRAL_SCOPE
        rows = StaffMembership.objects.filter(user=self).values_list(
            "role", "centre_id", "commission_id", "all_commissions", "commissions", "commissions__centre_id"
        )
        central = reads_candidates = corrects_candidates = False
        managed_centres, read_centres, commissions = set(), set(), set()
        managed_commissions, read_commissions, partly_read_centres, partly_managed_centres = set(), set(), set(), set()
        # One row per membership and chosen commission (a LEFT JOIN: one row with None for the others).
        for role, centre, commission, every_commission, chosen, chosen_centre in rows:
            if role == StaffRole.CENTRAL:
                central = True
            elif role == StaffRole.CANDIDATES:
                reads_candidates = corrects_candidates = True
            elif role == StaffRole.CANDIDATES_READ_ONLY:
                reads_candidates = True
            elif role == StaffRole.COMMISSION_MEMBER:
                commissions.add(commission)
            elif every_commission:
                read_centres.add(centre)
                if role == StaffRole.CENTRE_MANAGER:
                    managed_centres.add(centre)
            elif chosen is not None and chosen_centre == centre:  # never another centre's commission
                read_commissions.add(chosen)
                partly_read_centres.add(centre)
                if role == StaffRole.CENTRE_MANAGER:
                    managed_commissions.add(chosen)
                    partly_managed_centres.add(centre)
        return StaffScope(
            is_central=central,
            managed_centres=frozenset(managed_centres),
            read_centres=frozenset(read_centres),
            commissions=frozenset(commissions),
            managed_commissions=frozenset(managed_commissions),
            read_commissions=frozenset(read_commissions),
            partly_read_centres=frozenset(partly_read_centres),
            partly_managed_centres=frozenset(partly_managed_centres),
            reads_all_candidates=reads_candidates,
            corrects_all_candidates=corrects_candidates,
        )


class NumeroDossierHistory(models.Model):
    """Every numéro de dossier ever issued. A number is never given twice, even after its account is purged or its
    campaign archived: staff, exports and old mails keep pointing to one person only."""

    numero = models.CharField(_("dossier number"), max_length=8, unique=True)
    issued_at = models.DateTimeField(_("issued at"), auto_now_add=True)

    class Meta:
        verbose_name = _("issued dossier number")
        verbose_name_plural = _("issued dossier numbers")

    def __str__(self):
        return self.numero


class PreviousEmailAddress(models.Model):
    """An address an account had before it was changed (by the candidate, « Modifier mon adresse mail », or by the
    helpdesk): allauth keeps only the new one, and the helpdesk is called by a candidate who gives the address they
    signed up with. Written by ``accounts.services.change_email``; goes with the account."""

    user = models.ForeignKey(
        User, verbose_name=_("account"), on_delete=models.CASCADE, related_name="previous_email_addresses"
    )
    email = models.EmailField(_("previous e-mail address"), max_length=254)
    replaced_at = models.DateTimeField(_("replaced at"), default=timezone.now)
    replaced_by = models.ForeignKey(
        User, verbose_name=_("replaced by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("previous e-mail address")
        verbose_name_plural = _("previous e-mail addresses")
        ordering = ["-replaced_at", "-id"]

    def __str__(self):
        return self.email


class StaffRole(models.TextChoices):
    CENTRAL = "SCOL", _("central admissions office")
    CENTRE_MANAGER = "CTR", _("centre manager")
    COMMISSION_MEMBER = "COM", _("commission member")
    READ_ONLY = "RO", _("read only")
    # eCandidat's gestionCandidat and gestionCandidatLS (§2.1): the helpdesk and scolarité agents, institution-wide
    # (no centre, no commission): every candidate of the active campaign, never the applications' handling.
    CANDIDATES = "GCA", _("candidates manager")
    CANDIDATES_READ_ONLY = "GCAL", _("candidates manager, read only")


# The roles of the whole institution: no centre nor commission, one membership of each per person.
INSTITUTION_ROLES = (StaffRole.CENTRAL, StaffRole.CANDIDATES, StaffRole.CANDIDATES_READ_ONLY)


class StaffMembershipQuerySet(models.QuerySet["StaffMembership"]):
    def for_user(self, user: "User | AnonymousUser") -> Self:
        return self.filter(user=user) if user.is_authenticated else self.none()

    def central(self) -> Self:
        return self.filter(role=StaffRole.CENTRAL)

    def visible_to(self, user: "User | AnonymousUser") -> Self:
        """The memberships a member of staff may read in the back office: every one for the central office; for a
        manager of whole centres, those of their centres (managers, read-only members, members of the centres'
        commissions); none for anyone else (commission members, read-only members, managers of some commissions:
        eCandidat's centres' gestionnaires are set by the scolarité centrale, §2.2)."""
        scope = scope_of(user)
        if scope.is_central:
            return self.all()
        if not scope.managed_centres:
            return self.none()
        centres = scope.managed_centres
        return self.filter(models.Q(centre__in=centres) | models.Q(commission__centre__in=centres))

    def for_centre(self, centre: "Centre") -> Self:
        """Memberships giving rights on ``centre``: its managers and read-only members, plus the central office."""
        return self.filter(models.Q(centre=centre) | models.Q(role=StaffRole.CENTRAL))

    def for_commission(self, commission: "Commission") -> Self:
        return self.filter(commission=commission, role=StaffRole.COMMISSION_MEMBER)

    def centre_ids(self) -> set[int]:
        return set(self.exclude(centre=None).values_list("centre_id", flat=True))

    def commission_ids(self) -> set[int]:
        return set(self.exclude(commission=None).values_list("commission_id", flat=True))


class StaffMembership(models.Model):
    """A staff member's role: scolarité centrale (no centre), manager or read-only member of a centre de
    candidature, member of a commission, or gestionnaire de candidats (no centre: every candidate's dossier, read or
    corrected, never the applications' handling). Staff rights come from these rows, not from Django groups."""

    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="staff_memberships")
    role = models.CharField(_("role"), max_length=4, choices=StaffRole)
    centre = models.ForeignKey(
        "offers.Centre",
        verbose_name=_("centre"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="staff_memberships",
    )
    commission = models.ForeignKey(
        "offers.Commission",
        verbose_name=_("commission"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="staff_memberships",
    )
    # eCandidat tem_all_comm_gest: a centre manager or read-only member of every commission of the centre, or of the
    # chosen ones only. A flag rather than "an empty list means all": deleting the chosen commissions never widens
    # a membership (without any, it reaches no application).
    all_commissions = models.BooleanField(
        _("every commission of the centre"),
        default=True,
        help_text=_("Untick to limit a centre manager or read-only member to the commissions chosen below."),
    )
    commissions = models.ManyToManyField(
        "offers.Commission",
        verbose_name=_("commissions of the centre"),
        blank=True,
        related_name="limited_memberships",
        help_text=_("Only when the membership does not cover every commission of the centre."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = StaffMembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("staff membership")
        verbose_name_plural = _("staff memberships")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(role__in=["SCOL", "GCA", "GCAL"], centre__isnull=True, commission__isnull=True)
                    | models.Q(role__in=["CTR", "RO"], centre__isnull=False, commission__isnull=True)
                    | models.Q(role="COM", centre__isnull=True, commission__isnull=False)
                ),
                name="staff_membership_scope_matches_role",
                violation_error_message=_(
                    "Central office and candidates managers: no centre nor commission; centre manager and read only: "
                    "a centre; commission member: a commission."
                ),
            ),
            models.UniqueConstraint(
                fields=["user", "role", "centre"], condition=models.Q(centre__isnull=False), name="staff_unique_centre"
            ),
            models.UniqueConstraint(
                fields=["user", "commission"], condition=models.Q(commission__isnull=False), name="staff_unique_com"
            ),
            models.UniqueConstraint(fields=["user"], condition=models.Q(role="SCOL"), name="staff_unique_central"),
            models.UniqueConstraint(
                fields=["user", "role"], condition=models.Q(role__in=["GCA", "GCAL"]), name="staff_unique_candidates"
            ),
            models.CheckConstraint(
                condition=models.Q(all_commissions=True) | models.Q(role__in=["CTR", "RO"]),
                name="staff_membership_some_commissions_of_a_centre",
                violation_error_message=_(
                    "Only a centre manager or a read-only member may be limited to some commissions of the centre."
                ),
            ),
        ]

    def __str__(self):
        scope = self.centre or self.commission or _("institution")
        return f"{self.user} · {self.get_role_display()} · {scope}"


class StaffEnrolmentTokenQuerySet(models.QuerySet["StaffEnrolmentToken"]):
    def usable(self) -> Self:
        """Not used yet and not expired."""
        return self.filter(used_at__isnull=True, expires_at__gt=timezone.now())


class StaffEnrolmentToken(models.Model):
    """The second secret a staff member needs to activate a FIRST authenticator app (accounts.staff_enrolment).

    Without it, whoever holds a staff password alone could enrol their own app and enter the back office. It is
    either a link mailed to the staff member's address or a code that the central office hands over; single use,
    expiring, stored as a SHA-256 hash only. The row stays as the record of who issued it, who used it and when.
    """

    class Channel(models.TextChoices):
        MAIL = "MAIL", _("link mailed to the staff member")
        CODE = "CODE", _("code issued by the central office")

    user = models.ForeignKey(
        User, verbose_name=_("staff member"), on_delete=models.PROTECT, related_name="enrolment_tokens"
    )
    channel = models.CharField(_("channel"), max_length=4, choices=Channel)
    secret_hash = models.CharField(_("secret hash"), max_length=64, unique=True, editable=False)
    issued_by = models.ForeignKey(
        User,
        verbose_name=_("issued by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="issued_enrolment_tokens",
        help_text=_("Empty: issued on the server with manage.py issue_enrolment_code."),
    )
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    used_from = models.GenericIPAddressField(_("used from (IP address)"), null=True, blank=True)

    objects = StaffEnrolmentTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("staff enrolment token")
        verbose_name_plural = _("staff enrolment tokens")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("issued_at")), name="enrolment_token_expires_after_issue"
            ),
            models.CheckConstraint(
                condition=models.Q(used_at__isnull=False) | models.Q(used_from__isnull=True),
                name="enrolment_token_ip_only_when_used",
            ),
        ]

    def __str__(self):
        return f"{self.user} · {self.get_channel_display()} · {self.issued_at:%Y-%m-%d %H:%M}"


class SharedCacheEntry(models.Model):
    """A row of Django's ``DatabaseCache``: the default cache when REDIS_URL is absent (settings, "Redis").

    Rate limits (login lockouts, uploads) must be counted once for every process (gunicorn workers, the in-process
    Celery), which a per-process LocMemCache cannot do. The table is declared here, with the exact columns of
    ``manage.py createcachetable``, so that ``migrate`` creates it on every database and nobody has to remember an
    extra command. Never read through the ORM: the cache backend owns it.
    """

    cache_key = models.CharField(_("key"), max_length=255, primary_key=True)
    value = models.TextField(_("value"))
    expires = models.DateTimeField(_("expires"), db_index=True)

    class Meta:
        db_table = "ecandidat_cache"
        verbose_name = _("shared cache entry")
        verbose_name_plural = _("shared cache entries")

    def __str__(self):
        return self.cache_key


class AccountDeletion(models.Model):
    """A candidate account deleted at the candidate's request (``applications.services.erasure``): what is left of
    it is its numéro de dossier (never issued again), what went with it (counts), whether an OPI of the person had
    already left for the student records system, and who deleted it."""

    numero_dossier = models.CharField(_("dossier number"), max_length=8)
    campaign = models.ForeignKey(
        "offers.Campaign", verbose_name=_("campaign"), on_delete=models.PROTECT, related_name="+"
    )
    everything = models.BooleanField(
        _("complete deletion (CNIL)"), help_text=_("The applications, pieces and mails went with the account.")
    )
    applications = models.PositiveIntegerField(_("applications deleted"))
    files = models.PositiveIntegerField(_("stored files deleted"))
    mails = models.PositiveIntegerField(_("mails deleted"))
    notified = models.BooleanField(_("candidate informed by e-mail"))
    # OPI files that carried the person had left the database (collected, or erased since): they may be in Pégase or
    # Apogée, where nothing of the deletion reaches (RGPD art. 19).
    opi_sent = models.BooleanField(
        _("OPI already sent"),
        default=False,
        help_text=_("The person may be in the student records system (Pégase, Apogée): to remove there by hand."),
    )
    deleted_by = models.ForeignKey(User, verbose_name=_("deleted by"), on_delete=models.PROTECT, related_name="+")
    deleted_at = models.DateTimeField(_("deleted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("deleted candidate account")
        verbose_name_plural = _("deleted candidate accounts")
        ordering = ["-deleted_at", "-id"]

    def __str__(self):
        return self.numero_dossier


class EntSession(models.Model):
    """An ecandidat session opened by an ENT login over OpenID Connect, under the ENT's session ``sid`` and subject
    ``sub``: what the ENT's back-channel logout names (``accounts.oidc_backchannel``). Written at the login
    (``services.remember_ent_session``); the row goes with its session, by the database (``DB_CASCADE``): logout, a
    login's new session key, a back-channel logout, ``clearsessions``; rows of expired sessions are also deleted at
    each ENT login. Neither the ``sid`` nor the ``sub`` lets anyone in: they only say which sessions to end."""

    session = models.ForeignKey(
        Session, verbose_name=_("session"), on_delete=models.DB_CASCADE, related_name="+", db_index=False
    )
    sid = models.CharField(_("ENT session"), max_length=255, blank=True)
    sub = models.CharField(_("ENT subject"), max_length=255)
    created_at = models.DateTimeField(_("logged in at"), auto_now_add=True)

    class Meta:
        verbose_name = _("ENT session")
        verbose_name_plural = _("ENT sessions")
        constraints = [models.UniqueConstraint(fields=["session", "sid", "sub"], name="ent_session_once")]
        indexes = [
            models.Index(fields=["sid"], name="ent_session_sid"),
            models.Index(fields=["sub"], name="ent_session_sub"),
        ]

    def __str__(self):
        return f"{self.sub} · {self.sid}"


class EntLogoutToken(models.Model):
    """A logout token of the ENT already received (its ``jti``), kept until it expires so that the same token posted
    again is refused (Back-Channel Logout 1.0, section 2.6)."""

    issuer = models.CharField(_("issuer"), max_length=255)
    jti = models.CharField(_("token identifier"), max_length=255)
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    class Meta:
        verbose_name = _("ENT logout token")
        verbose_name_plural = _("ENT logout tokens")
        constraints = [models.UniqueConstraint(fields=["issuer", "jti"], name="ent_logout_token_once")]

    def __str__(self):
        return self.jti


class StaffSecondFactor(Authenticator):
    """allauth's authenticator, shown in the back office in French under the staff accounts (accounts.admin_framework);
    a proxy: no table of its own."""

    class Meta:
        proxy = True
        verbose_name = _("staff second factor")
        verbose_name_plural = _("staff second factors")


class CandidateAccount(User):
    """A candidate's account as the helpdesk sees it in the back office ("Comptes candidats",
    ``applications/admin/accounts.py``): every account of the active campaign, also one whose état civil is not
    filled in yet (no dossier); a proxy: no table of its own, its history (Django's log) apart from the users'."""

    class Meta:
        proxy = True
        verbose_name = _("candidate account")
        verbose_name_plural = _("candidate accounts")
