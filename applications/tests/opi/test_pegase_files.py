"""The Pégase OPI files, column by column against siscol-pegase-apogee.md §2.2–2.3, and the confirm → désist →
confirm sequence of §2.4 (eCandidat issue #117) over several days."""

import datetime
import io
import zipfile

import pytest
from django.core.management import call_command
from django.utils import timezone

from applications.enums import OpiState, PegaseRemoval
from applications.models import Opi, OpiExport
from applications.opi import services as opi_services
from applications.opi.pegase import CANDIDAT_COLUMNS, CANDIDATURE_COLUMNS, INSCRIPTION_COLUMNS, PegaseFilesBackend
from applications.opi.services import export_zip, record_collection, transfer_opis
from applications.tests.opi.helpers import (
    DAY1,
    admit,
    confirm,
    files_of,
    make_candidate,
    withdraw_after_confirmation,
)
from ecandidat.batches import Report
from ecandidat.management.commands.nightly import BATCHES
from ecandidat.models import BatchRun
from offers.tests.factories import FormationFactory


def run(day=None) -> OpiExport | None:
    return transfer_opis(Report(), today=day)


@pytest.fixture
def confirmed(opi_candidate, formation, centre_manager, opi_type):
    application = admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type)
    confirm(application)
    return application


def test_file_names_encoding_and_separator(confirmed, time_machine):
    time_machine.move_to(DAY1)

    export = run()

    assert sorted(export.files) == ["candidat-20260706.csv", "candidature-20260706.csv", "inscription-20260706.csv"]
    for text in export.files.values():
        raw = text.encode("utf-8")
        assert not raw.startswith(b"\xef\xbb\xbf")  # no BOM
        assert b"\r" not in raw
        assert b'"' not in raw
    assert "Élodie" in export.files["candidat-20260706.csv"]


def test_candidat_file_column_by_column(confirmed, campaign):
    export = run()

    header, rows = files_of(export)["candidat"]
    assert header == CANDIDAT_COLUMNS
    assert len(header) == 24
    assert rows == [
        {
            "numero_candidat": "AB123456",
            "sexe": "F",
            "nom_famille": "DUPONT",
            "nom_usuel": "MARTIN",
            "prenom": "Élodie",
            "prenom2": "Marie",
            "prenom3": "",
            "date_naissance": "03/02/2001",
            "code_pays_naissance": "100",
            "code_commune_naissance": "",
            "libelle_commune_naissance": "Perpignan",
            "code_nationalite": "100",
            "ine": "1234567890a",
            "adresse_code_pays": "100",
            "adresse_ligne1_etage": "Appartement 3",
            "adresse_ligne2_batiment": "Résidence Les Pins",  # the ";" is sanitised
            "adresse_ligne3_voie": "12 rue des Lilas",
            "adresse_ligne4_complement": "",
            "adresse_code_postal": "66000",
            "adresse_code_commune": "",
            "adresse_cp_ville_etranger": "",
            "numero_telephone1": "+33468000000",
            "numero_telephone2": "+33612345678",
            "courriel": "ab123456@example.org",
        }
    ]


def test_candidature_file_column_by_column(confirmed, campaign):
    export = run()

    header, rows = files_of(export)["candidature"]
    assert header == CANDIDATURE_COLUMNS
    assert rows == [
        {
            "numero_candidat": "AB123456",
            "origine_admission": "EC",
            "voie_admission": "",
            "annee_concours": "",
            "code_voeu": "M1-ENER-PSOL",
            "code_periode": campaign.code,
            "code_formation_psup": "",
            "code_sise": "",
            "code_etablissement_affectation": "",
        }
    ]


