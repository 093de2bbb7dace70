"""Retention of the day's OPI files (``OpiExport.files``: the admitted candidates' names, birth dates, addresses,
INE): once collected (written to OPI_EXPORT_DIR, or first downloaded), they are emptied OPI_FILES_RETENTION_DAYS
days later by the nightly ``prune_opi_files``; files nobody collected are kept until their campaign's dossiers are
destroyed; the day stays with its counts, and the OPI screen says the files were erased."""

import datetime
import html
import io
import zipfile

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from applications.models import OpiExport, OpiPiece
from applications.opi.pieces import pieces_of
from applications.opi.services import export_zip, prune_opi_files, record_collection, transfer_opis
from applications.tests.opi.helpers import ID_BYTES, QUERIES_SCREEN, admit, confirm, make_candidate, piece
from ecandidat.batches import Report
from ecandidat.management.commands.nightly import BATCHES
from ecandidat.models import BatchRun
from offers.tests.factories import CampaignFactory, FormationFactory, PieceTypeFactory

NOW = datetime.datetime(2026, 9, 15, 21, 30, tzinfo=datetime.UTC)  # 23:30 in Paris, the nightly run
ERASED = "days of OPI files erased"
KEPT = "days of OPI files past their retention, kept until collected"
PEGASE_FILES = {"candidat-20260706.csv": "NOM;PRENOM\nDUPONT;Élodie\n", "candidature-20260706.csv": "x\n"}


@pytest.fixture(autouse=True)
def _retention(pegase_opi):
    pegase_opi.ARCHIVE_RETENTION_DAYS = 365


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(
        centre=centre,
        commission=commission,
        code="M1ENER",
        pegase_code="M1-ENER-PSOL",
        apogee_cge="PER",
        apogee_step_code="M1ENE",
        apogee_step_version="101",
    )


def confirmed(campaign, formation, manager, decision_type, *, username="AB123456", ine="1234567890a"):
    candidate = make_candidate(campaign, username=username, ine=ine)
    return confirm(admit(candidate, formation, manager=manager, decision_type=decision_type))


def day_of_files(day: datetime.date, *, collected: datetime.datetime | None, backend="pegase") -> OpiExport:
    """A day's files as a run leaves them: 1 candidate, 2 wishes."""
    return OpiExport.objects.create(
        backend=backend, day=day, files=dict(PEGASE_FILES), candidates=1, wishes=2, collected_at=collected
    )


def days_ago(days: int) -> datetime.datetime:
    return NOW - datetime.timedelta(days=days)


# --- the rule ------------------------------------------------------------------------------------------------------


def test_collected_files_are_emptied_after_the_retention_and_the_day_stays_with_its_counts(campaign, time_machine):
    time_machine.move_to(NOW, tick=False)
    old = day_of_files(datetime.date(2026, 8, 14), collected=days_ago(31))
    recent = day_of_files(datetime.date(2026, 8, 17), collected=days_ago(29))

    call_command("prune_opi_files", stdout=io.StringIO())
    call_command("prune_opi_files", stdout=io.StringIO())  # again: nothing more, nothing counted twice

    old.refresh_from_db()
    assert old.files == {}
    assert old.files_erased_at == NOW
    assert (old.day, old.backend, old.candidates, old.wishes) == (datetime.date(2026, 8, 14), "pegase", 1, 2)
    recent.refresh_from_db()
    assert recent.files == PEGASE_FILES
    assert recent.files_erased_at is None
    first, second = BatchRun.objects.filter(name="prune_opi_files").order_by("pk")
    assert (first.status, first.counts) == (BatchRun.Status.FINISH, {ERASED: 1})
    assert (second.status, second.counts) == (BatchRun.Status.FINISH, {ERASED: 0})


@pytest.mark.parametrize(("retention", "erased"), [(None, False), (5, True)])
def test_the_retention_is_a_setting_30_days_by_default(settings, campaign, retention, erased):
    if retention is not None:
        settings.OPI_FILES_RETENTION_DAYS = retention
    export = day_of_files(datetime.date(2026, 9, 8), collected=days_ago(6))

    prune_opi_files(Report(), now=NOW)

    export.refresh_from_db()
    assert (export.files == {}) is erased


def test_files_nobody_collected_are_kept_past_the_retention_and_counted(campaign):
    export = day_of_files(datetime.date(2026, 3, 1), collected=None)
    report = Report()

    prune_opi_files(report, now=NOW)

    export.refresh_from_db()
    assert export.files == PEGASE_FILES
    assert report.counts == {KEPT: 1, ERASED: 0}


def test_files_nobody_collected_go_with_their_destroyed_campaign_never_later(campaign):
    # The campaign archived 366 days ago: its dossiers are destroyed tonight (ARCHIVE_RETENTION_DAYS, 365).
    archived = CampaignFactory(is_active=False, archive_on=datetime.date(2025, 9, 14))
    last_of_archived = day_of_files(archived.archive_on, collected=None)
    first_of_next = day_of_files(datetime.date(2025, 9, 15), collected=None)
    report = Report()

    prune_opi_files(report, now=NOW)

    last_of_archived.refresh_from_db()
    first_of_next.refresh_from_db()
    assert last_of_archived.files == {}
    assert first_of_next.files == PEGASE_FILES  # the next campaign's, still kept (not collected)
    assert report.counts == {KEPT: 1, ERASED: 1}


def test_a_dry_run_changes_nothing_and_the_limit_takes_the_oldest_days_first(campaign):
    older = day_of_files(datetime.date(2026, 6, 1), collected=days_ago(100))
    newer = day_of_files(datetime.date(2026, 7, 1), collected=days_ago(70))
    report = Report()

    prune_opi_files(report, dry_run=True, now=NOW)

    assert report.counts == {"days of OPI files to erase": 2}
    assert not OpiExport.objects.filter(files={}).exists()

    prune_opi_files(Report(), limit=1, now=NOW)

    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.files, newer.files) == ({}, PEGASE_FILES)


