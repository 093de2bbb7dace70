"""The Pégase backend and the reference-data refresh, against the local Pégase peer in a separate process
(devtools/pegase/server.py) over real HTTP, with its fixtures shaped like Pégase's answers."""

import datetime
import io
import json
import os
import runpy
import socket
from pathlib import Path

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import reverse
from pytest_django.asserts import assertContains

from accounts.tests.factories import DEFAULT_PASSWORD
from applications import pegase
from applications.models import Candidate, ReferenceBacSeries, ReferenceCommune, ReferenceCountry, ReferenceSchool
from applications.opi.communes import CommuneCodes
from applications.opi.pegase import CANDIDAT_COLUMNS, candidat_row
from applications.opi.transfer import OpiCandidate
from applications.pegase import PegaseBackend, PegaseClient
from applications.services.reference import refresh_reference_data
from applications.sis import ReferenceKind, SisCursusLine, StudentRecordsUnavailable
from applications.sis_backend import get_backend
from applications.tests.factories import CandidateFactory, CandidateUserFactory
from applications.tests.helpers import configure_pegase, pegase_peer_stats, start_pegase_peer
from applications.tests.opi.helpers import make_candidate
from ecandidat.batches import Report
from ecandidat.management.commands.nightly import BATCHES
from ecandidat.models import BatchRun

pytestmark = pytest.mark.django_db

SETTINGS = Path(__file__).resolve().parents[2] / "ecandidat" / "settings"


@pytest.fixture
def peer_args():
    return ("--page-size", "2")  # every nomenclature spans several pages


