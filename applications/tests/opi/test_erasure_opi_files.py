"""The CNIL deletion (``applications.services.erasure``) and the OPI files kept in the database: the person leaves
the kept days' files (the other candidates' rows stay as written, the counts follow), the days already gone are not
touched, and the central office is told when files that carried the person had left for the student records system.
Then the deletion during an OPI run on PostgreSQL: no deadlock, whichever locks first."""

import datetime
import threading

import pytest
from django.db import connection
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import AccountDeletion
from applications.enums import OpiState, WithdrawalReason
from applications.models import Opi, OpiExport, OpiPiece
from applications.opi import apogee, pegase
from applications.opi import services as opi_services
from applications.opi.pieces import LIST_COLUMNS, list_name
from applications.opi.services import prune_opi_files, record_collection, transfer_opis
from applications.services import candidature, erasure
from applications.tests.helpers import backend_pid, run_both, stay_stopped
from applications.tests.opi.helpers import DAY1, ID_BYTES, admit, confirm, files_of, make_candidate, parse, piece
from ecandidat.batches import Report
from offers.tests.factories import PieceTypeFactory

DAY2 = DAY1 + datetime.timedelta(days=1)


def admitted(campaign, formation, manager, decision_type, *, username, **fields):
    """A confirmed application of a new candidate (pending OPI); an INE of their own but for ``AB123456``."""
    if username != "AB123456":
        fields.setdefault("ine", f"{username[2:]}0000A")
    candidate = make_candidate(campaign, username=username, **fields)
    return confirm(admit(candidate, formation, manager=manager, decision_type=decision_type))


@pytest.fixture
def three(campaign, formation, centre_manager, opi_type):
    """Three candidates confirmed in this order (the files' order); the one to delete is the second."""
    return [
        admitted(campaign, formation, centre_manager, opi_type, username=username, birth_name=name, first_name=first)
        for username, name, first in [
            ("AA000001", "ABEL", "Anne"),
            ("AB123456", "DUPONT", "Élodie"),
            ("AC000003", "CARNOT", "Claire"),
        ]
    ]


def delete(application, actor, **kwargs) -> AccountDeletion:
    return erasure.delete_candidate_account(
        user=application.candidate.user, actor=actor, everything=True, notify=False, **kwargs
    )


# --- Pégase --------------------------------------------------------------------------------------------------------


def erase_through_the_page(client, central_manager, application):
    """The central office deletes everything of ``application``'s candidate on the back office's page: their
    numéro de dossier and the page it landed on."""
    client.force_login(central_manager)
    numero = application.candidate.user.username
    response = client.post(
        reverse("admin:applications_candidate_delete_account"),
        {"numero": numero, "what": "everything", "confirmation": numero},
        follow=True,
    )
    return numero, response


def test_a_kept_pegase_day_loses_the_persons_rows_and_keeps_the_others(three, central_manager, time_machine):
    time_machine.move_to(DAY1)
    export = transfer_opis(Report())
    before = {kind: rows for kind, (_header, rows) in files_of(export).items()}
    assert (export.candidates, export.wishes) == (3, 3)
    time_machine.move_to(DAY2)

    record = delete(three[1], central_manager)

    export.refresh_from_db()
    after = files_of(export)
    assert [row["numero_candidat"] for row in after["candidat"][1]] == ["AA000001", "AC000003"]
    assert [row["numero_candidat"] for row in after["candidature"][1]] == ["AA000001", "AC000003"]
    # The inscription file has no numéro: the row at the candidat row's place went, the others are as written.
    assert [row["nom_naissance"] for row in after["inscription"][1]] == ["ABEL", "CARNOT"]
    for kind, (header, rows) in after.items():
        assert header == {"candidat": pegase.CANDIDAT_COLUMNS, "candidature": pegase.CANDIDATURE_COLUMNS}.get(
            kind, pegase.INSCRIPTION_COLUMNS
        )
        assert rows == [before[kind][0], before[kind][2]]
    text = "".join(export.files.values())
    for trace in ("AB123456", "DUPONT", "ab123456@example.org"):
        assert trace.lower() not in text.lower()
    assert (export.candidates, export.wishes, export.pieces) == (2, 2, 0)
    assert export.collected_at is None
    assert export.files_erased_at is None
    assert not record.opi_sent  # the files never left the database: nothing reached Pégase


