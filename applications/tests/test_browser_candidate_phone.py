"""A candidate on a phone: every candidate page at 320, 375 and 1,280 px wide, the upload path on a slow line, the
session-expiry warning. Chromium through Playwright; axe-core on every page (0 serious, 0 critical)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from accounts.tests.factories import StaffMembershipFactory
from applications.enums import PieceStatus
from applications.models import Application, PieceSubmission
from applications.services import pieces as documents_services
from applications.tests.factories import (
    ExternalCursusFactory,
    InternalCursusFactory,
    InternshipFactory,
    WorkExperienceFactory,
)
from applications.tests.factories_candidature import complete_candidate
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations, log_in_browser, pdf_bytes
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.browser

WIDTHS = (320, 375, 1280)
LONG_TITLE = (
    "MASTER 2 - INGÉNIERIE DES SYSTÈMES ÉNERGÉTIQUES RENOUVELABLES ET STOCKAGE DISTRIBUÉ PARCOURS INTERNATIONAL"
)


def _page_overflow(page) -> int:
    """How many CSS pixels the page is wider than the viewport (0: no horizontal page scroll)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def _fully_inside(page, locator) -> bool:
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5


def _dossier(campaign):
    """A candidate with every dossier list filled in and one application with long labels: a refused piece (with a
    comment), a conditional piece, and a piece still missing."""
    formation = FormationFactory(title=LONG_TITLE)
    candidate = complete_candidate(user__campaign=campaign)
    InternalCursusFactory(candidate=candidate)
    ExternalCursusFactory(candidate=candidate)
    InternshipFactory(candidate=candidate)
    WorkExperienceFactory(candidate=candidate)
    letter = PieceTypeFactory(is_common=True, is_unique=True, label="Lettre de motivation manuscrite et signée")
    PieceTypeFactory(
        is_common=True, is_unique=True, is_conditional=True, label="Attestation de réussite au diplôme d'accès"
    )
    PieceTypeFactory(is_common=True, is_unique=True, label="Relevé de notes de toutes les années post-baccalauréat")
    application = Application.objects.create(
        candidate=candidate, formation=formation, campaign=campaign, created_by=candidate.user
    )
    documents_services.upload_piece(
        application=application,
        piece_type=letter,
        uploaded_file=_uploaded("lettre-de-motivation-version-definitive-signee.pdf"),
        actor=candidate.user,
    )
    submission = PieceSubmission.objects.get(application=application, piece_type=letter)
    documents_services.set_piece_status(
        submission=submission,
        status=PieceStatus.REFUSED,
        comment="Le scan est illisible : renvoyez une copie où la signature se lit.",
        actor=StaffMembershipFactory(centre=formation.centre).user,
    )
    return candidate, application, formation


def _uploaded(name):
    return SimpleUploadedFile(name, pdf_bytes(name), content_type="application/pdf")


def _candidate_pages(application, formation) -> list[str]:
    return [
        "/",
        "/offre-de-formation/?q=MASTER",
        "/assistance/",
        "/accessibilite/",
        "/mentions-legales/",
        "/donnees-personnelles/",
        "/candidat/informations-perso/",
        "/candidat/adresse/",
        "/candidat/baccalaureat/",
        "/candidat/cursus-interne/",
        "/candidat/cursus-externe/",
        "/candidat/stages/",
        "/candidat/experiences-pro/",
        "/candidat/candidatures/",
        "/candidat/mes-donnees/",
        f"/candidat/candidatures/{application.public_id}/",
        f"/candidat/candidatures/{application.public_id}/transmettre/",
        f"/candidat/candidatures/nouvelle/{formation.pk}/",
        "/compte/adresse-mail/",
        "/accounts/password/change/",
        "/creer-un-compte/",
        "/page-qui-n-existe-pas/",
    ]


def test_no_page_scrolls_sideways_on_a_phone(live_server, transactional_db, browser_page, campaign):
    page = browser_page
    candidate, application, formation = _dossier(campaign)
    log_in_browser(page, live_server, candidate.user)
    pages = _candidate_pages(application, formation)

    overflowing = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 812 if width < 1000 else 900})
        for path in pages:
            page.goto(live_server.url + path)
            if _page_overflow(page) > 0:
                overflowing.append(f"{width}px {path}: {_page_overflow(page)}px too wide")
            if width == 320:
                assert_no_serious_axe_violations(page)

    # A form with errors: the summary is focused and the page still fits.
    page.set_viewport_size({"width": 320, "height": 812})
    page.goto(live_server.url + "/candidat/adresse/")
    page.locator("#id_line1").fill("")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#error-summary")).to_be_focused()  # forms.js runs after parsing
    assert page.title().startswith("Erreur : Adresse")
    assert _page_overflow(page) == 0
    assert_no_serious_axe_violations(page)
    page.locator("#error-summary a").first.click()
    assert page.evaluate("document.activeElement.id").startswith("id_")

    assert overflowing == []


