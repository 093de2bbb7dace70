"""One value from what an ENT says of a person: a CAS attribute (``accounts.cas``) or an OpenID Connect claim
(``accounts.adapters``).

Both protocols may send a list where one value is meant: python-cas gives a multivalued CAS attribute as a list, and
a Keycloak mapper marked "multivalued" puts a JSON array in the ID token (``"supannEtuId": ["21912345"]``). The first
item is the value; a number is read as its digits; anything else (an object, ``true``) is no value, and is logged, so
that the ENT's configuration can be mended rather than ``"['21912345']"`` stored as a student number.
"""

import logging

logger = logging.getLogger(__name__)


def single_value(value, *, name: str = "") -> str:
    """``value`` as one string, stripped: the first item of a list (or tuple), a string as it is, an integer as its
    digits; "" for nothing (None, an empty list or string) and, with a warning naming ``name``, for a value of any
    other type."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if value is None:
        return ""
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value).strip()
    logger.warning("ENT claim %s ignored: a %s, not a string nor a number", name or "?", type(value).__name__)
    return ""
