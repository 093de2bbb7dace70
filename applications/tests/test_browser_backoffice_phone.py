"""The back office on a phone: every page a member of staff reaches from the menu and the home page, at 320 and
375 px, for each staff persona (central office, centre manager, commission member, read-only), and the same pages
at 1,280 px. No page scrolls sideways as a whole (a wide table scrolls inside its own box, which takes the keyboard
focus and has a name, RGAA 7.3 and 12.13), no text is cut off by a box too narrow for it, and axe-core finds no
serious or critical violation at 320 px on any of them, add forms included (ecandidat/admin_inputs.py and
static/js/admin_a11y.js name Django's widgets).

The pages are found as a person finds them: the home page's links (its menu of models and its figures), then each
list's first row, then the operations of an application's reading page (the decision pages). The pages the brief
names are checked to have been reached, so that a change of menu cannot empty the test. Staff sessions are opened
with their second factor recorded (the login pages have their own browser tests).
"""

import re
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.tests.mfa import Client
from applications.services import candidature, saved_filters, staff
from applications.services import pieces as piece_services
from applications.tests.factories_candidature import DecisionTypeFactory, complete_candidate
from ecandidat.tests.plugins.browser import pdf_bytes, serious_axe_violations
from offers.enums import Avis
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.browser

PHONES = (320, 375)
LONG_TITLE = (
    "MASTER 2 - INGÉNIERIE DES SYSTÈMES ÉNERGÉTIQUES RENOUVELABLES ET STOCKAGE DISTRIBUÉ PARCOURS INTERNATIONAL"
)
# Files, not pages (exports, packs, letters, downloads), and links that end the session or leave the back office.
NOT_A_PAGE = re.compile(r"/logout/|/export/[^/]+/|/download/|/zip/|/lettre/|/preview/|/jsi18n/|/r/\d+/")

