"""Uploading from a phone on a slow line (issue 13): checks before sending, a 4 MB photo reduced in the browser and
accepted by the server, several photos of one document previewed as pages and merged into one PDF by the server, a
named progress bar that can be cancelled, the result announced in the piece's row with the focus on it; the
session-expiry warning. Chromium through Playwright."""

import io
import os
import re

import pytest
from django.conf import settings
from django.core.cache import cache
from PIL import Image
from playwright.sync_api import expect
from pypdf import PdfReader

from applications import views_pieces
from applications.models import Application, PieceSubmission
from applications.tests.factories_candidature import complete_candidate
from documents import saturation
from documents.models import Document
from documents.tests.hostile_files import pdf_bytes
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations, log_in_browser
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.browser


def _noisy_jpeg(width: int, height: int) -> bytes:
    """A photo-like JPEG that does not compress well: about 4.3 MB at 2800 × 2100."""
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _focus_ring_contrast_on_white(locator) -> float:
    """The best contrast against white of the colours drawing the element's focus ring (outline, box-shadow)."""
    outline, outline_style, shadow = locator.evaluate(
        "e => { const s = getComputedStyle(e); return [s.outlineColor, s.outlineStyle, s.boxShadow]; }"
    )
    colours = re.findall(r"rgba?\(([^)]*)\)", (outline if outline_style != "none" else "") + " " + shadow)

    def luminance(channels: str) -> float:
        values = [float(value) / 255 for value in channels.split(",")[:3]]
        linear = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in values]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    return max((1.05 / (luminance(colour) + 0.05) for colour in colours), default=1.0)


@pytest.fixture
def setup(live_server, transactional_db, browser_page, campaign):
    formation = FormationFactory()
    piece = PieceTypeFactory(is_common=True, is_unique=True, label="Relevé de notes")
    candidate = complete_candidate(user__campaign=campaign)
    application = Application.objects.create(
        candidate=candidate, formation=formation, campaign=campaign, created_by=candidate.user
    )
    page = browser_page
    page.set_viewport_size({"width": 375, "height": 812})
    log_in_browser(page, live_server, candidate.user)
    page.goto(f"{live_server.url}/candidat/candidatures/{application.public_id}/")
    return page, piece, application, candidate


def test_a_4_mb_phone_photo_is_reduced_in_the_browser_then_accepted(setup):
    page, piece, application, _ = setup
    photo = _noisy_jpeg(2800, 2100)
    assert 4 * 1024 * 1024 < len(photo) < 5 * 1024 * 1024
    # The help says so once the script runs (hidden in the page, which promises nothing without JavaScript).
    expect(page.get_by_text("Une photo trop lourde est réduite dans votre navigateur avant l'envoi.")).to_be_visible()

    page.locator(f"#file-{piece.pk}").set_input_files(
        {"name": "IMG_2043.jpg", "mimeType": "image/jpeg", "buffer": photo}
    )

    status = page.locator(f"#piece-status-{piece.pk}")
    status.get_by_text("La photo a été réduite de").wait_for()
    assert re.search(r"réduite de 4,\d Mo à [12](,\d)? Mo", status.inner_text())
    assert page.locator(f"#piece-{piece.pk} img.pieces__preview").is_visible()
    page.locator(f'#piece-{piece.pk} button[type="submit"]').click()

    page.wait_for_url(re.compile(rf"#piece-{piece.pk}$"))
    page.locator(f"#piece-status-{piece.pk}", has_text="fichier reçu").wait_for()
    expect(page.locator(f"#piece-{piece.pk}")).to_be_focused()
    document = Document.objects.get()
    assert document.content_type == "image/jpeg"
    assert document.original_name == "IMG_2043.jpg"
    assert document.size <= settings.UPLOAD_MAX_BYTES
    assert_no_serious_axe_violations(page)


