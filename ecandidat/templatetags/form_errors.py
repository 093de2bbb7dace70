"""The error summary's count (``templates/includes/error_summary.html``): the fields in error, not the form's own
errors, which belong to no field ("Il y a un problème dans 1 champ" for a wrong password named no field)."""

from django import template
from django.core.exceptions import NON_FIELD_ERRORS

register = template.Library()


@register.filter
def field_error_count(form) -> int:
    return sum(1 for name in form.errors if name != NON_FIELD_ERRORS)
