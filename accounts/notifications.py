"""The account mails (eCandidat CPT_MIN_*): declared here, registered by ``AccountsConfig.ready()``.

They are sent by allauth through ``accounts.adapters.AccountAdapter.send_mail`` and by ``accounts.services``
(e-mail change, second factor removed by the helpdesk), always through the outbox. Their subject is an account
(``User``, or None when the address belongs to nobody); the links come with each sending. They let people into
their account, so the central office cannot switch them off (``ecandidat.notifications.ALWAYS_ON_CODES``) and their
text must keep the link.
"""

import datetime

from django.conf import settings
from django.utils.formats import date_format
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from ecandidat.notifications import INSTITUTION_NAME, Kind, Notification, Variable

# The candidate's names, also used by the mails about an application (``applications.notifications``).
FIRST_NAME = Variable("first_name", _("first name of the candidate"), "Estelle")
LAST_NAME = Variable("last_name", _("last name of the candidate"), "Martin")
NUMERO_DOSSIER = Variable("numero_dossier", _("dossier number (the candidate's login)"), "K7M2P9QX")

ACTIVATE_URL = Variable(
    "activate_url",
    _("link validating the e-mail address"),
    "https://ecandidat.univ.example/accounts/confirm-email/Mzc:1vExample/",
)
PASSWORD_RESET_URL = Variable(
    "password_reset_url",
    _("link to choose a new password"),
    "https://ecandidat.univ.example/accounts/password/reset/key/1a-example/",
)
LOGIN_URL = Variable("login_url", _("link to the login page"), "https://ecandidat.univ.example/accounts/login/")
SIGNUP_URL = Variable("signup_url", _("link to create an account"), "https://ecandidat.univ.example/accounts/signup/")
IS_ENT_STUDENT = Variable(
    "is_ent_student", _("student of the institution, logs in with the ENT (yes/no)"), False, Kind.FLAG
)
# « Compte existant » when the address is a staff account's (held as validated): a candidate account needs another one.
STAFF_ADDRESS = Variable("staff_address", _("the address is a staff account's (yes/no)"), False, Kind.FLAG)
UNVALIDATED_DAYS = Variable("unvalidated_days", _("days left to validate the account before it is deleted"), 5)


def _days(days: int) -> str:
    return ngettext("%(days)d day", "%(days)d days", days) % {"days": days}


# The same delay in words, « 1 jour », « 5 jours »: gettext's plural, which the syntax of edited texts cannot write.
# Lazy: written in the mail's language when the mail is rendered (the preview's sample too).
days_in_words = lazy(_days, str)
UNVALIDATED_DELAY = Variable(
    "unvalidated_delay", _("delay to validate the account before it is deleted (“5 days”)"), days_in_words(5)
)
# CPT_MIN_CREATE of an account staff created for the candidate (issue 12): the institution created it for them.
CREATED_BY_STAFF = Variable(
    "created_by_staff", _("the account was created by staff for the candidate (yes/no)"), False, Kind.FLAG
)

# CPT_MIN_MODIF_MAIL_ANCIEN, to the address an account had: what changed, when, by whom, whom to tell if not them.
NEW_EMAIL_MASKED = Variable(
    "new_email_masked", _("the new address, masked (first and last letters, domain)"), "e•••n@example.org"
)


def _long_date(moment: datetime.date) -> str:
    return date_format(moment, "DATE_FORMAT")


# Written in the mail's language when the mail is rendered (the preview's sample too), as the delay above.
long_date = lazy(_long_date, str)
CHANGE_DATE = Variable("change_date", _("date of the change"), long_date(datetime.date(2027, 1, 15)))
CHANGE_TIME = Variable("change_time", _("time of the change"), "14:32")
CHANGED_BY_STAFF = Variable(
    "changed_by_staff", _("the helpdesk made the change, not the candidate (yes/no)"), False, Kind.FLAG
)
CONTACT_EMAIL = Variable("contact_email", _("address of the helpdesk"), "assistance.ecandidat@univ.example")
SITE_URL = Variable("site_url", _("address of eCandidat"), "https://ecandidat.univ.example/")

