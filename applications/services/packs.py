"""Asking for a commission pack (issue 11): the request is recorded, the build runs in the background
(``applications.tasks.build_commission_pack`` → ``applications.packs.build_pack``)."""

from django.utils.translation import gettext as _

from accounts.models import User
from applications.models import Application, CommissionPack
from applications.packs import prune_packs
from applications.tasks import build_commission_pack
from ecandidat.exceptions import BusinessRuleError
from offers.models import PieceType

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
