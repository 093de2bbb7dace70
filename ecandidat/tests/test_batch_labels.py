"""The batch history in the reader's language: each batch by its label, each count by its words (the page showed the
commands' names and the counts' raw JSON, in English, to the central office reading French)."""

import ast
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone, translation

from ecandidat.batch_labels import BATCH_LABELS, COUNT_WORDS, SOURCE_LABELS, batch_label, count_label
from ecandidat.batches import run_batch
from ecandidat.management.commands.nightly import BATCHES
from ecandidat.models import BatchRun

ROOT = Path(settings.BASE_DIR)
# Counts whose key carries a value (a setting's): shown as stored.
NOT_LISTED = {"progress mails not sent (WAITING_LIST_RANK_DISPLAY={display})"}


def _count_keys() -> set[str]:
    """Every literal key of a ``report.add(...)`` in the sources: a string, both sides of a conditional, and the
    fixed tail of an f-string such as ``f"{kind.value}: received"`` (its head, the list's name, is listed too)."""
    keys: set[str] = set()
    for path in ROOT.glob("*/**/*.py"):
        if any(part in {".venv", "tests", "migrations", "devtools", "bench"} for part in path.parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add"):
                continue
            if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "report") or not node.args:
                continue
            first = node.args[0]
            values = [first.body, first.orelse] if isinstance(first, ast.IfExp) else [first]
            for value in values:
                if isinstance(value, ast.Constant):
                    keys.add(value.value)
                elif isinstance(value, ast.JoinedStr):
                    parts = [part.value for part in value.values if isinstance(part, ast.Constant)]
                    if len(value.values) == 2 and parts and parts[0].startswith(": "):
                        keys.add(parts[0].removeprefix(": "))
                    else:
                        keys.add(ast.unparse(value)[2:-1])
    return keys


def test_every_count_a_batch_reports_has_its_words():
    keys = _count_keys()

    assert "candidates in the day's files" in keys  # the scan reads the sources
    assert keys - NOT_LISTED <= set(COUNT_WORDS)


def test_each_word_is_its_own_message():
    with translation.override("en"):
        assert all(str(words) == key for key, words in COUNT_WORDS.items())


def test_every_nightly_batch_has_a_label():
    assert {*BATCHES, "nightly"} == set(BATCH_LABELS)  # the sequence is recorded as a run of its own


def _history_sources() -> set[str]:
    """Every ``batch=`` a call passes in the sources, as a literal or as a constant of its module (``SCAN_TASK =
    "scan_document"``): the names an application's history row may carry."""
    names: set[str] = set()
    for path in ROOT.glob("*/**/*.py"):
        if any(part in {".venv", "tests", "migrations", "devtools", "bench"} for part in path.parts):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if keyword.arg != "batch":
                    continue
                if isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str):
                    names.add(keyword.value.value)
                elif isinstance(keyword.value, ast.Name) and keyword.value.id in constants:
                    names.add(constants[keyword.value.id])
    return names - {""}


def test_every_automatic_source_of_the_history_has_a_label():
    """Found by review: the reading page showed « traitement « scan_document » » for the commonest quarantine."""
    sources = _history_sources()

    assert {"rescan_documents", "ent_login"} <= sources  # the scan reads the sources
    # Passed through a variable (documents.scanning.SCAN_TASK, applications.letters): listed by hand.
    assert {"scan_document", "send_outbound_email", "letter_download", "letter_staff_download"} <= set(SOURCE_LABELS)
    assert sources <= set(BATCH_LABELS) | set(SOURCE_LABELS)
    assert not set(SOURCE_LABELS) & set(BATCH_LABELS)  # the batch history's filter lists batches only
    with translation.override("fr"):
        assert batch_label("scan_document") == "Analyse antivirus au dépôt"
        assert batch_label("letter_staff_download") == "Téléchargement depuis la gestion"


def test_labels_in_french_and_english():
    with translation.override("fr"):
        assert batch_label("transfer_opi") == "Déversement des OPI"
        assert count_label("candidates in the day's files") == "candidats dans les fichiers du jour"
        assert count_label("countries: received") == "pays : éléments reçus"
        assert count_label("clean") == "sains"  # the batch's word, not the piece status's « sain »
        assert count_label("something new") == "something new"
        assert batch_label("demo") == "demo"
    with translation.override("en"):
        assert batch_label("transfer_opi") == "Transfer of the OPIs"
        assert count_label("countries: received") == "countries: received"


@pytest.mark.django_db
def test_the_history_page_reads_french(admin_client, django_assert_num_queries):
    run = run_batch("transfer_opi", lambda report, **kw: report.add("candidates in the day's files", 2))
    run_batch("prune_outbox", lambda report, **kw: report.add("mails deleted", 0))

    with django_assert_num_queries(7):
        page = admin_client.get("/gestion/ecandidat/batchrun/", headers={"accept-language": "fr"}).text
    with django_assert_num_queries(7):
        detail = admin_client.get(f"/gestion/ecandidat/batchrun/{run.pk}/change/", headers={"accept-language": "fr"})

    assert "Déversement des OPI" in page
    assert "candidats dans les fichiers du jour : 2" in page
    assert "mails supprimés : 0" in page
    assert "{&quot;" not in page  # no raw JSON
    assert "candidats dans les fichiers du jour : 2" in detail.text
    assert f"<title>Déversement des OPI {timezone.localtime(run.started_at):%d/%m/%Y %H:%M}" in detail.text
    assert BatchRun.objects.count() == 2
