"""The "Offre de formation" tree: institution → centre → group → formations. The group is the diploma type, the
institution's own formation type, or none, as ``CATALOGUE_GROUPING`` says (``DIP``, ``NOM``, ``NO``: eCandidat's
``SCOL_MODE_TYPE_FORMATION``); with none, each centre has one group without a heading.

The unfiltered tree is the same for every visitor of one language on one day, except that candidates who may apply
see the titles of open formations as links: ``catalogue_tree`` renders it once per (language, may apply, day) and
keeps the HTML in the "pages" cache (issue 14: the anonymous catalogue is 30 % of a deadline rush). Each copy
carries the catalogue's generation read before its formations were (``GENERATION_KEY``, read with the copy in one
round trip), and is used only while that generation is current. A change to a formation, centre or diploma type
starts a new generation when its transaction commits (``forget_catalogue``, connected in ``OffersConfig.ready``
through ``forget_catalogue_on_commit``): a copy built from the formations as they were before the commit, and stored
after it, is never read (deleting the keys, as this did before, let such a copy stand for a minute).
``CATALOGUE_CACHE_SECONDS`` bounds what a change made without signals (a ``QuerySet.update``) can leave behind.
Filtered trees are built on every request.
Each language's tree is sorted by the titles it shows (``build_catalogue``), so the copies differ in order too.
When the cache fails (Redis down), the tree is built as before.
"""

import secrets
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext

from ecandidat import parameters
from ecandidat.staff_text import shown
from offers.models import Formation, collation_key, normalise

CATALOGUE_CACHE_SECONDS = 60
GENERATION_KEY = "catalogue:generation"  # a random token, replaced by every change (no expiry)
TREE_TEMPLATE = "offers/includes/catalogue_tree.html"


@dataclass
class FormationRow:
    formation: Formation
    is_open: bool
    closed_reason: str


@dataclass
class DiplomaBranch:
    """A group of the centre's formations (its diploma type, its formation type, or all: ``label`` empty)."""

    label: str
    rows: list[FormationRow] = field(default_factory=list)
    matches: bool = False
    lang: str = "fr"


@dataclass
class CentreBranch:
    label: str
    diplomas: list[DiplomaBranch] = field(default_factory=list)
    matches: bool = False


def build_catalogue(*, query: str, today: date) -> list[CentreBranch]:
    """Group the in-service formations into the catalogue tree, keeping only those that match ``query``.

    One query whatever the number of formations. The filter is case- and accent-insensitive and every word of the
    query must appear in the formation's title (French or English), keywords, diploma type, formation type or
    centre. Branches that contain a match are flagged so that the page opens them.

    The tree is in the reader's order, in the active language: centres by label, groups by their order then label
    (formations without a formation type last, under "Other formations"), formations by the title the page shows
    (``Formation.shown_title``: the English one for an English reader when there is one), each compared as in a
    dictionary (``collation_key``: case and accents aside, whatever the database's collation; C and SQLite compare
    bytes), ties broken by id. Sorting here costs no query.
    """
    terms = normalise(query).split()
    grouping = parameters.get("CATALOGUE_GROUPING")
    centres: dict[int, CentreBranch] = {}
    diplomas: dict[tuple[int, int | None], DiplomaBranch] = {}
    for formation in sorted(Formation.objects.for_catalogue(), key=lambda row: _reading_order(row, grouping)):
        if terms:
            haystack = formation.search_text
            if not all(term in haystack for term in terms):
                continue
        centre = centres.get(formation.centre_id)
        if centre is None:
            centre = centres[formation.centre_id] = CentreBranch(label=formation.centre.label, matches=bool(terms))
        key = (formation.centre_id, _group_id(formation, grouping))
        diploma = diplomas.get(key)
        if diploma is None:
            label, lang = _group_label(formation, grouping)
            diploma = diplomas[key] = DiplomaBranch(label=label, matches=bool(terms), lang=lang)
            centre.diplomas.append(diploma)
        reason = formation.closed_reason(today)
        diploma.rows.append(FormationRow(formation=formation, is_open=not reason, closed_reason=reason))
    return list(centres.values())


