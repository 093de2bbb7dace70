"""The connection tests of Pégase and LimeSurvey against their local peers over real HTTP: a slow Pégase test leaves
the process's "did not answer" memory alone (the lookups keep theirs), and LimeSurvey's own wording of refused
credentials (« Invalid user name or password ») is recognised."""

import json
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from applications import pegase
from applications.pegase import PegaseClient
from applications.sis import StudentRecordsUnavailable
from applications.tests.helpers import configure_pegase, start_peer, start_pegase_peer, stop_peer
from ecandidat import connectivity
from ecandidat.connectivity import Outcome, run_check
from ecandidat.tests.helpers import loopback_http

NO_ANSWER_IN_TIME = "No answer in time."
REFUSED_CREDENTIALS = "The credentials were refused."


pytestmark = pytest.mark.usefixtures("fresh_pegase_memory")


@pytest.fixture
def pegase_peer(settings):
    process, url = start_pegase_peer()
    try:
        configure_pegase(settings, url)
        yield url
    finally:
        stop_peer(process)


def lookup_client(settings, timeout: float) -> PegaseClient:
    """A client as the lookups build it (PegaseBackend.from_settings): it keeps the "did not answer" memory."""
    return PegaseClient(
        auth_url=settings.PEGASE_AUTH_URL,
        username=settings.PEGASE_USERNAME,
        password=settings.PEGASE_PASSWORD,
        timeout=timeout,
    )


def stats(url: str) -> dict:
    return requests.get(f"{url}/_peer/stats", timeout=5).json()


def nomenclature_url(settings) -> str:
    return f"{settings.PEGASE_REF_URL.rstrip('/')}/nomenclatures/SerieBac/numPage/0/nbOccurences/1"


@pytest.mark.integration
def test_a_slow_pegase_test_does_not_cut_the_lookups_off(pegase_peer, settings):
    # Pégase answers in 1.5 s: within PEGASE_TIMEOUT (5 s), past the page's shorter limit.
    requests.post(f"{pegase_peer}/_peer/delay?seconds=1.5&count=1", timeout=5)

    result = run_check(connectivity.get("pegase"), timeout=0.5)

    assert (result.outcome, result.message) == (Outcome.FAILED, NO_ANSWER_IN_TIME)
    assert pegase._unreachable == {}
    client = lookup_client(settings, settings.PEGASE_TIMEOUT)
    assert client.token(renew=True)
    assert "nomenclatures" in client.get_json(nomenclature_url(settings))
    # And a new test right after asks Pégase again.
    tokens_before = stats(pegase_peer)["tokens_issued"]
    assert run_check(connectivity.get("pegase"), timeout=3).outcome == Outcome.OK
    assert stats(pegase_peer)["tokens_issued"] == tokens_before + 1


@pytest.mark.integration
def test_a_pegase_test_asks_pegase_even_when_a_lookup_found_it_silent(pegase_peer, settings):
    requests.post(f"{pegase_peer}/_peer/delay?seconds=1.5&count=1", timeout=5)
    with pytest.raises(StudentRecordsUnavailable, match="Timeout"):
        lookup_client(settings, 0.5).get_json(nomenclature_url(settings))
    tokens_before = stats(pegase_peer)["tokens_issued"]

    result = run_check(connectivity.get("pegase"), timeout=3)

    assert result.outcome == Outcome.OK, result
    assert stats(pegase_peer)["tokens_issued"] == tokens_before + 1
    # The lookups keep their memory: they do not wait PEGASE_TIMEOUT on each login while Pégase hangs.
    with pytest.raises(StudentRecordsUnavailable, match="not asked again yet"):
        lookup_client(settings, settings.PEGASE_TIMEOUT).token(renew=True)


# --- LimeSurvey -------------------------------------------------------------------------------------------------


@pytest.fixture
def limesurvey_peer(settings, tmp_path):
    process, url = start_peer(
        "limesurvey/server.py", "--fixtures", str(tmp_path), "--user", "u", "--password", "lime-S3"
    )
    try:
        settings.LIMESURVEY_URL = f"{url}/index.php/admin/remotecontrol"
        settings.LIMESURVEY_USER, settings.LIMESURVEY_PASSWORD = "u", "lime-S3"
        yield settings.LIMESURVEY_URL
    finally:
        stop_peer(process)


def test_the_development_limesurvey_refuses_credentials_in_limesurvey_s_words(limesurvey_peer, settings):
    answer = requests.post(
        limesurvey_peer,
        json={"method": "get_session_key", "params": ["u", "wrong"], "id": 1},
        timeout=5,
    ).json()

    assert answer["result"] == {"status": "Invalid user name or password"}


def test_limesurvey_refusing_the_credentials_in_its_own_words(limesurvey_peer, settings):
    settings.LIMESURVEY_PASSWORD = "wrong-Lime-Secret"

    result = run_check(connectivity.get("limesurvey"))

    assert (result.outcome, result.message) == (Outcome.FAILED, REFUSED_CREDENTIALS)
    assert result.detail == "get_session_key: Invalid user name or password"
    assert "wrong-Lime-Secret" not in result.detail + result.configuration


@pytest.fixture
def status_peer(settings):
    """A JSON-RPC peer whose get_session_key answers the status the test sets, as LimeSurvey does."""
    answers: dict[str, object] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            body = json.dumps({"id": request.get("id"), "result": answers["result"], "error": None}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with loopback_http(Handler) as url:
        settings.LIMESURVEY_URL = f"{url}/index.php/admin/remotecontrol"
        settings.LIMESURVEY_USER, settings.LIMESURVEY_PASSWORD = "u", "lime-S3"
        yield answers


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("Invalid user name or password", REFUSED_CREDENTIALS),  # LimeSurvey's
        ("Invalid user or password", REFUSED_CREDENTIALS),
        ("Error: internal", "The connection failed."),
    ],
)
def test_limesurvey_statuses_of_get_session_key(status_peer, status, message):
    status_peer["result"] = {"status": status}

    result = run_check(connectivity.get("limesurvey"))

    assert (result.outcome, result.message) == (Outcome.FAILED, message)
    assert result.detail.endswith(f"get_session_key: {status}")
