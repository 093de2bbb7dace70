"""Candidate pages of applications: the "Candidatures" list, applying to a formation, the recap ("Récapitulatif de
votre candidature"), transmitting, cancelling, confirming and withdrawing (user guide, ecandidat-features §1.5–1.12).

Applications are always loaded through ``Application.objects.for_candidate_user(request.user)``: another
candidate's application is a 404, and staff accounts (no campaign) get a 404 on every page here.
Writes are POST only, go through ``applications.services.candidature`` and redirect (post/redirect/get).
"""

import datetime

from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from applications.concurrency import EditConflict
from applications.dates import confirmation_date, effective_return_deadline
from applications.enums import ANSWER_LABELS, EventKind
from applications.forms import QuestionsForm, WithdrawalForm
from applications.forms_tab import form_rows, forms_for, missing_forms
from applications.letters import (
    CANDIDATE_DOWNLOAD,
    admission_letter_withheld,
    letter_contact,
    letter_obtainable,
    letter_response,
    open_letter,
)
from applications.models import Application, ApplicationEvent, Candidate, DecisionLetter
from applications.permissions import can_answer, can_cancel, can_change_pieces, can_transmit, can_withdraw
from applications.pieces import piece_rows, pieces_table_context
from applications.questions import missing_questions, question_rows, questions_locked_reason
from applications.services import candidature as services
from applications.services.complementary_forms import declare_form_not_concerned
from applications.services.questions import answer_questions
from applications.views import candidate_required
from ecandidat import parameters
from ecandidat.exceptions import AlreadyDone, BusinessRuleError, FieldRuleError
from ecandidat.prepared import PreparedQuery
from ecandidat.staff_text import StaffText, shown
from offers.enums import ApplicationMode, Avis
from offers.models import Formation

FORMS_TAB_TEMPLATE = "applications/includes/forms_tab.html"
# A second tap on « Candidater » or « Transmettre » (on a slow line the first answer has not come yet) finds the work
# done and is refused; when this same account did it this recently, it is the same tap's echo and is answered as the
# first one was (same success messages, same page) instead of with the refusal that hid them.
DOUBLE_SUBMIT_WINDOW = datetime.timedelta(minutes=2)


# The candidate's applications (not cancelled) with their formations, and one of them with what the recap shows,
# each with its current decision (``with_current_decision``): one query each, compiled once per process
# (ecandidat.prepared, issue 14), scoped to the candidate account. Compiled once, the four correlated "latest
# decision" subqueries cost only their execution, a few index lookups per row.
_OWN_APPLICATIONS = PreparedQuery(
    lambda user_id: (
        Application.objects.filter(candidate__user_id=user_id, cancelled_at__isnull=True)
        .select_related("formation", "campaign")  # the campaign caps the date de confirmation (applications.dates)
        .with_current_decision()
        .order_by("-created_at", "-id")
    )
)
_OWN_APPLICATION = PreparedQuery(
    lambda user_id, public_id: (
        Application.objects.filter(candidate__user_id=user_id, public_id=public_id)
        .select_related("formation__commission", "candidate", "campaign")
        .with_current_decision()
        .with_validated_details()[:1]
    )
)


def _own_applications(request) -> list[Application]:
    """The candidate's applications not cancelled, with their formation and current decision (one query)."""
    return _OWN_APPLICATIONS.all(user_id=request.user.pk)


def _own_application(request, public_id) -> Application:
    """One application with its formation, commission, candidate and current decision (one query)."""
    application = _OWN_APPLICATION.first(user_id=request.user.pk, public_id=public_id)
    if application is None:
        raise Http404
    application.candidate.user = request.user  # the filter above: the candidate is this account (one join less)
    return application


def _decision_label(application) -> StaffText | str:
    """The candidate sees a decision only once it is validated; "En attente" until then."""
    labels = application.validated_decision_labels
    if not labels:
        return _("Waiting")
    return shown(labels["fr"] or labels["staff"], labels["en"])


