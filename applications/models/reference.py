"""Reference lists of the student records system (eCandidat's "nomenclatures" ``Pays``, ``Commune``,
``Etablissement``, ``BacOuxEqu``, ``SpecialiteBac``), refreshed every night by ``manage.py refresh_reference_data``.

The dossier forms offer these lists when they are filled and fall back to the built-in ones otherwise (ISO 3166
through pycountry, ``applications.enums.BacSeries``, ``BUILT_IN_BAC_SPECIALITIES``, free text). A code the system
stops sending is hidden, never deleted: dossiers may hold it.
"""

import re
import time
import unicodedata
from collections.abc import Callable

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from applications.enums import BacSeries
from ecandidat.staff_text import StaffText, shown
from offers.models import collation_key

# Reference lists change once a night; each process re-reads them at most this often (seconds).
MEMO_SECONDS = 300
_memo: dict[str, tuple[float, object]] = {}


def memoised(key: str, load: Callable[[], list]) -> list:
    """``load()``'s answer, kept MEMO_SECONDS in this process (one query per list per process, not per form)."""
    now = time.monotonic()
    cached = _memo.get(key)
    if cached is not None and now - cached[0] < MEMO_SECONDS:
        return cached[1]  # type: ignore[return-value]
    value = load()
    _memo[key] = (now, value)
    return value


def forget_reference_lists() -> None:
    """Drop this process's copies (after a refresh, and between tests)."""
    _memo.clear()


class ReferenceRow(models.Model):
    code = models.CharField(_("code"), max_length=20, unique=True)
    label = models.CharField(_("label"), max_length=200)
    visible = models.BooleanField(_("offered to candidates"), default=True)
    refreshed_at = models.DateTimeField(_("refreshed at"), auto_now=True)

    class Meta:
        abstract = True
        ordering = ["label"]

    def __str__(self):
        return f"{self.label} ({self.code})"


class ReferenceCountry(ReferenceRow):
    """A country of the SIS (Pégase ``PaysNationalite``; code: the SIS's, e.g. ``100`` for France)."""

    # The dossier stores ISO 3166-1 alpha-2 codes: a country the refresh could not match to one is kept but not
    # offered (blank).
    iso_code = models.CharField(_("ISO 3166 code"), max_length=2, blank=True, db_index=True)
    nationality_label = models.CharField(_("nationality"), max_length=200, blank=True)

    class Meta(ReferenceRow.Meta):
        verbose_name = _("reference country")
        verbose_name_plural = _("reference countries")


class ReferenceCommune(ReferenceRow):
    """A French commune with one of its postal codes (Pégase ``Commune``)."""

    insee_code = models.CharField(_("INSEE code"), max_length=5, db_index=True)
    postal_code = models.CharField(_("postal code"), max_length=5, db_index=True)

    class Meta(ReferenceRow.Meta):
        verbose_name = _("reference commune")
        verbose_name_plural = _("reference communes")


class ReferenceSchool(ReferenceRow):
    """A French school (Pégase ``EtablissementFrancais``; code: the UAI, e.g. ``0660014A``)."""

    commune_insee_code = models.CharField(_("INSEE code of the commune"), max_length=5, blank=True)
    department = models.CharField(_("department"), max_length=3, blank=True)
    school_type = models.CharField(_("type"), max_length=20, blank=True)

    class Meta(ReferenceRow.Meta):
        verbose_name = _("reference school")
        verbose_name_plural = _("reference schools")


class ReferenceOtherDiploma(ReferenceRow):
    """A diploma of another cursus (Apogée ``DIP_AUT_CUR``, eCandidat ``SiScolDipAutCur``): what an external cursus
    row's "diplôme" holds. Seeded by the migration that created it with a usual list (``BUILT_IN_OTHER_DIPLOMAS``);
    the central office may add, rename or hide rows in the back office.

    ``label_en``: the optional English label a candidate reading English sees (``ecandidat.staff_text``; empty: the
    French label, marked French). Staff documents (exports, the review page, the history) keep ``label``."""

    label_en = models.CharField(
        _("label in English"),
        max_length=200,
        blank=True,
        help_text=_("Shown to candidates who read the site in English; empty: the French text is shown."),
    )

    class Meta(ReferenceRow.Meta):
        verbose_name = _("reference diploma of another cursus")
        verbose_name_plural = _("reference diplomas of other cursus")


