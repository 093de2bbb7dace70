"""The back office's change lists read as cards on a phone (static/css/admin_phone.css, templates/admin/
change_list_results.html): each cell of a row carries its column's name (``data-label``, shown before the cell by
the style sheet below 40em, hidden from assistive technologies there, which read the column header instead) and its
table role (``role``), which a table keeps when the style sheet lays its rows out as blocks (RGAA 5.4, 5.7: browsers
drop a table's semantics once its elements are no longer displayed as a table, explicit roles restore them).

A column whose values are the staff's French labels (a formation's title, a centre's or a commission's name), named
in its ModelAdmin's ``french_columns``, has its cells marked ``lang="fr"``, so that a screen reader reading the
English back office pronounces them as French (RGAA 8.7), as the dossier page marks them."""

import re
from collections.abc import Iterable, Mapping
from itertools import zip_longest
from typing import Any

from django import template
from django.utils.html import format_html, strip_tags
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst

register = template.Library()

# The opening of a cell as Django's ``items_for_result`` writes it: ``<td`` or ``<th`` (the row's link column).
CELL_OPENING = re.compile(r"^\s*<(td|th)\b")
ROLES = {"td": "cell", "th": "rowheader"}


def column_label(header: Mapping[str, Any] | None) -> str:
    """A column's name as its header shows it (``capfirst``), "" for a column whose header has no text (the
    selection checkbox's, whose box carries its own name) or for a cell without a column."""
    if header is None:
        return ""
    return capfirst(strip_tags(str(header.get("text", ""))).strip())


def labelled_cell(cell: str, header: Mapping[str, Any] | None, *, french: bool = False) -> SafeString:
    """``cell`` (a ``<td>``/``<th>`` rendered by the admin, already escaped) with its ``role``, when its column
    has a name its ``data-label``, and ``lang="fr"`` when it holds a French label; a cell of another shape is
    returned unchanged."""
    match = CELL_OPENING.match(cell)
    if match is None:
        return mark_safe(cell)  # noqa: S308 - the admin's own rendered (escaped) markup, unchanged
    tag = match.group(1)
    label = column_label(header)
    attributes = format_html(' role="{}"', ROLES[tag])
    if label:
        attributes += format_html(' data-label="{}"', label)
    if french:
        attributes += mark_safe(' lang="fr"')  # noqa: S308 - a constant
    return mark_safe(cell[: match.end()] + attributes + cell[match.end() :])  # noqa: S308 - escaped above


def french_columns(changelist: Any) -> list[bool]:
    """For each column of the list (``cl.list_display``, the selection box's included), whether its ModelAdmin names
    it in ``french_columns``."""
    if changelist is None:
        return []
    french = set(getattr(changelist.model_admin, "french_columns", ()))
    return [name in french for name in changelist.list_display]


@register.simple_tag
def labelled_cells(
    result: Iterable[str], result_headers: Iterable[Mapping[str, Any]], changelist: Any = None
) -> SafeString:
    """A result row's cells, each with its role and its column's name (``labelled_cell``), in the headers' order,
    those of the ``changelist``'s French columns marked French. A cell beyond the headers (the primary key's field
    of an editable list) has a role and no label."""
    cells = zip_longest(result, result_headers, french_columns(changelist))
    return mark_safe(  # noqa: S308 - each cell is escaped markup
        "".join(labelled_cell(cell, header, french=bool(french)) for cell, header, french in cells if cell is not None)
    )
