"""The complementary questions of an application ("Questions complémentaires", ecandidat-features §1.8), read side.

The questions of an application are the institution's common questions, the common questions of the formation's
centre and the formation's own questions, in service, in their order. Each is answered Yes/No or by a text of at
most 1000 characters, or declared "Non concerné" when it is conditional; the statuses are the pieces' (``AT``
waiting, ``TR`` answered, ``NC`` not concerned). Every question must be answered or declared not concerned before
the application is transmitted (``applications.services.candidature.transmit_refusal``).

As the pieces (``applications.pieces``): a question is answered per application, except a common question that is
not "unique" (``is_shared_question``), answered once by the candidate: that answer (``QuestionAnswer.application``
empty) is every application's that asks the question. Should a question's flags change once answered, the answer
of its current way is read, else the other one (an answer given before the change still counts; nothing is lost).

The candidate's recap reads the formation's questions from the "pages" cache (``listed_questions(cached=True)``),
so a formation without questions costs its recap no query once cached (issue 14); a change to a question or to a
formation's questions removes the copies when it commits (receivers connected in ``ApplicationsConfig.ready``).
Writes and the transmission read the database. The writes are in ``applications.services.questions``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications.enums import PieceStatus
from applications.formation_cache import PerFormation
from applications.models import QuestionAnswer
from applications.pieces import dossier_lock
from ecandidat.staff_text import StaffText
from ecandidat.text import is_number
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
    # False for an answer to a question the application no longer asks (out of service or off the formation since):
    # shown to staff and in the dossier, not answerable.
    asked: bool = True

    @property
    def label(self) -> StaffText:
        return self.question.shown_label

    @property
    def is_shared(self) -> bool:
        """Answered once for all of the candidate's applications."""
        return is_shared_question(self.question)

    @property
    def answer_is_shared(self) -> bool:
        """The answer shown is the candidate's one answer for all their applications (``application`` empty); for a
        question without an answer yet, whether its answer will be. Read from the row: flags changed since the
        answer was given do not make it say the other way."""
        return self.answer.application_id is None if self.answer is not None else self.is_shared

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

    @property
    def fingerprint(self) -> str:
        """The answer as the page shows it, in a few characters (``answers_version``)."""
        return answer_fingerprint(self.value, self.answer is not None and self.answer.not_concerned)


def is_shared_question(question: Question) -> bool:
    """A common question that is not unique is answered once per candidate and shared by their applications
    (``applications.pieces.is_shared_piece``)."""
    return question.is_common and not question.is_unique


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


def answers_to(application: Application) -> QuerySet[QuestionAnswer]:
    """The application's own answers and the candidate's shared ones (one query; ``_submissions`` for pieces)."""
    return QuestionAnswer.objects.filter(
        Q(application_id=application.pk) | Q(application__isnull=True, candidate_id=application.candidate_id)
    )


def split_answers(answers: Iterable[QuestionAnswer]) -> tuple[dict[int, QuestionAnswer], dict[int, QuestionAnswer]]:
    """The answers by question id: the application's own, and the shared ones."""
    own: dict[int, QuestionAnswer] = {}
    shared: dict[int, QuestionAnswer] = {}
    for answer in answers:
        (shared if answer.application_id is None else own)[answer.question_id] = answer
    return own, shared


def answer_of(
    question: Question, own: dict[int, QuestionAnswer], shared: dict[int, QuestionAnswer]
) -> QuestionAnswer | None:
    """The answer of the question's way (shared or per application), else the other way's (flags changed since)."""
    first, second = (shared, own) if is_shared_question(question) else (own, shared)
    return first.get(question.pk) or second.get(question.pk)


def _concerns(question: Question, application: Application) -> bool:
    """Whether a shared answer's question, not asked (any more), concerns ``application``: a common question of the
    institution or of its formation's centre, for its type de traitement (in service or not)."""
    return (
        question.is_common
        and question.centre_id in (None, application.formation.centre_id)
        and question.requested_from(application.treatment_type)
    )


def asks_shared_question(application: Application, question: Question, *, attached: set[tuple[int, int]]) -> bool:
    """Whether ``application`` asks the shared question ``question`` (``questions_of_formation`` without a query):
    a common question of the institution or of its formation's centre, or one attached to its formation (``attached``:
    the (question, formation) pairs of ``Question.formations`` read once for many applications), for its type de
    traitement. Reads ``application.formation``."""
    return (
        _concerns(question, application) or (question.pk, application.formation_id) in attached
    ) and question.requested_from(application.treatment_type)