class ReferenceBacSeries(ReferenceRow):
    """A series of the baccalaureate or an equivalence (Pégase ``SerieBac``), with its years of validity."""

    first_year = models.PositiveSmallIntegerField(_("first year"), null=True, blank=True)
    last_year = models.PositiveSmallIntegerField(_("last year"), null=True, blank=True)

    class Meta(ReferenceRow.Meta):
        verbose_name = _("reference baccalaureate series")
        verbose_name_plural = _("reference baccalaureate series")


class ReferenceBacSpeciality(ReferenceRow):
    """A spécialité of the bac général (Pégase ``SpecialitesBacGeneral``, eCandidat ``SiScolSpecialiteBac``), with
    its years of validity: what a dossier's spécialités terminale and de première abandonnée hold."""

    first_year = models.PositiveSmallIntegerField(_("first year"), null=True, blank=True)
    last_year = models.PositiveSmallIntegerField(_("last year"), null=True, blank=True)

    class Meta(ReferenceRow.Meta):
        verbose_name = _("reference baccalaureate speciality")
        verbose_name_plural = _("reference baccalaureate specialities")


class ReferenceRegime(ReferenceRow):
    """A régime d'inscription (Apogée ``REGIME``, eCandidat ``SiScolRegime``; code: Apogée's ``COD_RGI``, e.g. ``1``
    Formation initiale): what staff set on an application (``SIS_REGIME_ENTRY``) and the Apogée OPI sends as the
    wish's ``codRge``.

    Pégase has no such list and the project reads none from Apogée: the migration that created the table seeds the
    SISE codes Apogée uses (1 to 5), and the central office keeps the list in the back office. A code out of use is
    hidden (``visible``), never deleted: applications may hold it.
    """

    class Meta(ReferenceRow.Meta):
        ordering = ["code"]
        verbose_name = _("registration regime")
        verbose_name_plural = _("registration regimes")


class ReferenceFeeExemption(ReferenceRow):
    """A catégorie d'exonération / extracommunautaire (Apogée ``CAT_EXO_EXT``, eCandidat ``SiScolCatExoExt``: the
    "situation des droits"; code: ``COD_CAT_EXO_EXT``, two characters): sent as the wish's ``codCatExoExt``.

    Seeded and kept like ``ReferenceRegime``: each university's Apogée has its own categories, the seed is an
    example for the central office to adapt.
    """

    code = models.CharField(_("code"), max_length=2, unique=True)

    class Meta(ReferenceRow.Meta):
        ordering = ["code"]
        verbose_name = _("fee exemption category")
        verbose_name_plural = _("fee exemption categories")


# The bac reform: the bac général has spécialités (two in terminale, a third followed in première and dropped) from
# its 2021 session on.
REFORM_FIRST_YEAR = 2021

# The spécialités of the bac général (arrêté du 16 juillet 2018 as amended; EPPCS from the 2023 session), offered
# until refresh_reference_data fills ReferenceBacSpeciality. The codes are the usual abbreviations, not a national
# nomenclature's (none is public for them): the Apogée OPI file carries them as they are (docs/opi-apogee.md), and
# with Pégase the refreshed list, with Pégase's codes, replaces this one.
BUILT_IN_BAC_SPECIALITIES: tuple[tuple[str, Promise], ...] = (
    ("ARTS", _("Arts")),
    ("BIOECO", _("Biology and ecology")),
    ("EPPCS", _("Physical education, sports practices and culture")),
    ("HGGSP", _("History and geography, geopolitics and political science")),
    ("HLP", _("Humanities, literature and philosophy")),
    ("LLCER", _("Foreign and regional languages, literatures and cultures")),
    ("LLCA", _("Literature, languages and cultures of Antiquity")),
    ("MATHS", _("Mathematics")),
    ("NSI", _("Digital and computer science")),
    ("PC", _("Physics and chemistry")),
    ("SVT", _("Life and earth sciences")),
    ("SI", _("Engineering science")),
    ("SES", _("Economic and social sciences")),
)


def _reference_bac_series_all_rows() -> list[tuple[str, str, int | None, int | None, bool]]:
    """Every series of the SIS, hidden ones included, as (code, label, first year, last year, visible): read once
    per process, so that naming the series of dossiers that hold one the SIS no longer offers never costs a query
    per row (exports)."""
    return memoised(
        "bac_series",
        lambda: list(
            ReferenceBacSeries.objects.order_by("label").values_list(
                "code", "label", "first_year", "last_year", "visible"
            )
        ),
    )


