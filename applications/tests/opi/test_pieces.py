"""PJ-OPI (siscol-pegase-apogee.md §3.4, docs/opi-apogee.md "Pieces"): the validated files of an admitted candidate
go with their Apogée OPI as ``<OPI code>_OPI/PJ_<COD_TPJ>_<OPI code>.<ext>`` of the day's files, read from the
storage; rows only for validated pieces with a file and an Apogée code, only for Apogée, only with OPI_PIECES."""

import io
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from applications.enums import OpiState, PieceStatus
from applications.models import Opi, OpiExport, OpiPiece
from applications.opi.pieces import LIST_COLUMNS, MISSING_NOTE, list_name
from applications.opi.services import export_zip, requeue_selected_opis, transfer_opis
from applications.tests.factories_candidature import PieceSubmissionFactory
from applications.tests.opi.helpers import (
    BAC_BYTES,
    DAY1,
    ID_BYTES,
    admit,
    confirm,
    make_candidate,
    parse,
    piece,
    withdraw_after_confirmation,
)
from ecandidat import parameters
from ecandidat.batches import Report
from offers.enums import ApplicationMode
from offers.tests.factories import PieceTypeFactory


@pytest.fixture(autouse=True)
def _apogee_with_pieces(settings):
    settings.OPI_BACKEND = "apogee"
    settings.OPI_PIECES = True


def admitted(campaign, formation, manager, decision_type, *, username="AB123456"):
    candidate = make_candidate(campaign, username=username)
    return admit(candidate, formation, manager=manager, decision_type=decision_type)


def test_rows_only_for_validated_pieces_with_a_file_and_a_code(
    campaign, formation, centre_manager, opi_type, identity, bac_marks
):
    application = admitted(campaign, formation, centre_manager, opi_type)
    piece(application, identity, ID_BYTES, shared=True)  # common, shared by the applications: sent
    piece(application, bac_marks, BAC_BYTES, name="releve.PNG")  # the application's own: sent
    piece(application, PieceTypeFactory(code="CV"), b"no code")  # no Apogée code: not sent
    piece(application, PieceTypeFactory(siscol_code="LM"), b"sent, not validated", status=PieceStatus.SUBMITTED)
    piece(application, PieceTypeFactory(siscol_code="PH"), b"refused", status=PieceStatus.REFUSED)
    PieceSubmissionFactory(application=application, piece_type=PieceTypeFactory(siscol_code="NC"), status="NC")
    confirm(application)
    report = Report()

    export = transfer_opis(report)

    rows = [(row.code, row.siscol_code, row.day, row.transferred_at is not None) for row in OpiPiece.objects.all()]
    assert rows == [("ECAB123456", "CNI", export.day, True), ("ECAB123456", "RBAC", export.day, True)]
    assert report.counts["pieces recorded by this run"] == 2
    assert report.counts["pieces sent by this run"] == 2
    assert report.errors == []
    assert export.pieces == 2


@pytest.mark.parametrize(
    ("backend", "pieces_on", "mode"),
    [
        ("pegase", True, ApplicationMode.ONLINE),  # Pégase has no PJ-OPI
        ("apogee", False, ApplicationMode.ONLINE),  # OPI_IS_UTILISE_PJ off (the default)
        ("apogee", True, ApplicationMode.PAPER),  # a paper dossier's pieces are not in the storage
    ],
)
def test_no_rows_for_pegase_with_the_parameter_off_or_for_a_paper_dossier(
    settings, campaign, formation, centre_manager, opi_type, identity, backend, pieces_on, mode
):
    settings.OPI_BACKEND, settings.OPI_PIECES = backend, pieces_on
    formation.mode = mode
    formation.save()
    application = admitted(campaign, formation, centre_manager, opi_type)
    piece(application, identity, ID_BYTES, shared=True)
    confirm(application)
    report = Report()

    export = transfer_opis(report)

    assert Opi.objects.get().state == OpiState.PASSED
    assert not OpiPiece.objects.exists()
    assert report.counts["pieces sent by this run"] == 0
    assert export.pieces == 0
    assert not any(name.startswith("opi-apogee-pj") for name in export.files)


def test_the_central_office_switches_it_as_ecandidats_parameter():
    assert parameters.REGISTRY["OPI_PIECES"].code == "OPI_IS_UTILISE_PJ"
    assert parameters.REGISTRY["OPI_PIECES"].kind == parameters.Kind.BOOL


