"""Background work of the applications app."""

from celery import shared_task

from applications.packs import build_pack


# A pack of a few hundred dossiers takes minutes: its own time limits, above the project's default.
@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3700)
def build_commission_pack(pack_id: int) -> None:
    """Build one commission pack (``applications.packs.build_pack``); claimed once, so a redelivery is a no-op."""
    build_pack(pack_id)
