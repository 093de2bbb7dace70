"""One application's page in the back office, laid out for reading a whole dossier (issue 11).

The commission reads in this order: identity and contact, baccalauréat, cursus interne and externe, stages,
expériences, complementary forms' answers, pieces (status, history, preview, check), decisions and, for who may
decide, the form that enters the next one (« Saisir un avis »), history in French words with the actor, then the
internal notes and tags. Every persona whose scope covers the application reads it; outsiders get a 404 (the
lookup goes through ``Application.objects.visible_to``). What staff do from the page (check pieces, notes, tags,
preview) lives in ``review_actions``; the avis entered from it, in ``operations``.

The page costs the same number of queries whatever the number of pieces, decisions, notes or history rows: each
list is one query (``select_related`` for its foreign keys), the pieces' history is grouped in Python from the
history query.

"Suivant" / "Précédent" walk the list as filtered and sorted: the admin carries the list's query string in
``_changelist_filters``; the neighbours are read from the same ``ChangeList`` (ids only).
"""

from __future__ import annotations

import copy
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.contrib.admin.views.main import ChangeList
from django.db.models import Q
from django.http import QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, npgettext, pgettext

from applications.admin.filters import ALL_CAMPAIGNS, CampaignFilter
from applications.dates import confirmation_date as current_confirmation_date
from applications.dates import effective_return_deadline
from applications.enums import AUTOMATIC_DECISION_AUTHORS, DecisionAction, DossierStatus, EventKind, PieceStatus
from applications.forms_tab import form_rows, waiting_rows
from applications.history import tags_change
from applications.letters import KIND_BY_AVIS
from applications.models import ApplicationTag, Opi, Tag
from applications.notifications import decision_topic
from applications.pieces import piece_rows, validatable_pieces
from applications.questions import question_rows
from applications.services import review as review_services
from applications.services.staff import WAITING_LIST_BATCH
from documents.enums import OPENABLE_SCANS
from documents.preview import preview_infos
from ecandidat import parameters
from ecandidat.batch_labels import batch_label
from ecandidat.models import OutboundEmail
from ecandidat.staff import is_central
from offers.enums import Avis

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

logger = logging.getLogger(__name__)

# How far "Suivant" / "Précédent" look in the filtered list (ids only): beyond, the list must be narrowed.
NEIGHBOUR_LIMIT = 20_000
# Pieces are previewed as PNG images the server renders (``documents.preview``: PDF pages through PDFium, images
# re-encoded by Pillow), shown with <img>: the candidate's file itself never reaches the browser, so it cannot run
# in the app's origin. The PNG response is sandboxed anyway and never sniffed.
PREVIEW_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'"

# --- history in French words -------------------------------------------------------------------------------------

PIECE_STATUS_LABELS: dict[str, StrOrPromise] = {
    PieceStatus.VALIDATED: gettext_lazy("Piece validated"),
    PieceStatus.REFUSED: gettext_lazy("Piece refused"),
    PieceStatus.SUBMITTED: gettext_lazy("Piece to check again"),
    PieceStatus.WAITING: gettext_lazy("Piece expected again"),
}
PIECE_KINDS = frozenset(
    {
        "piece_status",
        "piece_uploaded",
        "piece_uploaded_by_staff",
        "piece_removed",
        "piece_concerned",
        "piece_not_concerned",
        "piece_quarantined",
    }
)
# Kinds whose comment is the decision type's label (the central office's French), or the processing types' labels
# and the reason staff typed, written in the institution's language (``applications.services.staff``), as are the
# new deadlines, a deleted note's author and date, and a refused piece's comment with its date to replace it by
# (``staff.extend_deadlines``, ``review.delete_note``, ``pieces.set_piece_status``), and the dates the nightly
# reminders name (« date de confirmation 30/06/2027 », ``nightly``): marked ``lang="fr"`` for an English reader
# (RGAA 8.7). Other comments may be in the language of whoever acted.
FRENCH_COMMENT_KINDS = frozenset(
    {
        EventKind.DECISION_ENTERED,
        EventKind.DECISION_VALIDATED,
        EventKind.DECISION_DELETED,
        EventKind.WAITING_LIST_PROMOTION,
        EventKind.DIRECT_ACCESS,
        EventKind.ADMISSION_PROPOSED,
        EventKind.TREATMENT_TYPE,
        EventKind.DEADLINES,
        EventKind.NOTE_DELETED,
        EventKind.PIECE_STATUS,
        EventKind.TRANSMISSION_REMINDED,
        EventKind.CONFIRMATION_REMINDED,
        EventKind.QUESTIONS_ANSWERED,
        EventKind.QUESTIONS_ENTERED_BY_STAFF,
        EventKind.DOSSIER_CHANGED_BY_CANDIDATE,  # the candidate's change in words (``services.dossier``)
    }
)


