"""The back office's messages as status messages (RGAA 7.5, WCAG 4.1.3), as the candidates' pages give theirs
(``templates/base.html``): Django's admin wrote them in a bare list that assistive technologies do not announce.
An error (« Action déjà effectuée ou non autorisée ») is an alert, anything else a status."""

from collections.abc import Iterable
from typing import Any

from django import template
from django.contrib.messages import constants

register = template.Library()


@register.simple_tag
def messages_by_role(messages: Iterable[Any]) -> list[tuple[str, list[Any]]]:
    """``[("alert", errors), ("status", the others)]``, each present only when it holds a message, in the order the
    page writes them (errors first)."""
    errors: list[Any] = []
    others: list[Any] = []
    for message in messages:
        (errors if message.level >= constants.ERROR else others).append(message)
    return [(role, group) for role, group in (("alert", errors), ("status", others)) if group]
