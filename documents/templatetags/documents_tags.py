from django import template
from django.conf import settings

from documents.merge import MAX_PAGES
from documents.validation import format_size

register = template.Library()


@register.simple_tag
def upload_max_size() -> str:
    """The configured size limit of one piece, e.g. "2 MB" / "2 Mo"."""
    return format_size(settings.UPLOAD_MAX_BYTES)


@register.simple_tag
def upload_max_photos() -> int:
    """How many photos of one document can be sent at once (merged into one PDF, ``documents.merge``)."""
    return MAX_PAGES