def _answer_state(application) -> str:
    """What the list says after a favourable decision's label: the candidate's answer (« Confirmée », « Désistée »:
    ``ANSWER_LABELS``, as staff read it), or, while they can still answer, until when, as the recap's answer block
    says it (``can_answer``'s rule and ``confirmation_date``); "" otherwise. Several « Avis favorable » in the list
    looked alike: the one still waiting for an answer, withdrawn automatically after its date, did not stand out.
    No query: the list reads each application with its formation, campaign and current decision, scoped to the
    account (``can_answer``'s ownership half holds by the query)."""
    if application.accepted is not None:
        return str(ANSWER_LABELS[application.accepted])
    if not application.has_validated_favourable_decision or _answer_refusal(application):
        return ""
    answer_by = confirmation_date(application)
    if answer_by is None:
        return _("Answer expected")
    return _("Answer expected by %(date)s at the latest") % {"date": date_format(answer_by, "SHORT_DATE_FORMAT")}


def _waiting_list_rank(application) -> dict:
    """The rank shown while the latest validated decision puts the candidate on the complementary list, as
    ``WAITING_LIST_RANK_DISPLAY`` says (eCandidat LC_MODE_AFFICHAGE_RANG): the rang réel, kept up to date by every
    validation and promotion (and the nightly batch), with the date it last changed; the rang saisi with the date of
    the decision's validation; or none."""
    mode = parameters.get("WAITING_LIST_RANK_DISPLAY")
    if application.validated_decision_avis != Avis.COMPLEMENTARY_LIST or application.accepted is not None:
        return {"waiting_list_rank": None}
    if mode == "R":
        return {"waiting_list_rank": application.waiting_list_rank, "rank_date": application.waiting_list_rank_at}
    if mode == "S":
        rank = (application.validated_decision_details or {}).get("rank")
        return {"waiting_list_rank": rank, "rank_date": application.validated_decision_at}
    return {"waiting_list_rank": None}


def _decision_details(application) -> dict:
    """The validated decision's reason (in the page's language), comment and preselection, as the recap shows them
    (read with the application: ``with_validated_details``); the preselection's moment back from its JSON text."""
    details = dict(application.validated_decision_details or {})
    if reason := details.get("reason"):
        details["reason"] = shown(reason, details.get("reason_en") or "")
    if moment := details.get("preselection_at"):
        parsed = datetime.datetime.fromisoformat(moment)
        details["preselection_at"] = parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=datetime.UTC)
    return details


def _detail(application):
    return redirect("applications:detail", application.public_id)


# --- List and applying ------------------------------------------------------------------------------------------


@transaction.non_atomic_requests  # read-only page: no transaction to open and commit (issue 14)
@candidate_required
@require_GET
def application_list(request):
    """The "Candidatures" tab: Formation, Date limite de retour, Statut du dossier, Décision."""
    rows = [
        {
            "application": application,
            "return_deadline": effective_return_deadline(application),
            "decision_label": _decision_label(application),
            "answer_state": _answer_state(application),
        }
        for application in _own_applications(request)
    ]
    return render(request, "applications/candidature/list.html", {"rows": rows})


def _load_candidate(request) -> Candidate | None:
    return Candidate.objects.for_user(request.user).select_related("user", "address", "baccalaureate").first()


@candidate_required
@require_http_methods(["GET", "POST"])
def apply(request, formation_id):
    """ "Voulez-vous candidater à la formation '…' ?": the question (GET), then the application (POST).

    The rules are checked before asking, so the candidate reads why they cannot apply right away; they are checked
    again by the service (double submits, stale pages). A formation out of service (or of a centre out of service)
    is not found, as in the catalogue: its page would show a title the catalogue hides."""
    formation = get_object_or_404(
        Formation.objects.in_service().select_related("centre", "commission"), pk=formation_id
    )
    candidate = _load_candidate(request)
    if request.method == "POST":
        if candidate is None:
            messages.error(request, _("Fill in your personal details before applying."))
            return redirect("applications:apply", formation.pk)
        try:
            application = services.create_application(candidate=candidate, formation=formation, actor=request.user)
        except BusinessRuleError as error:
            just_made = _just_applied(request, candidate, formation) if isinstance(error, AlreadyDone) else None
            if just_made is None:
                messages.error(request, str(error))
                return redirect("applications:apply", formation.pk)
            application = just_made
        messages.success(
            request,
            _("Your application to the formation %(title)s has been registered.") % {"title": formation.shown_title},
        )
        return _detail(application)
    refusal = services.application_refusal(user=request.user, candidate=candidate, formation=formation)
    existing = None
    if candidate is not None:
        existing = Application.objects.active().filter(candidate=candidate, formation=formation).first()
    return render(
        request,
        "applications/candidature/apply.html",
        {"formation": formation, "refusal": refusal, "existing": existing, "missing_step": _missing_step(candidate)},
    )


