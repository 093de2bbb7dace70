"""django-allauth adapters: campaign-bound candidate accounts, numéro de dossier as username, mails through the
outbox, and ENT (OpenID Connect) students.

Settings: ``ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"`` and
``SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"``.
"""

import logging
import time

import requests
from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.authentication import get_authentication_records
from allauth.account.forms import default_token_generator
from allauth.account.internal.stagekit import clear_login
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from allauth.core import context as allauth_context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.core.internal import ratelimit as allauth_ratelimit
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.providers.base import AuthError, AuthProcess
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import transaction
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_lazy

from accounts import cas, directory, oidc, oidc_backchannel, services
from accounts.claims import has_control_character, single_value
from accounts.enums import LoginMethod
from ecandidat import maintenance, parameters
from ecandidat.absolute_urls import absolute_url
from ecandidat.emails import enqueue_email, enqueue_notification
from ecandidat.exceptions import BusinessRuleError

logger = logging.getLogger(__name__)

ANNUAL_ACCOUNTS_MESSAGE = gettext_lazy("Accounts are annual: create a new account for the current campaign.")
CONNECT_REFUSED = gettext_lazy(
    "An ENT identity cannot be linked to an account here: nothing was changed. Log in with the ENT or with your "
    "password."
)
# Information, not an error: the person chose « Annuler » (or refused) at the ENT, over OpenID Connect (``error=
# access_denied``, which allauth passes on as ``AuthError.CANCELLED``). CAS has no such return: a login cancelled there
# never comes back.
ENT_LOGIN_CANCELLED = gettext_lazy("You cancelled the ENT login.")
ENT_CLOSED_TO_CANDIDATES = gettext_lazy(
    "Candidates no longer log in through the ENT: log in with your dossier number or e-mail address and the "
    "password of your account. No password yet? “I forgot my credentials” mails you a link to choose one."
)

# The fields allauth's OpenID Connect provider reads from the claims (``extract_common_fields``), and their claims.
COMMON_FIELD_CLAIMS = {
    "first_name": "given_name",
    "last_name": "family_name",
    "name": "name",
    "email": "email",
    "username": "preferred_username",
}

# allauth mail → eCandidat code (declared in accounts.notifications). Codes follow eCandidat's where one exists.
MAILS = {
    "account/email/email_confirmation_signup": "CPT_MIN_CREATE",
    "account/email/email_confirmation": "CPT_MIN_MODIF_MAIL",
    "account/email/password_reset_key": "CPT_MIN_ID_OUBLIE",
    "account/email/account_already_exists": "CPT_MIN_EXISTE",
    "account/email/unknown_account": "CPT_MIN_INCONNU",
}
# The links allauth puts in its mail contexts: only plain values reach our templates (no request, no site object).
# All on SITE_URL (``ecandidat.absolute_urls``), never the request's Host: ``get_email_confirmation_url``,
# ``get_reset_password_from_key_url``, ``send_account_already_exists_mail`` and ``send_mail`` build them.
LINKS = ("activate_url", "password_reset_url", "signup_url")
# Set on the request by the signup forms (accounts.forms) when an address is taken, to whom: the mail to its owner
# depends on it (``AccountAdapter.send_account_already_exists_mail``), allauth passes it only the address.
SIGNUP_ADDRESS_TAKEN_BY = "signup_address_taken_by"


