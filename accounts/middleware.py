"""Two account-security middlewares, listed after allauth's in settings.MIDDLEWARE."""

from django.utils.cache import patch_cache_control

from accounts import staff_enrolment


class StaffEnrolmentGateMiddleware:
    """allauth's "activate an authenticator app" view, for staff, needs an enrolment secret (staff_enrolment).

    A middleware rather than a wrapped URL because the view is allauth's, mounted by ``include("allauth.urls")``:
    ``process_view`` sees which view was resolved and sends a staff member without the secret to the enrolment page
    before allauth's view runs. Every other request passes through untouched, without a query.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or match.url_name not in staff_enrolment.GATED_URL_NAMES:
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
