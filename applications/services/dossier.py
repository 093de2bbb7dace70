"""Every write to the candidate's dossier. Views and commands call these; they never save dossier models."""

from __future__ import annotations

import datetime
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import User
from accounts.services import change_email, is_past_campaign_account
from applications.concurrency import check_version, rows_read_until, rows_version, version_of
from applications.countries import country_name
from applications.departments import department_label
from applications.enums import EventKind
from applications.history import record_events
from applications.models import (
    Address,
    Application,
    Baccalaureate,
    Candidate,
    ExternalCursus,
    InternalCursus,
    Internship,
    SisRecord,
    WorkExperience,
)
from applications.models.dossier import INE_TAKEN_MESSAGE, department_validator
from applications.models.reference import bac_series_label, bac_speciality_label, other_diploma_label
from applications.permissions import ALWAYS_EDITABLE_PERSONAL_FIELDS, can_edit_personal_details
from applications.sis import SisStudent, StudentRecordsUnavailable
from applications.sis_backend import get_backend
from applications.validators import normalise_department, normalise_phone, stored_family_name
from ecandidat.exceptions import BusinessRuleError, FieldRuleError

logger = logging.getLogger(__name__)

ROW_MODELS = (ExternalCursus, Internship, WorkExperience)


def student_number_of(user: User) -> str:
    """The student number the ENT gave this account ('' for e-mail candidates)."""
    return user.student_number or ""


def _lock_candidate(candidate: Candidate) -> Candidate:
    return Candidate.objects.select_for_update(of=("self",)).get(pk=candidate.pk)


def _transmitted_applications() -> models.QuerySet[Application]:
    """The applications the commission has received: transmitted, not cancelled, of the active campaign."""
    return Application.objects.of_active_campaign().filter(transmitted_at__isnull=False, cancelled_at__isnull=True)


def _dossier_to_lock(candidate_id: int) -> models.QuerySet[Candidate]:
    """The dossier, to lock as ``_lock_candidate`` does, for a writer of one of its sections (``_locked_dossier``)."""
    return Candidate.objects.select_for_update(of=("self",)).filter(pk=candidate_id)


def _locked_dossier(candidate_id: int) -> Candidate | None:
    """The dossier locked (None when it no longer exists), with ``has_transmitted`` (``_lock_dossier``)."""
    dossier = _dossier_to_lock(candidate_id).first()
    return _with_has_transmitted(dossier) if dossier is not None else None


def _lock_dossier(candidate_id: int) -> Candidate:
    """The dossier locked, with ``has_transmitted``: whether one of its applications is transmitted
    (``_record_change_by_candidate``, the staff's import from the SIS), read by a query of its own once the lock is
    held. ``transmit_application`` holds the dossier's row until it commits: a writer that waited for it sees the
    application transmitted. Read by the lock's own query it was not (PostgreSQL evaluates a select list's subquery
    before it waits for the lock, and does not read it again after): the change, committed after the transmission,
    left no history row."""
    return _with_has_transmitted(_dossier_to_lock(candidate_id).get())


def _with_has_transmitted(dossier: Candidate) -> Candidate:
    transmitted = _transmitted_applications().filter(candidate_id=dossier.pk).exists()
    dossier.has_transmitted = transmitted  # type: ignore[attr-defined]  # no field: the writers of the dossier read it
    return dossier


def save_personal_details(
    *, user: User, candidate: Candidate | None, data: dict, actor: User, read_at: str | None = None
) -> Candidate:
    """Create or update "Informations perso.".

    Rules: names are upper-cased; after an SIS import the état civil fields cannot change (eCandidat
    ``tem_updatable_candidat``); once the candidate has an application only phones and language can change
    (staff edit the rest in the admin); the INE is not another dossier's of the campaign (eCandidat's "Cet INE a
    déjà été attribué à un candidat"; last year's dossiers do not count). Raises ``BusinessRuleError`` otherwise,
    ``FieldRuleError`` (field ``ine``, nothing written) for an INE the campaign's unique constraint refused (a dossier
    that took it after the form's check, or a form that could not check), and ``EditConflict`` (nothing written)
    when the details changed since the form was read at ``read_at`` (``applications.concurrency``). The same form
    posted twice (a double tap, the first save included: the account's row is locked while there is no dossier's)
    saves once: the second finds the values it posts and writes nothing.
    """
    try:
        return _save_personal_details(user=user, candidate=candidate, data=data, actor=actor, read_at=read_at)
    except IntegrityError:
        # The save's savepoint is rolled back, so the transaction reads on: was it the INE? (Anything else is no rule
        # of the candidate's to hear about.)
        if _ine_held_by_another_dossier(user=user, ine=data.get("ine")):
            raise FieldRuleError(str(INE_TAKEN_MESSAGE), field="ine") from None
        raise


def _holds(obj: models.Model, data: dict) -> bool:
    """Whether ``obj`` already holds every value of ``data``."""
    return all(getattr(obj, name) == value for name, value in data.items())


def _ine_held_by_another_dossier(*, user: User, ine: str | None) -> bool:
    """Whether a dossier of ``user``'s campaign other than theirs holds ``ine`` (the INE is unique per campaign)."""
    campaign_id = user.campaign_id
    if not ine or campaign_id is None:
        return False
    return Candidate.objects.filter(campaign_id=campaign_id, ine=ine).exclude(user_id=user.pk).exists()