def login_refused_message(user) -> str:
    """Why a candidate whom ``services.candidate_can_log_in`` refuses cannot log in. An account of a past campaign:
    accounts are annual, a new one is created for the current campaign. An account of the active campaign outside its
    dates for candidates (eCandidat: no login after « Date fin candidats »): there is no other campaign to join and
    signup is closed too, so the page gives the dates, not the annual rule. ``user.campaign`` is the one
    ``candidate_can_log_in`` already read (no query)."""
    campaign = user.campaign
    if not campaign.is_active:
        return str(ANNUAL_ACCOUNTS_MESSAGE)
    today = timezone.localdate()
    if today < campaign.starts_on:
        return gettext("The campaign opens to candidates on %(date)s: come back then to log in.") % {
            "date": date_format(campaign.starts_on, "SHORT_DATE_FORMAT")
        }
    if today > campaign.ends_on:
        return gettext(
            "The campaign was open to candidates until %(date)s: you can no longer log in. For a question about your "
            "application, write to the office of your formation."
        ) % {"date": date_format(campaign.ends_on, "SHORT_DATE_FORMAT")}
    return str(ANNUAL_ACCOUNTS_MESSAGE)  # not reached: an active campaign within its dates lets its candidates in


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        # allauth's French catalogue leaves this one untranslated; ours has it (locale/fragments/mfa.po).
        "too_many_login_attempts": gettext_lazy("Too many failed login attempts. Try again later."),
        # allauth's French says "pseudo" where our login page (and the guide) says "Utilisateur".
        "username_password_mismatch": gettext_lazy("The user or the password is not correct."),
        # The same words for an address: an address that names an account becomes its username (LoginForm.
        # clean_login) while one that names nobody stays an address, and allauth's words for the two differ: they
        # would tell anyone which addresses have an account.
        "email_password_mismatch": gettext_lazy("The user or the password is not correct."),
        # allauth raises "Please type your current password." for a wrong one too: say what is wrong.
        "enter_current_password": gettext_lazy("This is not your current password."),
    }

    def is_open_for_signup(self, request) -> bool:
        """An e-mail account: the campaign's window, and ``EMAIL_ACCOUNTS`` (eCandidat CANDIDAT_IS_COMPTE_EXTERNE_AUT:
        off, only the university's students create accounts, through the ENT)."""
        if not parameters.get("EMAIL_ACCOUNTS"):
            request.signup_closed_reason = gettext(
                "Accounts are created through the ENT only: this university does not take applications from people "
                "who are not its students here."
            )
            return False
        return self.campaign_open(request)

    def campaign_open(self, request) -> bool:
        try:
            services.signup_campaign()
        except BusinessRuleError as exc:
            request.signup_closed_reason = str(exc)
            return False
        return True

    def populate_username(self, request, user) -> None:
        if not user.username:
            user.username = services.issue_numero_dossier()

    def save_user(self, request, user, form, commit=True):
        """The account joins the active campaign, with a new numéro de dossier and no password yet: the candidate
        chooses it after validating the address (no password ever travels by e-mail). It keeps the language of the
        page (``services.signup_language``): the helpdesk's mails to its owner are written in it until a dossier
        says otherwise (``services.account_language``). The ENT's « Création de compte » comes here too
        (``SocialAccountAdapter.save_user``, through allauth's)."""
        user.campaign = services.signup_campaign()
        user.language = services.signup_language()
        data = form.cleaned_data
        user.first_name = data.get("first_name", user.first_name)
        user.last_name = data.get("last_name", user.last_name)
        user.email = data.get("email", user.email)
        user.username = ""
        self.populate_username(request, user)
        user.set_unusable_password()
        if commit:
            user.save()
        return user

    def pre_login(self, request, user, **kwargs):
        """Before any login completes (password or ENT). During maintenance (the window or the switch), only staff
        log in: the login page passes the maintenance middleware for them, and anyone else gets the maintenance page
        here, logged in nowhere, with nothing recorded (no last login, no history, no SIS import)."""
        if (page := maintenance.page_for(request, user)) is not None:
            clear_login(request)
            if transaction.get_connection().in_atomic_block:
                transaction.set_rollback(True)  # the request's transaction (ATOMIC_REQUESTS): nothing written stays
            return page
        if not services.candidate_can_log_in(user):
            clear_login(request)
            messages.error(request, login_refused_message(user))
            return redirect("account_login")
        return super().pre_login(request, user, **kwargs)

    def login(self, request, user) -> None:
        super().login(request, user)
        cas.remember_ticket(request)  # a CAS login (ENT_PROTOCOL=cas): the single logout can now end this session

    def post_login(self, request, user, **kwargs):
        """Every completed login ends here, whatever its path: allauth's password login, its OpenID Connect callback
        and the CAS callback (``accounts.cas``, through allauth's social login). So the account's history records it
        here, once (``services.record_login``)."""
        sociallogin = (kwargs.get("signal_kwargs") or {}).get("sociallogin")
        # An ENT login over OpenID Connect: the ENT's back-channel logout can now end this session (its sid, its sub).
        oidc_backchannel.remember_session(request, sociallogin)
        services.record_login(user=user, method=login_method(request, user, sociallogin))
        return super().post_login(request, user, **kwargs)

    def get_logout_redirect_url(self, request) -> str:
        """After an ENT login, logging out also ends the ENT session, which then sends the browser back here: CAS
        single logout (accounts.cas), or OpenID Connect RP-initiated logout (accounts.oidc)."""
        url = super().get_logout_redirect_url(request)
        if cas.is_cas_session(request):
            return cas.logout_url(request, url)
        return oidc.logout_url(request, url) or url

    def confirm_email(self, request, email_address) -> bool:
        """Validate ``email_address`` (its link opened), releasing it from past campaigns' accounts first. Refused
        (allauth's failure: the login page, with the annual rule) for an account of a past campaign: its old link,
        still valid for UNVALIDATED_ACCOUNT_DAYS, would otherwise take the address back from this campaign's
        account, which could then no longer log in. The account is read with its campaign (the one query allauth's
        ``email_address.user`` would make)."""
        if not EmailAddress.user.is_cached(email_address):
            email_address.user = get_user_model().objects.select_related("campaign").get(pk=email_address.user_id)
        if services.is_past_campaign_account(email_address.user):
            messages.error(request, ANNUAL_ACCOUNTS_MESSAGE)
            return False
        services.release_email_from_past_campaigns(email=email_address.email, user=email_address.user)
        return super().confirm_email(request, email_address)

    def clear_failed_logins(self, user) -> None:
        """Forget the failed logins counted against ``user``'s account (« Trop de tentatives de connexion »), under
        the key the login form counts them: its username, which an address typed at the login becomes
        (``accounts.forms.LoginForm.clean_login``). At a password reset by the mailed link (``accounts.forms.
        ResetPasswordKeyForm``): allauth forgets only the counters of the account's addresses, and the candidate who
        had just chosen a new password stayed locked out for 5 minutes. Only the per-account limits of
        ``ACCOUNT_RATE_LIMITS["login_failed"]``: the per-IP counter of whoever opened the link stays."""
        request = self.request
        rates = (account_settings.RATE_LIMITS.get("login_failed") or "").split(",")
        per_account = ",".join(r for r in rates if r.strip() and allauth_ratelimit.parse_rate(r.strip()).per == "key")
        if request is None or not per_account:
            return
        allauth_ratelimit.clear(
            request,
            app="allauth.account",
            action="login_failed",
            config={"login_failed": per_account},
            key=self._get_login_attempts_cache_key(request, username=user.username),
        )

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        """allauth asks for the password again before an MFA change (activating the authenticator app...) unless the
        user *re*authenticated in the last ACCOUNT_REAUTHENTICATION_TIMEOUT seconds. A login that recent is as fresh,
        so staff sent to the activation page right after logging in do not type their password twice."""
        if not super().is_reauthentication_required(app=app, **kwargs):
            return False
        request = allauth_context.request
        if request is None or not request.user.is_authenticated:
            return True
        records = get_authentication_records(request, request.user)
        return not records or time.time() - records[-1].get("at", 0) >= account_settings.REAUTHENTICATION_TIMEOUT

    def get_email_verification_redirect_url(self, email_address: EmailAddress) -> str:
        """After validating a new e-mail account, the candidate goes straight to choosing a password (the page is
        allauth's password reset, reached with a fresh single-use token). ENT students log in with the ENT.

        Only once the address is validated: allauth asks here too when the validation failed (an address another
        account holds as validated, « déjà confirmé par un autre compte »), and a password chosen then would only
        lead to a login that asks for the validation again. The failure's message shows on the login page."""
        user = email_address.user
        if (
            email_address.verified
            and not user.has_usable_password()
            and user.is_candidate
            and not user.socialaccount_set.exists()
        ):
            token = default_token_generator.make_token(user)
            return reverse(
                "account_reset_password_from_key", kwargs={"uidb36": user_pk_to_url_str(user), "key": token}
            )
        return super().get_email_verification_redirect_url(email_address)

    def get_email_confirmation_url(self, request, emailconfirmation) -> str:
        """The validation link (CPT_MIN_CREATE, CPT_MIN_MODIF_MAIL) on SITE_URL. allauth's is built from the Host of
        the request that sends it: anyone's at signup, the helpdesk agent's intranet name at a resend or an address
        change, ``http://example.com`` (the sites framework's row) outside a request."""
        return absolute_url(reverse("account_confirm_email", args=[emailconfirmation.key]))

    def get_reset_password_from_key_url(self, key: str) -> str:
        """The « forgotten credentials » link (CPT_MIN_ID_OUBLIE) on SITE_URL, not on the Host an anonymous visitor
        posted the form with (``Host: 10.0.0.5`` mailed the candidate a link to 10.0.0.5). ``key`` is allauth's
        ``<uidb36>-<token>``: the account's number in base 36 (no dash), then the token."""
        uidb36, _, token = key.partition("-")
        return absolute_url(reverse("account_reset_password_from_key", kwargs={"uidb36": uidb36, "key": token}))

    def send_password_reset_mail(self, user, email, context) -> None:
        # Accounts of past campaigns cannot log in: recalling their identifier would only mislead (the form does not
        # offer them, ``services.password_reset_accounts``; nor an active campaign's outside its dates).
        if not services.candidate_can_log_in(user):
            return
        if not services.may_reset_password(user):
            # An ENT account while ENT students may not have a password: no link, the way in instead. The page the
            # sender sees is the same as for any address (ACCOUNT_PREVENT_ENUMERATION).
            login_url = absolute_url(reverse("account_login"))
            enqueue_notification("CPT_MIN_ID_OUBLIE_ENT", user, to=email, login_url=login_url)
            return
        self.send_mail("account/email/password_reset_key", email, {**context, "user": user})

    def clean_email(self, email: str) -> str:
        """Every address allauth's forms take (signup, the ENT's « Création de compte »), as it is stored and compared:
        the mailbox the mail reaches (``services.normalize_email``: ``a@examplｅ.org`` is ``a@example.org``), refused
        beside the field when that is longer than the address columns take (``services.check_stored_length``)."""
        return services.check_stored_length(super().clean_email(email))

    def send_account_already_exists_mail(self, email: str) -> None:
        """« Compte existant » (CPT_MIN_EXISTE) goes to the owner of the address, in the language their account
        keeps (their dossier's), else the institution's: allauth writes it in the language of whoever signed up. The
        page that person sees is the same whether the address has an account or not (ACCOUNT_PREVENT_ENUMERATION);
        only the mail, which they do not read, changes language.

        An address a staff account holds as validated (the signup form said so: ``SIGNUP_ADDRESS_TAKEN_BY``): its
        owner reads that a candidate account needs another address, in the institution's language."""
        request = allauth_context.request
        reset_url = absolute_url(reverse("account_reset_password"))  # not allauth's, on the request's Host
        if getattr(request, SIGNUP_ADDRESS_TAKEN_BY, None) == services.AddressTakenBy.STAFF:
            enqueue_notification(
                "CPT_MIN_EXISTE",
                None,
                to=email,
                language=settings.LANGUAGE_CODE,
                password_reset_url=reset_url,
                staff_address=True,
            )
            return
        try:
            campaign = services.signup_campaign()
        except BusinessRuleError:
            campaign = None
        with translation.override(services.owner_language(email=email, campaign=campaign)):
            links = {"signup_url": absolute_url(reverse("account_signup")), "password_reset_url": reset_url}
            self.send_mail("account/email/account_already_exists", email, links)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """Every allauth mail goes through our outbox (``enqueue_email``), with our templates and codes."""
        if template_prefix in MAILS:
            links = {name: context.get(name, "") for name in LINKS}
            if links["signup_url"]:
                # allauth's unknown-account mail (CPT_MIN_INCONNU) builds it from the request's Host, with no hook.
                links["signup_url"] = absolute_url(reverse("account_signup"))
            enqueue_notification(MAILS[template_prefix], context.get("user"), to=email, **links)
            return
        # A mail we have no template for (allauth notifications): its own text, still through the outbox.
        ctx = {"email": email, **context}
        subject = " ".join(render_to_string(f"{template_prefix}_subject.txt", ctx).splitlines()).strip()
        body = render_to_string(f"{template_prefix}_message.txt", ctx)
        code = template_prefix.rsplit("/", 1)[-1].upper()
        enqueue_email(
            to=email, code=code, template_base="accounts/email/generic", context={"subject": subject, "body": body}
        )


