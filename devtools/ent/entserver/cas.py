"""CAS 3.0 endpoints of the development ENT: /cas/login, /cas/p3/serviceValidate, /cas/logout (protocol spec 3.0).

A small test peer, written here as the project did for clamd and SMTP: django-mama-cas, the Django CAS server one
would reach for, was last released in 2021 and does not follow Django 6; django-cas-server is a whole CAS product
(its own user back-ends, templates and admin). What a client needs is three endpoints, and these are they:

- ``/cas/login?service=URL``: after the ENT login (allauth's form, the same as the OpenID Connect path), redirects to
  ``URL?ticket=ST-…``. A ticket is single use, valid 5 minutes, for that exact service.
- ``/cas/p3/serviceValidate?ticket=&service=``: the CAS 3.0 XML answer with ``<cas:attributes>`` (uid, mail, givenName,
  sn, displayName, eduPersonAffiliation, supannEtuId for students).
- ``/cas/logout[?service=URL]``: ends the ENT session and posts a SAML ``logoutRequest`` (single logout) to every
  service that received a ticket in that session, then goes back to ``service`` when given.

Tickets live in the process's cache (the development ENT is one process); the SSO session in the ENT's session.
"""

import logging
import secrets
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit, urlunsplit
from xml.sax.saxutils import escape

import requests
from django.contrib.auth import logout as auth_logout
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET

from entserver.models import User

logger = logging.getLogger(__name__)

TICKET_SECONDS = 300
SESSION_SERVICES = "cas_issued"  # [(ticket, service), …] of this SSO session, for the single logout


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _is_acceptable_service(service: str) -> bool:
    # A development server: any http(s) service on the loopback (as the OpenID Connect redirect URIs, RFC 8252).
    parts = urlsplit(service)
    return parts.scheme in {"http", "https"} and parts.hostname in {"127.0.0.1", "localhost", "::1"}


@require_GET
def login(request: HttpRequest) -> HttpResponse:
    service = request.GET.get("service", "")
    if service and not _is_acceptable_service(service):
        return HttpResponseBadRequest("unknown service", content_type="text/plain")
    if not request.user.is_authenticated:
        here = f"{reverse('cas_login')}?{urlencode({'service': service})}" if service else reverse("cas_login")
        return redirect(f"{reverse('account_login')}?{urlencode({'next': here})}")
    if not service:
        return redirect("home")
    ticket = f"ST-{secrets.token_urlsafe(32)}"
    cache.set(f"cas-st:{ticket}", {"service": service, "user_id": request.user.pk}, TICKET_SECONDS)
    request.session[SESSION_SERVICES] = [*request.session.get(SESSION_SERVICES, []), [ticket, service]]
    return redirect(_with_query(service, ticket=ticket))


def _failure(code: str, text: str) -> HttpResponse:
    body = (
        "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'>"
        f"<cas:authenticationFailure code='{code}'>{escape(text)}</cas:authenticationFailure>"
        "</cas:serviceResponse>"
    )
    return HttpResponse(body, content_type="application/xml; charset=utf-8")


def attributes_of(user: User) -> dict[str, list[str]]:
    attributes = {
        "uid": [user.username],
        "mail": [user.email],
        "givenName": [user.first_name],
        "sn": [user.last_name],
        "displayName": [f"{user.first_name} {user.last_name}".strip()],
        "eduPersonAffiliation": ["student", "member"] if user.student_number else ["staff", "member"],
    }
    if user.student_number:
        attributes["supannEtuId"] = [user.student_number]
    return attributes


@require_GET
def service_validate(request: HttpRequest) -> HttpResponse:
    ticket, service = request.GET.get("ticket", ""), request.GET.get("service", "")
    if not ticket or not service:
        return _failure("INVALID_REQUEST", "ticket and service are required")
    issued = cache.get(f"cas-st:{ticket}")
    cache.delete(f"cas-st:{ticket}")  # single use, whatever the outcome
    if issued is None:
        return _failure("INVALID_TICKET", f"ticket {ticket} not recognized")
    if issued["service"] != service:
        return _failure("INVALID_SERVICE", "ticket was issued for another service")
    user = User.objects.filter(pk=issued["user_id"], is_active=True).first()
    if user is None:
        return _failure("INVALID_TICKET", "the account is no longer active")
    attributes = "".join(
        f"<cas:{name}>{escape(value)}</cas:{name}>" for name, values in attributes_of(user).items() for value in values
    )
    body = (
        "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'><cas:authenticationSuccess>"
        f"<cas:user>{escape(user.username)}</cas:user><cas:attributes>{attributes}</cas:attributes>"
        "</cas:authenticationSuccess></cas:serviceResponse>"
    )
    return HttpResponse(body, content_type="application/xml; charset=utf-8")


def _logout_request(ticket: str) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="LR-{secrets.token_hex(8)}" Version="2.0" '
        f'IssueInstant="{now}"><saml:NameID>@NOT_USED@</saml:NameID>'
        f"<samlp:SessionIndex>{escape(ticket)}</samlp:SessionIndex></samlp:LogoutRequest>"
    )


@require_GET
def logout(request: HttpRequest) -> HttpResponse:
    issued = request.session.get(SESSION_SERVICES, [])
    auth_logout(request)
    for ticket, service in issued:
        try:  # back-channel single logout; a service that does not answer does not stop the logout
            requests.post(service, data={"logoutRequest": _logout_request(ticket)}, timeout=5)
        except requests.RequestException as exc:
            logger.warning("single logout to %s failed: %s", service, exc)
    service = request.GET.get("service", "")
    if service and _is_acceptable_service(service):
        return redirect(service)
    return redirect("account_login")
