"""The commission pack (issue 11): the bulk action, the build (one ZIP of dossier PDFs, progress, claim once,
failure leaves no file), its page and download for the requester only."""

import datetime
import io
import zipfile

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from applications import packs
from applications.dossier_pdf import missing_file_notice
from applications.merged_pdf import StreamingPdfWriter
from applications.models import CommissionPack
from applications.services.packs import request_pack
from applications.tasks import build_commission_pack
from applications.tests.factories_candidature import make_application, stored_piece
from documents.enums import ScanStatus
from documents.tests import hostile_files as hostile
from ecandidat.exceptions import BusinessRuleError
from ecandidat.tests.plugins.browser import pdf_bytes
from offers.tests.factories import FormationFactory

CHANGELIST = "admin:applications_application_changelist"


pytestmark = pytest.mark.usefixtures("back_office_in_french")


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER")


@pytest.fixture
def dossiers(formation, campaign):
    applications = [make_application(formation, campaign=campaign) for _ in range(3)]
    for application in applications:
        stored_piece(application, "Relevé de notes")
    return applications


def run_action(client, applications, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(
            reverse(CHANGELIST),
            {"action": "commission_pack_action", ACTION_CHECKBOX_NAME: [a.pk for a in applications]},
        )


def test_commission_member_gets_the_pack_of_three_dossiers(
    client, commission_member, dossiers, django_capture_on_commit_callbacks
):
    client.force_login(commission_member)

    response = run_action(client, dossiers, django_capture_on_commit_callbacks)

    pack = CommissionPack.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:applications_application_pack", args=[pack.public_id])
    assert (pack.status, pack.done, pack.total, pack.requested_by) == ("DONE", 3, 3, commission_member)
    page = client.get(response["Location"]).content.decode()
    assert "3 dossiers constitués sur 3" in page
    assert 'data-job-state="running"' not in page
    download = client.get(reverse("admin:applications_application_pack_download", args=[pack.public_id]))
    assert download["Content-Disposition"].startswith('attachment; filename="dossiers-commission-')
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    names = archive.namelist()
    assert len(names) == 3
    for application in dossiers:
        entry = next(name for name in names if application.candidate.user.username in name)
        reader = PdfReader(io.BytesIO(archive.read(entry)))
        # The summary (two pages: each empty section of this thin dossier says "Néant."), then the transcript.
        assert len(reader.pages) == 3


def test_pieces_not_cleared_by_the_antivirus_stay_out(
    centre_manager, formation, campaign, django_capture_on_commit_callbacks
):
    application = make_application(formation, campaign=campaign)
    stored_piece(application, "Relevé de notes")
    stored_piece(application, "Pièce au scan", scan=ScanStatus.PENDING)
    stored_piece(application, "Pièce infectée", scan=ScanStatus.INFECTED)

    with django_capture_on_commit_callbacks(execute=True):
        pack = request_pack(actor=centre_manager, application_ids=[application.pk])

    pack.refresh_from_db()
    with default_storage.open(pack.file.name, "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    reader = PdfReader(io.BytesIO(archive.read(archive.namelist()[0])))
    # the summary's two pages, the cleared transcript, the notice page of the piece still at the antivirus (its file
    # left out); the infected one has none
    assert len(reader.pages) == 4


def test_page_refreshes_while_building(client, centre_manager, dossiers):
    pack = CommissionPack.objects.create(requested_by=centre_manager, application_ids=[dossiers[0].pk], total=1)
    client.force_login(centre_manager)

    page = client.get(reverse("admin:applications_application_pack", args=[pack.public_id])).content.decode()

    assert 'data-job-state="running"' in page
    assert 'value="0"' in page
    assert (
        client.get(reverse("admin:applications_application_pack_download", args=[pack.public_id])).status_code == 404
    )


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),
        ("owner", 200),
        ("other_centre_manager", 404),
        ("commission_member", 404),
        ("central_manager", 404),
        ("read_only_staff", 404),
    ],
)
def test_pack_is_for_its_requester_only(request, client, persona, expected, centre_manager, dossiers):
    pack = CommissionPack.objects.create(requested_by=centre_manager, application_ids=[dossiers[0].pk], total=1)
    user = {"owner": centre_manager, "candidate": None}.get(persona) or request.getfixturevalue(persona)
    client.force_login(user.user if persona == "candidate" else user)

    for name in ("pack", "pack_download"):
        response = client.get(reverse(f"admin:applications_application_{name}", args=[pack.public_id]))
        assert response.status_code == (404 if name == "pack_download" and expected == 200 else expected)


