"""The Pégase OPI files, as eCandidat writes them (siscol-pegase-apogee.md §2.2–2.3).

Three files per day: ``candidat-YYYYMMDD.csv`` (one row per candidate), ``candidature-YYYYMMDD.csv`` (one row per
wish) and ``inscription-YYYYMMDD.csv`` (Pégase V28+: one row per candidate, no candidate number, five wish slots).
UTF-8 without BOM, ``;`` separator, no quote character, LF line ends, a header line, empty fields for nulls, dates
``dd/MM/yyyy``. Values are sanitised instead of quoted: a ``;``, a ``"`` or a line break inside a value would break
the file (eCandidat's OpenCSV escapes them with a ``"``, which Pégase reads as data), so they become spaces.

The INSEE commune codes (birth and address) are looked up in the SIS's communes (``applications.opi.communes``):
the dossier stores the town's name with its département or postal code. Where no single commune matches (communes
never refreshed, a misspelt town), the column is left empty, as eCandidat leaves a column it has no value for.
"""

import datetime
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from applications.opi.communes import CommuneCodes
from applications.opi.countries import FRANCE_INSEE, insee_country
from applications.opi.transfer import OpiCandidate, TransferResult, file_day
from offers.models import Campaign, Formation

ORIGINE_ADMISSION = "EC"  # eCandidat
INSCRIPTION_WISH_SLOTS = 5

CANDIDAT_COLUMNS = [
    "numero_candidat",
    "sexe",
    "nom_famille",
    "nom_usuel",
    "prenom",
    "prenom2",
    "prenom3",
    "date_naissance",
    "code_pays_naissance",
    "code_commune_naissance",
    "libelle_commune_naissance",
    "code_nationalite",
    "ine",
    "adresse_code_pays",
    "adresse_ligne1_etage",
    "adresse_ligne2_batiment",
    "adresse_ligne3_voie",
    "adresse_ligne4_complement",
    "adresse_code_postal",
    "adresse_code_commune",
    "adresse_cp_ville_etranger",
    "numero_telephone1",
    "numero_telephone2",
    "courriel",
]
CANDIDATURE_COLUMNS = [
    "numero_candidat",
    "origine_admission",
    "voie_admission",
    "annee_concours",
    "code_voeu",
    "code_periode",
    "code_formation_psup",
    "code_sise",
    "code_etablissement_affectation",
]
INSCRIPTION_COLUMNS = [
    "nom_naissance",
    "nom_usage",
    "prenom",
    "prenom2",
    "prenom3",
    "sexe",
    "date_naissance",
    "code_pays_naissance",
    "code_commune_naissance",
    "libelle_commune_naissance_etranger",
    "code_nationalite",
    "ine",
    "adresse_code_pays",
    "adresse_ligne1_etage",
    "adresse_ligne2_batiment",
    "adresse_ligne3_voie",
    "adresse_ligne4_complement",
    "adresse_ligne5_etranger",
    "adresse_code_postal",
    "adresse_code_commune",
    "numero_telephone1",
    "numero_telephone2",
    "mail",
    *[
        column
        for slot in range(1, INSCRIPTION_WISH_SLOTS + 1)
        for column in (f"origine_admission{slot}", f"annee_concours{slot}", f"code_voeu{slot}", f"code_periode{slot}")
    ],
]

_UNSAFE = re.compile(r'[;"\s]+')


def clean(value: object) -> str:
    """A field: None → empty; ``;``, ``"`` and line breaks → one space; trimmed."""
    if value is None:
        return ""
    return _UNSAFE.sub(" ", str(value)).strip()