def catalogue_tree(*, query: str, today: date, can_apply: bool) -> tuple[SafeString, int]:
    """The tree's HTML and how many formations it lists (counted only for a filter, the one page that shows it)."""
    if query:
        centres = build_catalogue(query=query, today=today)
        count = sum(len(diploma.rows) for centre in centres for diploma in centre.diplomas)
        return _render(centres, query=query, can_apply=can_apply), count
    cache = caches["pages"]
    key = _cache_key(get_language(), can_apply, today)
    found = cache.get_many([key, GENERATION_KEY])
    generation = found.get(GENERATION_KEY)
    copy = found.get(key)
    if generation is not None and copy is not None and copy[0] == generation:
        return mark_safe(copy[1]), 0  # noqa: S308 - rendered by render_to_string (autoescaped) in this module
    if generation is None:
        # No generation yet (a new cache, or Redis lost it): start one before reading the formations. When another
        # process started one meanwhile, this copy is not kept (its generation is unknown).
        started = secrets.token_hex(8)
        generation = started if cache.add(GENERATION_KEY, started, timeout=None) else None
    html = _render(build_catalogue(query="", today=today), query="", can_apply=can_apply)
    if generation is not None:
        cache.set(key, (generation, str(html)), CATALOGUE_CACHE_SECONDS)
    return html, 0


def forget_catalogue() -> None:
    """Start a new generation: every cached tree (each language, day, with and without links) is out of date."""
    caches["pages"].set(GENERATION_KEY, secrets.token_hex(8), timeout=None)


def forget_catalogue_on_commit(sender, **kwargs) -> None:
    """Receiver (formation, centre or diploma type saved or deleted): the cached trees, once the change commits."""
    transaction.on_commit(forget_catalogue, robust=True)


def _group_id(formation: Formation, grouping: str) -> int | None:
    if grouping == "DIP":
        return formation.diploma_type_id
    if grouping == "NOM":
        return formation.formation_type_id  # None: "Other formations"
    return 0


def _group_label(formation: Formation, grouping: str) -> tuple[str, str]:
    """The group's heading and its language ("" under ``NO``: the centre's formations have no heading)."""
    if grouping == "DIP":
        return formation.diploma_type.label, "fr"
    if grouping == "NOM":
        kind = formation.formation_type
        if kind is None:
            return gettext("Other formations"), get_language() or settings.LANGUAGE_CODE
        text = shown(kind.label, kind.label_en)
        return text.text, text.lang
    return "", "fr"


def _reading_order(formation: Formation, grouping: str) -> tuple:
    centre = formation.centre
    group: tuple = ()
    if grouping == "DIP":
        diploma_type = formation.diploma_type
        group = (diploma_type.order, collation_key(diploma_type.label), diploma_type.pk)
    elif grouping == "NOM":
        kind = formation.formation_type
        group = (
            (1, 0, "", 0)
            if kind is None
            else (0, kind.order, collation_key(shown(kind.label, kind.label_en).text), kind.pk)
        )
    return (collation_key(centre.label), centre.pk, *group, collation_key(formation.shown_title.text), formation.pk)


def _cache_key(language: str | None, can_apply: bool, today: date) -> str:
    # The grouping is in the key: a change of it (environment, or the Paramètres screen) shows at once.
    grouping = parameters.get("CATALOGUE_GROUPING")
    return f"catalogue:{language or settings.LANGUAGE_CODE}:{grouping}:{int(can_apply)}:{today.isoformat()}"


def _render(centres: list[CentreBranch], *, query: str, can_apply: bool) -> SafeString:
    return render_to_string(
        TREE_TEMPLATE,
        {
            "centres": centres,
            "query": query,
            "can_apply": can_apply,
            "institution_name": settings.INSTITUTION_NAME,
        },
    )