def test_pack_page_query_count(client, django_assert_num_queries, centre_manager, dossiers):
    for _ in range(3):
        CommissionPack.objects.create(requested_by=centre_manager, application_ids=[dossiers[0].pk], total=1)
    pack = CommissionPack.objects.first()
    client.force_login(centre_manager)

    with django_assert_num_queries(10):
        response = client.get(reverse("admin:applications_application_pack", args=[pack.public_id]))

    assert len(response.context["other_packs"]) == 2


def test_outsiders_selection_is_refused(other_centre_manager, dossiers):
    with pytest.raises(BusinessRuleError, match="pas dans votre périmètre"):
        request_pack(actor=other_centre_manager, application_ids=[dossiers[0].pk])
    assert not CommissionPack.objects.exists()


def test_a_second_delivery_builds_nothing(centre_manager, dossiers, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        pack = request_pack(actor=centre_manager, application_ids=[a.pk for a in dossiers])
    pack.refresh_from_db()
    first_file = pack.file.name

    packs.build_pack(pack.pk)

    pack.refresh_from_db()
    assert (pack.status, pack.file.name) == ("DONE", first_file)


def _running(centre_manager, dossiers, *, progress_minutes_ago: int) -> CommissionPack:
    """A pack a worker claimed, its last progress that many minutes ago (the worker killed since, or still at it)."""
    return CommissionPack.objects.create(
        requested_by=centre_manager,
        application_ids=[a.pk for a in dossiers],
        total=len(dossiers),
        status="RUNNING",
        done=1,
        progress_at=timezone.now() - datetime.timedelta(minutes=progress_minutes_ago),
    )


def test_a_pack_whose_worker_was_killed_is_built_by_the_task_delivered_again(client, centre_manager, dossiers):
    """Regression (review, 2027-01): the task is acknowledged late, so a worker killed mid-build has it delivered
    again, but the claim only took PENDING packs: the pack stayed « en cours » for ever, its page refreshing every
    3 s. A pack without progress for PACK_STALE_AFTER is taken back and built from the start."""
    pack = _running(centre_manager, dossiers, progress_minutes_ago=16)

    build_commission_pack.delay(pack.pk)

    pack.refresh_from_db()
    assert (pack.status, pack.done, pack.error) == ("DONE", 3, "")
    with default_storage.open(pack.file.name, "rb") as handle:
        assert len(zipfile.ZipFile(io.BytesIO(handle.read())).namelist()) == 3


def test_a_pack_being_built_is_left_to_its_build(client, centre_manager, dossiers):
    pack = _running(centre_manager, dossiers, progress_minutes_ago=1)

    build_commission_pack.delay(pack.pk)

    pack.refresh_from_db()
    assert (pack.status, pack.done, pack.file.name) == ("RUNNING", 1, "")
    client.force_login(centre_manager)
    page = client.get(reverse("admin:applications_application_pack", args=[pack.public_id])).content.decode()
    assert 'data-job-state="running"' in page


def test_a_pack_stalled_without_a_new_delivery_says_to_ask_again(client, centre_manager, dossiers):
    """A worker killed with its message acknowledged: no delivery will come. The page stops refreshing and says
    the pack could not be built (once PACK_STALE_AFTER and the sweeper's SWEEP_GRACE have passed)."""
    pack = _running(centre_manager, dossiers, progress_minutes_ago=21)
    client.force_login(centre_manager)

    page = client.get(reverse("admin:applications_application_pack", args=[pack.public_id])).content.decode()

    assert 'data-job-state="running"' not in page
    assert "Les dossiers n’ont pas pu être constitués ; relancez la demande" in page
    assert "— échec</h2>" in page


def test_a_build_taken_over_stops_and_keeps_nothing(centre_manager, dossiers, monkeypatch):
    """Should a slow build be taken for dead and claimed again, its next progress write finds the claim changed:
    it stops without a file and leaves the pack to the new build."""
    pack = CommissionPack.objects.create(
        requested_by=centre_manager, application_ids=[a.pk for a in dossiers], total=len(dossiers)
    )
    real = packs.build_dossier_pdf
    taken_at = timezone.now() + datetime.timedelta(seconds=1)

    def slow(application):
        CommissionPack.objects.filter(pk=pack.pk).update(progress_at=taken_at, done=0)  # another delivery's claim
        return real(application)

    monkeypatch.setattr(packs, "build_dossier_pdf", slow)
    before = set(default_storage.listdir("packs")[1]) if default_storage.exists("packs") else set()

    packs.build_pack(pack.pk)

    pack.refresh_from_db()
    assert (pack.status, pack.done, pack.progress_at, pack.file.name, pack.error) == ("RUNNING", 0, taken_at, "", "")
    after = set(default_storage.listdir("packs")[1]) if default_storage.exists("packs") else set()
    assert after == before


def test_a_failure_marks_the_pack_failed_and_keeps_no_file(centre_manager, dossiers, monkeypatch):
    pack = CommissionPack.objects.create(
        requested_by=centre_manager, application_ids=[a.pk for a in dossiers], total=len(dossiers)
    )
    real = packs.build_dossier_pdf
    calls = []

    def failing(application):
        calls.append(application.pk)
        if len(calls) == 2:
            raise OSError("disque plein")
        return real(application)

    monkeypatch.setattr(packs, "build_dossier_pdf", failing)
    before = set(default_storage.listdir("packs")[1]) if default_storage.exists("packs") else set()

    with pytest.raises(OSError, match="disque plein"):
        packs.build_pack(pack.pk)

    pack.refresh_from_db()
    assert (pack.status, pack.done, pack.error, pack.file.name) == ("FAILED", 1, "disque plein", "")
    after = set(default_storage.listdir("packs")[1]) if default_storage.exists("packs") else set()
    assert after == before


def test_a_piece_whose_file_is_gone_leaves_a_notice_and_the_pack_is_built(
    centre_manager, dossiers, django_capture_on_commit_callbacks
):
    """Regression (review, 2027-01): one piece row without its file (database and storage restored from backups of
    different moments) failed the whole pack, without saying whose dossier. Its dossier PDF now says the file is
    gone, in place of the piece, and the others are whole."""
    gone = dossiers[1].pieces.get().document
    default_storage.delete(gone.file.name)

    with django_capture_on_commit_callbacks(execute=True):
        pack = request_pack(actor=centre_manager, application_ids=[a.pk for a in dossiers])

    pack.refresh_from_db()
    assert (pack.status, pack.done, pack.error) == ("DONE", 3, "")
    with default_storage.open(pack.file.name, "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    for application in dossiers:
        entry = next(name for name in archive.namelist() if application.candidate.user.username in name)
        last = " ".join(PdfReader(io.BytesIO(archive.read(entry))).pages[-1].extract_text().split())
        if application == dossiers[1]:
            assert missing_file_notice() in last  # « Ce fichier est absent du stockage : … »
        else:
            assert missing_file_notice() not in last
        assert "Relevé de notes" in last  # the piece's header line, on its page or on the notice


PDF_NOTICE_FR = "Ce PDF ne peut pas être inclus dans le dossier : ouvrez-le depuis la liste des pièces."


@pytest.mark.parametrize("kind", ["ZIP", "PDF"])
@pytest.mark.parametrize("hostile_file", list(hostile.UNMERGEABLE_PDFS))
def test_a_pdf_piece_whose_page_refuses_its_header_line_leaves_a_notice_and_the_pack_is_built(
    centre_manager, dossiers, kind, hostile_file, django_capture_on_commit_callbacks
):
    """Regression (review, 2027-01): a PDF piece whose content stream does not decode or whose /Font is not a
    dictionary (stored before the upload checks decoded the pages) made pypdf raise while its header line was laid,
    and failed the whole pack, ZIP or one PDF, with pypdf's English error naming no dossier. Its dossier now has the
    notice in place of the piece, and the pack is built."""
    stored = dossiers[1].pieces.get().document
    default_storage.delete(stored.file.name)
    saved = default_storage.save(stored.file.name, ContentFile(hostile.UNMERGEABLE_PDFS[hostile_file]()))
    assert saved == stored.file.name

    with django_capture_on_commit_callbacks(execute=True):
        pack = request_pack(actor=centre_manager, application_ids=[a.pk for a in dossiers], kind=kind)

    pack.refresh_from_db()
    assert (pack.status, pack.done, pack.error) == ("DONE", 3, "")
    with default_storage.open(pack.file.name, "rb") as handle:
        content = handle.read()
    if kind == "ZIP":
        archive = zipfile.ZipFile(io.BytesIO(content))
        entry = next(name for name in archive.namelist() if dossiers[1].candidate.user.username in name)
        pages = PdfReader(io.BytesIO(archive.read(entry))).pages
    else:
        pages = PdfReader(io.BytesIO(content), strict=True).pages
        assert len(pages) == 10  # the table of contents, then 3 dossiers of 3 pages: the notice is one page
    texts = [" ".join(page.extract_text().split()) for page in pages]
    (notice,) = [text for text in texts if PDF_NOTICE_FR in text]
    assert "Relevé de notes" in notice  # the piece's header line


def test_old_packs_are_pruned(centre_manager, dossiers, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        old = request_pack(actor=centre_manager, application_ids=[dossiers[0].pk])
    old.refresh_from_db()
    CommissionPack.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=8))

    with django_capture_on_commit_callbacks(execute=True):
        request_pack(actor=centre_manager, application_ids=[dossiers[1].pk])

    assert not CommissionPack.objects.filter(pk=old.pk).exists()
    assert not default_storage.exists(old.file.name)


def test_a_prune_rolled_back_keeps_the_pack_with_its_file(
    centre_manager, dossiers, django_capture_on_commit_callbacks
):
    """The pruning runs in the transaction of the new pack's request: when that rolls back, the old pack's row comes
    back, and its file must still be there (it was deleted before its row: a row pointing at nothing)."""
    with django_capture_on_commit_callbacks(execute=True):
        old = request_pack(actor=centre_manager, application_ids=[dossiers[0].pk])
    old.refresh_from_db()
    CommissionPack.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=8))

    def prune_then_fail():
        with transaction.atomic():
            packs.prune_packs()
            raise RuntimeError("the request failed after the prune")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        prune_then_fail()

    assert CommissionPack.objects.filter(pk=old.pk).exists()
    assert default_storage.exists(old.file.name)