def test_inscription_file_column_by_column(confirmed, campaign):
    export = run()

    header, rows = files_of(export)["inscription"]
    assert header == INSCRIPTION_COLUMNS
    assert len(header) == 23 + 4 * 5
    assert "numero_candidat" not in header
    expected = {
        "nom_naissance": "DUPONT",
        "nom_usage": "MARTIN",
        "prenom": "Élodie",
        "prenom2": "Marie",
        "prenom3": "",
        "sexe": "F",
        "date_naissance": "03/02/2001",
        "code_pays_naissance": "100",
        "code_commune_naissance": "",
        "libelle_commune_naissance_etranger": "",  # born in France
        "code_nationalite": "100",
        "ine": "1234567890A",  # trimmed and upper-cased
        "adresse_code_pays": "100",
        "adresse_ligne1_etage": "Appartement 3",
        "adresse_ligne2_batiment": "Résidence Les Pins",
        "adresse_ligne3_voie": "12 rue des Lilas",
        "adresse_ligne4_complement": "",
        "adresse_ligne5_etranger": "",
        "adresse_code_postal": "66000",
        "adresse_code_commune": "",
        "numero_telephone1": "+33468000000",
        "numero_telephone2": "+33612345678",
        "mail": "ab123456@example.org",
        "origine_admission1": "EC",
        "annee_concours1": "",
        "code_voeu1": "M1-ENER-PSOL",
        "code_periode1": campaign.code,
    }
    for slot in range(2, 6):
        expected |= {f"origine_admission{slot}": "", f"annee_concours{slot}": "", f"code_voeu{slot}": ""}
        expected[f"code_periode{slot}"] = ""
    assert rows == [expected]


def test_foreign_birth_and_more_than_five_wishes(campaign, centre, commission, centre_manager, opi_type):
    candidate = make_candidate(
        campaign, username="CD654321", civility="M.", birth_country="MA", birth_department="", birth_city="Rabat",
        nationality="MA", ine="",
    )  # fmt: skip
    formations = [FormationFactory(centre=centre, commission=commission, pegase_code=f"VOEU{n}") for n in range(1, 7)]
    for formation in formations:
        confirm(admit(candidate, formation, manager=centre_manager, decision_type=opi_type))

    files = files_of(run())

    candidat = files["candidat"][1][0]
    assert (candidat["sexe"], candidat["code_pays_naissance"], candidat["code_nationalite"]) == ("M", "350", "350")
    assert candidat["libelle_commune_naissance"] == "Rabat"
    assert [row["code_voeu"] for row in files["candidature"][1]] == [f"VOEU{n}" for n in range(1, 7)]
    inscription = files["inscription"][1][0]
    assert inscription["libelle_commune_naissance_etranger"] == "Rabat"
    assert [inscription[f"code_voeu{slot}"] for slot in range(1, 6)] == [f"VOEU{n}" for n in range(1, 6)]
    assert "VOEU6" not in export_text(files)


def export_text(files) -> str:
    return repr(files["inscription"])


def test_separators_in_values_are_sanitised(confirmed):
    confirmed.candidate.birth_city = 'Saint-Jean;"Pied"\nde Port'
    confirmed.candidate.save()

    row = files_of(run())["candidat"][1][0]

    assert row["libelle_commune_naissance"] == "Saint-Jean Pied de Port"


def test_wish_without_pegase_code_waits(confirmed, formation):
    formation.pegase_code = ""
    formation.save()
    report = Report()

    export = transfer_opis(report)

    assert export is None  # no candidate, no file (as eCandidat)
    assert report.counts["wishes waiting for a formation code"] == 1
    assert Opi.objects.get().state == OpiState.PENDING


def test_a_future_baccalaureate_year_keeps_the_opi_pending(confirmed):
    confirmed.candidate.baccalaureate.year = timezone.localdate().year + 1
    confirmed.candidate.baccalaureate.save()
    report = Report()

    transfer_opis(report)

    assert Opi.objects.get().state == OpiState.PENDING
    assert report.errors == ["dossier AB123456: the baccalaureate year is after the current year"]


