"""The student records system (SIS, "logiciel de scolarité": Apogée, Pégase…) as eCandidat sees it.

``applications.sis_backend.get_backend()`` returns the backend chosen by the ``STUDENT_RECORDS_BACKEND`` setting:

- ``csv`` (default): ``LocalTableBackend`` reads the local table ``applications.SisRecord``, which
  ``manage.py import_sis FILE`` fills from a CSV export (docs/sis-format.md), so a university can feed it nightly
  without any web service. It has no reference lists: the dossier forms keep their built-in ones.
- ``pegase``: ``applications.pegase.PegaseBackend`` asks Pégase's REST API (students and nomenclatures).

Every backend implements ``StudentRecordsBackend``; one that cannot answer (network, authentication, server error)
raises ``StudentRecordsUnavailable``, and the callers degrade: the candidate types the dossier, the nightly
batches stop without changing anything. When only one student's answer is unusable (the system answered, that
record's answer is broken) the backend raises its subclass ``StudentRecordAnswerError``: the nightly ``sync_sis``
reports that dossier and refreshes the others.
"""

import csv
import datetime
import io
import logging
import re
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Protocol, cast

from django.core.exceptions import ValidationError

from applications.countries import is_country_code
from applications.departments import FRENCH_DEPARTMENTS
from applications.enums import BacSeries, Civility
from applications.models import SisRecord
from applications.models.dossier import UAI_PATTERN
from applications.models.reference import BUILT_IN_BAC_SPECIALITIES
from applications.validators import normalise_department, normalise_ine, validate_ine

logger = logging.getLogger(__name__)


class StudentRecordsUnavailable(Exception):
    """The student records system did not answer usably (down, refused our credentials, answered an error)."""


class StudentRecordAnswerError(StudentRecordsUnavailable):
    """The system answered, but this one student's answer is unusable: an error status on that student's address
    (500…), a body that is not JSON, JSON of another shape than the system's. Every caller that degrades on an
    outage degrades on it the same way (it is a ``StudentRecordsUnavailable``); the nightly ``sync_sis`` alone tells
    them apart: it reports that dossier and goes on with the next one instead of stopping the batch, since the same
    broken record would otherwise stop it every night before the dossiers after it."""


@dataclass(frozen=True)
class SisAddress:
    line1: str
    line2: str = ""
    line3: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = "FR"


@dataclass(frozen=True)
class SisBaccalaureate:
    series: str
    year: int
    mention: str = ""
    country: str = "FR"
    department: str = ""
    city: str = ""
    school: str = ""
    # Records stored before these fields existed lack their keys: the defaults apply.
    school_uai: str = ""
    speciality_1: str = ""  # spécialités terminale (Pégase premiere/deuxiemeSpecialiteBac; Apogée COD_SPE_1/2_BAC)
    speciality_2: str = ""
    dropped_speciality: str = ""  # spécialité de première abandonnée (Apogée COD_SPE_BAC_PRE; not in Pégase)
    option_1: str = ""  # Apogée COD_OPT_1_BAC … COD_OPT_4_BAC (not in Pégase)
    option_2: str = ""
    option_3: str = ""
    option_4: str = ""

    def __post_init__(self) -> None:
        # Every backend's bac, and every record stored before this cleaning, read back (``SisStudent.from_json``).
        object.__setattr__(self, "department", bac_department(self.department))


KNOWN_DEPARTMENTS = frozenset(code for code, _name in FRENCH_DEPARTMENTS)