def test_the_nightly_run_erases_after_the_transfer():
    assert BATCHES.index("prune_opi_files") > BATCHES.index("transfer_opi")


# --- when the files are collected ---------------------------------------------------------------------------------


def test_a_run_writing_to_the_folder_collects_the_files(
    settings, tmp_path, django_capture_on_commit_callbacks, campaign, formation, centre_manager, opi_type
):
    settings.OPI_EXPORT_DIR = str(tmp_path)
    confirmed(campaign, formation, centre_manager, opi_type)

    with django_capture_on_commit_callbacks(execute=True):  # the files are put in place once the run commits
        export = transfer_opis(Report())

    assert export.collected_at is not None
    assert sorted(path.name.split("-")[0] for path in tmp_path.iterdir()) == ["candidat", "candidature", "inscription"]


def test_the_first_download_collects_the_files_a_later_one_changes_nothing(
    client, django_assert_num_queries, central_manager, campaign, formation, centre_manager, opi_type
):
    confirmed(campaign, formation, centre_manager, opi_type)
    export = transfer_opis(Report())
    assert export.collected_at is None  # in the database only, until downloaded
    client.force_login(central_manager)
    url = reverse("admin:applications_opi_export_zip", args=[export.pk])

    with django_assert_num_queries(7):  # the download's 6, and the files marked collected
        response = client.get(url)
        b"".join(response.streaming_content)
    export.refresh_from_db()
    collected = export.collected_at
    with django_assert_num_queries(6):
        b"".join(client.get(url).streaming_content)

    assert collected is not None
    export.refresh_from_db()
    assert export.collected_at == collected


def test_files_rewritten_differently_wait_for_their_own_download(campaign, formation, centre_manager, opi_type):
    confirmed(campaign, formation, centre_manager, opi_type)
    export = transfer_opis(Report())
    assert record_collection(export=export, actor=centre_manager)
    export.refresh_from_db()
    collected = export.collected_at

    same = transfer_opis(Report())  # the same candidates again: the files collected are the same
    assert same.collected_at == collected
    confirmed(campaign, formation, centre_manager, opi_type, username="AB654321", ine="")
    rewritten = transfer_opis(Report())

    assert rewritten.pk == export.pk
    assert rewritten.collected_at is None
    # A download of the files read before the rewrite does not mark the new ones collected.
    assert not record_collection(export=export, actor=centre_manager)
    rewritten.refresh_from_db()
    assert rewritten.collected_at is None


# --- the screens and the ZIP of erased files ------------------------------------------------------------------------


@pytest.mark.usefixtures("back_office_in_french")
def test_the_screen_says_which_files_were_erased_and_which_wait_for_their_download(
    client, django_assert_num_queries, central_manager, campaign
):
    erased = day_of_files(datetime.date(2026, 7, 6), collected=days_ago(40))
    prune_opi_files(Report(), now=NOW)
    waiting = day_of_files(datetime.date(2026, 9, 14), collected=None)
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_SCREEN):
        response = client.get(reverse("admin:applications_opi_changelist"))

    page = html.unescape(response.content.decode())
    assert "fichiers effacés le 15/09/2026 (durée de conservation passée)" in page
    assert reverse("admin:applications_opi_export_zip", args=[erased.pk]) not in page
    assert reverse("admin:applications_opi_export_zip", args=[waiting.pk]) in page
    assert "(pas encore récupérés : conservés jusqu'à leur téléchargement)" in page


@pytest.mark.usefixtures("back_office_in_french")
def test_the_zip_of_erased_files_goes_back_to_the_screen_with_the_reason(
    client, django_assert_num_queries, central_manager, campaign
):
    export = day_of_files(datetime.date(2026, 7, 6), collected=days_ago(40))
    prune_opi_files(Report(), now=NOW)
    client.force_login(central_manager)

    # The session, the user, their memberships and the day's row (in a savepoint): no file read, nothing written.
    with django_assert_num_queries(6):
        response = client.get(reverse("admin:applications_opi_export_zip", args=[export.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:applications_opi_changelist")
    page = html.unescape(client.get(response["Location"]).content.decode())
    assert (
        "Les fichiers OPI du 06/07/2026 (Pégase) ont été effacés le 15/09/2026 : leur durée de conservation est "
        "passée. Pour envoyer à nouveau ces candidats, sélectionnez leurs OPI et choisissez « Rechargement des OPI "
        "sélectionnées » : la prochaine exécution les écrit dans les fichiers de son jour."
    ) in page


def test_an_erased_apogee_day_bundles_none_of_its_pieces(settings, campaign, formation, centre_manager, opi_type):
    settings.OPI_BACKEND = "apogee"
    settings.OPI_PIECES = True
    application = admit(make_candidate(campaign), formation, manager=centre_manager, decision_type=opi_type)
    piece(application, PieceTypeFactory(code="CNI", siscol_code="CNI", is_common=True), ID_BYTES, shared=True)
    confirm(application)
    export = transfer_opis(Report())
    assert len(pieces_of(export)) == 1
    record_collection(export=export, actor=centre_manager)

    prune_opi_files(Report(), now=timezone.now() + datetime.timedelta(days=31))

    export.refresh_from_db()
    assert pieces_of(export) == []
    assert zipfile.ZipFile(io.BytesIO(export_zip(export))).namelist() == []
    # The PJ-OPI stay with the OPI and the dossier: what went, and when.
    assert OpiPiece.objects.get().transferred_at is not None