def test_confirm_withdraw_confirm_puts_the_candidate_only_in_the_files_of_the_change(
    confirmed, opi_candidate, other_formation, centre_manager, opi_type, time_machine
):
    """Reference §2.4 and §5: confirm A → batch (day 1) → withdraw A → confirm B → batch (day 2) → batch (day 3).
    The candidate is in day 1 with A, in day 2 with B only, and in no file on day 3 (eCandidat: in every file)."""
    time_machine.move_to(DAY1)
    day1 = files_of(run())
    assert [row["code_voeu"] for row in day1["candidature"][1]] == ["M1-ENER-PSOL"]

    time_machine.move_to(DAY1 + datetime.timedelta(hours=12))
    withdraw_after_confirmation(confirmed, actor=opi_candidate.user)
    second = admit(opi_candidate, other_formation, manager=centre_manager, decision_type=opi_type)
    confirm(second)
    time_machine.move_to(DAY1 + datetime.timedelta(days=1))
    day2_export = run()
    day2 = files_of(day2_export)

    assert [row["numero_candidat"] for row in day2["candidat"][1]] == ["AB123456"]
    assert [(row["numero_candidat"], row["code_voeu"]) for row in day2["candidature"][1]] == [("AB123456", "M1-PHYS")]
    inscription = day2["inscription"][1][0]
    assert (inscription["code_voeu1"], inscription["code_voeu2"]) == ("M1-PHYS", "")
    assert sorted(Opi.objects.values_list("state", "withdrawn")) == [
        (OpiState.PASSED, False),
        (OpiState.PASSED, True),  # the withdrawal was replayed: nothing stays pending for ever
    ]

    time_machine.move_to(DAY1 + datetime.timedelta(days=2))
    assert run() is None  # day 3: nothing new, no file
    assert OpiExport.objects.count() == 2
    day1_again = files_of(OpiExport.objects.get(day=datetime.date(2026, 7, 6)))
    assert day1_again == day1  # the earlier day's files are kept as they were


def test_a_second_run_the_same_day_rewrites_the_files_with_the_first_runs_candidates(
    confirmed, campaign, other_formation, centre_manager, opi_type, time_machine
):
    time_machine.move_to(DAY1)
    run()
    other = make_candidate(campaign, username="ZZ999999", ine="")
    confirm(admit(other, other_formation, manager=centre_manager, decision_type=opi_type))
    time_machine.move_to(DAY1 + datetime.timedelta(minutes=30))

    export = run()

    assert [row["numero_candidat"] for row in files_of(export)["candidat"][1]] == ["AB123456", "ZZ999999"]
    assert OpiExport.objects.count() == 1
    assert export.candidates == 2


def test_withdrawal_only_is_not_written_to_pegase(confirmed, opi_candidate, time_machine):
    time_machine.move_to(DAY1)
    run()
    time_machine.move_to(DAY1 + datetime.timedelta(days=1))
    withdraw_after_confirmation(confirmed, actor=opi_candidate.user)

    assert run() is None  # Pégase has no withdrawal message: the wish simply is in no later file
    opi = Opi.objects.get()
    assert (opi.state, opi.withdrawn) == (OpiState.PASSED, True)
    assert opi.application.events.filter(kind="opi_passed").last().batch == "transfer_opi"


def test_the_zip_holds_the_three_files(confirmed):
    export = run()

    archive = zipfile.ZipFile(io.BytesIO(export_zip(export)))

    assert sorted(archive.namelist()) == sorted(export.files)
    name = next(name for name in archive.namelist() if name.startswith("candidat-"))
    assert archive.read(name).decode("utf-8") == export.files[name]


