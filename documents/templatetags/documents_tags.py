from django import template
from django.conf import settings
from django.template.loader import render_to_string
from django.utils.translation import get_language

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


_UPLOAD_TEXTS: dict[tuple[str | None, int, int], str] = {}


@register.simple_tag
def upload_texts() -> str:
    """The pieces table's upload help and the upload script's messages (``includes/upload_texts.html``).

    They depend on nothing but the language, ``UPLOAD_MAX_BYTES`` and ``MAX_PAGES``: rendered once per process for
    each, they are kept (issue 14: half a millisecond of every recap and pieces page). With ``DEBUG`` on, rendered
    every time, so that an edited template shows at once. The HTML is a ``SafeString`` (what a template renders), so
    the tag does not escape it."""
    key = (get_language(), settings.UPLOAD_MAX_BYTES, MAX_PAGES)
    html = None if settings.DEBUG else _UPLOAD_TEXTS.get(key)
    if html is None:
        html = render_to_string("includes/upload_texts.html", {"upload_max_bytes": key[1]})
        _UPLOAD_TEXTS[key] = html
    return html
