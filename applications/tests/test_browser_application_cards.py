"""The applications list on a phone, in Chromium: below 40em its rows read as cards (static/css/admin_phone.css,
templates/admin/change_list_results.html, ecandidat.templatetags.result_cards). A commission member reads, at 320
and 375 px, each cell of a row on its own line after its column's name, with nothing to scroll sideways (neither
the page nor the results' box); the selection boxes and the rows' links are 44 px high; the SVA row keeps its tint
and its mark; Chromium still exposes a table with its column headers (the template's roles) and axe-core finds no
serious or critical violation. At 1,280 px the list is Django's table, no label shown. Screenshots of each width go
to the test's temporary directory."""

import datetime

import pytest
from django.utils import timezone

from applications.enums import DossierStatus, SvaColour
from applications.models import SvaAlertLevel
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import staff_login, staff_with_authenticator_app
from ecandidat.tests.plugins.browser import serious_axe_violations
from offers.tests.factories import CommissionFactory, FormationFactory

pytestmark = pytest.mark.browser

LIST = "/gestion/applications/application/"

# What the list shows: the page's and the results' box's sideways overflow, the column names (the headers' text),
# and for each cell its label (data-label), what the style sheet writes before it, its layout and its box.
LAYOUT_JS = """
() => {
  const root = document.documentElement;
  const box = document.querySelector('#changelist .results');
  const table = document.querySelector('#result_list');
  const headers = [...table.querySelectorAll('thead th')].map((th) => th.textContent.trim());
  const rows = [...table.querySelectorAll('tbody tr')].map((tr) => ({
    classes: tr.className,
    display: getComputedStyle(tr).display,
    borderLeft: getComputedStyle(tr).borderLeftColor + ' ' + getComputedStyle(tr).borderLeftWidth,
    cells: [...tr.children].map((cell) => {
      const rect = cell.getBoundingClientRect();
      return {
        label: cell.dataset.label ?? null,
        before: getComputedStyle(cell, '::before').content,
        display: getComputedStyle(cell).display,
        background: getComputedStyle(cell).backgroundColor,
        left: rect.left, right: rect.right, top: rect.top,
      };
    }),
  }));
  const targets = [...table.querySelectorAll('input[type=checkbox], tbody a')]
    .filter((el) => el.getClientRects().length)
    .map((el) => ({ what: el.tagName.toLowerCase() + '.' + el.className + ' ' + el.textContent.trim().slice(0, 30),
                    height: el.getBoundingClientRect().height, width: el.getBoundingClientRect().width }));
  return {
    page: root.scrollWidth - root.clientWidth, box: box.scrollWidth - box.clientWidth, width: root.clientWidth,
    tableDisplay: getComputedStyle(table).display, headers, rows, targets,
    roles: [table, ...table.querySelectorAll('thead, tbody, tr, th, td')].map((el) =>
      el.tagName.toLowerCase() + (el.closest('thead') ? '^' : '') + ' '
      + el.getAttribute('role')),
  };
}
"""


@pytest.fixture
def commission_list(campaign, settings):
    """A commission's three received dossiers, the oldest in SVA alert (orange, 30 days reached)."""
    settings.SVA_ALERT_DATE = "REC"
    SvaAlertLevel.objects.create(days=30, colour=SvaColour.ORANGE)
    commission = CommissionFactory(label="Jury Énergie")
    formation = FormationFactory(centre=commission.centre, commission=commission, code="M1ENER")
    today = timezone.localdate()
    applications = [
        make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED, received_on=today - age)
        for age in (datetime.timedelta(days=45), datetime.timedelta(days=2), datetime.timedelta(days=1))
    ]
    return commission, applications


def _accessible_roles(page) -> dict[str, int]:
    """How many nodes of each role Chromium's accessibility tree holds (its own tree, not Playwright's reading of
    the ARIA attributes: a table laid out as blocks without its roles shows there as generic boxes)."""
    session = page.context.new_cdp_session(page)
    roles: dict[str, int] = {}
    for node in session.send("Accessibility.getFullAXTree")["nodes"]:
        role = node.get("role", {}).get("value", "")
        roles[role] = roles.get(role, 0) + 1
    session.detach()
    return roles


