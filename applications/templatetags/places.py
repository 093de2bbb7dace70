"""Places of the dossier named as people say them: ``{{ code|country_name }}`` ("France", in the active language) and
``{{ code|department_label }}`` ("Pyrénées-Orientales (66)"). The dossier stores ISO codes and INSEE numbers."""

from django import template

from applications import countries, departments

register = template.Library()


@register.filter
def country_name(code: str) -> str:
    return countries.country_name(code)


@register.filter
def department_label(code: str) -> str:
    return departments.department_label(code)