def bac_department(value: str) -> str:
    """The bac's département as the dossier writes it (``normalise_department``: spaces and case aside, Apogée's
    "066" or "02A" is "66" or "2A"), or "" when it is none of the dossier's départements (``departments``, the list
    the bac's form offers): Apogée's code of a country ("134", Spain) copied into a CSV's bac_departement, a
    collectivité's code (977, 98…), a code past the column's 3 characters, a control character. Such a value was
    stored as it came, cut to 3 characters ("0750" as "075"), beside a form that offers none of them, and a NUL
    failed the whole import on PostgreSQL (an error page at the ENT sign-in). Dropped, the field is empty, as for a
    bac the SIS gives without its département (the dossier's département of birth likewise:
    ``services.dossier._sis_department``)."""
    department = normalise_department(value)
    if department and department not in KNOWN_DEPARTMENTS:
        logger.warning("SIS import: a bac department that is no French department was dropped")
        return ""
    return department


@dataclass(frozen=True)
class SisCursusLine:
    """One line of the cursus interne, with its results when the SIS gives them (eCandidat ``WSCursusInterne``:
    Apogée's ``codTre``, ``codMen``, ``notVet``, ``barNotVet``; Pégase's ``resultatSession*``, ``noteSession*``,
    ``bareme``)."""

    academic_year: int
    code: str
    label: str
    result: str = ""  # the session's result code: ADM, AJ…
    mention: str = ""  # honours: AB, B…
    grade: Decimal | None = None  # the note, out of grade_scale
    grade_scale: int | None = None  # the barème: 20, 100…

    def to_json(self) -> dict:
        data = asdict(self)
        data["grade"] = None if self.grade is None else str(self.grade)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "SisCursusLine":
        data = dict(data)  # records stored before the results existed lack their keys: the defaults apply
        if data.get("grade") is not None:
            data["grade"] = Decimal(data["grade"])
        return cls(**data)


GRADE_MAX = Decimal("999.999")  # InternalCursus.grade: 6 digits, 3 decimals
GRADE_SCALE_MAX = 32767  # InternalCursus.grade_scale: a small integer


def parse_grade(value: object) -> Decimal | None:
    """A note as the SIS writes it (``14.5``, ``"14,500"``, ``12``), rounded to 3 decimals; None when empty.
    Raises ValueError for anything else (text, negative, 1000 or more)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip().replace(",", ".")
    try:
        grade = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not grade.is_finite() or not 0 <= grade <= GRADE_MAX:
        raise ValueError(f"{value!r} is not between 0 and {GRADE_MAX}")
    grade = grade.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    # 14.500 is kept as 14.5 and 20.000 as 20 (normalize() alone would write 2E+1).
    return grade.quantize(Decimal(1)) if grade == grade.to_integral_value() else grade.normalize()


def parse_grade_scale(value: object) -> int | None:
    """A barème (``20``, ``"100"``); None when empty. Raises ValueError unless a whole number from 1 up."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        scale = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not scale.is_finite() or scale != scale.to_integral_value() or not 1 <= scale <= GRADE_SCALE_MAX:
        raise ValueError(f"{value!r} is not a whole number from 1 to {GRADE_SCALE_MAX}")
    return int(scale)


@dataclass(frozen=True)
class SisStudent:
    """What the SIS knows about one student: état civil, address, bac and internal cursus."""

    student_number: str
    ine: str
    civility: str
    birth_name: str
    first_name: str
    birth_date: datetime.date
    birth_country: str
    nationality: str
    usual_name: str = ""
    other_first_name: str = ""
    birth_department: str = ""
    birth_city: str = ""
    email: str = ""
    phone: str = ""
    mobile: str = ""
    address: SisAddress | None = None
    baccalaureate: SisBaccalaureate | None = None
    cursus: tuple[SisCursusLine, ...] = field(default_factory=tuple)
    # The cursus came without its results (Pégase's coc did not answer): a refresh keeps the lines already imported.
    cursus_results_missing: bool = False

    def to_json(self) -> dict:
        data = asdict(self)
        data["birth_date"] = self.birth_date.isoformat()
        data["cursus"] = [line.to_json() for line in self.cursus]
        return data

    @classmethod
    def from_json(cls, data: dict) -> "SisStudent":
        data = dict(data)
        data["birth_date"] = datetime.date.fromisoformat(data["birth_date"])
        data["address"] = SisAddress(**data["address"]) if data.get("address") else None
        data["baccalaureate"] = SisBaccalaureate(**data["baccalaureate"]) if data.get("baccalaureate") else None
        data["cursus"] = tuple(SisCursusLine.from_json(line) for line in data.get("cursus") or ())
        return cls(**data)