def test_the_zip_holds_each_piece_under_its_apogee_name_with_its_exact_bytes(
    campaign, formation, centre_manager, opi_type, identity, bac_marks, time_machine
):
    time_machine.move_to(DAY1)
    application = admitted(campaign, formation, centre_manager, opi_type)
    piece(application, identity, ID_BYTES, shared=True)
    piece(application, bac_marks, BAC_BYTES, name="releve.PNG")
    confirm(application)

    archive = zipfile.ZipFile(io.BytesIO(export_zip(transfer_opis(Report()))))

    assert sorted(archive.namelist()) == [
        "ECAB123456_OPI/PJ_CNI_ECAB123456.pdf",
        "ECAB123456_OPI/PJ_RBAC_ECAB123456.png",  # the stored extension, lower case
        "opi-apogee-20260706.csv",
        "opi-apogee-pj-20260706.csv",
    ]
    assert archive.read("ECAB123456_OPI/PJ_CNI_ECAB123456.pdf") == ID_BYTES
    assert archive.read("ECAB123456_OPI/PJ_RBAC_ECAB123456.png") == BAC_BYTES
    header, rows = parse(archive.read(list_name(DAY1.date())).decode())
    assert header == LIST_COLUMNS
    assert rows == [
        {
            "COD_OPI_INT_EPO": "ECAB123456",
            "LIB_NOM_PAT_IND_OPI": "DUPONT",
            "LIB_PR1_IND_OPI": "ELODIE",
            "COD_TPJ": "CNI",
            "NOM_FIC": "ECAB123456_OPI/PJ_CNI_ECAB123456.pdf",
        },
        {
            "COD_OPI_INT_EPO": "ECAB123456",
            "LIB_NOM_PAT_IND_OPI": "DUPONT",
            "LIB_PR1_IND_OPI": "ELODIE",
            "COD_TPJ": "RBAC",
            "NOM_FIC": "ECAB123456_OPI/PJ_RBAC_ECAB123456.png",
        },
    ]


def test_a_missing_file_is_reported_stays_pending_and_the_others_go(
    campaign, formation, centre_manager, opi_type, identity, bac_marks, time_machine
):
    time_machine.move_to(DAY1)
    application = admitted(campaign, formation, centre_manager, opi_type)
    lost = piece(application, identity, ID_BYTES, shared=True)
    piece(application, bac_marks, BAC_BYTES)
    confirm(application)
    stored = lost.document.file.name
    default_storage.delete(stored)
    report = Report()

    export = transfer_opis(report)

    assert report.errors == ["OPI ECAB123456, piece CNI"]
    assert report.counts["pieces missing from the storage"] == 1
    assert report.counts["pieces sent by this run"] == 1
    assert OpiPiece.objects.get(siscol_code="CNI").transferred_at is None
    assert OpiPiece.objects.get(siscol_code="RBAC").day == DAY1.date()
    assert sorted(zipfile.ZipFile(io.BytesIO(export_zip(export))).namelist()) == [
        "ECAB123456_OPI/PJ_RBAC_ECAB123456.pdf",
        "opi-apogee-20260706.csv",
        "opi-apogee-pj-20260706.csv",
    ]

    # Back in the storage: the next run sends it, with no candidate to write that day.
    default_storage.save(stored, ContentFile(ID_BYTES))
    time_machine.move_to(DAY1.replace(day=7))
    later = Report()
    next_day = transfer_opis(later)

    assert later.counts["pieces sent by this run"] == 1
    assert (next_day.candidates, next_day.pieces) == (0, 1)
    archive = zipfile.ZipFile(io.BytesIO(export_zip(next_day)))
    assert archive.read("ECAB123456_OPI/PJ_CNI_ECAB123456.pdf") == ID_BYTES


def test_a_file_lost_after_the_transfer_is_left_out_of_the_download_and_named(
    campaign, formation, centre_manager, opi_type, identity, bac_marks, time_machine
):
    time_machine.move_to(DAY1)
    application = admitted(campaign, formation, centre_manager, opi_type)
    lost = piece(application, identity, ID_BYTES, shared=True)
    piece(application, bac_marks, BAC_BYTES)
    confirm(application)
    export = transfer_opis(Report())
    default_storage.delete(lost.document.file.name)

    archive = zipfile.ZipFile(io.BytesIO(export_zip(export)))

    assert archive.read("ECAB123456_OPI/PJ_RBAC_ECAB123456.pdf") == BAC_BYTES
    assert "ECAB123456_OPI/PJ_CNI_ECAB123456.pdf" not in archive.namelist()
    assert "ECAB123456_OPI/PJ_CNI_ECAB123456.pdf" in archive.read(MISSING_NOTE).decode()


