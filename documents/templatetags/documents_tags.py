from django import template
from django.conf import settings

from documents.validation import format_size

register = template.Library()


@register.simple_tag
def upload_max_size() -> str:
    """The configured size limit of one piece, e.g. "2 MB" / "2 Mo"."""
    return format_size(settings.UPLOAD_MAX_BYTES)
