"""Deleting a candidate's account at their request (eCandidat "Supprimer" / "Suppression CNIL"): one page of the
candidates' back office, for the central office only (anyone else: 404).

First the dossier number, then what the account holds and what would go with it, then the choice (the account
alone, or everything), the optional e-mail to the candidate, and the dossier number typed again to confirm. The
service (``applications.services.erasure``) acts.
"""

from __future__ import annotations

import logging

from django import forms
from django.contrib import messages
from django.db import IntegrityError
from django.db.models import ProtectedError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from applications.models import Candidate
from applications.services import erasure, staff
from ecandidat.admin_base import bound_view
from ecandidat.exceptions import BusinessRuleError
from ecandidat.staff import is_central

logger = logging.getLogger(__name__)


class AccountLookupForm(forms.Form):
    numero = forms.CharField(label=_("Dossier number"), max_length=30)

    def clean_numero(self):
        user = erasure.candidate_account(self.cleaned_data["numero"])
        if user is None:
            raise forms.ValidationError(gettext("No candidate account has this dossier number."))
        return user


class AccountDeletionForm(forms.Form):
    what = forms.ChoiceField(
        label=_("What to delete"),
        choices=[
            ("account", _("The account only (refused while it has applications)")),
            (
                "everything",
                _("Everything (CNIL): the account, its dossier, its applications, its pieces and its mails"),
            ),
        ],
        initial="account",
        widget=forms.RadioSelect,
    )
    notify = forms.BooleanField(label=_("Inform the candidate by e-mail"), required=False, initial=True)
    confirmation = forms.CharField(
        label=_("Type the dossier number again to confirm"),
        max_length=30,
        help_text=_("The deletion cannot be undone."),
    )

    def __init__(self, *args, numero: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.numero = numero

    def clean_confirmation(self):
        typed = self.cleaned_data["confirmation"].strip().upper()
        if typed != self.numero:
            raise forms.ValidationError(gettext("This is not the dossier number of the account shown above."))
        return typed


def delete_account_view(request, *, model_admin):
    if not is_central(request.user):
        raise Http404
    data = request.POST if request.method == "POST" else request.GET
    lookup = AccountLookupForm(data if "numero" in data else None)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": gettext("Delete a candidate's account"),
        "subtitle": None,
        "lookup": lookup,
    }
    request.current_app = model_admin.admin_site.name
    if not lookup.is_valid():
        return TemplateResponse(request, "admin/applications/candidate/delete_account.html", context)
    user = lookup.cleaned_data["numero"]
    form = AccountDeletionForm(request.POST if request.method == "POST" else None, numero=user.username)
    if request.method == "POST" and form.is_valid():
        try:
            record = erasure.delete_candidate_account(
                user=user,
                actor=request.user,
                everything=form.cleaned_data["what"] == "everything",
                notify=form.cleaned_data["notify"],
            )
        except BusinessRuleError as error:
            form.add_error(None, str(error))
        except (ProtectedError, IntegrityError):
            # A row of the account appeared while it was being deleted (the service locks against those it knows
            # of): its transaction rolled back, nothing is deleted, and trying again gives the proper answer.
            logger.warning("deletion of account %s refused: the account changed meanwhile", user.pk, exc_info=True)
            form.add_error(None, gettext("The account changed during the deletion; nothing was deleted. Try again."))
        else:
            messages.success(
                request,
                gettext("Account %(numero)s deleted (%(what)s).")
                % {
                    "numero": record.numero_dossier,
                    "what": erasure.ErasureCounts(record.applications, record.files, record.mails).describe(),
                },
            )
            _say_places_freed(request, erasure.places_freed(record))
            if record.opi_sent:
                messages.warning(
                    request,
                    gettext(
                        "OPI files that carried this person had already left for the student records system (Pégase "
                        "or Apogée): remove the person there by hand."
                    ),
                )
            return HttpResponseRedirect(reverse("admin:applications_candidate_changelist"))
    context.update(
        account=user,
        candidate=Candidate.objects.filter(user=user).only("pk", "birth_name", "usual_name", "first_name").first(),
        counts=erasure.erasure_counts(user),
        form=form,
    )
    return TemplateResponse(request, "admin/applications/candidate/delete_account.html", context)


def _say_places_freed(request, places: tuple[erasure.PlaceFreed, ...]) -> None:
    """Each place the deletion freed, and who was admitted in it; a promotion the campaign's closing left to staff
    is said as after a withdrawal (``staff.promotion_left_to_staff_message``)."""
    for place in places:
        if place.left_to_staff is not None:
            messages.warning(request, staff.promotion_left_to_staff_message(place.left_to_staff))
        elif place.promoted is not None:
            messages.info(
                request,
                gettext(
                    "The place held in %(formation)s is freed: the first candidate of its complementary list "
                    "(%(numero)s) was admitted."
                )
                % {"formation": place.formation.code, "numero": place.promoted.candidate.user.username},
            )
        else:
            messages.info(
                request,
                gettext(
                    "The place held in %(formation)s is freed: nobody was admitted in it (the formation does not "
                    "manage its complementary list automatically, or nobody is on it)."
                )
                % {"formation": place.formation.code},
            )


def erasure_urls(model_admin) -> list:
    return [
        path(
            "supprimer-un-compte/",
            bound_view(model_admin, delete_account_view),
            name="applications_candidate_delete_account",
        )
    ]
