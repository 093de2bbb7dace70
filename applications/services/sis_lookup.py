"""A candidate with an e-mail account who is, or was, a student here: their INE finds them in the student records
system, and they certify it is them (ecandidat-features §1.3, "Certifiez-vous être …").

eCandidat shows "Certifiez-vous être <prénom> <nom> né le <date> ?" for any INE typed, which tells whoever types a
stranger's INE that stranger's name and birth date. Here the question is asked only when the SIS student with that
INE has the birth date, the first name and one of the names the candidate typed (birth or usual name, accents and
spaces aside): the question then shows only what the candidate typed, and an INE that does not match is treated
like an unknown one (manual entry continues). Yes imports as an ENT login does (``import_from_sis``: état civil,
bac and cursus interne become read-only, and the nightly ``sync_sis`` keeps them up to date) except the address and
phones, which stay what the candidate types, then and at every later import (the nightly one, staff's): the records'
contact is copied only into an ENT account's dossier (``import_from_sis``); no changes nothing. A SIS that fails
(down, timeout, garbage, any error of its backend) is said to the candidate, their details saved all the same, and
the lookup is made again at their next save of the page, INE changed or not (``views.personal_details``). Staff
re-import one dossier from the back office ("Reprendre de la scolarité", ``staff_sync``).

``SIS_LOOKUP_BY_INE`` (eCandidat ``CANDIDAT_IS_UTILISE_SYNCHRO_INE``) switches the candidate side off.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications.models import Candidate
from applications.permissions import can_edit_personal_details
from applications.services.dossier import import_from_sis, same_person, take_again_from_sis
from applications.sis import SisStudent, StudentRecordsUnavailable
from applications.sis_backend import get_backend
from ecandidat import parameters
from ecandidat.exceptions import BusinessRuleError

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)


# Said next to "Your personal details have been saved." when the SIS fails during the INE lookup; the login's own
# message (``dossier.SIS_UNAVAILABLE_MESSAGE``) promises an automatic import later, which the nightly ``sync_sis``
# does not make for a dossier never imported: here the question is asked again at the candidate's next save.
SIS_LOOKUP_UNAVAILABLE_MESSAGE = gettext_lazy(
    "The student records system is not answering: your details are saved; we will ask again at your next save."
)


def sis_match_for_ine(candidate: Candidate | None) -> SisStudent | None:
    """The SIS student to propose to ``candidate``: the one with their INE, born the day they typed and with one of
    the names they typed; None otherwise, and when nothing is to be asked (switched off, dossier already imported,
    no INE).

    Raises ``StudentRecordsUnavailable`` when the SIS fails (down, timeout, garbage, or any other error of its
    backend, logged with its traceback): the caller says so and asks again later (the personal details page at the
    candidate's next save, INE changed or not). The lookup runs in a savepoint of its own, so that a backend's
    database error leaves the caller's transaction usable (the details the candidate just saved are kept)."""
    if not parameters.get("SIS_LOOKUP_BY_INE") or candidate is None or candidate.sis_locked or not candidate.ine:
        return None
    try:
        with transaction.atomic():
            student = get_backend().find_by_ine(candidate.ine)
            matches = student is not None and same_person(candidate, student)
    except StudentRecordsUnavailable as exc:
        logger.warning("INE lookup for candidate %s failed: %s", candidate.pk, exc)
        raise
    except Exception as exc:  # The SIS backend may be a remote service answering anything; the page must go on.
        logger.exception("INE lookup for candidate %s failed", candidate.pk)
        raise StudentRecordsUnavailable("the INE lookup failed") from exc
    return student if matches else None


@transaction.atomic
def certify_sis_identity(*, candidate: Candidate, actor: User) -> bool:
    """The candidate answered yes to "Certifiez-vous être …": import their records (looked up again: the page may be
    old). Returns whether there was a student to import; refused once the personal details are locked (an
    application exists: staff re-import from the back office). Raises ``StudentRecordsUnavailable``, nothing
    written, when the SIS fails (``sis_match_for_ine``) or its records cannot be imported (logged)."""
    if not can_edit_personal_details(actor, candidate):
        raise BusinessRuleError(_("Your personal details can no longer be changed here: contact the central office."))
    student = sis_match_for_ine(candidate)
    if student is None:
        return False
    try:
        return import_from_sis(candidate=candidate, actor=actor, student=student)
    except BusinessRuleError:
        raise
    except Exception as exc:  # Records the database refuses are the SIS's garbage: as an outage, asked again later.
        logger.exception("Import by INE failed for candidate %s", candidate.pk)
        raise StudentRecordsUnavailable("the import of the records failed") from exc


def staff_sync(*, candidate: Candidate, actor: User) -> bool:
    """ "Reprendre de la scolarité" (eCandidat's "Synchronisation SiScol" on a candidate): import the dossier from
    the SIS by its student number, else its INE (the same person only, as for the candidate), in a savepoint of its
    own (``take_again_from_sis``): written to the history of each of the candidate's applications by ``actor``,
    "Dossier repris de la scolarité", with what changed on the transmitted ones; the records' address and phones
    only for an ENT account. Returns whether the student was found; ``StudentRecordsUnavailable`` and
    ``BusinessRuleError`` (the student's INE is another dossier's; a past campaign's dossier) go to the caller,
    nothing changed."""
    return take_again_from_sis(candidate=candidate, actor=actor)
