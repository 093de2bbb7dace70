"""Account pages: the candidate's "Modifier mon adresse mail" and "Définir un mot de passe" (an ENT account), and
the staff enrolment of a first authenticator app (accounts.staff_enrolment).

Mounted by ecandidat/urls.py at ``compte/`` (``app_name = "accounts"``).
"""

import time

from allauth.account import app_settings as account_settings
from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.authentication import get_authentication_records
from allauth.account.decorators import reauthentication_required
from allauth.account.internal.flows.logout import logout
from allauth.account.views import password_set as allauth_password_set
from allauth.core import ratelimit
from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_safe

from accounts import services, staff_enrolment
from accounts.forms import MISMATCH_MESSAGE
from accounts.models import StaffEnrolmentToken
from ecandidat.exceptions import BusinessRuleError

EMAIL_CHANGE_TITLE = _("Change my e-mail address")
PASSWORD_SET_TITLE = _("Set a password")
TOO_MANY_ATTEMPTS = _("Too many attempts. Try again later.")
PASSWORD_ALREADY_SET = _("Your password is already set.")


class EmailChangeForm(forms.Form):
    """Adresse mail *, Confirmation Adresse Mail *. (Kept beside its only view: accounts/forms.py holds allauth's
    form overrides.)"""

    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    email2 = forms.EmailField(label=_("E-mail address confirmation"), max_length=254)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["email"].widget.attrs["autocomplete"] = "email"
        self.fields["email2"].widget.attrs["autocomplete"] = "email"

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        # As the service compares addresses: a lookalike of one's own (a full-width letter) is one's own. As it
        # stores them: 254 characters at most once normalised (« ㎒ » is « mhz »).
        if services.check_stored_length(email) == services.normalize_email(self.user.email or ""):
            raise forms.ValidationError(_("This is already the e-mail address of your account."))
        return email

    def clean(self):
        cleaned_data = super().clean()
        assert cleaned_data is not None  # Django's Form/ModelForm.clean returns cleaned_data
        email, email2 = cleaned_data.get("email"), cleaned_data.get("email2")
        # The same mailbox twice is the same address, whatever its spelling (``neuf@école.fr``, its ASCII form
        # ``neuf@xn--cole-9oa.fr``, capitals): compared as the service stores it.
        if email and email2 and services.normalize_email(email) != services.normalize_email(email2):
            self.add_error("email2", MISMATCH_MESSAGE)
        return cleaned_data