# CPT_MIN_DOUBLE_AUTH_RETIREE, to the candidate whose second factor the helpdesk removed: which ones, when, whom to
# tell if they did not ask for it (the same date, time, helpdesk and site as the notice above).
# allauth's ``Authenticator.Type`` values, in the order the mail names them (its labels are allauth's jargon).
_FACTOR_WORDS = {
    "totp": _("the authenticator app"),
    "webauthn": _("the security keys"),
    "recovery_codes": _("the recovery codes"),
}


def _factors(kinds: tuple[str, ...]) -> str:
    order = list(_FACTOR_WORDS)
    ranked = sorted(kinds, key=lambda kind: order.index(kind) if kind in order else len(order))
    words = [str(_FACTOR_WORDS.get(kind, kind)) for kind in ranked]
    if len(words) < 2:
        return "".join(words)
    return gettext("%(factors)s and %(last)s") % {"factors": ", ".join(words[:-1]), "last": words[-1]}


# « l'application d'authentification et les codes de récupération »: written in the mail's language when it is
# rendered (the preview's sample too), as the dates above.
factors_in_words = lazy(_factors, str)
REMOVED_FACTORS = Variable(
    "removed_factors",
    _("the second factors removed, in words (“the authenticator app and the recovery codes”)"),
    factors_in_words(("totp", "recovery_codes")),
)

_ACCOUNT = (INSTITUTION_NAME, FIRST_NAME, LAST_NAME, NUMERO_DOSSIER)
_CANDIDATE = _("the candidate")
_OWNER = _("the owner of the address")


def account_context(user: User | None) -> dict[str, object]:
    """The variables of the mails about an account, from the account (None: an address that has no account)."""
    context: dict[str, object] = {
        "numero_dossier": "",
        "first_name": "",
        "last_name": "",
        "is_ent_student": False,
        "staff_address": False,  # the sender of « compte existant » says when it is
        "unvalidated_days": settings.UNVALIDATED_ACCOUNT_DAYS,
        "unvalidated_delay": days_in_words(settings.UNVALIDATED_ACCOUNT_DAYS),
        "created_by_staff": False,  # its sender says when it is
    }
    if user is not None:
        context.update(
            numero_dossier=user.numero_dossier or user.username,
            first_name=user.first_name,
            last_name=user.last_name,
            is_ent_student=bool(user.student_number),
        )
    return context


def _account(
    code: str,
    label: Promise,
    sent_when: Promise,
    variables: tuple[Variable, ...],
    link: Variable,
    recipient: Promise = _CANDIDATE,
) -> Notification:
    return Notification(
        code=code,
        label=label,
        sent_when=sent_when,
        recipient=recipient,
        template_base=f"accounts/email/{code.lower()}",
        variables=variables,
        context=account_context,
        required=(link.name,),
    )


