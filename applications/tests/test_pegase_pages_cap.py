"""A Pégase answer claiming a huge number of pages: the nomenclatures (``reference_list``) are read at most
``MAX_PAGES`` pages, as the periods are, instead of asking page after page for as long as the answer says (a
``nbTotalPages`` of a billion kept the nightly refresh busy for ever). The answers come from a small HTTP server on
loopback, which counts the pages asked and stops answering past a safety bound (so that a missing cap fails the
test rather than hangs it)."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from applications import pegase
from applications.sis import ReferenceKind
from applications.sis_backend import get_backend
from applications.tests.helpers import configure_pegase

CAP = 3  # MAX_PAGES for these tests: a few pages, not a thousand requests
SAFETY = 20  # past this many pages the server answers 503: the backend then raises instead of looping
NOMENCLATURE = re.compile(r"^/api/v1/ref/nomenclatures/SerieBac/numPage/(\d+)/nbOccurences/\d+$")
PERIODS = re.compile(r"^/api/v1/ref/etablissement/ETAB00/espaces$")


@pytest.fixture
def pegase_pages(settings, monkeypatch):
    """Pégase on loopback: a token for any credentials; each nomenclature or periods page holds one row named after
    its number, and says there are ``pegase_pages["total"]`` pages. ``asked`` lists the pages asked, in order."""
    state: dict = {"total": 10**9, "asked": []}

    class Handler(BaseHTTPRequestHandler):
        def send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):  # noqa: N802 (http.server's protocol)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send(201, b"a.jwt.token", "text/plain")

        def do_GET(self):  # noqa: N802
            path, _, query = self.path.partition("?")
            if match := NOMENCLATURE.match(path):
                page = int(match.group(1))
                body = {"nomenclatures": [{"code": f"S{page}", "libelleAffichage": f"Série {page}"}]}
                body["nbTotalPages"] = state["total"]
            elif PERIODS.match(path):
                page = int(re.search(r"(?:^|&)page=(\d+)", query).group(1))
                body = {"items": [{"code": f"P{page}", "libelle": f"Période {page}"}], "totalPages": state["total"]}
            else:
                return self.send(404, b'{"message": "Not found"}')
            state["asked"].append(page)
            if len(state["asked"]) > SAFETY:
                return self.send(503, b'{"message": "enough"}')
            return self.send(200, json.dumps(body).encode())

        def log_message(self, *args):
            pass

    monkeypatch.setattr(pegase, "MAX_PAGES", CAP)
    pegase._tokens.clear()
    pegase._unreachable.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        configure_pegase(settings, f"http://127.0.0.1:{server.server_address[1]}")
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        pegase._tokens.clear()


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