@transaction.atomic
def _save_personal_details(
    *, user: User, candidate: Candidate | None, data: dict, actor: User, read_at: str | None
) -> Candidate:
    data = dict(data)
    for name_field in ("birth_name", "usual_name"):
        if name_field in data:
            data[name_field] = stored_family_name(data[name_field])
    if candidate is None:
        # No dossier's row to lock yet: the account's row stands for it. A double tap on the first save sent two
        # requests that both found no dossier, and the second's insert broke the one-dossier-per-account constraint
        # (a 500 on PostgreSQL); the second now waits for the first, then finds its dossier. Lock order: the account,
        # then its dossier (as the account's erasure, ``services.erasure``). Plain FOR UPDATE, not NO KEY: it also
        # waits for a dossier being inserted by the login (``open_dossier``), whose foreign key holds KEY SHARE.
        list(User.objects.select_for_update(of=("self",)).filter(pk=user.pk).values_list("pk", flat=True))
        candidate = Candidate.objects.filter(user_id=user.pk).first()
        if candidate is None:
            candidate = Candidate.objects.create(user=user, updated_by=actor, **data)
            logger.info("candidate %s created by %s", candidate.pk, actor.pk)
            return candidate
        if read_at is None:  # no version to tell what the form was read at
            raise BusinessRuleError(_("Your personal details already exist: reload the page."))
        # Created meanwhile: an update, checked against the version the form was read at ("", before it existed).
    candidate = _lock_candidate(candidate)
    if read_at is not None and read_at != version_of(candidate) and _holds(candidate, data):
        # Changed since the form was read, but to the very values posted: the same form posted twice (a double tap,
        # whichever request ran first) has nothing to write and nothing to overwrite.
        return candidate
    check_version(candidate, read_at)
    frozen = set(candidate.locked_sis_fields)
    if not can_edit_personal_details(actor, candidate):
        frozen |= {name for name in data if name not in ALWAYS_EDITABLE_PERSONAL_FIELDS}
    changed = sorted(name for name in frozen & data.keys() if getattr(candidate, name) != data[name])
    if changed:
        raise BusinessRuleError(
            _("These details can no longer be changed: %(fields)s.") % {"fields": ", ".join(changed)}
        )
    for name, value in data.items():
        setattr(candidate, name, value)
    candidate.updated_by = actor
    candidate.save()
    return candidate


@transaction.atomic
def save_address(*, candidate: Candidate, data: dict, actor: User, read_at: str | None = None) -> Address:
    """Create or update the candidate's address (always editable, even after an SIS import); ``EditConflict``
    (nothing written) when it changed, or was created, since the form was read at ``read_at``."""
    candidate = _lock_dossier(candidate.pk)  # the dossier's lock, as every writer of the dossier takes it
    address = Address.objects.select_for_update(of=("self",)).filter(candidate=candidate).first()
    check_version(address, read_at)
    if address is None:
        address = Address.objects.create(candidate=candidate, updated_by=actor, **data)
        _record_change_by_candidate(dossier=candidate, actor=actor, row=address, before=None)
        return address
    before = _described_values(address)
    for name, value in data.items():
        setattr(address, name, value)
    address.updated_by = actor
    address.save()
    _record_change_by_candidate(dossier=candidate, actor=actor, row=address, before=before)
    return address


@transaction.atomic
def add_baccalaureate(*, candidate: Candidate, data: dict, actor: User, read_at: str | None = None) -> Baccalaureate:
    """ "J'ai le bac ou une équivalence": record the candidate's only baccalaureate.

    Refused when one already exists ("Vous ne pouvez saisir qu'un seul baccalauréat (ou équivalence)"), e.g. a
    second browser tab (``EditConflict`` when the form says which record it was read at, ``read_at``); a "Je n'ai
    pas le bac" record is replaced, unless it came from the SIS.
    """
    candidate = _lock_dossier(candidate.pk)
    existing = Baccalaureate.objects.filter(candidate=candidate).first()
    check_version(existing, read_at)
    if existing is not None and (existing.has_bac or existing.sis_locked):
        raise BusinessRuleError(_("You can only enter one baccalaureate (or equivalent)."))
    before = None
    if existing is not None:
        before = _described_values(existing)
        existing.delete()
    bac = Baccalaureate.objects.create(candidate=candidate, has_bac=True, updated_by=actor, **data)
    _record_change_by_candidate(dossier=candidate, actor=actor, row=bac, before=before)
    return bac


@transaction.atomic
def update_baccalaureate(
    *, candidate: Candidate, data: dict, actor: User, read_at: str | None = None
) -> Baccalaureate:
    """Edit the baccalaureate; refused when it was imported from the SIS; ``EditConflict`` (nothing written) when it
    changed or was replaced since the form was read at ``read_at``."""
    candidate = _lock_dossier(candidate.pk)
    bac = Baccalaureate.objects.select_for_update(of=("self",)).filter(candidate=candidate).first()
    check_version(bac, read_at)
    if bac is None:
        raise BusinessRuleError(_("Your baccalaureate has not been entered yet."))
    if bac.sis_locked:
        raise BusinessRuleError(_("Your baccalaureate comes from the student records system and cannot be changed."))
    before = _described_values(bac)
    for name, value in data.items():
        setattr(bac, name, value)
    bac.has_bac = True
    bac.updated_by = actor
    bac.save()
    _record_change_by_candidate(dossier=candidate, actor=actor, row=bac, before=before)
    return bac


@transaction.atomic
def declare_no_baccalaureate(*, candidate: Candidate, actor: User, read_at: str | None = None) -> Baccalaureate:
    """ "Je n'ai pas le bac": replaces a bac the candidate typed; refused for one imported from the SIS, and
    (``EditConflict``) when the bac changed since the page was read at ``read_at``."""
    candidate = _lock_dossier(candidate.pk)
    existing = Baccalaureate.objects.filter(candidate=candidate).first()
    check_version(existing, read_at)
    if existing is not None and existing.sis_locked:
        raise BusinessRuleError(_("Your baccalaureate comes from the student records system and cannot be changed."))
    before = None
    if existing is not None:
        before = _described_values(existing)
        existing.delete()
    bac = Baccalaureate.objects.create(candidate=candidate, has_bac=False, updated_by=actor)
    _record_change_by_candidate(dossier=candidate, actor=actor, row=bac, before=before)
    return bac