def _just_applied(request, candidate: Candidate, formation: Formation) -> Application | None:
    """The application to ``formation`` that this account created within ``DOUBLE_SUBMIT_WINDOW`` (one query),
    asked once the service refused "already applied" (``AlreadyDone``): the second tap of a double tap."""
    return (
        Application.objects.active()
        .filter(
            candidate=candidate,
            formation=formation,
            created_by=request.user,
            created_at__gte=timezone.now() - DOUBLE_SUBMIT_WINDOW,
        )
        .only("public_id")
        .first()
    )


def _missing_step(candidate: Candidate | None) -> str:
    """The dossier page a refusal "Renseignez votre adresse…" points to ("" when the dossier is complete)."""
    if candidate is None:
        return "applications:personal_details"
    if not hasattr(candidate, "address"):
        return "applications:address"
    if not hasattr(candidate, "baccalaureate"):
        return "applications:baccalaureate"
    return ""


# --- Recap ------------------------------------------------------------------------------------------------------


def _forms_tab(application) -> dict:
    """The "Formulaires complémentaires" tab: its include and rows (two queries)."""
    rows = form_rows(application)
    return {"has_forms": bool(rows), "forms_tab_template": FORMS_TAB_TEMPLATE if rows else "", "form_rows": rows}


def _dossier_pdf_url(application) -> str:
    """ "Télécharger mon dossier" (the documents app's view), once it is mounted."""
    try:
        return reverse("pieces:dossier_pdf", args=[application.public_id])
    except NoReverseMatch:
        return ""


def _answer_deadline_reason(application, *, may_answer: bool) -> str:
    """Why a favourable decision not answered yet can no longer be answered (its date de confirmation has passed),
    said in the answer block's place; "" otherwise. Read as ``can_answer`` reads it (``with_current_decision()``),
    no query. The nightly batch withdraws such an application the day after, or never (a decision given too late,
    a campaign closed): without the sentence the recap shows a favourable decision and nothing to do."""
    if may_answer or not application.has_validated_favourable_decision:
        return ""
    if application.accepted is not None or application.is_cancelled:
        return ""
    return _answer_refusal(application)


def _answer_refusal(application) -> str:
    """``services.answer_refusal`` for the candidate, from the application read with ``with_current_decision()``."""
    return services.answer_refusal(application, favourable_validated_at=application.favourable_validated_at)


def _withdraw_refusal(application) -> str:
    """``services.withdraw_refusal`` for the candidate, from the application read with ``with_current_decision()``."""
    return services.withdraw_refusal(application, favourable_validated_at=application.favourable_validated_at)


