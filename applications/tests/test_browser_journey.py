"""The guide's candidate journey in Chromium: apply, upload pieces, transmit, replace a refused piece, confirm.

The staff side (refusing a piece, setting the dossier incomplete, a favourable decision) goes through the services,
as the back office would. Locators use addresses and structure, not labels, so the test holds in both languages.
"""

import re

import pytest

from accounts.tests.factories import StaffMembershipFactory
from applications.enums import DossierStatus, PieceStatus
from applications.models import Application, PieceSubmission
from applications.services import pieces as piece_services
from applications.services import staff
from applications.tests.factories_candidature import DecisionTypeFactory, complete_candidate
from ecandidat.models import OutboundEmail
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations, log_in_browser, pdf_bytes
from offers.enums import Avis
from offers.tests.factories import CommissionFactory, FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.browser


def _upload(page, piece, name: str) -> None:
    row = page.locator("tr", has=page.locator(f'form[action$="/{piece.pk}/ajouter/"]'))
    row.locator("input[type=file]").set_input_files(
        {"name": name, "mimeType": "application/pdf", "buffer": pdf_bytes(name)}
    )
    row.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(rf"#piece-{piece.pk}$"))
    page.locator(f'a:has-text("{name}")').wait_for()


def test_candidate_journey_of_the_guide(live_server, transactional_db, browser_page, campaign):
    page = browser_page
    commission = CommissionFactory(alert_on_transmission=True)
    formation = FormationFactory(centre=commission.centre, commission=commission, title="MASTER 1 - ENERGIE")
    letter = PieceTypeFactory(is_common=True, is_unique=True, label="Lettre de motivation")
    transcript = PieceTypeFactory(is_common=True, is_unique=True, label="Relevé de notes")
    candidate = complete_candidate(user__campaign=campaign)
    manager = StaffMembershipFactory(centre=commission.centre).user
    log_in_browser(page, live_server, candidate.user)

    # "J'effectue ma candidature": Candidature → +Nouvelle candidature → the formation → "Voulez-vous candidater".
    page.goto(live_server.url + "/")
    page.locator('nav.site-nav a[href="/candidat/candidatures/"]').click()
    assert_no_serious_axe_violations(page)
    page.locator('main a[href="/offre-de-formation/"]').click()
    centre = page.locator("details.catalogue__centre", has=page.locator("summary", has_text=commission.centre.label))
    centre.locator(":scope > summary").click()
    centre.locator("details.catalogue__diploma > summary", has_text=formation.diploma_type.label).click()
    page.locator(f'a[href="/candidat/candidatures/nouvelle/{formation.pk}/"]').click()
    assert "MASTER 1 - ENERGIE" in page.locator("main form p").inner_text()
    assert_no_serious_axe_violations(page)
    page.locator("main form button[type=submit]").click()
    application = Application.objects.get(candidate=candidate)
    page.wait_for_url(re.compile(rf"/candidatures/{application.public_id}/$"))
    assert_no_serious_axe_violations(page)
    # Inactive while a piece is missing: a disabled button (the cancel action is still a link at this stage).
    transmit = page.locator("main .actions button[disabled]")
    assert transmit.is_disabled()
    assert page.locator('main a[href$="/transmettre/"]').count() == 0

    # "Je dépose mes pièces justificatives": "+" for each piece; the button turns green after the last one.
    _upload(page, letter, "lettre.pdf")
    assert transmit.is_disabled()
    _upload(page, transcript, "releve.pdf")
    assert page.locator('main .actions a.button--success[href$="/transmettre/"]').is_visible()
    assert_no_serious_axe_violations(page)

    # "Je transmets ma candidature": the next page lists what will be sent and says the pieces will be locked.
    page.locator('main .actions a[href$="/transmettre/"]').click()
    page.wait_for_url(re.compile(r"/transmettre/$"))  # a link: no empty "?" left on the address
    assert "lettre.pdf" in page.locator("main").inner_text()
    assert_no_serious_axe_violations(page)
    page.locator("main form[method=post] button[type=submit]").click()
    page.locator(".message--success").first.wait_for()
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED
    assert OutboundEmail.objects.filter(code="STATUT_RE", to=candidate.user.email).exists()

    # "Je remplace une pièce justificative refusée": staff refuse it and set the dossier incomplete.
    submission = PieceSubmission.objects.get(application=application, piece_type=transcript)
    piece_services.set_piece_status(
        submission=submission, status=PieceStatus.REFUSED, comment="scan illisible", actor=manager
    )
    staff.set_dossier_status(application, target=DossierStatus.INCOMPLETE, actor=manager)
    page.reload()
    assert page.get_by_text("scan illisible").first.is_visible()
    page.once("dialog", lambda dialog: dialog.accept())  # "-" asks before removing the file
    page.locator(f'form[action$="/{transcript.pk}/supprimer/"] button').click()
    page.wait_for_load_state("load")
    _upload(page, transcript, "releve-lisible.pdf")
    page.locator('main .actions a.button--success[href$="/transmettre/"]').click()
    page.wait_for_url(re.compile(r"/transmettre/$"))
    page.locator("main form[method=post] button[type=submit]").click()
    page.locator(".message--success").first.wait_for()
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED

    # "Je confirme ou je me désiste suite à un avis favorable": Candidature → Ouvrir → Confirmer (asked twice).
    decision = staff.record_decision(
        application, decision_type=DecisionTypeFactory(avis=Avis.FAVOURABLE), actor=manager
    )
    staff.validate_decision(decision, actor=manager)
    page.locator('nav.site-nav a[href="/candidat/candidatures/"]').click()
    page.locator(f'main a[href="/candidat/candidatures/{application.public_id}/"]').click()
    page.locator('a[href$="/confirmer/"]').click()
    assert_no_serious_axe_violations(page)
    page.locator("main form button[type=submit]").click()
    page.locator(".message--success").wait_for()
    application.refresh_from_db()
    assert application.accepted is True
    assert OutboundEmail.objects.filter(code="CANDIDATURE_CONFIRM").count() == 1


def test_upload_refreshes_the_recap(live_server, transactional_db, browser_page, campaign):
    page = browser_page
    formation = FormationFactory()
    piece = PieceTypeFactory(is_common=True, is_unique=True, label="Lettre de motivation")
    candidate = complete_candidate(user__campaign=campaign)
    application = Application.objects.create(
        candidate=candidate, formation=formation, campaign=campaign, created_by=candidate.user
    )
    log_in_browser(page, live_server, candidate.user)
    page.goto(f"{live_server.url}/candidat/candidatures/{application.public_id}/")

    row = page.locator("tr", has=page.locator(f'form[action$="/{piece.pk}/ajouter/"]'))
    row.locator("input[type=file]").set_input_files(
        {"name": "a.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes("a")}
    )
    row.locator("button[type=submit]").click()

    page.locator('a:has-text("a.pdf")').wait_for(timeout=5_000)
