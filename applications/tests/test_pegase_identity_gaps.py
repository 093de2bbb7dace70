"""A Pégase identity lacking what the import locks (the birth name, the first name) is not imported: the import
would otherwise blank the dossier's names and lock them, and the candidate could not type them back. The answers
come from a small HTTP server on loopback (the development peer, devtools/pegase/server.py, has no such learner)."""

import copy
import io
import json
import logging
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from applications.sis_backend import get_backend
from applications.tests.factories import STUDENT, CandidateFactory
from applications.tests.helpers import pegase_on_loopback

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "devtools" / "pegase" / "fixtures"
ESTELLE = json.loads((FIXTURES / "identites.json").read_text(encoding="utf-8"))[0]  # learner 21900001, French
SEARCH = re.compile(r"^/api/idt/v1/etablissements/ETAB00/identites/apprenants$")
IDENTITY = re.compile(r"^/api/idt/v1/etablissements/ETAB00/identites/[^/]+$")


@pytest.fixture
def identity(settings, fresh_pegase_memory):
    """Pégase on loopback: any search finds Estelle's identity, which is the dict yielded (the test changes it);
    she has no enrolment (404)."""
    answer_identity = copy.deepcopy(ESTELLE)

    def answer(path: str, query: str) -> tuple[int, object]:
        if SEARCH.match(path):
            return 200, {"totalElements": 1, "items": [{"id": ESTELLE["id"], "codeApprenant": "21900001"}]}
        if IDENTITY.match(path):
            return 200, answer_identity
        return 404, {"message": "Not found"}

    with pegase_on_loopback(settings, answer):
        yield answer_identity


def _typed_dossier(campaign):
    """Estelle's dossier typed by hand on her ENT account (student number 21900001), not imported yet."""
    return CandidateFactory(
        user__campaign=campaign,
        user__student_number="21900001",
        birth_name="MARTIN",
        first_name="Estelle",
        birth_date=STUDENT.birth_date,
        ine=STUDENT.ine,
        sis_locked=False,
    )


def test_an_identity_as_pegase_sends_it_is_imported(identity):
    student = get_backend().find_by_student_number("21900001")

    assert (student.birth_name, student.first_name) == ("MARTIN", "Estelle")


@pytest.mark.parametrize(
    "changes",
    [{"nomNaissance": ""}, {"nomNaissance": None}, {"prenom": ""}, {"prenom": None}, {"prenom": "  "}],
    ids=["birth-name-empty", "birth-name-null", "first-name-empty", "first-name-null", "first-name-blank"],
)
def test_an_identity_without_a_birth_name_or_a_first_name_is_not_imported(identity, changes, caplog):
    identity.update(changes)

    with caplog.at_level(logging.WARNING, logger="applications.pegase"):
        assert get_backend().find_by_student_number("21900001") is None

    assert "has no learner code, date of birth, birth name or first name; not imported" in caplog.text
    assert "MARTIN" not in caplog.text


def test_the_first_name_of_the_civil_status_stands_in_for_the_identitys(identity):
    identity["prenom"] = ""
    identity["profilApprenant"]["etatCivil"]["prenom"] = "Estelle"

    assert get_backend().find_by_student_number("21900001").first_name == "Estelle"


def test_the_nightly_sync_keeps_the_names_typed_when_pegase_sends_none(campaign, identity):
    candidate = _typed_dossier(campaign)
    identity.update(nomNaissance="", prenom=None)

    call_command("sync_sis", stdout=io.StringIO())

    candidate.refresh_from_db()
    assert (candidate.birth_name, candidate.first_name, candidate.sis_locked) == ("MARTIN", "Estelle", False)
