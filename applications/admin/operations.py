"""Staff operations on applications (ecandidat-features §2.4–2.6): dossier status, decisions, their validation,
deadlines, form reminders, and one piece's check from the change page.

Each operation is a form and a call to ``applications.services``; it runs from a bulk action's confirmation page
or from the same page for one application (``operation_view``), capped at ``BULK_LIMIT``, each application in its
own savepoint, logged, and written to the history by the service. « Saisir un avis » is also a section of the
dossier's own page (``review._decision_entry``), posted here: refused, it goes back there. The views take their
application through ``review_actions.application_for`` (``ecandidat.staff.object_in_scope_or_404``: outsiders get a
404, staff who may not do this a 403).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, ngettext_lazy, pgettext

from applications.admin import on_behalf, release
from applications.admin.forms import (
    ConfirmForm,
    DeadlinesForm,
    DecisionForm,
    DeleteDecisionForm,
    RegimeFeesForm,
    ReleaseForm,
    ShownDecisionsForm,
    StatusForm,
    TagsForm,
)
from applications.admin.review import (
    DECISION_ERRORS_ANCHOR,
    DECISION_FROM_REVIEW,
    DECISION_OPERATION,
    DECISION_RETRY,
    DECISIONS_ANCHOR,
    NEXT,
    list_url,
    neighbours,
)
from applications.admin.review import change_url as review_change_url
from applications.admin.review_actions import application_for
from applications.enums import DecisionAction, DossierStatus
from applications.models import Application
from applications.models.candidature import latest_decision
from applications.notifications import format_date
from applications.services import review as review_services
from applications.services import staff
from applications.services.complementary_forms import remind_unanswered_forms
from applications.services.registration import set_regime_and_fees
from applications.services.release import (
    current_decision_ids,
    release_order,
    validate_current_decision,
    with_release_keys,
)
from ecandidat import parameters
from ecandidat.admin_base import bound_view
from ecandidat.exceptions import BusinessRuleError, FieldRuleError

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

logger = logging.getLogger(__name__)

# eCandidat's mass actions take at most 200 candidatures at once (ecandidat-features §2.3, "Mass actions"). The
# commission's packs of dossiers are downloads, with a cap of their own (applications.services.packs.PACK_LIMIT).
BULK_LIMIT = 200


def _validate_current(application, form, actor):
    validate_current_decision(application, actor=actor, expected=form.cleaned_data["decisions"])


def _release_initial(request, applications: list[Application]) -> dict:
    """The decisions the release page shows (one query): only they are validated on "Confirm"."""
    return ReleaseForm.initial_for(current_decision_ids(applications))


@dataclass(frozen=True)
class Operation:
    name: str
    label: "StrOrPromise"
    form_class: type
    scope: str  # an ApplicationQuerySet scope: "editable_by", "decidable_by" or "validatable_by"
    run: Callable  # (application, form, actor) -> None
    bulk: bool = True
    done_message: object = None  # a lazy ngettext on "count", instead of "%(label)s: N applications done."
    preview: Callable | None = None  # (request, applications) -> extra context of the operation page
    preview_template: str = "admin/applications/application/release_preview.html"  # shows the preview's context
    bulk_run: Callable | None = None  # (model_admin, request, applications) -> a response, or None to run it here
    bulk_refusal: Callable | None = None  # (applications) -> why the whole selection is refused, or ""
    single: bool = True  # offered on one application's page too
    form_kwargs: Callable | None = None  # (request, *, bulk) -> extra keyword arguments of the form
    enabled: Callable[[], bool] | None = None  # () -> whether the operation is in use (a setting); off: nowhere
    prefill: bool = False  # the form takes the application (its current values) on one application's page
    initial: Callable | None = None  # (request, applications) -> the form's first values, before anything is posted
    # (applications) -> None: the rows the runs of a selection will lock across applications (a formation), locked
    # first and in one order, so that two selections run at once wait for each other rather than deadlock
    lock_first: Callable | None = None

    @property
    def in_use(self) -> bool:
        return self.enabled is None or self.enabled()

    def form(self, request, data, application: Application, *, newest: list | None = None, auto_id: str = "id_%s"):
        """The operation's form for one application on a page other than its own (the review page's « Saisir un
        avis »), as its page builds it (``_form``). ``newest``: the application's decisions as that page shows them,
        newest first, which the form holds (``_newest_decisions``: no query, and the very decision the page shows);
        ``auto_id``: its fields' ids, unique on that page."""
        if newest is not None:
            setattr(application, NEWEST, list(newest[:2]))
        return _form(self, request, data, application, auto_id=auto_id)


