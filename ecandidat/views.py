import re
from functools import cache

import markdown
import redis
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import TooManyFilesSent
from django.db import connection, transaction
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.utils import translation
from django.utils.html import escape, strip_tags
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from ecandidat import parameters
from ecandidat.faq import faq_entries
from ecandidat.home_message import home_message
from ecandidat.maintenance import hour_label
from ecandidat.sessions import refresh_session


@login_not_required
@require_safe
@transaction.non_atomic_requests  # read-only page: no transaction, no savepoint queries
def home(request):
    """ "Accueil": the information block of the guide's login screen."""
    return render(
        request,
        "ecandidat/home.html",
        {
            "maintenance_start_label": hour_label(settings.MAINTENANCE_START),
            "maintenance_end_label": hour_label(settings.MAINTENANCE_END),
            "home_message": home_message(translation.get_language() or settings.LANGUAGE_CODE),
        },
    )


@cache
def _guide_html() -> str:
    source = (settings.BASE_DIR / "docs" / "guide-candidat.md").read_text(encoding="utf-8")
    # The guide is our own file, not user input: rendering it as HTML is safe. Its headings start at <h2> (toc's
    # baselevel): the page's <h1> is "Assistance", and the guide is a part of that page (RGAA 9.1).
    html = markdown.markdown(
        source, extensions=["tables", "attr_list", "toc"], extension_configs={"toc": {"baselevel": 2}}
    )
    return _scrolling_tables(html)


_HEADING_OR_TABLE = re.compile(r"<h[2-6][^>]*>(?P<heading>.*?)</h[2-6]>|<table>.*?</table>", re.DOTALL)


def _scrolling_tables(html: str) -> str:
    """Each of the guide's tables in its own scroll box, so that on a 320 px phone only a table wider than the screen
    scrolls sideways, not the whole guide. A scroll box is reachable with the keyboard (tabindex 0) and named after
    its section, for whoever lands on it (WCAG 2.1.1, axe's scrollable-region-focusable). The guide is in French."""
    section, count = "", 0

    def wrap(match: re.Match) -> str:
        nonlocal section, count
        if match.group("heading") is not None:
            section = strip_tags(match.group("heading"))
            return match.group(0)
        count += 1
        label = escape(f"Tableau {count} du guide, section « {section} »")
        return f'<div class="guide__table" role="region" tabindex="0" aria-label="{label}">{match.group(0)}</div>'

    return _HEADING_OR_TABLE.sub(wrap, html)


@login_not_required
@require_safe
@transaction.non_atomic_requests  # read-only page: no transaction, no savepoint queries
def assistance(request):
    """ "Assistance": the central office's FAQ (in the visitor's language), the candidates' guide and the contact
    address. No query once the FAQ is cached (``ecandidat.faq``)."""
    context = {
        "faq": faq_entries(translation.get_language() or settings.LANGUAGE_CODE),
        "guide_html": mark_safe(_guide_html()),  # noqa: S308
    }
    return render(request, "ecandidat/assistance.html", context)


_HEALTHZ_METHODS = ["GET", "HEAD", "OPTIONS"]


@login_not_required
@require_http_methods(_HEALTHZ_METHODS)  # HEAD and OPTIONS too: what load balancers' checks send by default
@transaction.non_atomic_requests  # read-only page: no transaction, no savepoint queries
@never_cache
def healthz(request):
    """For load balancers: 200 when the database answers, 503 when it does not, whatever the method (GET, HEAD, or
    OPTIONS, which also says ``Allow``).

    Redis (broker and cache), when configured, is checked too, but its loss is a degraded mode, not an outage:
    pages keep working and mails wait in the outbox for the sweeper. So the answer stays 200 with ``"status":
    "degraded"`` and the broker's error. Cheap: one ``SELECT 1`` and one ``PING`` on a kept connection pool.
    """
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "not healthy"
        checks["database"] = f"error: {type(exc).__name__}"
    if settings.REDIS_URL:
        try:
            _redis_client(settings.REDIS_URL).ping()
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"error: {type(exc).__name__}"
    if checks["database"] != "ok":
        response = JsonResponse({"status": "error", "checks": checks}, status=503)
    else:
        status = "ok" if all(value == "ok" for value in checks.values()) else "degraded"
        response = JsonResponse({"status": status, "checks": checks})
    if request.method == "OPTIONS":
        response["Allow"] = ", ".join(_HEALTHZ_METHODS)
    return response


