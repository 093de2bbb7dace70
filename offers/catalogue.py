"""The "Offre de formation" tree: institution → centre → diploma type → formations."""

from dataclasses import dataclass, field
from datetime import date

from offers.models import Formation, normalise


@dataclass
class FormationRow:
    formation: Formation
    is_open: bool
    closed_reason: str


@dataclass
class DiplomaBranch:
    label: str
    rows: list[FormationRow] = field(default_factory=list)
    matches: bool = False


@dataclass
class CentreBranch:
    label: str
    diplomas: list[DiplomaBranch] = field(default_factory=list)
    matches: bool = False


def build_catalogue(*, query: str, today: date) -> list[CentreBranch]:
    """Group the in-service formations into the catalogue tree, keeping only those that match ``query``.

    One query whatever the number of formations. The filter is case- and accent-insensitive and every word of the
    query must appear in the formation's title, keywords, diploma type or centre. Branches that contain a match
    are flagged so that the page opens them.
    """
    terms = normalise(query).split()
    centres: dict[int, CentreBranch] = {}
    diplomas: dict[tuple[int, int], DiplomaBranch] = {}
    for formation in Formation.objects.for_catalogue():
        if terms:
            haystack = formation.search_text
            if not all(term in haystack for term in terms):
                continue
        centre = centres.get(formation.centre_id)
        if centre is None:
            centre = centres[formation.centre_id] = CentreBranch(label=formation.centre.label, matches=bool(terms))
        key = (formation.centre_id, formation.diploma_type_id)
        diploma = diplomas.get(key)
        if diploma is None:
            diploma = diplomas[key] = DiplomaBranch(label=formation.diploma_type.label, matches=bool(terms))
            centre.diplomas.append(diploma)
        reason = formation.closed_reason(today)
        diploma.rows.append(FormationRow(formation=formation, is_open=not reason, closed_reason=reason))
    return list(centres.values())
