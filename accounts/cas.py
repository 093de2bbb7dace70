"""CAS 3.0 login through the university's ENT (``ENT_PROTOCOL=cas``), beside OpenID Connect.

The protocol is django-cas-ng's (python-cas underneath): the service ticket is validated on
``<ENT_SERVER_URL>/p3/serviceValidate`` with its attributes, and the CAS server's single-logout ``logoutRequest`` ends
the matching session (django-cas-ng's ``SessionTicket`` and ``clean_sessions``). What happens next is not
django-cas-ng's: a student's identity becomes an allauth social login of the same ``ent`` provider the OpenID Connect
path uses (uid = the CAS login in lower case, ``student_identity``), so the account rules are the ENT path's exactly
(signup form, annual accounts, address validated by mail, ``supannEtuId`` as the student number, see
``accounts.adapters``); and an identity that is an active staff account (``accounts.directory``) logs the staff member
in, refreshed from the directory. With a directory, a new identity whose login it lists as staff is an alias of the
entry's staff account, which it logs in; without a staff account, a login started from the back office is refused
with a message (``directory.staff_for_directory_login``), one started from the candidates' side goes on as a
candidate's; a directory that does not answer leaves the login to go on.

Attributes read (CAS 3.0 ``<cas:attributes>``, names as a supann CAS releases them): ``mail``, ``givenName``, ``sn``,
``displayName``, ``supannEtuId``.

The return page logs in only the browser that started the login (login CSRF): a ticket names whoever logged in at
the CAS server, not the browser that brings it back, so the ENT button keeps a random value in the session and sends
it in the service URL (``…/retour/?s=<value>``); the return page validates a ticket only when ``s`` is that value,
once, and for that same service URL (a CAS server validates a ticket for the exact service it was issued for).
"""

import logging
import secrets
from urllib.parse import urlencode
from xml.etree.ElementTree import ParseError

from allauth.socialaccount import app_settings as socialaccount_settings
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.helpers import complete_social_login
from cas import CASError
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from django_cas_ng.models import SessionTicket
from django_cas_ng.utils import get_cas_client
from django_cas_ng.views import clean_sessions

from accounts import directory
from accounts.claims import has_control_character, single_value

logger = logging.getLogger(__name__)

PROVIDER_ID = "ent"  # the OpenID Connect app's id: switching protocols keeps the students' ENT identities
SESSION_TICKET = "cas_service_ticket"
SESSION_NEXT = "cas_next"
SESSION_STATE = "cas_login_state"  # the value of the login this browser started, also in its service URL
STATE_PARAMETER = "s"
VALIDATION_FAILED = gettext_lazy("The ENT could not confirm your login. Please try again.")
LOGIN_NOT_STARTED = gettext_lazy("The ENT login did not complete: please log in again.")


def is_enabled() -> bool:
    return settings.ENT_PROTOCOL == "cas" and bool(settings.ENT_SERVER_URL)


def service_url(request: HttpRequest, state: str = "") -> str:
    """The callback the CAS server sends the ticket to (and posts its logoutRequest to), with the ``state`` of the
    login this browser started (``?s=<state>``): the same string at the login and at the ticket's validation."""
    url = request.build_absolute_uri(reverse("accounts:cas_callback"))
    return f"{url}?{urlencode({STATE_PARAMETER: state})}" if state else url


def _first(attributes: dict, name: str) -> str:
    """One attribute's value: the first of a multivalued one (``accounts.claims.single_value``)."""
    return single_value(attributes.get(name), name=name)


def student_identity(login: str) -> str:
    """The ENT identity (the ``uid`` of its ``ent`` social account) of a student's CAS login: the login in lower case.

    Apereo CAS hands the login over as typed (``Lucas.Bernard``), and a CAS login names the same person whatever its
    case, as the staff path reads it (``directory.staff_for_login``, case-insensitive); allauth, though, finds an
    identity by its exact uid. So the student path stores and looks up every CAS uid in lower case (``str.lower``,
    as Django's ``iexact`` compares: not ``casefold``, which would turn a German ß into "ss"); accounts 0019
    lower-cased the CAS uids stored before. A staff member's identity is named by the staff account's username
    instead (``directory.link_ent_identity``)."""
    return login.strip().lower()


