"""Candidate account pages: "Modifier mon adresse mail".

Mounted by ecandidat/urls.py at ``compte/`` (``app_name = "accounts"``).
"""

from allauth.account.internal.flows.logout import logout
from django import forms
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts import services
from accounts.forms import MISMATCH_MESSAGE


class EmailChangeForm(forms.Form):
    """Adresse mail *, Confirmation Adresse Mail *. (Kept beside its only view: accounts/forms.py holds allauth's
    form overrides.)"""

    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    email2 = forms.EmailField(label=_("E-mail address confirmation"), max_length=254)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["email"].widget.attrs["autocomplete"] = "email"
        self.fields["email2"].widget.attrs["autocomplete"] = "email"

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if email.lower() == (self.user.email or "").lower():
            raise forms.ValidationError(_("This is already the e-mail address of your account."))
        return email

    def clean(self):
        cleaned_data = super().clean()
        assert cleaned_data is not None  # Django's Form/ModelForm.clean returns cleaned_data
        email, email2 = cleaned_data.get("email"), cleaned_data.get("email2")
        if email and email2 and email.lower() != email2.strip().lower():
            self.add_error("email2", MISMATCH_MESSAGE)
        return cleaned_data


@require_http_methods(["GET", "POST"])
def email_change(request):
    """The guide's warning, then the new address twice. Saving logs the candidate out: the address must be validated
    by the link mailed to it before logging in again. An address already used in the campaign gets the same answer
    (see services.change_email)."""
    user = request.user
    if not user.is_candidate:
        # Staff addresses are managed in the admin.
        raise PermissionDenied
    form = EmailChangeForm(data=request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        services.change_email(user=user, new_email=form.cleaned_data["email"], actor=user)
        logout(request, show_message=False)
        return redirect("accounts:email_change_done")
    return render(request, "accounts/email_change.html", {"form": form})


@login_not_required
@require_GET
def email_change_done(request):
    """Logged out by now: "check your e-mail", as after signup."""
    return render(request, "account/verification_sent.html")
