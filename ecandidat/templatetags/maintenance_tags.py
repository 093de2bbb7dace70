"""The maintenance switches as templates read them, without a query once cached (``ecandidat.maintenance``)."""

from django import template

from ecandidat.maintenance import uploads_state

register = template.Library()


@register.simple_tag
def uploads_maintenance() -> dict[str, bool | str]:
    """``{"paused": …, "message": …}``: whether the piece uploads are in maintenance (eCandidat
    ``TECH_IS_DEMAT_MAINTENANCE``) and the central office's message, for the banner above the pieces."""
    paused, message = uploads_state()
    return {"paused": paused, "message": message}
