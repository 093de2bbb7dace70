"""The admin's search box (``templates/admin/search_form.html``) says when a search held no word to look for; a list's
« Filtres » link (``templates/admin/change_list.html``) says how many filters are active."""

from django import template

from ecandidat.admin_base import is_blank_search

register = template.Library()


@register.filter
def blank_search(search_term: str) -> bool:
    return is_blank_search(search_term or "")


@register.filter
def active_filter_count(changelist) -> int:
    """The filters of ``changelist`` that took a parameter of the address (their ``used_parameters``, what Django's
    ``ChangeList.has_active_filters`` reads): a filter's default (« Par campagne »: the active campaign) is not one."""
    return sum(1 for spec in changelist.filter_specs if getattr(spec, "used_parameters", None))