@require_http_methods(["GET", "POST"])
# Someone who finds a session left open must not be able to move the account to their own address (and then reset
# its password): the candidate confirms their password first, unless they logged in less than
# ACCOUNT_REAUTHENTICATION_TIMEOUT (5 minutes) ago. allauth keeps a form posted meanwhile and replays it afterwards.
# An account without a password (an ENT account) gets no such question from allauth, which lets it through: it logs
# in through the ENT again instead, as for « Définir un mot de passe » (_ent_login_again, in the view).
@reauthentication_required(enabled=lambda request: request.user.is_candidate and request.user.has_usable_password())
def email_change(request):
    """The guide's warning, then the new address twice. Saving logs the candidate out, this session at once and the
    account's others at their next page (``services.change_email``): the address must be validated by the link
    mailed to it before logging in again. An address already used in the campaign gets the same answer
    (see services.change_email); its owner is mailed at most as often as signup mails them (``confirm_email``).
    Needs a recent authentication (password again, or the ENT for an account without a password)."""
    user = request.user
    if not user.is_candidate:
        # Staff addresses are managed in the admin.
        raise PermissionDenied
    if not user.has_usable_password() and (page := _ent_login_again(request, title=EMAIL_CHANGE_TITLE)):
        return page
    form = EmailChangeForm(data=request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        services.change_email(
            user=user,
            new_email=form.cleaned_data["email"],
            actor=user,
            # The mails to the owner of an address already used, limited as signup's (allauth's, per address).
            may_mail_owner=lambda email: ratelimit.consume(request, action="confirm_email", key=email),
        )
        logout(request, show_message=False)
        return redirect("accounts:email_change_done")
    return render(request, "accounts/email_change.html", {"form": form})


@login_not_required
@require_safe
def email_change_done(request):
    """Logged out by now: "check your e-mail", as after signup."""
    return render(request, "account/verification_sent.html")


@require_http_methods(["GET", "POST"])
def password_set(request):
    """ "Définir un mot de passe": allauth's page (its form, password rules and "change_password" rate limit) in the
    site's layout, for an ENT candidate while ``ENT_ACCOUNTS_PASSWORD`` is on. An account that has a password goes to
    "Modifier mon mot de passe"; anyone else (staff, the parameter off) gets a 404. Needs a login less than
    5 minutes old (else: log in through the ENT again). This session stays logged in, the others end."""
    user = request.user
    if user.is_candidate and user.has_usable_password():
        return redirect("account_change_password")
    if not services.may_set_password(user):
        raise Http404
    # As for the e-mail address: someone who finds a session left open must not give the account a password of their
    # own.
    if page := _ent_login_again(request, title=PASSWORD_SET_TITLE):
        return page
    try:
        return allauth_password_set(request)
    except BusinessRuleError:
        # A double click: both requests passed the check above, the first one set the password and the service
        # refuses the second. The candidate sees the success, this session kept with the new password's hash
        # (whichever of the two answers the browser keeps).
        user.refresh_from_db(fields=["password", "session_generation"])
        if not user.has_usable_password():
            raise
        update_session_auth_hash(request, user)
        messages.info(request, PASSWORD_ALREADY_SET)
        return redirect(get_account_adapter(request).get_password_change_redirect_url(request))


def _logged_in_recently(request) -> bool:
    """A login (or a reauthentication) of this session less than ACCOUNT_REAUTHENTICATION_TIMEOUT seconds ago."""
    records = get_authentication_records(request, request.user)
    return bool(records) and time.time() - records[-1].get("at", 0) < account_settings.REAUTHENTICATION_TIMEOUT


def _ent_login_again(request, *, title) -> HttpResponse | None:
    """The rule of a sensitive page for an account without a password (an ENT account), which allauth cannot ask to
    reauthenticate: None when this session logged in less than 5 minutes ago (``_logged_in_recently``), else the
    page (titled ``title``) that sends the person through the ENT login again and back to this page. A form posted
    meanwhile is not kept: it is typed again after the ENT login."""
    if _logged_in_recently(request):
        return None
    return render(request, "accounts/ent_reauthenticate.html", {"next": request.path, "title": title})


# --- Staff: enrolment of a first authenticator app ---


class EnrolmentCodeForm(forms.Form):
    code = forms.CharField(label=_("Enrolment code"), max_length=40, strip=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs.update({"autocomplete": "one-time-code", "spellcheck": "false"})


def _client_ip(request) -> str | None:
    """The address recorded with a use of an enrolment code: allauth's client address, the one the rate limits
    count (behind ``TRUSTED_PROXY_COUNT`` proxies, the visitor's, not nginx's 127.0.0.1)."""
    try:
        return get_account_adapter(request).get_client_ip(request)
    except PermissionDenied:  # no address at all (allauth refuses to guess): recorded as unknown
        return None


def _enrolling_staff(request):
    """The staff member who may use the enrolment pages; anyone else gets a 404, as outsiders do."""
    user = request.user
    if not (user.is_staff and user.is_active):
        raise Http404
    return user


@require_http_methods(["GET", "POST"])
def staff_enrolment_start(request):
    """A staff member without an authenticator app proves they own the account before activating one: they ask for
    a link at their address, or type the code the central office gave them. A session already allowed goes
    straight to the activation page; a staff member whose app is active has nothing to do here."""
    user = _enrolling_staff(request)
    if not staff_enrolment.needs_enrolment(user):
        return redirect("mfa_index")
    if staff_enrolment.may_add_authenticator(request):
        return redirect("mfa_activate_totp")
    form = EnrolmentCodeForm(data=request.POST if request.POST.get("action") == "code" else None)
    if request.method == "POST" and request.POST.get("action") == "mail":
        if not ratelimit.consume(request, action="staff_enrolment_mail", user=user):
            messages.error(request, _("A link was already sent several times in the last hour: check your e-mail."))
            return redirect("accounts:staff_enrolment")
        staff_enrolment.mail_enrolment_link(user=user, actor=user)
        messages.success(request, _("A link has been sent to your e-mail address. It is valid for one hour."))
        return redirect("accounts:staff_enrolment")
    if request.method == "POST" and form.is_valid():
        if not ratelimit.consume(request, action="staff_enrolment_code", user=user):
            form.add_error("code", TOO_MANY_ATTEMPTS)
        else:
            try:
                token = staff_enrolment.redeem_enrolment_secret(
                    user=user,
                    secret=form.cleaned_data["code"],
                    ip=_client_ip(request),
                    channel=StaffEnrolmentToken.Channel.CODE,
                )
            except BusinessRuleError as error:
                form.add_error("code", str(error))
            else:
                staff_enrolment.grant_enrolment(request, token)
                return redirect("mfa_activate_totp")
    return render(request, "accounts/staff_enrolment.html", {"form": form, "email": user.email})


@require_http_methods(["GET", "POST"])
def staff_enrolment_confirm(request, secret):
    """The link of the enrolment mail. GET only shows a button: mail scanners that open links must not use it up.
    The link works only in the session of the staff member it was mailed to (logged in with their password).

    Its uses count with the codes typed on the enrolment page (one ``staff_enrolment_code`` limit: the URL is no way
    around it), and it takes a mailed link's secret only: a code of the central office is typed on the page."""
    user = _enrolling_staff(request)
    if request.method == "POST":
        if not ratelimit.consume(request, action="staff_enrolment_code", user=user):
            messages.error(request, TOO_MANY_ATTEMPTS)
            return redirect("accounts:staff_enrolment")
        try:
            token = staff_enrolment.redeem_enrolment_secret(
                user=user, secret=secret, ip=_client_ip(request), channel=StaffEnrolmentToken.Channel.MAIL
            )
        except BusinessRuleError as error:
            messages.error(request, str(error))
            return redirect("accounts:staff_enrolment")
        staff_enrolment.grant_enrolment(request, token)
        return redirect("mfa_activate_totp")
    return render(request, "accounts/staff_enrolment_link.html", {"secret": secret})
