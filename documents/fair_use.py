"""Fair use of uploads and dossier PDFs (issue 9): per-account and per-IP limits on the shared cache.

Built on ``ecandidat.ratelimits`` (allauth's rate-limit machinery, the one the login lockouts use), so that every
process counts in the same place, with our own configuration (``settings.DOCUMENTS_RATE_LIMITS``) and our own key
namespace.

Rates are allauth rate strings, e.g. ``"20/5m/user,200/5m/ip"``: the account's rate is checked first, so that an
account over its own limit never uses up the allowance of the other accounts behind the same address (a campus
NAT). Every attempt counts, accepted or refused by validation: validating is what costs.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from ecandidat import ratelimits

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
    return ratelimits.consume(request, app=APP, action=action, config=settings.DOCUMENTS_RATE_LIMITS)
