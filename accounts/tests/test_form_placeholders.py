"""No allauth form our pages show keeps allauth's HTML placeholders (RGAA 11.1: they repeat the visible label in grey
and vanish on input). Each form is the one allauth's view would use, read from the settings as allauth reads them."""

import pytest
from allauth.account import app_settings as account_settings
from allauth.account import forms as account_forms
from allauth.core import context
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.base import forms as mfa_forms
from allauth.mfa.totp import forms as totp_forms
from allauth.utils import get_form_class
from django.test import RequestFactory

from accounts.tests.factories import CandidateUserFactory

pytestmark = pytest.mark.django_db

# (settings, the view's form name, allauth's default class, the keyword arguments the view passes)
FORMS = [
    (account_settings, "login", account_forms.LoginForm, {"request": True}),
    (account_settings, "signup", account_forms.SignupForm, {}),
    (account_settings, "reset_password", account_forms.ResetPasswordForm, {}),
    (account_settings, "set_password", account_forms.SetPasswordForm, {"user": True}),
    (account_settings, "change_password", account_forms.ChangePasswordForm, {"user": True}),
    (account_settings, "reset_password_from_key", account_forms.ResetPasswordKeyForm, {"user": True, "temp_key": "k"}),
    (account_settings, "reauthenticate", account_forms.ReauthenticateForm, {"user": True}),
    (mfa_settings, "authenticate", mfa_forms.AuthenticateForm, {"user": True}),
    (mfa_settings, "reauthenticate", mfa_forms.ReauthenticateForm, {"user": True}),
    (mfa_settings, "activate_totp", totp_forms.ActivateTOTPForm, {"user": True}),
]


@pytest.mark.parametrize(("app_settings", "name", "default", "arguments"), FORMS, ids=[f[1] for f in FORMS])
def test_the_form_has_no_placeholder(app_settings, name, default, arguments):
    user = CandidateUserFactory()
    form_class = get_form_class(app_settings.FORMS, name, default)
    request = RequestFactory().get("/")
    request.session = {}  # the TOTP form keeps its new secret there
    kwargs = {key: user if value is True else value for key, value in arguments.items()}
    if "request" in kwargs:
        kwargs["request"] = request

    with context.request_context(request):
        form = form_class(**kwargs)

    assert form_class is not default  # ours, configured in the settings
    assert {field: widget_placeholder(form, field) for field in form.fields} == dict.fromkeys(form.fields)
    assert "placeholder" not in "".join(str(form[field]) for field in form.fields)


def widget_placeholder(form, field):
    return form.fields[field].widget.attrs.get("placeholder")
