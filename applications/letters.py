"""Admission and refusal letters (issue 12, ecandidat-features §1.13).

When a favourable or unfavourable decision is released (``staff.validate_decision``, a waiting-list promotion, an
accès direct), ``schedule_letter`` records a ``DecisionLetter`` for it when the centre (or the formation) has a
letter text, and queues its build after the commit (``applications.tasks.build_decision_letter``). The build renders
the text with the mail syntax (``ecandidat.mail_templates.render_source``: values are substituted once, never
interpreted) into a PDF with fpdf2 (title, author, subject and language set), with the centre's address and the
signature image, and stores it in the private storage, with the sha256 of what it printed (:func:`letter_digest`: the
text, the centre's address and the values). The download builds it first if the worker has not yet. A letter is built
again (besides staff regenerating it) when what it would print has changed: the formation's date de confirmation or
its délai changed for everyone, the candidate's name corrected, the formation's title…; every path that hands a built
letter out (the candidate's and the staff's downloads, the mail's attachment at delivery: :func:`open_letter`; « Mes
données »: :func:`rebuild_changed_letters`) compares the digest of its current values with the stored one and builds
it again when they differ, so that it never says « Confirmez avant le » a date that the recap, the mails and the
nightly withdrawal no longer use. The history says so (``letter_regenerated``, no one's action). A letter built before
its digest was recorded (an empty one) is not built again for that alone, nor is the letter of an application of a
past campaign (archived, read only): after the rollover the office changes the texts and the offer for the new year,
and the letter staff download for a dispute is the one its candidate received, as stored.

When the commission asks for it (``Commission.attach_letter_to_mail``, eCandidat ``tem_mail_lettre_comm``), the
decision's mail carries the letter: the outbox row records a reference (:func:`mail_attachment`) and the worker
reads the PDF at each attempt through :func:`attachment_content`, the provider this app registers
(``ecandidat.attachments``). A letter not built yet is built then; a storage outage or a failed build fails the
attempt, retried with the outbox's back-off (the mail never leaves without the letter it announces); a letter
whose row or text was deleted since leaves the mail without it: the outbox row's ``last_error`` records it and the
mail says so, naming the commission to ask for the letter (``ecandidat.emails.missing_notice``). The mail's link
then leads its candidate to a page that says the letter is not available, where the decision is and whom to ask
(the recap says the same, without a download button), never to a bare 404; a mail queued once the letter can no
longer be had does not promise it (:func:`letter_obtainable`).

With ``ADMISSION_LETTER_AFTER_CONFIRMATION`` (eCandidat DOWNLOAD_IS_LETTRE_ADM_APRES_CONFIRM) the admission letter
is withheld until the candidate confirms: the decision mail says nothing of it, the confirmation mail carries it
(``applications.services.candidature.confirm_application``), with the same reference and the same delivery.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from applications.dates import effective_confirmation_date
from applications.enums import EventKind
from applications.history import record_event
from applications.models import Application, Decision, DecisionLetter
from documents.storage import delete_file_on_commit, delete_quietly, flush, storage_unreachable
from ecandidat import parameters
from ecandidat.absolute_urls import absolute_url
from ecandidat.attachments import AttachmentRef, AttachmentUnavailable
from ecandidat.celery import registered_task
from ecandidat.downloads import StorageUnavailable, storage_errors
from ecandidat.exceptions import BusinessRuleError, InvalidTransition
from ecandidat.mail_templates import values_for
from offers.enums import Avis
from offers.letters import LETTER_TYPES, render_letter_pdf
from offers.models import Centre, Commission, DecisionLetterTemplate, Formation

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

# The history's "batch" of a letter built again because its file was gone (no one's action): by the mail's delivery
# (the outbox's sender), by the candidate's download, by a staff download from the back office.
MAIL_DELIVERY = "send_outbound_email"
CANDIDATE_DOWNLOAD = "letter_download"
STAFF_DOWNLOAD = "letter_staff_download"
REBUILT_COMMENTS = {
    MAIL_DELIVERY: lambda: _("%(letter)s: file missing, built again for its mail"),
    CANDIDATE_DOWNLOAD: lambda: _("%(letter)s: file missing, built again for its download"),
    STAFF_DOWNLOAD: lambda: _("%(letter)s: file missing, built again for a staff download"),
}
# What ``letter_values`` reads besides the letter's row: loaded with it, so that its digest costs no query per letter.
LETTER_RELATED = (
    "decision__decision_type",
    "decision__refusal_reason",
    "application__candidate__user",
    "application__formation__centre",
)

KIND_BY_AVIS: dict[str, str] = {
    Avis.FAVOURABLE: DecisionLetterTemplate.Kind.ADMISSION,
    Avis.UNFAVOURABLE: DecisionLetterTemplate.Kind.REFUSAL,
}


def template_for(application: Application, kind: str) -> DecisionLetterTemplate | None:
    """The formation's own letter, else its centre's, else None. The formation's own text is the formation's
    wherever it is filed: a text left in the former centre of a formation moved since (before its texts followed
    it, ``offers.services.move_letter_texts``) is still its letter, never replaced by the new centre's."""
    formation = application.formation
    return (
        DecisionLetterTemplate.objects.filter(kind=kind)
        .filter(Q(formation_id=formation.pk) | Q(formation__isnull=True, centre_id=formation.centre_id))
        .order_by(F("formation_id").asc(nulls_last=True))
        .first()
    )


