"""The authentication backends: Django's and allauth's, the account of a logged-in request read by a prepared query.

Every logged-in request loads its account (``django.contrib.auth.get_user`` → ``backend.get_user``); building that
``get(pk=...)`` cost more CPU than running it (issue 14), so it goes through ``ecandidat.prepared``. Logging in is
unchanged: ``authenticate`` is the parents'. A session names the backend it was opened with: sessions opened under
the previous dotted paths (``django.contrib.auth.backends.ModelBackend``, ``allauth.account.auth_backends.
AuthenticationBackend``) end once when this is deployed; deploy in the maintenance window.
"""

from typing import Any

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend

from ecandidat.prepared import PreparedQuery

# With its campaign (a LEFT JOIN: staff have none), in the same query: every candidate's request checks the campaign's
# dates for candidates (``accounts.middleware.ClosedCampaignLogoutMiddleware``), which then costs no query.
_ACCOUNT = PreparedQuery(lambda pk: get_user_model()._default_manager.filter(pk=pk).select_related("campaign"))


class _PreparedGetUser:
    def get_user(self, user_id: Any) -> Any:
        """Django's ``ModelBackend.get_user``: the active account with this primary key (its campaign loaded), or
        None."""
        user = _ACCOUNT.first(pk=user_id)
        return user if user is not None and self.user_can_authenticate(user) else None  # type: ignore[attr-defined]


class ModelBackend(_PreparedGetUser, DjangoModelBackend):
    """Django's username/password backend (staff in the back office)."""


class AuthenticationBackend(_PreparedGetUser, AllauthBackend):
    """allauth's backend (candidates' e-mail accounts, the ENT through OpenID Connect or CAS)."""
