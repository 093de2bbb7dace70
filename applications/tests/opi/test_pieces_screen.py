"""PJ-OPI on the central office's OPI screen: the counters of pending and transferred pieces, the day's ZIP with its
pieces, "produce now" saying how many pieces went and which are missing; query counts that do not grow with the
number of pieces. (The screen's persona matrix, test_admin.py, covers its pages: PJ-OPI adds none.)"""

import html
import io
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from applications.models import OpiExport, OpiPiece
from applications.opi.services import transfer_opis
from applications.tests.opi.helpers import BAC_BYTES, ID_BYTES, QUERIES_SCREEN, admit, confirm, make_candidate, piece
from ecandidat.batches import Report
from offers.tests.factories import PieceTypeFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")


@pytest.fixture(autouse=True)
def _apogee_with_pieces(settings):
    settings.OPI_BACKEND = "apogee"
    settings.OPI_PIECES = True


@pytest.fixture
def piece_types(db):
    return PieceTypeFactory(siscol_code="CNI", is_common=True), PieceTypeFactory(siscol_code="RBAC")


def admitted_with_pieces(campaign, formation, manager, decision_type, piece_types, count):
    """``count`` confirmed candidates, each with two validated pieces that have an Apogée code."""
    applications = []
    for n in range(count):
        candidate = make_candidate(campaign, username=f"AB{n:06d}", ine="")
        application = admit(candidate, formation, manager=manager, decision_type=decision_type)
        piece(application, piece_types[0], ID_BYTES, shared=True)
        piece(application, piece_types[1], BAC_BYTES)
        applications.append(confirm(application))
    return applications


@pytest.mark.parametrize("count", [1, 4])
def test_the_screen_counts_the_pieces_in_constant_queries(
    client,
    django_assert_num_queries,
    central_manager,
    campaign,
    formation,
    centre_manager,
    opi_type,
    piece_types,
    count,
):
    admitted_with_pieces(campaign, formation, centre_manager, opi_type, piece_types, count)
    transfer_opis(Report())
    OpiPiece.objects.filter(code="ECAB000000").update(day=None, transferred_at=None)
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_SCREEN + 1):  # the PJ-OPI counters: one query
        response = client.get(reverse("admin:applications_opi_changelist"))

    assert response.context["piece_counts"] == {"pending": 2, "passed": 2 * count - 2}
    page = response.content.decode()
    assert '<dt>PJ-OPI en attente</dt><dd id="opi-pieces-pending">2</dd>' in page
    assert f'<dt>PJ-OPI déversées</dt><dd id="opi-pieces-passed">{2 * count - 2}</dd>' in page
    assert f"{2 * count} pièces" in page  # the day's files


def test_no_piece_counters_with_the_parameter_off(
    settings, client, django_assert_num_queries, central_manager, campaign
):
    settings.OPI_PIECES = False
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_SCREEN):
        response = client.get(reverse("admin:applications_opi_changelist"))

    assert response.context["piece_counts"] is None
    assert "PJ-OPI" not in response.content.decode()


@pytest.mark.parametrize("count", [1, 3])
def test_the_download_streams_the_pieces_in_constant_queries(
    client,
    django_assert_num_queries,
    central_manager,
    campaign,
    formation,
    centre_manager,
    opi_type,
    piece_types,
    count,
):
    admitted_with_pieces(campaign, formation, centre_manager, opi_type, piece_types, count)
    export = transfer_opis(Report())
    client.force_login(central_manager)

    # The Pégase day's 6, its first download marked collected, and the day's pieces with their files: one query.
    with django_assert_num_queries(8):
        response = client.get(reverse("admin:applications_opi_export_zip", args=[export.pk]))
        content = b"".join(response.streaming_content)

    assert response["Content-Disposition"] == f'attachment; filename="{export.zip_name}"'
    archive = zipfile.ZipFile(io.BytesIO(content))
    for n in range(count):
        assert archive.read(f"ECAB{n:06d}_OPI/PJ_CNI_ECAB{n:06d}.pdf") == ID_BYTES
        assert archive.read(f"ECAB{n:06d}_OPI/PJ_RBAC_ECAB{n:06d}.pdf") == BAC_BYTES
    assert len(archive.namelist()) == 2 * count + 2


def test_produce_now_says_how_many_pieces_went_and_which_are_missing(
    client, central_manager, campaign, formation, centre_manager, opi_type, piece_types
):
    (application,) = admitted_with_pieces(campaign, formation, centre_manager, opi_type, piece_types, 1)
    default_storage.delete(application.pieces.get(piece_type=piece_types[1]).document.file.name)
    client.force_login(central_manager)

    response = client.post(reverse("admin:applications_opi_transfer"), follow=True)

    page = response.content.decode()
    assert "1 pièce envoyée à Apogée avec les OPI (PJ-OPI)." in page
    assert (
        "1 pièce non envoyée, son fichier est absent du stockage (elle reste en attente, la prochaine exécution "
        "réessaie) : OPI ECAB000000, pièce RBAC." in page
    )
    assert "Non déversés" not in page  # the candidate went: only the piece waits
    assert OpiExport.objects.get().pieces == 1


def test_produce_now_tells_a_refused_candidate_from_a_missing_piece(
    client, central_manager, campaign, formation, centre_manager, opi_type, piece_types
):
    """One candidate refused (baccalaureate year after this one) and one piece missing from the storage: each in its
    own message. The screen used to split the run's errors by position (the missing pieces had to be the run's last
    errors, as many as their count); it now reads them by kind (``Report.errors_by_kind``), whatever their order."""
    sent, refused = admitted_with_pieces(campaign, formation, centre_manager, opi_type, piece_types, 2)
    default_storage.delete(sent.pieces.get(piece_type=piece_types[1]).document.file.name)
    bac = refused.candidate.baccalaureate
    bac.year = timezone.localtime().year + 1
    bac.save()
    client.force_login(central_manager)

    response = client.post(reverse("admin:applications_opi_transfer"), follow=True)

    page = html.unescape(response.content.decode())
    number = refused.candidate.user.username
    assert (
        f"Non déversés, leurs OPI restent en attente : dossier {number} : l'année du baccalauréat est postérieure à "
        "l'année en cours. Détails dans l'historique des batchs." in page
    )
    assert (
        "1 pièce non envoyée, son fichier est absent du stockage (elle reste en attente, la prochaine exécution "
        "réessaie) : OPI ECAB000000, pièce RBAC." in page
    )
    assert "1 pièce envoyée à Apogée avec les OPI (PJ-OPI)." in page


def test_a_report_keeps_its_errors_by_kind_in_their_order():
    report = Report()
    report.error("dossier A: no address")
    report.error("OPI 1, piece CNI", kind="missing")
    report.error("dossier B: no address")

    assert report.errors == ["dossier A: no address", "OPI 1, piece CNI", "dossier B: no address"]
    assert report.errors_by_kind == {
        "": ["dossier A: no address", "dossier B: no address"],
        "missing": ["OPI 1, piece CNI"],
    }
