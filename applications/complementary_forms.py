"""Complementary forms ("Formulaires complémentaires", ecandidat-features §1.9): LimeSurvey surveys attached to
formations, the rows of the candidate's tab, the staff reminder and the nightly synchronisation of the answers.
"""

import dataclasses
import datetime
import logging
import uuid
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from applications.enums import EventKind, PieceStatus
from applications.history import record_event
from applications.limesurvey import LimeSurveyClient, LimeSurveyError
from applications.models import Application, Candidate, FormAnswer
from applications.notifications import notify_candidate
from applications.pieces import pieces_locked_reason
from ecandidat.exceptions import BusinessRuleError, InvalidTransition
from offers.models import ComplementaryForm

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from offers.models import ComplementaryForm

logger = logging.getLogger(__name__)

SYNC_BATCH = "sync_complementary_forms"
# Columns of a LimeSurvey export that are not answers.
TECHNICAL_FIELDS = {
    "id",
    "token",
    "submitdate",
    "lastpage",
    "startlanguage",
    "seed",
    "startdate",
    "datestamp",
    "ipaddr",
    "refurl",
    "numDossier",
    "idCandidature",
}


@dataclasses.dataclass(frozen=True)
class FormRow:
    form: "ComplementaryForm"
    label: str
    url: str
    status: str  # PieceStatus AT / TR / NC
    answer: FormAnswer | None
    can_declare_not_concerned: bool  # conditional and still waiting: "Non concerné par ce formulaire"
    can_declare_concerned: bool = False  # conditional and declared "Non concerné": "Concerné par ce formulaire"

    @property
    def status_label(self) -> "StrOrPromise":
        return PieceStatus(self.status).label

    @property
    def answer_items(self) -> list[tuple[str, str]]:
        return sorted(self.answer.answers.items()) if self.answer and self.answer.answers else []


def forms_for(application):
    """The forms in service that apply to this application: attached to its formation, or common to the
    institution or to its centre."""
    formation = application.formation
    return (
        ComplementaryForm.objects.filter(in_service=True)
        .filter(
            Q(formations=formation)
            | Q(is_common=True, centre__isnull=True)
            | Q(is_common=True, centre_id=formation.centre_id)
        )
        .distinct()
        .order_by("label", "pk")
    )


def survey_url(template: str, application) -> str:
    """The form's URL with ${numDossier}, ${idCandidature}, ${nom} and ${prenom} replaced (URL-encoded).

    Only http(s) URLs are returned: a configured ``javascript:`` link is never shown."""
    candidate = application.candidate
    values = {
        "${numDossier}": candidate.user.username,
        "${idCandidature}": str(application.public_id),
        "${nom}": candidate.usual_name or candidate.birth_name,
        "${prenom}": candidate.first_name,
    }
    url = template
    for placeholder, value in values.items():
        url = url.replace(placeholder, quote(value, safe=""))
    return url if urlsplit(url).scheme in ("http", "https") else ""


def form_rows(application) -> list[FormRow]:
    """The rows of the "Formulaires complémentaires" tab (two queries).

    A form is "Transmise" once answered: the application's own answer wins over one given for the candidate
    (``numDossier`` only). Otherwise it is "Non concerné" when the candidate declared so for this application,
    else "En attente". An answer arriving after a "Non concerné" declaration makes the form "Transmise"."""
    forms = list(forms_for(application))
    answers = FormAnswer.objects.filter(form__in=[form.pk for form in forms], candidate_id=application.candidate_id)
    answers = answers.filter(Q(application__isnull=True) | Q(application_id=application.pk))
    own: dict[int, FormAnswer] = {}
    shared: dict[int, FormAnswer] = {}
    for answer in answers:
        (own if answer.application_id is not None else shared)[answer.form_id] = answer
    rows = []
    for form in forms:
        own_answer, shared_answer = own.get(form.pk), shared.get(form.pk)
        submitted = next((a for a in (own_answer, shared_answer) if a is not None and a.submitted_at), None)
        if submitted is not None:
            status = PieceStatus.SUBMITTED
        elif own_answer is not None and own_answer.not_concerned:
            status = PieceStatus.NOT_CONCERNED
        else:
            status = PieceStatus.WAITING
        rows.append(
            FormRow(
                form=form,
                label=form.candidate_label or form.label,
                url=survey_url(form.url, application),
                status=status,
                answer=submitted,
                can_declare_not_concerned=form.is_conditional and status == PieceStatus.WAITING,
                can_declare_concerned=form.is_conditional and status == PieceStatus.NOT_CONCERNED,
            )
        )
    return rows


