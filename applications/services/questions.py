"""The candidate's answers to the complementary questions (ecandidat-features §1.8); the questions and their state
are read by ``applications.questions``."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from applications.enums import EventKind
from applications.history import record_event
from applications.models import Application, QuestionAnswer
from applications.models.questions import ANSWER_MAX_LENGTH
from applications.questions import NO, YES, field_name, listed_questions, questions_locked_reason
from ecandidat.exceptions import BusinessRuleError, FieldRuleError, InvalidTransition
from offers.models import Question

if TYPE_CHECKING:
    from accounts.models import User


def _clean(question: Question, value: str) -> str:
    value = value.replace("\r\n", "\n").strip()
    if "\x00" in value:
        raise FieldRuleError(_("This answer contains a character that cannot be saved."), field=field_name(question))
    if question.kind == Question.Kind.BOOLEAN:
        if value not in ("", YES, NO):
            raise FieldRuleError(_("Answer Yes or No."), field=field_name(question))
    elif len(value) > ANSWER_MAX_LENGTH:
        raise FieldRuleError(
            _("At most %(limit)d characters (this answer has %(count)d).")
            % {"limit": ANSWER_MAX_LENGTH, "count": len(value)},
            field=field_name(question),
        )
    return value


def answer_questions(
    *, application: Application, answers: Mapping[int, str], not_concerned: Collection[int], actor: User
) -> int:
    """Save the candidate's answers to the application's questions (keyed by question id), and which conditional
    questions they declare "Non concerné"; returns how many answers changed.

    The application row is locked first, then the rules are checked under the lock: the candidate may answer while
    they may change the dossier's pieces (``questions_locked_reason``); a question the application does not ask is
    refused; a Yes/No answer is ``O`` or ``N``; a text answer is at most 1000 characters; only a conditional
    question may be declared not concerned (its text is then dropped). An empty answer leaves the question waiting.
    All or nothing: the first refusal (a ``FieldRuleError`` naming the question's field) saves nothing.
    Side effect: one history row ``questions_answered`` with the actor and the number of answers changed. No mail.
    """
    with transaction.atomic():
        locked = (
            Application.objects.select_for_update(of=("self",))
            .select_related("formation", "candidate__user")
            .get(pk=application.pk)
        )
        reason = questions_locked_reason(locked)
        if reason:
            raise InvalidTransition(reason)
        questions = {question.pk: question for question in listed_questions(locked)}
        if unknown := (set(answers) | set(not_concerned)) - set(questions):
            raise BusinessRuleError(
                ngettext(
                    "This question is not asked for this application.",
                    "These questions are not asked for this application.",
                    len(unknown),
                )
            )
        wanted: dict[int, tuple[str, bool]] = {}
        for pk, question in questions.items():
            declared = pk in not_concerned
            if declared and not question.is_conditional:
                raise FieldRuleError(
                    _("This question is not conditional: answer it."), field=f"{field_name(question)}-nc"
                )
            wanted[pk] = ("", True) if declared else (_clean(question, answers.get(pk, "")), False)
        existing = {
            answer.question_id: answer
            for answer in QuestionAnswer.objects.select_for_update(of=("self",)).filter(
                application=locked, question__in=questions
            )
        }
        changed = 0
        for pk, (value, declared) in wanted.items():
            row = existing.get(pk)
            if row is None:
                if value or declared:
                    QuestionAnswer.objects.create(
                        application=locked, question_id=pk, answer=value, not_concerned=declared, answered_by=actor
                    )
                    changed += 1
            elif (row.answer, row.not_concerned) != (value, declared):
                row.answer, row.not_concerned, row.answered_by = value, declared, actor
                row.save(update_fields=["answer", "not_concerned", "answered_by", "answered_at"])
                changed += 1
        if changed:
            record_event(
                locked,
                kind=EventKind.QUESTIONS_ANSWERED,
                actor=actor,
                comment=ngettext("%(count)d answer changed", "%(count)d answers changed", changed)
                % {"count": changed},
            )
    return changed
