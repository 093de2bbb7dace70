"""The complementary questions of an application ("Questions complémentaires", ecandidat-features §1.8), read side.

The questions of an application are the institution's common questions, the common questions of the formation's
centre and the formation's own questions, in service, in their order. Each is answered per application: Yes/No or a
text of at most 1000 characters, or declared "Non concerné" when it is conditional; the statuses are the pieces'
(``AT`` waiting, ``TR`` answered, ``NC`` not concerned). Every question must be answered or declared not
concerned before the application is transmitted (``applications.services.candidature.transmit_refusal``).

The candidate's recap reads the formation's questions from the "pages" cache (``listed_questions(cached=True)``),
so a formation without questions costs its recap no query once cached (issue 14); a change to a question or to a
formation's questions removes the copies when it commits (receivers connected in ``ApplicationsConfig.ready``).
Writes and the transmission read the database. The writes are in ``applications.services.questions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications.enums import PieceStatus
from applications.formation_cache import PerFormation
from applications.models import QuestionAnswer
from applications.pieces import dossier_lock
from offers.models import Formation, Question

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from applications.models import Application

# The candidate pages' copies of each formation's questions (applications.formation_cache).
QUESTIONS = PerFormation[Question]("questions")
YES, NO = "O", "N"
BOOLEAN_LABELS = {YES: gettext_lazy("Yes"), NO: gettext_lazy("No")}


@dataclass(frozen=True)
class QuestionRow:
    question: Question
    answer: QuestionAnswer | None

    @property
    def label(self) -> str:
        return self.question.candidate_label or self.question.label

    @property
    def status(self) -> PieceStatus:
        return self.answer.status if self.answer is not None else PieceStatus.WAITING

    @property
    def status_label(self) -> StrOrPromise:
        return self.status.label

    @property
    def is_boolean(self) -> bool:
        return self.question.kind == Question.Kind.BOOLEAN

    @property
    def value(self) -> str:
        """The stored answer (``O``/``N`` for a Yes/No question), "" when none."""
        return self.answer.answer if self.answer is not None else ""

    @property
    def shown_answer(self) -> StrOrPromise:
        """The answer as people read it: "Oui"/"Non" for a Yes/No question, the text otherwise."""
        value = self.value
        return BOOLEAN_LABELS.get(value, value) if self.is_boolean else value


def field_name(question: Question) -> str:
    """The form field of a question's answer (its "Non concerné" box is ``<field>-nc``)."""
    return f"question-{question.pk}"


def questions_of_formation(formation: Formation) -> QuerySet[Question]:
    """The questions in service that apply to this formation, in their order."""
    return (
        Question.objects.filter(in_service=True)
        .filter(
            Q(formations__pk=formation.pk)
            | Q(is_common=True, centre__isnull=True)
            | Q(is_common=True, centre_id=formation.centre_id)
        )
        .distinct()
        .order_by("order", "id")
    )


def listed_questions(application: Application, *, cached: bool = False) -> list[Question]:
    """The questions ``application`` asks (those of its formation for its type de traitement); with ``cached``,
    the formation's from the "pages" cache (display only)."""

    def load() -> list[Question]:
        return list(questions_of_formation(application.formation))

    questions = QUESTIONS.get(application.formation_id, load) if cached else load()
    return [question for question in questions if question.requested_from(application.treatment_type)]


def question_rows(application: Application, *, cached: bool = False, unlisted: bool = True) -> list[QuestionRow]:
    """The rows of the application's questions: the questions asked (with ``cached``, from the cache: the
    recap), then, with ``unlisted`` (staff pages, the dossier), any other question this application answered
    (taken out of service or off the formation since). Without ``unlisted`` and with no question asked, no answer
    is read: one query at most (none once cached)."""
    questions = listed_questions(application, cached=cached)
    if not questions and not unlisted:
        return []
    answers = {
        answer.question_id: answer
        for answer in QuestionAnswer.objects.filter(application_id=application.pk).select_related("question")
    }
    rows = [QuestionRow(question, answers.pop(question.pk, None)) for question in questions]
    rows += [QuestionRow(answer.question, answer) for answer in answers.values() if answer.status != "AT"]
    return rows


def missing_questions(rows: list[QuestionRow]) -> list[QuestionRow]:
    """The questions that keep "Transmettre ma candidature" inactive: neither answered nor declared not concerned."""
    return [row for row in rows if row.status == PieceStatus.WAITING]


def questions_locked_reason(application: Application) -> str:
    """Why the candidate cannot answer now ("" when they can): the pieces' rule (``dossier_lock``: online dossier
    ``AT``/``IN``, not cancelled, before the effective date limite de retour), said of the answers."""
    lock = dossier_lock(application)
    if lock == "cancelled":
        return _("This application has been cancelled.")
    if lock == "paper":
        return _("Paper dossier: answer the questions on the paper dossier you send.")
    if lock == "transmitted":
        return _("Your application has been transmitted: your answers can no longer be changed.")
    if lock == "deadline":
        return _("The return deadline has passed: your answers can no longer be changed.")
    return ""