# The two latest decisions of the one application of a page, kept on its instance for the page's request.
NEWEST = "_operation_newest_decisions"


def _newest_decisions(application: Application) -> list:
    """The application's two latest decisions, newest first (one query), read once per page: the preview names the
    very decision the form holds (``ShownDecisionsForm``); two reads could name one and hold another entered
    between them."""
    newest = getattr(application, NEWEST, None)
    if newest is None:
        newest = list(
            application.decisions.newest_first().select_related(
                "decision_type", "refusal_reason", "created_by", "validated_by"
            )[:2]
        )
        setattr(application, NEWEST, newest)
    return newest


def _latest_decisions(applications: list[Application]) -> dict[int, int | None]:
    """The latest decision of each application (None: it has none), as the services read it: one query (none more
    for one application, whose preview reads them: ``_newest_decisions``)."""
    if len(applications) == 1:
        newest = _newest_decisions(applications[0])
        return {applications[0].pk: newest[0].pk if newest else None}
    pks = [application.pk for application in applications]
    return dict(
        Application.objects.filter(pk__in=pks).annotate(latest=latest_decision("pk")).values_list("pk", "latest")
    )


def _shown_decisions_initial(request, applications: list[Application]) -> dict:
    """The decisions the page shows, carried by its form (``ShownDecisionsForm``): only they are acted on."""
    return ShownDecisionsForm.initial_for(_latest_decisions(applications))


def _shown_statuses_initial(request, applications: list[Application]) -> dict:
    """The dossier statuses the page shows, carried by its form (``StatusForm.shown_statuses``): no query, the
    applications are read with them."""
    return StatusForm.initial_for({application.pk: application.dossier_status for application in applications})


def _set_status(application: Application, form: StatusForm, actor) -> Application:
    """The status, after the date limite de retour given with it (``staff.give_return_deadline``), in the run's one
    savepoint (``_run_one``): a status refused leaves no date behind. Without a date, « Incomplet » or « En attente »
    is refused next to the field once the candidate could no longer transmit by the application's
    (``staff.set_dossier_status``); on a selection, that application only, named."""
    if (day := form.cleaned_data.get("return_deadline")) is not None:
        staff.give_return_deadline(application, day=day, actor=actor)
    return review_services.set_dossier_status_checked(
        application,
        target=form.cleaned_data["target"],
        actor=actor,
        comment=form.cleaned_data["comment"],
        force_reason=form.cleaned_data["force_reason"] if form.cleaned_data["force_complete"] else "",
        on=form.cleaned_data["on"],
        expected_status=form.expected_status(application),
    )


def _change_treatment_type(application: Application, form: on_behalf.TreatmentTypeForm, actor) -> Application:
    return staff.set_treatment_type(
        application,
        treatment_type=form.cleaned_data["treatment_type"],
        reason=form.cleaned_data["reason"],
        actor=actor,
    )


def _named(application: Application) -> str:
    """An application as the operations' messages name it: its candidate, numéro de dossier and formation."""
    return f"{application.candidate.staff_name} ({application.candidate.user.username}) – {application.formation.code}"


def _held_back_warning(application: Application, result) -> str:
    """What staff must be told after a run on ``application`` whose service (``result``: the application it
    returned) gave the accès direct's favourable decision but only entered it, its candidate could no longer confirm
    by the date de confirmation (``staff.held_back_decision``): neither validated nor mailed, whereas the status or
    the type de traitement set is done as usual; or whose withdrawal freed a place that nobody was promoted to, the
    campaign closed to candidates (``staff.promotion_left_to_staff``). "" otherwise. No query: read from what the
    service returned."""
    # Only a formation the service came back with (a withdrawal's, locked with it): the others' are not read.
    returned = isinstance(result, Application) and Application.formation.is_cached(result)
    left = staff.promotion_left_to_staff(result.formation) if returned else None
    if left is not None:
        return staff.promotion_left_to_staff_message(left)
    held = staff.held_back_decision(result) if isinstance(result, Application) else None
    if held is None:
        return ""
    return _(
        "The favourable decision of the direct access was neither validated nor sent for %(application)s: the "
        "candidate could no longer answer it by their confirmation date (%(date)s). Extend the dates "
        "(“%(operation)s”), then validate the decision."
    ) % {
        "application": _named(application),
        "date": format_date(held.confirmation_date),
        "operation": OPERATIONS["extend_deadlines"].label,
    }


def _enter_decision(application: Application, form: DecisionForm, actor) -> None:
    staff.record_decision(
        application, actor=actor, expected_latest=form.expected_latest(application), **form.service_kwargs()
    )