def test_a_withdrawal_before_the_transfer_sends_no_piece(
    campaign, formation, centre_manager, opi_type, identity, central_manager
):
    application = admitted(campaign, formation, centre_manager, opi_type)
    piece(application, identity, ID_BYTES, shared=True)
    confirm(application)
    withdraw_after_confirmation(application, actor=application.candidate.user)

    assert transfer_opis(Report()) is None  # the OPI was cancelled: nothing to write
    assert not OpiPiece.objects.exists()


def test_a_piece_still_pending_when_its_opi_is_withdrawn_is_not_sent(
    campaign, formation, centre_manager, opi_type, identity, time_machine
):
    time_machine.move_to(DAY1)
    application = admitted(campaign, formation, centre_manager, opi_type)
    lost = piece(application, identity, ID_BYTES, shared=True)
    confirm(application)
    stored = lost.document.file.name
    default_storage.delete(stored)
    transfer_opis(Report())
    default_storage.save(stored, ContentFile(ID_BYTES))
    withdraw_after_confirmation(application, actor=application.candidate.user)
    time_machine.move_to(DAY1.replace(day=7))
    report = Report()

    export = transfer_opis(report)

    assert report.counts["pieces sent by this run"] == 0
    assert OpiPiece.objects.get().transferred_at is None
    assert export.pieces == 0
    assert not any(name.endswith(".pdf") for name in zipfile.ZipFile(io.BytesIO(export_zip(export))).namelist())


def test_two_applications_send_one_piece_per_code(
    campaign, formation, other_formation, centre_manager, opi_type, identity
):
    first = admitted(campaign, formation, centre_manager, opi_type)
    second = admit(first.candidate, other_formation, manager=centre_manager, decision_type=opi_type)
    piece(first, identity, ID_BYTES, shared=True)
    confirm(first)
    confirm(second)

    export = transfer_opis(Report())

    assert list(OpiPiece.objects.values_list("code", "siscol_code")) == [("ECAB123456", "CNI")]
    assert export.pieces == 1


def test_requeue_sends_the_pieces_again(
    campaign, formation, centre_manager, opi_type, identity, central_manager, time_machine
):
    time_machine.move_to(DAY1)
    application = admitted(campaign, formation, centre_manager, opi_type)
    piece(application, identity, ID_BYTES, shared=True)
    confirm(application)
    transfer_opis(Report())

    requeue_selected_opis(opi_ids=[application.opi.pk], actor=central_manager)
    assert OpiPiece.objects.get().transferred_at is None
    time_machine.move_to(DAY1.replace(day=8))
    report = Report()
    transfer_opis(report)

    assert report.counts["pieces sent by this run"] == 1
    assert OpiPiece.objects.get().day == DAY1.date().replace(day=8)
    assert OpiExport.objects.get(day=DAY1.date().replace(day=8)).pieces == 1


def test_the_folder_gets_each_piece_on_commit(
    settings,
    tmp_path,
    campaign,
    formation,
    centre_manager,
    opi_type,
    identity,
    time_machine,
    django_capture_on_commit_callbacks,
):
    settings.OPI_EXPORT_DIR = str(tmp_path)
    time_machine.move_to(DAY1)
    application = admitted(campaign, formation, centre_manager, opi_type)
    piece(application, identity, ID_BYTES, shared=True)
    confirm(application)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        transfer_opis(Report())
    # Before the commit, only hidden temporary files (applications.opi.folder): an import job sees nothing yet.
    assert sorted(path.name for path in tmp_path.rglob("*") if path.is_file()) == [
        ".PJ_CNI_ECAB123456.pdf.tmp",
        ".opi-apogee-20260706.csv.tmp",
        ".opi-apogee-pj-20260706.csv.tmp",
    ]
    for callback in callbacks:
        callback()

    assert (tmp_path / "ECAB123456_OPI" / "PJ_CNI_ECAB123456.pdf").read_bytes() == ID_BYTES
    assert (tmp_path / "opi-apogee-pj-20260706.csv").exists()
    assert not list(tmp_path.glob("**/.*.tmp"))


def test_the_apogee_code_names_a_file_so_it_takes_no_slash(db):
    piece_type = PieceTypeFactory.build(code="X", label="X", siscol_code="../CNI")

    with pytest.raises(ValidationError) as error:
        piece_type.full_clean()

    assert "siscol_code" in error.value.message_dict
