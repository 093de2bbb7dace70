"""The results of the cursus interne from Pégase's coc API (siscol-pegase-apogee.md §1.2 P8, §1.3 ``Publication``),
against the local Pégase peer in a separate process over real HTTP: read when PEGASE_COC_URL is set; a results call
that fails (server error, timeout) costs the results only, never the cursus, and is logged."""

import io
import logging
from decimal import Decimal

import pytest
import requests
from django.core.management import call_command
from django.urls import reverse

from applications import pegase
from applications.models import Candidate, InternalCursus
from applications.services.reference import refresh_reference_data
from applications.sis import SisCursusLine
from applications.sis_backend import get_backend
from applications.tests.factories import CandidateFactory, CandidateUserFactory
from applications.tests.helpers import configure_pegase, pegase_peer_stats, start_pegase_peer
from ecandidat.batches import Report
from ecandidat.models import BatchRun

pytestmark = pytest.mark.django_db

COC = "/api/coc/publication/v2/"


@pytest.fixture
def peer(settings):
    pegase._tokens.clear()
    pegase._unreachable.clear()
    process, url = start_pegase_peer()
    try:
        configure_pegase(settings, url)
        settings.PEGASE_COC_URL = url + COC
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        pegase._tokens.clear()
        pegase._unreachable.clear()


@pytest.fixture
def refreshed(peer):
    report = Report()
    refresh_reference_data(backend=get_backend(), report=report)
    assert report.errors == []
    return peer


ESTELLE = (
    SisCursusLine(2019, "SLA1", "Licence 1 Sciences de la vie"),
    SisCursusLine(
        2019, "SLA1-S1", "Licence 1 Sciences de la vie / Semestre 1", "ADM", grade=Decimal("14.5"), grade_scale=20
    ),
    SisCursusLine(
        2019, "SLA1-S2", "Licence 1 Sciences de la vie / Semestre 2", "ADM", grade=Decimal("12"), grade_scale=20
    ),
    SisCursusLine(2020, "SLA2", "Licence 2 Sciences de la vie"),
    SisCursusLine(2021, "SLA3", "Licence Sciences de la vie"),
    SisCursusLine(
        2021, "SLA3-S5", "Licence Sciences de la vie / Semestre 5", "ADM", grade=Decimal("15"), grade_scale=20
    ),
    SisCursusLine(2021, "SLA3-S6", "Licence Sciences de la vie / SLA3-S6"),
)
ESTELLE_ENROLMENTS = tuple(line for line in ESTELLE if "-" not in line.code)


def fail(url: str, **query) -> None:
    requests.post(f"{url}/_peer/{query.pop('control')}", params=query, timeout=5).raise_for_status()


def test_the_peer_serves_publications_with_the_code_chemin_raw_or_encoded(peer):
    token = pegase.PegaseClient(auth_url=f"{peer}/cas/v1/tickets", username="u", password="p", timeout=5).token()
    base = f"{peer}{COC}etablissements/ETAB00/periodes/PER-2019/apprenants/21900001/chemins/"
    headers = {"Authorization": f"Bearer {token}"}

    encoded = requests.get(base + "SLA%3ESLA1", headers=headers, timeout=5)
    raw = requests.get(base + "SLA>SLA1", headers=headers, timeout=5)

    assert encoded.status_code == raw.status_code == 200
    assert encoded.json() == raw.json()
    assert [p["codeChemin"].count(">") for p in encoded.json()] == [1, 2, 2, 3]  # 2, 3, 3 and 4 levels
    assert requests.get(base + "SLA%3ESLA1", timeout=5).status_code == 401  # no token
    unknown = base.replace("21900001", "21900003") + "X%3EY"
    assert requests.get(unknown, headers=headers, timeout=5).status_code == 404


def test_the_cursus_comes_with_its_results(refreshed):
    student = get_backend().find_by_student_number("21900001")

    assert student.cursus == ESTELLE
    # One results call per enrolment: Pégase has no call for all of a learner's results.
    assert pegase_peer_stats(refreshed)["calls_by_api"]["coc"] == 3


