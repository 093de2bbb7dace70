"""The variables of the decision letters (issue 12): the same ``${name}`` syntax and checks as the mail texts
(``ecandidat.mail_templates``), on the letters' own variables. Not registered as notifications: letters are not
mails (``LetterType``: a problem in a text is told as a letter's); ``offers.DecisionLetterTemplate`` checks its texts
against these, ``applications.letters`` renders them."""

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from ecandidat.mail_templates import LetterType
from ecandidat.notifications import INSTITUTION_NAME, Variable

if TYPE_CHECKING:
    from offers.models import DecisionLetterTemplate

_COMMON = (
    INSTITUTION_NAME,
    Variable("site_url", _("address of eCandidat"), "https://ecandidat.univ.example"),
    Variable("first_name", _("first name of the candidate"), "Estelle"),
    Variable("last_name", _("last name of the candidate"), "Martin"),
    Variable("numero_dossier", _("dossier number (the candidate's login)"), "K7M2P9QX"),
    Variable("birth_date", _("date of birth of the candidate"), "03/02/2001"),
    Variable("formation_code", _("code of the formation"), "MINFO"),
    Variable("formation_title", _("title of the formation"), "Master Informatique"),
    Variable("centre_label", _("name of the centre"), "UFR Sciences Exactes et Expérimentales"),
    Variable("decision_label", _("label of the decision"), "Avis favorable"),
    Variable("decision_comment", _("comment on the decision, when shown to the candidate"), "Bienvenue !"),
    Variable("letter_date", _("date of the letter"), "03/07/2026"),
)


def _no_context(subject: object) -> dict[str, object]:
    return {}


LETTER_TYPES: dict[str, LetterType] = {
    letter.code: letter
    for letter in (
        LetterType(
            code="LETTRE_ADM",
            label=_("admission letter"),
            sent_when=_("a favourable decision is validated"),
            recipient=_("the candidate"),
            template_base="",
            variables=(
                *_COMMON,
                Variable("confirmation_date", _("date by which the candidate must confirm"), "30/06/2026"),
            ),
            context=_no_context,
        ),
        LetterType(
            code="LETTRE_REFUS",
            label=_("refusal letter"),
            sent_when=_("an unfavourable decision is validated"),
            recipient=_("the candidate"),
            template_base="",
            variables=(*_COMMON, Variable("reason", _("reason for the refusal"), "Capacité d'accueil atteinte")),
            context=_no_context,
        ),
    )
}

# What still needs a letter text before it may be deleted: the letters of released decisions not built yet are
# built from the text when the worker (or the candidate's confirmation) comes to them. The applications app, which
# holds those rows, registers its check from its ready() (this app may not read them: the one-way layers); the
# text's admin lists what each check returns as protected objects and refuses the deletion.
DeletionCheck = Callable[[Sequence["DecisionLetterTemplate"]], list[str]]
_DELETION_CHECKS: list[DeletionCheck] = []


def register_deletion_check(check: DeletionCheck) -> None:
    if check not in _DELETION_CHECKS:
        _DELETION_CHECKS.append(check)


def deletion_blockers(templates: Sequence["DecisionLetterTemplate"]) -> list[str]:
    """One French line per letter text of ``templates`` that something still needs ([] when all may go)."""
    return [line for check in _DELETION_CHECKS for line in check(templates)]
