"""Pégase answering what no dossier can hold: a NUL (or another control character) inside a text, which PostgreSQL
refuses (the import failed with a 500, the details the candidate had just typed lost), and an answer of any length,
held whole in the worker's memory then parsed (400 MiB grew a worker by 1.2 GiB). Every text read from an answer is
now cleaned (``pegase._text``), and an answer longer than ``PEGASE_MAX_ANSWER_BYTES`` is refused as an outage. The
answers come from a small HTTP server on loopback (the development peer, devtools/pegase/server.py, only ever answers
Pégase's own data); LimeSurvey's client reads its answers the same way, with its own bound."""

import collections
import copy
import io
import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from pytest_django.asserts import assertContains

from applications import pegase
from applications.limesurvey import LimeSurveyClient, LimeSurveyError
from applications.models import Candidate, ReferenceCommune
from applications.sis import ReferenceKind, StudentRecordAnswerError, StudentRecordsUnavailable
from applications.sis_backend import get_backend
from applications.tests.factories import STUDENT, CandidateFactory
from applications.tests.helpers import ESTELLE_TYPED, configure_pegase, pegase_on_loopback
from ecandidat.http import READ_CHUNK
from ecandidat.models import BatchRun
from ecandidat.tests.helpers import loopback_http

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "devtools" / "pegase" / "fixtures"
ESTELLE = json.loads((FIXTURES / "identites.json").read_text(encoding="utf-8"))[0]  # learner 21900001, French
FRENCH = {"language": "fr"}
PERSONAL = reverse("applications:personal_details")
CERTIFY = reverse("applications:certify_identity")
SEARCH = re.compile(r"^/api/idt/v1/etablissements/ETAB00/identites/apprenants$")
IDENTITY = re.compile(r"^/api/idt/v1/etablissements/ETAB00/identites/[^/]+$")
NOMENCLATURE = re.compile(r"^/api/v1/ref/nomenclatures/")
CAP = 10_000  # bytes: PEGASE_MAX_ANSWER_BYTES in these tests


@pytest.fixture
def answers(settings, fresh_pegase_memory):
    """Pégase on loopback: any search finds the identity set under "identity" (Estelle's by default, the test changes
    it), the nomenclatures answer the page under "nomenclature"; the rest is 404 (no enrolment)."""
    answers: dict[str, object] = {"identity": copy.deepcopy(ESTELLE)}

    def answer(path: str, query: str) -> tuple[int, object]:
        if SEARCH.match(path):
            return 200, {"totalElements": 1, "items": [{"id": ESTELLE["id"], "codeApprenant": "21900001"}]}
        if IDENTITY.match(path):
            return 200, answers["identity"]
        if NOMENCLATURE.match(path) and "nomenclature" in answers:
            return 200, answers["nomenclature"]
        return 404, {"message": "Not found"}

    ReferenceCommune.objects.create(code="C66136", label="PERPIGNAN", insee_code="66136", postal_code="66000")
    with pegase_on_loopback(settings, answer):
        yield answers


def _with_nul(identity: dict) -> dict:
    """Estelle's identity with a NUL inside her commune of birth's code, her second first name and her address's
    commune code."""
    civil = identity["profilApprenant"]["etatCivil"]
    civil["communeNaissance"]["code"] = "66\x00136"
    civil["prenom2"] = "Ma\x00rie"
    identity["profilApprenant"]["donneesContact"]["adresseFixeCodeCommune"] = "661\x0036"
    return identity


def _no_control_character(candidate: Candidate) -> bool:
    texts = [
        value
        for obj in (candidate, getattr(candidate, "baccalaureate", None))
        if obj is not None
        for value in vars(obj).values()
        if isinstance(value, str)
    ]
    return not any(char < " " for text in texts for char in text)


# --- texts --------------------------------------------------------------------------------------------------------


