"""The back office and the candidate in Chromium, side by side (ecandidat-features §2.3–2.7).

A centre manager refuses a piece with "scan illisible" and sets the dossier "Incomplet"; the candidate receives
"Candidature - dossier incomplet", reads the comment on the recap, replaces the piece and transmits again; the
manager validates every piece and sets "Complet"; a commission member enters a favourable decision (members of a
commission enter decisions, only managers validate them: ``Application.objects.decidable_by``), the manager
validates it, the mail leaves, and the candidate confirms.

Each person has their own browser context. Staff log in as they would: the back office's address, the login page,
then the code of their authenticator app (the back office requires a second factor, STAFF_MFA_REQUIRED; the MFA
rules themselves are covered by the accounts tests). The candidate's login is covered there too and is forced here.
Pages are driven by their visible French labels. The mails are read from the outbox (``OutboundEmail``), where every
notification is recorded.
"""

import re

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from applications.enums import DossierStatus, PieceStatus
from applications.models import Decision, PieceSubmission
from applications.services import candidature
from applications.services import pieces as piece_services
from applications.tests.factories_candidature import DecisionTypeFactory, complete_candidate
from applications.tests.helpers import admin_operation, staff_login, staff_with_authenticator_app
from ecandidat.models import OutboundEmail
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations, log_in_browser, pdf_bytes
from offers.enums import Avis
from offers.tests.factories import CommissionFactory, FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.browser


def _open_application(page, application) -> None:
    """Back office home → Candidatures → the candidate's numéro de dossier."""
    page.locator("#content-main").get_by_role("link", name="Candidatures", exact=True).click()
    page.get_by_role("link", name=application.candidate.user.username, exact=True).click()
    page.get_by_role("heading", name="Pièces justificatives").wait_for()


def _piece_row(page, label: str):
    """A piece's block in the page's "Pièces justificatives" section."""
    return page.locator("#pieces article", has=page.get_by_role("heading", name=re.compile(rf"^{re.escape(label)}\b")))


def _check_piece(page, label: str, button: str, status: str, comment: str = "") -> None:
    """ "Valider" or "Refuser" (with a comment) on a piece's row; waits for "<piece> : <status>."."""
    row = _piece_row(page, label)
    if comment:
        row.get_by_role("textbox", name=re.compile(r"^Commentaire")).fill(comment)
    row.get_by_role("button", name=button, exact=True).click()
    page.locator(".messagelist .success", has_text=f"{label} : {status}").wait_for()


def _transmitted_application(campaign):
    """A candidate who applied, uploaded both pieces and transmitted, through the candidate services."""
    commission = CommissionFactory()
    formation = FormationFactory(centre=commission.centre, commission=commission, title="MASTER 1 - ENERGIE")
    pieces = [
        PieceTypeFactory(is_common=True, is_unique=True, label="Lettre de motivation"),
        PieceTypeFactory(is_common=True, is_unique=True, label="Relevé de notes"),
    ]
    candidate = complete_candidate(user__campaign=campaign, first_name="Estelle")
    user = candidate.user
    application = candidature.create_application(candidate=candidate, formation=formation, actor=user)
    for piece in pieces:
        upload = SimpleUploadedFile(f"{piece.code}.pdf", pdf_bytes(piece.label), content_type="application/pdf")
        piece_services.upload_piece(application=application, piece_type=piece, uploaded_file=upload, actor=user)
    candidature.transmit_application(application=application, actor=user)
    return application, commission


