"""Codes and French labels of the accounts app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class LoginMethod(models.TextChoices):
    """How a login was made, as the account's history in the back office says it (``services.record_login``)."""

    PASSWORD = "password", _("Login with a password")
    PASSWORD_AND_SECOND_FACTOR = "password+mfa", _("Login with a password and a second factor")
    ENT_OIDC = "ent-oidc", _("Login through the ENT (OpenID Connect)")
    ENT_CAS = "ent-cas", _("Login through the ENT (CAS)")