def _check_row_model(model: type[models.Model]) -> None:
    if model not in ROW_MODELS:
        raise ValueError(f"{model.__name__} is not a row the candidate edits")


class RowAlreadyAdded(BusinessRuleError):
    """The row an add form posted was added already, from the same page (``add_row``); nothing was added."""

    def __init__(self, row: ExternalCursus | Internship | WorkExperience) -> None:
        self.row = row
        super().__init__(_("This line had already been added: it is listed only once."))


@transaction.atomic
def add_row(
    *,
    model: type[ExternalCursus | Internship | WorkExperience],
    candidate: Candidate,
    data: dict,
    actor: User,
    read_at: str | None = None,
) -> ExternalCursus | Internship | WorkExperience:
    """Add a row of cursus externe, stages or expériences pro.

    ``read_at`` is the version of the list the add form was read at (``concurrency.rows_version``). When the list
    changed since, and a row with the same values was saved since, that row is the one this form already added (a
    double tap on « Ajouter », on a phone: two requests from one page) or a second tab typed the same: nothing is
    added, ``RowAlreadyAdded`` (its ``row``). Any other change meanwhile (another tab's row, an edit) does not stop
    the add: an added row overwrites nothing. ``read_at=None``: no check (commands, the demo).
    """
    _check_row_model(model)
    candidate = _lock_dossier(candidate.pk)  # the dossier's lock, so that two adds are checked one after the other
    if read_at is not None and rows_version(candidate.pk, model) != read_at:
        same = model.objects.filter(candidate=candidate, **data)
        if (read_until := rows_read_until(read_at)) is not None:
            same = same.filter(updated_at__gt=read_until)
        if (added := same.order_by("pk").first()) is not None:
            raise RowAlreadyAdded(added)
    row = model.objects.create(candidate=candidate, updated_by=actor, **data)
    _record_change_by_candidate(dossier=candidate, actor=actor, row=row, before=None)
    return row


def _lock_row(
    row: ExternalCursus | Internship | WorkExperience, read_at: str | None
) -> tuple[ExternalCursus | Internship | WorkExperience, Candidate]:
    """The row read again under the dossier's lock, and the dossier (``_lock_dossier``); ``EditConflict`` when the
    row changed or was deleted meanwhile."""
    _check_row_model(type(row))
    dossier = _locked_dossier(row.candidate_id)
    current = type(row).objects.select_for_update(of=("self",)).filter(pk=row.pk).first()
    check_version(current, read_at)
    if current is None or dossier is None:  # read_at=None: no check asked, and nothing left to write
        raise BusinessRuleError(_("This line no longer exists."))
    return current, dossier


@transaction.atomic
def update_row(
    *, row: ExternalCursus | Internship | WorkExperience, data: dict, actor: User, read_at: str | None = None
) -> ExternalCursus | Internship | WorkExperience:
    """Edit one of the candidate's rows (the view loaded it through the candidate's scope); ``EditConflict``
    (nothing written) when it changed or was deleted since the form was read at ``read_at``."""
    current, dossier = _lock_row(row, read_at)
    before = _described_values(current)
    for name, value in data.items():
        setattr(current, name, value)
    current.updated_by = actor
    current.save()
    _record_change_by_candidate(dossier=dossier, actor=actor, row=current, before=before)
    return current


@transaction.atomic
def delete_row(*, row: ExternalCursus | Internship | WorkExperience, actor: User, read_at: str | None = None) -> None:
    """Delete one of the candidate's rows; ``EditConflict`` (nothing deleted) when it changed since the
    confirmation page was read at ``read_at``, or was deleted meanwhile."""
    current, dossier = _lock_row(row, read_at)
    current.delete()
    _record_change_by_candidate(dossier=dossier, actor=actor, row=current, before=None, deleted=True)


# --- Student records system ------------------------------------------------------------------------------------


def _name_key(value: str) -> str:
    """ "Lefèvre-Durand " and "LEFEVRE DURAND" alike, and « D’ARTAGNAN » typed on a phone (its apostrophe curly) and
    the records' "D'ARTAGNAN": every character but letters and digits separates words."""
    decomposed = unicodedata.normalize("NFKD", value or "")
    letters = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(_NOT_A_LETTER.sub(" ", letters.upper()).split())


_NOT_A_LETTER = re.compile(r"[\W_]+")


def same_person(candidate: Candidate, student: SisStudent) -> bool:
    """Whether the SIS ``student`` is who ``candidate`` says they are: the birth date, the first name and one of the
    names (birth or usual) the candidate typed, accents, case and hyphens aside. An INE alone is only what someone
    typed: it may be a stranger's."""
    if student.birth_date != candidate.birth_date or _name_key(student.first_name) != _name_key(candidate.first_name):
        return False
    typed = {_name_key(candidate.birth_name), _name_key(candidate.usual_name)} - {""}
    known = {_name_key(student.birth_name), _name_key(student.usual_name)} - {""}
    return bool(typed & known)


def _may_import_by_ine(candidate: Candidate, student: SisStudent) -> bool:
    """A student found by the dossier's INE is imported only when the SIS already vouched for that INE (the dossier
    was imported with the INE the SIS gave, locked since: ``ine_from_sis``; an INE typed and kept by an import
    without one is no proof) or when they are the same person (``same_person``)."""
    imported_under_it = (
        candidate.sis_locked
        and candidate.ine_from_sis
        and candidate.sis_imported_at is not None
        and candidate.ine == student.ine
    )
    return imported_under_it or same_person(candidate, student)


