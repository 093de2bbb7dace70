import contextlib

from allauth.account.internal.stagekit import unstash_login
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

from ecandidat.maintenance import page_for as maintenance_page_for
from ecandidat.text import NUL

# Paths that keep working during maintenance: health checks, assets (the institution's theme, /theme.css, is one: the
# maintenance page itself links it), the back office and its login, and the ENT's back-channel logout (staff sessions
# still end when their owner logs out of the ENT; accounts/oidc_backchannel.py).
# The ENT logins too, start and return, CAS (accounts/cas.py; its callback also receives the CAS server's single-logout
# logoutRequest) and OpenID Connect (allauth's, accounts/oidc.py): staff whose only way in is the university's SSO
# reach the back office; the person the ENT names is held to the rule below before being logged in
# (ecandidat.maintenance.page_for, called by accounts.adapters): anyone else gets this same page, nothing created.
# The password login page (/accounts/login/) is the staff's too: a candidate who posts it gets this page from
# accounts.adapters.AccountAdapter.pre_login, before being logged in.
EXEMPT_PREFIXES = (
    "/healthz",
    "/static/",
    "/theme.css",
    "/gestion/",
    "/accounts/login/",
    "/accounts/logout/",
    "/i18n/",
    "/accounts/oidc/ent/backchannel-logout/",
    "/accounts/oidc/ent/login/",
    "/compte/ent/cas/",
)
# The second step of a password login in progress, allauth's « code of your authenticator app » (staff with the app
# active are sent there by the login page): the visitor is still anonymous on it, so the rule is held for the account
# whose login is pending (allauth keeps it in the session, for ``ACCOUNT_LOGIN_TIMEOUT``). A staff member's passes; a
# candidate's does not (one whose password was accepted just before the window opened gets this page, not logged in).
# Password reset and address confirmation are not exempt: their pages are anonymous, and telling a staff member's
# from a candidate's would say which addresses are staff ones (ACCOUNT_PREVENT_ENUMERATION).
LOGIN_STEP_PATHS = frozenset({"/accounts/2fa/authenticate/"})


def _pending_login_user(request):
    """The account of the login pending in this session (one query), or None: no login pending, or it timed out."""
    login = unstash_login(request, peek=True)
    return login.user if login is not None else None


class MaintenanceMiddleware:
    """During the nightly window (or when the switch is on), candidates get a 503 maintenance page.

    Staff keep access. A form posted as the window opens is refused whole: the view never runs, so nothing is
    half-saved, and the page says that what was sent was not saved. A GET is not told so: it is often the page a
    form saved just before the window redirects to. After ``MessageMiddleware`` (settings), so that this page shows
    what that form said (« Votre candidature a été transmise… ») instead of holding it until the morning.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(EXEMPT_PREFIXES):
            return self.get_response(request)
        page = maintenance_page_for(request, request.user)
        if page is not None and request.path in LOGIN_STEP_PATHS and not request.user.is_authenticated:
            page = maintenance_page_for(request, _pending_login_user(request))
        if page is not None:
            return page
        return self.get_response(request)


class NulInQueryString(SuspiciousOperation):
    """A query string carrying the NUL character: no link of ours makes one (Django answers 400 and logs it under
    ``django.security.NulInQueryString``)."""


class RefuseNulInQueryString:
    """Answer 400 to a query string holding NUL (``%00``) before any view reads it: a list filter or a search would
    hand it to PostgreSQL, which refuses it in text (a 500). Only a query string that contains ``%00`` (or a raw
    NUL) is decoded here; the others cost one substring test."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raw = request.META.get("QUERY_STRING", "")
        if ("%00" in raw or NUL in raw) and any(
            NUL in key or any(NUL in value for value in values) for key, values in request.GET.lists()
        ):
            raise NulInQueryString("NUL character in the query string")
        return self.get_response(request)


class ChosenLanguageMiddleware(LocaleMiddleware):
    """French unless the person chose another language with the switch (its cookie), as eCandidat: the browser's
    ``Accept-Language`` is not followed, so a candidate or a manager whose browser is set to English still lands
    on the French pages and the guide's labels, and switches to English in one step.

    Django's ``LocaleMiddleware`` otherwise, without its URL prefixes (the project has none): it sets
    ``request.LANGUAGE_CODE`` and ``Content-Language``. The responses do not vary with ``Accept-Language`` any
    more; they vary with the cookie (``Vary: Cookie``, which every page with a form already sends)."""

    def process_request(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = settings.LANGUAGE_CODE
        if chosen:
            with contextlib.suppress(LookupError):  # a cookie naming a language we do not offer: the default
                language = translation.get_supported_language_variant(chosen)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()

    def process_response(self, request, response):
        response.headers.setdefault("Content-Language", translation.get_language())
        return response
