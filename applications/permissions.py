"""Who may do what with a candidate's dossier."""

from __future__ import annotations

from typing import TYPE_CHECKING

from applications.models import Candidate
from applications.pieces import can_change_pieces as pieces_may_change
from applications.services.candidature import answer_refusal, cancel_refusal, transmit_refusal, withdraw_refusal

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from accounts.models import User
    from applications.forms_tab import FormRow
    from applications.models import Application
    from applications.pieces import PieceRow
    from applications.questions import QuestionRow

# A candidate must stay reachable: phones and language remain editable after the lock.
ALWAYS_EDITABLE_PERSONAL_FIELDS = ("phone", "mobile", "preferred_language")


def candidate_has_applications(candidate: Candidate) -> bool:
    """Whether the candidate has at least one application that is not cancelled (the "Informations perso." lock)."""
    return candidate.applications.active().exists()


def can_edit_personal_details(user: User | AnonymousUser, candidate: Candidate) -> bool:
    """ "Informations perso." lock once the candidate has an application (staff still edit them in the admin)."""
    return candidate.user_id == user.pk and not candidate_has_applications(candidate)


def is_candidate(user: User | AnonymousUser) -> bool:
    return user.is_authenticated and user.campaign_id is not None


# --- Applications (candidate side). The views load the application through
# ``Application.objects.for_candidate_user(user)``; these predicates give the templates their booleans and say
# nothing about why (the services' ``*_refusal`` functions give the message).


def _owns(user: User | AnonymousUser, application: Application) -> bool:
    return user.is_authenticated and application.candidate.user_id == user.pk


def can_transmit(
    user: User | AnonymousUser,
    application: Application,
    *,
    blocking_rows: list[PieceRow] | None = None,
    missing_form_rows: list[FormRow] | None = None,
    missing_question_rows: list[QuestionRow] | None = None,
) -> bool:
    """ "Transmettre ma candidature" is active (green): online dossier, ``AT``/``IN``, before the date limite de
    retour, no piece waiting or refused (``blocking_rows``: the blocking pieces when the caller has them), no
    complementary form missing when they block (``missing_form_rows``, likewise), no question without an answer
    (``missing_question_rows``, likewise)."""
    return _owns(user, application) and not transmit_refusal(
        application,
        blocking_rows=blocking_rows,
        missing_form_rows=missing_form_rows,
        missing_question_rows=missing_question_rows,
    )


def can_cancel(user: User | AnonymousUser, application: Application) -> bool:
    """ "Annuler la candidature": only while ``AT`` and without any decision (needs ``with_current_decision()``)."""
    has_decision = application.current_decision_id is not None
    return _owns(user, application) and not cancel_refusal(application, has_decision=has_decision)


def can_answer(user: User | AnonymousUser, application: Application) -> bool:
    """ "Confirmer" / "Désister": the latest validated decision is favourable, no answer yet, date de confirmation
    not passed (needs ``with_current_decision()``)."""
    favourable_at = application.validated_decision_at if application.has_validated_favourable_decision else None
    return _owns(user, application) and not answer_refusal(application, favourable_validated_at=favourable_at)


def can_withdraw(user: User | AnonymousUser, application: Application) -> bool:
    """ "Désister": as ``can_answer`` before confirming; after confirming it remains available (§1.12, issue 12)
    (needs ``with_current_decision()``)."""
    favourable_at = application.validated_decision_at if application.has_validated_favourable_decision else None
    return _owns(user, application) and not withdraw_refusal(application, favourable_validated_at=favourable_at)


def can_change_pieces(user: User | AnonymousUser, application: Application) -> bool:
    """The candidate may add, remove or declare pieces: ``AT``/``IN``, online, before the date limite de retour."""
    return _owns(user, application) and pieces_may_change(application)
