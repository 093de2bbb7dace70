"""The error summary's count (``templates/includes/error_summary.html``): the fields in error, not the form's own
errors, which belong to no field ("Il y a un problème dans 1 champ" for a wrong password named no field); and
whether the page's messages report an error (the « Erreur : » of the page title, ``templates/base.html``)."""

from django import template
from django.contrib.messages import constants
from django.core.exceptions import NON_FIELD_ERRORS

register = template.Library()


@register.filter
def field_error_count(form) -> int:
    return sum(1 for name in form.errors if name != NON_FIELD_ERRORS)


@register.filter
def has_error_message(messages) -> bool:
    """Whether the page shows a message of level error, e.g. a refused upload sent back to the pieces table: its
    title then starts with « Erreur : », as a form in error does (RGAA 11.10). Reading the messages here does not
    consume them more than the page's own list does (the same request shows them)."""
    return any(message.level == constants.ERROR for message in messages or ())
