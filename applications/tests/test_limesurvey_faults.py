"""Three faults of the LimeSurvey synchronisation (found by review), against the development LimeSurvey
(devtools/limesurvey/server.py's ``RemoteControl``) served on a free loopback port in a thread of the test's process,
over real HTTP:

- a number no float holds (``1e400``) in one response was read as ``inf``, which the database refuses in a JSON
  document: the survey's whole import was lost, every night;
- an export, or a JSON-RPC answer, nested too deeply (``[[[[...]]]]``) raised ``RecursionError``, which stopped the
  synchronisation: the surveys after it were not read, every night;
- a session expiring in the middle of the synchronisation (``Invalid session key``) made every later survey fail.
"""

import base64
import contextlib
import importlib.util
import io
import json
import logging
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from applications.limesurvey import LimeSurveyClient, LimeSurveyError
from applications.limesurvey_sync import sync_complementary_forms
from applications.models import Application, FormAnswer
from applications.tests.factories import CandidateFactory
from ecandidat.batches import Report
from ecandidat.models import BatchRun
from ecandidat.tests.helpers import loopback_http
from offers.models import ComplementaryForm
from offers.tests.factories import FormationFactory

SERVER = Path(__file__).resolve().parents[2] / "devtools" / "limesurvey" / "server.py"
DEEP = "[" * 100_000 + "]" * 100_000


