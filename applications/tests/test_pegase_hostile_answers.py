"""Pégase answering what no dossier can hold: a NUL (or another control character) inside a text, which PostgreSQL
refuses (the import failed with a 500, the details the candidate had just typed lost), and an answer of any length,
held whole in the worker's memory then parsed (400 MiB grew a worker by 1.2 GiB). Every text read from an answer is
now cleaned (``pegase._text``), and an answer longer than ``PEGASE_MAX_ANSWER_BYTES`` is refused as an outage. The
answers come from a small HTTP server on loopback (the development peer, devtools/pegase/server.py, only ever answers
Pégase's own data); LimeSurvey's client reads its answers the same way, with its own bound."""

import copy
import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse
from pytest_django.asserts import assertContains

from applications import pegase
from applications.limesurvey import LimeSurveyClient, LimeSurveyError
from applications.models import Candidate, ReferenceCommune
from applications.sis import ReferenceKind, StudentRecordsUnavailable
from applications.sis_backend import get_backend
from applications.tests.factories import STUDENT
from applications.tests.helpers import ESTELLE_TYPED, configure_pegase, pegase_on_loopback
from ecandidat.http import READ_CHUNK
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
    with queries(31):
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


def test_an_answer_longer_than_the_bound_is_an_outage(answers, settings, caplog):
    settings.PEGASE_MAX_ANSWER_BYTES = CAP
    answers["identity"]["profilApprenant"]["etatCivil"]["prenom3"] = "x" * CAP

    with (
        caplog.at_level(logging.WARNING, logger="applications.pegase"),
        pytest.raises(StudentRecordsUnavailable, match=f"announces .* bytes, more than the {CAP} taken"),
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