@dataclass
class HistoryLine:
    at: Any
    text: str
    piece_code: str = ""
    refused: bool = False  # a piece refused (``PieceItem.replaced_refusal_at``)


@dataclass
class NoteItem:
    """An internal note as the page shows it, with whether the reader may delete it (its author, the central
    office: ``review.may_delete_note``)."""

    note: Any
    can_delete: bool = False


def _piece_code_and_detail(comment: str, codes: dict[str, str]) -> tuple[str, str, str]:
    """Piece events store ``"<piece code>: <comment>"``: (code, piece label, comment)."""
    code, sep, detail = comment.partition(": ")
    if code in codes:
        return code, codes[code], detail if sep else ""
    if comment in codes:
        return comment, codes[comment], ""
    return "", "", comment


def _sentence(template: str, **parts: Any) -> SafeString:
    """``template % parts`` as HTML: the sentence and its parts escaped, a part already HTML (a label marked with its
    language) kept."""
    escaped = {key: conditional_escape(part) for key, part in parts.items()}
    return mark_safe(conditional_escape(template) % escaped)  # noqa: S308 - every part escaped above


def _tags_detail(comment: str) -> str:
    """A ``TAGS_CHANGED`` row's tags in words: "added “Dossier prioritaire”; removed “À revoir”" (« ajoutée
    « Dossier prioritaire » ; retirée « À revoir » »), as HTML. The labels are the staff's French, marked
    ``lang="fr"`` for an English reader (RGAA 8.7); a comment not written as tags is shown as it is."""
    change = tags_change(comment)
    if change is None:
        return comment
    added, removed = change
    parts = []
    if added:
        parts.append(_sentence(npgettext("tags", "added %(tags)s", "added %(tags)s", len(added)), tags=_quoted(added)))
    if removed:
        parts.append(
            _sentence(npgettext("tags", "removed %(tags)s", "removed %(tags)s", len(removed)), tags=_quoted(removed))
        )
    separator = conditional_escape(pgettext("between two parts of a list", "; "))
    return mark_safe(separator.join(parts))  # noqa: S308 - every part escaped by _sentence


def _quoted(labels: list[str]) -> SafeString:
    """Labels in the reader's quotation marks, each marked French, separated by commas: "“A”, “B”"."""
    return mark_safe(  # noqa: S308 - every label escaped by _sentence
        ", ".join(
            _sentence(_("“%(label)s”"), label=format_html('<span lang="fr">{}</span>', label)) for label in labels
        )
    )


# The kinds whose words already say the candidate did it: their line does not add « par le candidat ».
KINDS_NAMING_THE_CANDIDATE = {EventKind.DOSSIER_CHANGED_BY_CANDIDATE}