def _delete_last_decision(application: Application, form: DeleteDecisionForm, actor) -> None:
    staff.delete_last_decision(application, actor=actor, expected=form.expected_latest(application))


def _decision_to_delete(request, applications: list[Application]) -> dict:
    """What "Delete the last decision" deletes, and which decision is then in force: the page asked to confirm
    without naming either. One query: the two latest decisions (the form holds the first)."""
    latest = _newest_decisions(applications[0])
    return {
        "decision_to_delete": latest[0] if latest else None,
        "decision_after_delete": latest[1] if len(latest) > 1 else None,
        "proposal_action": DecisionAction.PROPOSAL,  # its deletion withdraws the proposal (staff.delete_last_decision)
    }


# "Dupliquer la dernière décision" (eCandidat §2.3): on one application's "Enter a decision" page, a link that opens
# the form again filled with the latest decision's values, to correct a rank, a comment or a preselection's place
# without typing the rest again. A GET parameter: no script, nothing written until "Confirm".
DUPLICATE = "dupliquer"


def _latest_decision(application: Application):
    newest = _newest_decisions(application)
    return newest[0] if newest else None


def _page_notes(applications: list[Application], notes: list[tuple[Application, str]]) -> list[str]:
    """``notes`` (an application, what is said of it) as the page says them: alone on one application's page,
    after the application's name on a selection's."""
    if len(applications) == 1:
        return [note for _application, note in notes]
    between = pgettext("between a name and what is said of it", ": ")
    return [f"{_named(application)}{between}{note}" for application, note in notes]


def _incomplete_dossiers(applications: list[Application]) -> list[str]:
    """The warning of "Enter a decision" and of the release's preview for each application whose dossier is not
    « Complet »: a decision may be entered and validated at any dossier status, as in eCandidat, but whoever does it
    is told to check the pieces first. No query: the status is on the row (the applications come with their
    candidate and formation, which name them on a selection)."""
    return _page_notes(
        applications,
        [
            (
                application,
                _("Dossier not complete (%(status)s): check its pieces before validating.")
                % {"status": DossierStatus(application.dossier_status).label},
            )
            for application in applications
            if application.dossier_status != DossierStatus.COMPLETE
        ],
    )


def _confirmed_answers(applications: list[Application]) -> list[str]:
    """What "Enter a decision" says of each application whose candidate has confirmed: the new decision cancels the
    confirmation, and the OPI it created, once it is validated (``staff.validate_decision``), not when it is entered
    (``staff.record_decision``). No query: the answer is on the row."""
    note = _(
        "The candidate has confirmed: their confirmation (and their OPI) will be cancelled when this decision is "
        "validated."
    )
    return _page_notes(applications, [(application, note) for application in applications if application.accepted])


def _last_decision(request, applications: list[Application]) -> dict:
    """What "Enter a decision" shows about the decision in force on one application, with the link that duplicates
    it (one query, the form's own); nothing of it on a selection. On both, the dossiers not « Complet » and the
    candidates who have confirmed (no query)."""
    notes = {
        "incomplete_dossiers": _incomplete_dossiers(applications),
        "confirmed_answers": _confirmed_answers(applications),
    }
    if len(applications) != 1:
        return {"last_decision": None, "duplicate_url": "", "duplicated": False, **notes}
    query = request.GET.copy()
    query[DUPLICATE] = "1"
    return {
        "last_decision": _latest_decision(applications[0]),
        "duplicate_url": f"{request.path}?{query.urlencode()}",
        "duplicated": DUPLICATE in request.GET,
        **notes,
    }


def _release_preview(request, applications: list[Application]) -> dict:
    """The release's preview (``release.preview_context``: each mail as it will be sent) and the dossiers of the
    selection not « Complet », each named, the ones past the preview's limit too (``_incomplete_dossiers``, no
    query)."""
    return {
        **release.preview_context(request, applications),
        "incomplete_dossiers": _incomplete_dossiers(applications),
    }


def _formation_preselection(applications: list[Application]) -> dict:
    """The formation's preselection date, time and place (eCandidat §2.8), proposed for a preselection decision when
    every application of the page is of that formation (no query: the applications come with their formation)."""
    formations = {application.formation_id: application.formation for application in applications}
    if len(formations) != 1:
        return {}
    formation = next(iter(formations.values()))
    values = {
        "preselection_date": formation.preselection_on,
        "preselection_time": formation.preselection_time,
        "preselection_place": formation.preselection_place,
    }
    return {name: value for name, value in values.items() if value not in (None, "")}


