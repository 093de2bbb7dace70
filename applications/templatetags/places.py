"""Places and numbers of the dossier as people say them: ``{{ code|country_name }}`` ("France", in the active
language), ``{{ code|department_label }}`` ("Pyrénées-Orientales (66)") and ``{{ number|phone }}`` ("06 12 34 56 71").
The dossier stores ISO codes, INSEE numbers and E.164 phone numbers."""

from django import template

from applications import countries, departments
from applications.validators import format_phone

register = template.Library()


@register.filter
def country_name(code: str) -> str:
    return countries.country_name(code)


@register.filter
def department_label(code: str) -> str:
    return departments.department_label(code)


@register.filter
def phone(number: str) -> str:
    return format_phone(number)