def test_the_inscription_row_is_found_by_the_identity_when_the_places_differ():
    """Files not in the writer's order (the inscription rows the other way round): the candidate's row is the one
    with their identity, not the one at their candidat row's place."""
    candidat = pegase.join_csv(
        pegase.CANDIDAT_COLUMNS,
        [
            ";".join(
                {"numero_candidat": numero, "nom_famille": name, "prenom": "A", "date_naissance": "01/01/2000"}.get(
                    column, ""
                )
                for column in pegase.CANDIDAT_COLUMNS
            )
            for numero, name in [("AA000001", "ABEL"), ("AB123456", "DUPONT")]
        ],
    )
    inscription = pegase.join_csv(
        pegase.INSCRIPTION_COLUMNS,
        [
            ";".join(
                {"nom_naissance": name, "prenom": "A", "date_naissance": "01/01/2000"}.get(column, "")
                for column in pegase.INSCRIPTION_COLUMNS
            )
            for name in ["DUPONT", "ABEL"]
        ],
    )

    without = pegase.without_candidate(
        {"candidat-20260706.csv": candidat, "inscription-20260706.csv": inscription}, "AB123456"
    )

    assert [row["nom_naissance"] for row in parse(without.files["inscription-20260706.csv"])[1]] == ["ABEL"]
    assert (without.candidates, without.wishes) == (1, 0)


def test_a_collected_day_is_cleaned_and_the_central_office_told(three, central_manager, time_machine):
    time_machine.move_to(DAY1)
    export = transfer_opis(Report())
    assert record_collection(export=export, actor=central_manager)  # the day's ZIP downloaded
    time_machine.move_to(DAY2)

    record = delete(three[1], central_manager)

    export.refresh_from_db()
    assert "AB123456" not in "".join(export.files.values())
    assert export.candidates == 2
    assert record.opi_sent
    assert AccountDeletion.objects.get().opi_sent


def test_a_day_downloaded_then_rewritten_the_same_day_counts_as_sent(
    client, three, campaign, formation, centre_manager, central_manager, opi_type, time_machine
):
    """The day's ZIP downloaded with the person in it, then a later run that day rewrote the files (another
    candidate confirmed): ``collected_at`` is emptied, but the version downloaded may be in Pégase already
    (``handed_at`` says so): the central office is told."""
    time_machine.move_to(DAY1)
    export = transfer_opis(Report())
    assert record_collection(export=export, actor=central_manager)
    time_machine.shift(datetime.timedelta(minutes=10))
    admitted(campaign, formation, centre_manager, opi_type, username="AD000004", birth_name="DUMAS")
    transfer_opis(Report())
    export.refresh_from_db()
    assert export.collected_at is None
    assert export.handed_at is not None
    assert "AB123456" in "".join(export.files.values())
    numero, response = erase_through_the_page(client, central_manager, three[1])

    assertContains(response, f"Account {numero} deleted")
    assertContains(
        response,
        "had already left for the student records system (Pégase or Apogée): remove the person there by hand",
    )
    assert AccountDeletion.objects.get().opi_sent
    export.refresh_from_db()
    assert "AB123456" not in "".join(export.files.values())
    assert export.candidates == 3