def _decision_initial(request, applications: list[Application]) -> dict:
    """The form's first values: the decisions the page shows (one query), the formation's preselection
    convocation, and on one application, when the link asked for it, the latest decision's values over them (the
    same query)."""
    initial = _shown_decisions_initial(request, applications) | _formation_preselection(applications)
    if len(applications) != 1 or request.method != "GET" or DUPLICATE not in request.GET:
        return initial
    decision = _latest_decision(applications[0])
    if decision is None:
        return initial
    preselection = timezone.localtime(decision.preselection_at) if decision.preselection_at else None
    repeated = {
        "decision_type": decision.decision_type_id,
        "refusal_reason": decision.refusal_reason_id,
        "rank": decision.rank,
        "preselection_date": preselection.date() if preselection else None,
        "preselection_time": preselection.time().replace(second=0, microsecond=0) if preselection else None,
        "preselection_place": decision.preselection_place,
        "comment": decision.comment,
        "after_appeal": decision.after_appeal,
    }
    return initial | {name: value for name, value in repeated.items() if value not in (None, "", False)}


def _validated_in_selection(applications: list[Application]) -> str:
    """eCandidat GEST_IS_UTILISE_BLOCAGE_MASSE (on by default): no decision is entered in bulk on a selection where
    one application already has a validated decision. A new decision, once validated, resets the candidate's
    confirmation and withdraws their OPI (``staff.validate_decision``); entered by a careless selection it would
    undo confirmations at its release. One application at a time, from its dossier, stays possible."""
    if not parameters.get("BULK_DECISION_LOCK"):
        return ""
    decided = list(
        Application.objects.filter(pk__in=[application.pk for application in applications])
        .filter(decisions__validated_at__isnull=False)
        .distinct()
        .order_by("pk")
        .values_list("candidate__user__username", flat=True)[:6]
    )
    if not decided:
        return ""
    shown = ", ".join(decided[:5]) + (", …" if len(decided) > 5 else "")
    return _(
        "No decision was entered: applications of this selection already have a validated decision (%(numbers)s). "
        "Remove them from the selection, or enter their new decision one at a time from their dossier."
    ) % {"numbers": shown}


