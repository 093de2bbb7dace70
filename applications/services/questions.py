"""The answers to the complementary questions (ecandidat-features §1.8), given by the candidate or entered by staff
in the candidate's place (a paper or phone application, §2.2 "Candidat"); the questions and their state are read by
``applications.questions``."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from applications.concurrency import EditConflict
from applications.enums import EventKind
from applications.history import record_event, record_events
from applications.models import Application, QuestionAnswer
from applications.models.questions import ANSWER_MAX_LENGTH
from applications.pieces import transmitted_sharers
from applications.questions import (
    NO,
    YES,
    answer_fingerprint,
    answer_of,
    answers_to,
    asks_shared_question,
    field_name,
    is_shared_question,
    listed_questions,
    questions_locked_reason,
    read_answers_version,
    shared_question_holder,
    split_answers,
)
from ecandidat.exceptions import BusinessRuleError, FieldRuleError, InvalidTransition
from ecandidat.text import check_savable
from offers.models import Question

if TYPE_CHECKING:
    from accounts.models import User

# Why a shared answer cannot change from this application ("" when it can): given the question and the new answer.
SharedRefusal = Callable[[Question, str], str]


class SharedAnswerHeld(InvalidTransition, FieldRuleError):
    """A shared answer another application of the candidate holds cannot change from this one: refused beside the
    question's field (a ``FieldRuleError``), as a state of the dossier (an ``InvalidTransition``)."""


def _clean(question: Question, value: str) -> str:
    value = value.replace("\r\n", "\n").strip()
    check_savable(value, field=field_name(question))
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
    *,
    application: Application,
    answers: Mapping[int, str],
    not_concerned: Collection[int],
    actor: User,
    read_at: str | None = None,
) -> int:
    """Save the candidate's answers to the application's questions (keyed by question id), and which conditional
    questions they declare "Non concerné"; returns how many answers changed.

    The application row is locked first, then the rules are checked under the lock: the candidate may answer while
    they may change the dossier's pieces (``questions_locked_reason``); a question the application does not ask is
    refused; a Yes/No answer is ``O`` or ``N``; a text answer is at most 1000 characters; only a conditional
    question may be declared not concerned (its text is then dropped). An empty answer leaves the question waiting.
    All or nothing: the first refusal (a ``FieldRuleError`` naming the question's field) saves nothing.

    Shared questions (``applications.questions.is_shared_question``: common, not "unique") follow the shared
    pieces' rules (``applications.services.pieces``): the answer is the candidate's one row (no application),
    locked with the application's own answers, and every application asking the question reads it at once. The
    lock is the application's the candidate answers from: a shared answer stays editable from any application that
    is still editable, even once another application asking it has been transmitted (that application's staff then
    read the new answer, as they see a shared piece replaced); but it is not emptied nor declared not concerned
    while a transmitted application asks it (``SharedAnswerHeld``, beside the field, naming that application: as a
    shared piece's file, ``applications.services.pieces``). Two first answers to the same shared question from two
    applications at once: the second is refused (``BusinessRuleError``), as a shared piece's second file.

    ``read_at`` is the version of the answers the page showed (``applications.questions.answers_version``; None:
    no check, as before the field). Then only the answers changed on the page are written (one left as shown stays
    as stored, should someone have changed it meanwhile), and an answer changed on the page that someone else
    changed meanwhile (staff in the candidate's place, another tab) refuses the save (``EditConflict``, nothing
    written), as the dossier's sections (``applications.concurrency``).

    Side effects: one history row ``questions_answered`` on the application, with the actor and the number of
    answers changed; when shared answers changed, a row counting those on each of the candidate's other applications
    not cancelled that asks one of them (``_record_on_sharers``). No mail.
    """
    return _save_answers(
        application=application,
        answers=answers,
        not_concerned=not_concerned,
        actor=actor,
        read_at=read_at,
        locked_reason=questions_locked_reason,
        shared_refusal=_held_by_a_transmitted_application,
        kind=EventKind.QUESTIONS_ANSWERED,
    )


def staff_questions_locked_reason(application: Application) -> str:
    """Why staff cannot enter the answers in the candidate's place now ("" when they can): a cancelled application,
    or one with a validated decision (the answers are what the decision was taken on). Unlike the candidate, staff
    may enter them for a paper dossier, after the transmission and after the date limite de retour: the answers
    came on paper or by phone, and a transmitted dossier missing answers could never be complete otherwise."""
    if application.cancelled_at is not None:
        return _("This application has been cancelled.")
    if application.decisions.filter(validated_at__isnull=False).exists():
        return _("A decision on this application has been validated: its answers can no longer be changed.")
    return ""