def history_line(
    event, codes: dict[str, str], *, with_actor: bool = True, candidate_user_id: int | None = None
) -> HistoryLine:
    """One history row as a sentence with its actor, in the reader's language and typography: "Pièce refusée
    « Relevé » par gestionnaire.see : scan illisible", "Piece refused “Relevé” by gestionnaire.see: scan illisible"
    (without ``with_actor``, where the actor is the reader: "Pièce refusée : scan
    illisible"). ``candidate_user_id``: the account of the application's candidate, whose own actions read « … par le
    candidat » (their login is their dossier number, which told staff nothing). HTML: the piece's label is the staff's
    French, marked ``lang="fr"`` for an English reader (RGAA 8.7), as the comment of a decision
    (``FRENCH_COMMENT_KINDS``)."""
    piece_code, piece_label, detail = "", "", event.comment
    if event.kind == "piece_status":
        what = str(PIECE_STATUS_LABELS.get(event.to_status, _("Piece status changed")))
    elif event.kind == "dossier_status" and event.to_status in DossierStatus.values:
        what = _("Dossier status: %(from)s → %(to)s") % {
            "from": DossierStatus(event.from_status).label if event.from_status in DossierStatus.values else "—",
            "to": DossierStatus(event.to_status).label,
        }
    elif event.kind in EventKind.values:
        what = str(EventKind(event.kind).label)
    else:
        what = event.kind.replace("_", " ")
    if event.kind == EventKind.TAGS_CHANGED:
        detail = _tags_detail(event.comment)
    if event.kind in PIECE_KINDS:
        piece_code, piece_label, detail = _piece_code_and_detail(event.comment, codes)
        if piece_label:
            piece = format_html('<span lang="fr">{}</span>', Truncator(piece_label).chars(80))
            what = _sentence(_("%(what)s “%(piece)s”"), what=what, piece=piece)
    if not with_actor and event.actor_id is not None:
        text = conditional_escape(what)
    elif event.kind in KINDS_NAMING_THE_CANDIDATE and event.actor_id == candidate_user_id:
        text = conditional_escape(what)  # « Dossier modifié par le candidat… » says who already
    elif event.actor_id is not None and event.actor_id == candidate_user_id:
        text = _sentence(_("%(what)s by the candidate"), what=what)
    elif event.kind == EventKind.QUESTIONS_ENTERED_BY_STAFF and event.actor_id is not None:
        text = _sentence(_("%(what)s by %(actor)s for the candidate"), what=what, actor=event.actor.get_username())
    elif event.actor_id is not None:
        text = _sentence(_("%(what)s by %(actor)s"), what=what, actor=event.actor.get_username())
    elif event.batch == WAITING_LIST_BATCH:
        # No person acted: the same words as the decision it made (« … par gestion automatique des listes
        # complémentaires », eCandidat's autoListComp), not the batch's code.
        text = _sentence(
            _("%(what)s by %(actor)s"),
            what=what,
            actor=AUTOMATIC_DECISION_AUTHORS[DecisionAction.WAITING_LIST_PROMOTION],
        )
    elif event.batch:
        text = _sentence(_("%(what)s (batch “%(batch)s”)"), what=what, batch=batch_label(event.batch))
    else:
        text = conditional_escape(what)
    if detail and event.kind in FRENCH_COMMENT_KINDS:
        detail = format_html('<span lang="fr">{}</span>', detail)
    if detail:
        text = _sentence(
            "%(text)s%(colon)s%(detail)s",
            text=text,
            colon=pgettext("between a name and what is said of it", ": "),
            detail=detail,
        )
    refused = event.kind == "piece_status" and event.to_status == PieceStatus.REFUSED
    return HistoryLine(at=event.created_at, text=text, piece_code=piece_code, refused=refused)


# --- the dossier ------------------------------------------------------------------------------------------------