OPERATIONS = {
    operation.name: operation
    for operation in (
        Operation(
            "set_status",
            gettext_lazy("Set the dossier status"),
            StatusForm,
            "editable_by",
            # Refused where the status changed since the page was shown (a colleague's change); « Complet » whose
            # accès direct is only entered says so (``_held_back_warning``).
            _set_status,
            prefill=True,  # one application's form refuses a date before its creation beside the date
            initial=_shown_statuses_initial,
        ),
        Operation(
            "enter_decision",
            gettext_lazy("Enter a decision"),
            DecisionForm,
            "decidable_by",
            _enter_decision,  # refused where the decisions changed since the page was shown (a double submit)
            bulk_refusal=_validated_in_selection,
            preview=_last_decision,
            preview_template="admin/applications/application/last_decision.html",
            initial=_decision_initial,
            form_kwargs=lambda request, bulk: {"bulk": bulk},  # in bulk, « Décision après appel » may be left out
        ),
        Operation(
            "validate_decisions",
            gettext_lazy("Validate the decisions"),
            ReleaseForm,
            "validatable_by",
            _validate_current,
            preview=_release_preview,  # issue 12: each mail as it will be sent; the dossiers not « Complet »
            bulk_run=release.bulk_release,  # issue 12: a big release runs in Celery, with its progress
            initial=_release_initial,  # the decisions previewed: one entered since is not validated unread
            # The formations of ranked validations, before any application: the request holds them to its end.
            lock_first=staff.lock_waiting_lists_to_validate,
        ),
        Operation(
            "extend_deadlines",
            gettext_lazy("Extend deadlines"),
            DeadlinesForm,
            "editable_by",
            # Refused where a date is earlier than the application's own (``extend_deadlines``): beside the field on
            # one application's page, by name in a selection (the others extended).
            lambda application, form, actor: staff.extend_deadlines(application, actor=actor, **form.cleaned_data),
            prefill=True,  # one application's page shows its current dates (``DeadlinesForm``)
        ),
        Operation(
            "delete_last_decision",
            gettext_lazy("Delete the last decision (not validated)"),
            DeleteDecisionForm,
            "decidable_by",
            _delete_last_decision,  # only the decision the page named
            bulk=False,
            preview=_decision_to_delete,
            preview_template="admin/applications/application/decision_to_delete.html",
            initial=_shown_decisions_initial,
        ),
        # eCandidat's mass "Tags" (GEST_TAG); one application's tags are set from its page (review_actions.tags_view).
        Operation(
            "change_tags",
            gettext_lazy("Tags"),
            TagsForm,
            "editable_by",
            lambda application, form, actor: review_services.change_tags(
                application=application,
                actor=actor,
                add=form.cleaned_data["add"],
                remove=form.cleaned_data["remove"],
            ),
            single=False,
            form_kwargs=lambda request, bulk: {"user": request.user},
        ),
        # "Relancer le candidat" (mail CANDIDATURE_RELANCE_FORMULAIRE), one application or a selection.
        Operation(
            "remind_forms",
            gettext_lazy("Remind the unanswered forms"),
            ConfirmForm,
            "editable_by",
            lambda application, form, actor: remind_unanswered_forms(application=application, actor=actor),
            done_message=ngettext_lazy(
                "Remind the unanswered forms: %(count)d mail enqueued.",
                "Remind the unanswered forms: %(count)d mails enqueued.",
                "count",
            ),
        ),
        # Issue 12 (applications/admin/on_behalf.py, release.py): one application at a time, from its page.
        Operation(
            "confirm_on_behalf",
            gettext_lazy("Record a confirmation on the candidate's behalf"),
            on_behalf.StaffConfirmationForm,
            "editable_by",
            on_behalf.confirm_on_behalf,
            bulk=False,
        ),
        Operation(
            "withdraw_on_behalf",
            gettext_lazy("Record a withdrawal on the candidate's behalf"),
            on_behalf.StaffWithdrawalForm,
            "editable_by",
            on_behalf.withdraw_on_behalf,
            bulk=False,
        ),
        Operation(
            "regenerate_letter",
            gettext_lazy("Regenerate the decision letter"),
            ConfirmForm,
            "editable_by",
            release.regenerate,
            bulk=False,
        ),
        # eCandidat's mass "Type de traitement": each application in its own savepoint, one validated decision
        # refuses that application only. An accès direct then only entered is said (``_held_back_warning``).
        Operation(
            "treatment_type",
            gettext_lazy("Change the processing type"),
            on_behalf.TreatmentTypeForm,
            "editable_by",
            _change_treatment_type,
            prefill=True,
        ),
        # eCandidat's "Régime" (GEST_REGIME) and "Montant / situation droits" (GEST_MONTANT), in use with
        # SIS_REGIME_ENTRY (GEST_IS_UTILISE_REG_STU); managers and the central office, as the type de traitement.
        Operation(
            "regime_fees",
            gettext_lazy("Registration regime and fees"),
            RegimeFeesForm,
            "editable_by",
            lambda application, form, actor: set_regime_and_fees(application, actor=actor, **form.service_kwargs()),
            enabled=lambda: parameters.get("SIS_REGIME_ENTRY"),
            prefill=True,
        ),
    )
}


def _run_one(operation: Operation, application: Application, form, actor) -> str:
    """``operation.run`` on one application in its own savepoint; a lock conflict is a refusal of this application,
    the savepoint rolled back, not a 500 that undoes the whole request (``staff.lock_conflict_refused``). Returns
    the warning that the run, done, leaves for staff (``_held_back_warning``), or ""."""
    with staff.lock_conflict_refused(), transaction.atomic():
        result = operation.run(application, form, actor)
    return _held_back_warning(application, result)


class Refusal(str):
    """A refusal's sentence for the page, knowing the dossier number it is about (``numero``; "" when it is the
    whole selection's): past the twentieth, only the numbers are shown (``report``)."""

    numero: str

    def __new__(cls, sentence: str, numero: str = "") -> "Refusal":
        refusal = super().__new__(cls, sentence)
        refusal.numero = numero
        return refusal


