"""INSEE commune codes for the OPI files, found in the SIS's communes (``ReferenceCommune``, refreshed from Pégase).

The dossier keeps what the candidate wrote: a birth town with its département, an address town with its postal code
(the address form already makes the town the SIS's label for that postal code when the communes are loaded). A
transfer looks the codes up in one query for all its candidates:

- birth: the visible commune of the birth département (its INSEE code starts with it: ``66``, ``2A``, ``971``)
  whose label matches the town, accents, case and punctuation aside ("Saint-Étienne" = "SAINT ETIENNE");
- address: the visible commune of the postal code whose label matches the town.

A code is given only when exactly one commune matches; none (communes never refreshed, a misspelt or former town)
or several leave the column empty, as before, for the scolarité to fill in. Former INSEE codes, which the refresh
keeps hidden, are never written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import reduce
from operator import or_

from django.db.models import Q

from applications.countries import normalise_name
from applications.models import Address, Candidate, ReferenceCommune
from applications.opi.countries import french_department, in_france
from applications.opi.transfer import OpiCandidate


class CommuneCodes:
    """The INSEE codes of the candidates of one transfer (one query, made on creation)."""

    def __init__(self, entries: Sequence[OpiCandidate]):
        departments = {_birth_department(entry.candidate) for entry in entries} - {""}
        postal_codes = {
            entry.address.postal_code
            for entry in entries
            if entry.address is not None and in_france(entry.address.country) and entry.address.postal_code
        }
        self._by_department: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._by_postal_code: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._labels: dict[str, str] = {}  # a birth commune's label by INSEE code
        conditions = [Q(insee_code__startswith=department) for department in sorted(departments)]
        if postal_codes:
            conditions.append(Q(postal_code__in=sorted(postal_codes)))
        if not conditions:
            return
        rows = ReferenceCommune.objects.filter(reduce(or_, conditions), visible=True).values_list(
            "insee_code", "postal_code", "label"
        )
        for insee_code, postal_code, label in rows:
            name = normalise_name(label)
            for department in departments:
                if insee_code.startswith(department):
                    self._by_department[department, name].add(insee_code)
                    self._labels[insee_code] = label
            if postal_code in postal_codes:
                self._by_postal_code[postal_code, name].add(insee_code)

    def birth(self, candidate: Candidate) -> str:
        department = _birth_department(candidate)
        if not department:
            return ""
        return _only(self._by_department.get((department, normalise_name(candidate.birth_city))))

    def birth_label(self, candidate: Candidate) -> str:
        """Pégase's ``libelle_commune_naissance``: the label of the commune found (``birth``), else the town as the
        candidate wrote it (§2.3)."""
        code = self.birth(candidate)
        return self._labels.get(code, candidate.birth_city) if code else candidate.birth_city

    def address(self, address: Address | None) -> str:
        if address is None or not in_france(address.country):
            return ""
        return _only(self._by_postal_code.get((address.postal_code, normalise_name(address.city))))


def _birth_department(candidate: Candidate) -> str:
    """The birth département in France (``971`` for a candidate who picked Guadeloupe as their birth country)."""
    return french_department(candidate.birth_country, candidate.birth_department)


def _only(codes: set[str] | None) -> str:
    return next(iter(codes)) if codes and len(codes) == 1 else ""