# A piece check the services refused (``review_actions.piece_check_view``): what was typed, kept in the session for
# the page the refusal redirects to, which shows it again with the message next to its field, once.
PIECE_CHECK_RETRY = "applications.piece_check_retry"
# A note the services refused (``review_actions.note_view``): its text, shown again in the form once.
NOTE_RETRY = "applications.note_retry"
# « Saisir un avis » on the page itself (issue: the commission chose a motivation or a rank on a page that showed none
# of the dossier, two page loads a dossier): the operation whose form the section holds, the section's anchor, and
# an entry sent from it and refused (``operations.operation_view``), what was posted kept in the session for the page
# the refusal redirects to, which shows the form again with each error next to its field, once.
DECISION_OPERATION = "enter_decision"
DECISION_ANCHOR = "decision-entry"
# The error summary of an operation's form (includes/operation_form.html), which a refused entry comes back to.
DECISION_ERRORS_ANCHOR = "operation-errors"
DECISIONS_ANCHOR = "decisions"  # the Avis table, where an avis entered in the section above appears
DECISION_RETRY = "applications.decision_retry"
DECISION_FROM_REVIEW = "_from_review"  # a hidden field of the section's form: refused, the entry comes back here
# The name of "Confirm and open the next application", on the operation's page of one application and in the section.
NEXT = "_next"


@dataclass
class PieceCheckRetry:
    comment: str = ""
    replace_by: str = ""
    field: str = ""  # "comment", "replace_by" or "" (the message concerns the whole check)
    error: str = ""


@dataclass
class PieceItem:
    row: Any
    retry: PieceCheckRetry = field(default_factory=PieceCheckRetry)
    preview_pages: list[tuple[int, str]] = field(default_factory=list)  # (page number, PNG url)
    preview_total: int = 0
    preview_truncated: bool = False
    preview_message: str = ""
    download_url: str = ""
    history: list[HistoryLine] = field(default_factory=list)
    actions: list[tuple[str, StrOrPromise]] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return f"piece-{self.row.piece_type.pk}"

    @property
    def can_refuse(self) -> bool:
        return any(value == PieceStatus.REFUSED for value, _label in self.actions)

    @property
    def replaced_refusal_at(self) -> Any:
        """When the file awaiting a check (« Transmise ») replaced a refused one (the candidate's new file, or staff's
        on their behalf): the piece's latest refusal, from its history (no query), when its file was uploaded after
        it; None otherwise (a refusal undone by staff keeps the refused file)."""
        document = self.row.document
        if self.row.status != PieceStatus.SUBMITTED or document is None:
            return None
        refused_at = max((line.at for line in self.history if line.refused), default=None)
        return refused_at if refused_at is not None and document.uploaded_at > refused_at else None


def _piece_items(application, rows, history, *, can_check: bool, retry: dict | None = None) -> list[PieceItem]:
    by_code: dict[str, list[HistoryLine]] = defaultdict(list)
    for line in history:
        if line.piece_code:
            by_code[line.piece_code].append(line)
    openable = [row.document for row in rows if row.document and row.document.scan_status in OPENABLE_SCANS]
    infos = preview_infos(openable)  # no query: the cache, and the storage for a PDF never seen before
    items = []
    for row in rows:
        item = PieceItem(row=row, history=by_code.get(row.piece_type.code, []))
        if retry and row.submission is not None and retry.get("piece") == str(row.submission.public_id):
            item.retry = PieceCheckRetry(
                comment=retry.get("comment", ""),
                replace_by=retry.get("replace_by", ""),
                field=retry.get("field", ""),
                error=mark_safe(retry.get("error", "")),  # noqa: S308 - escaped when kept (review_actions._refused)
            )
        document = row.document
        if document is not None and document.scan_status in OPENABLE_SCANS:
            item.download_url = reverse("pieces:staff_download", args=[row.submission.public_id])
            if (info := infos.get(document.pk)) is not None:
                preview_url = reverse(
                    "admin:applications_application_piece_preview", args=[application.pk, row.submission.public_id]
                )
                item.preview_pages = [(page, f"{preview_url}?page={page}") for page in info.shown_pages]
                item.preview_total = info.pages
                item.preview_truncated = info.truncated
                item.preview_message = info.message
        if can_check and row.submission is not None and row.submission.document_id is not None:
            # An action already done is not offered again (the service also ignores a replay); a file staff could not
            # open (the antivirus has not cleared it) is not validated unseen (the service refuses it too).
            if row.status != PieceStatus.VALIDATED and document is not None and document.scan_status in OPENABLE_SCANS:
                item.actions.append((PieceStatus.VALIDATED, _("Validate")))
            if row.status != PieceStatus.REFUSED:
                item.actions.append((PieceStatus.REFUSED, _("Refuse")))
        items.append(item)
    return items