def run_operation(
    request, operation: Operation, applications, form, warnings: list[str] | None = None
) -> tuple[int, list[str]]:
    """Run one operation on each application, each in its own savepoint: one refusal does not undo the others.

    The request is one transaction (``ATOMIC_REQUESTS``): every row a run locks stays locked until it ends. The rows
    that the runs lock across applications (``Operation.lock_first``: the formations of a validation's
    complementary list) are locked first, in one order, in one query; taken in the selection's order, two selections
    covering two formations the other way round deadlocked. A lock conflict still met (with work of another kind) is
    a refusal: of the one application (``_run_one``), or of the whole selection when it is the first locks'.

    ``warnings``: given, the warnings of the runs done are added to it (``_held_back_warning``)."""
    applications = list(applications)
    done = 0
    failures: list[str] = []
    if operation.lock_first is not None and len(applications) > 1:
        try:
            with staff.lock_conflict_refused(), transaction.atomic():
                operation.lock_first(applications)
        except BusinessRuleError:
            logger.info("back office %s by %s: lock conflict, nothing done", operation.name, request.user.username)
            return 0, [
                _(
                    "Colleagues were working on the complementary lists of these applications' formations at the "
                    "same moment: nothing was done. Run the operation again."
                )
            ]
    for application in applications:
        try:
            warning = _run_one(operation, application, form, request.user)
        except BusinessRuleError as error:
            numero = application.candidate.user.username
            sentence = _("%(candidate)s (%(numero)s) – %(formation)s: %(refusal)s") % {
                "candidate": application.candidate.staff_name,
                "numero": numero,
                "formation": application.formation.code,
                "refusal": error,
            }
            failures.append(Refusal(sentence, numero))
        else:
            done += 1
            if warning and warnings is not None:
                warnings.append(warning)
    logger.info(
        "back office %s by %s: %s done, %s refused", operation.name, request.user.username, done, len(failures)
    )
    return done, failures


def report(request, operation, done, failures, warnings=()):
    if done and operation.done_message is not None:
        messages.success(request, operation.done_message % {"count": done})
    elif done:
        messages.success(
            request,
            ngettext("%(label)s: %(count)d application done.", "%(label)s: %(count)d applications done.", done)
            % {"label": operation.label, "count": done},
        )
    for failure in failures[:20]:
        messages.error(request, failure)
    if rest := failures[20:]:
        # Every refused application named: past twenty, by its dossier number (up to 200 in a selection).
        numbers = ", ".join(failure.numero for failure in rest if getattr(failure, "numero", ""))
        messages.error(
            request,
            ngettext(
                "… and %(count)d more refusal, dossier: %(numbers)s.",
                "… and %(count)d more refusals, dossiers: %(numbers)s.",
                len(rest),
            )
            % {"count": len(rest), "numbers": numbers},
        )
    for warning in warnings[:20]:
        messages.warning(request, warning)
    if len(warnings) > 20:
        messages.warning(request, _("… and %(count)d more warnings.") % {"count": len(warnings) - 20})


def operations_for(application, user) -> tuple[list[tuple[Operation, str]], bool, bool]:
    """The operations the user may run on one application, with their page's URL (the change page's buttons), and
    whether the user manages the application (``editable_by``) and may decide on it (``decidable_by``)."""
    single = Application.objects.filter(pk=application.pk)
    can_manage = single.editable_by(user).exists()
    can_decide = single.decidable_by(user).exists()
    operations = [
        (operation, reverse("admin:applications_application_operation", args=[application.pk, operation.name]))
        for operation in OPERATIONS.values()
        if operation.single and operation.in_use and (can_manage or (can_decide and operation.scope == "decidable_by"))
    ]
    return operations, can_manage, can_decide


def operation_page(model_admin, request, operation, form, applications, *, bulk, back_url: str = ""):
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": operation.label,
        "operation": operation,
        "form": form,
        "applications": applications,
        "bulk": bulk,
        "action_name": f"action_{operation.name}",
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "select_across": request.POST.get("select_across", "0"),
        "limit": BULK_LIMIT,
        "next_name": NEXT,
        "back_url": back_url,  # one application: its dossier, inside the list it was opened from
        # The breadcrumb's list as it was filtered and sorted: the one the action was posted from (a selection), or
        # the one the dossier was opened from (``_changelist_filters``, as the dossier's own breadcrumb).
        "list_url": back_url if bulk else list_url(request),
        # A flag, not ``operation.preview`` in the template: Django calls a callable there, without its arguments,
        # which fails into the engine's ``string_if_invalid`` ("" in production: the preview was never shown).
        "shows_preview": operation.preview is not None,
        "preview_template": operation.preview_template,
        **(operation.preview(request, applications) if operation.preview else {}),
    }
    return TemplateResponse(request, "admin/applications/application/operation.html", context)


def _form(
    operation: Operation, request, data, application: Application | None = None, applications=(), auto_id="id_%s"
):
    kwargs = operation.form_kwargs(request, bulk=application is None) if operation.form_kwargs else {}
    if operation.prefill and application is not None:
        kwargs["application"] = application
    if operation.initial and data is None:
        kwargs["initial"] = operation.initial(
            request, [application] if application is not None else list(applications)
        )
    return operation.form_class(data, auto_id=auto_id, **kwargs)