def _waiting(rows: list[FormRow]) -> list[FormRow]:
    """Forms neither answered nor declared "Non concerné"."""
    return [row for row in rows if row.status == PieceStatus.WAITING]


def missing_forms(application, *, rows: list[FormRow] | None = None) -> list[FormRow]:
    """The forms that keep "Transmettre ma candidature" inactive: with ``FORMS_BLOCK_TRANSMISSION`` on (eCandidat
    CANDIDATURE_IS_BLOC_TRANS_FORM), those neither answered nor declared "Non concerné"; none when it is off (and
    then no query). ``rows``: the application's form rows when the caller already has them."""
    if not settings.FORMS_BLOCK_TRANSMISSION:
        return []
    return _waiting(form_rows(application) if rows is None else rows)


def forms_locked_reason(application) -> str:
    """Why the candidate cannot declare a form "Non concerné" or "Concerné" now ("" when they can).

    The rule is the pieces' one (``applications.pieces.pieces_locked_reason``: online dossier ``AT``/``IN``, not
    cancelled, before the effective date limite de retour); only the message names the forms."""
    reason = pieces_locked_reason(application)
    if not reason:
        return ""
    return _("The complementary forms of this application can no longer be changed. %(reason)s") % {"reason": reason}


def declare_form_not_concerned(*, application: Application, form, not_concerned: bool, actor) -> FormAnswer:
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
def remind_unanswered_forms(*, application: Application, actor) -> int:
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
    waiting = _waiting(rows)
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
        forms=[{"label": row.label, "url": row.url} for row in waiting],
    )
    if email is None:
        raise BusinessRuleError(_("The forms reminder mail is out of service: no reminder was sent."))
    record_event(
        application, actor=actor, kind=EventKind.FORMS_REMINDER, comment=", ".join(row.label for row in waiting)
    )
    return len(waiting)


# --- nightly synchronisation (BATCH_SYNCHRO_LIMESURVEY) -----------------------------------------------------------


def _submitted_at(row) -> datetime.datetime | None:
    value = parse_datetime(str(row.get("submitdate") or ""))
    if value is None:
        return None
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _latest_by(rows, key: str) -> dict[str, tuple[datetime.datetime, dict]]:
    """The most recent completed response per value of ``key`` (submit date, then response id)."""
    latest: dict[str, tuple[tuple, datetime.datetime, dict]] = {}
    for row in rows:
        value = str(row.get(key) or "").strip()
        submitted = _submitted_at(row)
        if not value or submitted is None:
            continue
        try:
            response_id = int(row.get("id") or 0)
        except (TypeError, ValueError):
            response_id = 0
        order = (submitted, response_id)
        if value not in latest or order >= latest[value][0]:
            latest[value] = (order, submitted, row)
    return {value: (submitted, row) for value, (_order, submitted, row) in latest.items()}


def _answers(row) -> dict:
    return {key: value for key, value in row.items() if key not in TECHNICAL_FIELDS and value not in (None, "")}


