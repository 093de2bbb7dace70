"""The reading page in Chromium at 1,280 and 1,024 px (issues 11 and 13): the preview of a PDF piece rendered by the
server, a refusal with the piece's own deadline, the success message that never covers a heading (the "Avis" section
reached by its anchor, the refused piece), then the candidate replacing that piece after transmission; at 375 px,
the facts' values under their labels, and a commission member entering an avis from the dossier's own « Saisir un
avis ». axe-core runs on each page (no serious or critical violation). Screenshots:
``docs/screenshots/review-*.png`` when ``REVIEW_SCREENSHOTS`` names a directory, else the test's temporary
directory.
"""

import datetime
import os
import pathlib
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from fpdf import FPDF
from playwright.sync_api import expect

from applications.enums import EventKind, PieceStatus
from applications.history import record_event
from applications.models import Decision, PieceSubmission
from applications.services import candidature
from applications.services import pieces as piece_services
from applications.tests.factories_candidature import DecisionTypeFactory, complete_candidate
from applications.tests.helpers import staff_login, staff_with_authenticator_app
from documents.models import Document
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations, log_in_browser
from offers.enums import Avis
from offers.models import RefusalReason
from offers.tests.factories import CommissionFactory, FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.browser


def _transcript_pdf() -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=18)
    for number in (1, 2):
        pdf.add_page()
        pdf.cell(text=f"Releve de notes - page {number}")
    return bytes(pdf.output())


def _transmitted_dossier(campaign):
    commission = CommissionFactory()
    formation = FormationFactory(centre=commission.centre, commission=commission, code="M1ENER", title="Énergie")
    pieces = [
        PieceTypeFactory(is_common=False, label="Lettre de motivation", order=1),
        PieceTypeFactory(is_common=False, label="Relevé de notes", order=2),
    ]
    formation.piece_types.add(*pieces)
    candidate = complete_candidate(user__campaign=campaign, birth_name="ARNAUD", first_name="Camille")
    application = candidature.create_application(candidate=candidate, formation=formation, actor=candidate.user)
    for piece in pieces:
        upload = SimpleUploadedFile(f"{piece.code}.pdf", _transcript_pdf(), content_type="application/pdf")
        piece_services.upload_piece(
            application=application, piece_type=piece, uploaded_file=upload, actor=candidate.user
        )
    candidature.transmit_application(application=application, actor=candidate.user)
    for index in range(30):  # a long history: the "Avis" section can reach the top of the window
        record_event(application, actor=candidate.user, kind=EventKind.FORMS_REMINDER, comment=f"rappel {index}")
    return application, commission, candidate


def _manager_reading_a_transmitted_dossier(live_server, new_browser_page, campaign, settings, width):
    """A page, ``width`` px wide, on the reading page of a transmitted dossier, its centre's manager logged in."""
    settings.MFA_TOTP_TOLERANCE = 1
    application, commission, _ = _transmitted_dossier(campaign)
    manager, secret = staff_with_authenticator_app(centre=commission.centre, user__username="gestionnaire")
    page = new_browser_page()
    page.set_viewport_size({"width": width, "height": 800})
    staff_login(page, live_server, manager, secret)
    page.goto(f"{live_server.url}/gestion/applications/application/{application.pk}/change/")
    return page


def _does_not_cover(page, selector: str) -> None:
    """The sticky message list and ``selector`` do not overlap on the screen."""
    messages = page.locator(".review-messages").bounding_box()
    target = page.locator(selector).first.bounding_box()
    assert messages is not None
    assert target is not None
    assert target["y"] >= messages["y"] + messages["height"] - 0.5, (selector, messages, target)


def _shots() -> pathlib.Path | None:
    directory = os.environ.get("REVIEW_SCREENSHOTS")
    return pathlib.Path(directory) if directory else None