def enter_answers_for_candidate(
    *,
    application: Application,
    answers: Mapping[int, str],
    not_concerned: Collection[int],
    actor: User,
    read_at: str | None = None,
) -> int:
    """Save the answers staff enter in the candidate's place (a paper or phone application), as
    ``answer_questions`` does for the candidate: the same checks, all or nothing, the same shared answers (a shared
    answer changes for every application of the candidate asking the question), the same ``read_at`` check,
    returns how many answers changed.

    Only the lock differs (``staff_questions_locked_reason``: not cancelled, no validated decision), and it holds for
    a shared answer on each of the candidate's other applications asking the question: one with a validated decision
    keeps the answer it was decided on (``SharedAnswerHeld``, beside the field, naming it), whichever centre it is
    in. The caller checks that ``actor`` manages the application (``Application.objects.editable_by``).

    Side effects: one history row ``questions_entered_by_staff`` on the application with the actor ("Réponses aux
    questions saisies par … pour le candidat") and the number of answers changed; when shared answers changed, the
    same kind of row on the candidate's other applications not cancelled. Nothing else changes (no dossier status,
    no mail).
    """
    return _save_answers(
        application=application,
        answers=answers,
        not_concerned=not_concerned,
        actor=actor,
        read_at=read_at,
        locked_reason=staff_questions_locked_reason,
        shared_refusal=lambda application: _decided_elsewhere(application, viewer=actor),
        kind=EventKind.QUESTIONS_ENTERED_BY_STAFF,
    )


def _held_by_a_transmitted_application(application: Application) -> SharedRefusal:
    """The candidate's rule for a shared answer: replaced, yes; emptied or declared not concerned, not while another
    application asking it is transmitted (its staff review it); not changed at all once another application asking
    it has a validated decision (staff's rule, ``_decided_elsewhere``: the answer it was decided on stays what the
    commission read). The transmitted applications are read once, at the first shared answer emptied; the decided
    ones once, at the first shared answer changed."""
    sharers: list[Application] | None = None
    decided = _decided_elsewhere(application, candidate=True)

    def refusal(question: Question, value: str) -> str:
        nonlocal sharers
        if reason := decided(question, value):
            return reason
        if value:
            return ""
        if sharers is None:
            sharers = transmitted_sharers(application)
        holder = shared_question_holder(question, sharers)
        if holder is None:
            return ""
        return _(
            "This answer is shared with your application to “%(formation)s”, already transmitted: it can no longer "
            "be emptied nor declared not concerned, only replaced."
        ) % {"formation": holder.formation.shown_title}

    return refusal


def _decided_elsewhere(
    application: Application, *, candidate: bool = False, viewer: User | None = None
) -> SharedRefusal:
    """Staff's rule for a shared answer: ``staff_questions_locked_reason`` on the candidate's other applications not
    cancelled that ask it (one with a validated decision keeps it). They are read once, at the first shared answer
    changed. ``candidate``: the message is the candidate's (the candidate's rule includes this one). ``viewer``: the
    member of staff the message is for; it names the other application's formation only when they may see that
    application (found by review: a centre's manager learnt of the candidate's application elsewhere and of its
    validated decision; one query more, at a refusal only)."""
    decided: list[Application] | None = None

    def refusal(question: Question, value: str) -> str:
        nonlocal decided
        if decided is None:
            decided = list(
                Application.objects.filter(
                    candidate_id=application.candidate_id,
                    cancelled_at__isnull=True,
                    decisions__validated_at__isnull=False,
                )
                .exclude(pk=application.pk)
                .select_related("formation")
                .distinct()
                .order_by("pk")
            )
        holder = shared_question_holder(question, decided)
        if holder is None:
            return ""
        if candidate:
            return _(
                "This answer is shared with your application to “%(formation)s”, on which a decision has been given: "
                "it can no longer be changed."
            ) % {"formation": holder.formation.shown_title}
        if viewer is not None and not Application.objects.visible_to(viewer).filter(pk=holder.pk).exists():
            return _(
                "This answer is shared with another application of the candidate, on which a decision has been "
                "validated: it can no longer be changed."
            )
        return _(
            "This answer is shared with the candidate's application to “%(formation)s”, on which a decision has "
            "been validated: it can no longer be changed."
        ) % {"formation": holder.formation.shown_title}

    return refusal


