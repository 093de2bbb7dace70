"""Two words of Django's admin that reach every list in English, whatever the language: the text alternative of the
yes/no icons (``alt="True"``, read aloud as such by screen readers, RGAA criterion 1.2) and of the search field's
magnifier (``templates/admin/search_form.html`` replaces the template that writes it).

The icons are written by ``django.contrib.admin.templatetags.admin_list._boolean_icon``, which every caller (the
changelist, the read-only fields of a change form) imports at call time: ``install`` replaces that one function
with one that writes the same image with "Oui", "Non" or "Inconnu". ``ecandidat.checks`` warns if a Django
upgrade removes the function, and a test reads the words on a list.
"""

from django.contrib.admin.templatetags import admin_list
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.translation import gettext

_ICONS = {True: "yes", False: "no", None: "unknown"}


def boolean_icon(value: bool | None) -> str:
    """Django's yes/no/unknown icon, its text alternative in the language of the request."""
    words = {True: gettext("Yes"), False: gettext("No"), None: gettext("Unknown")}
    return format_html('<img src="{}" alt="{}">', static(f"admin/img/icon-{_ICONS[value]}.svg"), words[value])


def install() -> None:
    """Replace Django's function, if it is still where it was (else the check below warns and Django's stays)."""
    if hasattr(admin_list, "_boolean_icon"):
        admin_list._boolean_icon = boolean_icon


def installed() -> bool:
    return getattr(admin_list, "_boolean_icon", None) is boolean_icon
