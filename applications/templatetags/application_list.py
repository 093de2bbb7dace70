"""The applications list's rows (back office): each row with the CSS class of its SVA alert level."""

from typing import Any

from django import template

from applications.enums import SvaColour

register = template.Library()


def sva_row_class(application: Any) -> str:
    """ "sva-row sva-row--orange" for an application in alert (``with_sva_alert``: its level's colour), "" otherwise.
    The class only repeats what the "Alerte SVA" column says in words (RGAA 3.1)."""
    colour = getattr(application, "sva_colour", None)
    if getattr(application, "sva_threshold", None) is None or colour not in SvaColour.values:
        return ""
    return f"sva-row sva-row--{SvaColour(colour).name.lower()}"


@register.simple_tag
def rows_with_classes(results: list[Any], changelist: Any) -> list[tuple[Any, str]]:
    """The admin's rendered rows (``results``) beside their applications (``changelist.result_list``, the same
    order), each with its row class: no query, the alert is an annotation of the list's query."""
    return [
        (result, sva_row_class(application))
        for result, application in zip(results, changelist.result_list, strict=True)
    ]