NOTIFICATIONS = (
    _account(
        "CPT_MIN_CREATE",
        _("account creation"),
        _("an account is created (validation link)"),
        (*_ACCOUNT, ACTIVATE_URL, IS_ENT_STUDENT, UNVALIDATED_DAYS, UNVALIDATED_DELAY, CREATED_BY_STAFF),
        ACTIVATE_URL,
    ),
    _account(
        "CPT_MIN_MODIF_MAIL",
        _("e-mail address change"),
        _("the candidate changes their e-mail address (validation link)"),
        (*_ACCOUNT, ACTIVATE_URL),
        ACTIVATE_URL,
        recipient=_("the candidate, at the new address"),
    ),
    _account(
        "CPT_MIN_ID_OUBLIE",
        _("forgotten credentials"),
        _("someone asks for the credentials of an account (password reset link)"),
        (*_ACCOUNT, PASSWORD_RESET_URL),
        PASSWORD_RESET_URL,
    ),
    # No link to choose a password: not a security mail (nobody gets in by it), so the central office may edit it
    # and switch it off like any other.
    Notification(
        code="CPT_MIN_ID_OUBLIE_ENT",
        label=_("forgotten credentials, account created through the ENT"),
        sent_when=_(
            "someone asks for the credentials of an account created through the ENT while ENT students may not "
            "choose a password (no link: log in with the ENT)"
        ),
        recipient=_CANDIDATE,
        template_base="accounts/email/cpt_min_id_oublie_ent",
        variables=(*_ACCOUNT, LOGIN_URL),
        context=account_context,
    ),
    _account(
        "CPT_MIN_EXISTE",
        _("account already exists"),
        _("someone tries to create an account with an address already used in the campaign, or a staff account's"),
        (INSTITUTION_NAME, PASSWORD_RESET_URL, STAFF_ADDRESS),
        PASSWORD_RESET_URL,
        recipient=_OWNER,
    ),
    _account(
        "CPT_MIN_MODIF_MAIL_EXISTE",
        _("new address already used"),
        _("a candidate tries to change their address to one already used in the campaign, or a staff account's"),
        (INSTITUTION_NAME, PASSWORD_RESET_URL, STAFF_ADDRESS),
        PASSWORD_RESET_URL,
        recipient=_OWNER,
    ),
    _account(
        "CPT_MIN_INCONNU",
        _("unknown account"),
        _("someone asks for the credentials of an address no account of the campaign uses"),
        (INSTITUTION_NAME, SIGNUP_URL),
        SIGNUP_URL,
        recipient=_OWNER,
    ),
    # The owner hears at their former address that it was replaced: a security mail, which cannot be switched off
    # (``ecandidat.notifications.ALWAYS_ON_CODES``), and whose text must say to which address (masked).
    Notification(
        code="CPT_MIN_MODIF_MAIL_ANCIEN",
        label=_("e-mail address changed, notice to the former address"),
        sent_when=_("the candidate or the helpdesk changes the e-mail address of an account"),
        recipient=_("the candidate, at the former address"),
        template_base="accounts/email/cpt_min_modif_mail_ancien",
        variables=(
            *_ACCOUNT,
            NEW_EMAIL_MASKED,
            CHANGE_DATE,
            CHANGE_TIME,
            CHANGED_BY_STAFF,
            CONTACT_EMAIL,
            SITE_URL,
        ),
        context=account_context,
        required=(NEW_EMAIL_MASKED.name,),
    ),
    # The owner hears that the helpdesk removed their second factor (a caller may have talked the helpdesk into it):
    # a security mail, which cannot be switched off (``ecandidat.notifications.ALWAYS_ON_CODES``), and whose text
    # must say what was removed.
    Notification(
        code="CPT_MIN_DOUBLE_AUTH_RETIREE",
        label=_("second factor removed by the helpdesk, notice to the candidate"),
        sent_when=_("the helpdesk removes the second factor of a candidate's account"),
        recipient=_CANDIDATE,
        template_base="accounts/email/cpt_min_double_auth_retiree",
        variables=(*_ACCOUNT, REMOVED_FACTORS, CHANGE_DATE, CHANGE_TIME, CONTACT_EMAIL, SITE_URL),
        context=account_context,
        required=(REMOVED_FACTORS.name,),
    ),
    # Not a security mail: the central office may switch it off, and staff tick "inform the candidate" each time.
    Notification(
        code="CPT_MIN_DELETE",
        label=_("account deletion"),
        sent_when=_("the central office deletes a candidate's account at their request, if it ticks the e-mail"),
        recipient=_CANDIDATE,
        template_base="accounts/email/cpt_min_delete",
        variables=_ACCOUNT,
        context=account_context,
    ),
)
