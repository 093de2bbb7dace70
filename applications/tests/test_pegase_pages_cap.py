"""A Pégase answer claiming a huge number of pages: the nomenclatures (``reference_list``) are read at most
``MAX_PAGES`` pages, as the periods are, instead of asking page after page for as long as the answer says (a
``nbTotalPages`` of a billion kept the nightly refresh busy for ever). The answers come from a small HTTP server on
loopback, which counts the pages asked and stops answering past a safety bound (so that a missing cap fails the
test rather than hangs it)."""

import re

import pytest

from applications import pegase
from applications.sis import ReferenceKind
from applications.sis_backend import get_backend
from applications.tests.helpers import pegase_on_loopback

CAP = 3  # MAX_PAGES for these tests: a few pages, not a thousand requests
SAFETY = 20  # past this many pages the server answers 503: the backend then raises instead of looping
NOMENCLATURE = re.compile(r"^/api/v1/ref/nomenclatures/SerieBac/numPage/(\d+)/nbOccurences/\d+$")
PERIODS = re.compile(r"^/api/v1/ref/etablissement/ETAB00/espaces$")


@pytest.fixture
def pegase_pages(settings, monkeypatch, fresh_pegase_memory):
    """Pégase on loopback: a token for any credentials; each nomenclature or periods page holds one row named after
    its number, and says there are ``pegase_pages["total"]`` pages. ``asked`` lists the pages asked, in order."""
    state: dict = {"total": 10**9, "asked": []}

    def answer(path: str, query: str) -> tuple[int, object]:
        if match := NOMENCLATURE.match(path):
            page = int(match.group(1))
            body = {"nomenclatures": [{"code": f"S{page}", "libelleAffichage": f"Série {page}"}]}
            body["nbTotalPages"] = state["total"]
        elif PERIODS.match(path):
            page = int(re.search(r"(?:^|&)page=(\d+)", query).group(1))
            body = {"items": [{"code": f"P{page}", "libelle": f"Période {page}"}], "totalPages": state["total"]}
        else:
            return 404, {"message": "Not found"}
        state["asked"].append(page)
        if len(state["asked"]) > SAFETY:
            return 503, {"message": "enough"}
        return 200, body

    monkeypatch.setattr(pegase, "MAX_PAGES", CAP)
    with pegase_on_loopback(settings, answer):
        yield state


def test_a_nomenclature_claiming_a_billion_pages_is_read_up_to_the_cap(pegase_pages):
    series = get_backend().reference_list(ReferenceKind.BAC_SERIES)

    assert pegase_pages["asked"] == [0, 1, 2]
    assert [(item.code, item.label) for item in series] == [("S0", "Série 0"), ("S1", "Série 1"), ("S2", "Série 2")]


def test_the_periods_stop_at_the_same_cap(pegase_pages):
    """The behaviour the nomenclatures now mirror: the first ``MAX_PAGES`` pages, no error."""
    periods = get_backend().periods()

    assert pegase_pages["asked"] == [0, 1, 2]
    assert [period.code for period in periods] == ["P0", "P1", "P2"]


@pytest.mark.parametrize("total", [1, CAP])
def test_a_nomenclature_within_the_cap_is_read_to_its_last_page(pegase_pages, total):
    pegase_pages["total"] = total

    series = get_backend().reference_list(ReferenceKind.BAC_SERIES)

    assert pegase_pages["asked"] == list(range(total))
    assert [item.code for item in series] == [f"S{page}" for page in range(total)]