def _out_of_scope_message(numbers: list[str]) -> str:
    """The selection's rows the user reads but may not run the operation on, by their dossier numbers: the first
    twenty named, the others counted."""
    named = ", ".join(numbers[:20])
    rest = len(numbers) - 20
    if rest > 0:
        named = ngettext("%(numbers)s and %(count)d other", "%(numbers)s and %(count)d others", rest) % {
            "numbers": named,
            "count": rest,
        }
    return ngettext(
        "%(count)d application selected is outside what you may change with this action: %(numbers)s. Nothing was "
        "changed; untick it, or filter the list on your commission, and run it again.",
        "%(count)d applications selected are outside what you may change with this action: %(numbers)s. Nothing "
        "was changed; untick them, or filter the list on your commission, and run it again.",
        len(numbers),
    ) % {"count": len(numbers), "numbers": named}


def bulk_operation(model_admin, request, queryset, operation):
    """A bulk action: the confirmation page with the operation's form, then the run on the selection."""
    if not operation.in_use:
        raise PermissionDenied
    selected = list(queryset.values_list("pk", flat=True)[: BULK_LIMIT + 1])
    if len(selected) > BULK_LIMIT:
        model_admin.message_user(
            request,
            _(
                "A mass action handles at most %(limit)d applications at once and more are selected: narrow the "
                "selection (filters, or the rows ticked) and run it again. Nothing was changed."
            )
            % {"limit": BULK_LIMIT},
            messages.ERROR,
        )
        return None
    allowed = getattr(Application.objects.filter(pk__in=selected), operation.scope)(request.user)
    chosen = allowed.select_related("candidate__user", "formation__centre").order_by("pk")
    # A release is previewed and validated in the complementary lists' own order, each mail giving the rang réel its
    # candidate keeps (``release_order``; the formations still locked first, ``lock_first``): its keys in this query.
    releasing = operation.run is _validate_current
    applications = release_order(with_release_keys(chosen)) if releasing else list(chosen)
    if len(applications) != len(selected):
        # The rows the user reads but may not run this operation on (one query): said, not a 403 page.
        left_out = list(
            Application.objects.filter(pk__in=selected)
            .visible_to(request.user)
            .exclude(pk__in=[application.pk for application in applications])
            .order_by("pk")
            .values_list("campaign__is_active", "candidate__user__username")
        )
        # The list shows every campaign: rows of a past one ticked with this year's.
        if past_count := sum(not active for active, _numero in left_out):
            model_admin.message_user(
                request,
                ngettext(
                    "%(count)d application selected belongs to a past campaign: it is read only. Nothing was "
                    "changed; filter the list on the active campaign and run it again.",
                    "%(count)d applications selected belong to a past campaign: they are read only. Nothing was "
                    "changed; filter the list on the active campaign and run it again.",
                    past_count,
                )
                % {"count": past_count},
                messages.ERROR,
            )
            return None
        if len(applications) + len(left_out) != len(selected):
            raise PermissionDenied  # rows the user does not even read: a forged selection
        # Rows of the user's reading scope outside this operation's (a commission member also read-only for
        # another centre who selected the whole list): each named, nothing done.
        model_admin.message_user(
            request, _out_of_scope_message([numero for _active, numero in left_out]), messages.ERROR
        )
        return None
    if operation.bulk_refusal and (refusal := operation.bulk_refusal(applications)):
        model_admin.message_user(request, refusal, messages.ERROR)
        return None
    form = _form(operation, request, request.POST if "apply" in request.POST else None, applications=applications)
    if form.is_bound and form.is_valid():
        response = operation.bulk_run(model_admin, request, applications, form) if operation.bulk_run else None
        if response is not None:
            return response
        warnings: list[str] = []
        done, failures = run_operation(request, operation, applications, form, warnings)
        report(request, operation, done, failures, warnings)
        return None
    # Cancel: back to the list as it was filtered (the action was posted to the list's own address).
    return operation_page(
        model_admin, request, operation, form, applications, bulk=True, back_url=request.get_full_path()
    )