def test_wrong_type_and_oversized_pdf_are_refused_before_sending(setup):
    page, piece, application, _ = setup
    requests = []
    page.on("request", lambda request: requests.append(request.url) if request.method == "POST" else None)
    status = page.locator(f"#piece-status-{piece.pk}")

    page.locator(f"#file-{piece.pk}").set_input_files(
        {"name": "notes.docx", "mimeType": "application/msword", "buffer": b"x" * 100}
    )
    assert "ni un PDF ni une image JPEG ou PNG" in status.inner_text()
    page.locator(f"#file-{piece.pk}").set_input_files(
        {"name": "releve.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n" + b"0" * (3 * 1024 * 1024)}
    )
    assert "Ce fichier dépasse 2 Mo" in status.inner_text()
    page.locator(f'#piece-{piece.pk} button[type="submit"]').click()

    assert page.locator(f"#file-{piece.pk}:invalid").count() == 1  # emptied: the browser asks for a file
    assert requests == []
    assert not PieceSubmission.objects.exists()


def _slow_upload_chosen(page, piece) -> None:
    """A 1.5 MB PDF chosen for ``piece`` on a line slow enough (20 kB/s up) for its progress bar to stay a while."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 200, "downloadThroughput": 50_000, "uploadThroughput": 20_000},
    )
    page.locator(f"#file-{piece.pk}").set_input_files(
        {"name": "releve.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n" + b"0" * 1_500_000}
    )


def test_slow_upload_shows_a_named_progress_bar_and_can_be_cancelled(setup, live_server_idle):
    page, piece, application, _ = setup
    _slow_upload_chosen(page, piece)

    page.locator(f'#piece-{piece.pk} button[type="submit"]').click()

    progress = page.get_by_role("progressbar", name="Envoi de Relevé de notes")
    progress.wait_for()
    assert page.locator(f"#piece-status-{piece.pk}").inner_text() == "Envoi du fichier en cours…"
    cancel = page.locator(f"#piece-{piece.pk} [data-cancel]")
    assert page.evaluate("document.activeElement === document.querySelector('[data-cancel]')")
    assert re.fullmatch(r"\d+\s%", page.locator(f"#piece-{piece.pk} [data-percent]").inner_text())  # French spacing
    assert_no_serious_axe_violations(page)
    cancel.click()

    page.locator(f"#piece-status-{piece.pk}", has_text="Envoi annulé : le fichier n'a pas été enregistré.").wait_for()
    assert not progress.is_visible()
    assert page.evaluate("document.activeElement.id") == f"file-{piece.pk}"
    live_server_idle()  # the server's end of the cancelled upload (it shares the test's database connection)
    assert not PieceSubmission.objects.exists()


def test_the_progress_percent_is_written_in_the_page_language(setup, live_server, live_server_idle):
    """In English "37%", not the French "37 %" (the sizes already followed the page's language)."""
    page, piece, application, _ = setup
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}])
    page.reload()
    _slow_upload_chosen(page, piece)
    page.locator(f'#piece-{piece.pk} button[type="submit"]').click()

    page.get_by_role("progressbar", name=re.compile("Relevé de notes")).wait_for()
    assert re.fullmatch(r"\d+%", page.locator(f"#piece-{piece.pk} [data-percent]").inner_text())
    page.locator(f"#piece-{piece.pk} [data-cancel]").click()
    page.locator(f"#piece-status-{piece.pk}", has_text="Sending cancelled: the file was not saved.").wait_for()
    live_server_idle()
    assert not PieceSubmission.objects.exists()


@pytest.fixture
def saturated(settings, monkeypatch):
    """Fault injection: every upload slot held by uploads elsewhere; the server asks to wait 1 s, not 10."""
    settings.UPLOAD_CONCURRENCY = 2
    monkeypatch.setattr(views_pieces, "RETRY_AFTER_SECONDS", 1)
    keys = [saturation.SLOT_KEY.format(n) for n in range(2)]
    for key in keys:
        assert cache.add(key, "elsewhere", timeout=120)
    yield lambda: cache.delete_many(keys)
    cache.delete_many(keys)