def candidate_title(application) -> str:
    return application.candidate.staff_name


def page_title(application) -> str:
    """ "NOM Prénom — formation"."""
    return f"{candidate_title(application)} — {application.formation.title}"


def _one_to_one(candidate, name):
    try:
        return getattr(candidate, name)
    except Exception:  # noqa: BLE001 - RelatedObjectDoesNotExist: the candidate has not filled this part
        return None


def list_filters(request) -> str:
    return request.GET.get("_changelist_filters", "") or request.POST.get("_changelist_filters", "")


def list_url(request) -> str:
    """The applications list as it was filtered and sorted when the dossier was opened (``_changelist_filters``)."""
    filters = list_filters(request)
    return reverse("admin:applications_application_changelist") + (f"?{filters}" if filters else "")


def change_url(application_pk: int, filters: str, anchor: str = "") -> str:
    url = reverse("admin:applications_application_change", args=[application_pk])
    if filters:
        url += "?" + urlencode({"_changelist_filters": filters})
    return url + (f"#{anchor}" if anchor else "")


def neighbours(model_admin, request, application) -> dict[str, Any]:
    """Previous and next applications of the list as filtered and sorted (one query on ids, plus the list's own
    filter choices), with the position "3 / 42"."""
    filters = list_filters(request)
    nav: dict[str, Any] = {
        "position": 0,
        "count": 0,
        "previous_url": "",
        "next_url": "",
        "list_url": list_url(request),
    }
    listing = copy.copy(request)
    listing.GET = QueryDict(filters)
    try:
        changelist: ChangeList = model_admin.get_changelist_instance(listing)
        ids = list(changelist.queryset.prefetch_related(None).values_list("pk", flat=True)[:NEIGHBOUR_LIMIT])
    except Exception:  # noqa: BLE001 - a stale or hand-made filter string: no navigation rather than an error
        logger.info("review navigation: unusable list filters %r", filters)
        return nav
    if application.pk in ids:
        index = ids.index(application.pk)
        nav.update(position=index + 1, count=len(ids))
        previous_ids, next_ids = ids[:index], ids[index + 1 :]
    elif not _of_the_listed_campaign(changelist, application):
        # Never in this list (last year's application opened from a link while the list shows this year's): no
        # navigation, rather than this year's applications "around the place it held".
        return nav
    else:
        # The action just taken moved the application out of the list ("Pièces à contrôler" once its last piece
        # is checked, "Avis à valider" once validated): its neighbours are those around the place it held, in the
        # list's order, so the manager goes on from here rather than from the list.
        previous_ids, next_ids = _around_the_place_it_held(changelist, application)
        if not (previous_ids or next_ids):
            return nav
        nav["left_the_list"] = True
    nav.update(
        previous_url=change_url(previous_ids[-1], filters) if previous_ids else "",
        next_url=change_url(next_ids[0], filters) if next_ids else "",
    )
    return nav


def _of_the_listed_campaign(changelist: ChangeList, application) -> bool:
    """Whether the list shows ``application``'s campaign (its « Par campagne » filter; an action never moves an
    application to another campaign)."""
    spec = next((spec for spec in changelist.filter_specs if isinstance(spec, CampaignFilter)), None)
    shown = spec.shown() if spec is not None else ALL_CAMPAIGNS
    return shown in (ALL_CAMPAIGNS, str(application.campaign_id))


