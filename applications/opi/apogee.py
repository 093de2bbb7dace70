"""The Apogée OPI file: what eCandidat pushes through ``OpiMetier.mettreajourDonneesOpi_v10`` (siscol-pegase-apogee.md
§3.2), as one file an Apogée team loads into ``IND_OPI`` and ``VOEUX_INS`` (format: docs/opi-apogee.md).

``opi-apogee-YYYYMMDD.csv``: UTF-8 without BOM, ``;`` separator, no quotes, LF line ends, a header line of Apogée
column names, one row per wish. Each candidate in the file carries **all** their current wishes: the loader
replaces the ``VOEUX_INS`` rows of that ``IND_OPI`` by the file's rows, as the web service does. A candidate with
no wish left (they withdrew their only confirmed wish) has one row with empty wish columns: delete their wishes
(the web service's "empty wish item").

Apogée's name columns are upper case ASCII of 30 (names) and 20 (first names) characters. A candidate whose names
this file cannot write faithfully (a letter of another script, which would come out as a space: an empty or partial
surname or first name; a name longer than its column once transliterated, ``Œ`` → ``OE``) or whose birth town would
come out empty is refused (:func:`refusal`): no row, their OPIs stay pending, and the run reports why; staff write
the dossier's field in Latin letters and the next run sends them.
"""

import datetime
import unicodedata
from collections.abc import Collection, Sequence
from decimal import Decimal

from django.utils.translation import gettext as _

from applications.models import Baccalaureate, Candidate
from applications.opi.communes import CommuneCodes
from applications.opi.countries import FRANCE_INSEE, french_department, insee_country
from applications.opi.pegase import Without, join_csv, split_csv, write_csv
from applications.opi.transfer import OpiCandidate, TransferResult, file_day
from offers.models import Campaign, Formation

COLUMNS = [
    # individu
    "COD_OPI_INT_EPO",
    "COD_ETU_OPI",
    # état civil
    "LIB_NOM_PAT_IND_OPI",
    "LIB_NOM_USU_IND_OPI",
    "LIB_PR1_IND_OPI",
    "LIB_PR2_IND_OPI",
    "COD_NNE_IND_OPI",
    "COD_CLE_NNE_IND_OPI",
    "COD_SEX_ETU_OPI",
    # naissance
    "DATE_NAI_IND_OPI",
    "TEM_DATE_NAI_REL_OPI",
    "COD_PAY_NAT",
    "LIB_VIL_NAI_ETU_OPI",
    "COD_TYP_DEP_PAY_NAI",
    "COD_DEP_PAY_NAI",
    # données personnelles
    "ADR_MAIL_OPI",
    "NUM_TEL_POR_OPI",
    # bac, in the order of DonneesOpiDTO10's bac: codBac, codDep, codEtb, (codTpe: see docs), codMention,
    # daaObtBacOba, codSpe1BacTer, codSpe2BacTer, codSpeBacPre, codOpt1Bac … codOpt4Bac
    "COD_BAC",
    "COD_DEP_BAC",
    "COD_ETB",
    "COD_MNB",
    "DAA_OBT_BAC_OBA",
    "COD_SPE1_BAC_TER",
    "COD_SPE2_BAC_TER",
    "COD_SPE_BAC_PRE",
    "COD_OPT1_BAC",
    "COD_OPT2_BAC",
    "COD_OPT3_BAC",
    "COD_OPT4_BAC",
    # adresse fixe
    "COD_PAY_ADR",
    "COD_BDI_ADR",
    "COD_COM_ADR",
    "LIB_AD1",
    "LIB_AD2",
    "LIB_AD3",
    "LIB_ADE",
    "NUM_TEL",
    # voeu
    "COD_CGE",
    "COD_ETP",
    "COD_VRS_VET",
    "COD_DIP",
    "COD_VRS_VDI",
    "NUM_CLS",
    "COD_DEC_VEU",
    "COD_DEM_DOS",
    "TEM_VAL_PSD",
    # the wish's régime and exemption (SIS_REGIME_ENTRY): codRge, codCatExoExt, comExoExt
    "COD_RGE",
    "COD_CAT_EXO_EXT",
    "COM_EXO_EXT",
]

WISH_COLUMNS = len(COLUMNS) - COLUMNS.index("COD_CGE")
COM_EXO_EXT_MAX = 15  # Apogée's comExoExt


BAC_COLUMNS = COLUMNS.index("COD_OPT4_BAC") - COLUMNS.index("COD_BAC") + 1


# Letters that no decomposition takes to ASCII, and the typographic apostrophes.
_ASCII_LETTERS = str.maketrans(
    {"Ø": "O", "ø": "o", "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ð": "D", "ð": "d", "Œ": "OE", "œ": "oe",
     "Æ": "AE", "æ": "ae", "ß": "SS", "Þ": "TH", "þ": "th", "Ħ": "H", "ħ": "h", "ı": "i", "’": "'", "‘": "'",
     "ʼ": "'", "ʻ": "'"}
)  # fmt: skip