def _send_a_pdf(page, piece) -> None:
    page.locator(f"#file-{piece.pk}").set_input_files(
        {"name": "releve.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}
    )
    page.locator(f'#piece-{piece.pk} button[type="submit"]').click()


RETRY_SAID = re.compile(r"le vôtre n'est pas encore enregistré\. Il sera renvoyé automatiquement dans \d+ s")


def test_a_saturated_server_gets_the_same_file_again_by_itself_once_a_slot_frees(setup, saturated):
    page, piece, application, _ = setup
    _send_a_pdf(page, piece)

    status = page.locator(f"#piece-status-{piece.pk}")
    expect(status).to_have_text(RETRY_SAID)
    assert page.locator(f"#piece-{piece.pk} [data-cancel]").is_visible()
    assert not Document.objects.exists()
    saturated()  # the uploads elsewhere end
    page.wait_for_url(re.compile(rf"#piece-{piece.pk}$"))
    page.locator(f"#piece-status-{piece.pk}", has_text="fichier reçu").wait_for()
    # No stale "send it again" from the refused tries.
    assert "Renvoyez-le" not in page.content()
    assert Document.objects.count() == 1


def test_still_saturated_after_the_last_try_the_page_says_to_send_it_again(setup, saturated):
    page, piece, application, _ = setup
    _send_a_pdf(page, piece)

    # Five tries of 1 to 1.5 s, then the sixth sending's answer: the server's message in the piece's row.
    page.locator(f"#piece-status-{piece.pk}", has_text="Renvoyez-le dans quelques secondes").wait_for(timeout=30_000)
    assert page.url.endswith(f"#piece-{piece.pk}")
    assert not Document.objects.exists()


def test_the_wait_before_sending_again_can_be_cancelled(setup, saturated):
    page, piece, application, _ = setup
    _send_a_pdf(page, piece)
    status = page.locator(f"#piece-status-{piece.pk}")
    expect(status).to_have_text(RETRY_SAID)

    page.locator(f"#piece-{piece.pk} [data-cancel]").click()

    expect(status).to_have_text("Envoi annulé : le fichier n'a pas été enregistré.")
    assert page.evaluate("document.activeElement.id") == f"file-{piece.pk}"
    saturated()
    page.wait_for_timeout(2_500)  # longer than any wait the script could still have had
    assert not Document.objects.exists()
    assert status.inner_text() == "Envoi annulé : le fichier n'a pas été enregistré."


def test_upload_after_the_session_ended_says_the_file_was_not_saved(setup):
    page, piece, application, _ = setup
    page.context.clear_cookies(name=settings.SESSION_COOKIE_NAME)
    page.locator(f"#file-{piece.pk}").set_input_files(
        {"name": "releve.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n" + b"0" * 1000}
    )

    page.locator(f'#piece-{piece.pk} button[type="submit"]').click()

    page.locator(
        f"#piece-status-{piece.pk}", has_text="Votre session a pris fin : le fichier n'a pas été enregistré"
    ).wait_for()
    assert page.url.endswith(f"/candidatures/{application.public_id}/")
    assert not PieceSubmission.objects.exists()


def test_session_warning_keeps_the_session_and_a_lost_form_comes_back_after_login(
    live_server, transactional_db, browser_page, campaign, settings
):
    settings.SESSION_COOKIE_AGE = 45 * 60
    candidate = complete_candidate(user__campaign=campaign)
    page = browser_page
    page.clock.install()
    log_in_browser(page, live_server, candidate.user)
    page.goto(live_server.url + "/candidat/adresse/")
    page.locator("#id_line2").fill("Bâtiment C, appartement 12")

    # 43 minutes later: the warning, focus on "Rester connecté", which renews the session.
    page.clock.fast_forward("43:01")
    warning = page.locator("#session-warning")
    warning.wait_for()
    assert "Votre session se termine dans 2 minutes" in warning.inner_text()
    assert page.evaluate("document.activeElement.textContent.trim()") == "Rester connecté"
    assert_no_serious_axe_violations(page)
    page.get_by_role("button", name="Rester connecté").click()
    warning.wait_for(state="hidden")

    # Then no answer for 45 minutes: the session ends (on the server too), the page says what was not saved.
    page.clock.fast_forward("45:02")
    page.context.clear_cookies(name=settings.SESSION_COOKIE_NAME)
    warning.wait_for()
    assert "ces champs n'ont pas été enregistrés" in warning.inner_text()
    assert "Complément d'adresse" in warning.locator("li").first.inner_text() or warning.locator("li").count() == 1
    page.locator("main form button[type=submit]").click()  # posting anyway is stopped: it would be lost
    assert page.url.endswith("/candidat/adresse/")

    # After the login, the address form has what was typed.
    log_in_browser(page, live_server, candidate.user)
    page.goto(live_server.url + "/candidat/adresse/")
    assert page.locator("#id_line2").input_value() == "Bâtiment C, appartement 12"
    assert page.locator("#session-restored").is_visible()


def test_after_stay_logged_in_the_keyboard_user_is_back_in_the_field_they_were_typing_in(
    live_server, transactional_db, browser_page, campaign, settings
):
    """The warning takes the focus; once « Rester connecté » is pressed (Enter) it is hidden, and the focus goes back
    to the field, not to the top of the page (WCAG 2.4.3)."""
    settings.SESSION_COOKIE_AGE = 45 * 60
    candidate = complete_candidate(user__campaign=campaign)
    page = browser_page
    page.set_viewport_size({"width": 320, "height": 640})
    page.clock.install()
    log_in_browser(page, live_server, candidate.user)
    page.goto(live_server.url + "/candidat/adresse/")
    page.locator("#id_line2").fill("Bâtiment C")

    page.clock.fast_forward("43:01")
    warning = page.locator("#session-warning")
    warning.wait_for()
    assert page.evaluate("document.activeElement.textContent.trim()") == "Rester connecté"
    page.keyboard.press("Enter")
    warning.wait_for(state="hidden")

    assert page.evaluate("document.activeElement.id") == "id_line2"
    page.keyboard.type(", appartement 12")
    assert page.locator("#id_line2").input_value() == "Bâtiment C, appartement 12"


def test_three_big_photos_of_one_document_are_reduced_then_merged_by_the_server(setup):
    page, piece, application, _ = setup
    photos = [
        {"name": f"page{number}.jpg", "mimeType": "image/jpeg", "buffer": _noisy_jpeg(1600, 2200)}
        for number in (1, 2, 3)
    ]
    assert sum(len(photo["buffer"]) for photo in photos) > 2 * settings.UPLOAD_MAX_BYTES

    page.locator(f"#file-{piece.pk}").set_input_files(photos)

    status = page.locator(f"#piece-status-{piece.pk}")
    status.get_by_text("3 photos seront réunies en un seul PDF").wait_for()
    expect(page.locator(f"#piece-{piece.pk} .pieces__pages figcaption")).to_have_text(["Page 1", "Page 2", "Page 3"])
    page.locator(f'#piece-{piece.pk} button[type="submit"]').click()
    page.locator(f"#piece-status-{piece.pk}", has_text="fichier reçu").wait_for()
    document = Document.objects.get()
    assert (document.original_name, document.content_type) == ("page1.pdf", "application/pdf")
    assert document.size <= settings.UPLOAD_MAX_BYTES
    assert len(PdfReader(document.file.open("rb")).pages) == 3


def test_two_jpegs_are_previewed_as_pages_and_stored_as_a_two_page_pdf(setup):
    page, piece, application, _ = setup
    requests = []
    page.on("request", lambda request: requests.append(request) if request.method == "POST" else None)

    def jpeg(width: int, height: int, colour: str) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (width, height), colour).save(buffer, "JPEG")
        return buffer.getvalue()

    page.locator(f"#file-{piece.pk}").set_input_files(
        [
            {"name": "recto.jpg", "mimeType": "image/jpeg", "buffer": jpeg(600, 800, "red")},
            {"name": "verso.jpg", "mimeType": "image/jpeg", "buffer": jpeg(800, 600, "blue")},
        ]
    )

    pages = page.locator(f"#piece-{piece.pk} .pieces__pages figcaption")
    expect(pages).to_have_text(["Page 1", "Page 2"])
    expect(page.locator(f"#piece-{piece.pk} .pieces__pages img").first).to_have_attribute("alt", "Page 1")
    page.locator(f'#piece-{piece.pk} button[type="submit"]').click()
    page.locator(f"#piece-status-{piece.pk}", has_text="fichier reçu").wait_for()
    # One request with both photos, merged by the server (documents.merge writes the PDF with Pillow).
    assert len(requests) == 1
    assert "multipart/form-data" in requests[0].headers["content-type"]
    document = Document.objects.get()
    assert (document.original_name, document.content_type) == ("recto.pdf", "application/pdf")
    content = document.file.open("rb").read()
    assert b"created by Pillow PDF driver" in content
    reader = PdfReader(io.BytesIO(content))
    # In order, recto (portrait) then verso (landscape); the widest photo is laid out at A4 width (595 pt).
    assert [(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages] == [
        (447, 595),
        (595, 447),
    ]
    assert_no_serious_axe_violations(page)


def test_keyboard_only_upload_and_refusal_keep_the_focus_on_the_piece(setup):
    page, piece, application, _ = setup
    page.locator(f"#file-{piece.pk}").set_input_files(
        {"name": "vide.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%%EOF\n"}
    )

    page.locator(f'#piece-{piece.pk} button[type="submit"]').focus()
    page.keyboard.press("Enter")

    # The server refuses the damaged PDF: the reason is in the piece's row and the focus is on that row.
    page.wait_for_url(re.compile(rf"#piece-{piece.pk}$"))
    expect(page.locator(f"#piece-{piece.pk}")).to_be_focused()
    # ... and that focus shows: part of its ring is at least 3:1 against the white row (RGAA 10.7; yellow is 1.6:1).
    assert _focus_ring_contrast_on_white(page.locator(f"#piece-{piece.pk}")) >= 3
    status = page.locator(f"#piece-status-{piece.pk}")
    status.locator(".pieces__status--error").wait_for()
    assert status.inner_text().startswith("Relevé de notes : ")
    assert not page.locator(".messages .message--error").count()  # not at the top of the page, out of view
    assert not PieceSubmission.objects.exists()


def test_removing_a_file_asks_first_and_a_no_keeps_it(setup):
    page, piece, application, _ = setup
    page.locator(f"#file-{piece.pk}").set_input_files(
        {"name": "releve.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}
    )
    page.locator(f'#piece-{piece.pk} button[type="submit"]').click()
    page.locator(f"#piece-status-{piece.pk}", has_text="fichier reçu").wait_for()
    questions: list[str] = []

    def answer(yes: bool):
        def handle(dialog):
            questions.append(dialog.message)
            dialog.accept() if yes else dialog.dismiss()

        return handle

    remove = page.locator(f'#piece-{piece.pk} form[data-confirm] button[type="submit"]')

    page.once("dialog", answer(yes=False))
    remove.click()
    page.wait_for_timeout(300)  # a dismissed question sends nothing: give a wrongly sent form the time to leave
    kept = PieceSubmission.objects.get().document_id is not None

    page.once("dialog", answer(yes=True))
    remove.click()
    page.locator(f"#piece-status-{piece.pk}", has_text="fichier supprimé").wait_for()

    assert kept
    asked = (
        "Supprimer le fichier « releve.pdf » de la pièce « Relevé de notes » ? Pour le remettre, il faudra l'envoyer "
        "à nouveau."
    )
    assert questions == [asked, asked]
    assert PieceSubmission.objects.filter(document__isnull=False).count() == 0


def test_a_long_file_name_of_one_word_does_not_widen_the_page(setup):
    """Regression (hostile uploads round 2, 2026-12-03): a 100-character name without spaces, as many scanners and
    phones write them, made the pieces table 1,352 px wide on a 1,024 px screen."""
    page, piece, application, candidate = setup
    name = "Releve_de_notes_licence_3_semestres_5_et_6_Universite_de_Perpignan_Via_Domitia_annee_2025_2026_v2.pdf"
    page.locator(f"#file-{piece.pk}").set_input_files(
        {"name": name, "mimeType": "application/pdf", "buffer": pdf_bytes()}
    )
    page.locator(f'#piece-{piece.pk} button[type="submit"]').click()
    page.locator(f"#piece-status-{piece.pk}", has_text="fichier reçu").wait_for()
    assert Document.objects.get().original_name == name[:96] + ".pdf"

    for width in (320, 1024, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        page.reload()
        assert page.evaluate("document.documentElement.scrollWidth") <= width, width