def answers_of(application: Application, answers: Iterable[QuestionAnswer]) -> list[QuestionAnswer]:
    """Among ``answers`` (the candidate's, with their questions: the export prefetches them for many applications),
    those of ``application``, in the questions' order: its own, and the shared ones of the questions that concern
    it, one per question. Reads ``application.formation`` (select it with the application)."""
    own, shared = split_answers(
        answer
        for answer in answers
        if answer.application_id == application.pk
        or (answer.application_id is None and _concerns(answer.question, application))
    )
    questions = {answer.question_id: answer.question for answer in (*own.values(), *shared.values())}
    found = [answer_of(question, own, shared) for question in questions.values()]
    return sorted((answer for answer in found if answer is not None), key=lambda a: (a.question.order, a.question_id))


def question_rows(
    application: Application, *, cached: bool = False, unlisted: bool = True, lock: bool = False
) -> list[QuestionRow]:
    """The rows of the application's questions: the questions asked (with ``cached``, from the cache: the
    recap), each with its own answer or the candidate's shared one, then, with ``unlisted`` (staff pages, the
    dossier), any other answered question of this application (taken out of service or off the formation since).
    Without ``unlisted`` and with no question asked, no answer is read: one query at most (none once cached).

    ``lock`` (a service, in its transaction: ``transmit_application``): the answers are locked as they are read, in
    the same query (``select_for_update(of=("self",))``), in id order, the order the saves lock them in
    (``applications.services.questions``)."""
    questions = listed_questions(application, cached=cached)
    if not questions and not unlisted:
        return []
    read = answers_to(application).select_related("question")
    if lock:
        read = read.select_for_update(of=("self",)).order_by("pk")
    answers = list(read)
    own, shared = split_answers(answers)
    rows = [QuestionRow(question, answer_of(question, own, shared)) for question in questions]
    if unlisted:
        listed = {question.pk for question in questions}
        rows += [
            QuestionRow(answer.question, answer, asked=False)
            for answer in answers_of(application, (answer for answer in answers if answer.question_id not in listed))
            if answer.status != PieceStatus.WAITING
        ]
    return rows


def missing_questions(rows: list[QuestionRow]) -> list[QuestionRow]:
    """The questions that keep "Transmettre ma candidature" inactive: neither answered nor declared not concerned,
    or declared not concerned while conditional and made required since (the answers page asks for an answer)."""
    return [
        row
        for row in rows
        if row.status == PieceStatus.WAITING
        or (row.asked and row.status == PieceStatus.NOT_CONCERNED and not row.question.is_conditional)
    ]


def answer_fingerprint(answer: str, not_concerned: bool) -> str:
    """A short digest of an answer and its "Non concerné" flag: what a questions page read (``answers_version``)."""
    return hashlib.sha256(f"{int(not_concerned)}|{answer}".encode()).hexdigest()[:16]


def answers_version(rows: Iterable[QuestionRow]) -> str:
    """The version of the answers a questions page shows (its hidden ``read_at`` field): each question's id and the
    fingerprint of its answer as shown. The save writes only what the person changed on the page, and refuses
    (``EditConflict``) an answer that someone else changed meanwhile (``applications.services.questions``)."""
    return ",".join(f"{row.question.pk}={row.fingerprint}" for row in rows)


def read_answers_version(version: str) -> dict[int, str]:
    """The fingerprints by question id of an ``answers_version`` as posted; what is no such pair (a forged or
    garbled field) is left out: those questions are taken as not shown, so the save leaves them alone."""
    shown: dict[int, str] = {}
    for part in version.split(","):
        pk, _sep, fingerprint = part.partition("=")
        if is_number(pk.strip()) and fingerprint:  # not isdigit: "²" is a digit int() refuses
            shown[int(pk)] = fingerprint.strip()
    return shown


def changed_since(rows: Iterable[QuestionRow], version: str) -> list[QuestionRow]:
    """The rows whose answer is no longer the one shown at ``version`` (after a conflict: what to compare)."""
    shown = read_answers_version(version)
    return [row for row in rows if row.question.pk in shown and shown[row.question.pk] != row.fingerprint]


def shared_question_holder(question: Question, sharers: list[Application]) -> Application | None:
    """The first of ``sharers`` (``applications.pieces.transmitted_sharers``: the candidate's other applications,
    transmitted, whose dossier staff now hold) that asks this shared question, or None: its answer is then part
    of a dossier under review (``applications.pieces.shared_piece_holder`` for a shared piece). Reads the
    sharers' formations."""
    if not is_shared_question(question) or not question.in_service:
        return None
    return next((other for other in sharers if _concerns(question, other)), None)


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
