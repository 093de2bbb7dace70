"""Test helpers for the staff second factor (accounts.staff_access).

``Client.force_login`` skips the whole login flow, second factor included, so the project's ``client`` and
``admin_client`` fixtures (root conftest) use this client, whose ``force_login`` also records a TOTP step in the
session, through allauth's own recording function. The tests of the flow itself log in through the pages, or call
``force_login(user, mfa=False)``.
"""

from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.conf import settings
from django.http import HttpRequest
from django.test import Client as DjangoClient


def record_second_factor(client: DjangoClient, user) -> None:
    """Record in ``client``'s session that ``user`` typed a TOTP code, as allauth's MFA step does."""
    request = HttpRequest()
    request.session = client.session
    record_authentication(request, user, "mfa", type="totp")
    request.session.save()


class Client(DjangoClient):
    """Also: the page language as a person chooses it with the switch (the language cookie; the browser's
    ``Accept-Language`` is not followed). ``language="en"`` on one request (``client.get(url, language="en")``)
    wins; then the cookie the switch set (``set_language``); then ``client.language``, the client's default."""

    language: str | None = None

    def _base_environ(self, **request):
        language = request.pop("language", None)
        if language is None and settings.LANGUAGE_COOKIE_NAME not in self.cookies:
            language = self.language
        environ = super()._base_environ(**request)
        if language:
            cookies = [part for part in environ["HTTP_COOKIE"].split("; ") if part]
            cookies = [part for part in cookies if not part.startswith(f"{settings.LANGUAGE_COOKIE_NAME}=")]
            environ["HTTP_COOKIE"] = "; ".join([*cookies, f"{settings.LANGUAGE_COOKIE_NAME}={language}"])
        return environ

    def force_login(self, user, backend=None, *, mfa=True):
        super().force_login(user, backend)
        if mfa:
            record_second_factor(self, user)


def totp_code(secret: str, *, offset: int = 0) -> str:
    """The current code of an authenticator app holding ``secret``, computed with allauth's own TOTP functions;
    ``offset`` steps of 30 seconds away from now."""
    counters = list(yield_hotp_counters_from_time())
    current = counters[len(counters) // 2]
    return format_hotp_value(hotp_value(secret, current + offset))


def log_in_staff_browser(page, live_server, user) -> None:
    """Open a staff session for ``user``, its second factor recorded, in a Playwright ``page``'s browser context,
    without the login pages (they have their own browser tests)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
