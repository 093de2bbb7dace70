"""The commission's workspace in Chromium at 1,280 px (issue 11).

A centre manager opens the first of three transmitted dossiers from the list and works through them with
"Suivant": validates all the pieces of the first in one step, refuses a piece of the second with a comment, adds a
note and a tag; a commission member then selects the three in the list, asks for the commission pack and downloads
it, and finds each dossier in it, then the same as one PDF with its table of contents. axe-core runs on every new
page (no serious or critical violation) and no page is wider than the window.
"""

import io
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect
from pypdf import PdfReader

from applications.enums import PieceStatus
from applications.models import ApplicationNote, ApplicationTag, PieceSubmission, Tag
from applications.services import candidature
from applications.services import pieces as piece_services
from applications.tests.factories_candidature import complete_candidate
from applications.tests.helpers import staff_login, staff_with_authenticator_app
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations, pdf_bytes
from offers.tests.factories import CommissionFactory, FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.browser

NAMES = ["ARNAUD", "BERTIN", "CHEVALIER"]
# Playwright waits 10 s by default for the navigation a click starts; building a pack takes longer on a loaded machine.
PACK_BUILD_MS = 60_000


def _three_dossiers(campaign):
    commission = CommissionFactory()
    formation = FormationFactory(
        centre=commission.centre, commission=commission, code="M1ENER", title="MASTER 1 - ENERGIE"
    )
    pieces = [
        PieceTypeFactory(is_common=True, is_unique=True, label="Lettre de motivation"),
        PieceTypeFactory(is_common=True, is_unique=True, label="Relevé de notes"),
    ]
    applications = []
    for name in NAMES:
        candidate = complete_candidate(user__campaign=campaign, birth_name=name, first_name="Camille")
        application = candidature.create_application(candidate=candidate, formation=formation, actor=candidate.user)
        for piece in pieces:
            upload = SimpleUploadedFile(f"{piece.code}.pdf", pdf_bytes(piece.label), content_type="application/pdf")
            piece_services.upload_piece(
                application=application, piece_type=piece, uploaded_file=upload, actor=candidate.user
            )
        candidature.transmit_application(application=application, actor=candidate.user)
        applications.append(application)
    return applications, commission