def _around_the_place_it_held(changelist: ChangeList, application) -> tuple[list[int], list[int]]:
    """The ids before and after ``application`` in the list's order, the list's filters and search set aside for it
    alone (one query, only when it is no longer in the list)."""
    listed = changelist.queryset.prefetch_related(None)
    alone = changelist.root_queryset.filter(pk=application.pk)
    if listed.query.distinct:
        alone = alone.distinct()
    try:
        # Once each: widened by OR, a filter across a relation (a tag) joins this application's rows once per link.
        ids = list(dict.fromkeys((listed | alone).values_list("pk", flat=True)[: NEIGHBOUR_LIMIT + 1]))
    except Exception:  # noqa: BLE001 - a list whose query cannot be widened: the navigation is left out
        logger.info("review navigation: the list could not be widened to application %s", application.pk)
        return [], []
    if application.pk not in ids:
        return [], []
    index = ids.index(application.pk)
    return ids[:index], ids[index + 1 :]


def review_context(model_admin, request, application, *, can_manage: bool, can_decide: bool) -> dict[str, Any]:
    """Everything the page shows, in a fixed number of queries."""
    candidate = application.candidate
    rows = piece_rows(application)
    codes = {row.piece_type.code: row.piece_type.label for row in rows}
    events = list(application.events.select_related("actor").order_by("created_at", "id"))
    history = [history_line(event, codes, candidate_user_id=candidate.user_id) for event in events]
    tag_links = list(ApplicationTag.objects.filter(application=application).select_related("tag"))
    current_tags = {link.tag_id for link in tag_links}
    # In service and of the application's centre (or global); those already on it stay listed, to be taken off.
    usable_tags = list(
        Tag.objects.usable_by(request.user).filter(
            Q(in_service=True, pk__in=Tag.objects.usable_on(application).values("pk")) | Q(pk__in=current_tags)
        )
    )
    filters = list_filters(request)
    return {
        "application": application,
        "candidate": candidate,
        "user_account": candidate.user,
        "address": _one_to_one(candidate, "address"),
        "bac": _one_to_one(candidate, "baccalaureate"),
        "internal_cursus": list(candidate.internal_cursus.all()),
        "external_cursus": list(candidate.external_cursus.all()),
        "internships": list(candidate.internships.all()),
        "work_experiences": list(candidate.work_experiences.all()),
        # With the answers to forms retired or taken off the formation since, as the questions' (``unlisted``).
        "form_rows": form_rows(application, unlisted=True),
        "question_rows": question_rows(application),
        "piece_items": _piece_items(
            application, rows, history, can_check=can_manage, retry=request.session.pop(PIECE_CHECK_RETRY, None)
        ),
        # "Valider toutes les pièces transmises" posts the files it offers: one sent or replaced since is not
        # validated unseen (``services.pieces.validate_shown_pieces``).
        "validatable_documents": [
            str(row.document.public_id)
            for row in validatable_pieces(rows)
            if row.document is not None  # always: validatable pieces have their file
        ],
        "decisions": list(
            application.decisions.select_related(
                "decision_type", "refusal_reason", "created_by", "validated_by", "letter"
            )
        ),
        "history": history,
        "notes": [
            NoteItem(note, can_delete=can_decide and review_services.may_delete_note(note, request.user))
            for note in application.notes.select_related("author")
        ],
        "tag_links": tag_links,
        "usable_tags": usable_tags,
        "current_tags": current_tags,
        # A manager of some commissions reads the centre's tags but does not make them (TagAdmin): no link to a 403.
        "can_add_tag": can_manage and model_admin.admin_site._registry[Tag].has_add_permission(request),
        "can_manage": can_manage,
        "can_decide": can_decide,
        "can_write_notes": can_decide,
        "changelist_filters": filters,
        "changelist_query": urlencode({"_changelist_filters": filters}) if filters else "",
        "nav": neighbours(model_admin, request, application),
        "dossier_pdf_url": reverse("pieces:staff_dossier_pdf", args=[application.public_id]),
        "note_max_length": review_services.NOTE_MAX_LENGTH,
        "note_retry": request.session.pop(NOTE_RETRY, None),
        "today": timezone.localdate(),
        # The dates the candidate was given (« Prolonger les dates » never shortens them): from the application as
        # the page reads it, with its formation, campaign and current decisions (``get_object``), no query.
        "return_deadline": effective_return_deadline(application),
        "confirmation_date": current_confirmation_date(application),
        # The OPI are the central office's (``Opi.objects.visible_to``): its state for them only, one query.
        "opi": Opi.objects.filter(application=application).first() if is_central(request.user) else None,
    }