def reference_bac_series_rows() -> list[tuple[str, str, int | None, int | None]]:
    """The SIS's visible series as (code, label, first year, last year), empty when never refreshed."""
    return [row[:4] for row in _reference_bac_series_all_rows() if row[4]]


def reference_bac_series() -> list[tuple[str, str]]:
    """The SIS's visible series as (code, label), empty when the list was never refreshed."""
    return [(code, label) for code, label, _first, _last in reference_bac_series_rows()]


def _reference_bac_speciality_rows() -> list[tuple[str, str, bool]]:
    """Every spécialité of the SIS, hidden ones included, as (code, label, visible): a short list (about 15 rows),
    read once per process, so that naming a dossier's spécialités never costs a query per row (exports)."""
    return memoised(
        "bac_specialities",
        lambda: list(ReferenceBacSpeciality.objects.order_by("label").values_list("code", "label", "visible")),
    )


def reference_bac_specialities() -> list[tuple[str, str]]:
    """The SIS's visible spécialités as (code, label), empty when the list was never refreshed."""
    return [(code, label) for code, label, visible in _reference_bac_speciality_rows() if visible]


def bac_speciality_choices() -> list[tuple[str, object]]:
    """The spécialités a dossier may hold: the SIS's once refreshed, else the built-in list."""
    return list(reference_bac_specialities()) or list(BUILT_IN_BAC_SPECIALITIES)


_GENERAL = re.compile(r"\bGENERALE?\b")


def is_general_series(code: str, label: object) -> bool:
    """Whether a series is the bac général of the reform: the built-in ``GEN``, or an SIS series whose label says
    "général" (Pégase's ``BACCALAUREAT GENERAL``; the old S, ES and L do not)."""
    if code == BacSeries.GENERAL:
        return True
    if code in BacSeries.values:
        return False
    plain = unicodedata.normalize("NFKD", str(label)).encode("ascii", "ignore").decode().upper()
    return bool(_GENERAL.search(plain))


# The diplomas of another cursus the migration seeds ReferenceOtherDiploma with (codes of at most 7 characters, as
# Apogée's COD_DAC). eCandidat's repository creates its siscol_dip_aut_cur table empty and fills it from the SIS, so
# these are this project's codes for the usual French higher-education diplomas, not a national nomenclature's.
BUILT_IN_OTHER_DIPLOMAS: tuple[tuple[str, str], ...] = (
    ("BTS", "Brevet de technicien supérieur (BTS)"),
    ("BTSA", "Brevet de technicien supérieur agricole (BTSA)"),
    ("BUT", "Bachelor universitaire de technologie (BUT)"),
    ("DUT", "Diplôme universitaire de technologie (DUT)"),
    ("DEUST", "Diplôme d'études universitaires scientifiques et techniques (DEUST)"),
    ("DEUG", "Diplôme d'études universitaires générales (DEUG)"),
    ("CPGE", "Classe préparatoire aux grandes écoles (CPGE)"),
    ("DNMADE", "Diplôme national des métiers d'art et du design (DN MADE)"),
    ("LIC", "Licence"),
    ("LPRO", "Licence professionnelle"),
    ("MAI", "Maîtrise"),
    ("MAS", "Master"),
    ("DEA", "Diplôme d'études approfondies (DEA)"),
    ("DESS", "Diplôme d'études supérieures spécialisées (DESS)"),
    ("DOC", "Doctorat"),
    ("ING", "Diplôme d'ingénieur"),
    ("ECOCOM", "Diplôme d'école de commerce ou de gestion"),
    ("DCG", "Diplôme de comptabilité et de gestion (DCG)"),
    ("DSCG", "Diplôme supérieur de comptabilité et de gestion (DSCG)"),
    ("DESANT", "Diplôme d'État du secteur sanitaire ou social"),
    ("DU", "Diplôme d'université (DU)"),
    ("ETR", "Diplôme étranger"),
    ("AUTRE", "Autre diplôme"),
)


