"""The one writer of an application's history (house-style §3: every change writes a row).

Every service records through ``record_event`` (one application) or ``record_events`` (the same event on several
applications, e.g. a shared piece); ``kind`` is an ``EventKind``. A row has an actor, or, for a nightly command,
no actor and the batch's name (a database constraint holds it).
"""

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from django.db.models import QuerySet

from applications.enums import EventKind
from applications.models import Application, ApplicationEvent
from offers.models import Formation, PieceType, collation_key

if TYPE_CHECKING:
    from accounts.models import User


def _row(
    application_id: int,
    *,
    kind: EventKind,
    actor: "User | None",
    batch: str,
    from_status: str,
    to_status: str,
    comment: str,
) -> ApplicationEvent:
    if actor is None and not batch:
        raise ValueError("A history row needs an actor, or the batch that acted.")
    return ApplicationEvent(
        application_id=application_id,
        actor=actor,
        batch=batch if actor is None else "",
        kind=EventKind(kind),
        from_status=from_status,
        to_status=to_status,
        comment=comment,
    )


def record_event(
    application: Application,
    *,
    kind: EventKind,
    actor: "User | None" = None,
    batch: str = "",
    from_status: str = "",
    to_status: str = "",
    comment: str = "",
) -> ApplicationEvent:
    """Write one history row on ``application`` (inside the caller's transaction)."""
    row = _row(
        application.pk,
        kind=kind,
        actor=actor,
        batch=batch,
        from_status=from_status,
        to_status=to_status,
        comment=comment,
    )
    row.save()
    return row


def record_events(
    application_ids: Iterable[int],
    *,
    kind: EventKind,
    actor: "User | None" = None,
    batch: str = "",
    to_status: str = "",
    comment: str = "",
) -> list[ApplicationEvent]:
    """The same history row on each of ``application_ids`` (one query)."""
    return ApplicationEvent.objects.bulk_create(
        _row(pk, kind=kind, actor=actor, batch=batch, from_status="", to_status=to_status, comment=comment)
        for pk in application_ids
    )


def record_tags_change(
    application: Application, *, actor: "User", added: Iterable[str], removed: Iterable[str]
) -> ApplicationEvent | None:
    """One ``TAGS_CHANGED`` row naming the tags put on (``added``) and taken off (``removed``) by their labels at the
    time (a tag renamed or deleted later leaves the history as it was); none when nothing changed. The comment is
    data, ``{"added": [...], "removed": [...]}``, put in words in the reader's language by the history's page
    (``tags_change``), in dictionary order."""
    comment = _tags_comment(added, removed)
    if comment is None:
        return None
    return record_event(application, kind=EventKind.TAGS_CHANGED, actor=actor, comment=comment)


def record_tags_removals(removed: Mapping[int, Iterable[str]], *, actor: "User") -> list[ApplicationEvent]:
    """A ``TAGS_CHANGED`` row on each application of ``removed`` (application id → the labels of the tags taken off
    it), as ``record_tags_change`` writes it: tags deleted by staff, taken off every application that carried them
    (``admin.tags.TagAdmin``). One INSERT, whatever the number of applications."""
    rows = []
    for pk, labels in sorted(removed.items()):
        comment = _tags_comment((), labels)
        if comment is not None:
            rows.append(
                _row(
                    pk,
                    kind=EventKind.TAGS_CHANGED,
                    actor=actor,
                    batch="",
                    from_status="",
                    to_status="",
                    comment=comment,
                )
            )
    return ApplicationEvent.objects.bulk_create(rows)


def _tags_comment(added: Iterable[str], removed: Iterable[str]) -> str | None:
    """A ``TAGS_CHANGED`` row's comment: ``{"added": [...], "removed": [...]}`` in dictionary order; None when
    nothing changed."""
    added, removed = sorted(added, key=collation_key), sorted(removed, key=collation_key)  # « À revoir » among the A's
    if not added and not removed:
        return None
    return json.dumps({"added": added, "removed": removed}, ensure_ascii=False)


def tags_change(comment: str) -> tuple[list[str], list[str]] | None:
    """The (added, removed) labels of a ``TAGS_CHANGED`` row's comment; None for a comment not written by
    ``record_tags_change``."""
    try:
        data = json.loads(comment)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    added, removed = data.get("added", []), data.get("removed", [])
    if not all(
        isinstance(labels, list) and all(isinstance(label, str) for label in labels) for labels in (added, removed)
    ):
        return None
    return added, removed


def _live_applications(candidate_id: int) -> QuerySet[Application]:
    """The candidate's applications that are not cancelled."""
    return Application.objects.filter(candidate_id=candidate_id, cancelled_at__isnull=True)


def live_applications_asking_for(candidate_id: int, piece_type: PieceType) -> list[int]:
    """The ids of the candidate's live applications (not cancelled) whose formation asks for
    ``piece_type``: where a shared piece's events go (one query, whatever the number of applications).

    The rule of ``applications.pieces.applicable_piece_types``, read from the piece's side: a common piece of the
    institution (no centre) is asked for by every formation, a centre's common piece by the formations of that centre
    only, any other piece by the formations it is attached to. Not by the applications of another centre: the
    comment of a centre's manager on its piece (« Refusée: taux d'incapacité illisible »), and who wrote it, are not
    in the history another centre's staff read. In service or not, of the application's type de traitement or not:
    an application lists a filled piece in any case (``piece_rows``, ``PieceRow.requested``), and every event here is
    about a filled piece (sent, removed, declared (not) concerned, checked, quarantined).
    """
    applications = _live_applications(candidate_id)
    if not piece_type.is_common:
        attached = Formation.piece_types.through.objects.filter(piecetype_id=piece_type.pk).values("formation_id")
        applications = applications.filter(formation_id__in=attached)
    elif piece_type.centre_id is not None:
        applications = applications.filter(formation__centre_id=piece_type.centre_id)
    return list(applications.values_list("pk", flat=True))
