"""Text from people, before it is stored. PostgreSQL refuses the NUL character (0x00) in text: no keyboard types it,
but a forged request or an odd paste can carry it, and the database would answer with an error (a 500). Form fields
refuse it already (Django's ``ProhibitNullCharactersValidator``); the values that services take straight from a
request (answers, comments, notes) are checked with :func:`check_savable`, and query strings by
``ecandidat.middleware.RefuseNulInQueryString``.
"""

from django.utils.text import Truncator
from django.utils.translation import gettext

from ecandidat.exceptions import BusinessRuleError, FieldRuleError

NUL = "\x00"

# Django's history keeps an object's name (``LogEntry.object_repr``) in 200 characters, cut from ``str(obj)``.
LOGGED_NAME_LENGTH = 200


def check_savable(value: str, *, field: str | None = None) -> None:
    """Refuse ``value`` when the database could not store it: ``FieldRuleError`` naming ``field`` (the view shows
    the message next to it), or ``BusinessRuleError`` without one."""
    if NUL not in value:
        return
    message = gettext("This text contains a character that cannot be saved (NUL): remove it, then save again.")
    if field is not None:
        raise FieldRuleError(message, field=field)
    raise BusinessRuleError(message)


def logged_name(text: str) -> str:
    """An object's name (its ``str``) as Django's history can keep it whole: the whole text up to 200 characters
    (``LogEntry.object_repr``), a longer one cut with « … » rather than by Django, mid-word and without a sign. The
    history, the « Historique » page's title and Django's « Suppression de … » messages then name the object whole;
    a list that wants it shorter cuts it itself."""
    return Truncator(text).chars(LOGGED_NAME_LENGTH)