def test_a_nul_in_the_answer_is_left_out_of_what_is_imported(answers):
    _with_nul(answers["identity"])

    student = get_backend().find_by_ine(STUDENT.ine)

    assert student.other_first_name == "Marie"
    assert (student.birth_department, student.birth_city) == ("66", "PERPIGNAN")  # the commune 66136 found
    assert (student.address.line1, student.address.city) == ("12 RUE DES LILAS", "PERPIGNAN")


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("Ma\x00rie", "Marie"),
        ("Ma\x1brie", "Marie"),  # an escape
        ("Ma\x85rie", "Ma rie"),  # a C1 line end: a space
        ("Ma\u202erie", "Marie"),  # a writing-direction override
        ("Ma\ud800rie", "Marie"),  # a lone surrogate ("\ud800" in the JSON): no UTF-8 text holds it
        ("Anne\nMarie", "Anne Marie"),
        ("\tMa\trie\r\n", "Ma rie"),
    ],
    ids=["nul", "escape", "c1-line-end", "direction-override", "lone-surrogate", "line-break", "tabs-and-crlf"],
)
def test_control_characters_are_cleaned_out_of_every_text(answers, sent, read):
    answers["identity"]["profilApprenant"]["etatCivil"]["prenom2"] = sent
    answers["identity"]["nomNaissance"] = sent.replace("Ma", "MAR").replace("rie", "TIN")

    student = get_backend().find_by_ine(STUDENT.ine)

    assert student.other_first_name == read
    assert student.birth_name == read.replace("Ma", "MAR").replace("rie", "TIN")


def test_a_nul_in_a_nomenclature_row_is_left_out_of_the_reference_list(answers):
    answers["nomenclature"] = {
        "nomenclatures": [
            {
                "code": "C\x0066136",
                "codeInsee": "66\x00136",
                "codePostal": "66\x00000",
                "libelleAffichage": "PERPI\x00GNAN",
            }
        ],
        "nbTotalPages": 1,
    }

    (commune,) = get_backend().reference_list(ReferenceKind.COMMUNES)

    assert (commune.code, commune.insee_code, commune.postal_code, commune.label) == (
        "C66136",
        "66136",
        "66000",
        "PERPIGNAN",
    )


def _certify(client, candidate_user, queries) -> Candidate:
    """The candidate types her details (her INE found in Pégase), then answers yes to « Certifiez-vous être … »
    (``queries``: django_assert_num_queries)."""
    client.force_login(candidate_user)
    saved = client.post(PERSONAL, ESTELLE_TYPED, **FRENCH)
    assert saved.status_code == 302
    assert saved.url == CERTIFY
    # session, account, the request's savepoint pair, dossier; the page's match: "has an application", the lookup in
    # its savepoint pair (countries, the two communes, the school); the same again in the answer's savepoint pair;
    # the import in its savepoint pair: the account's lock, the INE's uniqueness, dossier, its update, the bac
    # replaced (2), the cursus emptied; the next step's dossier
    # +1: transmitted applications read after the dossier lock.
    with queries(32):
        yes = client.post(CERTIFY, {"answer": "yes"}, **FRENCH)
    assert yes.status_code == 302
    return Candidate.objects.select_related("baccalaureate").get(user=candidate_user)


def test_a_candidate_certifying_her_identity_gets_the_records_without_the_nul(
    client, candidate_user, answers, django_assert_num_queries
):
    _with_nul(answers["identity"])

    candidate = _certify(client, candidate_user, django_assert_num_queries)

    assert candidate.sis_locked
    assert (candidate.birth_name, candidate.first_name, candidate.other_first_name) == ("MARTIN", "Estelle", "Marie")
    assert (candidate.birth_department, candidate.birth_city) == ("66", "PERPIGNAN")
    assert _no_control_character(candidate)


@pytest.mark.integration
def test_on_postgresql_a_nul_in_the_answer_is_no_error(client, candidate_user, answers, django_assert_num_queries):
    # PostgreSQL refuses NUL in a query (the commune looked up) and in a row (the second first name): the lookup,
    # then the import, failed with psycopg's ValueError.
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    _with_nul(answers["identity"])

    candidate = _certify(client, candidate_user, django_assert_num_queries)

    assert candidate.sis_locked
    assert (candidate.other_first_name, candidate.birth_city) == ("Marie", "PERPIGNAN")
    assert _no_control_character(candidate)


# --- the length of an answer --------------------------------------------------------------------------------------