def test_refused_piece_then_favourable_decision_through_the_back_office(
    live_server, transactional_db, new_browser_page, campaign, settings
):
    # A code typed as the 30-second step changes is still accepted (base settings say the same once MFA is on);
    # without it, a login straddling the step would fail the test now and then.
    settings.MFA_TOTP_TOLERANCE = 1
    application, commission = _transmitted_application(campaign)
    candidate_user = application.candidate.user
    manager, manager_secret = staff_with_authenticator_app(centre=commission.centre, user__username="gestionnaire")
    member, member_secret = staff_with_authenticator_app(
        commission_member=True, commission=commission, user__username="membre"
    )
    DecisionTypeFactory(avis=Avis.FAVOURABLE, label="Favorable", candidate_label="Avis favorable")

    # The manager refuses the transcript with a comment and sets the dossier "Incomplet".
    manager_page = new_browser_page()
    staff_login(manager_page, live_server, manager, manager_secret)
    _open_application(manager_page, application)
    _check_piece(manager_page, "Relevé de notes", "Refuser", "Refusée", comment="scan illisible")
    refused_row = _piece_row(manager_page, "Relevé de notes")
    expect(refused_row.locator(".review-status")).to_have_text("Refusée")
    expect(refused_row.get_by_text("Commentaire : scan illisible")).to_be_visible()
    assert_no_serious_axe_violations(manager_page)
    admin_operation(manager_page, "Statut du dossier", {"Nouveau statut du dossier": "Incomplet"})
    expect(manager_page.locator(".review-summary")).to_contain_text("Statut du dossier : Incomplet")

    incomplete = OutboundEmail.objects.get(code="STATUT_IN")
    assert incomplete.to == candidate_user.email
    assert incomplete.subject == f"{django_settings.EMAIL_SUBJECT_PREFIX}Candidature - dossier incomplet"
    assert incomplete.status == OutboundEmail.Status.SENT
    assert "Relevé de notes : scan illisible" in incomplete.body

    # The candidate reads "Refusée" and the comment, removes the file ("-"), uploads another ("+") and transmits.
    candidate_page = new_browser_page()
    log_in_browser(candidate_page, live_server, candidate_user)
    candidate_page.goto(f"{live_server.url}/")
    candidate_page.get_by_role("navigation").get_by_role("link", name="Candidature", exact=True).click()
    candidate_page.get_by_role("link", name="Ouvrir la candidature à MASTER 1 - ENERGIE").click()
    transcript_row = candidate_page.locator("#pieces tbody tr", has_text="Relevé de notes")
    expect(transcript_row.get_by_role("cell", name="Refusée", exact=True)).to_be_visible()
    expect(transcript_row.get_by_role("cell", name="scan illisible", exact=True)).to_be_visible()
    remove = transcript_row.get_by_role("button", name="Supprimer le fichier de Relevé de notes")
    expect(remove.locator("[aria-hidden=true]")).to_have_text("-")  # what is seen; the name is its hidden text
    candidate_page.once("dialog", lambda dialog: dialog.accept())  # "Supprimer le fichier « … » ?"
    remove.click()
    add = transcript_row.get_by_role("button", name="Ajouter un fichier pour Relevé de notes")
    expect(add.locator("[aria-hidden=true]")).to_have_text("+")
    transcript_row.get_by_label("Fichier pour Relevé de notes", exact=True).set_input_files(
        {"name": "releve-lisible.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes("releve lisible")}
    )
    add.click()
    transcript_row.get_by_role("link", name="releve-lisible.pdf").wait_for()
    candidate_page.get_by_role("link", name="Transmettre ma candidature").click()
    candidate_page.wait_for_url(re.compile(r"/transmettre/$"))  # what will be sent, the pieces will be locked
    candidate_page.get_by_role("button", name="Transmettre ma candidature").click()
    # The page already shows the upload's success message: wait for the transmission's own.
    candidate_page.locator(".message--success", has_text="si votre dossier a été correctement transmis").wait_for()
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED

    # The manager validates every piece and sets the dossier "Complet".
    manager_page.reload()
    for label in ("Lettre de motivation", "Relevé de notes"):
        _check_piece(manager_page, label, "Valider", "Validée")
        expect(_piece_row(manager_page, label).locator(".review-status")).to_have_text("Validée")
    admin_operation(manager_page, "Statut du dossier", {"Nouveau statut du dossier": "Complet"})
    expect(manager_page.locator(".review-summary")).to_contain_text("Statut du dossier : Complet")
    assert set(PieceSubmission.objects.filter(application=application).values_list("status", flat=True)) == {
        PieceStatus.VALIDATED
    }
    assert OutboundEmail.objects.filter(code="STATUT_CO", to=candidate_user.email).count() == 1

    # A commission member enters the favourable decision; the manager validates it, then the mail leaves.
    member_page = new_browser_page()
    staff_login(member_page, live_server, member, member_secret)
    _open_application(member_page, application)
    expect(member_page.locator(".review-operations").get_by_role("link", name="Valider les avis")).to_have_count(0)
    admin_operation(member_page, "Saisir un avis", {"Avis": "Favorable"}, check_accessibility=True)
    decision = Decision.objects.get(application=application)
    assert decision.created_by == member
    assert decision.validated_at is None
    assert not OutboundEmail.objects.filter(code="AVIS_FAVORABLE").exists()

    manager_page.reload()
    admin_operation(manager_page, "Valider les avis")
    decision.refresh_from_db()
    assert decision.validated_by == manager
    favourable = OutboundEmail.objects.get(code="AVIS_FAVORABLE")
    assert favourable.to == candidate_user.email
    assert favourable.subject == f"{django_settings.EMAIL_SUBJECT_PREFIX}Avis favorable à votre candidature"
    assert favourable.status == OutboundEmail.Status.SENT

    # The candidate opens the application and confirms ("Confirmer", asked twice).
    candidate_page.get_by_role("navigation").get_by_role("link", name="Candidature", exact=True).click()
    candidate_page.get_by_role("link", name="Ouvrir la candidature à MASTER 1 - ENERGIE").click()
    expect(candidate_page.locator("dd", has_text="Avis favorable")).to_be_visible()
    candidate_page.get_by_role("link", name="Confirmer", exact=True).click()
    candidate_page.get_by_role("button", name="Confirmer", exact=True).click()
    candidate_page.locator(".message--success", has_text="Vous avez confirmé").wait_for()
    application.refresh_from_db()
    assert application.accepted is True
    assert OutboundEmail.objects.filter(code="CANDIDATURE_CONFIRM", to=candidate_user.email).count() == 1
