"""The formations' list and a formation's « Historique » on a phone, in Chromium (static/css/admin_phone.css).

Below 40em a list's rows read as cards, each cell after its column's name (templates/admin/change_list_results.html,
ecandidat.templatetags.result_cards). A value of two lines or more stays beside its column's name: its second line
ran under « Titre » (« MASTER 1 - BEE Parcours » then « Biodiversité et développement durable » under the name), in
every column whose value is not wrapped in a box of its own. A column's name breaks between its words only (it broke
« complémentaire / s »). At 1,280 px the list is Django's table, as it was.

A row's « Historique » (templates/admin/object_history.html): Django gives its date column 16em, which its responsive
style sheet means to undo on a phone but misses (it names ``table#change-history``, the id being the div's); at
320 px the « Action » column was squeezed to 62 px, each entry hundreds of pixels high, its words cut every few
letters. On a phone the dates give way and the action keeps a readable width; nothing scrolls sideways.
Screenshots of each width go to the test's temporary directory."""

from typing import Any

import pytest
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry

from accounts.tests.factories import StaffMembershipFactory
from accounts.tests.mfa import log_in_staff_browser
from offers.models import Formation
from offers.tests.factories import CommissionFactory, FormationFactory

pytestmark = pytest.mark.browser

LIST = "/gestion/offers/formation/?o=1"  # by code: the rows in a known order
TITLES = [
    "MASTER 1 - BEE Parcours Biodiversité et développement durable",
    "MASTER 2 - Ingénierie des systèmes énergétiques renouvelables",
    "LICENCE 3 - Sciences de la vie et de la Terre",
]

# For each named cell of the results: its box, its column's name and the box the style sheet gives that name (its
# ::before), the lines of its value (the client rects of its content: a rect per line of each piece of text or inline
# box), and the widest word of the name written in the name's font, as one unbroken line.
CARDS_JS = """
() => {
  const root = document.documentElement;
  const probe = document.createElement('span');
  probe.style.cssText = 'position:absolute;visibility:hidden;white-space:nowrap;left:0;top:0';
  document.body.appendChild(probe);
  const cells = [...document.querySelectorAll('#result_list > tbody > tr > [data-label]')].map((cell) => {
    const box = cell.getBoundingClientRect();
    const style = getComputedStyle(cell);
    const before = getComputedStyle(cell, '::before');
    const contentLeft = box.left + parseFloat(style.borderLeftWidth) + parseFloat(style.paddingLeft);
    const labelWidth = parseFloat(before.width);
    const padding = parseFloat(before.paddingLeft) + parseFloat(before.paddingRight);
    const borderBox = before.boxSizing === 'border-box';
    const labelInner = borderBox ? labelWidth - padding : labelWidth;
    probe.style.font = before.font;
    probe.style.letterSpacing = before.letterSpacing;
    const widestWord = Math.max(...cell.dataset.label.split(/\\s+/).map((word) => {
      probe.textContent = word;
      return probe.getBoundingClientRect().width;
    }));
    const range = document.createRange();
    range.selectNodeContents(cell);
    const lines = [...range.getClientRects()].filter((rect) => rect.width > 0.5 && rect.height > 0.5)
      .map((rect) => ({ left: rect.left, top: rect.top, right: rect.right }));
    return {
      column: cell.className, label: cell.dataset.label, text: cell.textContent.trim(),
      left: box.left, right: box.right, width: box.width,
      labelRight: contentLeft + (borderBox ? labelWidth : labelWidth + padding),
      labelInner, widestWord, lines,
    };
  });
  probe.remove();
  return { page: root.scrollWidth - root.clientWidth, width: root.clientWidth, cells };
}
"""

DESKTOP_JS = """
() => {
  const table = document.querySelector('#result_list');
  const cells = [...table.querySelectorAll('tbody td, tbody th')];
  return {
    page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    table: getComputedStyle(table).display,
    cells: [...new Set(cells.map((cell) => getComputedStyle(cell).display))],
    before: [...new Set(cells.map((cell) => getComputedStyle(cell, '::before').content))],
    tops: [...table.querySelectorAll('tbody tr')].map((tr) =>
      new Set([...tr.children].map((cell) => Math.round(cell.getBoundingClientRect().top))).size),
  };
}
"""

HISTORY_JS = """
() => {
  const root = document.documentElement;
  const table = document.querySelector('#change-history table');
  const rows = [...table.querySelectorAll('tbody tr')].map((tr) => {
    const [date, user, action] = [...tr.children].map((cell) => cell.getBoundingClientRect());
    return { height: tr.getBoundingClientRect().height, date: date.width, user: user.width, action: action.width,
             right: Math.max(date.right, user.right, action.right) };
  });
  return { page: root.scrollWidth - root.clientWidth, width: root.clientWidth,
           table: table.getBoundingClientRect().width, rows };
}
"""