@pytest.mark.parametrize("width", WIDTHS)
def test_main_actions_are_visible_and_large_enough(live_server, transactional_db, browser_page, campaign, width):
    page = browser_page
    page.set_viewport_size({"width": width, "height": 812})
    candidate, application, formation = _dossier(campaign)
    log_in_browser(page, live_server, candidate.user)

    # The applications list: "Ouvrir", the only way into an application, is on screen.
    page.goto(live_server.url + "/candidat/candidatures/")
    open_link = page.locator(f'main a[href="/candidat/candidatures/{application.public_id}/"]')
    assert _fully_inside(page, open_link)
    assert open_link.bounding_box()["height"] >= 44

    # The pieces table: status, "Non concerné par cette pièce" and the refusal comment are on screen.
    page.goto(f"{live_server.url}/candidat/candidatures/{application.public_id}/")
    assert _fully_inside(page, page.locator("#pieces").get_by_text("Le scan est illisible"))
    not_concerned = page.locator('form[action$="/non-concerne/"] button')
    assert _fully_inside(page, not_concerned)
    assert not_concerned.bounding_box()["height"] >= 44
    assert _fully_inside(page, page.locator("#pieces td", has_text="Refusée").first)
    for button in page.locator("#pieces button:visible").all():
        assert button.bounding_box()["height"] >= 44, button.inner_text()
    # Choosing the file is the step's first action: its field (the whole of it opens the picker) is as tall.
    file_inputs = page.locator("#pieces input[type=file]:visible").all()
    assert file_inputs
    for file_input in file_inputs:
        assert file_input.bounding_box()["height"] >= 44, file_input.get_attribute("id")

    # The menu: folded behind "Menu" on phones (a <details>, no JavaScript), always shown on wide screens.
    applications_link = page.locator('nav.site-nav a[href="/candidat/candidatures/"]')
    if width < 900:
        header_height = page.locator("nav.site-nav").bounding_box()["y"] + 44
        assert header_height <= 200
        assert not applications_link.is_visible()
        page.locator("summary.site-nav__toggle").click()
    assert applications_link.is_visible()
    assert applications_link.bounding_box()["height"] >= 44


def test_menu_opens_without_javascript(live_server, transactional_db, chromium_browser, campaign):
    candidate = complete_candidate(user__campaign=campaign)
    context = chromium_browser.new_context(
        locale="fr-FR", java_script_enabled=False, viewport={"width": 320, "height": 640}
    )
    try:
        page = context.new_page()
        log_in_browser(page, live_server, candidate.user)
        page.goto(live_server.url + "/candidat/adresse/")
        link = page.locator('nav.site-nav a[href="/candidat/candidatures/"]')
        assert not link.is_visible()

        page.locator("summary.site-nav__toggle").click()

        assert link.is_visible()
        assert _page_overflow(page) == 0
    finally:
        context.close()


def test_the_login_offers_no_remember_me_on_a_phone(live_server, transactional_db, browser_page):
    """The login has no « Se souvenir de moi » (ACCOUNT_SESSION_REMEMBER = False: every session ends with the browser
    and after 45 minutes of inactivity); its two fields and its button fit a 375 px phone."""
    page = browser_page
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(live_server.url + "/accounts/login/")

    expect(page.locator("#id_remember")).to_have_count(0)
    expect(page.get_by_text("Se souvenir de moi")).to_have_count(0)
    expect(page.get_by_label("Utilisateur")).to_be_visible()
    expect(page.get_by_label("Mot de passe")).to_be_visible()
    assert _page_overflow(page) == 0


def test_create_an_account_is_the_headers_filled_button(live_server, transactional_db, browser_page):
    """« Créer un compte » is filled (white on the brand's header), unlike the language switch's « Changer »: the
    header's plain-button rule came after the primary one and emptied it."""
    page = browser_page
    page.goto(live_server.url + "/")
    background = "el => getComputedStyle(el).backgroundColor"
    create = page.locator(".site-header a.button--primary")
    change = page.locator(".site-header button.button").first

    assert create.evaluate(background) == "rgb(255, 255, 255)"
    assert change.evaluate(background) != create.evaluate(background)


def test_only_the_guides_wide_tables_scroll_on_a_phone(live_server, transactional_db, browser_page):
    """« Assistance » at 320 px: the guide's text stays in place; a table wider than the screen scrolls in its own
    box, which the keyboard reaches (axe: scrollable-region-focusable)."""
    page = browser_page
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(live_server.url + "/assistance/")
    sideways = "el => el.scrollWidth - el.clientWidth"

    assert page.locator("article.guide").evaluate(sideways) == 0
    wide = [box for box in page.locator(".guide__table").all() if box.evaluate(sideways) > 0]
    assert wide
    wide[0].focus()
    expect(wide[0]).to_be_focused()
    assert _page_overflow(page) == 0
    assert_no_serious_axe_violations(page)
