"""Enter in a piece's check (review, 2026-12-07): a manager typed a refusal's reason, pressed Enter, and the form went
through its first button, « Valider »: the piece validated with the reason as its comment (the candidate read
« Validée » next to « scan illisible », the piece left out of the « dossier incomplet » mail). With two choices the
form's first button is a disabled one: Enter sends nothing, the manager clicks « Valider » or « Refuser »."""

import datetime
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from fpdf import FPDF
from playwright.sync_api import expect

from applications.enums import PieceStatus
from applications.models import PieceSubmission
from applications.services import candidature
from applications.services import pieces as piece_services
from applications.tests.factories_candidature import complete_candidate
from applications.tests.helpers import staff_login, staff_with_authenticator_app
from offers.tests.factories import CommissionFactory, FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.browser


def _pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=18)
    pdf.cell(text="Releve de notes")
    return bytes(pdf.output())


@pytest.fixture
def reading_page(live_server, transactional_db, new_browser_page, campaign, settings):
    """The centre manager on the reading page of a dossier transmitted with one piece."""
    settings.MFA_TOTP_TOLERANCE = 1
    commission = CommissionFactory()
    formation = FormationFactory(centre=commission.centre, commission=commission, code="M1ENER")
    piece = PieceTypeFactory(is_common=False, label="Relevé de notes", order=1)
    formation.piece_types.add(piece)
    candidate = complete_candidate(user__campaign=campaign)
    application = candidature.create_application(candidate=candidate, formation=formation, actor=candidate.user)
    upload = SimpleUploadedFile("releve.pdf", _pdf(), content_type="application/pdf")
    piece_services.upload_piece(application=application, piece_type=piece, uploaded_file=upload, actor=candidate.user)
    candidature.transmit_application(application=application, actor=candidate.user)
    manager, secret = staff_with_authenticator_app(centre=commission.centre, user__username="gestionnaire")
    page = new_browser_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    staff_login(page, live_server, manager, secret)
    page.goto(f"{live_server.url}/gestion/applications/application/{application.pk}/change/")
    return page, page.locator(f"#piece-{piece.pk}")


def test_enter_in_the_refusal_reason_or_its_date_validates_nothing(reading_page):
    page, piece = reading_page
    comment = piece.get_by_role("textbox", name=re.compile(r"^Commentaire"))
    comment.fill("scan illisible")

    comment.press("Enter")
    page.wait_for_timeout(500)  # a submit would have started loading the page again by now

    assert PieceSubmission.objects.get().status == PieceStatus.SUBMITTED
    expect(comment).to_have_value("scan illisible")  # the page was not sent, the reason is still typed

    deadline = timezone.localdate() + datetime.timedelta(days=10)
    date = piece.get_by_label(re.compile(r"^À remplacer au plus tard le"))
    date.fill(deadline.isoformat())
    date.press("Enter")

    # Chromium sends the form through « Valider » from a date field, past the disabled button: the date with a
    # validation is refused next to it (it was dropped, the piece validated), what was typed kept.
    expect(page.locator(".errornote")).to_have_text(
        "Relevé de notes : une date limite de remplacement ne se donne qu'avec un refus."
    )
    assert PieceSubmission.objects.get().status == PieceStatus.SUBMITTED
    expect(comment).to_have_value("scan illisible")
    expect(date).to_have_value(deadline.isoformat())

    # The manager's choice goes through as before: « Refuser » refuses, with the reason and the date.
    piece.get_by_role("button", name="Refuser", exact=True).click()
    expect(page.locator(".messagelist .success")).to_have_text(
        f"Relevé de notes : refusée. À remplacer au plus tard le {deadline:%d/%m/%Y}."
    )
    refused = PieceSubmission.objects.get()
    assert (refused.status, refused.comment) == (PieceStatus.REFUSED, "scan illisible")


def test_the_disabled_default_button_is_not_reached_nor_read(reading_page):
    """Not in the tab order, not in the accessibility tree: the keyboard reaches the comment, the date, then
    « Valider » and « Refuser » as before."""
    page, piece = reading_page

    buttons = piece.get_by_role("button")
    expect(buttons).to_have_text(["Valider", "Refuser"])
    piece.get_by_role("textbox", name=re.compile(r"^Commentaire")).focus()
    for _ in range(6):  # the date field's day, month and year are stops of their own
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName") == "BUTTON":
            break
    assert page.evaluate("document.activeElement.textContent") == "Valider"