def _fits_the_window(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, f"{page.url} is {width} px wide"


def _select_every_row(page) -> None:
    """Tick the list's "select all" box and wait for the admin's script to tick every row: under load the click
    can land before actions.js listens, and the action would then find nothing selected."""
    rows = page.locator("#result_list input.action-select")
    expect(rows.first).to_be_visible()
    page.wait_for_load_state("load")  # actions.js is a deferred script
    page.locator("#action-toggle").check()
    for index in range(rows.count()):
        expect(rows.nth(index)).to_be_checked()


def test_manager_works_through_three_dossiers_and_the_commission_downloads_the_pack(
    live_server, transactional_db, new_browser_page, campaign, settings, tmp_path
):
    settings.MFA_TOTP_TOLERANCE = 1
    applications, commission = _three_dossiers(campaign)
    Tag.objects.create(label="Prioritaire", colour="#b03a2e")
    manager, manager_secret = staff_with_authenticator_app(centre=commission.centre, user__username="gestionnaire")
    member, member_secret = staff_with_authenticator_app(
        commission_member=True, commission=commission, user__username="membre"
    )

    # Home: the centre's figures, then the list sorted by name.
    page = new_browser_page()
    staff_login(page, live_server, manager, manager_secret)
    home = page.locator(".centre-home")
    expect(home.get_by_role("link", name=re.compile(r"^3 Réceptionné"))).to_be_visible()
    assert_no_serious_axe_violations(page)
    page.screenshot(path=tmp_path / "home.png", full_page=True)
    home.get_by_role("link", name=re.compile(r"^3 Réceptionné")).click()
    page.locator("th.column-candidate_name").get_by_role("button", name="Nom").click()  # sort by name
    expect(page.locator(".status-counters")).to_contain_text("3 Réceptionné")
    page.screenshot(path=tmp_path / "list.png", full_page=True)
    _fits_the_window(page)
    results = page.locator("#changelist .results")
    assert results.evaluate("e => e.scrollWidth <= e.clientWidth"), "the list scrolls sideways"
    assert_no_serious_axe_violations(page)

    # First dossier: every submitted piece validated in one step.
    page.get_by_role("link", name="ARNAUD Camille", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("ARNAUD Camille — MASTER 1 - ENERGIE")
    expect(page.get_by_text("Candidature 1 sur 3 dans la liste")).to_be_visible()
    page.get_by_role("button", name="Valider toutes les pièces transmises (2)").click()
    expect(page.locator(".messagelist .success")).to_have_text("2 pièces validées.")
    expect(page.locator(".messagelist .success")).to_be_in_viewport()
    _fits_the_window(page)
    assert_no_serious_axe_violations(page)
    page.screenshot(path=tmp_path / "dossier-1.png", full_page=False)
    assert set(PieceSubmission.objects.filter(application=applications[0]).values_list("status", flat=True)) == {
        PieceStatus.VALIDATED
    }

    # Second dossier: the transcript refused with a comment, then a note and a tag.
    page.get_by_role("link", name="Suivant").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("BERTIN Camille — MASTER 1 - ENERGIE")
    transcript = page.locator("#pieces article", has=page.get_by_role("heading", name=re.compile(r"^Relevé de notes")))
    transcript.get_by_role("textbox", name=re.compile(r"^Commentaire")).fill("scan illisible")
    transcript.get_by_role("button", name="Refuser", exact=True).click()
    expect(page.locator(".messagelist .success")).to_have_text("Relevé de notes : refusée.")
    expect(page.locator(".messagelist .success")).to_be_in_viewport()
    expect(transcript.locator(".review-status")).to_have_text("Refusée")
    expect(transcript.get_by_role("button", name="Refuser", exact=True)).to_have_count(0)
    expect(page.locator("#history")).to_contain_text(
        "Pièce refusée « Relevé de notes » par gestionnaire : scan illisible"
    )
    page.get_by_label("Nouvelle note").fill("À revoir en jury : stage à l'étranger")
    page.get_by_role("button", name="Ajouter la note").click()
    expect(page.locator(".review-notes")).to_contain_text("gestionnaire : À revoir en jury")
    page.get_by_role("checkbox", name="Prioritaire").check()
    page.get_by_role("button", name="Enregistrer les étiquettes").click()
    expect(page.locator(".messagelist .success")).to_contain_text("Étiquettes enregistrées")
    expect(page.get_by_text("Candidature 2 sur 3 dans la liste")).to_be_visible()
    page.screenshot(path=tmp_path / "dossier-2.png", full_page=True)

    # Third dossier, the end of the list.
    page.get_by_role("link", name="Suivant").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("CHEVALIER Camille — MASTER 1 - ENERGIE")
    expect(page.get_by_text("Candidature 3 sur 3 dans la liste")).to_be_visible()
    expect(page.get_by_role("link", name="Suivant")).to_have_count(0)
    assert ApplicationNote.objects.get().application == applications[1]
    assert ApplicationTag.objects.get().application == applications[1]

    # The commission member: the three dossiers, the pack, each dossier in it.
    member_page = new_browser_page()
    staff_login(member_page, live_server, member, member_secret)
    member_page.locator("#content-main").get_by_role("link", name="Candidatures", exact=True).click()
    _select_every_row(member_page)
    member_page.get_by_role("combobox", name="Action").select_option(label="Dossiers pour la commission (ZIP)")
    # The pack is built in the request here (tasks in-process): three dossier PDFs, seconds on a loaded CI machine.
    member_page.get_by_role("button", name="Exécuter").click(timeout=PACK_BUILD_MS)
    expect(member_page.get_by_role("heading", name=re.compile(r"^3 dossiers"))).to_be_visible()
    assert_no_serious_axe_violations(member_page)
    member_page.screenshot(path=tmp_path / "pack.png", full_page=True)
    with member_page.expect_download() as download_info:
        member_page.get_by_role("link", name="Télécharger les dossiers (ZIP)").click()
    archive = zipfile.ZipFile(io.BytesIO(download_info.value.path().read_bytes()))
    names = archive.namelist()
    assert len(names) == 3
    for application, name in zip(applications, NAMES, strict=True):
        assert any(application.candidate.user.username in entry and name in entry for entry in names), names

    # The same three as one PDF: a table of contents, then a bookmark per candidate.
    member_page.get_by_role("link", name="Candidatures").first.click()
    _select_every_row(member_page)
    member_page.get_by_role("combobox", name="Action").select_option(label="Dossiers pour la commission (un seul PDF)")
    member_page.get_by_role("button", name="Exécuter").click(timeout=PACK_BUILD_MS)
    expect(
        member_page.get_by_role("heading", name=re.compile(r"^3 dossiers \(un seul PDF avec sommaire\)"))
    ).to_be_visible()
    assert_no_serious_axe_violations(member_page)
    with member_page.expect_download() as download_info:
        member_page.get_by_role("link", name="Télécharger les dossiers (un seul PDF)").click()
    reader = PdfReader(io.BytesIO(download_info.value.path().read_bytes()), strict=True)
    assert "Dossiers pour la commission" in reader.pages[0].extract_text()
    titles = [item.title for item in reader.outline]
    for name in NAMES:
        assert any(title.startswith(f"{name} Camille") for title in titles), titles
