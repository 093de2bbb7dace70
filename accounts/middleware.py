"""Account middlewares, listed after allauth's in settings.MIDDLEWARE."""

import logging

import requests
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext

from accounts import staff_enrolment

# allauth's third-party « connections » page (add the identity of another site, the ENT's, to the account logged in,
# or remove one), and the old address that redirects to it. Not offered: an ENT identity is tied to an account only
# at an ENT login (accounts.adapters.SocialAccountAdapter._refuse_connect says why).
NOT_OFFERED_URL_NAMES = frozenset({"socialaccount_connections"})


def _not_offered(view_func) -> bool:
    """Whether the resolved view is one of ``NOT_OFFERED_URL_NAMES``, or a redirect to one (allauth's old URLs)."""
    return getattr(view_func, "view_initkwargs", {}).get("pattern_name") in NOT_OFFERED_URL_NAMES


class StaffEnrolmentGateMiddleware:
    """allauth's views that its ``include("allauth.urls")`` mounts and that we gate or do not offer.

    - The "activate an authenticator app" view, for staff, needs an enrolment secret (staff_enrolment): a staff
      member without the secret is sent to the enrolment page before allauth's view runs.
    - The third-party connections page (``NOT_OFFERED_URL_NAMES``) answers 404 to everyone logged in (anonymous
      visitors are sent to the login first, as for any account page).

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
        if match.url_name not in staff_enrolment.GATED_URL_NAMES:
            return None
        if staff_enrolment.may_add_authenticator(request):
            return None
        return staff_enrolment.enrolment_redirect(request)


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
    """When the ENT does not answer (its discovery document, its token endpoint), allauth's OpenID Connect views let
    the ``requests`` error through, which would be a 500. The person is sent back to the login page with a French
    message instead, and the failure is logged once. Nothing was written: allauth talks to the ENT before it creates
    anything.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, requests.RequestException) or not request.path.startswith(OIDC_PATH_PREFIX):
            return None
        logger.warning("ENT unreachable on %s: %s: %s", request.path, type(exception).__name__, exception)
        messages.error(
            request,
            gettext(
                "The ENT does not answer at the moment: try again in a few minutes, or log in with your password "
                "(dossier number or e-mail address)."
            ),
        )
        return redirect("account_login")