class ReferenceKind(StrEnum):
    """The reference lists the dossier forms use (eCandidat's SiScol nomenclatures)."""

    COUNTRIES = "countries"  # Pégase PaysNationalite
    COMMUNES = "communes"  # Pégase Commune
    SCHOOLS = "schools"  # Pégase EtablissementFrancais
    BAC_SERIES = "bac_series"  # Pégase SerieBac
    BAC_SPECIALITIES = "bac_specialities"  # Pégase SpecialitesBacGeneral


@dataclass(frozen=True)
class ReferenceItem:
    """One row of a reference list; the fields after ``visible`` belong to one kind each."""

    code: str
    label: str
    visible: bool = True
    nationality_label: str = ""  # countries
    insee_code: str = ""  # communes
    postal_code: str = ""  # communes
    commune_insee_code: str = ""  # schools
    department: str = ""  # schools
    school_type: str = ""  # schools
    first_year: int | None = None  # bac series and specialities
    last_year: int | None = None  # bac series and specialities


class StudentRecordsBackend(Protocol):
    """What ecandidat asks the student records system. Raises ``StudentRecordsUnavailable`` when it cannot."""

    def find_by_student_number(self, number: str) -> SisStudent | None: ...

    def find_by_ine(self, ine: str) -> SisStudent | None: ...

    def reference_list(self, kind: ReferenceKind) -> list[ReferenceItem] | None:
        """The whole list, or None when this backend has none (the forms keep their built-in list)."""
        ...


class LocalTableBackend:
    """``STUDENT_RECORDS_BACKEND=csv``: reads the local copy loaded by ``manage.py import_sis``."""

    def _find(self, **lookup) -> SisStudent | None:
        record = SisRecord.objects.filter(**lookup).only("data").first()
        return SisStudent.from_json(record.data) if record else None

    def find_by_student_number(self, number: str) -> SisStudent | None:
        return self._find(student_number=number) if number else None

    def find_by_ine(self, ine: str) -> SisStudent | None:
        return self._find(ine=ine.upper()) if ine else None

    def reference_list(self, kind: ReferenceKind) -> list[ReferenceItem] | None:
        return None  # the CSV export carries students only


# --- CSV export format (docs/sis-format.md) ------------------------------------------------------------------

CSV_COLUMNS = (
    "cod_etu",
    "cod_nne_ind",
    "civilite",
    "nom_patronymique",
    "nom_usuel",
    "prenom",
    "autre_prenom",
    "date_naissance",
    "pays_naissance",
    "departement_naissance",
    "ville_naissance",
    "nationalite",
    "email",
    "telephone",
    "portable",
    "adresse_1",
    "adresse_2",
    "adresse_3",
    "code_postal",
    "commune",
    "pays_adresse",
    "bac_serie",
    "bac_annee",
    "bac_mention",
    "bac_pays",
    "bac_departement",
    "bac_commune",
    "bac_etablissement",
    "cursus_annee",
    "cursus_code",
    "cursus_libelle",
    "cursus_resultat",
    "cursus_mention",
)
# Columns a file may leave out (added after the first files were written): an absent column reads as empty.
BAC_REFORM_COLUMNS = (
    "bac_uai",
    "bac_specialite_1",
    "bac_specialite_2",
    "bac_specialite_premiere",
    "bac_option_1",
    "bac_option_2",
    "bac_option_3",
    "bac_option_4",
)
OPTIONAL_COLUMNS = ("cursus_note", "cursus_bareme", *BAC_REFORM_COLUMNS)
REQUIRED_COLUMNS = ("cod_etu", "civilite", "nom_patronymique", "prenom", "date_naissance", "pays_naissance")
# cod_etu is stored there (and in Candidate.sis_student_number, as long).
STUDENT_NUMBER_MAX_LENGTH = cast(int, SisRecord._meta.get_field("student_number").max_length)