def test_an_answer_longer_than_the_bound_is_that_answers_error(answers, settings, caplog):
    """Refused as one learner's broken answer (``StudentRecordAnswerError``), not as Pégase down: the nightly
    ``sync_sis`` stopped at that learner every night, and the dossiers after them were never refreshed again."""
    settings.PEGASE_MAX_ANSWER_BYTES = CAP
    answers["identity"]["profilApprenant"]["etatCivil"]["prenom3"] = "x" * CAP

    with (
        caplog.at_level(logging.WARNING, logger="applications.pegase"),
        pytest.raises(StudentRecordAnswerError, match=f"announces .* bytes, more than the {CAP} taken"),
    ):
        get_backend().find_by_ine(STUDENT.ine)

    assert "PEGASE_MAX_ANSWER_BYTES" in caplog.text
    assert pegase._unreachable == {}  # the server answered: the next lookup asks it again


def test_an_answer_within_the_bound_is_read(answers, settings):
    settings.PEGASE_MAX_ANSWER_BYTES = CAP

    assert get_backend().find_by_ine(STUDENT.ine).birth_name == "MARTIN"


class Endless:
    """A Pégase answering a token (``POST /cas/v1/tickets``), then every other request with an answer that does not
    end: under ``/announce``, one announcing 1 GB and sending nothing; elsewhere one without a ``Content-Length``
    sending bytes until the client goes."""

    def __init__(self):
        self.stop = threading.Event()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's protocol)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/cas/v1/tickets":
                    return self.do_GET()
                self.send_response(201)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "11")
                self.end_headers()
                self.wfile.write(b"a.jwt.token")
                return None

            def do_GET(self):  # noqa: N802
                announce = "/announce" in self.path
                self.close_connection = True
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if announce:
                    self.send_header("Content-Length", str(10**9))
                self.end_headers()
                try:
                    self.wfile.write(b'{"totalElements": 1, "items": [')
                    self.wfile.flush()
                    while not state.stop.is_set():
                        if announce:
                            state.stop.wait(0.1)
                            continue
                        self.wfile.write(b'{"id": "a"},' * (READ_CHUNK // 12))
                        state.stop.wait(0.01)  # some MB a second: a client reading it all holds little
                except OSError:  # the client gave up and closed the connection
                    return

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def endless(settings, fresh_pegase_memory):
    state = Endless()
    with loopback_http(state.handler()) as url:
        configure_pegase(settings, url)
        settings.PEGASE_MAX_ANSWER_BYTES = CAP
        try:
            yield url, state
        finally:
            state.stop.set()


def test_an_answer_announced_longer_is_refused_at_once(endless, settings):
    # Before the bound, the lookup waited for the body until PEGASE_TIMEOUT (then TooSlow).
    url, _ = endless
    settings.PEGASE_IDT_URL = f"{url}/announce/"

    started = time.monotonic()
    with pytest.raises(StudentRecordsUnavailable, match=f"announces 1000000000 bytes, more than the {CAP} taken"):
        get_backend().find_by_ine(STUDENT.ine)

    assert time.monotonic() - started < 2


def test_an_answer_that_does_not_end_is_refused_once_past_the_bound(endless):
    # Before the bound, the lookup read (and held) whatever came until PEGASE_TIMEOUT.
    started = time.monotonic()
    with pytest.raises(StudentRecordsUnavailable, match=f"longer than the {CAP} bytes taken"):
        get_backend().find_by_ine(STUDENT.ine)

    assert time.monotonic() - started < 2


def test_a_candidate_typing_her_ine_keeps_her_details_when_the_answer_is_too_long(
    client, candidate_user, answers, settings, caplog, django_assert_num_queries
):
    settings.PEGASE_MAX_ANSWER_BYTES = CAP
    answers["identity"]["profilApprenant"]["etatCivil"]["prenom3"] = "x" * CAP
    client.force_login(candidate_user)

    # As for any outage of the lookup (test_pegase_garbage); none for the answer refused
    with caplog.at_level(logging.WARNING), django_assert_num_queries(19):
        saved = client.post(PERSONAL, ESTELLE_TYPED, **FRENCH)
    page = client.get(saved.url, **FRENCH)

    assert saved.status_code == 302
    assert saved.url != CERTIFY
    assertContains(page, "Vos informations personnelles ont été enregistrées.")
    candidate = Candidate.objects.get(user=candidate_user)
    assert (candidate.ine, candidate.birth_name, candidate.first_name) == (STUDENT.ine, "MARTIN", "Estelle")
    assert not candidate.sis_locked
    assert "INE lookup for candidate" in caplog.text


# --- LimeSurvey: the same reader, its own bound -------------------------------------------------------------------


def test_a_limesurvey_answer_longer_than_its_bound_is_an_error(endless, settings):
    url, _ = endless
    settings.LIMESURVEY_MAX_ANSWER_BYTES = CAP

    with pytest.raises(LimeSurveyError, match=f"longer than the {CAP} bytes taken.*LIMESURVEY_MAX_ANSWER_BYTES"):
        LimeSurveyClient(f"{url}/remotecontrol", "u", "p", timeout=5).call("get_session_key", "u", "p")


# --- one learner's broken answer during the nightly refresh -------------------------------------------------------
# sync_sis stopped at the first StudentRecordsUnavailable, which Pégase also raised for one learner's broken answer
# (a 500 on that learner's identity, JSON of another shape): dossiers are walked in pk order, so every night the batch
# stopped at the same record and the dossiers after it were never refreshed again. Such an answer is now that
# record's StudentRecordAnswerError: reported, and the batch goes on (until five in a row: Pégase is down).

IDENTITY_OF = re.compile(r"^/api/idt/v1/etablissements/ETAB00/identites/([^/]+)$")
# How a learner's answer breaks: what their identity answers (status, JSON), or (None) a search hit without an id.
BREAKS = {
    "http500": (500, {"message": "Internal Server Error"}),
    "not-an-object": (200, "oops"),
    "empty-id": None,
    "http503": (503, {"message": "Service Unavailable"}),
}


@pytest.fixture
def learners(settings, fresh_pegase_memory):
    """Pégase on loopback for the nightly refresh: learner 21900001 is Estelle (identites.json, no enrolment); the
    learners the test puts under "broken" (number → a value of BREAKS) answer badly; any other is not found. The
    searches made for each learner number are counted under "asked"."""
    state: dict = {"broken": {}, "asked": collections.Counter()}

    def hit(identity_id: str, number: str) -> dict:
        return {"totalElements": 1, "items": [{"id": identity_id, "codeApprenant": number}]}

    def answer(path: str, query: str) -> tuple[int, object]:
        if SEARCH.match(path):
            number = parse_qs(query).get("codeApprenant", [""])[0]
            state["asked"][number] += 1
            if number == "21900001":
                return 200, hit(ESTELLE["id"], number)
            if number in state["broken"]:
                return 200, hit("" if state["broken"][number] is None else f"broken-{number}", number)
            return 200, {"totalElements": 0, "items": []}
        identity = IDENTITY_OF.match(path)
        if identity and identity.group(1) == ESTELLE["id"]:
            return 200, ESTELLE
        if identity and identity.group(1).startswith("broken-"):
            return state["broken"][identity.group(1).removeprefix("broken-")]
        return 404, {"message": "Not found"}

    with pegase_on_loopback(settings, answer):
        yield state


def _student(campaign, number: str, **fields):
    """A dossier of ``campaign`` on an account with the student number ``number`` (a Candidate)."""
    return CandidateFactory(user__campaign=campaign, user__student_number=number, **fields)


def _sync() -> BatchRun:
    call_command("sync_sis", stdout=io.StringIO(), stderr=io.StringIO())
    return BatchRun.objects.get(name="sync_sis")


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("http500", "HTTP 500"),
        ("not-an-object", "identity: unexpected answer: the answer is a string, not an object"),
        ("empty-id", "learner search: unexpected answer: items[0].id is empty, not an id"),
    ],
)
def test_one_learners_broken_answer_does_not_stop_the_nightly_refresh(campaign, learners, how, said):
    broken = _student(campaign, "21900009")  # walked first (pk order)
    learners["broken"]["21900009"] = BREAKS[how]
    good = _student(campaign, "21900001", birth_name="AVANT")

    run = _sync()

    assert Candidate.objects.get(pk=good.pk).birth_name == "MARTIN"  # was still « AVANT »: never reached
    assert Candidate.objects.get(pk=broken.pk).birth_name == "DUPONT"  # as it was
    assert run.status == BatchRun.Status.ERROR
    assert run.counts == {"dossiers refreshed": 1}
    (error,) = run.errors.splitlines()
    assert error.startswith(f"candidate {broken.pk}: Pégase ")
    assert said in error
    assert error.endswith("this dossier is unchanged, the batch goes on")