@transaction.non_atomic_requests  # read-only page: no transaction to open and commit (issue 14)
@candidate_required
@require_GET
def detail(request, public_id):
    """ "Récapitulatif de votre candidature": details, useful dates, contact address, pieces, forms, buttons."""
    application = _own_application(request, public_id)
    pieces = pieces_table_context(application)
    pieces["can_change_pieces"] = pieces["can_change_pieces"] and can_change_pieces(request.user, application)
    blocking = [row for row in pieces["piece_rows"] if row.is_blocking]
    forms = _forms_tab(application)
    blocking_forms = missing_forms(application, rows=forms["form_rows"])
    questions = question_rows(application, cached=True, unlisted=False)  # none asked: no query once cached
    unanswered = missing_questions(questions)
    is_online = application.formation.mode == ApplicationMode.ONLINE
    if (
        is_online
        and application.transmitted_at
        and not application.is_cancelled
        and not pieces["can_change_pieces"]
        and not pieces["replaceable_pieces"]
    ):
        # The recap's sentence above the table ("transmitted on …, can no longer be changed") says it already.
        pieces["pieces_locked_reason"] = ""
    return_deadline = effective_return_deadline(application)
    may_transmit = can_transmit(
        request.user,
        application,
        blocking_rows=blocking,
        missing_form_rows=blocking_forms,
        missing_question_rows=unanswered,
    )
    may_list_missing = is_online and not may_transmit and pieces["can_change_pieces"]
    may_answer = can_answer(request.user, application)
    context = {
        "application": application,
        "formation": application.formation,
        "commission": application.formation.commission,
        "decision_label": _decision_label(application),
        "return_deadline": return_deadline,
        "confirmation_date": confirmation_date(application),
        "is_online": is_online,
        "can_transmit": may_transmit,
        # What is missing, listed under the inactive button while the candidate may still transmit.
        "missing_pieces": blocking if may_list_missing else [],
        "missing_forms": blocking_forms if may_list_missing else [],
        "missing_questions": unanswered if may_list_missing else [],
        "question_rows": questions,
        # "Non concerné" / "Concerné" on conditional forms: the pieces' rule (applications.pieces).
        "can_change_forms": pieces["can_change_pieces"],
        "show_transmit": is_online and not application.is_cancelled,
        # Said here rather than after each upload (which would compute the pieces again only for this, issue 14).
        "pieces_complete_reminder": (
            _("All the supporting documents are there: remember to transmit your application by %(date)s.")
            % {"date": date_format(return_deadline, "SHORT_DATE_FORMAT")}
            if is_online and pieces["can_change_pieces"] and pieces["piece_rows"] and not blocking
            else ""
        ),
        "can_cancel": can_cancel(request.user, application),
        "can_answer": may_answer,
        "answer_refusal_reason": _answer_deadline_reason(application, may_answer=may_answer),
        "can_withdraw": can_withdraw(request.user, application),
        "dossier_pdf_url": _dossier_pdf_url(application),
        **_letter(application),
        **_waiting_list_rank(application),
        "decision_details": _decision_details(application),
        **pieces,
        **forms,
    }
    return render(request, "applications/candidature/detail.html", context)


# --- Writes -----------------------------------------------------------------------------------------------------


@candidate_required
@require_http_methods(["GET", "POST"])
def transmit(request, public_id):
    """ "Transmettre ma candidature": what will be sent and that the pieces will then be locked (GET), then the
    transmission (POST) and a result that says what happened. The action cannot be undone by the candidate."""
    application = _own_application(request, public_id)
    if request.method == "GET":
        rows = piece_rows(application)
        blocking = [row for row in rows if row.is_blocking]
        forms = form_rows(application)
        questions = question_rows(application, unlisted=False)
        return render(
            request,
            "applications/candidature/transmit.html",
            {
                "application": application,
                "formation": application.formation,
                "piece_rows": rows,
                "form_rows": forms,
                "question_rows": questions,
                "refusal": services.transmit_refusal(
                    application,
                    blocking_rows=blocking,
                    missing_form_rows=missing_forms(application, rows=forms),
                    missing_question_rows=missing_questions(questions),
                ),
                "return_deadline": effective_return_deadline(application),
            },
        )
    try:
        services.transmit_application(application=application, actor=request.user)
    except BusinessRuleError as error:
        if not (isinstance(error, AlreadyDone) and _just_transmitted(request, application)):
            messages.error(request, str(error))
            return _detail(application)
    messages.success(
        request,
        _(
            "Your application to %(title)s has been transmitted: the commission will examine it. Your "
            "supporting documents can no longer be changed, unless the commission asks you to."
        )
        % {"title": application.formation.shown_title},
    )
    messages.success(
        request,
        _(
            "Check your e-mails: if your dossier has been transmitted correctly, you have received a message "
            "confirming it."
        ),
    )
    return _detail(application)


def _just_transmitted(request, application: Application) -> bool:
    """Whether this account transmitted ``application`` within ``DOUBLE_SUBMIT_WINDOW`` (its history row « Dossier
    transmis »; one query), asked once the service refused "already transmitted" (``AlreadyDone``): the second tap
    of a double tap."""
    return ApplicationEvent.objects.filter(
        application=application,
        kind=EventKind.TRANSMITTED,
        actor=request.user,
        created_at__gte=timezone.now() - DOUBLE_SUBMIT_WINDOW,
    ).exists()