UAI = re.compile(UAI_PATTERN)


class CsvFormatError(Exception):
    """The file cannot be read at all (encoding, header)."""


@dataclass
class ParseResult:
    students: list[SisStudent]
    errors: list[str]  # "line N: message", in file order


def _bac_reform(row: dict) -> dict:
    """The bac's school UAI, spécialités and options (optional columns). Spécialités are codes of the built-in list
    (the CSV backend has no reference lists), and differ from each other."""
    uai = row["bac_uai"].upper()
    if uai and not UAI.match(uai):
        raise ValueError("bac_uai must be a UAI number: 7 digits and a letter, e.g. 0660014A")
    columns = {
        "speciality_1": "bac_specialite_1",
        "speciality_2": "bac_specialite_2",
        "dropped_speciality": "bac_specialite_premiere",
    }
    specialities = {name: row[column].upper() for name, column in columns.items()}
    known = dict(BUILT_IN_BAC_SPECIALITIES)
    for name, code in specialities.items():
        if code and code not in known:
            raise ValueError(f"{columns[name]} is not a known speciality code")
    given = [code for code in specialities.values() if code]
    if len(set(given)) != len(given):
        raise ValueError("bac_specialite_1, bac_specialite_2 and bac_specialite_premiere must differ")
    options = {f"option_{n}": row[f"bac_option_{n}"][:50] for n in range(1, 5)}
    return {"school_uai": uai, **specialities, **options}


def _parse_row(row: dict) -> tuple[dict, SisCursusLine | None]:
    # What PostgreSQL cannot store (a NUL in text or JSON, a student number past its column) is refused here with
    # the line's number, as any other error, rather than stop the import with a traceback.
    for column, value in row.items():
        if "\x00" in value:
            raise ValueError(f"{column} contains a NUL character")
    for column in REQUIRED_COLUMNS:
        if not row[column]:
            raise ValueError(f"{column} is empty")
    if not (row["cod_etu"].isascii() and row["cod_etu"].isdigit()):
        raise ValueError("cod_etu must be digits")
    if len(row["cod_etu"]) > STUDENT_NUMBER_MAX_LENGTH:
        raise ValueError(f"cod_etu is longer than {STUDENT_NUMBER_MAX_LENGTH} characters")
    if row["civilite"] not in Civility.values:
        raise ValueError(f"civilite must be one of {', '.join(Civility.values)}")
    try:
        birth_date = datetime.datetime.strptime(row["date_naissance"], "%d/%m/%Y").date()  # noqa: DTZ007 a date
    except ValueError:
        raise ValueError("date_naissance must be DD/MM/YYYY") from None
    for column in ("pays_naissance", "nationalite", "pays_adresse", "bac_pays"):
        if row[column] and not is_country_code(row[column].upper()):
            raise ValueError(f"{column} is not an ISO 3166 alpha-2 country code")
    ine = normalise_ine(row["cod_nne_ind"])
    if ine:
        try:
            validate_ine(ine)
        except ValidationError:
            raise ValueError("cod_nne_ind is not a valid INE") from None
    student = {
        "student_number": row["cod_etu"],
        "ine": ine,
        "civility": row["civilite"],
        "birth_name": row["nom_patronymique"].upper(),
        "usual_name": row["nom_usuel"].upper(),
        "first_name": row["prenom"],
        "other_first_name": row["autre_prenom"],
        "birth_date": birth_date,
        "birth_country": row["pays_naissance"].upper(),
        "birth_department": row["departement_naissance"],
        "birth_city": row["ville_naissance"],
        "nationality": (row["nationalite"] or row["pays_naissance"]).upper(),
        "email": row["email"],
        "phone": row["telephone"],
        "mobile": row["portable"],
        "address": None,
        "baccalaureate": None,
    }
    if row["adresse_1"]:
        student["address"] = SisAddress(
            line1=row["adresse_1"],
            line2=row["adresse_2"],
            line3=row["adresse_3"],
            postal_code=row["code_postal"],
            city=row["commune"],
            country=(row["pays_adresse"] or "FR").upper(),
        )
    if row["bac_serie"]:
        if row["bac_serie"] not in BacSeries.values:
            raise ValueError("bac_serie is not a known series code")
        if not (row["bac_annee"].isascii() and row["bac_annee"].isdigit()):
            raise ValueError("bac_annee must be a year")
        student["baccalaureate"] = SisBaccalaureate(
            series=row["bac_serie"],
            year=int(row["bac_annee"]),
            mention=row["bac_mention"],
            country=(row["bac_pays"] or "FR").upper(),
            department=row["bac_departement"],
            city=row["bac_commune"],
            school=row["bac_etablissement"],
            **_bac_reform(row),
        )
    cursus = None
    if row["cursus_code"]:
        if not (row["cursus_annee"].isascii() and row["cursus_annee"].isdigit()) or len(row["cursus_annee"]) != 4:
            raise ValueError("cursus_annee must be the first year of the academic year, e.g. 2024")
        if not row["cursus_libelle"]:
            raise ValueError("cursus_libelle is empty")
        try:
            grade = parse_grade(row["cursus_note"])
        except ValueError:
            raise ValueError(f"cursus_note must be a number from 0 to {GRADE_MAX}, e.g. 14.5") from None
        try:
            grade_scale = parse_grade_scale(row["cursus_bareme"])
        except ValueError:
            raise ValueError(f"cursus_bareme must be a whole number from 1 to {GRADE_SCALE_MAX}, e.g. 20") from None
        cursus = SisCursusLine(
            academic_year=int(row["cursus_annee"]),
            code=row["cursus_code"],
            label=row["cursus_libelle"],
            result=row["cursus_resultat"],
            mention=row["cursus_mention"],
            grade=grade,
            grade_scale=grade_scale,
        )
    return student, cursus


