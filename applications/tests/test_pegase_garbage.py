"""Pégase answering valid JSON of another shape than its own (a string where an object is expected, a count that is
not a number, a list of strings…): the backend reports the system as unavailable (``StudentRecordsUnavailable``),
the callers degrade as for an outage, and nothing the candidate typed is lost. The answers come from a small HTTP
server on loopback (the development peer, devtools/pegase/server.py, only ever answers Pégase's shapes)."""

import copy
import json
import logging
import re
from pathlib import Path

import pytest
from django.contrib.admin import helpers
from django.urls import reverse
from pytest_django.asserts import assertContains

from applications.models import Candidate
from applications.sis import ReferenceKind, StudentRecordsUnavailable
from applications.sis_backend import get_backend
from applications.tests.factories import STUDENT
from applications.tests.helpers import ESTELLE_TYPED, estelle_typed_by_hand, pegase_on_loopback

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "devtools" / "pegase" / "fixtures"
ESTELLE = json.loads((FIXTURES / "identites.json").read_text(encoding="utf-8"))[0]  # learner 21900001, French
FRENCH = {"language": "fr"}
PERSONAL = reverse("applications:personal_details")
CERTIFY = reverse("applications:certify_identity")
ROUTES = [  # (answer's name, path): the calls the backend makes
    ("search", re.compile(r"^/api/idt/v1/etablissements/ETAB00/identites/apprenants$")),
    ("identity", re.compile(r"^/api/idt/v1/etablissements/ETAB00/identites/[^/]+$")),
    ("enrolments", re.compile(r"^/api/ins/ext/v2/gestion/inscription/ETAB00/[^/]+/$")),
    ("nomenclature", re.compile(r"^/api/v1/ref/nomenclatures/")),
    ("periods", re.compile(r"^/api/v1/ref/etablissement/ETAB00/espaces$")),
]


def _search(identity_id: str = ESTELLE["id"]) -> dict:
    return {"totalElements": 1, "totalPages": 1, "items": [{"id": identity_id, "codeApprenant": "21900001"}]}


@pytest.fixture
def answers(settings, fresh_pegase_memory):
    """Pégase on loopback: a token for any credentials, then for each call the JSON answer the test sets under
    the call's name (``ROUTES``), 404 when it sets none."""
    answers: dict[str, object] = {}

    def answer(path: str, query: str) -> tuple[int, object]:
        name = next((name for name, route in ROUTES if route.match(path)), None)
        if name not in answers:
            return 404, {"message": "Not found"}
        return 200, answers[name]

    with pegase_on_loopback(settings, answer):
        yield answers


def _estelle(**changes) -> dict:
    """Estelle's identity with ``changes`` to her profilApprenant (a value of None removes nothing: it is sent)."""
    identity = copy.deepcopy(ESTELLE)
    identity["profilApprenant"].update(changes)
    return identity


# --- the learner search -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        ({"totalElements": 1, "items": ["oops"]}, "items[0] is a string, not an object"),
        ({"totalElements": 1, "items": {"id": ESTELLE["id"]}}, "items is an object, not a list"),
        ({"totalElements": "1", "items": [{"id": ESTELLE["id"]}]}, "totalElements is a string, not a count"),
        ({"totalElements": None, "items": [{"id": ESTELLE["id"]}]}, "totalElements is null, not a count"),
        ({"items": [{"id": ESTELLE["id"]}]}, "totalElements is null, not a count"),
        ({"totalElements": 1, "items": None}, "totalElements is 1 but items is empty"),
        ({"totalElements": 1, "items": [{"id": None}]}, "items[0].id is null, not an id"),
        ({"totalElements": 1, "items": [{"id": {"uuid": "x"}}]}, "items[0].id is an object, not an id"),
        (["oops"], "the answer is a list, not an object"),
        ("oops", "the answer is a string, not an object"),
    ],
    ids=[
        "item-a-string",
        "items-an-object",
        "total-a-string",
        "total-null",
        "total-absent",
        "items-null",
        "id-null",
        "id-an-object",
        "answer-a-list",
        "answer-a-string",
    ],
)
def test_a_search_answer_of_another_shape_is_an_outage(answers, answer, detail):
    answers["search"] = answer

    with pytest.raises(
        StudentRecordsUnavailable, match=re.escape(f"Pégase learner search: unexpected answer: {detail}")
    ):
        get_backend().find_by_ine(STUDENT.ine)


