"""The tables that read as cards on a phone (``class="table"``, static/css/app.css below 44em), as the tests read
their markup: every element carries its table role, which a table laid out as blocks keeps (WebKit drops the table's
semantics otherwise, and with them the column headers a screen reader reads instead of the cells' labels)."""

from collections import Counter
from html.parser import HTMLParser

TABLE_ELEMENTS = {"table", "thead", "tbody", "tfoot", "tr", "th", "td"}


class _CardTables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[Counter[str]] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "table" and "table" in (named.get("class") or "").split():
            self.tables.append(Counter())
            self._inside = True
        if self._inside and tag in TABLE_ELEMENTS:
            kind = f"th[{named.get('scope')}]" if tag == "th" else tag
            self.tables[-1][f"{kind} {named.get('role')}"] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._inside = False


def card_table_roles(html: str) -> list[Counter[str]]:
    """For each card table of ``html``, in the page's order, how many of its elements have each kind (a header cell
    with its scope: ``th[col]``, ``th[row]``) and role, e.g. ``{"table table": 1, "tr row": 3, "td cell": 4,
    "th[col] columnheader": 3, ...}``; an element without a role counts as ``"td None"``."""
    parser = _CardTables()
    parser.feed(html)
    parser.close()
    return parser.tables


def card_table(*, columns: int, rows: int, cells: int, row_headers: int | None = None) -> Counter[str]:
    """What ``card_table_roles`` reads of a table whose every element has its role: a header row of ``columns``
    column headers, then ``rows`` rows of ``cells`` cells in all and ``row_headers`` row headers (one per row
    unless told)."""
    return Counter(
        {
            "table table": 1,
            "thead rowgroup": 1,
            "tbody rowgroup": 1,
            "tr row": 1 + rows,
            "th[col] columnheader": columns,
            "th[row] rowheader": rows if row_headers is None else row_headers,
            "td cell": cells,
        }
    )