def _date(day: datetime.date | datetime.datetime | None) -> str:
    return date_format(day, "d/m/Y") if day else ""


def letter_values(application: Application, decision: Decision, kind: str) -> dict[str, str | bool]:
    """The letter's variables, from the application and its decision (validated, or about to be: now)."""
    candidate = application.candidate
    formation = application.formation
    decision_type = decision.decision_type
    validated_at = decision.validated_at or timezone.now()
    context = {
        "institution_name": settings.INSTITUTION_NAME,
        "site_url": settings.SITE_URL,
        "first_name": candidate.first_name,
        "last_name": candidate.usual_name or candidate.birth_name,
        "numero_dossier": candidate.user.username,
        "birth_date": _date(candidate.birth_date),
        "formation_code": formation.code,
        "formation_title": formation.title,
        "centre_label": formation.centre.label,
        "decision_label": decision_type.candidate_label or decision_type.label,
        "decision_comment": decision.comment if decision_type.show_comment else "",
        "reason": decision.refusal_reason.label if decision.refusal_reason is not None else "",
        "confirmation_date": _date(effective_confirmation_date(application, validated_at)),
        "letter_date": _date(timezone.localtime(validated_at)),
    }
    return values_for(LETTER_TYPES[kind], context)


def _candidate_values(letter: DecisionLetter) -> dict[str, str | bool]:
    """:func:`letter_values` of ``letter`` (loaded with ``LETTER_RELATED``: no query) in its candidate's language,
    as the build renders them."""
    application = letter.application
    language = application.candidate.preferred_language or settings.LANGUAGE_CODE
    with translation.override(language):
        return letter_values(application, letter.decision, letter.kind)