# --- one PDF with a table of contents -------------------------------------------------------------------------------


def run_pdf_action(client, applications, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(
            reverse(CHANGELIST),
            {"action": "commission_pack_pdf_action", ACTION_CHECKBOX_NAME: [a.pk for a in applications]},
        )


def _name(application):
    candidate = application.candidate
    return f"{(candidate.usual_name or candidate.birth_name).upper()} {candidate.first_name}"


def test_one_pdf_opens_on_a_table_of_contents_with_a_bookmark_per_candidate(
    client, commission_member, dossiers, django_capture_on_commit_callbacks, django_assert_num_queries
):
    client.force_login(commission_member)

    response = run_pdf_action(client, dossiers, django_capture_on_commit_callbacks)

    pack = CommissionPack.objects.get()
    assert (pack.kind, pack.status, pack.done) == ("PDF", "DONE", 3)
    assert pack.file.name.endswith(".pdf")
    page = client.get(response["Location"]).content.decode()
    assert "Télécharger les dossiers (un seul PDF)" in page
    with django_assert_num_queries(7):  # session, user, staff checks, savepoints, the pack, its scope (as a ZIP)
        download = client.get(reverse("admin:applications_application_pack_download", args=[pack.public_id]))
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].endswith('.pdf"')
    reader = PdfReader(io.BytesIO(b"".join(download.streaming_content)), strict=True)
    # 1 table of contents page, then 3 dossiers of 3 pages (the summary's two, the transcript).
    assert len(reader.pages) == 10
    toc = reader.pages[0].extract_text()
    assert "Dossiers pour la commission" in toc
    ordered = sorted(dossiers, key=lambda a: (a.candidate.birth_name, a.candidate.first_name, a.pk))
    outline = [(item.title, reader.get_destination_page_number(item)) for item in reader.outline]
    assert outline[0] == ("Dossiers pour la commission", 0)
    for position, application in enumerate(ordered):
        first_page = 1 + 3 * position
        assert outline[position + 1] == (f"{_name(application)} — M1ENER {application.formation.title}", first_page)
        assert f"{position + 1}. {_name(application)} ({application.candidate.user.username})" in toc
        assert application.candidate.user.username in reader.pages[first_page].extract_text()
    # Each line of the table is a link to its dossier's first page.
    links = [annotation.get_object() for annotation in reader.pages[0]["/Annots"]]
    assert [reader.get_page_number(link["/Dest"][0].get_object()) for link in links] == [1, 4, 7]


