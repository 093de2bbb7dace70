"""Back-office work done on a candidate's behalf (issue 12).

- Operations of one application (rows of ``candidatures.OPERATIONS``, from its page: eCandidat's maintainer declined
  mass withdrawal, issue #26): recording a confirmation (the candidate answered by phone, mail or letter, also after
  the date de confirmation: staff answer "at any time", §1.12) or a withdrawal (before or after the candidate
  confirmed, with the reason the candidate gave), and changing an application's type de traitement.
- Entering the answers to the complementary questions in the candidate's place (the application's page, "Saisir
  les réponses aux questions"): the candidate's form and rules (``applications.services.questions``), also after
  the transmission, until a decision is validated.
- Two pages of the applications list for a phone call or a paper application: creating a candidate's e-mail
  account (the candidate receives the usual mail to choose a password) and creating an application for a
  candidate. Centre managers (for their centres' formations) and the central office. The candidates managers (GCA,
  eCandidat's "Créer compte candidat") create accounts too, from « Comptes candidats » and « Candidats » (the
  read-only ones, GCAL, do not); they never create applications.

The forms validate, the services in ``accounts.services`` and ``applications.services`` act.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models.fields import BLANK_CHOICE_LABEL
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from accounts.forms import NameField, name_characters
from accounts.models import CandidateAccount
from accounts.services import check_stored_length, create_candidate_account
from applications.admin.review import change_url, list_filters
from applications.admin.review_actions import application_for
from applications.concurrency import EditConflict
from applications.enums import DossierStatus, WithdrawalReason
from applications.forms import QuestionsForm
from applications.models import Candidate
from applications.questions import question_rows
from applications.services import candidature as candidature_services
from applications.services.questions import enter_answers_for_candidate, staff_questions_locked_reason
from applications.workflow import Role
from ecandidat import parameters
from ecandidat.admin_base import bound_view
from ecandidat.admin_inputs import IsoDateInput
from ecandidat.exceptions import BusinessRuleError, FieldRuleError
from ecandidat.staff import scope_of
from ecandidat.text import RefuseInvisibleControls, require_a_letter
from offers.enums import TreatmentType
from offers.models import Campaign, Formation

if TYPE_CHECKING:
    from accounts.models import User
    from applications.models import Application


class StaffWithdrawalForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("Reason given by the candidate"),
        choices=[("", BLANK_CHOICE_LABEL), *WithdrawalReason.choices],
        error_messages={"required": _("Choose the reason for the withdrawal.")},
    )
    comment = forms.CharField(
        label=_("Comment (written to the history)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class StaffConfirmationForm(forms.Form):
    comment = forms.CharField(
        label=_("How the candidate confirmed (written to the history)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "E.g. “Letter received on 12/07”. The candidate receives the confirmation mail, as if they had "
            "confirmed themselves, and the OPI is created when the decision type asks for it."
        ),
    )


class TreatmentTypeForm(forms.Form):
    treatment_type = forms.ChoiceField(
        label=_("New processing type"), choices=[("", BLANK_CHOICE_LABEL), *TreatmentType.choices]
    )
    reason = forms.CharField(
        label=_("Reason (written to the history)"),
        max_length=500,
        error_messages={"required": _("Give the reason for this change.")},
    )

    def __init__(self, *args, application: Application | None = None, **kwargs) -> None:
        """On one application's page the field says which type it has now and offers only the others (choosing
        the same one changes nothing: the service refuses it); on a selection every type is offered. With
        ``TREATMENT_TYPE_RESETS_STATUS`` it says that the dossier goes back to "En attente" too, before the click."""
        super().__init__(*args, **kwargs)
        field = self.fields["treatment_type"]
        assert isinstance(field, forms.ChoiceField)
        notes = []
        if application is not None:
            current = application.treatment_type
            field.choices = [
                ("", BLANK_CHOICE_LABEL),
                *((value, label) for value, label in TreatmentType.choices if value != current),
            ]
            notes.append(gettext("Now: %(type)s.") % {"type": TreatmentType(current).label})
        if parameters.get("TREATMENT_TYPE_RESETS_STATUS"):
            notes.append(
                gettext(
                    "Unless it already is, the dossier status is also set back to “%(status)s”, with its mail to the "
                    "candidate."
                )
                % {"status": DossierStatus.WAITING.label}
            )
        field.help_text = " ".join(notes)


def confirm_on_behalf(application: Application, form: StaffConfirmationForm, actor: User) -> None:
    candidature_services.confirm_application(
        application=application, actor=actor, role=Role.STAFF, comment=form.cleaned_data["comment"]
    )


def withdraw_on_behalf(application: Application, form: StaffWithdrawalForm, actor: User) -> Application:
    """The withdrawal, returning the service's application (its formation tells whether the place freed was left to
    staff: ``staff.promotion_left_to_staff``, said by ``operations._held_back_warning``)."""
    return candidature_services.withdraw_application(
        application=application,
        actor=actor,
        reason=form.cleaned_data["reason"],
        comment=form.cleaned_data["comment"],
        role=Role.STAFF,
    )


# --- pages: a candidate's account, an application for a candidate -----------------------------------------------


class CandidateAccountForm(forms.Form):
    # The signup's name fields and rules (``accounts.forms._CandidateSignupMixin``): no invisible control, format or
    # writing-direction character, a letter at least, and nothing but a name's characters (``name_characters``),
    # every space separator stored as a plain space (``NameField``). The names open the account's creation mail, sent
    # to an address nobody has validated yet: no link nor sentence of a stranger's at its top.
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    last_name = NameField(
        label=_("Last name"),
        max_length=150,
        validators=[RefuseInvisibleControls(), require_a_letter, name_characters],
    )
    first_name = NameField(
        label=_("First name"),
        max_length=150,
        validators=[RefuseInvisibleControls(), require_a_letter, name_characters],
    )

    def clean_email(self) -> str:
        """The address as it is stored (``create_candidate_account`` normalises it), refused next to the field when
        that is longer than the column: « ㎒ » is « mhz », and PostgreSQL refused the row (a 500)."""
        return check_stored_length(self.cleaned_data["email"])


class ApplicationOnBehalfForm(forms.Form):
    numero_dossier = forms.CharField(label=_("Dossier number"), max_length=30)
    formation = forms.ModelChoiceField(label=_("Formation"), queryset=Formation.objects.none())
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[
            ("classic", _("Classic application")),
            ("proposal", _("Admission proposal: complete, with the formation's favourable decision validated")),
        ],
        initial="classic",
        required=False,  # left out: a classic application
        widget=forms.RadioSelect,
    )
    # Required for a classic application once the formation's return deadline can no longer be met (a paper
    # application or a phone call after it): ``candidature.on_behalf_return_deadline_refusal``.
    return_deadline = forms.DateField(
        label=_("Return deadline for this application"),
        required=False,
        widget=IsoDateInput(),
        help_text=_(
            "Classic application only. Required once the formation's return deadline has passed: the candidate "
            "uploads and transmits by this date, which their e-mail gives."
        ),
    )

    def __init__(self, *args, formations, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["formation"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = formations

    def clean(self):
        """The application's own return deadline, beside its field, when a classic application needs one or one is
        given (the service checks it again: ``create_application_on_behalf``)."""
        data = super().clean()
        assert data is not None  # Django's Form.clean returns cleaned_data
        formation = data.get("formation")
        if formation is not None and data.get("kind") != "proposal" and "return_deadline" not in self.errors:
            day = data.get("return_deadline")
            # Not after the active campaign's closing date for candidates (the candidate's: ``clean_numero_dossier``),
            # read once, only when a date is given.
            campaign = Campaign.objects.active().only("label", "ends_on").first() if day is not None else None
            refusal = candidature_services.on_behalf_return_deadline_refusal(formation, day, campaign=campaign)
            if refusal:
                self.add_error("return_deadline", refusal)
        return data

    def clean_numero_dossier(self) -> Candidate:
        numero = self.cleaned_data["numero_dossier"].strip().upper()
        candidate = (
            Candidate.objects.select_related("user")
            .filter(user__username=numero, user__campaign__is_active=True)
            .first()
        )
        if candidate is None:
            raise forms.ValidationError(
                gettext("No candidate of the active campaign has this dossier number with filled-in personal details.")
            )
        return candidate


def _formations_for(user):
    """The formations the user manages (every formation for the central office)."""
    scope = scope_of(user)
    formations = Formation.objects.select_related("centre").order_by("code")
    if scope.is_central:
        return formations
    return formations.filter(scope.manages(centre="centre_id", commission="commission_id"))


def _check_manager(model_admin, request) -> None:
    """Managers of a centre and the central office; anyone else of the back office: 403."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    scope = scope_of(request.user)
    if not (scope.is_central or scope.is_manager):
        raise PermissionDenied


