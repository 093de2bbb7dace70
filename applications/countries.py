"""Countries and nationalities from ISO 3166-1 (pycountry), named in the active language."""

import gettext
from functools import cache

import pycountry
from django.utils import translation
from django.utils.functional import lazy

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
    language = (translation.get_language() or "fr").split("-")[0]
    return [("", "---------")] + sorted(
        ((c.alpha_2, country_name(c.alpha_2, language)) for c in pycountry.countries),
        key=lambda item: item[1].casefold(),
    )


lazy_country_choices = lazy(country_choices, list)


def is_country_code(code: str) -> bool:
    return pycountry.countries.get(alpha_2=code) is not None
