"""The connection tests of Pégase and LimeSurvey (applications/connectivity.py) against their local peers in separate
processes over real HTTP (devtools/pegase/server.py, devtools/limesurvey/server.py), and their failure paths. In
English, as every test of applications/ (applications/tests/conftest.py)."""

import pytest
import requests

from applications.tests.helpers import start_peer, stop_peer
from ecandidat import connectivity
from ecandidat.connectivity import Outcome, run_check
from ecandidat.tests.plugins.services import free_port

SHORT = 0.5
REFUSED = "Connection refused: nothing answers at this address."


# --- Pégase -----------------------------------------------------------------------------------------------------


def pegase_check():
    return connectivity.get("pegase")


def configure_pegase(settings, url: str, password: str = "pegase-Secret-8") -> None:
    settings.PEGASE_AUTH_URL = f"{url}/cas/v1/tickets"
    settings.PEGASE_USERNAME, settings.PEGASE_PASSWORD = "u", password
    settings.PEGASE_REF_URL = f"{url}/api/v1/ref/"
    settings.PEGASE_TIMEOUT = 5


pytestmark = pytest.mark.usefixtures("fresh_pegase_memory")


@pytest.fixture
def pegase_peer(settings):
    process, url = start_peer("pegase/server.py", "--user", "u", "--password", "pegase-Secret-8")
    try:
        configure_pegase(settings, url)
        yield url
    finally:
        stop_peer(process)


@pytest.mark.integration
def test_pegase_gives_a_token_and_reads_a_nomenclature(pegase_peer):
    result = run_check(pegase_check())

    assert result.outcome == Outcome.OK, result
    assert result.detail.startswith("token received; nomenclature SerieBac: ")
    assert result.configuration.startswith(f"{pegase_peer}/cas/v1/tickets (user u) — ref {pegase_peer}/api/v1/ref/")
    assert requests.get(f"{pegase_peer}/_peer/stats", timeout=5).json()["tokens_issued"] == 1


@pytest.mark.integration
def test_pegase_refusing_the_credentials(pegase_peer, settings):
    settings.PEGASE_PASSWORD = "wrong-Pegase-Secret"

    result = run_check(pegase_check())

    assert (result.outcome, result.message) == (Outcome.FAILED, "The credentials were refused.")
    assert "wrong-Pegase-Secret" not in result.detail + result.configuration


@pytest.mark.integration
def test_pegase_answering_too_late_times_out(pegase_peer):
    requests.post(f"{pegase_peer}/_peer/delay?seconds=3&count=1", timeout=5)

    result = run_check(pegase_check(), timeout=SHORT)

    assert (result.outcome, result.message) == (Outcome.FAILED, "No answer in time.")


@pytest.mark.integration
def test_pegase_server_error(pegase_peer):
    requests.post(f"{pegase_peer}/_peer/fail?status=503&count=1", timeout=5)

    result = run_check(pegase_check())

    assert (result.outcome, result.message) == (Outcome.FAILED, "The connection failed.")
    assert result.detail.endswith("HTTP 503")


def test_pegase_refused(settings):
    configure_pegase(settings, f"http://127.0.0.1:{free_port()}")

    result = run_check(pegase_check(), timeout=SHORT)

    assert (result.outcome, result.message) == (Outcome.FAILED, REFUSED)
    assert "pegase-Secret-8" not in result.detail


def test_pegase_not_configured(settings):
    settings.PEGASE_AUTH_URL = ""

    assert run_check(pegase_check()).outcome == Outcome.NOT_CONFIGURED


# --- LimeSurvey -------------------------------------------------------------------------------------------------


def limesurvey_check():
    return connectivity.get("limesurvey")


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


def test_limesurvey_opens_and_releases_a_session(limesurvey_peer):
    result = run_check(limesurvey_check())

    assert result.outcome == Outcome.OK, result
    assert result.detail == "get_session_key, release_session_key"
    assert result.configuration == f"{limesurvey_peer} (user u)"


def test_limesurvey_refusing_the_credentials(limesurvey_peer, settings):
    settings.LIMESURVEY_PASSWORD = "wrong-Lime-Secret"

    result = run_check(limesurvey_check())

    assert (result.outcome, result.message) == (Outcome.FAILED, "The credentials were refused.")
    assert result.detail == "get_session_key: Invalid user name or password"


def test_limesurvey_refused(settings):
    settings.LIMESURVEY_URL = f"http://127.0.0.1:{free_port()}/index.php/admin/remotecontrol"

    result = run_check(limesurvey_check(), timeout=SHORT)

    assert (result.outcome, result.message) == (Outcome.FAILED, REFUSED)


def test_limesurvey_not_configured(settings):
    settings.LIMESURVEY_URL = ""

    assert run_check(limesurvey_check()).outcome == Outcome.NOT_CONFIGURED
