"""The LimeSurvey client and the nightly forms synchronisation, against the local JSON-RPC server in a separate
process (devtools/limesurvey/server.py) over real HTTP."""

import base64
import datetime
import io
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from applications import limesurvey_sync
from applications.limesurvey import LimeSurveyClient, LimeSurveyError
from applications.limesurvey_sync import sync_complementary_forms
from applications.models import Application, FormAnswer
from applications.tests.factories import CandidateFactory
from ecandidat.batches import Report
from ecandidat.models import BatchRun
from offers.models import ComplementaryForm
from offers.tests.factories import FormationFactory

SERVER = Path(__file__).resolve().parents[2] / "devtools" / "limesurvey" / "server.py"


def response(rid, submitdate, **answers):
    return {
        "id": rid,
        "submitdate": submitdate,
        "lastpage": 2,
        "startlanguage": "fr",
        "seed": "12345",
        "startdate": "2027-03-01 09:00:00",
        "datestamp": submitdate or "2027-03-01 09:05:00",
        "numDossier": "",
        "idCandidature": "",
        **answers,
    }


@pytest.fixture
def fixtures(tmp_path):
    return tmp_path


@pytest.fixture
def limesurvey(fixtures, settings):
    process = subprocess.Popen(  # noqa: S603 (our own script)
        [sys.executable, str(SERVER), "--port", "0", "--fixtures", str(fixtures), "--user", "u", "--password", "p"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("LISTENING"), line
        url = f"http://127.0.0.1:{line.split()[1]}/index.php/admin/remotecontrol"
        settings.LIMESURVEY_URL, settings.LIMESURVEY_USER, settings.LIMESURVEY_PASSWORD = url, "u", "p"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def write(fixtures, survey_id, rows):
    (fixtures / f"{survey_id}.json").write_text(json.dumps(rows))


# --- client -------------------------------------------------------------------------------------------------------


def test_client_exports_completed_responses_with_question_codes(limesurvey, fixtures):
    write(
        fixtures,
        42,
        [
            response(1, "2027-03-02 10:15:00", numDossier="AB000001", Q01="Oui"),
            response(2, None, numDossier="AB000002", Q01="Non"),
        ],
    )

    with LimeSurveyClient(limesurvey, "u", "p") as api:
        rows = api.export_responses(42)

    assert [(row["id"], row["numDossier"], row["Q01"]) for row in rows] == [(1, "AB000001", "Oui")]


def test_client_empty_survey_is_an_empty_list(limesurvey, fixtures):
    write(fixtures, 42, [response(2, None, numDossier="AB000002")])

    with LimeSurveyClient(limesurvey, "u", "p") as api:
        assert api.export_responses(42) == []


def test_client_bad_credentials_and_bad_session(limesurvey, fixtures):
    write(fixtures, 42, [])
    with pytest.raises(LimeSurveyError, match="Invalid user name or password"):
        LimeSurveyClient(limesurvey, "u", "wrong").__enter__()

    api = LimeSurveyClient(limesurvey, "u", "p")
    api.session_key = "forged"
    with pytest.raises(LimeSurveyError, match="Invalid session key"):
        api.export_responses(42)


def test_client_unknown_survey_and_garbage(limesurvey, fixtures):
    (fixtures / "7.raw").write_text(base64.b64encode(b"<html>oops</html>").decode())
    (fixtures / "8.raw").write_text("not base64 at all !")
    with LimeSurveyClient(limesurvey, "u", "p") as api:
        with pytest.raises(LimeSurveyError, match="Invalid survey ID"):
            api.export_responses(99)
        with pytest.raises(LimeSurveyError, match="not base64-encoded JSON"):
            api.export_responses(7)
        with pytest.raises(LimeSurveyError, match="not base64-encoded JSON"):
            api.export_responses(8)


@pytest.mark.parametrize("constant", ["Infinity", "-Infinity", "NaN"])
def test_client_refuses_what_json_has_not(limesurvey, fixtures, constant):
    """``json.loads`` reads ``NaN`` and ``Infinity``; the database refuses them in a JSON document (an answer holding
    one lost its survey's import) and LimeSurvey's PHP never writes them: such an export is not JSON."""
    export = f'{{"responses": [{{"id": 1, "submitdate": "2027-03-02 10:15:00", "Q01": {constant}}}]}}'
    (fixtures / "7.raw").write_text(base64.b64encode(export.encode()).decode())
    with LimeSurveyClient(limesurvey, "u", "p") as api, pytest.raises(LimeSurveyError, match="not base64-encoded"):
        api.export_responses(7)


def test_client_server_down():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(LimeSurveyError, match="ConnectionError"):
        LimeSurveyClient(f"http://127.0.0.1:{port}/", "u", "p", timeout=2).__enter__()


# --- nightly synchronisation --------------------------------------------------------------------------------------


@pytest.fixture
def form(db):
    return ComplementaryForm.objects.create(
        code="TEST",
        survey_id=42,
        label="Questionnaire",
        candidate_label="TSNR20-300-TEST-M1 LIB CANDIDAT",
        url="https://enquetes.example/42?numDossier=${numDossier}",
    )


@pytest.fixture
def application(centre, commission, campaign):
    candidate = CandidateFactory(user__campaign=campaign, user__username="AB000001")
    formation = FormationFactory(centre=centre, commission=commission)
    return Application.objects.create(
        candidate=candidate, formation=formation, campaign=campaign, created_by=candidate.user
    )


def test_sync_keeps_the_latest_answer_per_candidate_and_per_application(limesurvey, fixtures, form, application):
    write(
        fixtures,
        42,
        [
            response(3, "2027-03-04 18:40:12", numDossier="AB000001", Q01="Non"),
            response(1, "2027-03-02 10:15:00", numDossier="AB000001", Q01="Oui"),
            response(
                4, "2027-03-05 08:00:00", numDossier="AB000001", idCandidature=str(application.public_id), Q01="A"
            ),
            response(5, "2027-03-05 09:00:00", numDossier="ZZ999999", Q01="?"),
        ],
    )

    out = io.StringIO()
    call_command("sync_complementary_forms", stdout=out)

    per_candidate = FormAnswer.objects.get(form=form, application=None)
    per_application = FormAnswer.objects.get(form=form, application=application)
    assert per_candidate.answers == {"Q01": "Non"}
    assert per_candidate.submitted_at == timezone.make_aware(datetime.datetime(2027, 3, 4, 18, 40, 12))
    assert per_application.answers == {"Q01": "A"}
    assert "answers stored: 2" in out.getvalue()
    assert "responses naming an unknown candidate: 1" in out.getvalue()

    # Next night: a newer answer replaces the stored one; nothing new stores nothing.
    write(fixtures, 42, [response(9, "2027-03-06 08:00:00", numDossier="AB000001", Q01="Peut-être")])
    call_command("sync_complementary_forms", stdout=io.StringIO())
    call_command("sync_complementary_forms", stdout=out)
    per_candidate.refresh_from_db()
    assert per_candidate.answers == {"Q01": "Peut-être"}
    assert FormAnswer.objects.count() == 2
    assert BatchRun.objects.filter(status=BatchRun.Status.FINISH).count() == 3


def test_sync_survives_one_bad_survey_and_goes_on(limesurvey, fixtures, form, application):
    ComplementaryForm.objects.create(code="BAD", survey_id=7, label="Cassé", candidate_label="Cassé", url="https://x")
    (fixtures / "7.raw").write_text("garbage")
    write(fixtures, 42, [response(1, "2027-03-02 10:15:00", numDossier="AB000001", Q01="Oui")])

    report = Report()
    sync_complementary_forms(report, dry_run=False, limit=None)

    assert FormAnswer.objects.get().answers == {"Q01": "Oui"}
    assert "survey 7 (BAD)" in report.errors[0]


def test_a_nul_typed_by_one_candidate_does_not_stop_the_import(limesurvey, fixtures, form, application, campaign):
    """Regression (hostile-input audit, 2026-12-03): PostgreSQL refuses NUL in a JSON document; one candidate's NUL
    in a LimeSurvey text answer made the survey's whole import fail (DataError), every night, for every candidate,
    and the surveys after it were not read. It is replaced by « ? » and counted."""
    CandidateFactory(user__campaign=campaign, user__username="AB000002")
    ComplementaryForm.objects.create(code="NEXT", survey_id=99, label="Suivant", candidate_label="S", url="https://x")
    write(
        fixtures,
        42,
        [
            response(1, "2027-03-02 10:15:00", numDossier="AB000001", Q01="Oui"),
            response(2, "2027-03-02 10:16:00", numDossier="AB000002", Q01="Mon\x00projet"),
        ],
    )
    write(fixtures, 99, [response(1, "2027-03-02 10:15:00", numDossier="AB000001", Q01="Non")])

    report = Report()
    sync_complementary_forms(report, dry_run=False, limit=None)

    stored = {(a.form.code, a.candidate.user.username): a.answers for a in FormAnswer.objects.select_related("form")}
    assert stored == {
        ("TEST", "AB000001"): {"Q01": "Oui"},
        ("TEST", "AB000002"): {"Q01": "Mon?projet"},
        ("NEXT", "AB000001"): {"Q01": "Non"},
    }
    assert report.errors == []
    assert report.counts["answers holding characters the database refuses (replaced by ?)"] == 1


def test_a_survey_the_database_refuses_is_an_error_and_the_next_ones_are_stored(
    limesurvey, fixtures, form, application, monkeypatch
):
    """Whatever else the database refuses in one survey's answers, its transaction is rolled back and reported, and
    the other surveys are stored (it stopped the whole import). Shown with the NUL let through."""
    monkeypatch.setattr(limesurvey_sync, "_storable", lambda text: text)
    ComplementaryForm.objects.create(code="NEXT", survey_id=99, label="Suivant", candidate_label="S", url="https://x")
    write(fixtures, 42, [response(1, "2027-03-02 10:15:00", numDossier="AB000001", Q01="Mon\x00projet")])
    write(fixtures, 99, [response(1, "2027-03-02 10:15:00", numDossier="AB000001", Q01="Non")])

    report = Report()
    sync_complementary_forms(report, dry_run=False, limit=None)

    if connection.vendor == "postgresql":
        assert [answer.form.code for answer in FormAnswer.objects.select_related("form")] == ["NEXT"]
        assert report.errors[0].startswith("survey 42 (TEST): answers not stored: ")
    else:  # SQLite stores NUL
        assert FormAnswer.objects.count() == 2


def test_sync_with_limesurvey_down_records_an_error_and_the_nightly_goes_on(form, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        settings.LIMESURVEY_URL = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    out, err = io.StringIO(), io.StringIO()

    # The nightly runs every batch, then fails naming the one whose run ended in error (ops read its exit status).
    with pytest.raises(CommandError, match=r"1 batch\(es\) failed: sync_complementary_forms\."):
        call_command("nightly", stdout=out, stderr=err)

    run = BatchRun.objects.get(name="sync_complementary_forms")
    assert run.status == BatchRun.Status.ERROR
    assert "retried next night" in run.errors
    assert "LimeSurvey unavailable" in err.getvalue()
    assert "prune_outbox" in out.getvalue()  # the next batches ran
    assert FormAnswer.objects.count() == 0


def test_sync_dry_run_reads_but_stores_nothing(limesurvey, fixtures, form, application):
    write(fixtures, 42, [response(1, "2027-03-02 10:15:00", numDossier="AB000001", Q01="Oui")])

    out = io.StringIO()
    call_command("sync_complementary_forms", "--dry-run", stdout=out)

    assert "responses read: 1" in out.getvalue()
    assert FormAnswer.objects.count() == 0


def test_sync_without_configuration_is_skipped(form, settings):
    settings.LIMESURVEY_URL = ""
    report = Report()

    sync_complementary_forms(report, dry_run=False, limit=None)

    assert report.counts == {"LimeSurvey not configured (LIMESURVEY_URL): skipped": 1}
    assert report.errors == []


def test_shipped_fixture_is_shaped_like_an_export(limesurvey, fixtures):
    """The development data (devtools/limesurvey/fixtures) go through the real client: complete responses only."""
    shipped = SERVER.parent / "fixtures" / "123456.json"
    (fixtures / "123456.json").write_text(shipped.read_text())

    with LimeSurveyClient(limesurvey, "u", "p") as api:
        rows = api.export_responses(123456)

    assert [(row["id"], row["numDossier"]) for row in rows] == [(1, "DEMO0001"), (3, "DEMO0001")]


class _FakeClient:
    """A LimeSurvey client answering each survey's export from a dict (no server)."""

    numbers_out_of_range = 0

    def __init__(self, exports):
        self.exports = exports

    def __call__(self, url, user, password):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def export_responses(self, survey_id):
        return self.exports[survey_id]


def test_an_unreadable_submit_date_does_not_stop_the_import(form, application, settings):
    """Regression: a submit date LimeSurvey on MySQL exports as « 0000-00-00 00:00:00 » (or a date that does not
    exist) raised ValueError: the whole import stopped, every night, and the surveys after it were not stored."""
    settings.LIMESURVEY_URL = "http://limesurvey.invalid/"
    ComplementaryForm.objects.create(code="BAD", survey_id=7, label="Cassé", candidate_label="C", url="https://x")
    fake = _FakeClient(
        {
            7: [
                {"id": 1, "submitdate": "0000-00-00 00:00:00", "numDossier": "AB000001", "Q01": "x"},
                {"id": 2, "submitdate": "2027-02-30 10:00:00", "numDossier": "AB000001", "Q01": "y"},
            ],
            42: [response(1, "2027-03-02 10:15:00", numDossier="AB000001", Q01="Oui")],
        }
    )

    report = Report()
    sync_complementary_forms(report, dry_run=False, limit=None, client_factory=fake)

    assert FormAnswer.objects.get(form=form).answers == {"Q01": "Oui"}
    assert not FormAnswer.objects.filter(form__code="BAD").exists()
    assert report.counts["responses with an unreadable submit date (ignored)"] == 2
    assert report.errors == []


def test_one_survey_failing_to_store_does_not_stop_the_others(form, application, settings, monkeypatch):
    """Whatever one survey's store raises, it is reported and the next surveys are stored (as the docstring says)."""
    settings.LIMESURVEY_URL = "http://limesurvey.invalid/"
    ComplementaryForm.objects.create(code="BAD", survey_id=7, label="Cassé", candidate_label="C", url="https://x")
    real_store = limesurvey_sync.store_responses

    def store(form, rows, report):
        if form.survey_id == 7:
            raise TypeError("unexpected export")
        real_store(form, rows, report)

    monkeypatch.setattr(limesurvey_sync, "store_responses", store)
    fake = _FakeClient({7: [], 42: [response(1, "2027-03-02 10:15:00", numDossier="AB000001", Q01="Oui")]})

    report = Report()
    sync_complementary_forms(report, dry_run=False, limit=None, client_factory=fake)

    assert FormAnswer.objects.get(form=form).answers == {"Q01": "Oui"}
    assert report.errors == ["survey 7 (BAD): answers not stored: TypeError: unexpected export"]


@pytest.mark.parametrize("number", ["AB\x00000003", "AB\ud800"], ids=["nul", "lone-surrogate"])
def test_a_dossier_number_the_database_cannot_read_is_an_unknown_candidate(
    form, application, campaign, settings, number
):
    """Regression (hostile-input audit): the numDossier comes from the survey's URL, which the candidate can edit. One
    holding NUL (PostgreSQL refuses it in a query) or a lone surrogate (no UTF-8 for it, on both databases) made the
    candidates' lookup raise: none of the survey's answers were stored, every night. It names no candidate."""
    settings.LIMESURVEY_URL = "http://limesurvey.invalid/"
    CandidateFactory(user__campaign=campaign, user__username="AB000002")
    fake = _FakeClient(
        {
            42: [
                response(1, "2027-03-02 10:15:00", numDossier="AB000001", Q01="Oui"),
                response(2, "2027-03-02 10:16:00", numDossier=number, Q01="Piégé"),
                response(3, "2027-03-02 10:17:00", numDossier="AB000002", Q01="Non"),
            ]
        }
    )

    report = Report()
    sync_complementary_forms(report, dry_run=False, limit=None, client_factory=fake)

    stored = {a.candidate.user.username: a.answers for a in FormAnswer.objects.select_related("candidate__user")}
    assert stored == {"AB000001": {"Q01": "Oui"}, "AB000002": {"Q01": "Non"}}
    assert report.counts["responses naming an unknown candidate"] == 1
    assert report.errors == []


def test_an_infinite_response_id_does_not_stop_the_import(form, application, campaign, settings):
    """Regression: ``json.loads`` reads ``Infinity``; a response id of it raised OverflowError in ``int()`` and the
    survey's whole import was lost. The response is ordered as one without an id."""
    settings.LIMESURVEY_URL = "http://limesurvey.invalid/"
    CandidateFactory(user__campaign=campaign, user__username="AB000002")
    fake = _FakeClient(
        {
            42: [
                response(1, "2027-03-02 10:15:00", numDossier="AB000001", Q01="Oui"),
                response(float("inf"), "2027-03-02 10:16:00", numDossier="ZZ999999", Q01="Piégé"),
                response(3, "2027-03-02 10:17:00", numDossier="AB000002", Q01="Non"),
            ]
        }
    )

    report = Report()
    sync_complementary_forms(report, dry_run=False, limit=None, client_factory=fake)

    stored = {a.candidate.user.username: a.answers for a in FormAnswer.objects.select_related("candidate__user")}
    assert stored == {"AB000001": {"Q01": "Oui"}, "AB000002": {"Q01": "Non"}}
    assert report.counts["responses naming an unknown candidate"] == 1
    assert report.errors == []