@pytest.mark.parametrize("width", [1280, 1024])
def test_preview_refusal_with_deadline_and_messages_that_cover_nothing(
    live_server, transactional_db, new_browser_page, campaign, settings, tmp_path, width
):
    settings.MFA_TOTP_TOLERANCE = 1
    application, commission, candidate = _transmitted_dossier(campaign)
    manager, secret = staff_with_authenticator_app(centre=commission.centre, user__username="gestionnaire")
    shots = _shots() or tmp_path
    page = new_browser_page()
    page.set_viewport_size({"width": width, "height": 800})
    staff_login(page, live_server, manager, secret)
    page.goto(f"{live_server.url}/gestion/applications/application/{application.pk}/change/")

    # The PDF piece, previewed as images the server drew: page 1 of 2 and page 2 of 2.
    transcript = page.locator("#pieces article", has=page.get_by_role("heading", name=re.compile(r"^Relevé de notes")))
    transcript.get_by_text("Aperçu (2 pages)").click()
    first = transcript.get_by_role("img", name="Pièce « Relevé de notes », page 1 sur 2")
    expect(first).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=first.element_handle())
    assert first.evaluate("img => img.naturalWidth") > 1000
    expect(transcript.get_by_text("Page 2 sur 2")).to_be_attached()
    first.scroll_into_view_if_needed()
    page.screenshot(path=shots / f"review-preview-{width}.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert_no_serious_axe_violations(page)

    # Refused with its own deadline: back on the piece, the message above it, not over it.
    deadline = timezone.localdate() + datetime.timedelta(days=10)
    transcript.get_by_role("textbox", name=re.compile(r"^Commentaire")).fill("scan illisible")
    transcript.get_by_label(re.compile(r"^À remplacer au plus tard le")).fill(deadline.isoformat())
    transcript.get_by_role("button", name="Refuser", exact=True).click()
    message = page.locator(".messagelist .success")
    expect(message).to_have_text(f"Relevé de notes : refusée. À remplacer au plus tard le {deadline:%d/%m/%Y}.")
    expect(message).to_be_in_viewport()
    _does_not_cover(
        page, f"#piece-{PieceSubmission.objects.get(piece_type__label='Relevé de notes').piece_type_id} h3"
    )
    page.screenshot(path=shots / f"review-refused-{width}.png")

    # The "Avis" section reached by its anchor: the message stays in sight and the heading is not under it.
    page.goto(page.url.split("#")[0] + "#decisions")
    page.get_by_role("heading", name="Avis", exact=True).wait_for()
    _does_not_cover(page, "#decisions h2")
    page.screenshot(path=shots / f"review-avis-{width}.png")
    # Several messages at once (two notes posted before the page is shown again): still above the heading.
    page.evaluate(
        """async () => {
            const form = document.querySelector('#notes form');
            for (const text of ['Premier point à revoir en jury', 'Second point']) {
                const data = new FormData(form);
                data.set('text', text);
                await fetch(form.action, {method: 'POST', body: data, redirect: 'manual'});
            }
        }"""
    )
    dossier_url = page.url.split("#")[0]
    page.goto(dossier_url)  # a full load shows both messages…
    page.goto(f"{dossier_url}#decisions")  # …then the anchor (same document) scrolls to "Avis"
    expect(page.locator(".messagelist li")).to_have_count(2)
    _does_not_cover(page, "#decisions h2")
    page.screenshot(path=shots / f"review-avis-two-messages-{width}.png")
    expect(page.get_by_role("heading", name="Avis", exact=True)).to_be_in_viewport()
    assert_no_serious_axe_violations(page)
    submission = PieceSubmission.objects.get(piece_type__label="Relevé de notes")
    assert (submission.status, submission.replace_by) == (PieceStatus.REFUSED, deadline)

    # The candidate, after transmission: the deadline beside the refused piece, and "Remplacer".
    candidate_page = new_browser_page()
    candidate_page.set_viewport_size({"width": width, "height": 800})
    log_in_browser(candidate_page, live_server, candidate.user)
    candidate_page.goto(f"{live_server.url}/candidat/candidatures/{application.public_id}/")
    row = candidate_page.locator(f"#piece-{submission.piece_type_id}")
    expect(row).to_contain_text(f"À remplacer au plus tard le {deadline:%d/%m/%Y}")
    assert_no_serious_axe_violations(candidate_page)
    row.get_by_label("Nouveau fichier pour Relevé de notes").set_input_files(
        {"name": "releve.pdf", "mimeType": "application/pdf", "buffer": _transcript_pdf()}
    )
    row.get_by_role("button", name=re.compile(r"^Remplacer")).click()
    expect(candidate_page.locator(f"#piece-{submission.piece_type_id}")).to_contain_text("Transmise")
    submission.refresh_from_db()
    assert (submission.status, submission.replace_by) == (PieceStatus.SUBMITTED, None)


# Each fact's value against its list's width: a value squeezed into a third of the line breaks an e-mail address or
# an INE into pieces.
FACT_WIDTHS_JS = """
() => [...document.querySelectorAll('.review-facts dd')].filter((dd) => dd.getClientRects().length).map((dd) => [
  dd.previousElementSibling.textContent.trim(), dd.getBoundingClientRect().width / dd.parentElement.clientWidth,
])
"""


@pytest.mark.parametrize(("width", "least"), [(375, 0.9), (1280, 0.5)])
def test_the_facts_give_their_values_the_line_on_a_phone(
    live_server, transactional_db, new_browser_page, campaign, settings, width, least
):
    """At 375 px each value goes under its label across the line; at 1,280 px beside it, on most of the line."""
    page = _manager_reading_a_transmitted_dossier(live_server, new_browser_page, campaign, settings, width)

    widths = page.evaluate(FACT_WIDTHS_JS)

    assert len(widths) > 5, widths
    assert [label for label, share in widths if share < least] == []


def test_a_long_file_name_of_one_word_does_not_widen_the_page_on_a_phone(
    live_server, transactional_db, new_browser_page, campaign, settings
):
    """Regression (hostile uploads round 2, 2026-12-03): a piece's 100-character name without spaces made the reading
    page 794 px wide at 375 px."""
    page = _manager_reading_a_transmitted_dossier(live_server, new_browser_page, campaign, settings, 375)
    Document.objects.update(original_name=f"Releve_de_notes_licence_3_semestres_5_et_6_{'x' * 50}_2026.pdf")
    page.reload()

    assert page.evaluate("document.documentElement.scrollWidth") <= 375


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_pieces_statuses_are_readable_in_both_themes(
    live_server, transactional_db, new_browser_page, campaign, settings, scheme
):
    """The pieces' status badges (« Validée », « Refusée », « Transmise ») kept their light theme's dark green, red
    and brown in Django's dark theme: 2.85:1 and less on its #121212 (axe-core, RGAA 3.2). Each has its own colour
    per theme now."""
    settings.MFA_TOTP_TOLERANCE = 1
    application, commission, _ = _transmitted_dossier(campaign)
    manager, secret = staff_with_authenticator_app(centre=commission.centre, user__username="gestionnaire")
    validated, refused = PieceSubmission.objects.filter(application=application).order_by("piece_type__order")
    piece_services.set_piece_status(submission=validated, status=PieceStatus.VALIDATED, actor=manager)
    piece_services.set_piece_status(submission=refused, status=PieceStatus.REFUSED, comment="illisible", actor=manager)
    page = new_browser_page()
    page.emulate_media(color_scheme=scheme)
    staff_login(page, live_server, manager, secret)
    page.goto(f"{live_server.url}/gestion/applications/application/{application.pk}/change/")

    assert {text.strip() for text in page.locator(".review-status").all_inner_texts()} >= {"Validée", "Refusée"}
    assert_no_serious_axe_violations(page)


@pytest.mark.parametrize(("width", "high"), [(375, True), (1280, False)])
def test_the_pieces_buttons_are_thumb_sized_on_a_phone(
    live_server, transactional_db, new_browser_page, campaign, settings, width, high
):
    """At 375 px « Valider » and « Refuser » were 19 px high, 8 px apart (a refusal mails the candidate): on a phone
    every button of the pieces and the notes is 44 px high; at 1,280 px Django's buttons stay as they are."""
    page = _manager_reading_a_transmitted_dossier(live_server, new_browser_page, campaign, settings, width)

    heights = page.eval_on_selector_all(
        # Not the disabled, hidden first button of a check (Enter sends nothing: test_browser_piece_check_enter_dec7).
        ".review-check button:not([hidden]), .review-validate-all button, #notes button",
        "buttons => buttons.map(b => [b.textContent.trim(), b.getBoundingClientRect().height])",
    )

    assert {label for label, _height in heights} >= {"Valider", "Refuser", "Ajouter la note"}
    assert [label for label, height in heights if (height >= 44) != high] == []


# Each label of a piece's check and the field it names: [label, field's left − label's right, field's top − label's
# bottom, field's left − label's left], in CSS pixels.
LABEL_FIELD_GAPS_JS = """() => [...document.querySelectorAll('.review-check label')].map(label => {
  const l = label.getBoundingClientRect(), f = label.control.getBoundingClientRect();
  return [label.textContent.trim(), f.left - l.right, f.top - l.bottom, f.left - l.left];
})"""


@pytest.mark.parametrize("width", [375, 1024, 1280])
def test_each_field_of_a_pieces_check_follows_its_label(
    live_server, transactional_db, new_browser_page, campaign, settings, width
):
    """Walk of 2026-12-03: at 1,280 px « À remplacer au plus tard le (facultatif, avec un refus) » ended the
    comment's line and its date field began the next one, under « Commentaire »: the form's items wrapped one by one.
    Each field now follows its label, beside it on the same line or right under it at its left edge."""
    page = _manager_reading_a_transmitted_dossier(live_server, new_browser_page, campaign, settings, width)

    gaps = page.evaluate(LABEL_FIELD_GAPS_JS)

    labels = {label for label, *_gaps in gaps}
    assert labels == {
        "Commentaire (obligatoire pour refuser)",
        "À remplacer au plus tard le (facultatif, avec un refus)",
    }
    beside = [label for label, right, below, _left in gaps if 0 <= right <= 16 and below < 0]
    under = [label for label, _right, below, left in gaps if 0 <= below <= 12 and abs(left) <= 1]
    assert sorted(beside + under) == sorted(label for label, *_gaps in gaps), gaps
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_a_commission_member_enters_the_avis_from_the_dossier_on_a_phone(
    live_server, transactional_db, new_browser_page, campaign, settings, tmp_path
):
    """Walk of « Saisir un avis »: the avis was chosen on a page of its own that showed none of the dossier, two
    page loads a dossier. At 375 px the dossier's section holds the form without widening the page; « Défavorable »
    shows its motivation, the avis is entered and the dossier comes back with the new avis in its table."""
    settings.MFA_TOTP_TOLERANCE = 1
    application, commission, _ = _transmitted_dossier(campaign)
    DecisionTypeFactory(avis=Avis.FAVOURABLE, label="Favorable")
    DecisionTypeFactory(avis=Avis.UNFAVOURABLE, label="Défavorable")
    RefusalReason.objects.create(code="CAP", label="Capacité d'accueil atteinte")
    member, secret = staff_with_authenticator_app(commission_member=True, commission=commission)
    shots = _shots() or tmp_path
    page = new_browser_page()
    page.set_viewport_size({"width": 375, "height": 812})
    staff_login(page, live_server, member, secret)
    page.goto(f"{live_server.url}/gestion/applications/application/{application.pk}/change/")

    section = page.locator("#decision-entry")
    expect(section.get_by_role("heading", name="Saisir un avis", exact=True)).to_be_visible()
    motivation = section.get_by_label(re.compile(r"^Motivation"))
    expect(motivation).to_be_hidden()  # no kind of avis chosen yet (static/js/decision_form.js)
    section.get_by_label("Avis :", exact=True).select_option(label="Défavorable")
    expect(motivation).to_be_visible()
    motivation.select_option(label="Capacité d'accueil atteinte")
    section.scroll_into_view_if_needed()
    section.screenshot(path=shots / "review-decision-entry-375.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # Nothing of the form runs past the section's edge (Django gives a phone's form rows the page's width).
    assert section.evaluate("section => section.scrollWidth <= section.clientWidth")
    assert_no_serious_axe_violations(page)

    section.get_by_role("button", name="Confirmer", exact=True).click()

    expect(page.locator(".messagelist .success")).to_contain_text("Saisir un avis : fait pour")
    expect(page.locator("#decisions tbody")).to_contain_text("Capacité d'accueil atteinte")
    decision = Decision.objects.get(application=application)
    assert (decision.decision_type.label, str(decision.refusal_reason), decision.created_by) == (
        "Défavorable",
        "Capacité d'accueil atteinte",
        member,
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
