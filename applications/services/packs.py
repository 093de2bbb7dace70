"""Asking for a commission pack (issue 11): the request is recorded, the build runs in the background
(``applications.tasks.build_commission_pack`` → ``applications.packs.build_pack``).

A build whose task was never queued (the broker unreachable when the request committed: ``ecandidat.celery.Task``
logs it and goes on) is not lost: the pack stays PENDING in the database, and its page, which its requester watches
(it refreshes itself every few seconds), queues the build again once the pack has waited ``PACK_REQUEUE_AFTER``
(``requeue_lost_pack``); past ``PACK_NEVER_STARTED_AFTER`` the page shows it failed
(``applications.packs.is_stalled``). No periodic sweeper for those: a pack is only wanted by the one who watches its
page, and one nobody looks at is pruned (``PACK_RETENTION``).

A build whose worker process was killed (the OOM killer, ``kill -9``) is taken back by the beat sweeper
(``requeue_stalled_packs``, run by ``applications.tasks.requeue_stalled_jobs``): the delivery that follows the kill
at once finds the pack's progress fresh and does nothing."""

import datetime

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import User
from applications.lost_tasks import requeue_if_lost, requeue_if_stalled
from applications.models import Application, CommissionPack
from applications.packs import PACK_NEVER_STARTED_AFTER, PACK_REQUEUE_AFTER, PACK_STALE_AFTER, prune_packs
from applications.tasks import build_commission_pack
from ecandidat.exceptions import BusinessRuleError
from offers.models import PieceType

PACK_LIMIT = 500


def all_cancelled_refusal(count: int) -> str:
    """Why a selection of ``count`` applications, all cancelled, makes no pack (:func:`request_pack`; the piece
    pack's form says it before a piece is chosen)."""
    return ngettext(
        "The selected application is cancelled: there is no dossier to put in a pack.",
        "The %(count)d selected applications are all cancelled: there is no dossier to put in a pack.",
        count,
    ) % {"count": count}


def request_pack(
    *,
    actor: User,
    application_ids: list[int],
    kind: str = CommissionPack.Kind.ZIP,
    piece_type: PieceType | None = None,
) -> CommissionPack:
    """Record a pack of ``application_ids`` (all visible to ``actor``, at most ``PACK_LIMIT``) as a ZIP of dossier
    PDFs, one merged PDF, or a ZIP of one piece of each dossier (``kind``; the piece is ``piece_type``) and queue its
    build after commit. Side effects: deletes packs past ``PACK_RETENTION``.

    The cancelled applications of the selection are left out of the pack's applications and of its ``total``, as
    its build leaves them out (``applications.packs.build_pack``): its page counts only what it holds. Nothing else
    is left out, so ``len(set(application_ids)) - pack.total`` is how many were (``_queue_pack`` says so); a
    selection of cancelled applications only is refused. Read in the scope's query: no query more."""
    if (kind == CommissionPack.Kind.PIECE) != (piece_type is not None):
        raise BusinessRuleError(_("Choose the piece to download."))
    ids = sorted(set(application_ids))
    if not ids:
        raise BusinessRuleError(_("Select at least one application."))
    if len(ids) > PACK_LIMIT:
        raise BusinessRuleError(_("At most %(limit)d dossiers in one pack; narrow the list.") % {"limit": PACK_LIMIT})
    cancelled_at = dict(Application.objects.visible_to(actor).filter(pk__in=ids).values_list("pk", "cancelled_at"))
    if set(cancelled_at) != set(ids):
        raise BusinessRuleError(_("Some of these applications are not in your scope."))
    live = [pk for pk in ids if cancelled_at[pk] is None]
    if not live:
        raise BusinessRuleError(all_cancelled_refusal(len(ids)))
    prune_packs()
    pack = CommissionPack.objects.create(
        requested_by=actor,
        application_ids=live,
        total=len(live),
        kind=CommissionPack.Kind(kind),
        piece_type=piece_type,
    )
    build_commission_pack.delay_on_commit(pack.pk)
    return pack


def requeue_lost_pack(pack: CommissionPack, *, now: datetime.datetime | None = None) -> bool:
    """Queue again the build of ``pack`` when it is still PENDING ``PACK_REQUEUE_AFTER`` after it was asked for, or
    after it was last queued again here, and not yet shown failed (``PACK_NEVER_STARTED_AFTER``); True when it was
    (``applications.lost_tasks.requeue_if_lost``, shared with the releases of decisions). A message queued again
    for a pack still waiting in the queue costs only a claim that finds nothing to do
    (``applications.packs.build_pack``)."""
    return requeue_if_lost(
        pack,
        task=build_commission_pack,
        requeue_after=PACK_REQUEUE_AFTER,
        never_started_after=PACK_NEVER_STARTED_AFTER,
        now=now,
    )


def requeue_stalled_packs(*, now: datetime.datetime | None = None) -> int:
    """Queue again the build of every RUNNING pack without progress for ``PACK_STALE_AFTER`` (its worker was killed)
    asked for less than ``STALLED_RETAKEN_WITHIN`` ago; how many were (``applications.lost_tasks.requeue_if_stalled``).
    Its claim takes it back and builds it from the start (``applications.packs.build_pack``)."""
    return requeue_if_stalled(CommissionPack, task=build_commission_pack, stale_after=PACK_STALE_AFTER, now=now)
