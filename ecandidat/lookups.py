"""``accents_icontains``: "contains", case and accents aside, on any database (PostgreSQL whatever its collation,
SQLite for ``make run``), for the back office's name searches.

Names are stored with their accents (« LEFÈVRE », « Éloïse »); staff on the phone type them as they are spelt
aloud (« lefevre », « eloise »), and Django's ``icontains`` found nothing (and on SQLite not even « lefèvre », its
LIKE folding ASCII only). The lookup is Django's ``iregex`` with a pattern made from the typed word: each letter that
has accented forms becomes the class of all of them in both cases (``e`` and ``é`` both become
``[eéèêëEÉÈÊË]``), « oe » and « ae » also match « œ » and « æ » (and the other way round), every other character is
escaped, so the word matches as a plain substring. Names are stored as typed, and a phone types « D’ARTAGNAN » (its
typographic apostrophe) or « JEAN–PIERRE » where the helpdesk types « d'artagnan », « jean-pierre »: each apostrophe
of ``APOSTROPHES`` becomes the class of all of them, each hyphen or dash of ``HYPHENS`` the class of all of them. Used
in ``search_fields`` as ``"birth_name__accents_icontains"`` (Django's search keeps a field name ending in a lookup).
"""

import re
import unicodedata

from django.db.models import CharField, Lookup
from django.db.models.lookups import IRegex

# The accented letters of French and of the names the site receives most, by their base letter.
VARIANTS = {
    "a": "aàâäáãå",
    "c": "cç",
    "e": "eéèêë",
    "i": "iîïíì",
    "n": "nñ",
    "o": "oôöóòõ",
    "u": "uùûüú",
    "y": "yÿý",
}


def base_letters(text: str) -> str:
    """``text`` lower case, without its accents (« Éloïse » → « eloise »)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


# The ligatures of French names (« Cœur », « Lætitia »), typed as two letters as often as not: either finds both.
LIGATURES = {"oe": "œ", "ae": "æ"}


# The forms of an apostrophe and of a hyphen a name is typed with (keyboard, phone's smart punctuation, a word
# processor, a name pasted from a mail): any of them finds all of them. ASCII's first: it stands for its group, and
# ASCII's hyphen first in its class is a literal hyphen in PostgreSQL's and Python's regular expressions alike.
APOSTROPHES = "'\u2019\u2018\u02bc`\u00b4"  # ' ’ ‘ ʼ ` ´
HYPHENS = "-\u2010\u2011\u2013\u2014"  # - ‐ ‑ – —
_AS_ASCII = str.maketrans({char: group[0] for group in (APOSTROPHES, HYPHENS) for char in group})
_PUNCTUATION_CLASSES = {group[0]: f"[{group}]" for group in (APOSTROPHES, HYPHENS)}


def accent_pattern(word: str) -> str:
    """A regular expression (the subset PostgreSQL's and Python's share) that finds ``word`` case and accents aside,
    « oe » and « œ », « ae » and « æ » alike, any apostrophe for any apostrophe, any hyphen or dash for any."""
    # Before the accents go: the compatibility decomposition makes « ´ » a space and a combining accent.
    letters = base_letters(word.translate(_AS_ASCII))
    for pair, ligature in LIGATURES.items():
        letters = letters.replace(ligature, pair)
    parts, index = [], 0
    while index < len(letters):
        pair = letters[index : index + 2]
        if pair in LIGATURES:
            ligature = LIGATURES[pair]
            parts.append(f"(?:{_letter(pair[0])}{_letter(pair[1])}|[{ligature}{ligature.upper()}])")
            index += 2
            continue
        parts.append(_letter(letters[index]))
        index += 1
    return "".join(parts)


def _letter(char: str) -> str:
    if char in _PUNCTUATION_CLASSES:
        return _PUNCTUATION_CLASSES[char]
    variants = VARIANTS.get(char)
    return f"[{variants}{variants.upper()}]" if variants else re.escape(char)


@CharField.register_lookup
class AccentsIContains(Lookup):
    lookup_name = "accents_icontains"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        # Django's iregex on the pattern: each backend's own operator (PostgreSQL ~*, SQLite's REGEXP).
        return IRegex(self.lhs, accent_pattern(str(self.rhs))).as_sql(compiler, connection)
