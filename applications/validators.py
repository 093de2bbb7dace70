"""Checks of the dossier's identifiers: INE, phone numbers and département codes; the bounds of its years and of the
date of birth; the stored form of a family name. The candidate's forms (``applications.forms``) and the staff's
dossier page (``applications.admin.dossier``) both call them: one rule, one message, wherever the dossier is typed.

INE ("identifiant national étudiant", 11 characters with the key). Three national formats are recognised:

* INE-BEA (base élèves académique): 10 digits + 1 key letter. The key is checked: it is the letter of rank
  ``int(digits) % 23`` in the 23-letter alphabet without I, O and Q, as Esup-Portail's ``CheckBEA23`` does.
* INE-RNIE (since 2018): 9 digits + 2 letters. FORMAT ONLY: we found no published key algorithm we could verify.
* INE for apprentices: 4 digits, "A", 5 digits, 1 letter. FORMAT ONLY, same reason.

An optional remote check (INES web service) can be added later; this is the local check eCandidat also does.
"""

import datetime
import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

FIRST_YEAR = 1900


@deconstructible
class YearInRange:
    """A year of the dossier from ``FIRST_YEAR`` to this year plus ``years_ahead``: a baccalaureate is not obtained
    in the future (ecandidat-features §4: "the bac year may not be later than the current year"), a cursus "En
    cours" ends next year at the latest. The last year moves with the calendar, so it is read at each check, not in
    the migration. One message for both bounds, next to the field (« Saisissez une année entre 1900 et 2026. »)."""

    code = "year_range"

    def __init__(self, years_ahead: int = 0):
        self.years_ahead = years_ahead

    def last_year(self) -> int:
        return timezone.localdate().year + self.years_ahead

    def __call__(self, value: int | None) -> None:
        if value is None:
            return
        last = self.last_year()
        if not FIRST_YEAR <= value <= last:
            raise ValidationError(
                _("Enter a year between %(first)s and %(last)s."),
                code=self.code,
                params={"first": FIRST_YEAR, "last": last, "value": value},
            )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, YearInRange) and other.years_ahead == self.years_ahead


FIRST_BIRTH_DATE = datetime.date(FIRST_YEAR, 1, 1)


def validate_birth_date(value: datetime.date | None) -> None:
    """A date of birth lies in the past, from 1900 on (a typing slip: 2028, 1850)."""
    if value and value >= timezone.localdate():
        raise ValidationError(_("The date of birth must be in the past."), code="future")
    if value and value < FIRST_BIRTH_DATE:
        raise ValidationError(_("Check the date of birth."), code="too_old")


def stored_family_name(value: str) -> str:
    """A birth or usual name as the dossier stores it: squeezed and upper-cased, as eCandidat does for the student
    records system (« de la  Tour » is « DE LA TOUR »). Some letters grow then ("Straß" is "STRASS")."""
    return " ".join((value or "").split()).upper()


BEA_KEY_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ"
_BEA = re.compile(r"^[0-9]{10}[A-Z]$")
_RNIE = re.compile(r"^[0-9]{9}[A-Z]{2}$")
_APPRENTICE = re.compile(r"^[0-9]{4}A[0-9]{5}[A-Z]$")


def normalise_ine(value: str) -> str:
    return re.sub(r"\s+", "", value or "").upper()


def bea_key(digits: str) -> str:
    return BEA_KEY_ALPHABET[int(digits) % 23]


def validate_ine(value: str) -> None:
    ine = normalise_ine(value)
    if len(ine) != 11:
        raise ValidationError(_("The INE and its key must be 11 characters, without spaces."), code="ine_length")
    if _BEA.match(ine):
        if ine[10] != bea_key(ine[:10]):
            raise ValidationError(_("The INE key is wrong: check the last character."), code="ine_key")
        return
    if _RNIE.match(ine) or _APPRENTICE.match(ine):
        return
    raise ValidationError(_("This is not a valid INE."), code="ine_format")


def cleaned_ine(value: str) -> str:
    """The INE as stored (no spaces, upper case; "" for none), or ValidationError (``validate_ine``)."""
    ine = normalise_ine(value)
    if ine:
        validate_ine(ine)
    return ine


def normalise_department(value: str) -> str:
    """A département code as candidates type it, in the dossier's form: "2a" is "2A", and the three-character form
    of many French forms and of the student records system ("066", "02A") loses its leading zero. Anything else is
    returned as typed (spaces and case aside), for ``department_validator`` to refuse with its message."""
    value = re.sub(r"\s+", "", value or "").upper()
    if len(value) == 3 and value.startswith("0"):
        return value[1:]
    return value


def normalise_phone(value: str, *, default_region: str = "FR") -> str:
    """Return the number in E.164 form, or raise ValidationError. French numbers may be typed without +33."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("Enter a valid phone number (international numbers start with +)."), code="invalid_phone"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(value: str) -> str:
    """Display form of a stored (E.164) number: national for French numbers ("06 12 34 56 71"), international
    otherwise ("+34 612 34 56 78"); a value that is not a number is returned as it is."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    if number.country_code == 33:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