# Their English labels (``ReferenceOtherDiploma.label_en``, filled by the migration that added it). Translated: the
# rows that name a kind of diploma rather than a diploma (foreign, other, an engineering or business school's, a
# State diploma of health or social work, a university's own DU, the CPGE classes). Left empty, so that the French
# title shows, marked French: the French national diplomas (BTS, BTSA, BUT, DUT, DEUST, DEUG, DN MADE, Licence,
# Licence professionnelle, Maîtrise, Master, DEA, DESS, Doctorat, DCG, DSCG). Their title is a name, the one printed
# on the diploma: an English rendering would either invent a title the holder never saw or name a foreign degree
# ("Higher National Diploma", "Bachelor's degree", "Doctorate") that a candidate holding that foreign degree would
# then choose instead of "Foreign diploma".
BUILT_IN_OTHER_DIPLOMAS_IN_ENGLISH: dict[str, str] = {
    "CPGE": "Preparatory classes for the grandes écoles (CPGE)",
    "ING": "Engineering degree",
    "ECOCOM": "Business or management school diploma",
    "DESANT": "State diploma in health or social work",
    "DU": "University diploma (DU)",
    "ETR": "Foreign diploma",
    "AUTRE": "Other diploma",
}


def _other_diploma_rows() -> list[tuple[str, str, str, bool]]:
    """Every diploma of another cursus, hidden ones included, as (code, label, English label, visible): a short list
    read once per process, so that naming the diplomas of many rows (exports, the PDF) costs no query per row."""
    return memoised(
        "other_diplomas",
        lambda: list(
            ReferenceOtherDiploma.objects.order_by("label").values_list("code", "label", "label_en", "visible")
        ),
    )


def other_diploma_choices() -> list[tuple[str, StaffText]]:
    """The visible diplomas of another cursus as (code, label in the page's language, ``ecandidat.staff_text``):
    in French in the database's order of the French labels, in English in the alphabetical order of the labels
    shown (English ones and French ones left untranslated together)."""
    choices = [(code, shown(label, label_en)) for code, label, label_en, visible in _other_diploma_rows() if visible]
    if any(text.lang == "en" for _code, text in choices):
        choices.sort(key=lambda choice: collation_key(choice[1].text))
    return choices


def other_diploma_label(code: str) -> str:
    """The French label of a stored diploma code (hidden rows included), else the code itself, "" when empty: what
    staff documents print (exports, the review page)."""
    if not code:
        return ""
    return next((label for row_code, label, _en, _visible in _other_diploma_rows() if row_code == code), code)


def shown_other_diploma(code: str) -> StaffText:
    """The label of a stored diploma code in the page's language (hidden rows included), else the code itself (read
    as French); an empty text when the code is empty."""
    if not code:
        return StaffText("", "")
    found = next((row for row in _other_diploma_rows() if row[0] == code), None)
    return shown(found[1], found[2]) if found is not None else StaffText(code, "fr")


def has_reference_communes() -> bool:
    return memoised("communes", lambda: [ReferenceCommune.objects.filter(visible=True).exists()])[0]


def communes_of_department(department: str) -> dict[str, str]:
    """The visible communes of a département as {INSEE code: name}, by name (one query; {} without a département).
    A commune's INSEE code starts with its département: ``66136``, ``2A004``, ``97411``."""
    if not department:
        return {}
    rows = (
        ReferenceCommune.objects.filter(insee_code__startswith=department, visible=True)
        .order_by("label", "insee_code")
        .values_list("insee_code", "label")
    )
    communes: dict[str, str] = {}
    for insee_code, label in rows:  # one row per postal code: the first name of each INSEE code is kept
        communes.setdefault(insee_code, label)
    return communes


def has_reference_schools() -> bool:
    return memoised("schools", lambda: [ReferenceSchool.objects.filter(visible=True).exists()])[0]


def reference_countries() -> list[tuple[str, str]]:
    """The SIS's visible countries matched to an ISO code, as (ISO code, label); empty when never refreshed."""
    return memoised(
        "countries",
        lambda: list(
            ReferenceCountry.objects.filter(visible=True)
            .exclude(iso_code="")
            .order_by("label")
            .values_list("iso_code", "label")
        ),
    )


def bac_series_label(code: str) -> str:
    """The label of a stored series: the built-in list first, then the SIS's (memoised, hidden rows included: a
    dossier keeps the series it was filled with), else the code itself."""
    if not code:
        return ""
    if code in BacSeries.values:
        return str(BacSeries(code).label)
    return next((row[1] for row in _reference_bac_series_all_rows() if row[0] == code), code)


def bac_speciality_label(code: str) -> str:
    """The label of a stored spécialité: the SIS's (memoised, hidden rows included), else the built-in list's, else
    the code itself."""
    if not code:
        return ""
    sis_labels = {row[0]: row[1] for row in _reference_bac_speciality_rows()}
    return str(sis_labels.get(code) or dict(BUILT_IN_BAC_SPECIALITIES).get(code) or code)
