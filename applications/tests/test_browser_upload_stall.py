"""An upload on a connection that stops carrying it without closing (a phone on a failing 3G line, deadline night).

The row said « Envoi du fichier en cours… » for ever: the request had no time limit and nothing watched its
progress. Proved with a 1.8 MB PDF: the progress bar reached 100 % from the socket buffers, nginx gave up at about
70 s, nothing was stored, and only « Annuler l'envoi » got the candidate out. Now static/js/upload.js abandons a
sending with no progress for ``data-stall-ms`` (30 s) or no answer ``data-answer-ms`` (75 s) after its last byte
left (nginx's proxy_read_timeout is 65 s), says so in the row, which gets the focus, and the file can be sent
again; at 100 % the row says « Fichier envoyé, vérification… ». The tests set both delays short in the page.
"""

import re
import socket
import threading

import pytest
from django.core.files.storage import default_storage
from playwright.sync_api import Route, expect

from applications.models import Application, PieceSubmission
from applications.tests.factories_candidature import complete_candidate
from documents.models import Document
from documents.tests.hostile_files import pdf_bytes
from ecandidat.tests.plugins.browser import log_in_browser
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.browser

UPLOAD = re.compile(r"/pieces/[^/]+/\d+/ajouter/$")
STALLED = "La connexion semble interrompue : le fichier n'a pas été enregistré. Réessayez."
SENDING = "Envoi du fichier en cours…"
CHECKING = "Fichier envoyé, vérification…"


@pytest.fixture
def setup(live_server, transactional_db, browser_page, campaign):
    formation = FormationFactory()
    piece = PieceTypeFactory(is_common=True, is_unique=True, label="Relevé de notes")
    candidate = complete_candidate(user__campaign=campaign)
    application = Application.objects.create(
        candidate=candidate, formation=formation, campaign=campaign, created_by=candidate.user
    )
    page = browser_page
    page.set_viewport_size({"width": 375, "height": 812})
    log_in_browser(page, live_server, candidate.user)
    page.goto(f"{live_server.url}/candidat/candidatures/{application.public_id}/")
    return page, piece


@pytest.fixture
def silent_server():
    """A server that takes the start of a request (50 kB), then reads nothing more and never answers, the
    connection left open: what the candidate's phone sees when the line stops carrying data. Its URL; the port
    is the system's choice."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stop = threading.Event()
    received: list[int] = []
    connections: list[socket.socket] = []

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            connections.append(connection)
            while sum(received) < 50_000 and (data := connection.recv(65536)):
                received.append(len(data))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/", received
    stop.set()
    thread.join(timeout=5)
    for connection in connections:
        connection.close()
    listener.close()


def _stored() -> tuple:
    """What an upload would have written: its rows and the storage's files."""
    return Document.objects.count(), PieceSubmission.objects.count(), default_storage.listdir("")


def _short_delays(page, *, stall_ms: int, answer_ms: int) -> None:
    """The delays the script reads from #upload-texts at each sending, shortened for the test (after checking that
    the page gives the production ones)."""
    texts = page.locator("#upload-texts")
    assert (texts.get_attribute("data-stall-ms"), texts.get_attribute("data-answer-ms")) == ("30000", "75000")
    page.evaluate(
        "([stall, answer]) => { const t = document.getElementById('upload-texts');"
        " t.setAttribute('data-stall-ms', stall); t.setAttribute('data-answer-ms', answer); }",
        [str(stall_ms), str(answer_ms)],
    )


def _choose_and_send(page, piece, content: bytes) -> None:
    page.locator(f"#file-{piece.pk}").set_input_files(
        {"name": "releve.pdf", "mimeType": "application/pdf", "buffer": content}
    )
    page.locator(f'#piece-{piece.pk} button[type="submit"]').click()


def _said_stalled_in_the_focused_row(page, piece) -> None:
    status = page.locator(f"#piece-status-{piece.pk}")
    expect(status).to_have_text(STALLED)
    expect(page.locator(f"#piece-{piece.pk}")).to_be_focused()
    assert not page.get_by_role("progressbar", name="Envoi de Relevé de notes").is_visible()
    assert not page.locator(f"#piece-{piece.pk} [data-cancel]").is_visible()
    assert page.locator(f"#file-{piece.pk}").is_enabled()


def test_an_upload_that_gets_no_progress_is_abandoned_said_and_can_be_sent_again(setup):
    page, piece = setup
    before = _stored()
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)  # never fulfilled nor continued: no byte goes, no answer comes

    page.route(UPLOAD, hold)
    _short_delays(page, stall_ms=1_500, answer_ms=60_000)

    _choose_and_send(page, piece, pdf_bytes())

    expect(page.locator(f"#piece-status-{piece.pk}")).to_have_text(SENDING)
    _said_stalled_in_the_focused_row(page, piece)
    assert len(held) == 1
    assert _stored() == before

    # The line is back: the same file, sent again with the same button, is stored once.
    page.unroute(UPLOAD)
    page.locator(f'#piece-{piece.pk} button[type="submit"]').click()
    page.wait_for_url(re.compile(rf"#piece-{piece.pk}$"))
    page.locator(f"#piece-status-{piece.pk}", has_text="fichier reçu").wait_for()
    assert Document.objects.count() == before[0] + 1
    assert PieceSubmission.objects.count() == before[1] + 1


def test_an_upload_sent_to_100_percent_with_no_answer_says_it_is_checked_then_is_abandoned(setup, silent_server):
    page, piece = setup
    url, received = silent_server
    before = _stored()
    # The upload goes to a server that stops reading after 50 kB and never answers: the browser has taken the whole
    # file (the bar at 100 %), as the phone's socket buffers did in the proof, and waits.
    page.route(UPLOAD, lambda route: route.continue_(url=url))
    _short_delays(page, stall_ms=60_000, answer_ms=2_500)

    _choose_and_send(page, piece, b"%PDF-1.4\n" + b"0" * 1_500_000)

    expect(page.locator(f"#piece-status-{piece.pk}")).to_have_text(CHECKING)
    assert re.fullmatch(r"100\s%", page.locator(f"#piece-{piece.pk} [data-percent]").inner_text())
    _said_stalled_in_the_focused_row(page, piece)
    assert 0 < sum(received) < 1_500_000  # it never got the whole file
    assert _stored() == before