def test_the_batch_command_records_its_run_and_writes_the_folder(
    confirmed, settings, tmp_path, time_machine, django_capture_on_commit_callbacks
):
    time_machine.move_to(DAY1)
    settings.OPI_EXPORT_DIR = str(tmp_path / "opi")
    out = io.StringIO()

    call_command("transfer_opi", "--dry-run", stdout=out)
    assert Opi.objects.get().state == OpiState.PENDING
    assert "candidates to transfer: 1" in out.getvalue()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("transfer_opi", stdout=out)

    assert "OPIs transferred by this run: 1, candidates in the day's files: 1, wishes in the day's files: 1" in (
        out.getvalue()
    )
    again = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("transfer_opi", stdout=again)
    # The day's files are rewritten whole: the candidate is in them again, no OPI is transferred twice.
    assert "OPIs transferred by this run: 0, candidates in the day's files: 1, wishes in the day's files: 1" in (
        again.getvalue()
    )
    assert Opi.objects.get().state == OpiState.PASSED
    assert sorted(path.name for path in (tmp_path / "opi").iterdir()) == [
        "candidat-20260706.csv",
        "candidature-20260706.csv",
        "inscription-20260706.csv",
    ]

    assert (
        list(BatchRun.objects.filter(dry_run=False).values_list("name", "status"))
        == [("transfer_opi", BatchRun.Status.FINISH)] * 2
    )


def test_the_cap_leaves_candidates_for_the_next_run(
    confirmed, campaign, other_formation, centre_manager, opi_type, settings
):
    settings.OPI_BATCH_MAX = 1
    other = make_candidate(campaign, username="ZZ999999", ine="")
    confirm(admit(other, other_formation, manager=centre_manager, decision_type=opi_type))
    report = Report()

    export = transfer_opis(report)

    assert export.candidates == 1
    assert report.counts["candidates left for the next run"] == 1
    assert Opi.objects.filter(state=OpiState.PENDING).get().application.candidate == other


def test_the_nightly_runs_the_opi_transfer_after_the_withdrawals():
    assert BATCHES.index("withdraw_expired_confirmations") < BATCHES.index("transfer_opi")


# --- The OPI code Pégase holds: the numéro de dossier, with no prefix (siscol-pegase-apogee.md §2.1, point 6) ------


def test_the_stored_opi_code_is_the_numero_candidat_of_the_files(confirmed, settings):
    """The code managers read (OPI screen, export column "OPI code", review page) is the one Pégase holds: the
    files' ``numero_candidat``, not ``OPI_PREFIX`` + numéro (Apogée's COD_OPI_INT_EPO)."""
    settings.OPI_PREFIX = "EC"

    export = run()

    assert files_of(export)["candidat"][1][0]["numero_candidat"] == "AB123456"
    opi = Opi.objects.get()
    assert (opi.state, opi.code, opi.backend) == (OpiState.PASSED, "AB123456", "pegase")


def test_a_withdrawal_marked_transferred_carries_the_bare_code_too(confirmed, opi_candidate, time_machine):
    time_machine.move_to(DAY1)
    run()
    Opi.objects.update(code="ECAB123456")  # as stored before: stamped with the prefix
    time_machine.move_to(DAY1 + datetime.timedelta(days=1))
    withdraw_after_confirmation(confirmed, actor=opi_candidate.user)

    assert run() is None  # nothing written for a withdrawal, but the OPI is marked transferred (by Pégase's rule)
    opi = Opi.objects.get()
    assert (opi.state, opi.withdrawn, opi.code) == (OpiState.PASSED, True, "AB123456")


def test_pegase_takes_names_in_any_script_as_typed(campaign, formation, centre_manager, opi_type):
    """The Pégase files are UTF-8 and carry the dossier's names as typed: only the Apogée file, upper case ASCII,
    refuses a name of another script (test_apogee_file.py)."""
    candidate = make_candidate(campaign, birth_name="ИВАНОВ", first_name="王", birth_city="Москва")
    confirm(admit(candidate, formation, manager=centre_manager, decision_type=opi_type))
    report = Report()

    row = files_of(transfer_opis(report))["candidat"][1][0]

    assert report.errors == []
    assert (row["nom_famille"], row["prenom"], row["libelle_commune_naissance"]) == ("ИВАНОВ", "王", "Москва")
    assert Opi.objects.get().code == "AB123456"