# Operations offered on the page only while the latest decision is not validated yet.
PENDING_DECISION_ONLY = frozenset({"validate_decisions", "delete_last_decision"})


def _latest_validated(decisions):
    """The latest validated decision among those the page shows (no query), or None."""
    validated = [decision for decision in decisions if decision.validated_at is not None]
    return max(validated, key=lambda decision: (decision.created_at, decision.pk), default=None)


def _decision_with_letter(decisions):
    """The latest validated decision when it has a letter (its row in the Avis table links the staff download), or
    None: an older decision's letter is not the one in force. From what the page has (the letter is joined)."""
    latest = _latest_validated(decisions)
    return latest if latest is not None and getattr(latest, "letter", None) is not None else None


def _answer_operations_out_of_place(application, decisions) -> set[str]:
    """The answers staff cannot record now (the services refuse them anyway): confirming needs a validated
    favourable decision and no answer yet; a withdrawal, no withdrawal yet and a favourable decision."""
    latest = _latest_validated(decisions)
    favourable = latest is not None and latest.decision_type.avis == Avis.FAVOURABLE
    hidden = set()
    if application.accepted is not None or not favourable:
        hidden.add("confirm_on_behalf")
    if application.accepted is False or (application.accepted is None and not favourable):
        hidden.add("withdraw_on_behalf")
    return hidden


def _letter_and_reminder_out_of_place(decisions, form_rows) -> set[str]:
    """ "Régénérer la lettre de décision" needs a validated favourable or unfavourable latest decision, "Relancer les
    formulaires non répondus" a form still waiting (the services refuse the rest anyway). From what the page has."""
    hidden = set()
    latest = _latest_validated(decisions)
    if latest is None or latest.decision_type.avis not in KIND_BY_AVIS:
        hidden.add("regenerate_letter")
    if not waiting_rows(form_rows):
        hidden.add("remind_forms")
    return hidden


def questions_url(application, *, decisions, can_manage: bool, asks_questions: bool) -> str:
    """The link to "Saisir les réponses aux questions" (``applications.admin.on_behalf.questions_view``), "" when
    not offered: the user does not manage the application, it asks no question, it is cancelled or has a validated
    decision. Read from what the page already has: no query."""
    if not (can_manage and asks_questions) or application.cancelled_at is not None:
        return ""
    if any(decision.validated_at is not None for decision in decisions):
        return ""
    return reverse("admin:applications_application_on_behalf_questions", args=[application.pk])