def test_one_pdf_keeps_pieces_not_cleared_by_the_antivirus_out(
    centre_manager, formation, campaign, django_capture_on_commit_callbacks
):
    application = make_application(formation, campaign=campaign)
    stored_piece(application, "Relevé de notes")
    stored_piece(application, "Pièce au scan", scan=ScanStatus.PENDING)

    with django_capture_on_commit_callbacks(execute=True):
        pack = request_pack(actor=centre_manager, application_ids=[application.pk], kind="PDF")

    pack.refresh_from_db()
    with default_storage.open(pack.file.name, "rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()), strict=True)
    # table of contents, the summary's two pages, the cleared transcript, the notice of the piece at the antivirus
    assert len(reader.pages) == 5


def test_a_long_table_of_contents_counts_its_own_pages(centre_manager, formation, campaign):
    pack = CommissionPack.objects.create(requested_by=centre_manager, application_ids=[], total=0, kind="PDF")
    writer = StreamingPdfWriter(buffer := io.BytesIO())
    for index in range(70):
        writer.add_document(io.BytesIO(pdf_bytes(f"dossier {index}")), title=f"Candidat {index}")

    total = writer.finish(
        toc_title="Dossiers", toc_heading="70", toc_lines=[(f"Candidat {i}", "M1ENER") for i in range(70)]
    )

    reader = PdfReader(io.BytesIO(buffer.getvalue()), strict=True)
    toc_pages = total - 70
    assert toc_pages == 2
    assert reader.get_destination_page_number(reader.outline[-1]) == toc_pages + 69
    assert "70. Candidat 69" in reader.pages[1].extract_text()
    assert str(toc_pages + 70) in reader.pages[1].extract_text()
    assert pack.kind == "PDF"


def test_the_table_of_contents_prints_names_as_typed_and_cuts_what_its_columns_cannot_hold():
    writer = StreamingPdfWriter(buffer := io.BytesIO())
    writer.add_document(io.BytesIO(pdf_bytes("dossier")), title="Пётр")
    long_name = "ŞTEFĂNESCU-NGUYỄN " * 6

    writer.finish(
        toc_title="Dossiers — Σωκράτης",
        toc_heading="1",
        toc_lines=[(f"{long_name}Łukasz (8K76FED5)", "M1ENER Master Énergie Matériaux et procédés solaires")],
    )

    toc = PdfReader(io.BytesIO(buffer.getvalue()), strict=True).pages[0].extract_text()
    assert "Dossiers — Σωκράτης" in toc
    assert "1. ŞTEFĂNESCU-NGUYỄN ŞTEFĂNESCU-NGUYỄN" in toc
    assert "Łukasz" not in toc  # cut with « … » at its column's edge, not drawn over the formation
    assert "… M1ENER Master Énergie" in toc
