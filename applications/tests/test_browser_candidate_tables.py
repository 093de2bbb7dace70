"""The candidate's tables on a phone, in Chromium: below 44em their rows read as cards (static/css/app.css), each
cell after its column's name (its data-label, written before it by the style sheet). A screen reader hears that name
once: the table keeps its semantics (the templates put the table roles on every element, which WebKit would drop
otherwise), so it reads the column header, and the written label's alternative text "" keeps it out of the cell's
name and text. Chromium's own accessibility tree (not Playwright's reading of the ARIA attributes) shows it, on the
applications list and on an application's pieces and questions at 375 px; at 1,280 px the tables are tables, no
label written. Screenshots of each width go to the test's temporary directory."""

import pytest
from django.conf import settings

from applications.enums import PieceStatus
from applications.tests.factories_candidature import (
    ApplicationFactory,
    DecisionFactory,
    PieceSubmissionFactory,
    complete_candidate,
)
from ecandidat.tests.plugins.browser import log_in_browser
from offers.tests.factories import FormationFactory, PieceTypeFactory, make_question

pytestmark = pytest.mark.browser

# The table captioned ``caption``: its layout and, for each cell of its body, its label (data-label), what the style
# sheet writes before it (the computed content: the text, then its alternative text) and the cell's layout (an empty
# cell is not shown on a phone, nor in the accessibility tree).
CELLS_JS = """
(caption) => {
  const table = [...document.querySelectorAll('table.table')].find((t) => t.caption?.textContent.trim() === caption);
  return {
    display: getComputedStyle(table).display,
    cells: [...table.querySelectorAll('tbody td')].map((td) => ({
      label: td.dataset.label ?? null,
      before: getComputedStyle(td, '::before').content,
      beforeDisplay: getComputedStyle(td, '::before').display,
      display: getComputedStyle(td).display,
    })),
  };
}
"""


@pytest.fixture
def application(campaign):
    """An application with a validated decision, two pieces (one refused, with a comment; one conditional, still
    awaited) and a question."""
    formation = FormationFactory(title="MASTER 1 - ENERGIE")
    formation.questions.add(make_question("PROJET", candidate_label="Décrivez votre projet professionnel."))
    application = ApplicationFactory(candidate=complete_candidate(user__campaign=campaign), formation=formation)
    DecisionFactory(application=application, validated=True)
    PieceSubmissionFactory(
        application=application,
        piece_type=PieceTypeFactory(is_common=True, is_unique=True, label="Lettre de motivation"),
        status=PieceStatus.REFUSED,
        comment="Le scan est illisible.",
    )
    PieceSubmissionFactory(
        application=application,
        piece_type=PieceTypeFactory(is_common=True, is_unique=True, is_conditional=True, label="Relevé de notes"),
        status=PieceStatus.WAITING,
    )
    return application


def _ax_table(page, caption: str) -> dict:
    """Chromium's accessibility tree of the table named ``caption``: its column headers' names, and for each cell
    (role cell, in the body's rows) its name and the text of its subtree (what a screen reader reads in it)."""
    session = page.context.new_cdp_session(page)
    try:
        nodes = {node["nodeId"]: node for node in session.send("Accessibility.getFullAXTree")["nodes"]}
    finally:
        session.detach()

    def role(node):
        return node.get("role", {}).get("value", "")

    def name(node):
        return node.get("name", {}).get("value", "")

    def descendants(node):
        for child_id in node.get("childIds", []):
            child = nodes.get(child_id)
            if child is not None:
                yield child
                yield from descendants(child)

    tables = [node for node in nodes.values() if role(node) == "table" and name(node) == caption]
    assert len(tables) == 1, [name(node) for node in nodes.values() if role(node) == "table"]
    inside = list(descendants(tables[0]))
    return {
        "rows": sum(role(node) == "row" for node in inside),
        "headers": [name(node) for node in inside if role(node) == "columnheader"],
        "row_headers": [name(node) for node in inside if role(node) == "rowheader"],
        "cells": [
            {
                "name": name(node),
                "text": " ".join(name(text) for text in descendants(node) if role(text) == "StaticText"),
            }
            for node in inside
            if role(node) == "cell"
        ],
    }


def _assert_read_once(page, caption: str, headers: list[str], rows: int) -> None:
    layout = page.evaluate(CELLS_JS, caption)
    tree = _ax_table(page, caption)
    assert layout["display"] == "block"
    # The table, its header row and a row per line; the column headers kept (hidden from sight, not from ears).
    assert tree["rows"] == 1 + rows
    assert tree["headers"] == headers
    assert len(tree["row_headers"]) == rows
    shown = [cell for cell in layout["cells"] if cell["display"] != "none"]
    assert len(tree["cells"]) == len(shown)
    for cell, read in zip(shown, tree["cells"], strict=True):
        if cell["label"] is None:
            assert cell["before"] == "none"
            continue
        # The label is written before the cell ...
        assert cell["before"] == f'"{cell["label"]} : " / ""', cell
        assert cell["beforeDisplay"] != "none", cell
        assert cell["label"] in headers
        # ... and not read: the column header says it.
        assert not read["name"].startswith(cell["label"]), (cell["label"], read)
        assert f"{cell['label']} :" not in read["name"], (cell["label"], read)
        assert f"{cell['label']} :" not in read["text"], (cell["label"], read)


# Per page: each table's caption, its column headers and how many rows it has (``application`` above).
TABLES = {
    "list": {"Candidatures": (["Formation", "Date limite de retour", "Statut du dossier", "Décision", "Actions"], 1)},
    "application": {
        "Pièces justificatives": (
            ["Pièce justificative", "Fichier", "Statut", "Pièce conditionnelle", "Commentaire"],
            2,
        ),
        "Questions complémentaires": (["Question", "Statut", "Réponse"], 1),
    },
}


def test_a_candidate_hears_each_column_name_once_on_a_phone(
    live_server, transactional_db, browser_page, application, tmp_path
):
    page = browser_page
    log_in_browser(page, live_server, application.candidate.user)
    pages = {"list": "/candidat/candidatures/", "application": f"/candidat/candidatures/{application.public_id}/"}

    page.set_viewport_size({"width": 1280, "height": 900})
    for name, tables in TABLES.items():
        page.goto(live_server.url + pages[name])
        page.screenshot(path=str(tmp_path / f"{name}-1280.png"), full_page=True)
        for caption in tables:
            wide = page.evaluate(CELLS_JS, caption)
            assert wide["display"] == "table"
            assert {cell["before"] for cell in wide["cells"]} == {"none"}

    page.set_viewport_size({"width": 375, "height": 812})
    for name, tables in TABLES.items():
        page.goto(live_server.url + pages[name])
        page.screenshot(path=str(tmp_path / f"{name}-375.png"), full_page=True)
        for caption, (headers, rows) in tables.items():
            _assert_read_once(page, caption, headers, rows)


def test_an_english_reader_reads_each_cell_label_with_an_english_colon_on_a_phone(
    live_server, transactional_db, browser_page, application
):
    """English writes "Status: Waiting", French "Statut : En attente" (the switch's cookie chooses English)."""
    page = browser_page
    log_in_browser(page, live_server, application.candidate.user)
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}])
    page.set_viewport_size({"width": 320, "height": 800})
    page.goto(f"{live_server.url}/candidat/candidatures/{application.public_id}/")

    cells = page.evaluate(CELLS_JS, "Supporting documents")["cells"]
    written = {cell["before"] for cell in cells if cell["label"] is not None}
    assert '"Status: " / ""' in written
    assert all(before.endswith(': " / ""') and ' : "' not in before for before in written), written