@pytest.fixture
def peer(settings, peer_args):
    pegase._tokens.clear()  # the token cache is per process: each test starts without one
    pegase._unreachable.clear()
    process, url = start_pegase_peer(*peer_args)
    try:
        configure_pegase(settings, url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        pegase._tokens.clear()


@pytest.fixture
def refreshed(peer):
    report = Report()
    refresh_reference_data(backend=get_backend(), report=report)
    assert report.errors == []
    return report


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- configuration ------------------------------------------------------------------------------------------------


def test_the_csv_backend_is_the_default_and_has_no_reference_lists(settings):
    assert settings.STUDENT_RECORDS_BACKEND == "csv"
    backend = get_backend()

    assert type(backend).__name__ == "LocalTableBackend"
    assert backend.reference_list(ReferenceKind.COUNTRIES) is None


def test_the_pegase_backend_is_chosen_by_configuration(peer):
    backend = get_backend()

    assert isinstance(backend, PegaseBackend)
    assert backend.idt_url.endswith("/api/idt/v1/")


def test_pegase_without_its_settings_stops_the_start(monkeypatch):
    monkeypatch.setenv("STUDENT_RECORDS_BACKEND", "pegase")
    monkeypatch.setenv("PEGASE_AUTH_URL", "https://authn-app.univ.example/cas/v1/tickets")
    for name in ("PEGASE_USERNAME", "PEGASE_PASSWORD", "PEGASE_ETABLISSEMENT", "PEGASE_IDT_URL"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(ImproperlyConfigured, match="STUDENT_RECORDS_BACKEND=pegase needs PEGASE_USERNAME"):
        runpy.run_path(str(SETTINGS / "base.py"))


def test_an_unknown_backend_stops_the_start(monkeypatch):
    monkeypatch.setenv("STUDENT_RECORDS_BACKEND", "apogee")

    with pytest.raises(ImproperlyConfigured, match="STUDENT_RECORDS_BACKEND must be csv or pegase"):
        runpy.run_path(str(SETTINGS / "base.py"))


def test_development_settings_point_pegase_at_the_local_peer(monkeypatch):
    # dev.py fills the environment before it imports base (already imported here): read what it filled, in a copy.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PEGASE_")}
    environ.update(STUDENT_RECORDS_BACKEND="pegase", PEGASE_PORT="8799")
    monkeypatch.setattr(os, "environ", environ)

    runpy.run_path(str(SETTINGS / "dev.py"))

    assert environ["PEGASE_AUTH_URL"] == "http://127.0.0.1:8799/cas/v1/tickets"
    assert environ["PEGASE_IDT_URL"] == "http://127.0.0.1:8799/api/idt/v1/"
    assert environ["PEGASE_ETABLISSEMENT"] == "ETAB00"


# --- reference lists ----------------------------------------------------------------------------------------------


def test_reference_lists_follow_every_page_and_skip_unusable_rows(peer):
    backend = get_backend()

    countries = backend.reference_list(ReferenceKind.COUNTRIES)
    communes = backend.reference_list(ReferenceKind.COMMUNES)
    schools = backend.reference_list(ReferenceKind.SCHOOLS)
    series = backend.reference_list(ReferenceKind.BAC_SERIES)

    # 9 countries on 5 pages of 2, the one without a label skipped.
    assert [c.code for c in countries] == ["100", "134", "109", "350", "212", "306", "319", "121"]
    assert countries[0].nationality_label == "FRANCAIS(E)"
    assert countries[4].nationality_label == "AFGHANISTA"  # libelleNationalite "" falls back to libelleCourt
    assert not countries[-1].visible
    bourg = next(c for c in communes if c.label == "BOURG-EN-BRESSE")
    assert bourg.insee_code == "01053"  # a 4-character code gets its leading 0
    assert bourg.postal_code == "01000"
    assert len(communes) == 6
    # The school without a département and the one without a label are skipped, as eCandidat does.
    assert [s.code for s in schools] == ["0660014A", "0110022X", "0010013J", "0660011X"]
    assert schools[2].commune_insee_code == "01053"
    assert (series[0].code, series[0].first_year, series[0].last_year) == ("0021", 2021, None)
    assert (series[1].first_year, series[1].last_year) == (1995, 2021)


def test_refresh_fills_the_tables_the_forms_read(peer):
    call_command("refresh_reference_data", stdout=io.StringIO())

    run = BatchRun.objects.get(name="refresh_reference_data")
    assert run.status == BatchRun.Status.FINISH
    assert run.counts["countries: received"] == 8
    assert run.counts["countries without ISO code"] == 2  # ACORES, MADERE and YOUGOSLAVIE
    assert run.counts["schools: received"] == 4
    assert dict(ReferenceCountry.objects.values_list("code", "iso_code")) == {
        "100": "FR",
        "134": "ES",
        "109": "DE",
        "350": "MA",
        "212": "AF",
        "306": "CI",
        "319": "",
        "121": "",
    }
    assert ReferenceCommune.objects.filter(postal_code="66000").get().label == "PERPIGNAN"
    arago = ReferenceSchool.objects.get(code="0660014A")
    assert (arago.department, arago.commune_insee_code, arago.school_type) == ("66", "66136", "LYC")
    assert ReferenceBacSeries.objects.get(code="A1").visible is False


def test_the_refreshed_communes_give_the_opi_files_their_insee_codes(peer, campaign):
    call_command("refresh_reference_data", stdout=io.StringIO())
    candidate = make_candidate(campaign)  # born in "Perpignan" (66), living at 66000 "PERPIGNAN"

    codes = CommuneCodes([OpiCandidate(candidate=candidate)])

    assert (codes.birth(candidate), codes.address(candidate.address)) == ("66136", "66136")


def test_a_row_pegase_stops_sending_is_hidden_not_deleted(peer):
    ReferenceBacSeries.objects.create(code="OLD", label="ANCIENNE SERIE")

    call_command("refresh_reference_data", stdout=io.StringIO())
    call_command("refresh_reference_data", stdout=io.StringIO())  # safe to rerun

    old = ReferenceBacSeries.objects.get(code="OLD")
    assert old.visible is False
    assert ReferenceBacSeries.objects.filter(visible=True).count() == 5


def test_dry_run_reads_and_writes_nothing(peer):
    call_command("refresh_reference_data", "--dry-run", stdout=io.StringIO())

    assert BatchRun.objects.get(name="refresh_reference_data").counts["communes: received"] == 6
    assert not ReferenceCommune.objects.exists()


def test_refresh_with_pegase_down_keeps_every_table(settings, db):
    configure_pegase(settings, f"http://127.0.0.1:{free_port()}")
    ReferenceCountry.objects.create(code="100", label="FRANCE", iso_code="FR")

    call_command("refresh_reference_data", stdout=io.StringIO(), stderr=io.StringIO())

    run = BatchRun.objects.get(name="refresh_reference_data")
    assert run.status == BatchRun.Status.ERROR
    assert "countries: Pégase authentication: ConnectionError" in run.errors
    assert list(ReferenceCountry.objects.values_list("code", "visible")) == [("100", True)]


def test_refresh_with_the_csv_backend_changes_nothing(db):
    ReferenceCountry.objects.create(code="100", label="FRANCE", iso_code="FR")

    call_command("refresh_reference_data", stdout=io.StringIO())

    run = BatchRun.objects.get(name="refresh_reference_data")
    assert run.status == BatchRun.Status.FINISH
    assert run.counts == {f"{kind.value}: not provided by the backend": 1 for kind in ReferenceKind}
    assert ReferenceCountry.objects.get().visible


def test_refresh_runs_before_sync_sis_in_the_nightly_order():
    assert BATCHES.index("refresh_reference_data") < BATCHES.index("sync_sis")


# --- students -----------------------------------------------------------------------------------------------------


def test_student_by_number_with_the_reference_lists(refreshed):
    student = get_backend().find_by_student_number("21900001")

    assert (student.student_number, student.ine, student.civility) == ("21900001", "0905012345W", "Mme")
    assert (student.birth_name, student.first_name, student.other_first_name) == ("MARTIN", "Estelle", "Marie")
    assert student.birth_date == datetime.date(2001, 3, 14)
    assert (student.birth_country, student.birth_department, student.birth_city) == ("FR", "66", "PERPIGNAN")
    assert student.nationality == "FR"
    assert student.mobile == "+33612345601"
    assert (student.address.line1, student.address.postal_code, student.address.city) == (
        "12 RUE DES LILAS",
        "66000",
        "PERPIGNAN",
    )
    bac = student.baccalaureate
    assert (bac.series, bac.year, bac.mention, bac.country) == ("S", 2019, "AB", "FR")
    assert (bac.school, bac.department, bac.city) == ("LYCEE FRANCOIS ARAGO", "66", "PERPIGNAN")
    assert student.cursus == (
        SisCursusLine(academic_year=2019, code="SLA1", label="Licence 1 Sciences de la vie"),
        SisCursusLine(academic_year=2020, code="SLA2", label="Licence 2 Sciences de la vie"),
        SisCursusLine(academic_year=2021, code="SLA3", label="Licence Sciences de la vie"),  # formation's label
    )


def test_foreign_student_without_a_confirmed_ine(refreshed):
    student = get_backend().find_by_student_number("21900003")

    assert student.ine == ""
    assert (student.birth_country, student.nationality, student.birth_city) == ("ES", "ES", "BARCELONA")
    assert student.birth_department == ""
    assert (student.address.country, student.address.city) == ("ES", "08013 BARCELONA")
    assert (student.baccalaureate.series, student.baccalaureate.country) == ("0031", "ES")
    assert student.cursus == ()  # no enrolment: Pégase answers 404


def test_student_by_ine_and_the_not_found_cases(refreshed):
    backend = get_backend()

    assert backend.find_by_ine("1004023456u").student_number == "21900002"
    assert backend.find_by_ine("2345678901H") is None  # two learners hold it: ambiguous, nothing imported
    assert backend.find_by_ine("") is None
    assert backend.find_by_student_number("99999999") is None


def test_before_any_refresh_only_france_is_known(peer, caplog):
    # Spain's Pégase code means nothing until the countries are refreshed: no import rather than a locked empty
    # country of birth (the candidate types the dossier).
    assert get_backend().find_by_student_number("21900003") is None
    assert "country codes ('134', '134') have no ISO code" in caplog.text
    assert get_backend().find_by_student_number("21900002").birth_country == "FR"


def test_login_of_an_ent_student_opens_the_dossier_from_pegase(client, campaign, refreshed):
    user = CandidateUserFactory(campaign=campaign, student_number="21900002")

    client.force_login(user)

    candidate = Candidate.objects.select_related("address", "baccalaureate").get(user=user)
    assert candidate.sis_locked
    assert (candidate.birth_name, candidate.ine, candidate.birth_city) == ("BERNARD", "1004023456U", "NARBONNE")
    # Pégase's Ligne2Batiment, its Ligne1Etage empty: the bâtiment slot, the étage slot left empty.
    assert (candidate.address.line1, candidate.address.line2, candidate.address.line3) == (
        "3 AVENUE DE LA MER",
        "",
        "RESIDENCE LES PINS",
    )
    assert candidate.address.city == "CANET-EN-ROUSSILLON"
    assert (candidate.baccalaureate.series, candidate.baccalaureate.series_label) == ("0021", "BACCALAUREAT GENERAL")
    assert candidate.baccalaureate.school == "LYCEE DOCTEUR LACROIX"


def test_an_imported_pegase_address_goes_back_to_pegase_in_the_same_opi_columns(client, campaign, refreshed):
    client.force_login(CandidateUserFactory(campaign=campaign, student_number="21900002"))
    entry = OpiCandidate(candidate=Candidate.objects.get(user__student_number="21900002"))

    row = dict(zip(CANDIDAT_COLUMNS, candidat_row(entry, CommuneCodes([entry])), strict=True))

    assert (row["adresse_ligne1_etage"], row["adresse_ligne2_batiment"], row["adresse_ligne3_voie"]) == (
        "",
        "RESIDENCE LES PINS",
        "3 AVENUE DE LA MER",
    )


def pegase_contact(etage: str, batiment: str, voie: str, complement: str) -> dict:
    return {
        "adresseFixeLigne1Etage": etage,
        "adresseFixeLigne2Batiment": batiment,
        "adresseFixeLigne3Voie": voie,
        "adresseFixeLigne4Complement": complement,
        "adresseFixeLigne5Etranger": "08013 BARCELONA",
        "adresseFixePays": {"code": "134"},
    }


@pytest.mark.parametrize(
    ("contact", "lines"),
    [
        # an empty étage stays empty: the bâtiment and the complément do not move up a slot
        (pegase_contact("", "Batiment B", "1 rue X", "BP 12"), ("1 rue X, BP 12", "", "Batiment B")),
        # all four: the complément joins the street, nothing is lost
        (pegase_contact("Etage 3", "Batiment B", "1 rue X", "BP 12"), ("1 rue X, BP 12", "Etage 3", "Batiment B")),
        # street and complément past 32 characters together: the complément is dropped, never cut nor moved
        (
            pegase_contact("Etage 3", "", "12 avenue du Marechal Joffre", "BP 12"),
            ("12 avenue du Marechal Joffre", "Etage 3", ""),
        ),
        # no street: the étage and bâtiment keep their slots, the street's stays empty
        (pegase_contact("Etage 3", "Batiment B", "", ""), ("", "Etage 3", "Batiment B")),
        (pegase_contact("", "", "", "Lieu-dit Les Fontaines"), ("Lieu-dit Les Fontaines", "", "")),
    ],
)
def test_each_pegase_address_line_keeps_its_slot(settings, contact, lines):
    configure_pegase(settings, f"http://127.0.0.1:{free_port()}")

    address = get_backend()._address(contact, {"134": "ES"})

    assert (address.line1, address.line2, address.line3) == lines
    assert (address.country, address.city) == ("ES", "08013 BARCELONA")


def test_a_pegase_address_whose_only_line_is_a_too_long_complement_is_not_imported(settings):
    configure_pegase(settings, f"http://127.0.0.1:{free_port()}")

    assert get_backend()._address(pegase_contact("", "", "", "x" * 33), {"134": "ES"}) is None


def test_login_while_pegase_is_down_lets_the_candidate_fill_the_dossier(client, campaign, settings):
    configure_pegase(settings, f"http://127.0.0.1:{free_port()}")
    user = CandidateUserFactory(campaign=campaign, student_number="21900002")

    response = client.post(
        reverse("account_login"),
        {"login": user.username, "password": DEFAULT_PASSWORD},
        follow=True,
        language="fr",
    )

    assert response.status_code == 200
    assertContains(response, "Le logiciel de scolarité ne répond pas")
    assert not Candidate.objects.filter(user=user).exists()


def test_an_unreachable_pegase_is_not_asked_again_for_a_while(settings, db):
    configure_pegase(settings, f"http://127.0.0.1:{free_port()}")
    backend = get_backend()

    with pytest.raises(StudentRecordsUnavailable, match="ConnectionError"):
        backend.find_by_student_number("21900002")
    with pytest.raises(StudentRecordsUnavailable, match="did not answer a moment ago"):
        backend.find_by_student_number("21900002")


def test_sync_sis_stops_at_the_first_outage_and_changes_nothing(campaign, settings):
    for number in ("21900001", "21900002"):
        CandidateFactory(user__campaign=campaign, user__student_number=number)
    configure_pegase(settings, f"http://127.0.0.1:{free_port()}")

    call_command("sync_sis", stdout=io.StringIO(), stderr=io.StringIO())

    run = BatchRun.objects.get(name="sync_sis")
    assert run.status == BatchRun.Status.ERROR
    assert run.errors.count("the batch stops") == 1
    assert run.counts == {}


# --- token and errors (integration: the peer's token life cycle and failures) -----------------------------------


def client_for(url: str) -> PegaseClient:
    return PegaseClient(auth_url=f"{url}/cas/v1/tickets", username="u", password="p", timeout=5)


@pytest.mark.integration
def test_the_token_is_fetched_once_and_reused(peer):
    backend = get_backend()

    backend.find_by_student_number("21900002")
    backend.find_by_student_number("21900001")

    assert pegase_peer_stats(peer)["tokens_issued"] == 1


@pytest.mark.integration
def test_an_expired_token_is_renewed_once(peer):
    backend = get_backend()
    backend.find_by_student_number("21900002")
    requests.post(f"{peer}/_peer/expire-tokens", timeout=5)

    student = backend.find_by_student_number("21900002")

    assert student.birth_name == "BERNARD"
    assert pegase_peer_stats(peer)["tokens_issued"] == 2


@pytest.mark.integration
def test_an_invalid_token_is_renewed(peer):
    pegase._tokens[(f"{peer}/cas/v1/tickets", "u")] = ("not-a-token", 10**12)

    assert client_for(peer).get_json(f"{peer}/api/v1/ref/nomenclatures/SerieBac/numPage/0/nbOccurences/1000")


@pytest.mark.integration
def test_wrong_credentials_are_reported(peer):
    bad = PegaseClient(auth_url=f"{peer}/cas/v1/tickets", username="u", password="wrong", timeout=5)

    with pytest.raises(StudentRecordsUnavailable, match="credentials were refused"):
        bad.get_json(f"{peer}/api/v1/ref/nomenclatures/SerieBac/numPage/0/nbOccurences/1000")


@pytest.mark.integration
def test_a_401_after_renewal_is_an_outage(peer):
    requests.post(f"{peer}/_peer/fail?status=401&count=2", timeout=5)

    with pytest.raises(StudentRecordsUnavailable, match="HTTP 401"):
        get_backend().find_by_student_number("21900002")


@pytest.mark.integration
def test_a_server_error_is_an_outage_and_the_next_call_works(peer):
    requests.post(f"{peer}/_peer/fail?status=503&count=1", timeout=5)
    backend = get_backend()

    with pytest.raises(StudentRecordsUnavailable, match="HTTP 503"):
        backend.find_by_student_number("21900002")
    assert backend.find_by_student_number("21900002").student_number == "21900002"


@pytest.mark.integration
def test_a_server_error_during_the_refresh_keeps_the_tables(peer):
    call_command("refresh_reference_data", stdout=io.StringIO())
    BatchRun.objects.all().delete()
    ReferenceCountry.objects.filter(code="100").update(label="FRANCE (AVANT)")
    requests.post(f"{peer}/_peer/fail?status=500&count=1", timeout=5)

    call_command("refresh_reference_data", stdout=io.StringIO(), stderr=io.StringIO())

    run = BatchRun.objects.get(name="refresh_reference_data")
    assert run.status == BatchRun.Status.ERROR
    assert "HTTP 500" in run.errors
    assert ReferenceCountry.objects.get(code="100").label == "FRANCE (AVANT)"
    assert ReferenceCountry.objects.filter(visible=True).count() == 7


def test_the_peer_answers_like_pegase_without_a_token(peer):
    response = requests.get(f"{peer}/api/v1/ref/nomenclatures/SerieBac/numPage/0/nbOccurences/1000", timeout=5)

    assert response.status_code == 401
    assert json.loads(response.text)["message"]