def _save_answers(
    *,
    application: Application,
    answers: Mapping[int, str],
    not_concerned: Collection[int],
    actor: User,
    read_at: str | None,
    locked_reason: Callable[[Application], str],
    shared_refusal: Callable[[Application], SharedRefusal],
    kind: EventKind,
) -> int:
    with _refusing_a_concurrent_first_answer():
        # Lock order (``transmit_application``): the application's row, then its answers, in id order. The row is
        # locked ``FOR NO KEY UPDATE``: a save of a shared answer through another application, which holds the answer
        # and then writes a history row on this one (its foreign key check takes ``KEY SHARE``), does not wait for
        # it, so it never waits for this save while this save waits for the answer (a deadlock, one of them aborted).
        locked = (
            Application.objects.select_for_update(of=("self",), no_key=True)
            .select_related("formation", "candidate__user")
            .get(pk=application.pk)
        )
        reason = locked_reason(locked)
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
        existing = answers_to(locked).select_for_update(of=("self",)).filter(question__in=questions).order_by("pk")
        own, shared = split_answers(existing)
        shown = None if read_at is None else read_answers_version(read_at)
        refusal = shared_refusal(locked)
        changed = 0
        changed_shared: list[Question] = []
        # Written together after the loop (two queries whatever the number of answers changed): every refusal above
        # is raised before anything is written.
        created: list[QuestionAnswer] = []
        updated: list[QuestionAnswer] = []
        now = timezone.now()
        for pk, (value, declared) in wanted.items():
            question = questions[pk]
            is_shared = is_shared_question(question)
            # What the candidate read: the other way's answer after a change of the question's flags.
            current = answer_of(question, own, shared)
            stored = (current.answer, current.not_concerned) if current else ("", False)
            if stored == (value, declared):
                continue
            if shown is not None:
                seen = shown.get(pk)
                if seen is None or seen == answer_fingerprint(value, declared):
                    continue  # not on the page read, or left as it showed it: someone else's change stays
                if seen != answer_fingerprint(*stored):
                    raise _conflict(current)
            if is_shared and (reason := refusal(question, value)):
                raise SharedAnswerHeld(reason, field=field_name(question))
            row = (shared if is_shared else own).get(pk)
            if row is None:
                created.append(
                    QuestionAnswer(
                        candidate_id=locked.candidate_id,
                        application=None if is_shared else locked,
                        question_id=pk,
                        answer=value,
                        not_concerned=declared,
                        answered_by=actor,
                        answered_at=now,
                    )
                )
            else:
                row.answer, row.not_concerned, row.answered_by, row.answered_at = value, declared, actor, now
                updated.append(row)
            changed += 1
            if is_shared:
                changed_shared.append(question)
        if created:
            QuestionAnswer.objects.bulk_create(created)
        if updated:  # ``answered_at`` is ``auto_now``: ``bulk_update`` does not stamp it, it is set above
            QuestionAnswer.objects.bulk_update(updated, ["answer", "not_concerned", "answered_by", "answered_at"])
        if changed:
            record_event(locked, kind=kind, actor=actor, comment=_changes(changed))
        if changed_shared:
            _record_on_sharers(locked, changed_shared, kind=kind, actor=actor)
        return changed


def _conflict(current: QuestionAnswer | None) -> EditConflict:
    """The dossier's ``EditConflict`` for an answer changed since the page was read: who answered it, and when."""
    conflict = EditConflict(current, changed_by=current.answered_by if current is not None else None)
    conflict.changed_at = current.answered_at if current is not None else None
    return conflict


@contextmanager
def _refusing_a_concurrent_first_answer() -> Iterator[None]:
    """One transaction; another request creating the same shared answer between our read and our write (two tabs,
    a double submit) is refused in French rather than raised as an integrity error."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as error:
        raise BusinessRuleError(
            _("Your answers were being saved from another page at the same time: check them and save again.")
        ) from error


def _record_on_sharers(application: Application, questions: list[Question], *, kind: EventKind, actor: User) -> None:
    """The history row of shared answers changed from ``application``, on each of the candidate's other applications
    not cancelled that asks one of ``questions``, counting those it asks: the application of another centre, which
    does not ask them, gets no row about answers its staff never see. Three queries whatever the number of
    applications (the row's text differs only by its count)."""
    others = list(
        Application.objects.filter(candidate_id=application.candidate_id, cancelled_at__isnull=True)
        .exclude(pk=application.pk)
        .select_related("formation")
    )
    if not others:
        return
    attached = set(
        Question.formations.through.objects.filter(
            question_id__in=[question.pk for question in questions],
            formation_id__in={other.formation_id for other in others},
        ).values_list("question_id", "formation_id")
    )
    by_count: dict[int, list[int]] = {}
    for other in others:
        count = sum(1 for question in questions if asks_shared_question(other, question, attached=attached))
        if count:
            by_count.setdefault(count, []).append(other.pk)
    for count, ids in by_count.items():
        record_events(ids, kind=kind, actor=actor, comment=_shared_changes(count))


def _changes(count: int) -> str:
    # The history is read in the institution's language, whoever answered (a candidate on the English site: found by
    # review, the reading page showed « 1 answer changed »).
    with translation.override(settings.LANGUAGE_CODE):
        return ngettext("%(count)d answer changed", "%(count)d answers changed", count) % {"count": count}


def _shared_changes(count: int) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return ngettext(
            "%(count)d answer shared by the candidate's applications changed",
            "%(count)d answers shared by the candidate's applications changed",
            count,
        ) % {"count": count}