def claims_from_attributes(username: str, attributes: dict) -> dict:
    """CAS attributes in the shape of the OpenID Connect claims the ENT path reads (``accounts.adapters._claims``).

    ``username`` is the identity (``student_identity``, or a staff account's username), not the login as typed."""
    attributes = attributes or {}
    claims = {
        "sub": username,
        "preferred_username": username,
        "email": _first(attributes, "mail"),
        "given_name": _first(attributes, "givenName"),
        "family_name": _first(attributes, "sn"),
        "name": _first(attributes, "displayName"),
        # The institution's directory address, as the OpenID Connect ENT says of its own.
        "email_verified": bool(_first(attributes, "mail")),
    }
    if student_number := _first(attributes, "supannEtuId"):
        claims["supannEtuId"] = student_number
    return claims


@login_not_required
@require_POST
def login(request: HttpRequest) -> HttpResponse:
    """The ENT button (a CSRF-protected POST): off to the CAS login page, which sends the ticket to the callback.

    A new random value for this login, kept in the session and put in the service URL: the callback accepts a
    ticket only with it, in this browser (login CSRF)."""
    if not is_enabled():
        return HttpResponseBadRequest()
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        request.session[SESSION_NEXT] = next_url
    else:
        request.session.pop(SESSION_NEXT, None)
    state = secrets.token_urlsafe(32)
    request.session[SESSION_STATE] = state
    client = get_cas_client(service_url=service_url(request, state), request=request)
    return redirect(client.get_login_url())


@csrf_exempt  # the CAS server posts its single-logout request here, without our CSRF token
@login_not_required
@require_http_methods(["GET", "POST"])
def callback(request: HttpRequest) -> HttpResponse:
    """GET ?s=…&ticket=ST-…: validate it, then log the student or staff member in. POST logoutRequest: single logout.

    A ticket is validated only when ``s`` is the value of the login this browser started (``login``), once: else the
    browser goes back to the login page with a message, the ticket unused (it may be someone else's: login CSRF)."""
    if not is_enabled():
        return HttpResponseBadRequest()
    if request.method == "POST":
        client = get_cas_client(service_url=service_url(request), request=request)
        if not _readable_logout_request(client, request.POST.get("logoutRequest", "")):
            # Nothing to end, and django-cas-ng's clean_sessions fails on it (a 500). Anyone can post here (no CSRF
            # token, no login): a 400 says "not understood" to the poster, and to a CAS server's log if it was one.
            logger.warning("CAS single logout: a logoutRequest that is not a SAML document, ignored")
            return HttpResponseBadRequest("unreadable logoutRequest", content_type="text/plain")
        clean_sessions(client, request)
        return HttpResponse("ok", content_type="text/plain")
    ticket = request.GET.get("ticket", "")
    if not ticket:
        return redirect("account_login")
    state = request.session.pop(SESSION_STATE, None)  # one attempt per login started, whatever its outcome
    if (
        not isinstance(state, str)
        or not state
        or not constant_time_compare(request.GET.get(STATE_PARAMETER, ""), state)
    ):
        logger.warning("CAS return without the login this browser started: ticket not validated")
        messages.error(request, LOGIN_NOT_STARTED)
        return redirect("account_login")
    client = get_cas_client(service_url=service_url(request, state), request=request)
    try:
        username, attributes, _pgtiou = client.verify_ticket(ticket)
    # An unreachable CAS server; an answer that is not XML (an HTML error page, an empty 503), which python-cas parses
    # with ElementTree: its ParseError is a SyntaxError; XML of another shape (a gateway's <error>, an empty
    # serviceResponse, a success without its user), on which python-cas's parser fails with IndexError or
    # AttributeError.
    except (CASError, OSError, ValueError, ParseError, IndexError, AttributeError, TypeError) as exc:
        logger.warning("CAS ticket validation failed: %s", exc)
        username, attributes = None, None
    if not username:
        messages.error(request, VALIDATION_FAILED)
        return redirect("account_login")
    username = str(username).strip()
    if not username or len(username) > socialaccount_settings.UID_MAX_LENGTH or has_control_character(username):
        # No ENT identity is that (the identity column's length, SOCIALACCOUNT_UID_MAX_LENGTH): refused as a ticket
        # that does not validate, where it was a 500 (allauth's check of the length; a NUL on PostgreSQL).
        logger.warning("CAS login refused: %r names no ENT identity", username[:80])
        messages.error(request, VALIDATION_FAILED)
        return redirect("account_login")
    next_url = request.session.pop(SESSION_NEXT, "")

    try:
        # A login the directory lists as staff, with no identity yet, is resolved through its entry's other uids to
        # the staff account (an alias), or refused with a message when no staff account exists: the candidates'
        # sign-up is never offered to staff (``directory.staff_for_directory_login``).
        identity = directory.link_ent_identity(
            provider=PROVIDER_ID,
            uid=None,
            login=username,
            candidate_uid=student_identity(username),
            staff_sign_in=directory.started_from_back_office(next_url),
        )
    except directory.StaffDeactivated as refused:  # deactivated, not staff, no staff account yet: its own words
        messages.error(request, refused.message)
        return redirect("account_login")
    if identity is not None:
        # The directory's uid is the staff account's username (accounts.directory): the same person, so the ENT
        # identity is linked to it, and the login is recorded as an ENT one (it counts as a second factor,
        # accounts.staff_access). The identity is the username, whatever case the login was typed in (Apereo CAS
        # hands it over as typed): allauth finds it under that name.
        username = identity.uid
        next_url = next_url or reverse("admin:index")
    else:
        # A student: the same identity whatever the case the login was typed in (else a second account could be
        # created in the campaign, under « Lucas.Bernard » beside « lucas.bernard »).
        username = student_identity(username)

    # allauth's social login flow, with the ENT path's adapters and forms: a known identity logs in, a new student
    # confirms the account creation form.
    request.session[SESSION_TICKET] = ticket
    provider = get_social_adapter(request).get_provider(request, PROVIDER_ID)
    sociallogin = provider.sociallogin_from_response(request, claims_from_attributes(username, attributes or {}))
    sociallogin.state = {"process": "login", "next": next_url} if next_url else {"process": "login"}
    return complete_social_login(request, sociallogin)


