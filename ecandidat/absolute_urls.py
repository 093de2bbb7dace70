"""The absolute links the mails carry: on ``SITE_URL``, the public address of the site, never the Host of the request
that sent them.

A request's Host is whatever the browser (or anyone posting a form) says, among ``ALLOWED_HOSTS``: localhost, a node's
address, the back office's intranet name. A link built from it (``request.build_absolute_uri``, allauth's
``build_absolute_uri``) sends the candidate to that name: an anonymous « forgotten credentials » request with
``Host: 10.0.0.5`` mailed a reset link to 10.0.0.5, and a helpdesk agent on the intranet name sent the validation links
there. Without a request, allauth's links fell back on the ``django.contrib.sites`` row (``http://example.com``).

Links that lead the browser itself back here (the CAS service, the ENT's post-logout address) stay on the request's
host: it is the browser's own.
"""

from django.conf import settings


def absolute_url(path: str) -> str:
    """``path`` (``reverse(...)``, starting with ``/``) on the site's public address, ``SITE_URL`` (no trailing slash,
    ``ecandidat/settings/base.py``)."""
    return settings.SITE_URL + path