# What overflows: the page as a whole, and any box that hides part of its text (overflow hidden or clipped, an
# ellipsis) or that pokes out of the window while no scrolling box holds it.
OVERFLOW_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  const one = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.classList.length ? '.' + [...el.classList].join('.') : '');
  const name = (el) => [el.parentElement?.parentElement, el.parentElement, el].filter(Boolean).map(one).join(' > ')
    + ' "' + el.textContent.trim().slice(0, 30) + '"';
  const out = (el) => { const box = el.getBoundingClientRect(); return box.width && box.right > width + 1; };
  const scrolls = (el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const held = (el) => { for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
    if (scrolls(p)) return true; } return false; };
  for (const el of document.body.querySelectorAll('*')) {
    if (!el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || el.closest('.visually-hidden, .sr-only, [aria-hidden=true]')) continue;
    // Text meant to be read: not an image-replaced button (text pushed out of sight, its name for assistive
    // technologies) nor a value that carries its full text in its title (Select2's chosen option).
    const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())
      && Math.abs(parseFloat(style.textIndent)) < 999 && el.title !== el.textContent.trim();
    const clips = ['hidden', 'clip'].includes(style.overflowX) || style.textOverflow === 'ellipsis';
    if (text && clips && el.scrollWidth > el.clientWidth + 1) found.push('cut off: ' + name(el));
    // The outermost box that pokes out of the window (its children follow it).
    const outermost = out(el) && !(el.parentElement && out(el.parentElement));
    if (outermost && !held(el)) found.push('out of the window: ' + name(el));
  }
  const page = document.documentElement.scrollWidth - document.documentElement.clientWidth;
  if (page > 0) found.unshift('page ' + page + ' px too wide');
  return [...new Set(found)].slice(0, 8);
}
"""
# A box that scrolls sideways must be reachable with the keyboard and named (RGAA 7.3, 12.13 as axe reads them).
SCROLLERS_JS = """
() => [...document.querySelectorAll('#container *')].filter((el) => {
  const style = getComputedStyle(el);
  const scrolls = ['auto', 'scroll'].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1;
  return scrolls && el.getClientRects().length;
}).filter((el) => !(el.tabIndex >= 0 && (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby'))
  && ['region', 'group'].includes(el.getAttribute('role') || (el.tagName === 'SECTION' ? 'region' : ''))))
  .map((el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '.' + [...el.classList].join('.'))
"""


def _log_in_staff(page, live_server, user) -> None:
    """A staff session with its second factor recorded, set in the page's browser context."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def _the_centre(campaign, centre, commission, manager):
    """Three transmitted dossiers of a long-titled formation of ``centre`` examined by ``commission``: pieces to
    check (one of them shared by the candidate's applications), one with a decision entered but not validated (the
    decision pages have something to show), mails in the outbox."""
    centre.label = "Centre de candidature de l'UFR Sciences et techniques des activités physiques et sportives"
    centre.save(update_fields=["label"])  # a long label: the new formation's "pre-fill" list of centres names it
    formation = FormationFactory(centre=centre, commission=commission, code="M2ISER", title=LONG_TITLE)
    pieces = [
        PieceTypeFactory(is_common=True, is_unique=True, label="Lettre de motivation manuscrite et signée"),
        PieceTypeFactory(is_common=True, is_unique=False, label="Relevé de notes de toutes les années post-bac"),
    ]
    favourable = DecisionTypeFactory(avis=Avis.FAVOURABLE, label="Favorable", candidate_label="Avis favorable")
    applications = []
    for name in ("ARNAUD-DE-LA-CHAPELLE-ST-MARC", "BERTIN", "CHEVALIER"):
        candidate = complete_candidate(user__campaign=campaign, birth_name=name, first_name="Marie-Ségolène")
        application = candidature.create_application(candidate=candidate, formation=formation, actor=candidate.user)
        for piece in pieces:
            upload = SimpleUploadedFile(
                "releve-de-notes-licence-premiere-deuxieme-troisieme-annees.pdf",
                pdf_bytes(piece.label),
                content_type="application/pdf",
            )
            piece_services.upload_piece(
                application=application, piece_type=piece, uploaded_file=upload, actor=candidate.user
            )
        candidature.transmit_application(application=application, actor=candidate.user)
        applications.append(application)
    for application in applications:
        staff.record_decision(application, decision_type=favourable, actor=manager)
    return applications


def _path(href: str) -> str:
    """The address without the list's filters that a page carries along (the same page, whatever the list)."""
    parts = urlsplit(href)
    query = "&".join(part for part in parts.query.split("&") if part and not part.startswith("_changelist_filters="))
    return parts.path + (f"?{query}" if query else "")


def _links(page, selector: str) -> list[str]:
    hrefs = page.eval_on_selector_all(selector, "els => els.map((a) => a.getAttribute('href'))")
    return [
        _path(href)
        for href in hrefs
        if href and href.startswith("/gestion/") and not NOT_A_PAGE.search(href) and "#" not in href
    ]


def _pages_of(page, live_server) -> list[str]:
    """The home page, what it links to, each list's first row, and an application's operations."""
    page.goto(f"{live_server.url}/gestion/")
    found = ["/gestion/", *_links(page, "#content a[href]")]
    for path in list(dict.fromkeys(found[1:])):
        page.goto(live_server.url + path)
        if page.locator("#result_list").count():
            found += _links(page, "#result_list tbody tr:first-child a[href]")[:1]
            found += _links(page, ".object-tools a[href]")
    for path in [p for p in dict.fromkeys(found) if re.fullmatch(r"/gestion/applications/application/\d+/change/", p)]:
        page.goto(live_server.url + path)
        found += _links(page, ".review-operations a[href]")
    return list(dict.fromkeys(found))


# The pages the brief names, by persona: each must have been reached from the menu.
EXPECTED = {
    "central_manager": [
        r"/gestion/$",
        r"/gestion/applications/application/$",
        r"/gestion/applications/application/\d+/change/$",
        r"/gestion/applications/application/\d+/operation/enter_decision/$",
        r"/gestion/applications/application/\d+/operation/validate_decisions/$",
        r"/gestion/offers/commission/$",
        r"/gestion/offers/commission/\d+/change/$",
        r"/gestion/offers/formation/$",
        r"to_check=yes",
        r"/gestion/ecandidat/outboundemail/$",
        r"/gestion/applications/opi/$",
        r"/gestion/applications/application/dashboard/",
        r"/gestion/applications/application/export-colonnes/",
        r"/gestion/ecandidat/parameteroverride/$",
    ],
    "centre_manager": [
        r"/gestion/applications/application/$",
        r"/gestion/applications/application/\d+/change/$",
        r"/gestion/applications/application/\d+/operation/validate_decisions/$",
        r"/gestion/offers/commission/$",
        r"/gestion/offers/formation/$",
        r"to_check=yes",
    ],
    "commission_member": [
        r"/gestion/applications/application/$",
        r"/gestion/applications/application/\d+/change/$",
        r"/gestion/applications/application/\d+/operation/enter_decision/$",
    ],
    "read_only_staff": [r"/gestion/applications/application/$", r"/gestion/applications/application/\d+/change/$"],
}


@pytest.mark.parametrize("persona_name", list(EXPECTED))
def test_no_back_office_page_scrolls_sideways_on_a_phone(
    live_server, transactional_db, browser_page, campaign, centre, commission, persona_name, request
):
    user = request.getfixturevalue(persona_name)
    for other in EXPECTED:  # every persona exists, as in a real centre
        request.getfixturevalue(other)
    _the_centre(campaign, centre, commission, request.getfixturevalue("centre_manager"))
    page = browser_page
    _log_in_staff(page, live_server, user)

    page.set_viewport_size({"width": 1280, "height": 900})
    pages = _pages_of(page, live_server)
    missing = [pattern for pattern in EXPECTED[persona_name] if not any(re.search(pattern, p) for p in pages)]
    assert missing == [], f"not reached from the menu: {missing} (reached: {pages})"

    problems = []
    for width in (*PHONES, 1280):
        page.set_viewport_size({"width": width, "height": 812 if width < 1000 else 900})
        for path in pages:
            response = page.goto(live_server.url + path)
            assert response is not None, path
            assert response.status == 200, f"{path}: {response.status}"
            for problem in page.evaluate(OVERFLOW_JS):
                problems.append(f"{width}px {path}: {problem}")
            for scroller in page.evaluate(SCROLLERS_JS):
                problems.append(f"{width}px {path}: {scroller} scrolls but cannot take the focus or has no name")
            if width == PHONES[0]:
                problems += [f"{width}px {path}: {violation}" for violation in serious_axe_violations(page)]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("width", PHONES)
def test_the_superusers_connection_tests_fit_a_phone(live_server, transactional_db, browser_page, admin_user, width):
    """« Tests de connexion » (superusers only, so out of the walk above): its tables pushed the page 127 px past a
    375 px screen and 182 px past a 320 px one (the demo's longer settings, 156 px at 375). Each now scrolls inside
    its own named box."""
    page = browser_page
    _log_in_staff(page, live_server, admin_user)
    page.set_viewport_size({"width": width, "height": 812})

    response = page.goto(live_server.url + "/gestion/ecandidat/maintenanceswitch/connectivity/")

    assert response is not None
    assert response.status == 200
    assert page.locator("#connectivity-results tbody tr").count() > 5
    assert page.evaluate(OVERFLOW_JS) == []
    assert page.evaluate(SCROLLERS_JS) == []
    assert serious_axe_violations(page) == []


def test_a_history_page_titled_with_a_long_address_fits_a_phone(
    live_server, transactional_db, browser_page, admin_user
):
    """A page's title names its object, one long word when it is an e-mail address (« Historique des changements :
    marie.segolene.arnauddelachapelle@example.org », out of the walk above: history pages are not linked from the
    lists): it wrapped nowhere and pushed the page past a 320 px screen."""
    candidate = complete_candidate(user__email="marie.segolene.arnauddelachapelle@example.org")
    address = EmailAddress.objects.get(user=candidate.user)
    page = browser_page
    _log_in_staff(page, live_server, admin_user)
    page.set_viewport_size({"width": 320, "height": 812})

    response = page.goto(f"{live_server.url}/gestion/account/emailaddress/{address.pk}/history/")

    assert response is not None
    assert response.status == 200
    assert "arnauddelachapelle@example.org" in page.locator("#content h1").inner_text()
    problems = page.evaluate(OVERFLOW_JS)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("width", PHONES)
def test_a_history_line_naming_a_long_address_fits_a_phone(
    live_server, transactional_db, browser_page, candidates_manager, width
):
    """The helpdesk changes a candidate's address: the dossier's « Historique » says « Adresse mail du compte :
    old → new », two long words in one cell, and pushed the page 80 px past a 375 px screen."""
    candidate = complete_candidate(user__email="marie.segolene.arnauddelachapelle@example.org")
    page = browser_page
    _log_in_staff(page, live_server, candidates_manager)
    page.set_viewport_size({"width": width, "height": 812})
    page.goto(f"{live_server.url}/gestion/applications/candidate/{candidate.pk}/adresse-mail/")
    page.fill("input[name=email]", "marie-segolene.arnaud-de-la-chapelle@example.org")
    page.fill("input[name=email2]", "marie-segolene.arnaud-de-la-chapelle@example.org")
    page.click("#content form [type=submit]")
    page.wait_for_url("**/change/")

    response = page.goto(f"{live_server.url}/gestion/applications/candidate/{candidate.pk}/history/")

    assert response is not None
    assert response.status == 200
    assert "arnaud-de-la-chapelle@example.org" in page.locator("#change-history td").last.inner_text()
    problems = page.evaluate(OVERFLOW_JS)
    assert problems == [], "\n".join(problems)


def test_a_list_title_beside_its_object_tools_keeps_its_words_whole_at_1280(
    live_server, transactional_db, browser_page, admin_user
):
    """The rule above that lets a title wrap anywhere on a phone applied at every width: at 1,280 px the
    applications list's « Candidatures », beside its six object tools, shrank to « Candidatu / res »."""
    page = browser_page
    _log_in_staff(page, live_server, admin_user)
    page.set_viewport_size({"width": 1280, "height": 812})

    response = page.goto(f"{live_server.url}/gestion/applications/application/")

    assert response is not None
    assert response.status == 200
    title = page.locator("#content h1")
    assert title.inner_text() == "Candidatures"
    lines = title.evaluate(
        "h1 => { const r = document.createRange(); r.selectNodeContents(h1); return r.getClientRects().length; }"
    )
    assert lines == 1


@pytest.mark.parametrize("width", [*PHONES, 1280])
def test_a_saved_filters_delete_button_is_beside_it_and_big_enough_to_tap(
    live_server, transactional_db, browser_page, centre_manager, width
):
    """« Mes filtres enregistrés »: the « × » that deletes a filter was a 21 × 20 px box on its own line, right under
    the next filter's name on a phone. It now sits on its filter's line, 44 px high and wide (WCAG 2.5.5), as the
    filter's link; it leads to a page that asks to confirm (it deleted at once), without JavaScript."""
    saved_filters.save_filter(user=centre_manager, label="Réceptionnés", query="dossier_status=RE")
    saved_filters.save_filter(user=centre_manager, label="À contrôler", query="to_check=yes")
    page = browser_page
    _log_in_staff(page, live_server, centre_manager)
    page.set_viewport_size({"width": width, "height": 812})

    page.goto(live_server.url + "/gestion/applications/application/")
    page.evaluate("document.querySelector('#saved-filters').open = true")

    for item in page.locator("#saved-filters li").all():
        link = item.locator("a").first.bounding_box()
        cross = item.locator("a.delete-filter-link").bounding_box()
        assert link is not None
        assert cross is not None
        assert min(cross["width"], cross["height"], link["height"]) >= 44
        assert abs((link["y"] + link["height"] / 2) - (cross["y"] + cross["height"] / 2)) < 2  # one line
    assert page.evaluate(OVERFLOW_JS) == []

    page.get_by_role("link", name="Supprimer le filtre « À contrôler »").click()
    page.wait_for_load_state()

    assert page.get_by_role("heading", name="Supprimer le filtre « À contrôler » ?").is_visible()
    assert page.evaluate(OVERFLOW_JS) == []
    assert serious_axe_violations(page) == []
    yes = page.get_by_role("button", name="Oui, supprimer").bounding_box()
    no = page.get_by_role("link", name="Non, revenir à la liste").bounding_box()
    assert yes is not None
    assert no is not None
    assert min(yes["height"], no["height"]) >= 44
    page.get_by_role("button", name="Oui, supprimer").click()
    page.wait_for_load_state()

    assert page.get_by_text("Filtre « À contrôler » supprimé.").is_visible()
    assert [
        label.strip() for label in page.locator("#saved-filters li > a:not(.delete-filter-link)").all_inner_texts()
    ] == ["Réceptionnés"]


@pytest.mark.parametrize("width", [*PHONES, 1280])
@pytest.mark.parametrize("path", ["/gestion/accounts/candidateaccount/", "/gestion/applications/application/"])
def test_a_search_for_a_lone_apostrophe_says_there_is_nothing_to_look_for(
    live_server, transactional_db, browser_page, central_manager, path, width
):
    """A search for « ' » listed every row, as if it had matched; the list is now empty and says why, next to the
    box, within the screen's width, without a serious axe violation (the icon-labelled box is not "described")."""
    page = browser_page
    _log_in_staff(page, live_server, central_manager)
    page.set_viewport_size({"width": width, "height": 812})

    page.goto(live_server.url + path)
    page.fill("#searchbar", "'")
    page.locator("#changelist-search [type=submit]").click()
    page.wait_for_load_state()

    note = page.locator("#searchbar_blank")
    assert note.is_visible()
    assert note.inner_text().startswith("Votre recherche ne contient rien à chercher")
    assert page.locator("#searchbar").get_attribute("aria-invalid") == "true"
    assert page.locator("#result_list").count() == 0
    assert page.evaluate(OVERFLOW_JS) == []
    assert serious_axe_violations(page) == []


# WCAG 2.5.8 (target size, minimum): a target smaller than 24 × 24 px passes only if a 24 px circle centred on it
# touches no other target and no other small target's circle. Links inside a sentence are exempt (display inline, in
# a text longer than their own); a box or a radio button with a label is as big as its label (a click on it ticks
# the box); what is not shown (hidden, in a closed <details>, scrolled out of its box) is left out.
# devtools/qa/crawl.py counts the same.
SMALL_TARGETS_JS = """
() => {
  // Out of sight in a box that scrolls sideways (a wide table's last columns): not within a finger's reach.
  const scrolledAway = (e) => { const r = e.getBoundingClientRect();
    for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX === 'visible') continue;
      const b = p.getBoundingClientRect();
      if (r.right <= b.left || r.left >= b.right) return true;
    }
    return false; };
  const all = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')]
    .filter((e) => e.getClientRects().length && e.checkVisibility({visibilityProperty: true})
      && !e.closest('[hidden], .visually-hidden') && !scrolledAway(e))
    .map((e) => { const labelled = ['checkbox', 'radio'].includes(e.type) && e.labels && e.labels.length;
      const r = (labelled ? e.labels[0] : e).getBoundingClientRect();
      return {e, r, x: r.x + r.width / 2, y: r.y + r.height / 2, small: r.width && Math.min(r.width, r.height) < 24};
    });
  const inSentence = (e) => e.tagName === 'A' && getComputedStyle(e).display === 'inline'
    && e.parentElement.textContent.trim().length > e.textContent.trim().length + 15;
  const touches = (o, t) => Math.hypot(Math.max(t.r.left, Math.min(o.x, t.r.right)) - o.x,
    Math.max(t.r.top, Math.min(o.y, t.r.bottom)) - o.y) < 12;
  const name = (e) => e.tagName.toLowerCase() + ' "' + (e.textContent || e.value || '').trim().slice(0, 30) + '"';
  return all.filter((o) => o.small && !inSentence(o.e)).flatMap((o) => {
    const other = all.find((t) => t !== o && !t.e.contains(o.e) && !o.e.contains(t.e)
      && (touches(o, t) || (t.small && Math.hypot(t.x - o.x, t.y - o.y) < 24)));
    const size = `${Math.round(o.r.width)}×${Math.round(o.r.height)} px`;
    return other ? [`${name(o.e)} ${size}, beside ${name(other.e)}`] : [];
  });
}
"""


@pytest.mark.parametrize("width", [375, 1280])
def test_the_header_the_home_and_the_list_filters_are_big_enough_to_tap(
    live_server, transactional_db, browser_page, campaign, centre, commission, centre_manager, width
):
    """The header's user links and the language switch's « Changer » (14 to 21 px high), a list's filters (20 px, one
    under the other), « Tout afficher » (14 px), « Enregistrer » a filter (19 px) and the home's « Les chiffres par
    jour » (16 px, above a link) were below WCAG 2.5.8's 24 px with a neighbour within reach; they are 24 px high
    or more, and no target of these pages, nor of a few others (breadcrumbs, sort icons, lists of boxes), is small
    and crowded."""
    applications = _the_centre(campaign, centre, commission, centre_manager)
    page = browser_page
    _log_in_staff(page, live_server, centre_manager)
    page.set_viewport_size({"width": width, "height": 812})

    page.goto(live_server.url + "/gestion/")
    header = "#user-tools a, #logout-form button, #user-tools .lang-switch button"
    home = f"{header}, .centre-home summary, .centre-home details + p > a"
    heights = page.eval_on_selector_all(home, "els => els.map((e) => e.getBoundingClientRect().height)")
    assert len(heights) == 6
    assert min(heights) >= 24
    assert page.evaluate(SMALL_TARGETS_JS) == []

    page.goto(live_server.url + "/gestion/applications/application/?q=BERTIN")
    page.evaluate("document.querySelector('#saved-filters').open = true")
    listing = f"{header}, #changelist-filter li a, #changelist-search .quiet a, .saved-filters form .button"
    heights = page.eval_on_selector_all(listing, "els => els.map((e) => e.getBoundingClientRect().height)")
    assert len(heights) > 15
    assert min(heights) >= 24
    assert page.evaluate(SMALL_TARGETS_JS) == []
    assert page.evaluate(OVERFLOW_JS) == []

    # The breadcrumbs (on two lines on a phone), a sorted column's icons, the export's boxes one under the other, the
    # radio buttons of an application made for a candidate, a piece's « Aperçu » and « Historique de la pièce ».
    for path in (
        f"/gestion/applications/candidate/{applications[0].candidate_id}/change/",
        "/gestion/applications/candidate/?o=1",
        "/gestion/applications/application/export-colonnes/",
        "/gestion/applications/application/pour-le-candidat/candidature/",
        f"/gestion/applications/application/{applications[0].pk}/change/",
    ):
        page.goto(live_server.url + path)
        assert page.evaluate(SMALL_TARGETS_JS) == [], path
        assert page.evaluate(OVERFLOW_JS) == [], path
