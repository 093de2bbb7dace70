"""Staff reach the back office (the admin at /gestion/) only with a second factor in their session.

ASVS 4.3.1 / 5.0 6.3.3: administrative interfaces need multi-factor authentication. A staff member's session counts
as strongly authenticated when allauth recorded, in this session, either a TOTP or recovery code (method ``mfa``:
allauth's MFA login step, its reauthentication step, or the activation of the authenticator app, which checks a
code too) or a login through the ENT (method ``socialaccount``, provider ``ent``: the university's SSO carries its own
authentication policy). allauth keeps these records in the session (``get_authentication_records``); nothing else
is stored.

An ENT login is a second factor only because nobody ties an ENT identity to a staff account with the password
alone: identities reach staff accounts through the directory rule at an ENT login (``accounts.directory.
link_ent_identity``) or by hand in the back office, never through allauth's « connect » (refused in
``accounts.adapters.SocialAccountAdapter.pre_social_login``; its connections page answers 404).

Why ``AdminSite.has_permission`` rather than a middleware: every admin view, and only those, already asks the site
whether the request may enter, and an admin that says "no" sends the visitor to its login view. So the rule lives in
one predicate (``may_enter_back_office``) and the login view (``accounts.admin.admin_login``) decides where a staff
member without a second factor goes (``second_factor_redirect``): the TOTP activation page with an explanation, or
allauth's MFA reauthentication when the app is already active (e.g. the session was opened before the app was
activated elsewhere). Candidates never reach this code path beyond the existing 403.

A staff member's FIRST authenticator app is not trust-on-first-use: the activation page needs an enrolment secret
(a mailed one-time link or a code of the central office), see ``accounts.staff_enrolment``.

``settings.STAFF_MFA_REQUIRED`` (default on; off in dev settings) switches the rule off: a staff password login
is then enough, as before.
"""

from functools import wraps

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy

ENT_PROVIDER_ID = "ent"

ACTIVATE_TOTP_MESSAGE = gettext_lazy(
    "The back office gives access to candidates' personal data, so staff accounts need a second factor. "
    "Activate an authenticator app on your phone to continue (or log in with the ENT)."
)
ENTER_CODE_MESSAGE = gettext_lazy("Enter the code of your authenticator app to open the back office.")


def session_has_second_factor(request: HttpRequest) -> bool:
    """Whether this session was authenticated with a TOTP or recovery code, or through the ENT."""
    for record in get_authentication_records(request, request.user):
        if record.get("method") == "mfa":
            return True
        if record.get("method") == "socialaccount" and record.get("provider") == ENT_PROVIDER_ID:
            return True
    return False


def may_enter_back_office(request: HttpRequest) -> bool:
    """``admin.site.has_permission``: Django's rule (active staff) plus a second factor when STAFF_MFA_REQUIRED.

    Reads the session only: no query, whatever the number of admin pages and checks per request.
    """
    user = request.user
    if not (user.is_active and user.is_staff):
        return False
    return not settings.STAFF_MFA_REQUIRED or session_has_second_factor(request)


def needs_second_factor(request: HttpRequest) -> bool:
    """An active staff member, logged in, held back only by the missing second factor."""
    user = request.user
    return user.is_authenticated and user.is_active and user.is_staff and not may_enter_back_office(request)


def second_factor_redirect(request: HttpRequest, next_url: str) -> HttpResponseRedirect:
    """Where a staff member without a second factor goes, with a French message saying why.

    - The authenticator app is active: allauth's MFA reauthentication (a code), then back to ``next_url``; the
      session goes on under a new key (``accounts.staff_enrolment.rotate_on_code_reauthentication``).
    - No app yet: the enrolment page (accounts.staff_enrolment): a mailed link or a code of the central office
      opens the activation page (QR code, then a code); activating records the second factor, see
      ``accounts.staff_enrolment.record_second_factor_on_activation``.
    """
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("admin:index")
    if is_mfa_enabled(request.user, [Authenticator.Type.TOTP]):
        messages.info(request, ENTER_CODE_MESSAGE)
        return HttpResponseRedirect(f"{reverse('mfa_reauthenticate')}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")
    messages.warning(request, ACTIVATE_TOTP_MESSAGE)
    return HttpResponseRedirect(reverse("accounts:staff_enrolment"))


def back_office_required(view):
    """For the back office's views outside the admin (e.g. piece downloads under ``/pieces/gestion/``): the same
    rule as the admin. A staff member without a second factor is sent to get one (then back to the page, for a GET);
    anyone else who may not enter the back office gets a 404, as outsiders do everywhere."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if may_enter_back_office(request):
            return view(request, *args, **kwargs)
        if needs_second_factor(request):
            back = request.get_full_path() if request.method == "GET" else reverse("admin:index")
            return second_factor_redirect(request, back)
        raise Http404

    return wrapper