@transaction.atomic
def import_from_sis(
    *, candidate: Candidate, actor: User | None, student: SisStudent | None = None, batch: str = ""
) -> bool:
    """Copy état civil, baccalaureate and cursus interne from the SIS and make them read-only.

    The student is found by the account's student number (ENT students), else by the dossier's INE: then only when
    the dossier was imported under that INE or the student is the same person (``_may_import_by_ine``); a typed INE
    is no proof, and a stranger's records would otherwise become the candidate's, locked. The address and phones
    are copied only for an ENT account (``student_number_of``), and only when the candidate has none: they stay the
    candidate's to edit. A dossier linked to the SIS by its INE (an e-mail account whose candidate certified their
    identity, ``sis_lookup``; staff taking it again) never gets them, whoever imports: the candidate types their
    own. Returns whether the student was found (and accepted). Refused (``BusinessRuleError``, nothing written) when
    the student's INE is another dossier's of the campaign (unique per campaign). Safe to rerun (nightly refresh):
    the internal cursus is replaced.

    History: what the import changed, in words ("Candidat : nom patronymique : MARTIN → MARTIN-DURAND;
    Baccalauréat : mention : Assez bien → Très bien"), is written on each of the candidate's transmitted
    applications (``_record_sis_import``), by ``actor``, or with no actor by ``batch`` (the nightly ``sync_sis``);
    no row when nothing changed. A bounded number of queries per dossier, whatever the number of changes.
    """
    changes = _import_sis_records(candidate=candidate, actor=actor, student=student)
    if changes is None:
        return False
    _record_sis_import(candidate.pk, actor=actor, batch=batch, changes=changes)
    return True


@transaction.atomic
def take_again_from_sis(*, candidate: Candidate, actor: User) -> bool:
    """Staff's "Reprendre de la scolarité": ``import_from_sis`` by ``actor``, written to the history of each of the
    candidate's applications as "Dossier repris de la scolarité", followed on the transmitted ones by what changed
    (one row each). Returns whether the student was found. ``BusinessRuleError``, the import undone (a savepoint of
    its own), for a past campaign's dossier (``of_past_campaign``)."""
    changes = _import_sis_records(candidate=candidate, actor=actor, student=None)
    if changes is None:
        return False
    if of_past_campaign(candidate):
        raise BusinessRuleError(PAST_CAMPAIGN_DOSSIER_MESSAGE)
    with translation.override(settings.LANGUAGE_CODE):  # the history's language, whoever acted
        taken_again = _("Dossier taken again from the SIS")
    _record_sis_import(candidate.pk, actor=actor, batch="", changes=changes, taken_again=taken_again)
    return True


def _import_sis_records(*, candidate: Candidate, actor: User | None, student: SisStudent | None) -> list[str] | None:
    """``import_from_sis``'s work: None when no student is to be imported, else what changed, in words, for the
    history of the transmitted applications: [] when the dossier has none (nothing is compared then, no query more:
    the certification by INE, most nights' dossiers not yet transmitted)."""
    # How the dossier is linked, not who imports: an ENT account's student number is the SIS's own word that the
    # records are this account's, contact included; an INE is only what the candidate typed.
    with_contact = bool(student_number_of(candidate.user))
    if student is None:
        backend = get_backend()
        number = candidate.sis_student_number or student_number_of(candidate.user)
        student = backend.find_by_student_number(number) if number else None
        if student is None and candidate.ine:
            student = backend.find_by_ine(candidate.ine)
            if student is not None and not _may_import_by_ine(candidate, student):
                logger.info("candidate %s: the SIS student with the dossier's INE is someone else", candidate.pk)
                return None
    if student is None:
        return None
    if _ine_held_by_another_dossier(user=candidate.user, ine=student.ine):
        # Checked first so that the back office and the nightly batch can say why, instead of the constraint's
        # IntegrityError; the staff merge the two dossiers, or correct the other one's INE.
        raise BusinessRuleError(
            _("The INE from the student records system is already held by another dossier of the campaign: %(ine)s.")
            % {"ine": student.ine}
        )
    candidate = _lock_dossier(candidate.pk)  # with ``has_transmitted``, read once the lock is held
    describe = candidate.has_transmitted  # type: ignore[attr-defined]  # _lock_dossier's
    before = _described_values(candidate)
    _apply_sis_identity(candidate, student, with_contact=with_contact)
    candidate.save()
    changes = [change_in_words(candidate, before)] if describe else []
    changes += _apply_sis_rest(candidate, student, with_contact=with_contact, describe=describe)
    logger.info("candidate %s imported from the SIS by %s", candidate.pk, getattr(actor, "pk", actor))
    return [change for change in changes if change]


