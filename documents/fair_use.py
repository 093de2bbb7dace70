"""Fair use of uploads and dossier PDFs (issue 9): per-account and per-IP limits on the shared cache.

Built on allauth's rate-limit machinery (the one the login lockouts use), so that every process counts in the same
place: Redis when ``REDIS_URL`` is set, otherwise the database cache. allauth's public ``consume`` only reads
``ACCOUNT_RATE_LIMITS``; its internal module takes our own configuration (``settings.DOCUMENTS_RATE_LIMITS``) and
our own key namespace, and gives what ``Retry-After`` needs. Pinned with allauth in requirements.txt.

Rates are allauth rate strings, e.g. ``"20/5m/user,200/5m/ip"``: the account's rate is checked first, so that an
account over its own limit never uses up the allowance of the other accounts behind the same address (a campus
NAT). Every attempt counts, accepted or refused by validation: validating is what costs.
"""

from __future__ import annotations

import math
import time

from allauth.core.internal import ratelimit as allauth_ratelimit
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

APP = "documents"
# The actions limited, each with its rates in settings.DOCUMENTS_RATE_LIMITS.
UPLOAD = "upload"
STAFF_UPLOAD = "staff_upload"
DOSSIER_PDF = "dossier_pdf"
STAFF_DOSSIER_PDF = "staff_dossier_pdf"
ACTIONS = (UPLOAD, STAFF_UPLOAD, DOSSIER_PDF, STAFF_DOSSIER_PDF)


def consume(request: HttpRequest, action: str) -> int | None:
    """Count one use of ``action`` by ``request.user`` from the request's address.

    Returns None when the use is allowed, otherwise the number of seconds until it would be (for ``Retry-After``);
    a refused use is not counted. ``request.user`` must be authenticated (the views require a login).
    """
    config = settings.DOCUMENTS_RATE_LIMITS
    options = {"app": APP, "action": action, "config": config, "limit_get": True}
    # allauth records a use on each rate until one refuses: a dry run first, so that a use refused by the address's
    # rate is not left counted against the account (and the other way round).
    allowed = allauth_ratelimit.consume(request, dry_run=True, **options) is not None
    if allowed and allauth_ratelimit.consume(request, **options) is not None:
        return None
    return _retry_after(request, action, config)


def _retry_after(request: HttpRequest, action: str, config: dict[str, str]) -> int:
    """Seconds until every full window of ``action`` has a free slot again (at least 1)."""
    now = time.time()
    wait = 1.0
    for rate in allauth_ratelimit.get_rates(app=APP, action=action, config=config):
        key = allauth_ratelimit.get_cache_key(request, app=APP, action=action, rate=rate)
        recent = [stamp for stamp in cache.get(key, []) if stamp > now - rate.duration]  # newest first
        if len(recent) >= rate.amount:
            wait = max(wait, recent[rate.amount - 1] + rate.duration - now)
    return math.ceil(wait)