def _in_french(page, live_server) -> None:
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "fr", "url": live_server.url}])


def _lines(cell: dict) -> int:
    return len({round(line["top"]) for line in cell["lines"]})


def test_a_cells_lines_stay_beside_its_columns_name_on_a_phone(
    live_server, transactional_db, browser_page, centre, centre_manager, tmp_path
):
    commission = CommissionFactory(centre=centre, label="Commission pédagogique des masters de biologie et d'écologie")
    for number, title in enumerate(TITLES):
        FormationFactory(centre=centre, commission=commission, code=f"F{number}", title=title)
    page = browser_page
    log_in_staff_browser(page, live_server, centre_manager)
    _in_french(page, live_server)

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + LIST)
    page.screenshot(path=str(tmp_path / "formations-1280.png"), full_page=True)
    wide = page.evaluate(DESKTOP_JS)
    assert wide["page"] <= 0
    assert wide["table"] == "table"
    assert wide["cells"] == ["table-cell"]
    assert wide["before"] == ["none"]
    assert wide["tops"] == [1] * len(TITLES)  # Django's rows, each cell beside the other

    for width in (320, 375):
        page.set_viewport_size({"width": width, "height": 812})
        page.goto(live_server.url + LIST)
        page.screenshot(path=str(tmp_path / f"formations-{width}.png"), full_page=True)
        phone = page.evaluate(CARDS_JS)
        assert phone["page"] <= 0, f"{width} px: the page is {phone['page']} px too wide"
        cells = phone["cells"]
        assert {cell["label"] for cell in cells} >= {"Titre", "Centre", "Commission"}
        # The data wraps: the title, the centre and the commission take two lines or more in every card.
        wrapped = [cell for cell in cells if _lines(cell) >= 2]
        assert {cell["label"] for cell in wrapped} >= {"Titre", "Centre", "Commission"}, width
        for cell in cells:
            assert cell["lines"], cell  # every cell of these rows has a value
            # Every line of the value starts right of its column's name, none under it.
            for line in cell["lines"]:
                assert line["left"] >= cell["labelRight"] - 0.5, (width, cell["label"], cell["text"], line, cell)
                assert line["right"] <= cell["right"] + 0.5, (width, cell)
            # The column's name breaks between its words: its widest word fits the name's width.
            assert cell["widestWord"] <= cell["labelInner"] + 0.5, (width, cell["label"], cell)


def test_the_action_column_of_a_formations_history_keeps_a_readable_width_on_a_phone(
    live_server, transactional_db, browser_page, centre, centre_manager, tmp_path
):
    formation = FormationFactory(centre=centre, title=TITLES[0])
    # A staff member whose login is an e-mail address, one long word.
    colleague = StaffMembershipFactory(centre=centre, user__username="chloe.marchand-lefebvre@univ-example.fr").user
    changes: list[tuple[Any, str | list[Any]]] = [
        (centre_manager, [{"changed": {"fields": ["title", "commission", "in service"]}}]),
        (colleague, [{"changed": {"fields": ["applications close on", "return deadline"]}}]),
        (
            centre_manager,
            "Adresse mail du compte : sarah.benali@example.org → sarah.benali-martin@etudiant.example.fr",
        ),
    ]
    for author, change in changes:
        LogEntry.objects.log_actions(
            author.pk, Formation.objects.filter(pk=formation.pk), CHANGE, change, single_object=True
        )
    page = browser_page
    log_in_staff_browser(page, live_server, centre_manager)
    _in_french(page, live_server)
    url = f"{live_server.url}/gestion/offers/formation/{formation.pk}/history/"

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(url)
    page.screenshot(path=str(tmp_path / "history-1280.png"), full_page=True)
    wide = page.evaluate(HISTORY_JS)
    assert wide["page"] <= 0
    assert len(wide["rows"]) == len(changes)
    for row in wide["rows"]:
        assert row["date"] == pytest.approx(16 * 14 + 16, abs=40)  # Django's 16em date column, kept
        assert row["height"] < 60

    for width in (320, 375):
        page.set_viewport_size({"width": width, "height": 812})
        page.goto(url)
        page.screenshot(path=str(tmp_path / f"history-{width}.png"), full_page=True)
        phone = page.evaluate(HISTORY_JS)
        assert phone["page"] <= 0, f"{width} px: the page is {phone['page']} px too wide"
        for row in phone["rows"]:
            assert row["right"] <= phone["width"], (width, row)
            assert row["action"] >= 0.4 * phone["table"], (width, row, phone["table"])
            assert row["height"] <= 200, (width, row)