def _record_sis_import(
    candidate_id: int, *, actor: User | None, batch: str, changes: list[str], taken_again: str = ""
) -> int:
    """The history of an import from the SIS: on each of the candidate's transmitted applications
    (``_transmitted_applications``: the commission judges them on this dossier) one ``DOSSIER_CHANGED_BY_STAFF``
    row, "Candidate's dossier changed", its comment the changes in words, by ``actor``, or with no actor by
    ``batch`` (the review page reads "Dossier du candidat modifié (traitement « Synchronisation des dossiers
    étudiants ») : …"). ``taken_again``: the staff's words, written first on those rows and alone on the candidate's
    other applications. At most two SELECTs and two INSERTs, whatever the number of changes and applications.
    Returns the number of rows."""
    transmitted: list[int] = []
    if changes:
        transmitted = list(
            _transmitted_applications().filter(candidate_id=candidate_id).order_by("pk").values_list("pk", flat=True)
        )
    words = [taken_again, *changes] if taken_again else changes
    written = _record_dossier_change(
        transmitted, kind=EventKind.DOSSIER_CHANGED_BY_STAFF, actor=actor, batch=batch, changes=words
    )
    if taken_again:
        others = list(
            Application.objects.filter(candidate_id=candidate_id)
            .exclude(pk__in=transmitted)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        written += _record_dossier_change(
            others, kind=EventKind.DOSSIER_CHANGED_BY_STAFF, actor=actor, batch=batch, changes=[taken_again]
        )
    return written


def _fitted(model: type[models.Model], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with each text cut to its column's length. A student records system may hold longer values than
    eCandidat's columns (Apogée's lengths, e.g. 30 characters for a name; a Pégase or CSV export knows no such
    bound): PostgreSQL refused the whole import, the student's sign-in through the ENT included (an error page),
    where a cut value is what Apogée itself would keep. Each cut is logged, without the value."""
    fitted = dict(values)
    for name, value in values.items():
        length = getattr(model._meta.get_field(name), "max_length", None)
        if isinstance(value, str) and length and len(value) > length:
            logger.warning("SIS import: %s.%s cut to %s characters", model.__name__, name, length)
            fitted[name] = value[:length]
    return fitted


def _apply_sis_identity(candidate: Candidate, student: SisStudent, *, with_contact: bool) -> None:
    """The état civil from the SIS, locked; the phones too when ``with_contact`` and the dossier has none."""
    identity = {name: getattr(student, name) for name in Candidate.SIS_FIELDS}
    if not student.ine:
        # Pégase gives only a confirmed INE: "" is "not confirmed", not "no INE". The dossier's INE (typed by the
        # candidate) stays, and stays theirs to edit; only an INE the SIS gave is imported and locked.
        del identity["ine"]
    candidate.ine_from_sis = bool(student.ine)
    identity["birth_name"] = stored_family_name(student.birth_name)
    identity["usual_name"] = stored_family_name(student.usual_name)
    identity["birth_department"] = _sis_department(student.birth_department)
    for name, value in _fitted(Candidate, identity).items():
        setattr(candidate, name, value)
    if with_contact and not candidate.phone and student.phone:
        candidate.phone = _sis_phone(student.phone)
    if with_contact and not candidate.mobile and student.mobile:
        candidate.mobile = _sis_phone(student.mobile)
    candidate.sis_locked = True
    candidate.sis_student_number = student.student_number
    candidate.sis_imported_at = timezone.now()


def _sis_department(value: str) -> str:
    """The SIS's département of birth as the dossier writes it (``normalise_department``: Apogée's "066" is "66"),
    or "" when it is none of the dossier's départements (``department_validator``, the list the form offers):
    Apogée's code of a country of birth ("134", Spain) copied into a CSV's departement_naissance, or what Pégase's
    commune codes of Saint-Barthélemy, Saint-Martin or the Pacific give (977, 978, 98): collectivités, not
    départements. Stored and locked, such a value was refused by every save of « Informations perso. », the
    phone's included, beside a field the student cannot change. Dropped, the field is empty, as for a birth place
    the SIS did not give; the OPI file leaves it for the scolarité to fill in."""
    department = normalise_department(value)
    if not department:
        return ""
    try:
        department_validator(department)
    except ValidationError:
        logger.warning("SIS import: a department of birth that is no French department was dropped")
        return ""
    return department


def _sis_phone(value: str) -> str:
    try:
        return normalise_phone(value)
    except ValidationError:  # a bad number in the SIS must not block the import; the candidate types it
        return ""


def _apply_sis_rest(
    candidate: Candidate, student: SisStudent, *, with_contact: bool, describe: bool = False
) -> list[str]:
    """The address (when ``with_contact`` and the dossier has none), the baccalaureate and the cursus interne from
    the SIS. With ``describe``, returns what changed in words (``change_in_words``), each section read once before
    it is replaced (two SELECTs more); without, [] (a dossier just created, or none of its applications transmitted:
    no history to write)."""
    changes: list[str] = []
    if with_contact and student.address and not Address.objects.filter(candidate=candidate).exists():
        a = student.address
        address = {
            "line1": a.line1,
            "line2": a.line2,
            "line3": a.line3,
            "postal_code": a.postal_code if a.country == "FR" else "",
            "city": a.city if a.country == "FR" else "",
            "foreign_city": "" if a.country == "FR" else a.city,
            "country": a.country,
        }
        created = Address.objects.create(candidate=candidate, **_fitted(Address, address))
        if describe:
            changes.append(change_in_words(created, None))
    if student.baccalaureate:
        b = student.baccalaureate
        old_bac = Baccalaureate.objects.filter(candidate=candidate).first() if describe else None
        Baccalaureate.objects.filter(candidate=candidate).delete()
        bac = {
            "series": b.series,
            "mention": b.mention,
            "country": b.country,
            "department": b.department,
            "city": b.city,
            "school": b.school,
            "school_uai": b.school_uai,
            "speciality_1": b.speciality_1,
            "speciality_2": b.speciality_2,
            "dropped_speciality": b.dropped_speciality,
            "option_1": b.option_1,
            "option_2": b.option_2,
            "option_3": b.option_3,
            "option_4": b.option_4,
        }
        new_bac = Baccalaureate.objects.create(
            candidate=candidate, has_bac=True, year=b.year, sis_locked=True, **_fitted(Baccalaureate, bac)
        )
        if describe:
            changes.append(change_in_words(new_bac, None if old_bac is None else _described_values(old_bac)))
    old_cursus = list(InternalCursus.objects.filter(candidate=candidate)) if describe else []
    if student.cursus_results_missing and (
        old_cursus if describe else InternalCursus.objects.filter(candidate=candidate).exists()
    ):
        # Pégase gave the enrolments but not their results (coc down): keep the cursus imported before, with its
        # results, rather than replace it by one without them; the next refresh that reads them replaces it.
        logger.info("candidate %s: cursus kept, the SIS gave it without its results", candidate.pk)
        return changes
    InternalCursus.objects.filter(candidate=candidate).delete()
    new_cursus = InternalCursus.objects.bulk_create(
        InternalCursus(
            candidate=candidate,
            academic_year=line.academic_year,
            grade=line.grade,
            grade_scale=line.grade_scale,
            **_fitted(
                InternalCursus,
                {"code": line.code, "label": line.label, "result": line.result, "mention": line.mention},
            ),
        )
        for line in student.cursus
    )
    if describe:
        changes += _cursus_changes(old_cursus, new_cursus)
    return changes


def _cursus_changes(before: list[InternalCursus], after: list[InternalCursus]) -> list[str]:
    """The cursus interne replaced by the SIS's, in words: a year of the same code changed ("Cursus interne :
    résultat : — → ADM"), added or gone; [] when the lines are the same (the nightly run, most nights)."""
    pending: dict[tuple[int, str], list[InternalCursus]] = {}
    for row in before:
        pending.setdefault((row.academic_year, row.code), []).append(row)
    changes = []
    for row in after:
        same_year_and_code = pending.get((row.academic_year, row.code))
        old = same_year_and_code.pop(0) if same_year_and_code else None
        changes.append(change_in_words(row, None if old is None else _described_values(old)))
    changes += [change_in_words(row, None, deleted=True) for rows in pending.values() for row in rows]
    return [change for change in changes if change]