def test_a_day_handed_over_before_the_persons_transfer_does_not_count(
    campaign, formation, centre_manager, central_manager, opi_type, time_machine
):
    """Another candidate's files downloaded in the morning; the person transferred by a later run that day, whose
    files nobody downloaded: no version that left carried them."""
    time_machine.move_to(DAY1 - datetime.timedelta(hours=10))
    admitted(campaign, formation, centre_manager, opi_type, username="AA000001", birth_name="ABEL")
    export = transfer_opis(Report())
    assert record_collection(export=export, actor=central_manager)
    time_machine.shift(datetime.timedelta(hours=2))
    person = admitted(campaign, formation, centre_manager, opi_type, username="AB123456")
    transfer_opis(Report())
    time_machine.move_to(DAY2)

    assert not delete(person, central_manager).opi_sent


def test_a_pegase_withdrawal_that_wrote_no_file_does_not_count_as_sent(
    campaign, formation, centre_manager, central_manager, opi_type, time_machine
):
    """Day 1's files carried the person, nobody collected them; day 2 replayed their withdrawal, which Pégase's
    files do not carry (no file that day): nothing of theirs left the database."""
    time_machine.move_to(DAY1)
    person = admitted(campaign, formation, centre_manager, opi_type, username="AB123456")
    transfer_opis(Report())
    time_machine.move_to(DAY2)
    candidature.withdraw_application(application=person, actor=person.candidate.user, reason=WithdrawalReason.PERSONAL)
    assert transfer_opis(Report()) is None  # the withdrawal marked transferred, no file written
    assert Opi.objects.get().state == OpiState.PASSED

    assert not delete(person, central_manager).opi_sent


def test_files_written_to_the_export_folder_count_as_sent(three, central_manager, settings, tmp_path, time_machine):
    settings.OPI_EXPORT_DIR = str(tmp_path)
    time_machine.move_to(DAY1)
    transfer_opis(Report())
    time_machine.move_to(DAY2)

    assert delete(three[1], central_manager).opi_sent


def test_erased_days_are_not_touched_and_say_the_person_left(three, central_manager, settings, time_machine):
    """A day whose files were emptied after their retention (collected, then ``prune_opi_files``): nothing to
    clean, its row stays as it was; the person was in files that left."""
    time_machine.move_to(DAY1)
    export = transfer_opis(Report())
    record_collection(export=export, actor=central_manager)
    time_machine.move_to(DAY1 + datetime.timedelta(days=settings.OPI_FILES_RETENTION_DAYS + 1))
    assert prune_opi_files(Report()) == 1
    export.refresh_from_db()
    kept = (export.files, export.candidates, export.wishes, export.updated_at, export.files_erased_at)

    record = delete(three[1], central_manager)

    export.refresh_from_db()
    assert (export.files, export.candidates, export.wishes, export.updated_at, export.files_erased_at) == kept
    assert record.opi_sent


def test_every_kept_day_is_cleaned_and_days_without_the_person_stay(
    three, campaign, formation, centre_manager, central_manager, opi_type, time_machine
):
    """Day 1 carried the person; day 2 carried someone else only (it is not rewritten); day 3 carried the person
    again (a re-queue): both of theirs lose them, neither reached Pégase."""
    time_machine.move_to(DAY1)
    first = transfer_opis(Report())
    time_machine.move_to(DAY2)
    admitted(campaign, formation, centre_manager, opi_type, username="AD000004", birth_name="DUMAS")
    second = transfer_opis(Report())
    untouched = (second.files, second.updated_at)
    time_machine.move_to(DAY2 + datetime.timedelta(days=1))
    opi_services.requeue_selected_opis(opi_ids=[three[1].opi.pk], actor=central_manager)
    third = transfer_opis(Report())
    assert "AB123456" in "".join(third.files.values())

    record = delete(three[1], central_manager)

    for export in (first, second, third):
        export.refresh_from_db()
        assert "AB123456" not in "".join(export.files.values())
    assert (second.files, second.updated_at) == untouched
    assert (first.candidates, third.candidates) == (2, 0)
    assert not record.opi_sent


