"""Changing the address of a candidate's account from the dossier's page, or from the account's page in "Comptes
candidats" for an account without a dossier yet (eCandidat's gestionnaire de candidats, write mode: "modifier
l'adresse mail du compte"): for the central office and the candidates managers (GCA); anyone else, the read-only
candidates managers included, gets a 404. The new address is typed twice; the service
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
from accounts.services import AddressTakenBy, check_stored_length, email_taken_in_campaign, normalize_email
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
        """The address as the service stores it (``normalize_email``), refused next to the field when that is longer
        than the column (« ㎒ » is « mhz »: PostgreSQL refused the row, a 500), or when it is the account's own in
        another spelling (a capital, a full-width letter)."""
        email = check_stored_length(self.cleaned_data["email"])
        if email == normalize_email(self.current):
            raise forms.ValidationError(gettext("This is already the address of the account."))
        return email

    def clean(self):
        cleaned_data = super().clean()
        assert cleaned_data is not None  # Django's Form.clean returns cleaned_data
        email, email2 = cleaned_data.get("email"), cleaned_data.get("email2")
        # The same mailbox twice, whatever its spelling: compared as stored.
        if email and email2 and email != normalize_email(email2):
            self.add_error("email2", MISMATCH_MESSAGE)
        return cleaned_data


@require_http_methods(["GET", "POST"])
def account_email_view(request, object_id: int, *, model_admin):
    """The page of ``model_admin``'s row (a dossier, or an account without one): the ModelAdmin says which rows
    offer it (``email_change_queryset``), the account of a row (``account_of``) and names it (``account_summary``);
    the change is written to that row's history."""
    if not may_change_account_email(request.user):
        raise Http404
    obj = get_object_or_404(model_admin.email_change_queryset(request), pk=object_id)
    account = model_admin.account_of(obj)
    form = AccountEmailForm(request.POST if request.method == "POST" else None, current=account.email)
    opts = model_admin.opts
    change_page = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    if request.method == "POST" and form.is_valid():
        change = staff_change_account_email(account=account, new_email=form.cleaned_data["email"], actor=request.user)
        if not change.refused:
            if change.recorded:  # nothing when a double submit's first request made and recorded it
                model_admin.log_change(request, obj, change.recorded)  # the row's own history, as its other changes
            messages.success(
                request,
                gettext("The account's address is now %(email)s: the candidate validates it by the link sent to it.")
                % {"email": account.email},
            )
            return HttpResponseRedirect(change_page)
        # Refused: said as it is to the helpdesk (staff: no enumeration to fear), another candidate's or a staff's,
        # and that its owner was not mailed (the service mails nobody on a helpdesk's refusal): the agent tells the
        # caller, nobody else hears of it.
        taken_by = email_taken_in_campaign(
            email=normalize_email(form.cleaned_data["email"]), campaign=account.campaign, exclude_user=account
        )
        if taken_by == AddressTakenBy.STAFF:
            form.add_error(
                "email",
                gettext(
                    "This e-mail address belongs to a staff account: the candidate needs another one. Nothing was "
                    "changed, and its owner was not mailed."
                ),
            )
        else:
            form.add_error(
                "email",
                gettext(
                    "Another account of this campaign uses this address: nothing was changed, and its owner was not "
                    "mailed."
                ),
            )
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": gettext("Change the account's e-mail address"),
        "subtitle": None,
        "original": obj,
        "account": account,
        "account_name": model_admin.account_summary(obj),
        "change_page": change_page,
        "form": form,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/account_email.html", context)


def account_email_urls(model_admin) -> list:
    """The page's address under ``model_admin``'s (``…/<id>/adresse-mail/``), named after its model."""
    opts = model_admin.opts
    return [
        path(
            "<int:object_id>/adresse-mail/",
            bound_view(model_admin, account_email_view),
            name=f"{opts.app_label}_{opts.model_name}_account_email",
        )
    ]