def test_a_gateway_error_on_a_learner_is_an_outage_and_stops_the_refresh(campaign, learners):
    # 503 comes from the reverse proxy in front of a Pégase it cannot reach: every next learner would get it too.
    broken = _student(campaign, "21900009")
    learners["broken"]["21900009"] = BREAKS["http503"]
    good = _student(campaign, "21900001", birth_name="AVANT")

    run = _sync()

    assert Candidate.objects.get(pk=good.pk).birth_name == "AVANT"
    assert run.counts == {}
    (error,) = run.errors.splitlines()
    assert error.startswith(f"candidate {broken.pk}: Pégase ")
    assert "HTTP 503; the batch stops" in error
    assert learners["asked"]["21900001"] == 0


def test_five_broken_answers_in_a_row_stop_the_refresh_as_an_outage(campaign, learners):
    # A Pégase answering 500 to every learner is down: the batch does not add one error per dossier of the campaign.
    numbers = [f"219000{n}" for n in range(10, 16)]
    broken = [_student(campaign, number) for number in numbers]
    learners["broken"].update(dict.fromkeys(numbers, BREAKS["http500"]))
    good = _student(campaign, "21900001", birth_name="AVANT")

    run = _sync()

    assert Candidate.objects.get(pk=good.pk).birth_name == "AVANT"
    assert run.status == BatchRun.Status.ERROR
    assert run.counts == {}
    errors = run.errors.splitlines()
    assert [error.split(":")[0] for error in errors] == [f"candidate {c.pk}" for c in broken[:5]]
    assert errors[-1].endswith(
        "5 dossiers in a row got a broken answer: the student records system is taken as down, the batch stops, "
        "the dossiers after this one are unchanged"
    )
    assert run.errors.count("the batch stops") == 1
    assert learners["asked"][numbers[5]] == learners["asked"]["21900001"] == 0  # never asked


