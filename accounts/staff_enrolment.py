"""A staff member's FIRST authenticator app needs a second secret, not just the password.

Without this, the second factor of the back office (accounts.staff_access) is trust-on-first-use: whoever holds a
staff password, for an account that has no authenticator app yet, could activate their own app and enter /gestion/.
So, while STAFF_MFA_REQUIRED is on, allauth's activation page opens for a staff member only when the session holds:

- a second factor already (an ENT login, which counts as one, or a TOTP code typed earlier in the session: the
  replacement of an app), or
- an enrolment grant, which the staff member gets by redeeming a ``StaffEnrolmentToken``:
  - a one-time link mailed to their address (through the outbox), which they ask for on the enrolment page, or
  - a one-time code issued by the central office from the admin (user list, action "Issue an enrolment code"),
    handed over in person or by phone, for a staff member who cannot receive the mail.

Tokens are single use, expire (``LINK_VALIDITY`` / ``CODE_VALIDITY``), are stored as SHA-256 hashes only (the
secrets carry 256 bits for links and 60 bits for codes, and codes typed are rate limited: no salt or slow hash is
needed), and stay as the record of who issued them, when, and when and from where they were used. The grant lasts
``GRANT_VALIDITY`` in this session only.
"""

import datetime
import hashlib
import logging
import secrets

from allauth.account.internal.flows.login import _AUTHENTICATION_METHODS_USER_SESSION_KEY, record_authentication
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY as AUTH_USER_ID_KEY
from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import cas, oidc_backchannel
from accounts.models import StaffEnrolmentToken, User
from accounts.staff_access import session_has_second_factor
from ecandidat.absolute_urls import absolute_url
from ecandidat.emails import enqueue_email
from ecandidat.exceptions import BusinessRuleError
from ecandidat.sessions import SessionStore
from ecandidat.staff import scope_of

logger = logging.getLogger(__name__)

LINK_VALIDITY = datetime.timedelta(hours=1)
CODE_VALIDITY = datetime.timedelta(days=3)
GRANT_VALIDITY = datetime.timedelta(minutes=15)
SESSION_KEY = "staff_enrolment_grant"
# allauth's views that add an authenticator (WebAuthn is not enabled, its name is listed for when it is).
GATED_URL_NAMES = frozenset({"mfa_activate_totp", "mfa_add_webauthn"})
# Codes are read aloud or typed from a note: no 0/O, 1/I/L confusion; 12 characters of 32 = 60 bits.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
# allauth's session key naming the account whose password (or other step) was accepted in the session, logged in or
# not yet (its MFA step pending).
PENDING_LOGIN_USER_KEY = _AUTHENTICATION_METHODS_USER_SESSION_KEY

ENROLMENT_NEEDED_MESSAGE = gettext_lazy(
    "Before activating an authenticator app, confirm that you are the owner of this staff account: open the link "
    "sent to your e-mail address, or type the enrolment code given by the central office."
)
INVALID_SECRET_MESSAGE = gettext_lazy("This enrolment link or code is not valid.")
USED_SECRET_MESSAGE = gettext_lazy("This enrolment link or code has already been used: ask for a new one.")
EXPIRED_SECRET_MESSAGE = gettext_lazy("This enrolment link or code has expired: ask for a new one.")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _normalise_code(code: str) -> str:
    """What the staff member types: spaces and dashes between groups are ignored, lower case accepted."""
    return "".join(code.split()).replace("-", "").upper()


def _display_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def _expire_earlier_secrets(user: User, now) -> int:
    """Only the latest link or code of ``user`` works: the ones issued before it and not used yet expire now (their
    rows stay, the record of who issued them). A code handed to the wrong person, or a link mailed again because the
    first went astray, is reissued precisely so that the first stops working (found by review: it worked on for its
    three days). One query."""
    expired = StaffEnrolmentToken.objects.usable().filter(user=user, issued_at__lt=now).update(expires_at=now)
    if expired:
        logger.info("staff enrolment: %d earlier link(s) or code(s) of user %s expired by a new one", expired, user.pk)
    return expired


