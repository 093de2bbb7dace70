"""One value from what an ENT says of a person: a CAS attribute (``accounts.cas``) or an OpenID Connect claim
(``accounts.adapters``).

Both protocols may send a list where one value is meant: python-cas gives a multivalued CAS attribute as a list, and
a Keycloak mapper marked "multivalued" puts a JSON array in the ID token (``"supannEtuId": ["21912345"]``). The first
item is the value; a number is read as its digits; anything else (an object, ``true``) is no value, and is logged, so
that the ENT's configuration can be mended rather than ``"['21912345']"`` stored as a student number. A string with
a control character (a NUL, which PostgreSQL refuses in any text: a 500 where it was written) is no value either.
"""

import logging
import unicodedata

logger = logging.getLogger(__name__)


def has_control_character(text: str) -> bool:
    """Whether ``text`` holds a control character (NUL, a tab, a line break…) or a lone surrogate: nothing an ENT
    says of a person holds one, and PostgreSQL refuses a NUL (a 500 wherever it is compared or written)."""
    return any(unicodedata.category(char) in {"Cc", "Cs"} for char in text)


def single_value(value, *, name: str = "") -> str:
    """``value`` as one string, stripped: the first item of a list (or tuple), a string as it is, an integer as its
    digits; "" for nothing (None, an empty list or string) and, with a warning naming ``name``, for a value of any
    other type or a string with a control character (``has_control_character``)."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if value is None:
        return ""
    if isinstance(value, str):
        text = value.strip()
        if has_control_character(text):
            logger.warning("ENT claim %s ignored: a control character in %r", name or "?", text[:80])
            return ""
        return text
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    logger.warning("ENT claim %s ignored: a %s, not a string nor a number", name or "?", type(value).__name__)
    return ""