@cache
def _redis_client(url: str):
    """One client (and connection pool) per process for /healthz's PING, with short timeouts."""
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


@login_not_required
@require_safe
@transaction.non_atomic_requests  # read-only page: no transaction, no savepoint queries
def personal_data(request):
    """The personal-data notice (RGPD), linked from every page's footer."""
    return render(request, "ecandidat/personal_data.html")


@login_not_required
@require_safe
@transaction.non_atomic_requests  # read-only page: no transaction, no savepoint queries
def theme_css(request):
    """The institution's colours (settings ``INSTITUTION_BRAND_COLOUR``) as CSS custom properties.

    A stylesheet rather than an inline ``<style>``: the CSP allows styles from our own origin only. The colour is
    validated as ``#rrggbb`` when the settings load, so nothing else can reach the CSS.
    """
    brand = settings.INSTITUTION_BRAND_COLOUR
    red, green, blue = (int(brand[i : i + 2], 16) for i in (1, 3, 5))
    dark = "#{:02x}{:02x}{:02x}".format(*(int(c * 0.75) for c in (red, green, blue)))
    response = HttpResponse(f":root {{ --brand: {brand}; --brand-dark: {dark}; }}\n", content_type="text/css")
    response["Cache-Control"] = "public, max-age=3600"
    return response


@login_not_required
@require_safe
@transaction.non_atomic_requests  # read-only page: no transaction, no savepoint queries
def accessibility(request):
    """ "Déclaration d'accessibilité" (RGAA 4.1 model): what was checked, how, and what is not yet compliant."""
    return render(request, "ecandidat/accessibility.html")


@login_not_required
@require_safe
@transaction.non_atomic_requests  # read-only page: no transaction, no savepoint queries
def legal_notice(request):
    """ "Mentions légales": publisher, director of publication, host."""
    return render(
        request,
        "ecandidat/legal_notice.html",
        {"publication_director": settings.LEGAL_PUBLICATION_DIRECTOR, "host": settings.LEGAL_HOST},
    )


@require_POST
@never_cache
def session_keepalive(request):
    """ "Rester connecté": renews the sliding session now (``ecandidat.sessions``) and says how many seconds are
    left so the page can restart its countdown. Logged-out callers get the login redirect."""
    return JsonResponse({"expires_in": refresh_session(request)})


@login_not_required
@require_safe
@transaction.non_atomic_requests  # read-only page: no transaction, no savepoint queries
def signup_choice(request):
    """ "Créer un compte", as the guide splits it: a student of the university logs in with the ENT first (their
    account then carries the student records' data); anyone else creates an account with their e-mail address,
    unless ``EMAIL_ACCOUNTS`` is off."""
    return render(request, "account/signup_choice.html", {"email_accounts": parameters.get("EMAIL_ACCOUNTS")})


def bad_request(request, exception):
    """Django's 400 page (``400.html``, as ``django.views.defaults.bad_request`` renders it), saying why when the body
    held more files than Django reads (``DATA_UPLOAD_MAX_NUMBER_FILES``, 100): without JavaScript a candidate may pick
    more than 100 photos for one piece, and Django's parser refuses them before any view (the CSRF check reads the
    form), so the upload's own « 10 photos au plus » beside the piece cannot be said. Nothing of the body was kept."""
    context = {"too_many_files": isinstance(exception, TooManyFilesSent)}
    return HttpResponseBadRequest(loader.render_to_string("400.html", context, request=request))