def may_create_candidate_accounts(user) -> bool:
    """Who creates a candidate's account: the central office, the centre managers and the candidates managers who
    correct the dossiers (GCA); not the read-only ones (GCAL), nor commission members or read-only staff."""
    scope = scope_of(user)
    return scope.is_central or scope.is_manager or scope.corrects_all_candidates


def _check_account_creator(request) -> None:
    """``_check_manager``'s people and the candidates managers (GCA): the account page acts on no application, so
    the applications list's rights are not asked; anyone else of the back office: 403 (a 404 for the readers)."""
    if not may_create_candidate_accounts(request.user):
        raise PermissionDenied


def _works_on_applications(user) -> bool:
    scope = scope_of(user)
    return scope.is_central or scope.is_manager


def _page(model_admin, request, *, title, form, intro, opts=None):
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts or model_admin.opts,  # the breadcrumbs' list
        "title": title,
        "subtitle": None,
        "form": form,
        "intro": intro,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/applications/application/on_behalf.html", context)


def account_view(model_admin, request):
    """The central office and the centre managers come from the applications list and go on to the application's
    page; the candidates managers (GCA), who open no application, come from « Comptes candidats » and go to the
    new account's page there."""
    _check_account_creator(request)
    on_applications = _works_on_applications(request.user)
    form = CandidateAccountForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            user = create_candidate_account(actor=request.user, **form.cleaned_data)
        except BusinessRuleError as error:
            form.add_error("email", str(error))
        else:
            messages.success(
                request,
                gettext(
                    "Account %(numero)s created: the candidate received an e-mail to choose a password, then fills "
                    "in their dossier."
                )
                % {"numero": user.username},
            )
            if on_applications:
                return HttpResponseRedirect(reverse("admin:applications_application_on_behalf"))
            return HttpResponseRedirect(reverse("admin:accounts_candidateaccount_change", args=[user.pk]))
    return _page(
        model_admin,
        request,
        title=gettext("Create a candidate's account"),
        form=form,
        intro=gettext("The candidate receives an e-mail with their dossier number and a link to choose a password."),
        opts=None if on_applications else CandidateAccount._meta,
    )