def login_method(request, user, sociallogin) -> LoginMethod:
    """How the login that has just completed was made: an ENT identity (``ent``, the one social provider) through
    CAS (the session holds its service ticket, ``accounts.cas.remember_ticket``) or OpenID Connect; else a password,
    with a second factor when this session's allauth records hold an authenticator code (staff, allauth MFA)."""
    if sociallogin is not None:
        return LoginMethod.ENT_CAS if cas.is_cas_session(request) else LoginMethod.ENT_OIDC
    if any(record.get("method") == "mfa" for record in get_authentication_records(request, user)):
        return LoginMethod.PASSWORD_AND_SECOND_FACTOR
    return LoginMethod.PASSWORD


def _claims(sociallogin) -> dict:
    data = sociallogin.account.extra_data or {}
    merged = {}
    for part in ("id_token", "userinfo"):
        if isinstance(data.get(part), dict):
            merged.update(data[part])
    if not merged:
        merged = dict(data)
    return merged


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        # EMAIL_ACCOUNTS does not concern the ENT; ENT_CANDIDATE_LOGIN does (a signup form left open when it went off).
        if not parameters.get("ENT_CANDIDATE_LOGIN"):
            request.signup_closed_reason = ENT_CLOSED_TO_CANDIDATES
            return False
        return AccountAdapter(request).campaign_open(request)

    def on_authentication_error(self, request, provider, error=None, exception=None, extra_context=None) -> None:
        """An ENT return over OpenID Connect that did not log anyone in: logged as the CAS path logs a ticket that
        does not validate, and the person goes back to the login page with a French message, nothing created (it was
        allauth's 401 page, « Échec de la connexion via réseau social », with no way back and no word of the ENT).

        The ENT that does not answer at the callback (its token or userinfo endpoint refusing, slow, in error: allauth
        catches the ``requests`` error itself) gets the words of the ENT button's (``oidc.ENT_UNREACHABLE``);
        a login the person cancelled at the ENT (``error=access_denied``: allauth's ``AuthError.CANCELLED``) says
        so, as information (``ENT_LOGIN_CANCELLED``), nothing failed; anything else (no ``state``, a ``state`` used
        already or from another browser, another ``error=`` from the ENT, a refused answer: a ``sub`` that names no
        identity, ``oidc.check_claims``) the CAS path's « the ENT login did not complete »."""
        if error == AuthError.CANCELLED:
            logger.info("ENT login cancelled by the person (OpenID Connect, %s)", provider.sub_id)
            messages.info(request, ENT_LOGIN_CANCELLED)
            raise ImmediateHttpResponse(redirect("account_login"))
        logger.warning("ENT login failed (OpenID Connect, %s): %s %s", provider.sub_id, error, exception or "")
        unreachable = isinstance(exception, requests.RequestException)
        messages.error(request, oidc.ENT_UNREACHABLE if unreachable else cas.LOGIN_NOT_STARTED)
        raise ImmediateHttpResponse(redirect("account_login"))

    def populate_user(self, request, sociallogin, data):
        """The names, address and username allauth pre-fills the « Création de compte » form with, each as one value
        (``accounts.claims.single_value``, as the CAS attributes and ``supannEtuId`` are read): a list is its first
        item (it was the text ``['Anne', 'Marie']``), an object or a string with a control character is no value (an
        object was a 500)."""
        data = {
            **data,
            **{field: single_value(data.get(field), name=claim) for field, claim in COMMON_FIELD_CLAIMS.items()},
        }
        return super().populate_user(request, sociallogin, data)

    def pre_social_login(self, request, sociallogin) -> None:
        """An ENT return (OpenID Connect, or CAS through accounts.cas), once the ENT has said who the person is.

        During maintenance (the window or the switch), only staff log in (the back office keeps working); anyone
        else gets the maintenance page, logged in nowhere, nothing created. With ``ENT_CANDIDATE_LOGIN`` off
        (eCandidat CANDIDAT_IS_CONNECT_CAS), only a staff account's ENT identity logs in; anyone else goes back to
        the login page with the reason, nothing created.

        Never allauth's « connect » (``process=connect``: add the identity to the account logged in), whatever the
        account (``_refuse_connect``). Then, an OpenID Connect identity may be a staff member's from the directory
        (``_link_directory_staff``): refreshed from the directory and, the first time, linked, it is a staff login
        like any other from here on."""
        if sociallogin.state.get("process") == AuthProcess.CONNECT:
            self._refuse_connect(request, sociallogin)
        self._link_directory_staff(request, sociallogin)
        # A new identity's user is not saved, and not staff: the maintenance page too (no query asked here).
        if (page := maintenance.page_for(request, sociallogin.user)) is not None:
            request.session.pop(cas.SESSION_TICKET, None)  # a refused CAS login: its ticket is no session's
            # allauth's lookup has already written the ENT's latest claims on a known identity's row: undone with
            # the request's transaction (ATOMIC_REQUESTS), so that nothing changes while the nightly jobs run. The
            # OpenID Connect state allauth consumed in the session goes back with it (a 503 saves no session):
            # harmless, the ENT's code cannot be exchanged twice.
            if transaction.get_connection().in_atomic_block:
                transaction.set_rollback(True)
            raise ImmediateHttpResponse(page)
        if parameters.get("ENT_CANDIDATE_LOGIN"):
            if sociallogin.user is not None and sociallogin.user.pk is not None:
                self._start_again_for_the_active_campaign(request, sociallogin)
            return
        user = sociallogin.user if sociallogin.is_existing else None
        if user is not None and user.is_staff and user.is_active:
            return
        request.session.pop(cas.SESSION_TICKET, None)  # a refused CAS login: its ticket is no session's
        messages.error(request, ENT_CLOSED_TO_CANDIDATES)
        raise ImmediateHttpResponse(redirect("account_login"))

    def _refuse_connect(self, request, sociallogin) -> None:
        """An ENT identity is tied to an account only at an ENT login: a student's at the account creation it leads
        to, a staff member's by the directory's rule (``_link_directory_staff``, the CAS callback), or by hand by the
        central office. allauth's « connect » would let anyone logged in add their own ENT identity to the account
        of the session: then a staff password alone, with that identity's ENT login, opens the back office (an ENT
        login counts as the second factor, ``accounts.staff_access``). Refused: nothing linked, the session as it
        was, the reason in French on the next page (the connections page that offers it answers 404,
        ``accounts.middleware``). Only a forged or stale request asks for it, so it is logged."""
        logger.warning(
            "ENT identity %s not connected to account %s: « connect » is not offered",
            sociallogin.account.uid,
            request.user.pk if request.user.is_authenticated else "-",
        )
        messages.error(request, CONNECT_REFUSED)
        raise ImmediateHttpResponse(redirect("home" if request.user.is_authenticated else "account_login"))

    def _link_directory_staff(self, request, sociallogin) -> None:
        """The CAS callback's rule (``directory.link_ent_identity``) at every OpenID Connect login that may be a
        staff member's, as CAS applies it at every CAS login: the staff account whose username is the
        ``ENT_STAFF_UID_CLAIM`` claim (default ``preferred_username``) of the ID token is refreshed from the directory
        (a directory that does not answer changes nothing: the login goes on, the nightly refresh catches up), gets
        the identity the first time, and logs in; a deactivated one goes back to the login page with the CAS message.

        Which logins: an identity not linked yet, and one linked to that same staff account (the claim names the
        account the identity logs in to). Not an identity linked to a candidate's account (no query here for a
        candidate's login), nor one a staff member was linked to by hand under another username (the ENT does not
        name it: the nightly refresh keeps it), nor a CAS login (its callback applied the rule before allauth).

        Only the ID token's claim counts: allauth has checked its issuer, audience and expiry (its signature too, or
        received it from the token endpoint itself), whereas userinfo is an unsigned answer."""
        claim = settings.ENT_STAFF_UID_CLAIM
        account = sociallogin.account
        if not claim or account.provider != oidc.PROVIDER_ID or cas.is_cas_session(request):
            return
        if account.pk is not None and account.user.campaign_id is not None:
            return  # a candidate's identity
        id_token = (account.extra_data or {}).get("id_token")
        login = id_token.get(claim) if isinstance(id_token, dict) else None
        if not isinstance(login, str) or not login.strip():
            return
        username_length = get_user_model()._meta.get_field("username").max_length
        too_long = username_length is not None and len(login.strip()) > username_length
        if too_long or has_control_character(login):
            # No username is that: not looked up (a NUL was a 500 on PostgreSQL). The candidates' path goes on.
            logger.warning("ENT claim %s names no staff account: %r", claim, login[:80])
            return
        if account.pk is not None and login.strip().casefold() != account.user.username.casefold():
            return
        try:
            identity = directory.link_ent_identity(
                provider=account.provider,
                uid=account.uid,
                login=login,
                extra_data=account.extra_data,
                staff_sign_in=directory.started_from_back_office(sociallogin.state.get("next") or ""),
            )
        except directory.StaffDeactivated as refused:  # deactivated, or not staff for the directory: its own words
            messages.error(request, refused.message)
            raise ImmediateHttpResponse(redirect("account_login")) from None
        if identity is not None:
            sociallogin.account = identity
            sociallogin.user = identity.user

    def _start_again_for_the_active_campaign(self, request, sociallogin) -> None:
        """Accounts are annual: the student whose ENT identity opens an account of a past campaign creates this
        campaign's account, as anyone does ("Création de compte", pre-filled from the ENT), instead of being told to
        create one and sent back to last year's by every ENT login. The identity's row stays the old account's
        until the new account is saved, which takes it over (``save_user``); nothing changes if the student stops."""
        if not services.is_past_campaign_account(sociallogin.user):
            return
        fresh = sociallogin.provider.sociallogin_from_response(request, sociallogin.account.extra_data)
        sociallogin.user = fresh.user
        sociallogin.email_addresses = fresh.email_addresses

    def is_auto_signup_allowed(self, request, sociallogin) -> bool:
        # The student always sees "Création de compte" and confirms the address.
        return False

    def save_user(self, request, sociallogin, form=None):
        """An ENT student's account: linked to the ENT identity (issuer = the provider app, subject), the student
        number from the ``supannEtuId`` claim, the address to validate by mail like everyone's.

        The claim is read as CAS attributes are (``accounts.claims.single_value``): a Keycloak "multivalued" mapper
        sends ``["21912345"]``, which is the number 21912345, not the text ``['21912345']`` that no SIS lookup finds;
        an object is no number (logged)."""
        user = sociallogin.user
        user.student_number = single_value(_claims(sociallogin).get("supannEtuId"), name="supannEtuId")[:20]
        # An identity that opened an account of a past campaign (``pre_social_login``): saving moves it here.
        previous_owner_id = sociallogin.account.user_id if sociallogin.account.pk is not None else None
        user = super().save_user(request, sociallogin, form=form)
        if previous_owner_id is not None and previous_owner_id != user.pk:
            services.record_ent_identity_handover(
                identity=sociallogin.account, previous_owner_id=previous_owner_id, new_owner=user
            )
        return user
