"""``accents_icontains``: "contains", case and accents aside, on any database (PostgreSQL whatever its collation,
SQLite for ``make run``), for the back office's name searches.

Names are stored with their accents (« LEFÈVRE », « Éloïse »); staff on the phone type them as they are spelt
aloud (« lefevre », « eloise »), and Django's ``icontains`` found nothing (and on SQLite not even « lefèvre », its
LIKE folding ASCII only). The lookup is Django's ``iregex`` with a pattern made from the typed word: each letter that
has accented forms becomes the class of all of them in both cases (``e`` and ``é`` both become
``[eéèêëEÉÈÊË]``), « oe » and « ae » also match « œ » and « æ » (and the other way round), every other character is
escaped, so the word matches as a plain substring. Used in
``search_fields`` as ``"birth_name__accents_icontains"`` (Django's search keeps a field name ending in a lookup).
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


def accent_pattern(word: str) -> str:
    """A regular expression (the subset PostgreSQL's and Python's share) that finds ``word`` case and accents aside,
    « oe » and « œ », « ae » and « æ » alike."""
    letters = base_letters(word)
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
    variants = VARIANTS.get(char)
    return f"[{variants}{variants.upper()}]" if variants else re.escape(char)


@CharField.register_lookup
class AccentsIContains(Lookup):
    lookup_name = "accents_icontains"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        # Django's iregex on the pattern: each backend's own operator (PostgreSQL ~*, SQLite's REGEXP).
        return IRegex(self.lhs, accent_pattern(str(self.rhs))).as_sql(compiler, connection)