# --- Apogée, with the PJ-OPI ---------------------------------------------------------------------------------------


def test_a_kept_apogee_day_loses_the_persons_rows_and_pieces(
    settings, campaign, formation, other_formation, centre_manager, central_manager, opi_type, time_machine
):
    settings.OPI_BACKEND, settings.OPI_PIECES = "apogee", True
    identity = PieceTypeFactory(code="CNI", siscol_code="CNI", is_common=True)
    time_machine.move_to(DAY1)
    kept = admitted(campaign, formation, centre_manager, opi_type, username="AA000001", birth_name="ABEL")
    piece(kept, identity, ID_BYTES, shared=True)
    person = make_candidate(campaign)  # AB123456, two wishes, a piece
    wishes = [admit(person, f, manager=centre_manager, decision_type=opi_type) for f in (formation, other_formation)]
    piece(wishes[0], identity, ID_BYTES, shared=True)
    for application in wishes:
        confirm(application)
    export = transfer_opis(Report())
    assert (export.candidates, export.wishes, export.pieces) == (2, 3, 2)
    main, pj = apogee.file_name(export.day), list_name(export.day)
    rows_before, pieces_before = parse(export.files[main])[1], parse(export.files[pj])[1]

    record = delete(wishes[0], central_manager)

    export.refresh_from_db()
    header, rows = parse(export.files[main])
    assert header == apogee.COLUMNS
    assert rows == [row for row in rows_before if row["COD_OPI_INT_EPO"] == "ECAA000001"]
    header, pieces = parse(export.files[pj])
    assert header == LIST_COLUMNS
    assert pieces == [row for row in pieces_before if row["COD_OPI_INT_EPO"] == "ECAA000001"]
    assert (export.candidates, export.wishes, export.pieces) == (1, 1, 1)
    assert "DUPONT" not in "".join(export.files.values())
    assert list(OpiPiece.objects.of_day(export.day).values_list("code", flat=True)) == ["ECAA000001"]
    assert not record.opi_sent


def test_an_apogee_withdrawal_row_goes_and_counts_no_wish():
    columns = apogee.COLUMNS
    person = {"COD_OPI_INT_EPO": "ECAB123456", "LIB_NOM_PAT_IND_OPI": "DUPONT"}
    other = {"COD_OPI_INT_EPO": "ECAA000001", "COD_CGE": "PER", "COD_ETP": "M1ENE"}
    text = pegase.join_csv(columns, [";".join(row.get(c, "") for c in columns) for row in (person, other)])

    without = apogee.without_candidate({"opi-apogee-20260706.csv": text, "notes.txt": "ECAB123456"}, {"ECAB123456"})

    assert [row["COD_OPI_INT_EPO"] for row in parse(without.files["opi-apogee-20260706.csv"])[1]] == ["ECAA000001"]
    assert without.files["notes.txt"] == "ECAB123456"  # not an Apogée file: left as it is
    assert (without.candidates, without.wishes, without.pieces) == (1, 0, 0)


# --- the page ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("collected", [True, False])
def test_the_page_tells_the_central_office_when_the_person_may_be_in_the_sis(
    client, three, central_manager, time_machine, collected
):
    time_machine.move_to(DAY1)
    export = transfer_opis(Report())
    if collected:
        record_collection(export=export, actor=central_manager)
    numero, response = erase_through_the_page(client, central_manager, three[1])

    assertContains(response, f"Account {numero} deleted")
    warning = "had already left for the student records system (Pégase or Apogée): remove the person there by hand"
    (assertContains if collected else assertNotContains)(response, warning)