def test_a_commission_member_reads_the_applications_as_cards_on_a_phone(
    browser_page, live_server, tmp_path, commission_list
):
    commission, applications = commission_list
    member, secret = staff_with_authenticator_app(commission_member=True, commission=commission)
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})
    staff_login(page, live_server, member, secret)

    page.goto(live_server.url + LIST)
    page.screenshot(path=str(tmp_path / "applications-table-1280.png"), full_page=True)
    wide = page.evaluate(LAYOUT_JS)
    assert wide["tableDisplay"] == "table"
    assert {row["display"] for row in wide["rows"]} == {"table-row"}
    assert {cell["display"] for row in wide["rows"] for cell in row["cells"]} == {"table-cell"}
    assert {cell["before"] for row in wide["rows"] for cell in row["cells"]} == {"none"}
    assert len({cell["top"] for cell in wide["rows"][0]["cells"]}) == 1  # one line per row
    headers = wide["headers"]
    assert "Statut du dossier" in headers
    assert "Décision" in headers
    assert "Rang réel" in headers
    # The selection box's column has no name: its boxes carry theirs.
    assert headers[0] == ""
    assert len(wide["rows"]) == len(applications)

    for width in (320, 375):
        page.set_viewport_size({"width": width, "height": 812})
        page.goto(live_server.url + LIST)
        page.screenshot(path=str(tmp_path / f"applications-cards-{width}.png"), full_page=True)
        phone = page.evaluate(LAYOUT_JS)
        assert phone["page"] <= 0, f"{width}px: the page is {phone['page']} px too wide"
        assert phone["box"] <= 0, f"{width}px: the results' box scrolls {phone['box']} px sideways"
        assert phone["tableDisplay"] == "block"
        for row in phone["rows"]:
            assert row["display"] == "block"
            cells = row["cells"]
            # Each cell on its own line, inside the screen.
            assert [cell["top"] for cell in cells] == sorted(cell["top"] for cell in cells)
            assert len({cell["top"] for cell in cells}) == len(cells)
            assert all(cell["left"] >= 0 and cell["right"] <= phone["width"] + 0.5 for cell in cells), cells
            # Each named column's cell says its name before its value (the label hidden from screen readers).
            assert [cell["label"] for cell in cells] == [header or None for header in headers]
            for cell, header in zip(cells, headers, strict=True):
                assert cell["before"] == (f'"{header}" / ""' if header else "none"), (header, cell["before"])
        for target in phone["targets"]:
            assert target["height"] >= 44, f"{width}px: {target}"
        kinds = [target["what"].split(" ")[0] for target in phone["targets"]]
        assert kinds.count("input.action-select") == len(applications)
        assert sum(kind.startswith("a.") for kind in kinds) >= len(applications)

        # The SVA row keeps its tint and its mark, on the card's left edge.
        alert = next(row for row in phone["rows"] if "sva-row--orange" in row["classes"])
        assert alert["borderLeft"] == "rgb(179, 64, 0) 4px"
        assert {cell["background"] for cell in alert["cells"]} == {"rgba(179, 64, 0, 0.1)"}
        plain = next(row for row in phone["rows"] if "sva-row" not in row["classes"])
        assert "rgb(179, 64, 0)" not in plain["borderLeft"]

        # Every element of the table says its role (WebKit drops a table's semantics once it is laid out as blocks;
        # Chromium keeps them) and Chromium exposes one header row, a row per application, a header per column.
        expected_roles = {
            "table table",
            "thead^ rowgroup",
            "tbody rowgroup",
            "tr^ row",
            "th^ columnheader",
            "tr row",
            "td cell",
            "th rowheader",
        }
        assert set(phone["roles"]) == expected_roles, phone["roles"]
        roles = _accessible_roles(page)
        assert roles.get("table") == 1, roles
        assert roles.get("row") == len(applications) + 1, roles
        assert roles.get("columnheader") == len(headers), roles
        assert roles.get("cell", 0) + roles.get("rowheader", 0) == len(applications) * len(headers), roles
        assert serious_axe_violations(page) == []
