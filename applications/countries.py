"""Countries and nationalities from ISO 3166-1 (pycountry), named in the active language."""

import gettext
import re
import unicodedata
from functools import cache

import pycountry
from django.utils import translation
from django.utils.functional import lazy

from applications.departments import BLANK_CHOICE
from applications.models.reference import reference_countries
from offers.models import collation_key

FRANCE = "FR"


@cache
def _translator(language: str):
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True)


def country_name(code: str, language: str | None = None) -> str:
    country = pycountry.countries.get(alpha_2=code) if code else None
    if country is None:
        return code or ""
    language = language or translation.get_language() or "fr"
    return _translator(language.split("-")[0]).gettext(getattr(country, "common_name", None) or country.name)


def country_choices() -> list[tuple[str, str]]:
    """The SIS's countries once ``refresh_reference_data`` filled them (those matched to an ISO code), else every
    ISO 3166 country named in the active language."""
    from_sis = reference_countries()
    if from_sis:
        return [BLANK_CHOICE, *from_sis]
    language = (translation.get_language() or "fr").split("-")[0]
    return [BLANK_CHOICE] + sorted(
        ((c.alpha_2, country_name(c.alpha_2, language)) for c in pycountry.countries),
        key=lambda item: collation_key(item[1]),  # "Égypte" among the E's, not after "Zimbabwe"
    )


lazy_country_choices = lazy(country_choices, list)


def is_country_code(code: str) -> bool:
    return pycountry.countries.get(alpha_2=code) is not None


def normalise_name(label: str) -> str:
    ascii_only = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^A-Z0-9]+", " ", ascii_only.upper()).split())


@cache
def _iso_by_label() -> dict[str, str]:
    french = _translator("fr")
    names = [
        (country.alpha_2, variant)
        for country in pycountry.countries
        for name in sorted({getattr(country, attr, "") for attr in ("name", "common_name", "official_name")} - {""})
        for variant in (name, french.gettext(name))
    ]
    index: dict[str, str] = {}
    for code, variant in names:
        index.setdefault(normalise_name(variant), code)
    # Then "Russie, Fédération de", "Iran, République islamique d'" as "RUSSIE", "IRAN", unless a whole name
    # already took it ("Congo" is CG, not "Congo, République démocratique du").
    for code, variant in names:
        index.setdefault(normalise_name(variant.split(",")[0]), code)
    return index


def iso_code_for_label(label: str) -> str:
    """The ISO 3166-1 alpha-2 code of a country named in French or English (accents, case and punctuation
    ignored: "COTE D'IVOIRE" is CI), or "" when no ISO name matches (a territory, a country that no longer exists).

    The student records system names countries by its own codes (Pégase, Apogée: ``100`` is France); the dossier
    stores ISO codes, so the reference refresh matches them by name.
    """
    return _iso_by_label().get(normalise_name(label), "")