def letter_digest(template: DecisionLetterTemplate, values: dict[str, str | bool]) -> str:
    """The sha256 (hex) of what :func:`render_letter_pdf` prints from ``template`` and ``values``: the text (which
    one, its title, body, signatory and signature image) with its centre's name and address, and the values (sorted
    JSON). ``template`` has its centre loaded, else a query reads it (the one the render makes anyway)."""
    printed = {
        "template": [
            template.pk,
            template.title,
            template.body,
            template.signatory,
            str(template.signature.name or ""),
            template.centre.label,
            template.centre.address,
        ],
        "values": values,
    }
    text = json.dumps(printed, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def schedule_letter(decision: Decision, *, actor: User | None) -> DecisionLetter | None:
    """Record the letter of a decision being released, inside the release's transaction, and queue its build
    after the commit; None when the avis has no letter or no text is set up. A rolled-back release (the preview)
    leaves nothing: the row goes with it and the queued build is discarded."""
    kind = KIND_BY_AVIS.get(decision.decision_type.avis)
    if kind is None or template_for(decision.application, kind) is None:
        return None
    letter = DecisionLetter.objects.create(
        decision=decision,
        application=decision.application,
        kind=kind,
        generated_at=timezone.now(),
        generated_by=actor,
    )
    # By name: applications.tasks imports this module to run the build (ecandidat.celery.registered_task).
    registered_task("applications.tasks.build_decision_letter").delay_on_commit(letter.pk)
    return letter


def letters_waiting_for(templates: Sequence[DecisionLetterTemplate]) -> list[str]:
    """What ``templates`` are still needed for (``offers.letters.register_deletion_check``, so that the text's admin
    refuses to delete them): the letters not built yet that a candidate can still download, those of their
    application's latest validated decision (an application with a decision is never cancelled) but an admission
    letter given up by a désistement (one withheld until the confirmation waits for its text too), each counted on
    the text it would be built from (``template_for``: the formation's own, wherever it is filed, else the centre's
    of the formation's centre). Two queries, whatever the number of texts."""
    if not templates:
        return []
    kinds = {template.kind for template in templates}
    centres = {template.centre_id for template in templates if template.formation_id is None}
    formations = {template.formation_id for template in templates if template.formation_id is not None}
    later = Decision.objects.filter(
        application_id=OuterRef("application_id"), validated_at__gt=OuterRef("decision__validated_at")
    )
    waiting = list(
        DecisionLetter.objects.filter(
            Q(application__formation__centre_id__in=centres) | Q(application__formation_id__in=formations),
            file="",
            kind__in=kinds,
            decision__validated_at__isnull=False,
        )
        .exclude(kind=DecisionLetterTemplate.Kind.ADMISSION, application__accepted=False)
        .exclude(Exists(later))
        .values_list("kind", "application__formation_id", "application__formation__centre_id")
    )
    if not waiting:
        return []
    own: dict[tuple[str, int], int] = {}
    centre_wide: dict[tuple[str, int], int] = {}
    texts = Q(formation__isnull=True, centre_id__in={centre_id for _kind, _formation_id, centre_id in waiting})
    texts |= Q(formation_id__in={formation_id for _kind, formation_id, _centre_id in waiting})
    for pk, kind, centre_id, formation_id in DecisionLetterTemplate.objects.filter(texts, kind__in=kinds).values_list(
        "pk", "kind", "centre_id", "formation_id"
    ):
        if formation_id is None:
            centre_wide[kind, centre_id] = pk
        else:
            own[kind, formation_id] = pk
    counts = Counter(
        own.get((kind, formation_id)) or centre_wide.get((kind, centre_id))
        for kind, formation_id, centre_id in waiting
    )
    return [
        ngettext(
            "%(text)s: %(count)d letter of a released decision is not built yet from this text (the worker, or the "
            "candidate's confirmation, will build it); change the text instead of deleting it.",
            "%(text)s: %(count)d letters of released decisions are not built yet from this text (the worker, or the "
            "candidate's confirmation, will build them); change the text instead of deleting it.",
            counts[template.pk],
        )
        % {
            "text": _("%(kind)s “%(title)s”") % {"kind": template.get_kind_display(), "title": template.title},
            "count": counts[template.pk],
        }
        for template in templates
        if counts[template.pk]
    ]


@transaction.atomic
def build_letter(
    letter_id: int, *, force: bool = False, actor: User | None = None, active_campaign_only: bool = False
) -> DecisionLetter | None:
    """Build (or with ``force``, rebuild) one letter's PDF and store it. Row-locked, so a worker and a download at
    the same time build it once. Returns None when the letter or its text no longer exists, and with
    ``active_campaign_only`` when its application is of a past campaign (read only: :func:`open_letter`), nothing
    written then; its campaign is read with its row (no other query)."""
    letter = (
        DecisionLetter.objects.select_for_update(of=("self",))
        .select_related(*LETTER_RELATED, "application__campaign")
        .filter(pk=letter_id)
        .first()
    )
    if letter is None or (letter.file and not force):
        return letter
    application = letter.application
    if active_campaign_only and not application.campaign.is_active:
        logger.warning("letter %s: its campaign %s is no longer active, not built", letter.pk, application.campaign)
        return None
    template = template_for(application, letter.kind)
    if template is None:
        logger.warning("letter %s: no %s text for %s any more", letter.pk, letter.kind, application.formation.code)
        return None
    values = _candidate_values(letter)
    pdf = render_letter_pdf(template, values)
    old_name = letter.file.name if letter.file else ""
    name = _write_letter(f"letters/{application.campaign_id}/{letter.public_id}.pdf", pdf)
    letter.file.name = name
    letter.size = len(pdf)
    letter.values_digest = letter_digest(template, values)
    fields = ["file", "size", "values_digest"]
    if force:
        letter.generated_at = timezone.now()
        letter.generated_by = actor
        fields += ["generated_at", "generated_by"]
    letter.save(update_fields=fields)
    if old_name and old_name != name:
        delete_file_on_commit(old_name)  # a storage that refuses leaves an orphan, never fails the rebuild
    return letter


def _write_letter(path: str, pdf: bytes) -> str:
    """Save and flush ``pdf`` under ``path`` (or the free name the storage makes of it) and return the stored name:
    on disk before the row names it, the former file going once the row commits. The local disk failing (full, an
    I/O error, at the write or at the flush) is ``StorageUnavailable``, the 503 page, as for a piece
    (``documents.services``), and whatever part of the file was written is deleted at once: the name is taken free
    before the write, the letter's row locked, so what is there after a failure is this build's.

    Not when the bucket could not be reached in time (``storage_unreachable``): a delete would wait as long again (a
    download building its letter would hold its request past gunicorn's timeout). What the PUT may have left is
    under "letters/", a prefix ``remove_orphan_files`` sweeps (``register_file_owner``), with a name no letter's row
    holds (this row keeps its former one): the nightly sweep deletes it."""
    name = default_storage.get_available_name(path)
    try:
        name = default_storage.save(name, ContentFile(pdf, name="letter.pdf"))
        flush(name)
    except OSError as error:
        if not storage_unreachable(error):
            delete_quietly(name)
        raise StorageUnavailable(f"{type(error).__name__}: {error}") from error
    return name


def letter_filename(letter: DecisionLetter) -> str:
    return filename_for(letter.kind, letter.application)


def filename_for(kind: str, application: Application) -> str:
    """The letter's file name (download and mail attachment); needs the candidate's user and the formation."""
    prefix = "lettre-admission" if kind == DecisionLetterTemplate.Kind.ADMISSION else "lettre-refus"
    return f"{prefix}-{application.candidate.user.username}-{slugify(application.formation.code)}.pdf"


# The key of this app's attachment provider (registered by ApplicationsConfig.ready()).
ATTACHMENT_PROVIDER = "applications.decision_letter"


def mail_attachment(letter: DecisionLetter, application: Application) -> AttachmentRef:
    """The reference the decision's mail records to carry ``letter`` (``application``: its application, with the
    candidate's user and the formation loaded; no query)."""
    return AttachmentRef(
        provider=ATTACHMENT_PROVIDER,
        key=str(letter.pk),
        filename=filename_for(letter.kind, application),
        mimetype="application/pdf",
    )


@dataclass(frozen=True)
class LetterMail:
    """What a mail says of a decision letter: its variables (``letter_url``, ``letter_attached``) and the letter
    itself as an attachment when the commission attaches letters to its mails."""

    context: dict[str, object]
    attachments: list[AttachmentRef]


NO_LETTER = LetterMail({"letter_url": "", "letter_attached": False}, [])


def letter_mail(letter: DecisionLetter | None, application: Application) -> LetterMail:
    """What the mail about ``application`` says of ``letter`` (None: nothing): the recap link that downloads it,
    and the letter attached when the commission asks for it (``Commission.attach_letter_to_mail``, eCandidat
    ``tem_mail_lettre_comm``). ``application`` has its candidate's user and its formation's commission loaded (no
    query)."""
    if letter is None:
        return NO_LETTER
    attached = application.formation.commission.attach_letter_to_mail
    url = absolute_url(reverse("applications:letter", args=[application.public_id]))
    return LetterMail(
        {"letter_url": url, "letter_attached": attached}, [mail_attachment(letter, application)] if attached else []
    )


def letter_contact(formation: Formation) -> str:
    """Whom the candidate asks for a letter that cannot be had (the mail's notice, the letter's page): the
    formation's commission with its e-mail and telephone, else its centre with its own, else the commission's name.
    ``formation`` has its commission loaded (its centre is read only when the commission has no contact)."""
    commission = formation.commission
    if details := _details(commission):
        return f"{commission.label} ({details})"
    centre = formation.centre
    if details := _details(centre):
        return f"{centre.label} ({details})"
    return commission.label


def _details(office: Commission | Centre) -> str:
    return ", ".join(value for value in (office.email, office.phone) if value)


def _contact(letter_id: int) -> str:
    """:func:`letter_contact` for letter ``letter_id`` ("" when its row is gone)."""
    letter = (
        DecisionLetter.objects.select_related("application__formation__commission", "application__formation__centre")
        .filter(pk=letter_id)
        .first()
    )
    return "" if letter is None else letter_contact(letter.application.formation)


def letter_obtainable(letter: DecisionLetter, application: Application) -> bool:
    """Whether ``letter`` can be had: built, or its text still there to build it (one query then) and its
    application of the active campaign (``application.campaign`` read). A letter whose text was deleted before it was
    built can never be had, nor can a past campaign's letter never built (:func:`open_letter` does not build it with
    the new year's text): no mail promises it, no page offers it."""
    if letter.file:
        return True
    return application.campaign.is_active and template_for(application, letter.kind) is not None


def admission_letter_withheld(application: Application, letter: DecisionLetter) -> bool:
    """No admission letter once the candidate withdrew, nor before they confirmed with
    ``ADMISSION_LETTER_AFTER_CONFIRMATION`` (eCandidat DOWNLOAD_IS_LETTRE_ADM_APRES_CONFIRM, §1.13): the rule of the
    recap and of the candidate's download (``applications.views_candidature``), and of « Mes données »."""
    if letter.kind != DecisionLetterTemplate.Kind.ADMISSION or application.accepted is True:
        return False
    return application.accepted is False or bool(parameters.get("ADMISSION_LETTER_AFTER_CONFIRMATION"))


def candidate_letters(applications: Sequence[Application]) -> dict[int, DecisionLetter]:
    """The letter each of ``applications`` gives its candidate now, by application id, with its decision loaded: the
    letter of its latest validated decision (``DecisionQuerySet.current_validated``: the one the recap offers and
    ``applications:letter`` downloads; a decision not validated is not released, its letter, if any, is not the
    candidate's), unless withheld (:func:`admission_letter_withheld`). A letter not built yet is in it: whether it can
    be had is :func:`letter_obtainable` (a query when it is not built). One query, whatever the number of
    applications (none without one); ``applications`` have their ``accepted`` loaded."""
    if not applications:
        return {}
    later = Decision.objects.filter(application_id=OuterRef("application_id"), validated_at__isnull=False).filter(
        Q(created_at__gt=OuterRef("decision__created_at"))
        | Q(created_at=OuterRef("decision__created_at"), pk__gt=OuterRef("decision_id"))
    )
    by_id = {application.pk: application for application in applications}
    letters = (
        DecisionLetter.objects.filter(application_id__in=list(by_id), decision__validated_at__isnull=False)
        .exclude(Exists(later))
        .select_related("decision")
    )
    return {
        letter.application_id: letter
        for letter in letters
        if not admission_letter_withheld(by_id[letter.application_id], letter)
    }


def _templates_for(letters: Sequence[DecisionLetter]) -> dict[int, DecisionLetterTemplate]:
    """:func:`template_for` of each of ``letters`` (loaded with their application's formation), by letter id, with
    its centre: one query, whatever their number. The formation's own text wins over its centre's, as there."""
    kinds = {letter.kind for letter in letters}
    formations = {letter.application.formation_id for letter in letters}
    centres = {letter.application.formation.centre_id for letter in letters}
    own: dict[tuple[str, int], DecisionLetterTemplate] = {}
    centre_wide: dict[tuple[str, int], DecisionLetterTemplate] = {}
    texts = DecisionLetterTemplate.objects.filter(
        Q(formation_id__in=formations) | Q(formation__isnull=True, centre_id__in=centres), kind__in=kinds
    ).select_related("centre")
    for template in texts:
        if template.formation_id is None:
            centre_wide[template.kind, template.centre_id] = template
        else:
            own[template.kind, template.formation_id] = template
    found = {}
    for letter in letters:
        formation = letter.application.formation
        text = own.get((letter.kind, formation.pk)) or centre_wide.get((letter.kind, formation.centre_id))
        if text is not None:
            found[letter.pk] = text
    return found


def rebuild_changed_letters(letters: Sequence[DecisionLetter], *, batch: str) -> dict[int, DecisionLetter]:
    """Build again those of ``letters`` whose current values (:func:`_candidate_values`, :func:`letter_digest`) differ
    from the ones they printed, the history saying so under ``batch`` (no one's action). Returns, by id, each letter
    checked (built, with a digest): built again, or as reloaded (with ``LETTER_RELATED``). A letter not built, built
    before its digest was recorded, or whose text is gone is left as it is; so is the letter of a past campaign's
    application (its campaign no longer active: read only, as its page says), returned as reloaded, never built
    again: its stored file is the letter its candidate received. Two queries (none when no letter of ``letters`` has
    a digest, one when they are all of past campaigns), whatever their number, and a build per letter changed."""
    ids = [letter.pk for letter in letters if letter.file and letter.values_digest]
    if not ids:
        return {}
    current = list(
        DecisionLetter.objects.filter(pk__in=ids)
        .select_related(*LETTER_RELATED, "application__campaign")
        .order_by("pk")
    )
    of_active_campaign = [letter for letter in current if letter.application.campaign.is_active]
    templates = _templates_for(of_active_campaign) if of_active_campaign else {}
    checked: dict[int, DecisionLetter] = {}
    for letter in current:
        if not letter.file or not letter.values_digest:
            continue
        if not letter.application.campaign.is_active:
            # A past campaign's application is read only: its letter is the one its candidate received, whatever
            # the text or the values say since the rollover (a new signatory, a formation's title reused).
            checked[letter.pk] = letter
            continue
        template = templates.get(letter.pk)
        if template is None:
            continue
        checked[letter.pk] = letter
        if letter_digest(template, _candidate_values(letter)) == letter.values_digest:
            continue
        logger.info("letter %s: its values changed, built again (%s)", letter.pk, batch)
        built = build_letter(letter.pk, force=True)
        if built is None:
            continue
        with translation.override(settings.LANGUAGE_CODE):  # the history is in the institution's language
            comment = _("%(letter)s: built again, its values had changed") % {"letter": built.get_kind_display()}
        record_event(built.application, kind=EventKind.LETTER_REGENERATED, batch=batch, comment=comment)
        checked[built.pk] = built
    return checked


def _of_past_campaign(letter: DecisionLetter) -> bool:
    """Whether ``letter``'s application is known, without a query, to be of a past campaign (no longer active): its
    application and campaign loaded (:func:`rebuild_changed_letters`). Otherwise ``build_letter`` reads it."""
    if not DecisionLetter.application.field.is_cached(letter):
        return False
    application = letter.application
    return Application.campaign.field.is_cached(application) and not application.campaign.is_active


def open_letter(letter: DecisionLetter, *, batch: str) -> tuple[DecisionLetter, IO[bytes]] | None:
    """``letter`` (reloaded if built or checked here) and its PDF opened for reading: built first if the worker has
    not yet, built again if what it would print has changed since (:func:`rebuild_changed_letters`: two queries for
    a letter with a digest, which load what its file name reads too) or if its file is gone from the storage (the
    history says so, under ``batch``: no one's action). None when it cannot be had: its text was deleted before it
    could be built, or it is the letter of a past campaign's application (its campaign no longer active: read only)
    that was never built or whose file is gone: it is never built now, with the new year's text and values, and
    handed out as the letter its candidate received (nothing written, no history line; its campaign is read with
    the row :func:`build_letter` locks, or known from the letter reloaded here). The storage failing otherwise than
    by a missing file is ``StorageUnavailable`` (``ecandidat.downloads.storage_errors``), which propagates."""
    if not letter.file:
        built = build_letter(letter.pk, active_campaign_only=True)
        if built is None:
            return None
        letter = built
    else:
        letter = rebuild_changed_letters([letter], batch=batch).get(letter.pk, letter)
    try:
        with storage_errors():  # any other failure of the storage is StorageUnavailable (the 503 page)
            return letter, default_storage.open(str(letter.file.name), "rb")
    except Http404:  # its file is missing
        if _of_past_campaign(letter):
            logger.warning(
                "letter %s: its file %s is gone, its campaign is no longer active: not built again (%s)",
                letter.pk,
                letter.file.name,
                batch,
            )
            return None
        logger.warning("letter %s: its file %s is gone, built again (%s)", letter.pk, letter.file.name, batch)
    rebuilt = build_letter(letter.pk, force=True, active_campaign_only=True)
    if rebuilt is None:
        return None
    with translation.override(settings.LANGUAGE_CODE):  # the history is in the institution's language
        comment = REBUILT_COMMENTS[batch]() % {"letter": rebuilt.get_kind_display()}
    record_event(rebuilt.application, kind=EventKind.LETTER_REGENERATED, batch=batch, comment=comment)
    with storage_errors():
        return rebuilt, default_storage.open(str(rebuilt.file.name), "rb")


def attachment_content(key: str) -> bytes:
    """The PDF of letter ``key`` for its mail, at delivery time (:func:`open_letter`). Raises
    ``AttachmentUnavailable`` when the letter's row or its text was deleted since, or when it is missing and of a past
    campaign (it can never be had), with the commission to ask for it; a storage error or a failed build propagates
    (the attempt is retried)."""
    letter = DecisionLetter.objects.filter(pk=int(key)).only("pk", "file", "values_digest").first()
    if letter is None:
        raise AttachmentUnavailable("the decision letter was deleted")
    opened = open_letter(letter, batch=MAIL_DELIVERY)
    if opened is None:
        # Either reason is final (the outbox's « Dernière erreur » names it): a past campaign's letter missing from
        # the storage or never built is not built with this year's text; otherwise its text was deleted.
        past = DecisionLetter.objects.filter(pk=letter.pk, application__campaign__is_active=False).exists()
        reason = "its campaign is no longer active: not built again" if past else "the letter text was deleted"
        raise AttachmentUnavailable(reason, contact=_contact(letter.pk))
    with opened[1] as handle:
        return handle.read()


def letter_response(letter: DecisionLetter, handle: IO[bytes] | None = None) -> FileResponse:
    """The stored PDF as a download (private: never cached, never sniffed); ``handle``: the file already opened
    (:func:`open_letter`). From a bucket, the object is downloaded as the response reads its size: the bucket cutting
    or stalling it then is ``StorageUnavailable`` too (the 503 page)."""
    with storage_errors():
        if handle is None:
            handle = default_storage.open(str(letter.file.name), "rb")
        response = FileResponse(
            handle, as_attachment=True, filename=letter_filename(letter), content_type="application/pdf"
        )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


@transaction.atomic
def regenerate_letter(application: Application, *, actor: User) -> DecisionLetter:
    """Staff rebuild the letter of the application's latest validated decision from the current text (after a
    correction of the text or of the candidate's name), or make it when the text was set up after the release."""
    application = Application.objects.select_for_update(of=("self",)).get(pk=application.pk)
    decision = application.decisions.select_related("decision_type").current_validated()
    kind = KIND_BY_AVIS.get(decision.decision_type.avis) if decision is not None else None
    if decision is None or kind is None:
        raise InvalidTransition(_("Only a validated favourable or unfavourable decision has a letter."))
    if template_for(application, kind) is None:
        raise BusinessRuleError(_("No letter text is set up for this centre or formation."))
    letter, _created = DecisionLetter.objects.get_or_create(
        decision=decision,
        defaults={"application": application, "kind": kind, "generated_at": timezone.now(), "generated_by": actor},
    )
    built = build_letter(letter.pk, force=True, actor=actor)
    assert built is not None  # the text exists: checked above, in this transaction
    record_event(application, kind=EventKind.LETTER_REGENERATED, actor=actor, comment=built.get_kind_display())
    return built