def mail_enrolment_link(*, user: User, actor: User) -> StaffEnrolmentToken:
    """Mail ``user`` a one-time link that opens the activation of their first authenticator app.

    The link goes to the address of the account, which an attacker holding the password alone does not read.
    Side effects: a ``StaffEnrolmentToken`` (channel MAIL, valid ``LINK_VALIDITY``) and a mail through the outbox
    (code STAFF_ENROLMENT), sent after commit; the user's earlier links and codes not used yet expire.
    """
    secret = secrets.token_urlsafe(32)
    now = timezone.now()
    _expire_earlier_secrets(user, now)
    token = StaffEnrolmentToken.objects.create(
        user=user,
        channel=StaffEnrolmentToken.Channel.MAIL,
        secret_hash=_hash(secret),
        issued_by=actor,
        issued_at=now,
        expires_at=now + LINK_VALIDITY,
    )
    enqueue_email(
        to=user.email,
        code="STAFF_ENROLMENT",
        # Staff mails are in the institution's language, not the page's of whoever asked (found by review).
        language=settings.LANGUAGE_CODE,
        template_base="accounts/email/staff_enrolment",
        context={
            "first_name": user.first_name,
            "last_name": user.last_name,
            "enrolment_url": absolute_url(reverse("accounts:staff_enrolment_link", args=[secret])),
            "validity_minutes": int(LINK_VALIDITY.total_seconds() // 60),
        },
    )
    logger.info("staff enrolment link %s mailed to user %s (actor %s)", token.pk, user.pk, actor.pk)
    return token


def may_issue_enrolment_code(actor: User) -> bool:
    """The central office (or a superuser) hands enrolment codes over; centre managers do not. Reads the staff
    scope the back office already loaded for this user object (no query on admin pages)."""
    return actor.is_active and scope_of(actor).is_central


def issue_enrolment_code(*, user: User, actor: User | None) -> str:
    """Issue a one-time enrolment code for staff member ``user``; returns the code, shown once to ``actor``.

    For a staff member who cannot open the mailed link. Only the central office may issue one
    (``may_issue_enrolment_code``); ``actor=None`` is the operator on the server (``manage.py
    issue_enrolment_code``, e.g. for the first superuser). A code for a non-staff account is refused, and so is a
    code for a superuser unless ``actor`` is a superuser or the operator (a code lets its holder add the account's
    second factor: no one gains wider rights than their own that way). Side effect: a ``StaffEnrolmentToken``
    (channel CODE, valid ``CODE_VALIDITY``) recording ``actor`` as its issuer; the user's earlier links and codes
    not used yet expire.
    """
    if actor is not None and not may_issue_enrolment_code(actor):
        raise BusinessRuleError(_("Only the central office issues enrolment codes."))
    if not user.is_staff:
        raise BusinessRuleError(_("Enrolment codes are for staff accounts only."))
    if user.is_superuser and actor is not None and not actor.is_superuser:
        raise BusinessRuleError(_("Only a superuser issues an enrolment code for a superuser."))
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    now = timezone.now()
    _expire_earlier_secrets(user, now)
    token = StaffEnrolmentToken.objects.create(
        user=user,
        channel=StaffEnrolmentToken.Channel.CODE,
        secret_hash=_hash(code),
        issued_by=actor,
        issued_at=now,
        expires_at=now + CODE_VALIDITY,
    )
    logger.info(
        "staff enrolment code %s issued for user %s by %s", token.pk, user.pk, actor.pk if actor else "the server"
    )
    return _display_code(code)


def redeem_enrolment_secret(
    *, user: User, secret: str, ip: str | None, channel: StaffEnrolmentToken.Channel
) -> StaffEnrolmentToken:
    """Use a mailed link's secret (``channel`` MAIL: the link's URL) or a code (``channel`` CODE: typed on the
    enrolment page) once, for ``user`` only; returns the token.

    Each way takes its own kind only: a code of the central office posted to the link's URL is as unknown as a wrong
    one (the URL would otherwise be a second door for the codes, beside the page's). Both ways are rate limited by
    the views, under one limit (``staff_enrolment_code``).

    Raises BusinessRuleError (unknown, of the other kind, another account's, used, expired). The claim is a
    conditional UPDATE on ``used_at IS NULL``: two requests racing with the same secret cannot both succeed. Side
    effects: ``used_at`` and ``used_from`` are stamped.
    """
    hashed = _hash(secret.strip()) if channel == StaffEnrolmentToken.Channel.MAIL else _hash(_normalise_code(secret))
    token = StaffEnrolmentToken.objects.filter(user=user, channel=channel, secret_hash=hashed).first()
    if token is None:
        raise BusinessRuleError(INVALID_SECRET_MESSAGE)
    if token.used_at is not None:
        raise BusinessRuleError(USED_SECRET_MESSAGE)
    now = timezone.now()
    if token.expires_at <= now:
        raise BusinessRuleError(EXPIRED_SECRET_MESSAGE)
    with transaction.atomic():
        claimed = StaffEnrolmentToken.objects.filter(pk=token.pk, used_at__isnull=True).update(
            used_at=now, used_from=ip
        )
    if not claimed:
        raise BusinessRuleError(USED_SECRET_MESSAGE)
    token.used_at, token.used_from = now, ip
    logger.info("staff enrolment token %s used by user %s from %s", token.pk, user.pk, ip)
    return token


def grant_enrolment(request: HttpRequest, token: StaffEnrolmentToken) -> None:
    """Let this session open the activation page for ``GRANT_VALIDITY``."""
    request.session[SESSION_KEY] = {
        "user": token.user_id,
        "token": token.pk,
        "until": (timezone.now() + GRANT_VALIDITY).timestamp(),
    }


def has_enrolment_grant(request: HttpRequest) -> bool:
    grant = request.session.get(SESSION_KEY)
    return bool(grant and grant.get("user") == request.user.pk and grant.get("until", 0) > timezone.now().timestamp())


def may_add_authenticator(request: HttpRequest) -> bool:
    """Whether allauth's activation page may open for this session. Reads the session only (no query).

    Candidates (who may protect their account with an app too) and anonymous visitors (allauth sends them to the
    login page) are not concerned; neither is anyone when STAFF_MFA_REQUIRED is off.
    """
    user = request.user
    if not (user.is_authenticated and user.is_staff and settings.STAFF_MFA_REQUIRED):
        return True
    return session_has_second_factor(request) or has_enrolment_grant(request)


def enrolment_redirect(request: HttpRequest) -> HttpResponseRedirect:
    """To the enrolment page, saying why."""
    messages.warning(request, ENROLMENT_NEEDED_MESSAGE)
    return HttpResponseRedirect(reverse("accounts:staff_enrolment"))


def needs_enrolment(user: User) -> bool:
    """A staff member without an authenticator app yet (one query)."""
    return not is_mfa_enabled(user, [Authenticator.Type.TOTP])


def close_grant_on_activation(request: HttpRequest) -> None:
    """Once the app is active, the grant has served: it is removed so that it cannot add a second app."""
    grant = request.session.pop(SESSION_KEY, None)
    if grant:
        logger.info("user %s activated an authenticator app with enrolment token %s", grant["user"], grant["token"])


def end_other_sessions(*, user: User, keep_session_key: str | None) -> int:
    """End every session of ``user`` but ``keep_session_key``: the ones logged in as ``user`` and the ones where a
    login of ``user`` is in progress (their password typed, allauth's next step pending). Returns how many ended.

    Sessions are stored signed, not by user: the unexpired rows are read and decoded (one pass, by chunks). Called
    when an authenticator is added, which is rare (once per account, or when a phone is replaced), so the pass is
    acceptable. Deleting a session logs it out: its next request is anonymous.
    """
    user_id = str(user.pk)
    store = SessionStore()
    rows = (
        Session.objects.filter(expire_date__gt=timezone.now())
        .exclude(session_key=keep_session_key or "")
        .values_list("session_key", "session_data")
    )
    keys = []
    for session_key, session_data in rows.iterator(chunk_size=2000):
        data = store.decode(session_data)
        if user_id in (str(data.get(AUTH_USER_ID_KEY)), str(data.get(PENDING_LOGIN_USER_KEY))):
            keys.append(session_key)
    if not keys:
        return 0
    ended, _by_model = Session.objects.filter(session_key__in=keys).delete()
    # Recorded in the log, as the ENT's logouts are: ecandidat keeps no history of logins and logouts.
    logger.info("authenticator added for user %s: %s other session(s) ended", user.pk, len(keys))
    return ended


def record_second_factor_on_activation(sender, request, user, authenticator, **kwargs) -> None:
    """Receiver of allauth's ``authenticator_added``.

    - Adding an authenticator app ends the user's OTHER sessions (``end_other_sessions``): a session opened with
      the password alone, while the account had no app (possible for staff, whom the back office then sent to the
      enrolment), must not outlive the app and, for instance, read the recovery codes. This session stays.
    - Activating the authenticator app means typing a valid code of it, in a session already logged in by password,
      so the session now holds both factors and the back office opens without asking for a second code straight
      away (which the app could not even give: a TOTP code is single-use). The session goes on under a new key
      (``rotate_session_key``).

    allauth sends the signal on commit of the activation, before the session is saved. The recovery codes generated
    with the app send it too: nothing more to do for them.
    """
    if authenticator.type not in (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN):
        return
    own_session = request is not None and request.user.pk == user.pk
    end_other_sessions(user=user, keep_session_key=request.session.session_key if own_session else None)
    if authenticator.type != Authenticator.Type.TOTP or not own_session:
        return
    record_authentication(request, user, "mfa", id=authenticator.pk, type=authenticator.type)
    close_grant_on_activation(request)
    rotate_session_key(request)


def rotate_session_key(request: HttpRequest) -> None:
    """This session gained a second factor (it may now open the back office): it goes on under a new key, so that
    a key known before (planted in the browser, read somewhere) opens nothing (session fixation, ASVS 3.2.1, as
    Django's ``login`` does for the first factor). The data stays; what the ENT's logouts name the session by (CAS
    ``SessionTicket``, OpenID Connect ``EntSession``, the latter deleted with the old row) follows the new key."""
    request.session.cycle_key()
    cas.follow_new_session_key(None, request)
    oidc_backchannel.follow_new_session_key(None, request)


def rotate_on_code_reauthentication(sender, request, user, authenticator, reauthenticated=False, **kwargs) -> None:
    """Receiver of allauth's ``authenticator_used``: a code typed at allauth's reauthentication (where
    ``accounts.staff_access.second_factor_redirect`` sends a staff session opened with the password alone) records a
    second factor in a session already logged in: it gets a new key (``rotate_session_key``). The code step of a
    login is left alone (its session is not logged in yet, and Django's ``login`` that follows changes the key)."""
    if request is None or not reauthenticated or getattr(request.user, "pk", None) != user.pk:
        return
    rotate_session_key(request)
