"""Account middlewares, listed after allauth's in settings.MIDDLEWARE."""

import logging

import requests
from django.contrib import messages
from django.contrib.auth import logout
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import patch_cache_control

from accounts import oidc, services, staff_access, staff_enrolment
from accounts.adapters import login_refused_message

# allauth's third-party « connections » page (add the identity of another site, the ENT's, to the account logged in,
# or remove one), and the old address that redirects to it. Not offered: an ENT identity is tied to an account only
# at an ENT login (accounts.adapters.SocialAccountAdapter._refuse_connect says why).
NOT_OFFERED_URL_NAMES = frozenset({"socialaccount_connections"})


# allauth's MFA pages a session needs to GET a second factor (the login's code step, the reauthentication by code):
# open to all. Every other page of allauth's MFA (the list of authenticators, the recovery codes shown, generated or
# downloaded, the app removed) needs a second factor in the session, for staff (see ``_needs_second_factor_first``).
SECOND_FACTOR_STEP_URL_NAMES = frozenset(
    {"mfa_authenticate", "mfa_reauthenticate", "mfa_trust", "mfa_reauthenticate_webauthn", "mfa_login_webauthn"}
)
# allauth's account pages outside /accounts/2fa/ that need it too: whoever holds only a staff member's password must
# not change it and lock its owner out. (A staff member's address is changed in the admin only, and staff set no
# password through « Définir un mot de passe »: accounts.views.)
SECOND_FACTOR_FIRST_URL_NAMES = frozenset({"account_change_password"})


def _needs_second_factor_first(url_name: str | None) -> bool:
    """Whether allauth's page ``url_name`` opens, for staff, only to a session holding a second factor."""
    if url_name in SECOND_FACTOR_FIRST_URL_NAMES:
        return True
    return url_name is not None and url_name.startswith("mfa_") and url_name not in SECOND_FACTOR_STEP_URL_NAMES


def _not_offered(view_func) -> bool:
    """Whether the resolved view is one of ``NOT_OFFERED_URL_NAMES``, or a redirect to one (allauth's old URLs)."""
    return getattr(view_func, "view_initkwargs", {}).get("pattern_name") in NOT_OFFERED_URL_NAMES


class StaffEnrolmentGateMiddleware:
    """allauth's views that its ``include("allauth.urls")`` mounts and that we gate or do not offer.

    - The "activate an authenticator app" view, for staff, needs an enrolment secret (staff_enrolment): a staff
      member without the secret is sent to the enrolment page before allauth's view runs.
    - The third-party connections page (``NOT_OFFERED_URL_NAMES``) answers 404 to everyone logged in (anonymous
      visitors are sent to the login first, as for any account page).
    - The other MFA pages and the password change (``_needs_second_factor_first``), for a staff session without a
      second factor (STAFF_MFA_REQUIRED; a session opened with the password alone): the staff member is sent to the
      second factor first (``staff_access.second_factor_redirect``: a code of the app, or the enrolment when there
      is no app yet), then back to the page. Otherwise the password alone would show the recovery codes (then a
      code opens the back office), remove the app, or change the password. Candidates are not concerned.

    A middleware rather than a wrapped URL because the views are allauth's: ``process_view`` sees which view was
    resolved. Every other request passes through untouched, without a query.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None:
            return None
        if match.url_name in NOT_OFFERED_URL_NAMES or _not_offered(view_func):
            raise Http404
        if match.url_name in staff_enrolment.GATED_URL_NAMES:
            if staff_enrolment.may_add_authenticator(request):
                return None
            return staff_enrolment.enrolment_redirect(request)
        if _needs_second_factor_first(match.url_name) and staff_access.needs_second_factor(request):
            back = request.get_full_path() if request.method == "GET" else request.path
            return staff_access.second_factor_redirect(request, back)
        return None


class NoStoreWhenAuthenticatedMiddleware:
    """``Cache-Control: no-store, private`` on every response to a logged-in user (candidate or staff).

    Their pages hold personal data (dossiers, decisions, addresses): neither a shared computer's browser cache (the
    back button after logging out) nor a proxy may keep them. Public pages seen anonymously stay cacheable. The user
    counts as logged in if they were before the view (a logout's answer) or after it (a login's answer). A view that
    already said ``no-store`` (downloads, the maintenance page) keeps its own header.
    ``request.user`` is already loaded by LoginRequiredMiddleware, so this costs no query.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        was_authenticated = request.user.is_authenticated
        response = self.get_response(request)
        already_no_store = "no-store" in response.get("Cache-Control", "")
        if (was_authenticated or request.user.is_authenticated) and not already_no_store:
            patch_cache_control(response, no_store=True, private=True)
        return response


logger = logging.getLogger(__name__)

# allauth's OpenID Connect views, under /accounts/oidc/<provider>/.
OIDC_PATH_PREFIX = "/accounts/oidc/"


class EntUnreachableMiddleware:
    """When the ENT's discovery document does not answer, allauth's OpenID Connect views let the ``requests`` error
    through, which would be a 500: the ENT button (the login view reads the authorization endpoint from it) and the
    callback (it reads the token endpoint from it before anything else). The person is sent back to the login page
    with a French message instead, and the failure is logged once. Nothing was written: allauth talks to the ENT
    before it creates anything.

    What fails later in the callback (the token or userinfo endpoint, the ID token's keys) allauth catches itself:
    ``accounts.adapters.SocialAccountAdapter.on_authentication_error`` sends that back to the login page, with the
    same message.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, requests.RequestException) or not request.path.startswith(OIDC_PATH_PREFIX):
            return None
        logger.warning("ENT unreachable on %s: %s: %s", request.path, type(exception).__name__, exception)
        messages.error(request, oidc.ENT_UNREACHABLE)
        return redirect("account_login")


# Requests a candidate's session refused by ``ClosedCampaignLogoutMiddleware`` still makes as it is: the checks that
# need no session (health, assets; the login page links the theme) and the login and logout pages, by name.
CLOSED_CAMPAIGN_EXEMPT_PREFIXES = ("/healthz", "/static/", "/theme.css")
CLOSED_CAMPAIGN_EXEMPT_URL_NAMES = ("account_login", "account_logout")


def _exempt_from_closed_campaign(path: str) -> bool:
    return path.startswith(CLOSED_CAMPAIGN_EXEMPT_PREFIXES) or any(
        path == reverse(name) for name in CLOSED_CAMPAIGN_EXEMPT_URL_NAMES
    )


class ClosedCampaignLogoutMiddleware:
    """A candidate whom the login would refuse (``services.candidate_can_log_in``: after the campaign's « Date fin
    candidats », before its opening date, an account of a past campaign) is logged out at their next request, and
    sent to the login page with the login's own message (``accounts.adapters.login_refused_message``). The login
    checked the dates once: a session opened before the closing date kept transmitting, uploading and editing the
    dossier after it, while the nightly batches count on such a candidate not logging in (found by review).

    Every request is checked, a POST too (the view never runs: nothing is written), except the login and logout
    pages and the health and asset paths. Staff (no campaign) are untouched. The day is Paris's
    (``timezone.localdate``, TIME_ZONE), as at the login: the closing date itself is still open. No query: the
    account is read with its campaign (``accounts.backends``), and ``NoStoreWhenAuthenticatedMiddleware``, listed
    before, has already loaded it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and user.is_candidate
            and not services.candidate_can_log_in(user)
            and not _exempt_from_closed_campaign(request.path)
        ):
            message = login_refused_message(user)
            logout(request)
            messages.error(request, message)
            return redirect("account_login")
        return self.get_response(request)