def date_fr(day: datetime.date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = [";".join(columns)]
    for row in rows:
        assert len(row) == len(columns), f"{len(row)} values for {len(columns)} columns"
        lines.append(";".join(clean(value) for value in row))
    return "\n".join(lines) + "\n"


def _identity(entry: OpiCandidate) -> dict[str, str]:
    candidate = entry.candidate
    address = entry.address
    return {
        "birth_country": insee_country(candidate.birth_country),
        "nationality": insee_country(candidate.nationality),
        "address_country": insee_country(address.country) if address else "",
        "line1": address.line1 if address else "",
        "line2": address.line2 if address else "",
        "line3": address.line3 if address else "",
        "postal_code": address.postal_code if address else "",
    }


def candidat_row(entry: OpiCandidate, communes: CommuneCodes) -> list[object]:
    candidate, ids = entry.candidate, _identity(entry)
    return [
        entry.numero_dossier,
        entry.sex,
        candidate.birth_name,
        candidate.usual_name,
        candidate.first_name,
        candidate.other_first_name,
        "",  # prenom3: the dossier has two first names, as eCandidat's
        date_fr(candidate.birth_date),
        ids["birth_country"],
        communes.birth(candidate),
        communes.birth_label(candidate),
        ids["nationality"],
        candidate.ine,
        ids["address_country"],
        ids["line2"],  # ligne1_etage = adr2
        ids["line3"],  # ligne2_batiment = adr3
        ids["line1"],  # ligne3_voie = adr1
        "",
        ids["postal_code"],
        communes.address(entry.address),
        "",
        candidate.phone,
        candidate.mobile,
        candidate.user.email,
    ]


def candidature_rows(entry: OpiCandidate, *, campaign: Campaign) -> list[list[object]]:
    return [
        [entry.numero_dossier, ORIGINE_ADMISSION, "", "", wish.formation.pegase_code, campaign.code, "", "", ""]
        for wish in entry.wishes
    ]


def inscription_row(entry: OpiCandidate, *, campaign: Campaign, communes: CommuneCodes) -> list[object]:
    candidate, ids = entry.candidate, _identity(entry)
    foreign_birth = ids["birth_country"] != FRANCE_INSEE
    slots: list[object] = []
    for slot in range(INSCRIPTION_WISH_SLOTS):
        if slot < len(entry.wishes):
            slots += [ORIGINE_ADMISSION, "", entry.wishes[slot].formation.pegase_code, campaign.code]
        else:
            slots += ["", "", "", ""]
    return [
        candidate.birth_name,
        candidate.usual_name,
        candidate.first_name,
        candidate.other_first_name,
        "",
        entry.sex,
        date_fr(candidate.birth_date),
        ids["birth_country"],
        communes.birth(candidate),
        candidate.birth_city if foreign_birth else "",
        ids["nationality"],
        candidate.ine.strip().upper(),
        ids["address_country"],
        ids["line2"],
        ids["line3"],
        ids["line1"],
        "",
        "",  # adresse_ligne5_etranger: eCandidat exports the address's foreign town nowhere
        ids["postal_code"],
        communes.address(entry.address),
        candidate.phone,
        candidate.mobile,
        candidate.user.email,
        *slots,
    ]


def file_names(day: datetime.date) -> tuple[str, str, str]:
    stamp = file_day(day)
    return f"candidat-{stamp}.csv", f"candidature-{stamp}.csv", f"inscription-{stamp}.csv"


class PegaseFilesBackend:
    """OPI for Pégase: the three CSV files of the day. Pégase has no withdrawal message: a withdrawn wish simply
    disappears from the next files, so a candidate whose only change is a withdrawal is not written."""

    name = "pegase"
    label = "Pégase"
    sends_withdrawals = False
    sends_pieces = False  # Pégase has no PJ-OPI (siscol-pegase-apogee.md §3.4: Apogée only)

    def qualifies(self, formation: Formation) -> bool:
        return bool(formation.pegase_code)

    def refusal(self, entry: OpiCandidate) -> str:
        return ""  # UTF-8 files: the names go as typed, in any script

    def transfer(
        self, candidates: Sequence[OpiCandidate], *, campaign: Campaign, day: datetime.date
    ) -> TransferResult:
        written = [entry for entry in candidates if entry.wishes]
        communes = CommuneCodes(written)
        candidat, candidature, inscription = file_names(day)
        files = {
            candidat: write_csv(CANDIDAT_COLUMNS, (candidat_row(entry, communes) for entry in written)),
            candidature: write_csv(
                CANDIDATURE_COLUMNS,
                (row for entry in written for row in candidature_rows(entry, campaign=campaign)),
            ),
            inscription: write_csv(
                INSCRIPTION_COLUMNS,
                (inscription_row(entry, campaign=campaign, communes=communes) for entry in written),
            ),
        }
        passed = {app.pk for entry in candidates for app in [*entry.wishes, *entry.withdrawals]}
        return TransferResult(files=files, passed=passed)


# --- A candidate taken out of a day's files (the CNIL deletion, applications.services.erasure) ---------------------


class Without(NamedTuple):
    """A day's files without one candidate, and how many of the day's counts (``OpiExport``) went with them."""

    files: dict[str, str]
    candidates: int
    wishes: int
    pieces: int = 0


def split_csv(text: str) -> tuple[list[str], list[str]]:
    """A file written by :func:`write_csv`: its columns and its row lines, as written (its values hold no ``;`` and
    no line break, :func:`clean`)."""
    header, *lines = text.split("\n")
    return header.split(";"), [line for line in lines if line]


def join_csv(columns: Sequence[str], lines: Iterable[str]) -> str:
    """:func:`write_csv`'s layout again, from rows already written."""
    return "\n".join([";".join(columns), *lines]) + "\n"


def _row_identity(columns: Sequence[str], line: str, names: Sequence[str]) -> tuple[str, ...]:
    values = dict(zip(columns, line.split(";"), strict=False))
    return tuple(values.get(name, "") for name in names)


# What the candidat row and the inscription row of one candidate both carry, written the same way.
_CANDIDAT_IDENTITY = ("nom_famille", "prenom", "date_naissance", "courriel")
_INSCRIPTION_IDENTITY = ("nom_naissance", "prenom", "date_naissance", "mail")


def without_candidate(files: dict[str, str], numero: str) -> Without:
    """The day's files (``OpiExport.files``) without the candidate whose numéro de dossier is ``numero``: their
    candidat row and their candidature rows (``numero_candidat``), and their inscription row. That file has no
    numéro, but :meth:`PegaseFilesBackend.transfer` writes it from the same list as the candidat file, one row per
    candidate in the same order: the candidate's row is the one at the place of their candidat row, once its
    identity (name, first name, birth date, e-mail) is checked to be theirs; otherwise (another layout) the row with
    their identity. Every other row and file is kept as written."""
    kept = dict(files)
    names = {name.split("-", 1)[0]: name for name in files}
    candidates = wishes = 0
    places: list[tuple[int, tuple[str, ...]]] = []  # the candidate's candidat rows: where, and whose identity
    if "candidat" in names:
        columns, lines = split_csv(files[names["candidat"]])
        number = columns.index("numero_candidat")
        places = [
            (place, _row_identity(columns, line, _CANDIDAT_IDENTITY))
            for place, line in enumerate(lines)
            if line.split(";")[number] == numero
        ]
        dropped = {place for place, _ in places}
        kept[names["candidat"]] = join_csv(columns, (line for place, line in enumerate(lines) if place not in dropped))
        candidates = len(places)
    if "candidature" in names:
        columns, lines = split_csv(files[names["candidature"]])
        number = columns.index("numero_candidat")
        rest = [line for line in lines if line.split(";")[number] != numero]
        kept[names["candidature"]] = join_csv(columns, rest)
        wishes = len(lines) - len(rest)
    if "inscription" in names and places:
        columns, lines = split_csv(files[names["inscription"]])
        identities = [_row_identity(columns, line, _INSCRIPTION_IDENTITY) for line in lines]
        dropped = set()
        for place, identity in places:
            if place < len(lines) and place not in dropped and identities[place] == identity:
                dropped.add(place)
                continue
            found = [index for index, other in enumerate(identities) if other == identity and index not in dropped]
            dropped.update(found[:1])
        kept[names["inscription"]] = join_csv(
            columns, (line for place, line in enumerate(lines) if place not in dropped)
        )
    if not candidates and not wishes:
        return Without(files=files, candidates=0, wishes=0)
    return Without(files=kept, candidates=candidates, wishes=wishes)