def test_no_match_and_several_matches_are_still_not_found(answers):
    backend = get_backend()

    answers["search"] = {"totalElements": 0, "items": []}
    assert backend.find_by_ine(STUDENT.ine) is None
    answers["search"] = {"totalElements": 2, "items": [{"id": "a"}, {"id": "b"}]}
    assert backend.find_by_ine(STUDENT.ine) is None


# --- the identity -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identity", "detail"),
    [
        ({"id": ESTELLE["id"], "profilApprenant": "oops"}, "profilApprenant is a string, not an object"),
        (_estelle(etatCivil="oops"), "profilApprenant.etatCivil is a string, not an object"),
        (_estelle(etatCivil=[1]), "profilApprenant.etatCivil is a list, not an object"),
        (_estelle(donneesContact=["12 RUE DES LILAS"]), "profilApprenant.donneesContact is a list, not an object"),
        (_estelle(parcoursScolaireEtUniversitaire=2019), "parcoursScolaireEtUniversitaire is a number"),
        (_estelle(listeINEs="0905012345W"), "profilApprenant.listeINEs is a string, not a list"),
        (_estelle(listeINEs=[None]), "profilApprenant.listeINEs[0] is null, not an object"),
        ([ESTELLE], "the answer is a list, not an object"),
    ],
    ids=[
        "profile-a-string",
        "civil-a-string",
        "civil-a-list",
        "contact-a-list",
        "schooling-a-number",
        "ines-a-string",
        "ine-null",
        "answer-a-list",
    ],
)
def test_an_identity_of_another_shape_is_an_outage(answers, identity, detail):
    answers.update(search=_search(), identity=identity, enrolments={"inscriptions": []})

    with pytest.raises(StudentRecordsUnavailable, match=re.escape(detail)):
        get_backend().find_by_ine(STUDENT.ine)


def test_the_message_and_the_log_say_the_shape_never_the_value(answers, caplog):
    answers.update(search=_search(), identity={"id": ESTELLE["id"], "profilApprenant": "MARTIN Estelle 2001-03-14"})

    with (
        caplog.at_level(logging.WARNING, logger="applications.pegase"),
        pytest.raises(StudentRecordsUnavailable) as raised,
    ):
        get_backend().find_by_ine(STUDENT.ine)

    assert str(raised.value) == "Pégase identity: unexpected answer: profilApprenant is a string, not an object"
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "profilApprenant is a string" in caplog.text
    assert "MARTIN" not in caplog.text
    assert STUDENT.ine not in caplog.text


def test_null_parts_of_an_identity_are_read_as_empty(answers):
    # JSON as eCandidat reads it: null (or "") is absent; only another type is an unexpected answer.
    answers.update(
        search=_search(),
        identity=_estelle(donneesContact=None, parcoursScolaireEtUniversitaire="", listeINEs=None),
        enrolments={"inscriptions": None},
    )

    student = get_backend().find_by_ine(STUDENT.ine)

    assert (student.student_number, student.birth_name, student.ine) == ("21900001", "MARTIN", "")
    assert (student.address, student.baccalaureate, student.cursus) == (None, None, ())


# --- the enrolments ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("enrolments", "detail"),
    [
        (["oops"], "the answer is a list, not an object"),
        ("oops", "the answer is a string, not an object"),
        ({"inscriptions": "oops"}, "inscriptions is a string, not a list"),
        ({"inscriptions": {"cible": {"code": "SLA1"}}}, "inscriptions is an object, not a list"),
        ({"inscriptions": [None]}, "inscriptions[0] is null, not an object"),
        ({"inscriptions": [{"cible": "SLA1"}]}, "inscriptions[].cible is a string, not an object"),
        ({"inscriptions": [{"cible": {"code": "SLA1", "periode": 2019}}]}, "cible.periode is a number"),
        ({"inscriptions": [{"cible": {"code": "SLA1", "formation": ["SLA"]}}]}, "cible.formation is a list"),
    ],
    ids=[
        "answer-a-list",
        "answer-a-string",
        "inscriptions-a-string",
        "inscriptions-an-object",
        "inscription-null",
        "cible-a-string",
        "periode-a-number",
        "formation-a-list",
    ],
)
def test_enrolments_of_another_shape_are_an_outage(answers, enrolments, detail):
    # Not an empty cursus: the nightly refresh would erase the one imported before.
    answers.update(search=_search(), identity=ESTELLE, enrolments=enrolments)

    with pytest.raises(StudentRecordsUnavailable, match=re.escape(detail)):
        get_backend().find_by_student_number("21900001")


