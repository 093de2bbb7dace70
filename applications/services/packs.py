"""Asking for a commission pack (issue 11): the request is recorded, the build runs in the background
(``applications.tasks.build_commission_pack`` → ``applications.packs.build_pack``).

A build whose task was never queued (the broker unreachable when the request committed: ``ecandidat.celery.Task``
logs it and goes on) is not lost: the pack stays PENDING in the database, and its page, which its requester watches
(it refreshes itself every few seconds), queues the build again once the pack has waited ``PACK_REQUEUE_AFTER``
(``requeue_lost_pack``); past ``PACK_NEVER_STARTED_AFTER`` the page shows it failed
(``applications.packs.is_stalled``). No periodic sweeper: a pack is only wanted by the one who watches its page, and
one nobody looks at is pruned (``PACK_RETENTION``)."""

import datetime
import logging

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from applications.models import Application, CommissionPack
from applications.packs import PACK_REQUEUE_AFTER, is_stalled, prune_packs
from applications.tasks import build_commission_pack
from ecandidat.exceptions import BusinessRuleError
from offers.models import PieceType

logger = logging.getLogger(__name__)

PACK_LIMIT = 500


def request_pack(
    *,
    actor: User,
    application_ids: list[int],
    kind: str = CommissionPack.Kind.ZIP,
    piece_type: PieceType | None = None,
) -> CommissionPack:
    """Record a pack of ``application_ids`` (all visible to ``actor``, at most ``PACK_LIMIT``) as a ZIP of dossier
    PDFs, one merged PDF, or a ZIP of one piece of each dossier (``kind``; the piece is ``piece_type``) and queue its
    build after commit. Side effects: deletes packs past ``PACK_RETENTION``."""
    if (kind == CommissionPack.Kind.PIECE) != (piece_type is not None):
        raise BusinessRuleError(_("Choose the piece to download."))
    ids = sorted(set(application_ids))
    if not ids:
        raise BusinessRuleError(_("Select at least one application."))
    if len(ids) > PACK_LIMIT:
        raise BusinessRuleError(_("At most %(limit)d dossiers in one pack; narrow the list.") % {"limit": PACK_LIMIT})
    visible = set(Application.objects.visible_to(actor).filter(pk__in=ids).values_list("pk", flat=True))
    if visible != set(ids):
        raise BusinessRuleError(_("Some of these applications are not in your scope."))
    prune_packs()
    pack = CommissionPack.objects.create(
        requested_by=actor, application_ids=ids, total=len(ids), kind=CommissionPack.Kind(kind), piece_type=piece_type
    )
    build_commission_pack.delay_on_commit(pack.pk)
    return pack


def requeue_lost_pack(pack: CommissionPack, *, now: datetime.datetime | None = None) -> bool:
    """Queue again the build of ``pack`` when it is still PENDING ``PACK_REQUEUE_AFTER`` after it was asked for, or
    after it was last queued again here; True when it was. The publish is after commit and never raises: with the
    broker still unreachable, the next view after ``PACK_REQUEUE_AFTER`` tries again.

    ``progress_at``, which a PENDING pack does not otherwise use (the build's claim stamps it anew), records the
    queueing again; the conditional update claims it, so that views at the same time (the page refreshes itself
    every few seconds) queue it once. A message queued again for a pack still waiting in the queue costs only a
    claim that finds nothing to do (``applications.packs.build_pack``). No query for a pack not due."""
    now = now or timezone.now()
    due = now - PACK_REQUEUE_AFTER
    if (
        pack.status != CommissionPack.Status.PENDING
        or pack.created_at >= due
        or (pack.progress_at is not None and pack.progress_at >= due)
        or is_stalled(pack, now=now)  # shown failed (« relancez la demande »): not built behind its page
    ):
        return False
    queued_again = CommissionPack.objects.filter(
        Q(progress_at__isnull=True) | Q(progress_at__lt=due),
        pk=pack.pk,
        status=CommissionPack.Status.PENDING,
        created_at__lt=due,
    ).update(progress_at=now)
    if not queued_again:
        return False
    pack.progress_at = now
    logger.warning("commission pack %s still waiting for its build: queued again", pack.public_id)
    build_commission_pack.delay_on_commit(pack.pk)
    return True