def application_view(model_admin, request):
    _check_manager(model_admin, request)
    form = ApplicationOnBehalfForm(
        request.POST if request.method == "POST" else None, formations=_formations_for(request.user)
    )
    if request.method == "POST" and form.is_valid():
        proposal = form.cleaned_data.get("kind") == "proposal"
        who = {"candidate": form.cleaned_data["numero_dossier"], "formation": form.cleaned_data["formation"]}
        try:
            if proposal:
                application = candidature_services.propose_admission(**who, actor=request.user)
            else:
                application = candidature_services.create_application_on_behalf(
                    **who, actor=request.user, return_deadline=form.cleaned_data.get("return_deadline")
                )
        except FieldRuleError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        except BusinessRuleError as error:
            form.add_error(None, str(error))
        else:
            if not proposal:
                done = gettext("The application has been created; the candidate was informed by e-mail.")
            elif settings.DECISION_TWO_PERSON_RULE:
                done = gettext(
                    "The admission has been proposed: its favourable decision waits for someone else's validation "
                    "(two-person rule); the candidate is told once it is validated."
                )
            else:
                done = gettext("The admission has been proposed: the candidate was told by e-mail and now confirms.")
            messages.success(request, done)
            return HttpResponseRedirect(reverse("admin:applications_application_change", args=[application.pk]))
    return _page(
        model_admin,
        request,
        title=gettext("Create an application for a candidate"),
        form=form,
        intro=gettext(
            "For a paper application or a phone call: the application window and the maximum number of wishes do "
            "not apply; the candidate's dossier (address, baccalaureate) must be filled in."
        ),
    )


@require_http_methods(["GET", "POST"])
def questions_view(request, object_id, *, model_admin):
    """ "Saisir les réponses aux questions": the application's questions in the candidate's form (GET), saved together
    in the candidate's place (POST), for the central office and the application's managers (``editable_by``:
    commission members and read-only staff 403, outsiders 404). An application that asks no question is a 404; a
    cancelled one or one with a validated decision goes back to its page with the reason. An answer changed on the
    page that was changed meanwhile (by the candidate, another tab) saves nothing: the page comes back with the
    answers typed and those stored now (``EditConflict``)."""
    application = application_for(request, object_id, "editable_by")
    back = change_url(application.pk, list_filters(request), "questions")
    rows = question_rows(application, unlisted=False)
    if not rows:
        raise Http404
    if locked := staff_questions_locked_reason(application):
        messages.error(request, locked)
        return HttpResponseRedirect(back)
    form = QuestionsForm(request.POST if request.method == "POST" else None, rows=rows, for_staff=True)
    if request.method == "POST" and form.is_valid():
        try:
            changed = enter_answers_for_candidate(
                application=application,
                answers=form.answers(),
                not_concerned=form.not_concerned(),
                actor=request.user,
                read_at=form.read_version(),
            )
        except FieldRuleError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        except EditConflict as conflict:
            rows = question_rows(application, unlisted=False)
            form.show_conflict(conflict.message_for(request.user, owner=application.candidate.user), rows)
        except BusinessRuleError as error:
            messages.error(request, str(error))
            return HttpResponseRedirect(back)
        else:
            messages.success(
                request,
                gettext("The answers have been saved for the candidate.")
                if changed
                else gettext("The answers have not changed."),
            )
            return HttpResponseRedirect(back)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": gettext("Enter the answers to the questions"),
        "subtitle": None,
        "application": application,
        "form": form,
        "fields": [(row, *form.fields_of(row)) for row in rows],
        "back_url": back,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/applications/application/questions.html", context)


def on_behalf_urls(model_admin) -> list:
    wrap = model_admin.admin_site.admin_view
    return [
        path(
            "pour-le-candidat/compte/",
            wrap(lambda request: account_view(model_admin, request)),
            name="applications_application_on_behalf_account",
        ),
        path(
            "pour-le-candidat/candidature/",
            wrap(lambda request: application_view(model_admin, request)),
            name="applications_application_on_behalf",
        ),
        path(
            "<int:object_id>/pour-le-candidat/questions/",
            bound_view(model_admin, questions_view),
            name="applications_application_on_behalf_questions",
        ),
    ]