@transaction.atomic
def open_dossier(*, user: User, actor: User, preferred_language: str = "fr") -> Candidate | None:
    """The candidate's dossier, created from the SIS the first time an ENT student logs in (``open_dossier_at_login``;
    pages only read the dossier). A new dossier's ``preferred_language`` (the language of its mails) is the one the
    student logged in with.

    Returns None for a candidate who has not typed their personal details yet and is not in the SIS.

    The dossier is inserted under the account's lock, as the first « Informations perso. » save inserts it
    (``_save_personal_details``), and looked for again once it is held: two logins at once (two tabs, the ENT's
    redirect replayed), or a login during that first save, both found no dossier and both inserted one; the second
    broke the one-dossier-per-account constraint, which the login took for a failing SIS. The second now waits, then
    finds the dossier. The SIS is asked before the lock is taken: the account's row is not held while it answers.
    (A login through a view was kept from it by Django's ``update_last_login``, which writes the account's row first
    in the same transaction; the service does not count on it.) An INE another account's dossier took meanwhile is
    no error either: no dossier, as when the INE is seen held before.
    """
    candidate = Candidate.objects.filter(user_id=user.pk).first()
    if candidate is not None:
        return candidate
    number = student_number_of(user)
    student = get_backend().find_by_student_number(number) if number else None
    if student is None:
        return None
    # Lock order and mode as the first save's: the account (plain FOR UPDATE, which also waits for a dossier being
    # inserted, whose foreign key holds KEY SHARE on it), then its dossier.
    list(User.objects.select_for_update(of=("self",)).filter(pk=user.pk).values_list("pk", flat=True))
    candidate = Candidate.objects.filter(user_id=user.pk).first()
    if candidate is not None:  # opened by another login, or typed by the candidate, meanwhile
        return candidate
    if _ine_held_by_another_dossier(user=user, ine=student.ine):
        # Another dossier of the campaign (e.g. an e-mail account of the same person) holds this INE: let the
        # candidate type their details; the uniqueness message will explain. Last year's dossier does not count:
        # accounts are annual, and a returning student's records are imported into the new one.
        return None
    candidate = Candidate(user=user, preferred_language=preferred_language)
    _apply_sis_identity(candidate, student, with_contact=True)  # an ENT account: its student number found it
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError:
        # Not the account's (it is locked): the INE, taken by another dossier of the campaign after the check above
        # (its save was not committed yet). As when the check sees it: the candidate types their details.
        if _ine_held_by_another_dossier(user=user, ine=student.ine):
            return None
        raise
    _apply_sis_rest(candidate, student, with_contact=True)
    return candidate


SIS_UNAVAILABLE_MESSAGE = gettext_lazy(
    "The student records system is not answering: your details could not be retrieved. You can fill in your "
    "dossier yourself now; nothing will be lost, and the university's records will be copied in automatically later."
)


def _language_of(request: Any) -> str:
    """The language the request is read in, as a ``Candidate.preferred_language`` ("fr" without a request)."""
    language = getattr(request, "LANGUAGE_CODE", "") or ""
    return "en" if language.startswith("en") else "fr"


def open_dossier_at_login(sender: Any, *, request: Any, user: User, **kwargs: Any) -> None:
    """``user_logged_in`` receiver (connected in ApplicationsConfig.ready): a candidate's login opens their dossier
    from the SIS when they have none yet. A SIS that fails does not stop the login: it is logged, the candidate is
    told they can type their details, and the next login (or the nightly ``sync_sis``) imports them."""
    if not user.is_candidate:
        return
    try:
        open_dossier(user=user, actor=user, preferred_language=_language_of(request))
    except StudentRecordsUnavailable as exc:
        logger.warning("SIS import at login failed for user %s: %s", user.pk, exc)
    except Exception:  # The SIS backend may be a remote service; the login must go on.
        logger.exception("SIS import at login failed for user %s", user.pk)
    else:
        return
    if request is not None:
        messages.warning(request, SIS_UNAVAILABLE_MESSAGE, fail_silently=True)


@transaction.atomic
def store_sis_records(*, students: list[SisStudent], actor: User | None) -> dict:
    """Replace the local SIS copy of each student (``manage.py import_sis``). Returns counts."""
    created = updated = 0
    for student in students:
        _record, was_created = SisRecord.objects.update_or_create(
            student_number=student.student_number, defaults={"ine": student.ine, "data": student.to_json()}
        )
        created += was_created
        updated += not was_created
    return {"created": created, "updated": updated}


