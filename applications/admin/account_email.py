"""Changing the address of a candidate's account from the dossier's page (eCandidat's gestionnaire de candidats,
write mode: "modifier l'adresse mail du compte"): for the central office and the candidates managers (GCA); anyone
else, the read-only candidates managers included, gets a 404. The new address is typed twice; the service
(``applications.services.dossier.staff_change_account_email``) acts and records; the candidate validates the new
address by the link mailed to it before logging in again."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from accounts.forms import MISMATCH_MESSAGE
from applications.services.dossier import staff_change_account_email
from ecandidat.admin_base import bound_view
from ecandidat.staff import scope_of


def may_change_account_email(user) -> bool:
    scope = scope_of(user)
    return scope.is_central or scope.corrects_all_candidates


class AccountEmailForm(forms.Form):
    email = forms.EmailField(label=_("New e-mail address"), max_length=254)
    email2 = forms.EmailField(label=_("E-mail address confirmation"), max_length=254)

    def __init__(self, *args, current: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.current = current
        for name in ("email", "email2"):
            self.fields[name].widget.attrs["autocomplete"] = "off"  # the candidate's address, not the agent's

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if email.lower() == self.current.lower():
            raise forms.ValidationError(gettext("This is already the address of the account."))
        return email

    def clean(self):
        cleaned_data = super().clean()
        assert cleaned_data is not None  # Django's Form.clean returns cleaned_data
        email, email2 = cleaned_data.get("email"), cleaned_data.get("email2")
        if email and email2 and email.lower() != email2.strip().lower():
            self.add_error("email2", MISMATCH_MESSAGE)
        return cleaned_data


@require_http_methods(["GET", "POST"])
def account_email_view(request, candidate_id: int, *, model_admin):
    if not may_change_account_email(request.user):
        raise Http404
    candidate = get_object_or_404(model_admin.get_queryset(request).select_related("user"), pk=candidate_id)
    form = AccountEmailForm(request.POST if request.method == "POST" else None, current=candidate.user.email)
    change_page = reverse("admin:applications_candidate_change", args=[candidate.pk])
    if request.method == "POST" and form.is_valid():
        change = staff_change_account_email(
            candidate=candidate, new_email=form.cleaned_data["email"], actor=request.user
        )
        if change:
            model_admin.log_change(request, candidate, change)  # the dossier's own history, as its other changes
            messages.success(
                request,
                gettext("The account's address is now %(email)s: the candidate validates it by the link sent to it.")
                % {"email": candidate.user.email},
            )
            return HttpResponseRedirect(change_page)
        form.add_error("email", gettext("Another account of this campaign uses this address: nothing was changed."))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": gettext("Change the account's e-mail address"),
        "subtitle": None,
        "original": candidate,
        "change_page": change_page,
        "form": form,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/applications/candidate/account_email.html", context)


def account_email_urls(model_admin) -> list:
    return [
        path(
            "<int:candidate_id>/adresse-mail/",
            bound_view(model_admin, account_email_view),
            name="applications_candidate_account_email",
        )
    ]