def upper_ascii(text: str) -> str:
    """Names as Apogée wants them: upper case ASCII, no accents ("Łukasz" → "LUKASZ", "Œdipe" → "OEDIPE",
    "N’Diaye" → "N'DIAYE"); any other character outside ASCII becomes a space, spaces are collapsed."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    letters = "".join(char for char in decomposed if not unicodedata.combining(char)).translate(_ASCII_LETTERS)
    ascii_only = "".join(char if char.isascii() else " " for char in letters.upper())
    return " ".join(ascii_only.split())


def lost_letters(text: str) -> str:
    """The letters (and digits) of ``text`` that :func:`upper_ascii` turns into spaces, in order: those of another
    script than the Latin one (``ИВАНОВ``, ``王``), and the few Latin letters no decomposition takes to ASCII that
    ``_ASCII_LETTERS`` does not list (``Ə``). Punctuation becoming a space (``–``) loses no letter."""
    return "".join(char for char in text or "" if char.isalnum() and not upper_ascii(char))


# Apogée's IND_OPI columns: LIB_NOM_PAT_IND_OPI, LIB_NOM_USU_IND_OPI (30), LIB_PR1_IND_OPI, LIB_PR2_IND_OPI (20). The
# dossier holds its fields to these lengths, but a transliteration may lengthen them (Œ → OE, ß → SS, Þ → TH).
NAME_COLUMNS = {"birth_name": 30, "usual_name": 30, "first_name": 20, "other_first_name": 20}


def _label(field: str) -> str:
    """The dossier's label of ``field`` (« nom patronymique »), which staff find on the dossier."""
    return str(getattr(Candidate._meta.get_field(field), "verbose_name", field))


def refusal(entry: OpiCandidate) -> str:
    """Why the candidate's row cannot be written as Apogée must read it, or "" (their OPIs then stay pending; staff
    correct the dossier). A name (birth name, usual name, first names) is refused when it would lose a letter
    (:func:`lost_letters`: an empty or partial name in IND_OPI, which Apogée refuses, or which the match by name of
    siscol-pegase-apogee.md §3.3 cannot find) or exceed its column once transliterated; an optional name left empty
    is fine. The birth town (``LIB_VIL_NAI_ETU_OPI``, filled by eCandidat for every candidate, §3.2) is refused when
    none of its letters would be left. Read by the central office (batch history, the OPI screen's message)."""
    candidate = entry.candidate
    reasons: list[str] = []
    for field, limit in NAME_COLUMNS.items():
        value = getattr(candidate, field) or ""
        written = upper_ascii(value)
        if lost_letters(value):
            reasons.append(
                _('%(field)s "%(value)s" is not in Latin letters: enter it in Latin letters (as on the passport) in '
                  "the dossier")
                % {"field": _label(field), "value": value}
            )  # fmt: skip
        elif len(written) > limit:
            reasons.append(
                _('%(field)s "%(value)s" is longer than %(max)d characters once written without accents '
                  "(%(ascii)s): shorten it in the dossier")
                % {"field": _label(field), "value": value, "max": limit, "ascii": written}
            )  # fmt: skip
    town = candidate.birth_city or ""
    if any(char.isalnum() for char in town) and not any(char.isalnum() for char in upper_ascii(town)):
        reasons.append(
            _('%(field)s "%(value)s" is not in Latin letters: enter it in Latin letters in the dossier')
            % {"field": _label("birth_city"), "value": town}
        )
    return "; ".join(reasons)


def apogee_department(code: str) -> str:
    """A département as Apogée's ``DEPARTEMENT`` writes it, on 3 characters: the dossier's (INSEE) "66", "2A", "01"
    is "066", "02A", "001"; "971" … "976" are already 3 characters; "" stays "". The import does the reverse
    (``applications.validators.normalise_department``)."""
    return f"0{code}" if len(code) == 2 else code


def opi_code(entry: OpiCandidate) -> str:
    codes = [app.opi.code for app in [*entry.wishes, *entry.withdrawals]]
    return codes[0] if codes else ""


def _person(entry: OpiCandidate, communes: CommuneCodes) -> list[object]:
    candidate = entry.candidate
    address, bac = entry.address, entry.baccalaureate
    ine = candidate.ine.strip().upper()
    birth_country = insee_country(candidate.birth_country)
    born_in_france = birth_country == FRANCE_INSEE  # Guadeloupe … Mayotte, picked as a country, too
    birth_department = french_department(candidate.birth_country, candidate.birth_department)
    student_number = candidate.user.student_number or candidate.sis_student_number
    return [
        opi_code(entry),
        student_number if student_number.isdigit() else "",
        upper_ascii(candidate.birth_name),
        upper_ascii(candidate.usual_name),
        upper_ascii(candidate.first_name),
        upper_ascii(candidate.other_first_name),
        ine[:10],
        ine[10:],
        entry.sex,
        candidate.birth_date.strftime("%d%m%Y"),
        "N",
        insee_country(candidate.nationality),
        upper_ascii(candidate.birth_city),
        "D" if born_in_france else "P",
        apogee_department(birth_department) if born_in_france else birth_country,
        candidate.user.email,
        candidate.mobile,
        *_bac(bac),
        insee_country(address.country) if address else "",
        address.postal_code if address else "",
        communes.address(address),
        address.line1 if address else "",
        address.line2 if address else "",
        address.line3 if address else "",
        address.foreign_city if address else "",
        candidate.phone or candidate.mobile,
    ]