def export_personal_data(*, candidate: Candidate | None, user: User) -> dict:
    """ "Mes données": everything we hold about the candidate, as JSON-ready data (files come later)."""

    def fields(obj: models.Model, exclude: tuple[str, ...] = ("id", "candidate")) -> dict:
        result = {}
        for f in obj._meta.concrete_fields:
            if f.name in exclude:
                continue
            value = getattr(obj, f.attname)
            if isinstance(value, datetime.date | datetime.datetime):
                value = value.isoformat()
            elif not isinstance(value, str | int | bool | type(None)):
                value = str(value)
            result[f.name] = value
        return result

    account = fields(user, exclude=("id", "password"))
    data: dict[str, Any] = {"account": account, "dossier": None}
    if candidate is not None:
        # The caller loads the candidate with select_related("address", "baccalaureate").
        address = getattr(candidate, "address", None)
        bac = getattr(candidate, "baccalaureate", None)
        data["dossier"] = {
            "personal_details": fields(candidate, exclude=("id", "user")),
            "address": fields(address) if address else None,
            "baccalaureate": fields(bac) if bac else None,
            "internal_cursus": [fields(r) for r in candidate.internal_cursus.all()],
            "external_cursus": [fields(r) for r in candidate.external_cursus.all()],
            "internships": [fields(r) for r in candidate.internships.all()],
            "work_experiences": [fields(r) for r in candidate.work_experiences.all()],
        }
    data["generated_at"] = timezone.now().isoformat()
    return data


PAST_CAMPAIGN_DOSSIER_MESSAGE = gettext_lazy(
    "This dossier belongs to an account of a past campaign: it is read only, nothing was changed."
)


def of_past_campaign(candidate: Candidate) -> bool:
    """Whether ``candidate`` is the dossier of an account of a past campaign (archived, or replaced by the active
    one): read, exported and printed, never changed, by the central office as by anyone (an archived campaign's
    applications are never changed, ``ApplicationQuerySet.editable_by``, nor the dossier they were judged on). No
    query when the dossier was read with ``account_of_active_campaign`` (``CandidateAdmin.get_queryset``) or with
    its account's campaign; else ``is_past_campaign_account``'s."""
    if hasattr(candidate, "account_of_active_campaign"):
        return candidate.account_of_active_campaign is False  # None: an account without a campaign (staff's)
    return is_past_campaign_account(candidate.user)


def record_staff_change(*, candidate: Candidate, actor: User, changes: list[str]) -> int:
    """A member of staff changed ``candidate``'s dossier in the back office (what, in words: "Adresse : ville,
    code postal"): one history row on each of the candidate's applications, so that the commission reading any of
    them sees who changed the dossier and what (inside the admin's transaction). Returns the number of rows.

    A past campaign's dossier is never changed (``of_past_campaign``): ``BusinessRuleError``, for the caller's
    transaction to undo what it wrote, and no history row on the archived applications."""
    if not changes:
        return 0
    if of_past_campaign(candidate):
        raise BusinessRuleError(PAST_CAMPAIGN_DOSSIER_MESSAGE)
    ids = list(Application.objects.filter(candidate=candidate).values_list("pk", flat=True))
    return _record_dossier_change(ids, kind=EventKind.DOSSIER_CHANGED_BY_STAFF, actor=actor, changes=changes)


def _record_dossier_change(
    application_ids: list[int], *, kind: EventKind, actor: User | None, changes: list[str], batch: str = ""
) -> int:
    """One history row of ``kind`` on each of ``application_ids`` (one INSERT), its comment the changes in words
    ("Adresse : commune : PERPIGNAN → CANET; Stage : ajout (2024 Mairie)"), as staff, candidate and SIS changes of
    the dossier are written; by ``actor``, or with no actor by ``batch``. Returns the number of rows."""
    if not changes or not application_ids:
        return 0
    record_events(application_ids, kind=kind, actor=actor, batch=batch, comment=changes_comment(changes))
    return len(application_ids)


# The most a history row's comment says of a dossier's changes: a whole dossier taken again from the SIS (20 lines of
# cursus) holds in it; a change that would not is counted, not cut in the middle of a word.
CHANGES_COMMENT_MAX = 4000


def changes_comment(changes: list[str]) -> str:
    """``changes`` joined with "; ", whole, up to ``CHANGES_COMMENT_MAX`` characters; those left out counted at the
    end (« … et 3 autres modifications »), in the institution's language like the changes. They were cut at 1,000
    characters in the middle of a word, and the last changes (the cursus, written last) vanished without a sign."""
    kept: list[str] = []
    length = 0
    for change in changes:
        added = len(change) + (2 if kept else 0)
        if length + added > CHANGES_COMMENT_MAX - 60:  # room for the count
            break
        kept.append(change)
        length += added
    if not kept:  # one change longer than the whole comment: that one, cut where a word ends
        kept = [changes[0][: CHANGES_COMMENT_MAX - 60].rsplit(" ", 1)[0] + "…"]
    left = len(changes) - len(kept)
    comment = "; ".join(kept)
    if left:
        with translation.override(settings.LANGUAGE_CODE):
            comment += ngettext(" … and %(count)d more change", " … and %(count)d more changes", left) % {
                "count": left
            }
    return comment


# The columns a change in words leaves out: keys, bookkeeping, and the SIS's lock (never the candidate's to change);
# the dossier's own link to its account and to the SIS, which an import rewrites every night (``sis_imported_at``)
# and which is no part of what the commission judges.
_NOT_DESCRIBED = frozenset(
    {
        "id",
        "candidate",
        "public_id",
        "created_at",
        "updated_at",
        "updated_by",
        "sis_locked",
        "user",
        "campaign",
        "sis_student_number",
        "sis_imported_at",
        "ine_from_sis",
    }
)
# Stored codes named by their label in a change in words (the dossier PDF's and the review page's French words).
_CODE_LABELS = {
    "series": bac_series_label,
    "speciality_1": bac_speciality_label,
    "speciality_2": bac_speciality_label,
    "dropped_speciality": bac_speciality_label,
    "diploma": other_diploma_label,
    "department": department_label,
    "country": country_name,
}