@candidate_required
@require_http_methods(["GET", "POST"])
def questions(request, public_id):
    """ "Questions complémentaires": the application's questions in one form (GET), saved together (POST) while
    the candidate may change the dossier's pieces; afterwards the answers are shown read-only with the reason. An
    application that asks no question is a 404, as another candidate's. An answer changed on the page that was
    changed meanwhile (staff in the candidate's place, another tab) saves nothing: the page comes back with the
    answers typed and those stored now (``EditConflict``)."""
    application = _own_application(request, public_id)
    rows = question_rows(application, unlisted=False)
    if not rows:
        raise Http404
    locked = questions_locked_reason(application) or (
        "" if can_change_pieces(request.user, application) else _("The answers can no longer be changed.")
    )
    form = QuestionsForm(request.POST if request.method == "POST" and not locked else None, rows=rows)
    back = reverse("applications:detail", args=[application.public_id]) + "#questions"
    if request.method == "POST":
        if locked:
            messages.error(request, locked)
            return redirect(back)
        if form.is_valid():
            try:
                changed = answer_questions(
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
                form.show_conflict(conflict.message_for(request.user, owner=request.user), rows)
            except BusinessRuleError as error:
                messages.error(request, str(error))
                return redirect(back)
            else:
                messages.success(
                    request, _("Your answers have been saved.") if changed else _("Your answers have not changed.")
                )
                return redirect(back)
    context = {
        "application": application,
        "formation": application.formation,
        "form": form,
        "fields": [(row, *form.fields_of(row)) for row in rows],
        "locked": locked,
    }
    return render(request, "applications/candidature/questions.html", context)


def _form_declaration(request, public_id, form_id, *, not_concerned: bool):
    """A conditional form of the candidate's own application, declared "Non concerné" or "Concerné" again. Another
    candidate's application, or a form that is not a conditional form of this application, is a 404."""
    application = _own_application(request, public_id)
    form = get_object_or_404(forms_for(application).filter(is_conditional=True), pk=form_id)
    label = form.shown_label
    try:
        declare_form_not_concerned(application=application, form=form, not_concerned=not_concerned, actor=request.user)
    except BusinessRuleError as error:
        messages.error(request, _("%(form)s: %(message)s") % {"form": label, "message": error})
    else:
        success = _("%(form)s: not concerned.") if not_concerned else _("%(form)s: expected again.")
        messages.success(request, success % {"form": label})
    return redirect(reverse("applications:detail", args=[application.public_id]) + "#forms")


@candidate_required
@require_POST
def form_not_concerned(request, public_id, form_id):
    """ "Non concerné par ce formulaire" on a conditional complementary form."""
    return _form_declaration(request, public_id, form_id, not_concerned=True)


@candidate_required
@require_POST
def form_concerned(request, public_id, form_id):
    """ "Concerné par ce formulaire": undo "Non concerné"."""
    return _form_declaration(request, public_id, form_id, not_concerned=False)


def _two_step(request, public_id, *, service, allowed, template: str, success: str, after_success, refusal=None):
    """Irreversible actions are asked twice: the button on the recap opens this page (GET), whose button does it
    (POST). A refused action (already done, too late) comes back to the recap with the reason: on GET (a mail's
    link followed too late) the one ``refusal(application)`` gives, as the POST would say it; the generic sentence
    only when there is none."""
    application = _own_application(request, public_id)
    if request.method == "POST":
        try:
            service(application=application, actor=request.user)
        except BusinessRuleError as error:
            messages.error(request, str(error))
            return _detail(application)
        messages.success(request, success)
        return after_success(application)
    if not allowed(request.user, application):
        _refused(request, refusal(application) if refusal else "")
        return _detail(application)
    return render(request, template, {"application": application, "formation": application.formation})


def _refused(request, reason: str) -> None:
    """The message of an action refused on its GET page: the precise reason, else the generic sentence."""
    messages.error(request, reason or _("This action is not available for this application."))


@candidate_required
@require_http_methods(["GET", "POST"])
def cancel(request, public_id):
    """ "Annuler la candidature", after a confirmation page."""
    return _two_step(
        request,
        public_id,
        service=services.cancel_application,
        allowed=can_cancel,
        template="applications/candidature/cancel.html",
        success=_("Your application has been cancelled."),
        after_success=lambda application: redirect("applications:application_list"),
    )


@candidate_required
@require_http_methods(["GET", "POST"])
def confirm(request, public_id):
    """ "Confirmer" after a favourable decision (irreversible, asked twice)."""
    return _two_step(
        request,
        public_id,
        service=services.confirm_application,
        allowed=can_answer,
        refusal=_answer_refusal,
        template="applications/candidature/confirm.html",
        success=_(
            "You have confirmed your application. You will receive the instructions for your administrative "
            "registration by e-mail."
        ),
        after_success=_detail,
    )


@candidate_required
@require_http_methods(["GET", "POST"])
def withdraw(request, public_id):
    """ "Désister" after a favourable decision, before or after confirming (irreversible, asked twice, with the
    reason chosen from a list). A missing reason shows the page again with the message next to the field."""
    application = _own_application(request, public_id)
    form = WithdrawalForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.withdraw_application(
                application=application, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except BusinessRuleError as error:
            messages.error(request, str(error))
            return _detail(application)
        messages.success(request, _("You have withdrawn from this formation."))
        return _detail(application)
    if not can_withdraw(request.user, application):
        _refused(request, _withdraw_refusal(application))
        return _detail(application)
    return render(
        request,
        "applications/candidature/withdraw.html",
        {"application": application, "formation": application.formation, "form": form},
        status=200,
    )


# --- Decision letter --------------------------------------------------------------------------------------------


def _validated_letter(application) -> DecisionLetter | None:
    """The letter of the latest validated decision (``with_current_decision()``), if one was made. No query before
    a decision is validated: letters are built only for validated decisions."""
    if application.validated_decision_at is None:
        return None
    letter = (
        DecisionLetter.objects.filter(application=application)
        .select_related("decision")
        .order_by("-decision__created_at", "-decision_id")
        .first()
    )
    if letter is None or letter.decision.validated_at != application.validated_decision_at:
        return None
    return letter


def _letter(application) -> dict[str, object]:
    """The recap's letter, whether an admission letter waits for the confirmation, and whether the letter can never
    be had (its text deleted before it was built: one query then; the recap says so, as the letter's link does)."""
    letter = _validated_letter(application)
    withheld = letter is not None and admission_letter_withheld(application, letter)
    unavailable = letter is not None and not withheld and not letter_obtainable(letter, application)
    return {
        "letter": None if withheld or unavailable else letter,
        "letter_after_confirmation": withheld and application.accepted is None,
        "letter_unavailable": unavailable,
        # Whom to ask, as the mail's notice names them (a query for the centre when the commission has no contact).
        "letter_contact": letter_contact(application.formation) if unavailable else "",
    }


@candidate_required
@require_GET
def letter(request, public_id):
    """ "Télécharger la lettre": the admission or refusal letter of the candidate's own application (404 for anyone
    else, and when there is no letter). Built now if the background build has not run yet, built again if its file
    is gone. When there is no letter to give, its owner (who may follow an old mail's link) gets a page that says
    why, still with a 404: a letter that can never be had (its text deleted before it was built: whom to contact,
    as the recap says), an admission letter withheld until the confirmation or after a désistement, no letter for
    the current decision. The decision itself is on the recap, which the page links."""
    application = _own_application(request, public_id)
    letter = _validated_letter(application)
    if letter is not None and not admission_letter_withheld(application, letter):
        opened = open_letter(letter, batch=CANDIDATE_DOWNLOAD)
        if opened is not None:
            return letter_response(*opened)
        reason = "deleted"
    elif letter is not None and application.accepted is False:
        reason = "withdrawn"
    elif letter is not None:
        reason = "after_confirmation"
    else:
        reason = "none"  # no decision validated yet, or a later decision without a letter (an old mail's link)
    context = {
        "application": application,
        "formation": application.formation,
        "reason": reason,
        "letter_contact": letter_contact(application.formation) if reason == "deleted" else "",
    }
    return render(request, "applications/candidature/letter_unavailable.html", context, status=404)