def operation_view(request, object_id, name, *, model_admin):
    """One operation on one application: its form, then back to the dossier."""
    operation = OPERATIONS.get(name)
    if operation is None or not operation.single or not operation.in_use:
        raise Http404
    application = application_for(request, object_id, operation.scope)
    # Back to the dossier, still inside the list it was opened from ("Suivant" / "Précédent").
    change_url = review_change_url(application.pk, request.GET.get("_changelist_filters", ""))
    form = _form(operation, request, request.POST if request.method == "POST" else None, application)
    refusal = ""
    if request.method == "POST" and form.is_valid():
        # "Confirmer et passer à la suivante" opens the application that followed this one in the list as the member
        # read it, worked out before the action: a list sorted by what the action changes (the Décision column, the
        # pieces to check) places this one elsewhere afterwards, next to applications already dealt with.
        next_url = neighbours(model_admin, request, application)["next_url"] if NEXT in request.POST else ""
        try:
            warning = _run_one(operation, application, form, request.user)
        except BusinessRuleError as error:
            # One application: its refusal is said above the form, which keeps what was typed (a comment for the
            # candidate's mail, a reason), instead of a flash message on the dossier and an empty form to refill.
            logger.info("back office %s by %s refused: %s", operation.name, request.user.username, error)
            if isinstance(form, ShownDecisionsForm):
                # The page shows the decisions as they are now (its preview): its form holds them, so that a second
                # "Confirm", once they are read, acts on them.
                form = form.rebound(_latest_decisions([application]))
            elif isinstance(form, StatusForm) and form.cleaned_data.get("shown_statuses") is not None:
                # Likewise the status the dossier has now, which the refusal names (one query).
                status = Application.objects.filter(pk=application.pk).values_list("dossier_status", flat=True)
                form = form.rebound({application.pk: status.get()}, application)
            elif isinstance(form, RegimeFeesForm) and form.cleaned_data.get("expected") is not None:
                # Likewise the régime and fees it has now, shown in the fields left as the page showed them.
                application.refresh_from_db(fields=["regime", "fee_exemption", "fee_exemption_comment", "fee_amount"])
                form = form.rebound(application)
            if (
                isinstance(form, StatusForm | DeadlinesForm)
                and isinstance(error, FieldRuleError)
                and error.field in form.fields
            ):
                # The date limite de retour gone (``staff.set_dossier_status``), a new date earlier than the
                # candidate's (``staff.extend_deadlines``): said next to its field.
                form.add_error(error.field, str(error))
            else:
                refusal = str(error)
                form.add_error(None, refusal)
        else:
            logger.info("back office %s by %s: 1 done", operation.name, request.user.username)
            _report_one(request, operation, application)
            if warning:  # said with the dossier's page, or the next one's: it names the application
                messages.warning(request, warning)
            if NEXT in request.POST:
                # "Confirmer et passer à la suivante": a commission reading dossiers one after another enters
                # each avis and goes on, rather than confirm, land on this dossier, then click "Suivant".
                if next_url:
                    change_url = next_url
                else:
                    messages.info(request, _("That was the last application of the list."))
            elif operation.name == DECISION_OPERATION and DECISION_FROM_REVIEW in request.POST:
                # Entered in the dossier's own « Saisir un avis »: back to its Avis table, which shows it now (as the
                # other actions of the dossier's page return to their section), not to the top of the page.
                filters = request.GET.get("_changelist_filters", "")
                change_url = review_change_url(application.pk, filters, DECISIONS_ANCHOR)
            return HttpResponseRedirect(change_url)
    if request.method == "POST" and operation.name == DECISION_OPERATION and DECISION_FROM_REVIEW in request.POST:
        # Sent from the dossier's own « Saisir un avis » and refused (a field, or the services): back to the dossier's
        # section, which shows what was posted with each error next to its field (``review._decision_entry``), rather
        # than this page, which shows none of the dossier. The form's fields only (the hidden decisions as they are
        # now after the services' refusal: ``rebound`` above). Back to the section's error summary, not its heading:
        # without JavaScript too, the next Tab starts from it and its links to the fields in error.
        request.session[DECISION_RETRY] = {
            "application": application.pk,
            "data": {name: form.data.getlist(name) for name in map(form.add_prefix, form.fields) if name in form.data},
            "refusal": refusal,
        }
        filters = request.GET.get("_changelist_filters", "")
        return HttpResponseRedirect(review_change_url(application.pk, filters, DECISION_ERRORS_ANCHOR))
    return operation_page(model_admin, request, operation, form, [application], bulk=False, back_url=change_url)


def _report_one(request, operation, application: Application) -> None:
    """Done on one application: said with its candidate, since the page that shows it may be the next one's."""
    if operation.done_message is not None:
        messages.success(request, operation.done_message % {"count": 1})
        return
    messages.success(
        request,
        _("%(label)s: done for %(candidate)s (%(numero)s).")
        % {
            "label": operation.label,
            "candidate": application.candidate.staff_name,
            "numero": application.candidate.user.username,
        },
    )


def operation_urls(model_admin) -> list:
    return [
        path(
            "<int:object_id>/operation/<str:name>/",
            bound_view(model_admin, operation_view),
            name="applications_application_operation",
        ),
    ]
