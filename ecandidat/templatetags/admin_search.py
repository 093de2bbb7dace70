"""The admin's search box (``templates/admin/search_form.html``) says when a search held no word to look for."""

from django import template

from ecandidat.admin_base import is_blank_search

register = template.Library()


@register.filter
def blank_search(search_term: str) -> bool:
    return is_blank_search(search_term or "")
