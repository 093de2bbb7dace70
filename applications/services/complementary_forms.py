"""The candidate's and staff's writes on complementary forms (ecandidat-features §1.9): declaring a conditional
form "Non concerné" (or "Concerné" again), and the staff reminder "Relancer le candidat". The tab they act on is
read by ``applications.forms_tab``.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.enums import EventKind, PieceStatus
from applications.forms_tab import form_rows, forms_locked_reason, waiting_rows
from applications.history import record_event
from applications.models import Application, FormAnswer
from applications.notifications import notify_candidate
from ecandidat.exceptions import BusinessRuleError, InvalidTransition
from ecandidat.staff_text import shown_in_mail

if TYPE_CHECKING:
    from accounts.models import User
    from offers.models import ComplementaryForm


def declare_form_not_concerned(
    *, application: Application, form: ComplementaryForm, not_concerned: bool, actor: User
) -> FormAnswer:
    """The candidate declares a conditional form not applicable to them ("Non concerné", ``not_concerned=True``)
    or takes it back ("Concerné", ``not_concerned=False``), for this application (eCandidat ``formulaire_cand``).

    Allowed while the candidate may change the dossier's pieces (``forms_locked_reason``); the application row is
    locked first, so a double submit or a concurrent transmission is seen: the second declaration is refused.
    An answered form cannot be declared "Non concerné".
    Side effect: history row ``form_not_concerned`` / ``form_concerned`` with the actor. No mail.
    """
    if not form.is_conditional:
        raise BusinessRuleError(_("This form is not conditional."))
    with transaction.atomic():
        locked = (
            Application.objects.select_for_update(of=("self",))
            .select_related("formation", "candidate__user")
            .get(pk=application.pk)
        )
        reason = forms_locked_reason(locked)
        if reason:
            raise InvalidTransition(reason)
        row = next((row for row in form_rows(locked) if row.form.pk == form.pk), None)
        if row is None:
            raise BusinessRuleError(_("This form is not requested for this application."))
        if not_concerned and row.status == PieceStatus.SUBMITTED:
            raise InvalidTransition(_("This form has been answered: it cannot be declared not concerned."))
        if not_concerned and row.status == PieceStatus.NOT_CONCERNED:
            raise InvalidTransition(_("You have already declared that this form does not concern you."))
        if not not_concerned and row.status != PieceStatus.NOT_CONCERNED:
            raise InvalidTransition(_("This form is already expected."))
        answer, _created = FormAnswer.objects.select_for_update(of=("self",)).get_or_create(
            form=form, candidate_id=locked.candidate_id, application=locked
        )
        answer.not_concerned = not_concerned
        answer.save(update_fields=["not_concerned"])
        record_event(
            locked,
            actor=actor,
            kind=EventKind.FORM_NOT_CONCERNED if not_concerned else EventKind.FORM_CONCERNED,
            comment=form.code,
        )
    return answer


# A second reminder of the same application within this delay is taken for a double submit and refused.
REMINDER_REPEAT_DELAY = datetime.timedelta(minutes=10)


@transaction.atomic
def remind_unanswered_forms(*, application: Application, actor: User) -> int:
    """Staff "Relancer le candidat": mail CANDIDATURE_RELANCE_FORMULAIRE listing the forms still waiting, with
    their links. Returns the number of forms listed.

    Refused (``BusinessRuleError``, nothing written) when the application is cancelled, has no form, or every form
    is answered or declared "Non concerné", when this application was reminded less than ``REMINDER_REPEAT_DELAY``
    ago (a double submit), or when the central office has put the mail out of service.
    Side effects: one mail through the outbox (sent after the commit), history row ``forms_reminder`` with the
    actor and the forms listed.
    """
    application = (
        Application.objects.select_for_update(of=("self",))
        .select_related("candidate__user", "formation__centre")
        .get(pk=application.pk)
    )
    if application.cancelled_at is not None:
        raise InvalidTransition(_("This application has been cancelled."))
    rows = form_rows(application)
    if not rows:
        raise BusinessRuleError(_("This application has no complementary form; no reminder was sent."))
    waiting = waiting_rows(rows)
    if not waiting:
        raise BusinessRuleError(_("Every form has been answered; no reminder was sent."))
    recent = application.events.filter(
        kind=EventKind.FORMS_REMINDER, created_at__gte=timezone.now() - REMINDER_REPEAT_DELAY
    )
    if recent.exists():
        raise InvalidTransition(
            _("A reminder was sent to this candidate less than %(minutes)d minutes ago; no new reminder was sent.")
            % {"minutes": REMINDER_REPEAT_DELAY.seconds // 60}
        )
    email = notify_candidate(
        application=application,
        code="CANDIDATURE_RELANCE_FORMULAIRE",
        forms=[
            {
                "label": shown_in_mail(row.form.candidate_label or row.form.label, row.form.candidate_label_en),
                "url": row.url,
            }
            for row in waiting
        ],
    )
    if email is None:
        raise BusinessRuleError(_("The forms reminder mail is out of service: no reminder was sent."))
    record_event(
        application,
        actor=actor,
        kind=EventKind.FORMS_REMINDER,
        comment=", ".join(row.form.candidate_label or row.form.label for row in waiting),
    )
    return len(waiting)