def test_without_pegase_coc_url_the_results_are_not_read(refreshed, settings):
    settings.PEGASE_COC_URL = ""

    student = get_backend().find_by_student_number("21900001")

    assert student.cursus == ESTELLE_ENROLMENTS
    assert "coc" not in pegase_peer_stats(refreshed)["calls_by_api"]


def test_the_login_of_an_ent_student_imports_the_results_and_shows_them_in_french(client, campaign, refreshed):
    user = CandidateUserFactory(campaign=campaign, student_number="21900002")
    client.force_login(user)

    response = client.get(reverse("applications:internal_cursus"), language="fr")

    candidate = Candidate.objects.get(user=user)
    rows = InternalCursus.objects.filter(candidate=candidate).order_by("code")
    assert [(r.code, r.result, r.grade, r.grade_scale) for r in rows] == [
        ("ILA1", "", None, None),
        ("ILA1-S1", "ADM", Decimal("11.750"), 20),
        ("ILA1-S2", "AJ", Decimal("9.500"), 20),
    ]
    page = response.content.decode()
    assert '<td role="cell" data-label="Note / barème">11,75 / 20</td>' in page
    assert '<td role="cell" data-label="Note / barème">9,5 / 20</td>' in page


# --- faults: the results call fails, the cursus stays (integration: the peer's failures) -------------------------


@pytest.mark.integration
def test_a_server_error_on_the_results_keeps_the_cursus_without_results(refreshed, caplog):
    fail(refreshed, control="fail", status=500, count=1, path=COC)

    with caplog.at_level(logging.WARNING, logger="applications.pegase"):
        student = get_backend().find_by_student_number("21900001")

    assert student.cursus == ESTELLE_ENROLMENTS  # the enrolments: nothing lost
    assert student.birth_name == "MARTIN"
    assert "the results of learner 21900001 were not read, cursus imported without them" in caplog.text
    assert "HTTP 500" in caplog.text
    # The next import has them again.
    assert get_backend().find_by_student_number("21900001").cursus == ESTELLE


@pytest.mark.integration
def test_a_results_timeout_keeps_the_cursus_and_spares_the_other_apis(refreshed, settings, caplog):
    settings.PEGASE_TIMEOUT = 1
    fail(refreshed, control="delay", seconds=3, count=1, path=COC)
    backend = get_backend()

    with caplog.at_level(logging.WARNING, logger="applications.pegase"):
        student = backend.find_by_student_number("21900001")
        # coc did not answer: it is not asked again for a while (no second wait), but the identities and the
        # enrolments, on the same server, still are.
        other = backend.find_by_student_number("21900002")

    assert student.cursus == ESTELLE_ENROLMENTS
    assert "ReadTimeout" in caplog.text
    assert [line.code for line in other.cursus] == ["ILA1"]
    assert "did not answer a moment ago" in caplog.text
    pegase._unreachable.clear()  # 30 seconds later
    assert backend.find_by_student_number("21900001").cursus == ESTELLE


@pytest.mark.integration
def test_the_nightly_refresh_with_failing_results_keeps_the_results_imported_before(refreshed, campaign, caplog):
    candidate = CandidateFactory(user__campaign=campaign, user__student_number="21900001")
    call_command("sync_sis", stdout=io.StringIO())
    assert InternalCursus.objects.filter(candidate=candidate, grade__isnull=False).count() == 3
    BatchRun.objects.all().delete()
    fail(refreshed, control="fail", status=503, count=10, path=COC)

    with caplog.at_level(logging.WARNING, logger="applications.pegase"):
        call_command("sync_sis", stdout=io.StringIO(), stderr=io.StringIO())

    run = BatchRun.objects.get(name="sync_sis")
    assert run.status == BatchRun.Status.FINISH
    assert run.counts == {"dossiers refreshed": 1}
    # The cursus read without its results does not replace the one imported with them.
    assert InternalCursus.objects.filter(candidate=candidate, grade__isnull=False).count() == 3
    assert "HTTP 503" in caplog.text