def parse_csv(text: str) -> ParseResult:
    """Parse an export: UTF-8, ``;`` separator, header line, one line per (student, cursus line).

    The student's columns repeat on each of their lines and must be identical. A student with an error on any line
    is left out entirely (a partial cursus would be wrong), and every error is reported with its line number.
    """
    reader = csv.DictReader(io.StringIO(text), delimiter=";")
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [column for column in CSV_COLUMNS if column not in header]
    if missing:
        raise CsvFormatError(f"missing columns in the header: {', '.join(missing)}")
    reader.fieldnames = header
    students: dict[str, dict] = {}
    cursus: dict[str, list[SisCursusLine]] = {}
    refused: set[str] = set()
    errors: list[str] = []
    for row in reader:
        line = reader.line_num
        if None in row or any(value is None for value in row.values()):
            errors.append(f"line {line}: wrong number of columns")
            continue
        row = {key: value.strip() for key, value in row.items()}
        for column in OPTIONAL_COLUMNS:
            row.setdefault(column, "")
        number = row["cod_etu"]
        try:
            student, cursus_line = _parse_row(row)
        except ValueError as exc:
            errors.append(f"line {line}: {exc}")
            if number:
                refused.add(number)
            continue
        if number in students:
            if {k: students[number][k] for k in student} != student:
                errors.append(f"line {line}: the student columns differ from a previous line of student {number}")
                refused.add(number)
                continue
        else:
            students[number] = student
            cursus[number] = []
        if cursus_line:
            cursus[number].append(cursus_line)
    return ParseResult(
        students=[
            SisStudent(**data, cursus=tuple(cursus[number]))
            for number, data in students.items()
            if number not in refused
        ],
        errors=errors,
    )
