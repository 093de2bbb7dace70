"""Pégase's INE is read only when confirmed (the master INE of ``listeINEs``): "" means "not confirmed", not "no INE".
The import of a learner without a confirmed INE keeps the INE the dossier holds (typed by the candidate) and leaves
it theirs to edit; only an INE the student records system gave is imported and locked. The answers come from a small
HTTP server on loopback."""

import copy
import io
import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from applications import services
from applications.forms import PersonalDetailsForm
from applications.models import Candidate
from applications.tests.factories import STUDENT, CandidateFactory
from applications.tests.helpers import pegase_on_loopback
from ecandidat.exceptions import BusinessRuleError

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "devtools" / "pegase" / "fixtures"
ESTELLE = json.loads((FIXTURES / "identites.json").read_text(encoding="utf-8"))[0]  # learner 21900001, French
SEARCH = re.compile(r"^/api/idt/v1/etablissements/ETAB00/identites/apprenants$")
IDENTITY = re.compile(r"^/api/idt/v1/etablissements/ETAB00/identites/[^/]+$")
TYPED = "0905012345W"  # Estelle's INE, as she typed it (STUDENT.ine)
OTHER_INE = "1004023456U"


@pytest.fixture
def pegase(settings, fresh_pegase_memory):
    """Pégase on loopback: a search by Estelle's student number finds her identity (``pegase["identity"]``, the
    test changes it; other searches find ``pegase["by_ine"]``, nobody by default); she has no enrolment (404)."""
    state = {"identity": copy.deepcopy(ESTELLE), "by_ine": None}

    def answer(path: str, query: str) -> tuple[int, object]:
        if SEARCH.match(path):
            found = state["identity"] if "codeApprenant=21900001" in query else state["by_ine"]
            items = [{"id": found["id"]}] if found else []
            return 200, {"totalElements": len(items), "items": items}
        if IDENTITY.match(path):
            found = state["by_ine"] if state["by_ine"] and path.endswith(state["by_ine"]["id"]) else state["identity"]
            return 200, found
        return 404, {"message": "Not found"}

    with pegase_on_loopback(settings, answer):
        yield state


def unconfirmed(identity: dict) -> dict:
    identity["profilApprenant"]["listeINEs"] = [{"ine": TYPED, "confirme": False, "maitre": True}]
    return identity


def typed_dossier(campaign, **fields):
    """Estelle's dossier typed on her ENT account (student number 21900001), her INE included."""
    values = {
        "user__campaign": campaign,
        "user__student_number": "21900001",
        "birth_name": "MARTIN",
        "first_name": "Estelle",
        "birth_date": STUDENT.birth_date,
        "ine": TYPED,
        "sis_locked": False,
        **fields,
    }
    return CandidateFactory(**values)


def change(candidate: Candidate, **data) -> Candidate:
    return services.save_personal_details(user=candidate.user, candidate=candidate, data=data, actor=candidate.user)


def locked_fields(candidate: Candidate) -> set[str]:
    form = PersonalDetailsForm(instance=candidate, sis_locked=candidate.sis_locked)
    return {name for name, field in form.fields.items() if field.disabled}


def test_the_nightly_sync_keeps_a_typed_ine_pegase_has_not_confirmed_and_leaves_it_editable(campaign, pegase):
    unconfirmed(pegase["identity"])
    candidate = typed_dossier(campaign)

    call_command("sync_sis", stdout=io.StringIO())

    candidate = Candidate.objects.get(pk=candidate.pk)
    assert (candidate.sis_locked, candidate.ine) == (True, TYPED)
    assert "ine" not in locked_fields(candidate)
    assert {"birth_name", "first_name", "birth_date"} <= locked_fields(candidate)
    assert change(candidate, ine=OTHER_INE).ine == OTHER_INE
    with pytest.raises(BusinessRuleError):
        change(candidate, birth_name="DURAND")


def test_an_empty_ine_stays_empty_and_editable(campaign, pegase):
    unconfirmed(pegase["identity"])
    candidate = typed_dossier(campaign, ine="")

    call_command("sync_sis", stdout=io.StringIO())

    candidate = Candidate.objects.get(pk=candidate.pk)
    assert (candidate.sis_locked, candidate.ine) == (True, "")
    assert "ine" not in locked_fields(candidate)
    assert change(candidate, ine=TYPED).ine == TYPED


def test_a_confirmed_ine_is_imported_and_locked(campaign, pegase):
    candidate = typed_dossier(campaign, ine="")

    call_command("sync_sis", stdout=io.StringIO())

    candidate = Candidate.objects.get(pk=candidate.pk)
    assert (candidate.sis_locked, candidate.ine) == (True, TYPED)
    assert "ine" in locked_fields(candidate)
    with pytest.raises(BusinessRuleError):
        change(candidate, ine=OTHER_INE)


def test_an_ine_no_longer_confirmed_is_kept_and_becomes_editable(campaign, pegase):
    candidate = typed_dossier(campaign)
    call_command("sync_sis", stdout=io.StringIO())
    assert "ine" in locked_fields(Candidate.objects.get(pk=candidate.pk))
    unconfirmed(pegase["identity"])

    call_command("sync_sis", stdout=io.StringIO())

    candidate = Candidate.objects.get(pk=candidate.pk)
    assert (candidate.sis_locked, candidate.ine) == (True, TYPED)
    assert "ine" not in locked_fields(candidate)


def test_a_typed_ine_kept_on_import_is_no_proof_for_a_later_search_by_ine(campaign, pegase):
    # Imported while Pégase had no confirmed INE for her, the dossier keeps the INE typed. Should Pégase stop knowing
    # her student number, a learner found by that INE is imported only if it is the same person: the typed INE is
    # not one the import vouched for.
    unconfirmed(pegase["identity"])
    candidate = typed_dossier(campaign)
    call_command("sync_sis", stdout=io.StringIO())
    stranger = copy.deepcopy(ESTELLE)
    stranger.update(id="someone-else", nomNaissance="DURAND", prenom="Paul")
    stranger["profilApprenant"]["codeApprenant"] = "21900099"
    pegase.update(identity=None, by_ine=stranger)

    call_command("sync_sis", stdout=io.StringIO())

    candidate = Candidate.objects.get(pk=candidate.pk)
    assert (candidate.birth_name, candidate.first_name, candidate.sis_student_number) == (
        "MARTIN",
        "Estelle",
        "21900001",
    )


@pytest.mark.parametrize(("from_sis", "editable"), [(False, True), (True, False)], ids=["typed", "from-the-sis"])
def test_the_back_office_locks_the_ine_only_when_the_sis_gave_it(
    client, candidates_manager, campaign, from_sis, editable
):
    # The candidates managers correct an imported dossier but what the SIS gave (the central office's).
    candidate = typed_dossier(campaign, sis_locked=True, sis_student_number="21900001", ine_from_sis=from_sis)
    client.force_login(candidates_manager)

    response = client.get(reverse("admin:applications_candidate_change", args=[candidate.pk]))

    fields = response.context["adminform"].form.fields
    assert ("ine" in fields) is editable
    assert "birth_name" not in fields