def _described_values(row: models.Model) -> dict[str, Any]:
    """The values of a dossier section a change in words compares (``change_in_words``), as stored now."""
    return {f.name: getattr(row, f.attname) for f in row._meta.concrete_fields if f.name not in _NOT_DESCRIBED}


def value_in_words(field: models.Field, value: Any) -> str:
    """A stored value of a dossier field as a person reads it: a choice or a code by its label (« Physique-chimie »,
    not « PC »), a date as a date, "—" for nothing; the staff's and the candidate's changes are written with it."""
    if value in (None, ""):
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if field.choices:
        value = dict(field.flatchoices).get(value, value)
    elif field.name in _CODE_LABELS:
        value = _CODE_LABELS[field.name](value)
    elif isinstance(value, datetime.date):
        value = date_format(value, "SHORT_DATE_FORMAT")
    return Truncator(str(value)).chars(80)


def change_in_words(row: models.Model, before: dict[str, Any] | None, *, deleted: bool = False) -> str:
    """What became of a section of the dossier, in the institution's language, as the staff's changes are written
    (``record_staff_change``): "Baccalauréat : mention : Assez bien → Très bien" (each field that differs from
    ``before``, ``_described_values`` read before the change), "Stage : ajout (2024 Mairie)" (no ``before``),
    "Stage : suppression (2024 Mairie)" (``deleted``); "" when nothing differs."""
    with translation.override(settings.LANGUAGE_CODE):
        section = capfirst(row._meta.verbose_name)
        if deleted:
            return f"{section} : {_('deleted')} ({row})"
        if before is None:
            return f"{section} : {_('added')} ({row})"
        after = _described_values(row)
        parts = []
        for name, value in after.items():
            if before.get(name) == value:
                continue
            field = cast(models.Field, row._meta.get_field(name))  # a concrete field: ``_described_values``'
            old, new = value_in_words(field, before.get(name)), value_in_words(field, value)
            if old != new:
                parts.append(f"{field.verbose_name} : {old} → {new}")
        return f"{section} : {', '.join(parts)}" if parts else ""


def _record_change_by_candidate(
    *, dossier: Candidate, actor: User, row: models.Model, before: dict[str, Any] | None, deleted: bool = False
) -> int:
    """The candidate changed a section of their dossier (``row``: ``before`` its values before, None for a section
    added; ``deleted``) after transmitting: one ``DOSSIER_CHANGED_BY_CANDIDATE`` row, with the change in words, on
    each of their transmitted applications of the active campaign not cancelled, so that the commission sees what
    changed after it received the dossier (inside the caller's transaction). Nothing when the actor is not the
    dossier's candidate (staff write theirs with ``record_staff_change``), when no application is transmitted
    (``dossier`` comes from ``_lock_dossier``: no query), or when nothing changed. One query reads the applications,
    one INSERT writes the rows, whatever their number. Returns the number of rows."""
    if actor.pk != dossier.user_id or not dossier.has_transmitted:  # type: ignore[attr-defined]  # _lock_dossier's
        return 0
    if not deleted and before is not None and before == _described_values(row):
        return 0
    change = change_in_words(row, before, deleted=deleted)
    if not change:
        return 0
    ids = list(_transmitted_applications().filter(candidate_id=dossier.pk).order_by("pk").values_list("pk", flat=True))
    return _record_dossier_change(ids, kind=EventKind.DOSSIER_CHANGED_BY_CANDIDATE, actor=actor, changes=[change])


@dataclass(frozen=True)
class StaffEmailChange:
    """What ``staff_change_account_email`` did: ``refused`` (another account uses the address), or made, with
    ``recorded`` the change in words as written to the history just now, "" when the same change had been made a
    moment before (a double submit: the first one recorded it)."""

    refused: bool
    recorded: str = ""


def staff_change_account_email(*, account: User, new_email: str, actor: User) -> StaffEmailChange:
    """The central office or a candidates manager (eCandidat's gestionCandidat) replaces the address of a
    candidate's account, with or without a dossier yet: a helpdesk call ("I no longer read that mailbox", a mistyped
    address). The candidate's own service does it (``accounts.services.change_email``): the account keeps only the
    new address, to be validated by the link mailed to it before the next login, and an address used by another
    account of the campaign (or held by a staff account) is refused. Its owner is not mailed, unlike a candidate's
    attempt: the agent reads the exact refusal beside the field (staff: no enumeration to hide behind a mail), and
    the owner, who tried nothing, got a CPT_MIN_MODIF_MAIL_EXISTE at each attempt, without limit.
    Recorded with the actor in the history of each of the candidate's applications when there is a dossier
    (``record_staff_change``).

    The address it replaces is read under the account's lock: the same change submitted twice at once (a double
    click) finds it made by the first (``change_email`` then changes nothing) and records nothing more."""
    with transaction.atomic():
        locked = User.objects.select_for_update(of=("self",)).filter(pk=account.pk)
        old_email = locked.values_list("email", flat=True).get()
        if not change_email(user=account, new_email=new_email, actor=actor, may_mail_owner=lambda _email: False):
            return StaffEmailChange(refused=True)
        account.refresh_from_db(fields=["email"])
        if old_email == account.email:  # made a moment before, by the first of two submits
            return StaffEmailChange(refused=False)
        with translation.override(settings.LANGUAGE_CODE):
            change = _("Account e-mail address: %(old)s → %(new)s (to be validated by the link sent to it)") % {
                "old": old_email or "—",
                "new": account.email,
            }
        candidate = Candidate.objects.filter(user=account).select_related("user__campaign").first()
        if candidate is not None:
            record_staff_change(candidate=candidate, actor=actor, changes=[change])
    return StaffEmailChange(refused=False, recorded=change)
