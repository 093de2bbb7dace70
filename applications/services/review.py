"""The commission's workspace (issue 11): checking all pieces at once, "Complet" with a reason, notes and tags.

Every write locks the application row first (``select_for_update(of=("self",))``) and writes its history row in
the same transaction, like the other staff services.
"""

import datetime
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import User
from applications.enums import DossierStatus, EventKind, PieceStatus
from applications.history import record_event, record_tags_change
from applications.models import Application, ApplicationNote, ApplicationTag, Tag
from applications.pieces import PieceRow, piece_rows
from applications.services import staff
from ecandidat.exceptions import BusinessRuleError
from ecandidat.staff import is_central
from ecandidat.text import check_savable

NOTE_MAX_LENGTH = 2000
# A note its author already saved this long ago, with the same text, is not saved again: the second request of a
# double click on « Ajouter la note » (or a form sent again) is the same note, not a second one.
NOTE_REPEAT_WINDOW = datetime.timedelta(seconds=10)
# A piece is "checked" once validated, or declared not concerned by the candidate.
CHECKED = frozenset({PieceStatus.VALIDATED, PieceStatus.NOT_CONCERNED})


def _lock(application: Application) -> Application:
    return Application.objects.select_for_update(of=("self",)).get(pk=application.pk)


def unchecked_pieces(application: Application, rows: list[PieceRow] | None = None) -> list[PieceRow]:
    """The pieces that stop a dossier from being plainly "Complet": waiting, submitted (not checked) or refused, and
    a piece declared not concerned that was made required since (``PieceRow.is_now_required``: it is missing)."""
    return [
        row
        for row in (piece_rows(application) if rows is None else rows)
        if row.status not in CHECKED or (row.requested and row.is_now_required)
    ]


def _short(label: str) -> str:
    """A piece's label cut to 40 characters with an ellipsis ("Relevés de notes depuis le bac (1er seme" read as
    a typo)."""
    return Truncator(label).chars(40)


def set_dossier_status_checked(
    application: Application,
    *,
    target: str,
    actor: User,
    comment: str = "",
    force_reason: str = "",
    on: datetime.date | None = None,
    expected_status: str | None = None,
) -> Application:
    """Set the dossier status like ``staff.set_dossier_status``, refusing "Complet" while pieces are unchecked or
    refused unless ``force_reason`` is given; that reason is written to the history (``complete_forced``) with
    the pieces concerned, in the same transaction as the status change (which mails STATUT_CO).

    ``expected_status``: the status the page showed (``staff.set_dossier_status``): changed since, the change is
    refused with that message, before the pieces are looked at."""
    force_reason = (force_reason or "").strip()
    with transaction.atomic():
        locked = _lock(application) if target == DossierStatus.COMPLETE else None
        # A status changed meanwhile is refused by ``staff.set_dossier_status`` (below), whatever the pieces.
        if locked is not None and expected_status in (None, locked.dossier_status):
            unchecked = unchecked_pieces(application)
            if unchecked and not force_reason:
                raise BusinessRuleError(
                    ngettext(
                        "%(count)d piece not validated (%(pieces)s): tick the confirmation and give a reason "
                        "to set the dossier complete anyway.",
                        "%(count)d pieces not validated (%(pieces)s): tick the confirmation and give a reason "
                        "to set the dossier complete anyway.",
                        len(unchecked),
                    )
                    % {
                        "count": len(unchecked),
                        "pieces": ", ".join(
                            f"{_short(row.piece_type.label)} – {row.status.label}" for row in unchecked
                        ),
                    }
                )
            if unchecked:
                record_event(
                    application,
                    actor=actor,
                    kind=EventKind.COMPLETE_FORCED,
                    comment=f"{force_reason} ({', '.join(_short(row.piece_type.label) for row in unchecked)})",
                )
        return staff.set_dossier_status(
            application, target=target, actor=actor, comment=comment, on=on, expected_status=expected_status
        )


def add_note(*, application: Application, actor: User, text: str) -> ApplicationNote:
    """Add a timestamped internal note ("bloc-notes"); staff only, never shown to the candidate, no mail.

    Line ends are stored as ``\n``: a browser posts a textarea's line breaks as CR LF but counts each as one
    character against its ``maxlength``, so a note the page accepted must not be refused as too long.

    The same text as the author's latest note on the application, saved less than ``NOTE_REPEAT_WINDOW`` ago, is
    that note sent twice (a double click): nothing is written, that note is returned. Checked under the
    application's lock, so that two requests at once see each other."""
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise BusinessRuleError(_("Write the note before saving it."))
    if len(text) > NOTE_MAX_LENGTH:
        raise BusinessRuleError(_("A note has at most %(max)d characters.") % {"max": NOTE_MAX_LENGTH})
    check_savable(text)
    with transaction.atomic():
        _lock(application)
        latest = application.notes.filter(author=actor).order_by("-created_at", "-pk").first()
        if latest is not None and latest.text == text and timezone.now() - latest.created_at < NOTE_REPEAT_WINDOW:
            return latest
        return ApplicationNote.objects.create(application=application, author=actor, text=text)