def store_responses(form, rows: list[dict], report) -> None:
    """Keep, per candidate (``numDossier`` without ``idCandidature``) and per application (``idCandidature``), the
    latest response of ``form``, in one transaction. Responses naming nobody we know are counted and ignored."""
    per_application = _latest_by(rows, "idCandidature")
    per_candidate = _latest_by([r for r in rows if not str(r.get("idCandidature") or "").strip()], "numDossier")
    public_ids = {}
    for value in per_application:
        try:
            public_ids[value] = uuid.UUID(value)
        except ValueError:
            report.add("responses naming an unknown application")
    applications = {
        str(public_id): (pk, candidate_id)
        for public_id, pk, candidate_id in Application.objects.filter(public_id__in=public_ids.values()).values_list(
            "public_id", "pk", "candidate_id"
        )
    }
    candidates = dict(
        Candidate.objects.filter(user__username__in=list(per_candidate)).values_list("user__username", "pk")
    )
    now = timezone.now()
    # (candidate_id, application_id or None) -> (submitted, answers)
    wanted: dict[tuple[int, int | None], tuple[datetime.datetime, dict]] = {}
    for value, (submitted, row) in per_application.items():
        if str(public_ids.get(value)) in applications:
            pk, candidate_id = applications[str(public_ids[value])]
            wanted[(candidate_id, pk)] = (submitted, _answers(row))
        elif value in public_ids:
            report.add("responses naming an unknown application")
    for value, (submitted, row) in per_candidate.items():
        if value in candidates:
            wanted[(candidates[value], None)] = (submitted, _answers(row))
        else:
            report.add("responses naming an unknown candidate")
    with transaction.atomic():
        existing = {
            (answer.candidate_id, answer.application_id): answer
            for answer in FormAnswer.objects.select_for_update(of=("self",)).filter(
                form=form, candidate_id__in={candidate_id for candidate_id, _app in wanted}
            )
        }
        to_create, to_update = [], []
        for (candidate_id, application_id), (submitted, answers) in wanted.items():
            answer = existing.get((candidate_id, application_id))
            if answer is None:
                to_create.append(
                    FormAnswer(
                        form=form,
                        candidate_id=candidate_id,
                        application_id=application_id,
                        answers=answers,
                        submitted_at=submitted,
                        synchronised_at=now,
                    )
                )
            elif (answer.submitted_at is None or submitted >= answer.submitted_at) and (
                answer.submitted_at != submitted or answer.answers != answers
            ):
                answer.answers, answer.submitted_at = answers, submitted
                answer.synchronised_at = now
                to_update.append(answer)
        FormAnswer.objects.bulk_create(to_create, batch_size=500)
        FormAnswer.objects.bulk_update(to_update, ["answers", "submitted_at", "synchronised_at"], batch_size=500)
    report.add("answers stored", len(to_create))
    report.add("answers updated", len(to_update))


def sync_complementary_forms(report, *, dry_run: bool, limit: int | None, client_factory=LimeSurveyClient) -> None:
    """Import the completed LimeSurvey responses of every survey in service (BATCH_SYNCHRO_LIMESURVEY).

    LimeSurvey down or answering garbage is logged in the batch history (status ERROR) and retried the next
    night; one survey failing does not stop the others, and the nightly chain goes on.
    """
    if not settings.LIMESURVEY_URL:
        report.add("LimeSurvey not configured (LIMESURVEY_URL): skipped")
        return
    forms = list(ComplementaryForm.objects.filter(in_service=True).order_by("survey_id"))
    if limit is not None:
        forms = forms[:limit]
    if not forms:
        return
    try:
        with client_factory(settings.LIMESURVEY_URL, settings.LIMESURVEY_USER, settings.LIMESURVEY_PASSWORD) as api:
            for form in forms:
                try:
                    rows = api.export_responses(form.survey_id)
                except LimeSurveyError as exc:
                    report.error(f"survey {form.survey_id} ({form.code}): {exc}")
                    continue
                report.add("surveys read")
                report.add("responses read", len(rows))
                if not dry_run:
                    store_responses(form, rows, report)
    except LimeSurveyError as exc:
        report.error(f"LimeSurvey unavailable, retried next night: {exc}")