def _readable_logout_request(client, logout_request: str) -> bool:
    """A missing ``logoutRequest`` (clean_sessions ignores it), or one python-cas can read; not one it cannot (its
    ``get_saml_slos`` answers None for a document that is not XML, and lxml refuses a string with an encoding
    declaration with a ValueError)."""
    if not logout_request:
        return True
    try:
        return client.get_saml_slos(logout_request) is not None
    except ValueError:
        return False


def remember_ticket(request: HttpRequest, ticket: str | None = None) -> None:
    """Tie the (new, post-login) session to its service ticket so that the CAS single logout can end it."""
    ticket = ticket or request.session.pop(SESSION_TICKET, None)
    if not ticket or not is_enabled():
        return
    request.session[SESSION_TICKET] = ticket
    request.session.save()
    SessionTicket.objects.create(session_key=request.session.session_key or "", ticket=ticket)


def follow_new_session_key(sender, request: HttpRequest, **kwargs) -> None:
    """allauth's ``password_set`` and ``password_changed``: the password step kept this session under a new key
    (``update_session_auth_hash``), and django-cas-ng's ``SessionTicket`` still named the old one, so the CAS single
    logout of this session's ticket ended nothing. The ticket now names the new key."""
    ticket = request.session.get(SESSION_TICKET)
    session_key = request.session.session_key
    if not ticket or not session_key or not is_enabled():
        return
    if not SessionTicket.objects.filter(ticket=ticket).update(session_key=session_key):
        SessionTicket.objects.create(session_key=session_key, ticket=ticket)


def logout_url(request: HttpRequest, after_logout: str) -> str:
    """The CAS server's logout, which then comes back to ``after_logout`` (CAS 3.0 ``service`` parameter)."""
    base = (settings.ENT_SERVER_URL or "").rstrip("/")
    return f"{base}/logout?{urlencode({'service': request.build_absolute_uri(after_logout)})}"


def is_cas_session(request: HttpRequest) -> bool:
    return is_enabled() and bool(request.session.get(SESSION_TICKET))