# --- reference lists and periods --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "detail"),
    [
        ({"nomenclatures": [{"code": "S"}], "nbTotalPages": "many"}, "nbTotalPages is a string, not a page count"),
        ({"nomenclatures": [{"code": "S"}], "nbTotalPages": [2]}, "nbTotalPages is a list, not a page count"),
        ({"nomenclatures": "S", "nbTotalPages": 1}, "nomenclatures is a string, not a list"),
    ],
    ids=["pages-a-word", "pages-a-list", "rows-a-string"],
)
def test_a_nomenclature_page_of_another_shape_is_an_outage(answers, page, detail):
    answers["nomenclature"] = page

    with pytest.raises(StudentRecordsUnavailable, match=re.escape(detail)):
        get_backend().reference_list(ReferenceKind.BAC_SERIES)


def test_a_periods_page_of_another_shape_is_an_outage(answers):
    answers["periods"] = {"items": {"code": "2026"}, "totalPages": 1}

    with pytest.raises(StudentRecordsUnavailable, match=re.escape("items is an object, not a list")):
        get_backend().periods()


# --- the callers ------------------------------------------------------------------------------------------------


def test_a_candidate_typing_a_new_ine_keeps_the_details_typed(
    client, candidate_user, answers, caplog, django_assert_num_queries
):
    answers["search"] = {"totalElements": 1, "items": ["oops"]}
    client.force_login(candidate_user)

    # session, account, the request's savepoint pair, dossier, the INE's uniqueness, the save's savepoint pair, the
    # account's lock, "has a dossier", its insert, the SIS lookup's savepoint rolled back (3), the next step's address
    # and dossier, the session's update (the lookup to make again at the next save) in its savepoint pair
    with caplog.at_level(logging.WARNING), django_assert_num_queries(19):
        saved = client.post(PERSONAL, ESTELLE_TYPED, **FRENCH)
    page = client.get(saved.url, **FRENCH)
    again = client.get(PERSONAL, **FRENCH)

    assert saved.status_code == 302
    assert saved.url != CERTIFY
    assert page.status_code == again.status_code == 200
    assertContains(page, "Vos informations personnelles ont été enregistrées.")
    assertContains(page, "Le logiciel de scolarité ne répond pas : vos informations sont enregistrées ;")
    candidate = Candidate.objects.get(user=candidate_user)
    assert (candidate.ine, candidate.birth_name, candidate.first_name) == (STUDENT.ine, "MARTIN", "Estelle")
    assert not candidate.sis_locked
    assertContains(again, f'value="{STUDENT.ine}"')
    assert "INE lookup for candidate" in caplog.text
    assert "unexpected answer: items[0] is a string" in caplog.text


def test_staff_taking_a_dossier_again_are_told_the_sis_is_not_answering(client, central_manager, campaign, answers):
    candidate = estelle_typed_by_hand(campaign)
    answers.update(search=_search(), identity={"id": ESTELLE["id"], "profilApprenant": "oops"})
    client.force_login(central_manager)

    response = client.post(
        reverse("admin:applications_candidate_changelist"),
        {"action": "take_again_from_sis", helpers.ACTION_CHECKBOX_NAME: [candidate.pk]},
        follow=True,
        **FRENCH,
    )

    assert response.status_code == 200
    assertContains(response, "Le logiciel de scolarité ne répond pas")
    assertContains(response, "profilApprenant is a string, not an object")
    candidate.refresh_from_db()
    assert not candidate.sis_locked