def may_delete_note(note: ApplicationNote, user: User) -> bool:
    """eCandidat's bloc-notes lets staff delete notes (§2.3): here its author, and the central office any note (a
    remark that should not have been written). Who may write notes at all is checked by the caller's scope
    (``decidable_by``)."""
    return note.author_id == user.pk or is_central(user)


def delete_note(*, note: ApplicationNote, actor: User) -> None:
    """Delete one internal note for good; the application's history keeps who deleted whose note of when, never
    its text (deleting a note is how a mistaken or unfair remark goes)."""
    if not may_delete_note(note, actor):
        raise BusinessRuleError(_("Only the author of a note, or the central office, may delete it."))
    with transaction.atomic():
        application = _lock(note.application)
        deleted = ApplicationNote.objects.filter(pk=note.pk).delete()[0]
        if not deleted:  # deleted meanwhile (two tabs): nothing to record twice
            return
        with translation.override(settings.LANGUAGE_CODE):  # the history is read in the institution's language
            comment = _("note by %(author)s of %(date)s") % {
                "author": note.author.get_username(),
                "date": date_format(timezone.localtime(note.created_at), "SHORT_DATETIME_FORMAT"),
            }
        record_event(application, actor=actor, kind=EventKind.NOTE_DELETED, comment=comment)


def change_tags(
    *, application: Application, actor: User, add: Iterable[Tag] = (), remove: Iterable[Tag] = ()
) -> tuple[int, int]:
    """Put the tags ``add`` on the application and take ``remove`` off it, leaving its other tags (the bulk
    "Étiquettes" on a selection, where each application keeps what it had); returns (added, removed). A tag of
    another centre than the application's is refused (:func:`_check_centre`). A change is written to the history
    with its actor and the tags' names (``TAGS_CHANGED``, staff only); nothing changed, no row."""
    add = list(add)
    adding, removing = {tag.pk for tag in add}, {tag.pk for tag in remove}
    with transaction.atomic():
        _lock(application)
        current = _labels_on(application)
        added = {tag.pk: tag for tag in add if tag.pk not in current}
        removed = (removing & current.keys()) - adding
        _check_centre(application, added.values())
        _apply(application, actor, added=added, removed=removed, current=current)
    return len(added), len(removed)


def set_tags(*, application: Application, actor: User, tags: Iterable[Tag]) -> tuple[int, int]:
    """Make ``tags`` the application's tags (eCandidat's mass action "Tags": set the list); returns (added,
    removed). The caller passes tags the actor may use; tags out of service already on the application are
    kept unless the caller leaves them out. A tag of another centre than the application's is refused
    (:func:`_check_centre`). A change is written to the history as by :func:`change_tags`."""
    tags = list(tags)
    wanted = {tag.pk for tag in tags}
    with transaction.atomic():
        _lock(application)
        current = _labels_on(application)
        added = {tag.pk: tag for tag in tags if tag.pk not in current}
        removed = current.keys() - wanted
        _check_centre(application, added.values())
        _apply(application, actor, added=added, removed=removed, current=current)
    return len(added), len(removed)


def _labels_on(application: Application) -> dict[int, str]:
    """The tags on the application, id → label (the labels for the history of those taken off): one query."""
    return dict(ApplicationTag.objects.filter(application=application).values_list("tag_id", "tag__label"))


def _apply(
    application: Application, actor: User, *, added: dict[int, Tag], removed: set[int], current: dict[int, str]
) -> None:
    """Take the tags ``removed`` off, put ``added`` (id → tag) on and write the change's history row, with the
    actor and the tags' labels (none when nothing changed): a query each, whatever the number of tags."""
    if removed:
        ApplicationTag.objects.filter(application=application, tag_id__in=removed).delete()
    ApplicationTag.objects.bulk_create(
        [ApplicationTag(application=application, tag_id=pk, added_by=actor) for pk in sorted(added)]
    )
    record_tags_change(
        application,
        actor=actor,
        added=[tag.label for tag in added.values()],
        removed=[current[pk] for pk in removed],
    )


def _check_centre(application: Application, tags: Iterable[Tag]) -> None:
    """A tag goes only on applications of its centre (a global tag, none, on any): eCandidat offers the
    application's centre's tags and the global ones. A member of staff who reads two centres, or the central
    office, would otherwise mark a centre's application with another's tag, which its own staff never see."""
    for tag in tags:
        if tag.centre_id is not None and tag.centre_id != application.formation.centre_id:
            raise BusinessRuleError(
                _("The tag “%(tag)s” belongs to another centre: it cannot be put on this application.")
                % {"tag": tag.label}
            )