# --- A run that crosses midnight: its OPIs are transferred on the day of its files ---------------------------------

MIDNIGHT = datetime.datetime(2026, 7, 6, 22, 0, tzinfo=datetime.UTC)  # 7 July, 00:00 in Paris: DAY1's night ends


def run_across_midnight(monkeypatch, time_machine) -> OpiExport | None:
    """The run starts at 23:59:59 in Paris, on 6 July (its files are that day's); its transfer takes 2 seconds, so
    it marks its OPIs transferred on 7 July."""
    time_machine.move_to(MIDNIGHT - datetime.timedelta(seconds=1), tick=False)
    transfer = PegaseFilesBackend.transfer

    def slow(self, *args, **kwargs):
        result = transfer(self, *args, **kwargs)
        time_machine.shift(datetime.timedelta(seconds=2))
        return result

    with monkeypatch.context() as patch:
        patch.setattr(PegaseFilesBackend, "transfer", slow)
        export = run()
    assert timezone.now() > MIDNIGHT  # the run did end past midnight
    return export


def test_a_run_across_midnight_marks_its_opis_transferred_on_the_day_of_its_files(
    confirmed, monkeypatch, time_machine
):
    """The files are 6 July's: the OPI is transferred on 6 July, and the next night's run (7 July) has nothing new to
    write. When it was stamped at the clock's second reading (7 July), the 7 July run took it for one of its own day
    and wrote the candidate again: Pégase imported them twice."""
    export = run_across_midnight(monkeypatch, time_machine)

    assert export.day == datetime.date(2026, 7, 6)
    assert [row["numero_candidat"] for row in files_of(export)["candidat"][1]] == ["AB123456"]
    opi = Opi.objects.get()
    assert opi.state == OpiState.PASSED
    assert timezone.localdate(opi.passed_at) == datetime.date(2026, 7, 6)
    time_machine.move_to(DAY1 + datetime.timedelta(days=1))  # 7 July, 23:00: the next night's run

    assert run() is None  # nothing new: no file, the candidate is not written again
    assert list(OpiExport.objects.values_list("day", flat=True)) == [datetime.date(2026, 7, 6)]


def test_a_withdrawal_the_day_after_a_run_across_midnight_is_to_remove_in_pegase(
    confirmed, opi_candidate, settings, tmp_path, monkeypatch, time_machine, django_capture_on_commit_callbacks
):
    """6 July's files, written to ``OPI_EXPORT_DIR`` by a run that ended past midnight, carried the wish: a
    withdrawal on 7 July is to remove by hand in Pégase. When the OPI was stamped 7 July, the withdrawal looked for a
    handing of 7 July's files (none) and raised no alert: the candidate stayed admitted in Pégase."""
    settings.OPI_EXPORT_DIR = str(tmp_path)
    with django_capture_on_commit_callbacks(execute=True):
        export = run_across_midnight(monkeypatch, time_machine)
    assert (tmp_path / "candidature-20260706.csv").read_text(encoding="utf-8").count("M1-ENER-PSOL") == 1
    opi = Opi.objects.get()
    assert opi.passed_at <= export.handed_at  # the version handed over carried the wish
    time_machine.move_to(MIDNIGHT + datetime.timedelta(hours=10))  # 7 July, 10:00

    withdraw_after_confirmation(confirmed, actor=opi_candidate.user)

    assert Opi.objects.get().pegase_removal == PegaseRemoval.TO_DO


def test_a_run_given_an_earlier_day_marks_its_opis_transferred_on_that_day(confirmed, time_machine):
    """``today`` given: the files are that day's, and so is the transfer (the day's last microsecond, before any
    handing of them); the run of the real day then has nothing new to write."""
    time_machine.move_to(DAY1)

    export = run(datetime.date(2026, 7, 5))

    assert export.day == datetime.date(2026, 7, 5)
    passed_at = Opi.objects.get().passed_at
    assert timezone.localtime(passed_at) == datetime.datetime(
        2026, 7, 5, 23, 59, 59, 999999, tzinfo=timezone.get_current_timezone()
    )
    assert run() is None