def _decision_entry(request, application, operations, decisions) -> dict[str, Any]:
    """The section « Saisir un avis »: the form of the operation's own page (``Operation.form``) with the page's
    address to post to, for a user to whom the page offers the operation (``operations_for``: an application of the
    active campaign the user may decide on, the operation in use); nothing for anyone else. Its hidden "shown
    decisions" holds the latest decision of the Avis table above it (``decisions``): no query but the form's own
    lists (decision types, refusal reasons). Its fields' ids start with the section's anchor, unique on the page
    (the pieces' checks have a "comment" too). An entry sent from here and refused comes back once
    (``DECISION_RETRY``): what was posted, validated again, and the services' refusal above the fields."""
    retry = request.session.pop(DECISION_RETRY, None)
    offered = [(operation, url) for operation, url in operations if operation.name == DECISION_OPERATION]
    if not offered:
        return {"decision_form": None}
    operation, url = offered[0]
    data = None
    if retry and retry.get("application") == application.pk:
        data = QueryDict(mutable=True)
        for name, values in retry.get("data", {}).items():
            data.setlist(name, values)
    newest = sorted(decisions, key=lambda decision: (decision.created_at, decision.pk), reverse=True)
    form = operation.form(request, data, application, newest=newest, auto_id=f"{DECISION_ANCHOR}-%s")
    if data is not None:
        form.is_valid()
        if retry.get("refusal"):
            form.add_error(None, retry["refusal"])
    filters = list_filters(request)
    # The dossier not « Complet », the confirmation the decision will cancel: said as on the operation's page (no
    # query: ``operation.preview`` reads the latest decisions from the form's, above).
    notes = operation.preview(request, [application]) if operation.preview else {}
    return {
        "decision_form": form,
        "decision_action": url + (f"?{urlencode({'_changelist_filters': filters})}" if filters else ""),
        "decision_warnings": [*notes.get("incomplete_dossiers", ()), *notes.get("confirmed_answers", ())],
        "decision_from_review": DECISION_FROM_REVIEW,
        "next_name": NEXT,
    }


def _decision_mails(application, decisions) -> list[OutboundEmail]:
    """The mails about the application's decision (its decision mails, their centre copies, the reminders), oldest
    first, with their state: a decision mail refused for good was seen only in « Mails sortants », which only the
    central office opens, and the centre went on waiting for an answer the candidate never had. One query, and none
    before a decision is validated (none is mailed before)."""
    if not any(decision.validated_at is not None for decision in decisions):
        return []
    return list(
        OutboundEmail.objects.filter(topic=decision_topic(application))
        .only(
            "created_at", "to", "language", "subject", "status", "attempts", "last_error", "sent_at", "cancel_reason"
        )
        .order_by("created_at", "pk")
    )


def review_page(model_admin, request, application, *, operations, can_manage: bool, can_decide: bool):
    """The application's page (GET of the admin's change view)."""
    dossier = review_context(model_admin, request, application, can_manage=can_manage, can_decide=can_decide)
    # The buttons that act on the latest decision only while it waits for validation (the services refuse the
    # rest anyway): read from the decisions the page shows, no query more.
    latest = max(dossier["decisions"], key=lambda decision: (decision.created_at, decision.pk), default=None)
    hidden = _answer_operations_out_of_place(application, dossier["decisions"])
    hidden |= _letter_and_reminder_out_of_place(dossier["decisions"], dossier["form_rows"])
    if latest is None or latest.validated_at is not None:
        hidden |= PENDING_DECISION_ONLY
    operations = [(operation, url) for operation, url in operations if operation.name not in hidden]
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "original": application,
        "title": page_title(application),
        "subtitle": None,
        "has_view_permission": True,
        "is_nav_sidebar_enabled": False,  # one readable column; the apps are one link away
        "operations": operations,
        "questions_url": questions_url(
            application,
            decisions=dossier["decisions"],
            can_manage=can_manage,
            asks_questions=any(row.asked for row in dossier["question_rows"]),
        ),
        "regime_entry": parameters.get("SIS_REGIME_ENTRY"),  # eCandidat GEST_IS_UTILISE_REG_STU: régime and fees shown
        "latest_decision": latest,  # said at the top: on a phone the Avis table is screens below
        "letter_decision": _decision_with_letter(dossier["decisions"]),
        "decision_mails": _decision_mails(application, dossier["decisions"]),
        "outbox_central": is_central(request.user),  # « Mails sortants » is the central office's: a link for them only
        **_decision_entry(request, application, operations, dossier["decisions"]),
        **dossier,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/applications/application/review.html", context)