def test_broken_answers_count_in_a_row_only(campaign, learners):
    # Four broken, one answered well, four broken: never five in a row, the batch goes to the end.
    first = [f"219000{n}" for n in range(10, 14)]
    then = [f"219000{n}" for n in range(20, 24)]
    for number in first:
        _student(campaign, number)
    good = _student(campaign, "21900001", birth_name="AVANT")
    for number in then:
        _student(campaign, number)
    learners["broken"].update(dict.fromkeys(first + then, BREAKS["not-an-object"]))

    run = _sync()

    assert Candidate.objects.get(pk=good.pk).birth_name == "MARTIN"
    assert run.counts == {"dossiers refreshed": 1}
    assert len(run.errors.splitlines()) == 8
    assert "the batch stops" not in run.errors
    assert all(learners["asked"][number] == 1 for number in then)


class NotJson(BaseHTTPRequestHandler):
    """A Pégase whose every GET answers 200 with an HTML page (a token for any credentials)."""

    def do_POST(self):  # noqa: N802 (http.server's protocol)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(201, b"a.jwt.token", "text/plain")

    def do_GET(self):  # noqa: N802
        self._send(200, b"<html><body>Erreur</body></html>", "text/html")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_an_answer_that_is_not_json_is_that_records_error(settings, fresh_pegase_memory):
    with loopback_http(NotJson) as url:
        configure_pegase(settings, url)

        with pytest.raises(StudentRecordAnswerError, match="the answer is not JSON"):
            get_backend().find_by_student_number("21900001")


@pytest.mark.parametrize("status", [500, 403, 400])
def test_an_error_status_from_pegase_is_that_records_error(learners, status):
    learners["broken"]["21900009"] = (status, {"message": "error"})

    with pytest.raises(StudentRecordAnswerError, match=f"HTTP {status}"):
        get_backend().find_by_student_number("21900009")


@pytest.mark.parametrize("status", [502, 503, 504, 429])
def test_a_gateway_or_throttling_status_stays_an_outage(learners, status):
    learners["broken"]["21900009"] = (status, {"message": "error"})

    with pytest.raises(StudentRecordsUnavailable, match=f"HTTP {status}") as raised:
        get_backend().find_by_student_number("21900009")

    assert not isinstance(raised.value, StudentRecordAnswerError)