def _bac(bac: Baccalaureate | None) -> list[object]:
    """The bac columns, empty without a bac ("Je n'ai pas le bac": eCandidat's SCOL_SISCOL_COD_SANS_BAC is the
    loader's to add)."""
    if bac is None or not bac.has_bac:
        return [""] * BAC_COLUMNS
    return [
        bac.series,
        apogee_department(bac.department),
        bac.school_uai,
        bac.mention,
        bac.year,
        bac.speciality_1,
        bac.speciality_2,
        bac.dropped_speciality,
        *(getattr(bac, name) for name in Baccalaureate.OPTION_FIELDS),
    ]


def fee_amount_text(amount: Decimal | None) -> str:
    """``comExoExt`` as eCandidat fills it: the amount payable (``170.00``), when it fits Apogée's 15 characters."""
    if amount is None:
        return ""
    text = f"{amount:.2f}"
    return text if len(text) <= COM_EXO_EXT_MAX else ""


def rows(entry: OpiCandidate, communes: CommuneCodes) -> list[list[object]]:
    person = _person(entry, communes)
    if not entry.wishes:
        return [person + [""] * WISH_COLUMNS]
    return [
        person
        + [
            wish.formation.apogee_cge,
            wish.formation.apogee_step_code,
            wish.formation.apogee_step_version,
            wish.formation.apogee_diploma_code,
            wish.formation.apogee_diploma_version,
            1,  # numCls
            "F",  # codDecVeu: favourable
            "C",  # codDemDos
            "N",  # temValPsd
            wish.regime_id or "",  # codRge: the application's régime d'inscription
            wish.fee_exemption_id or "",  # codCatExoExt
            fee_amount_text(wish.fee_amount),  # comExoExt
        ]
        for wish in entry.wishes
    ]


def file_name(day: datetime.date) -> str:
    return f"opi-apogee-{file_day(day)}.csv"


def without_candidate(files: dict[str, str], codes: Collection[str]) -> Without:
    """The day's files (``OpiExport.files``) without the candidate whose OPI codes (``COD_OPI_INT_EPO``) are
    ``codes`` (the CNIL deletion, ``applications.services.erasure``): their rows of ``opi-apogee-*`` (one per wish,
    or one without a wish for a withdrawal) and of the PJ-OPI list ``opi-apogee-pj-*`` (``applications.opi.pieces``),
    both keyed by that code. Every other row and file is kept as written."""
    kept = dict(files)
    found: set[str] = set()
    wishes = pieces = 0
    for name, text in files.items():
        if not name.startswith("opi-apogee-"):
            continue
        columns, lines = split_csv(text)
        if "COD_OPI_INT_EPO" not in columns:
            continue
        code = columns.index("COD_OPI_INT_EPO")
        step = columns.index("COD_ETP") if "COD_ETP" in columns else None
        dropped = [line.split(";") for line in lines if line.split(";")[code] in codes]
        if not dropped:
            continue
        kept[name] = join_csv(columns, (line for line in lines if line.split(";")[code] not in codes))
        if name.startswith("opi-apogee-pj-"):
            pieces += len(dropped)
        else:
            found.update(row[code] for row in dropped)
            wishes += sum(1 for row in dropped if step is not None and row[step])  # a withdrawal's row has none
    if not found and not pieces:
        return Without(files=files, candidates=0, wishes=0)
    return Without(files=kept, candidates=len(found), wishes=wishes, pieces=pieces)


class ApogeeFileBackend:
    """OPI for Apogée as a file (the web service's WSDL is not public: see README). A withdrawal is sent: the
    candidate's remaining wishes replace those Apogée holds."""

    name = "apogee"
    label = "Apogée"
    sends_withdrawals = True
    sends_pieces = True

    def qualifies(self, formation: Formation) -> bool:
        return bool(formation.apogee_cge and formation.apogee_step_code and formation.apogee_step_version)

    def refusal(self, entry: OpiCandidate) -> str:
        return refusal(entry)

    def transfer(
        self, candidates: Sequence[OpiCandidate], *, campaign: Campaign, day: datetime.date
    ) -> TransferResult:
        """The day's file. A candidate :func:`refusal` refuses gets no row and goes to ``errors`` (the nightly run
        already leaves them out before its cap counts them: ``applications.opi.services._collect``)."""
        errors = {entry.candidate.pk: reason for entry in candidates if (reason := refusal(entry))}
        written = [
            entry for entry in candidates if (entry.wishes or entry.withdrawals) and entry.candidate.pk not in errors
        ]
        communes = CommuneCodes(written)
        text = write_csv(COLUMNS, (row for entry in written for row in rows(entry, communes)))
        passed = {app.pk for entry in written for app in [*entry.wishes, *entry.withdrawals]}
        return TransferResult(files={file_name(day): text}, passed=passed, errors=errors)
