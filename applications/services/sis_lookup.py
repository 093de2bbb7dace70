"""A candidate with an e-mail account who is, or was, a student here: their INE finds them in the student records
system, and they certify it is them (ecandidat-features §1.3, "Certifiez-vous être …").

eCandidat shows "Certifiez-vous être <prénom> <nom> né le <date> ?" for any INE typed, which tells whoever types a
stranger's INE that stranger's name and birth date. Here the question is asked only when the SIS student with that
INE has the birth date, the first name and one of the names the candidate typed (birth or usual name, accents and
spaces aside): the question then shows only what the candidate typed, and an INE that does not match is treated
like an unknown one (manual entry continues). Yes imports as an ENT login does (``import_from_sis``: état civil,
bac and cursus interne become read-only, and the nightly ``sync_sis`` keeps them up to date) except the address and
phones, which stay what the candidate types; no changes nothing. Staff re-import one dossier from the back office
("Reprendre de la scolarité", ``staff_sync``).

``SIS_LOOKUP_BY_INE`` (eCandidat ``CANDIDAT_IS_UTILISE_SYNCHRO_INE``) switches the candidate side off.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from applications.models import Candidate
from applications.permissions import can_edit_personal_details
from applications.services.dossier import import_from_sis, record_staff_change, same_person
from applications.sis import SisStudent, StudentRecordsUnavailable
from applications.sis_backend import get_backend
from ecandidat import parameters
from ecandidat.exceptions import BusinessRuleError

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)


def sis_match_for_ine(candidate: Candidate | None) -> SisStudent | None:
    """The SIS student to propose to ``candidate``: the one with their INE, born the day they typed and with one of
    the names they typed; None otherwise, and when nothing is to be asked (switched off, dossier already imported,
    no INE) or the SIS does not answer (logged: the candidate goes on typing; the question comes at their next
    save)."""
    if not parameters.get("SIS_LOOKUP_BY_INE") or candidate is None or candidate.sis_locked or not candidate.ine:
        return None
    try:
        student = get_backend().find_by_ine(candidate.ine)
    except StudentRecordsUnavailable as exc:
        logger.warning("INE lookup for candidate %s skipped: %s", candidate.pk, exc)
        return None
    if student is None or not same_person(candidate, student):
        return None
    return student


@transaction.atomic
def certify_sis_identity(*, candidate: Candidate, actor: User) -> bool:
    """The candidate answered yes to "Certifiez-vous être …": import their records (looked up again: the page may be
    old). Returns whether there was a student to import; refused once the personal details are locked (an
    application exists: staff re-import from the back office)."""
    if not can_edit_personal_details(actor, candidate):
        raise BusinessRuleError(_("Your personal details can no longer be changed here: contact the central office."))
    student = sis_match_for_ine(candidate)
    if student is None:
        return False
    return import_from_sis(candidate=candidate, actor=actor, student=student, with_contact=False)


def staff_sync(*, candidate: Candidate, actor: User) -> bool:
    """ "Reprendre de la scolarité" (eCandidat's "Synchronisation SiScol" on a candidate): import the dossier from
    the SIS by its student number, else its INE (the same person only, as for the candidate), written to the history
    of each of the candidate's applications, in a savepoint of its own. Returns whether the student was found;
    ``StudentRecordsUnavailable`` and ``BusinessRuleError`` (the student's INE is another dossier's) go to the caller,
    nothing changed."""
    with transaction.atomic():
        found = import_from_sis(candidate=candidate, actor=actor)
        if found:
            with translation.override(settings.LANGUAGE_CODE):  # the history's language, whoever acted
                record_staff_change(candidate=candidate, actor=actor, changes=[_("Dossier taken again from the SIS")])
    return found