# --- during an OPI run (PostgreSQL) --------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first", ["the run", "the deletion"])
def test_a_deletion_during_an_opi_run_does_not_deadlock(
    monkeypatch, campaign, formation, centre_manager, central_manager, opi_type, first
):
    """The run holds the OPIs, then writes their history rows (a ``KEY SHARE`` lock on each application); the
    deletion locked the applications ``FOR UPDATE``, then deleted them with their OPIs: each waited for the other
    and PostgreSQL aborted one. Whichever side takes the locks first now stops until the other waits for it, then
    goes on: both end. The run first: the deletion then takes the person out of the day's files it wrote. The
    deletion first: the run finds nothing to send for the person."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    kept = admitted(campaign, formation, centre_manager, opi_type, username="AA000001", birth_name="ABEL")
    person = admitted(campaign, formation, centre_manager, opi_type, username="AB123456")
    holder = {"the run": "run", "the deletion": "deletion"}[first]
    other = {"run": "deletion", "deletion": "run"}[holder]
    held, done = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []

    def stop_there(original):
        def stopped(*args, **kwargs):
            if threading.current_thread().name == holder and not held.is_set():
                held.set()
                seen_waiting.append(stay_stopped(done, pids, other))
            return original(*args, **kwargs)

        return stopped

    if holder == "run":  # the OPIs locked (``_load``), before the history rows on the applications
        monkeypatch.setattr(opi_services, "record_events", stop_there(opi_services.record_events))
    else:  # every lock taken, before the first row deleted
        monkeypatch.setattr(erasure, "_delete_history", stop_there(erasure._delete_history))
    sides = {"run": lambda: transfer_opis(Report()), "deletion": lambda: delete(person, central_manager)}

    def waiting_side():
        """The side that comes second: it starts once the first is stopped holding its locks."""
        pids[other] = backend_pid()
        assert held.wait(timeout=15)
        try:
            sides[other]()
        finally:
            done.set()

    outcomes = run_both({holder: sides[holder], other: waiting_side})

    assert outcomes == {"run": "ok", "deletion": "ok"}
    assert seen_waiting == [True], "the other side never waited: the interleaving was not forced"
    export = OpiExport.objects.get()
    assert [row["numero_candidat"] for row in files_of(export)["candidat"][1]] == ["AA000001"]
    assert "AB123456" not in "".join(export.files.values())
    assert export.candidates == 1
    assert list(Opi.objects.values_list("application_id", "state")) == [(kept.pk, OpiState.PASSED)]
    assert not AccountDeletion.objects.get().opi_sent


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_deletion_while_the_candidate_withdraws_does_not_deadlock(
    monkeypatch, campaign, formation, centre_manager, central_manager, opi_type
):
    """The candidate's services lock the application (``FOR NO KEY UPDATE``), then its OPI (the withdrawal's
    signal). The deletion takes them in that order too: it waits for the candidate, then deletes (locking the OPIs
    before the applications, it held the OPI the withdrawal waited for while waiting for the application)."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    application = admitted(campaign, formation, centre_manager, opi_type, username="AB123456")
    held, done = threading.Event(), threading.Event()
    pids: dict = {}
    seen_waiting: list[bool] = []
    original = opi_services._locked_opi

    def locked_opi(*args, **kwargs):  # the application locked, before its OPI
        if threading.current_thread().name == "candidate":
            held.set()
            seen_waiting.append(stay_stopped(done, pids, "deletion"))
        return original(*args, **kwargs)

    monkeypatch.setattr(opi_services, "_locked_opi", locked_opi)

    def withdraw():
        candidature.withdraw_application(
            application=application, actor=application.candidate.user, reason=WithdrawalReason.PERSONAL
        )

    def deletion():
        pids["deletion"] = backend_pid()
        assert held.wait(timeout=15)
        try:
            delete(application, central_manager)
        finally:
            done.set()

    outcomes = run_both({"candidate": withdraw, "deletion": deletion})

    assert outcomes == {"candidate": "ok", "deletion": "ok"}
    assert seen_waiting == [True], "the deletion never waited: the interleaving was not forced"
    assert not Opi.objects.exists()
    assert AccountDeletion.objects.get().numero_dossier == "AB123456"
