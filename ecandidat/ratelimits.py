"""Rate limits with a ``Retry-After``, on allauth's rate-limit machinery (the one the login lockouts use).

Every process counts in the same place: the shared cache (Redis when ``REDIS_URL`` is set, otherwise the database
cache). allauth's public ``consume`` reads only ``ACCOUNT_RATE_LIMITS`` and answers yes or no; its internal module
takes our own configuration and key namespace (``app``) and gives what ``Retry-After`` needs. Pinned with allauth
in requirements.txt. Used by the fair use of uploads and dossier PDFs (``documents.fair_use``) and by the ENT's
back-channel logout (``accounts.oidc_backchannel``).

Rates are allauth rate strings, e.g. ``"20/5m/user,200/5m/ip"``, checked in order: an account over its own limit
never uses up the allowance of the other accounts behind the same address (a campus NAT). An empty string is no
limit. The address is allauth's client address, the one the login limits count: the visitor's behind the proxies
``TRUSTED_PROXY_COUNT`` trusts (1 behind deploy/nginx.conf.example), else the TCP peer, X-Forwarded-For ignored.
"""

import math
import time

from allauth.core.internal import ratelimit as allauth_ratelimit
from django.core.cache import cache
from django.http import HttpRequest


def consume(request: HttpRequest, *, app: str, action: str, config: dict[str, str]) -> int | None:
    """Count one use of ``action`` (per account and/or per address, as its rates say).

    Returns None when the use is allowed, otherwise the number of seconds until it would be (for ``Retry-After``);
    a refused use is not counted. A rate per ``user`` needs ``request.user`` authenticated.
    """
    options = {"app": app, "action": action, "config": config, "limit_get": True}
    # allauth records a use on each rate until one refuses: a dry run first, so that a use refused by the address's
    # rate is not left counted against the account (and the other way round).
    allowed = allauth_ratelimit.consume(request, dry_run=True, **options) is not None
    if allowed and allauth_ratelimit.consume(request, **options) is not None:
        return None
    return retry_after(request, app=app, action=action, config=config)


def retry_after(request: HttpRequest, *, app: str, action: str, config: dict[str, str]) -> int:
    """Seconds until every full window of ``action`` has a free slot again (at least 1)."""
    now = time.time()
    wait = 1.0
    for rate in allauth_ratelimit.get_rates(app=app, action=action, config=config):
        key = allauth_ratelimit.get_cache_key(request, app=app, action=action, rate=rate)
        recent = [stamp for stamp in cache.get(key, []) if stamp > now - rate.duration]  # newest first
        if len(recent) >= rate.amount:
            wait = max(wait, recent[rate.amount - 1] + rate.duration - now)
    return math.ceil(wait)