def _server_module():
    spec = importlib.util.spec_from_file_location("limesurvey_dev_server", SERVER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


server: Any = _server_module()  # devtools/ is no package: loaded from its file, untyped


class ExpiringRemoteControl(server.RemoteControl):
    """LimeSurvey whose sessions all expire after each export (``expire_after_export``), or at once (``never``)."""

    def __init__(self, *args, never: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.never = never
        self.keys_given = 0

    def get_session_key(self, username, password, *plugin):
        key = super().get_session_key(username, password, *plugin)
        if isinstance(key, str):
            self.keys_given += 1
            if self.never:
                self.sessions.discard(key)
        return key

    def export_responses(self, key, survey_id, *rest):
        result = super().export_responses(key, survey_id, *rest)
        self.sessions.clear()  # the session lifetime ran out during this export
        return result


def _handler(api, bodies: dict[int, bytes]):
    """``server.make_handler``'s JSON-RPC, but the export of a survey in ``bodies`` answers that HTTP body as it is."""
    served: Any = server.make_handler(api)

    class Handler(served):
        rfile: Any  # the request's body, replayed to the served handler once read here

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = json.loads(raw)
            params = request.get("params") or [None, None]
            if request.get("method") == "export_responses" and params[1] in bodies:
                self._answer(bodies[params[1]])
                return
            self.rfile = _Replay(raw)
            super().do_POST()

        def _answer(self, data: bytes):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


class _Replay:
    def __init__(self, data: bytes):
        self.data = data

    def read(self, _length: int) -> bytes:
        return self.data


@contextlib.contextmanager
def limesurvey_peer(settings, fixtures: Path, *, api=None, bodies: dict[int, bytes] | None = None):
    api = api or server.RemoteControl(fixtures, "u", "p")
    with loopback_http(_handler(api, bodies or {})) as base:
        url = f"{base}/index.php/admin/remotecontrol"
        settings.LIMESURVEY_URL, settings.LIMESURVEY_USER, settings.LIMESURVEY_PASSWORD = url, "u", "p"
        yield url


def response(rid, submitdate, **answers):
    return {"id": rid, "submitdate": submitdate, "lastpage": 2, "numDossier": "", "idCandidature": "", **answers}


def write(fixtures: Path, survey_id: int, rows: list[dict]) -> None:
    (fixtures / f"{survey_id}.json").write_text(json.dumps(rows))


def write_export(fixtures: Path, survey_id: int, text: str) -> None:
    """The export LimeSurvey answers for ``survey_id``, written as it is (JSON ``json.dumps`` would not write)."""
    (fixtures / f"{survey_id}.raw").write_text(base64.b64encode(text.encode()).decode())


@pytest.fixture
def form(db):
    return ComplementaryForm.objects.create(
        code="TEST", survey_id=42, label="Questionnaire", candidate_label="Q", url="https://enquetes.example/42"
    )


@pytest.fixture
def application(centre, commission, campaign):
    candidate = CandidateFactory(user__campaign=campaign, user__username="AB000001")
    formation = FormationFactory(centre=centre, commission=commission)
    return Application.objects.create(
        candidate=candidate, formation=formation, campaign=campaign, created_by=candidate.user
    )


def stored() -> dict[tuple[str, str], dict]:
    return {
        (answer.form.code, answer.candidate.user.username): answer.answers
        for answer in FormAnswer.objects.select_related("form", "candidate__user")
    }


# --- 1. a number no float holds ---------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["1e400", "-1e400", "9" * 5000], ids=["1e400", "-1e400", "5000-digits"])
def test_a_number_out_of_range_is_left_empty_and_the_other_responses_are_stored(
    settings, tmp_path, form, application, campaign, caplog, number
):
    CandidateFactory(user__campaign=campaign, user__username="AB000002")
    ComplementaryForm.objects.create(code="NEXT", survey_id=99, label="Suivant", candidate_label="S", url="https://x")
    write_export(
        tmp_path,
        42,
        '{"responses": ['
        '{"1": {"id": 1, "submitdate": "2027-03-02 10:15:00", "numDossier": "AB000001", "Q01": "Oui", "Q02": 2.5}},'
        '{"2": {"id": 2, "submitdate": "2027-03-02 10:16:00", "numDossier": "AB000002", '
        f'"Q01": {number}, "Q02": "Non", "Q03": [{number}, 1.5]}}}}'
        "]}",
    )
    write(tmp_path, 99, [response(1, "2027-03-02 10:15:00", numDossier="AB000001", Q01="Suite")])

    report = Report()
    with limesurvey_peer(settings, tmp_path), caplog.at_level(logging.WARNING, logger="applications.limesurvey"):
        sync_complementary_forms(report, dry_run=False, limit=None)

    assert stored() == {
        ("TEST", "AB000001"): {"Q01": "Oui", "Q02": 2.5},
        ("TEST", "AB000002"): {"Q02": "Non", "Q03": [None, 1.5]},
        ("NEXT", "AB000001"): {"Q01": "Suite"},
    }
    assert report.errors == []
    assert report.counts["numbers out of range left empty"] == 2  # in « Historique des batchs », not only the log
    assert "survey 42: 2 number(s) out of range left empty" in caplog.text


@pytest.mark.parametrize("number", ["1e400", "-1e400"])
def test_a_json_rpc_answer_with_a_number_out_of_range_is_not_json(settings, tmp_path, db, number):
    class Answer(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            data = f'{{"id": 1, "result": "key", "error": null, "seed": {number}}}'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    with loopback_http(Answer) as url, pytest.raises(LimeSurveyError, match="get_session_key: the answer is not JSON"):
        LimeSurveyClient(url, "u", "p", timeout=5).call("get_session_key", "u", "p")


# --- 2. nested too deeply -----------------------------------------------------------------------------------------


def test_an_export_nested_too_deeply_is_an_error_and_the_next_survey_is_imported(settings, tmp_path, application):
    ComplementaryForm.objects.create(code="DEEP", survey_id=7, label="Profond", candidate_label="P", url="https://x")
    ComplementaryForm.objects.create(code="NEXT", survey_id=42, label="Suivant", candidate_label="S", url="https://x")
    write_export(tmp_path, 7, DEEP)
    write(tmp_path, 42, [response(1, "2027-03-02 10:15:00", numDossier="AB000001", Q01="Oui")])

    with limesurvey_peer(settings, tmp_path):
        call_command("sync_complementary_forms", stdout=io.StringIO(), stderr=io.StringIO())

    assert stored() == {("NEXT", "AB000001"): {"Q01": "Oui"}}
    run = BatchRun.objects.get(name="sync_complementary_forms")
    assert run.status == BatchRun.Status.ERROR
    assert run.errors == "survey 7 (DEEP): export_responses(7): not base64-encoded JSON"
    assert run.counts["surveys read"] == 1


def test_a_json_rpc_answer_nested_too_deeply_is_an_error_and_the_next_survey_is_imported(
    settings, tmp_path, application
):
    ComplementaryForm.objects.create(code="DEEP", survey_id=7, label="Profond", candidate_label="P", url="https://x")
    ComplementaryForm.objects.create(code="NEXT", survey_id=42, label="Suivant", candidate_label="S", url="https://x")
    write(tmp_path, 42, [response(1, "2027-03-02 10:15:00", numDossier="AB000001", Q01="Oui")])

    report = Report()
    with limesurvey_peer(settings, tmp_path, bodies={7: DEEP.encode()}):
        sync_complementary_forms(report, dry_run=False, limit=None)

    assert stored() == {("NEXT", "AB000001"): {"Q01": "Oui"}}
    assert report.errors == ["survey 7 (DEEP): export_responses: the answer is not JSON"]


@pytest.mark.parametrize("depth", [33, 1_500, 5_000])
def test_an_answer_nested_too_deeply_is_left_out_and_the_others_are_stored(
    settings, tmp_path, form, application, depth
):
    """Nested 1,000 levels or more, an answer raised RecursionError while it was made storable: the survey's whole
    import was lost, every night. Left out and counted; the response's other answers, and every other response,
    are stored."""
    CandidateFactory(user__campaign=application.campaign, user__username="AB000002")
    nested = "[" * depth + '"x"' + "]" * depth
    write_export(
        tmp_path,
        42,
        '{"responses": ['
        '{"1": {"id": 1, "submitdate": "2027-03-02 10:15:00", "numDossier": "AB000001", "Q01": "Oui"}},'
        '{"2": {"id": 2, "submitdate": "2027-03-02 10:16:00", "numDossier": "AB000002", '
        f'"Q01": {nested}, "Q02": [["a", "b"]]}}}}'
        "]}",
    )

    with limesurvey_peer(settings, tmp_path):
        call_command("sync_complementary_forms", stdout=io.StringIO(), stderr=io.StringIO())

    assert stored() == {("TEST", "AB000001"): {"Q01": "Oui"}, ("TEST", "AB000002"): {"Q02": [["a", "b"]]}}
    run = BatchRun.objects.get(name="sync_complementary_forms")
    assert run.status == BatchRun.Status.FINISH, run.errors
    assert run.counts["answers nested too deeply (left out)"] == 1


# --- 3. the session expires in the middle ---------------------------------------------------------------------------


def test_a_session_expiring_mid_sync_is_opened_again_and_every_survey_is_imported(settings, tmp_path, application):
    for code, survey_id in (("A", 7), ("B", 42), ("C", 99)):
        ComplementaryForm.objects.create(code=code, survey_id=survey_id, label=code, candidate_label=code, url="x")
        write(tmp_path, survey_id, [response(1, "2027-03-02 10:15:00", numDossier="AB000001", Q01=code)])
    api = ExpiringRemoteControl(tmp_path, "u", "p")

    report = Report()
    with limesurvey_peer(settings, tmp_path, api=api):
        sync_complementary_forms(report, dry_run=False, limit=None)

    assert stored() == {(code, "AB000001"): {"Q01": code} for code in "ABC"}
    assert report.errors == []
    assert api.keys_given == 3  # opening the synchronisation, then once per expiry


def test_a_session_refused_again_is_an_error_after_one_new_session(settings, tmp_path, db):
    write(tmp_path, 42, [response(1, "2027-03-02 10:15:00", numDossier="AB000001", Q01="Oui")])
    api = ExpiringRemoteControl(tmp_path, "u", "p", never=True)

    with (
        limesurvey_peer(settings, tmp_path, api=api) as url,
        LimeSurveyClient(url, "u", "p") as client,
        pytest.raises(LimeSurveyError, match=r"export_responses\(42\): Invalid session key"),
    ):
        client.export_responses(42)

    assert api.keys_given == 2