# --- The run writes and stamps only the OPIs it holds locked ---------------------------------------------------------


def test_an_opi_created_once_the_run_holds_the_candidates_opis_waits_for_the_next_run(
    confirmed, opi_candidate, other_formation, centre_manager, opi_type, monkeypatch, time_machine
):
    """The run locks the candidate's OPIs, then reads their applications: the candidate confirms another wish in
    between (a new OPI, which the lock did not take), then withdraws it while the files are written (nothing holds
    it). The run leaves it out: it stays as the withdrawal left it, for the next run. When the run read it too, it
    wrote the wish in the day's files and marked it transferred over the withdrawal, with no removal alert: the
    candidate stayed admitted in Pégase. Simulated in the run's transaction (SQLite), as PostgreSQL's read committed
    lets the other transactions' commits through."""
    time_machine.move_to(DAY1)
    second = admit(opi_candidate, other_formation, manager=centre_manager, decision_type=opi_type)
    lock, transfer = opi_services._lock_opis, PegaseFilesBackend.transfer

    def confirm_once_locked(*args, **kwargs):
        locked = lock(*args, **kwargs)
        confirm(second)
        return locked

    def withdraw_while_writing(self, *args, **kwargs):
        result = transfer(self, *args, **kwargs)
        withdraw_after_confirmation(second, actor=opi_candidate.user)
        return result

    monkeypatch.setattr(opi_services, "_lock_opis", confirm_once_locked)
    monkeypatch.setattr(PegaseFilesBackend, "transfer", withdraw_while_writing)

    export = run()

    assert [row["code_voeu"] for row in files_of(export)["candidature"][1]] == ["M1-ENER-PSOL"]
    assert Opi.objects.get(application=confirmed).state == OpiState.PASSED
    opi = Opi.objects.get(application=second)
    assert (opi.state, opi.withdrawn, opi.passed_at) == (OpiState.CANCELLED, True, None)  # never transferred


def test_a_download_while_a_run_writes_does_not_count_as_a_handing_of_its_new_wishes(
    confirmed, campaign, other_formation, centre_manager, central_manager, opi_type, monkeypatch, time_machine
):
    """The central office downloads the day's files while a run is writing their next version (before the run locks
    the day's row): the version downloaded is the previous one, without the wish the run adds. The run stamps that
    wish after the download, so its withdrawal the same day is only left out of the rewritten files, not flagged
    to remove in Pégase (stamped at the run's start, before the download, it was)."""
    time_machine.move_to(DAY1 - datetime.timedelta(hours=13), tick=False)  # 10:00 in Paris
    run()
    other = make_candidate(campaign, username="ZZ999999", ine="")
    second = confirm(admit(other, other_formation, manager=centre_manager, decision_type=opi_type))
    time_machine.move_to(DAY1 - datetime.timedelta(hours=11), tick=False)  # 12:00: the next run starts
    transfer = PegaseFilesBackend.transfer

    def downloaded_meanwhile(self, *args, **kwargs):
        result = transfer(self, *args, **kwargs)
        time_machine.shift(datetime.timedelta(minutes=1))
        assert record_collection(export=OpiExport.objects.get(), actor=central_manager)
        time_machine.shift(datetime.timedelta(seconds=1))
        return result

    with monkeypatch.context() as patch:
        patch.setattr(PegaseFilesBackend, "transfer", downloaded_meanwhile)
        run()
    time_machine.move_to(DAY1 - datetime.timedelta(hours=10))  # 13:00

    withdraw_after_confirmation(second, actor=other.user)

    assert Opi.objects.get(application=second).pegase_removal == ""
