"""An OPI's page names its PJ-OPI: each piece's COD_TPJ, its type and where it stands (« En attente », « Déversée le
06/07/2026 », « fichier absent du stockage » when its file was deleted since), in queries that do not grow with the
number of pieces; nothing when it has none. Only the central office sees the page: other staff do not find it (404).
The OPI list's « PJ-OPI en attente » filter (an ``Exists`` subquery: no query more)."""

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format
from playwright.sync_api import expect

from applications.models import Opi, OpiPiece
from applications.opi.services import transfer_opis
from applications.tests.helpers import staff_login, staff_with_authenticator_app
from applications.tests.opi.helpers import ID_BYTES, QUERIES_SCREEN, admit, confirm, make_candidate, piece
from ecandidat.batches import Report
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations
from offers.models import PieceType
from offers.tests.factories import PieceTypeFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")

# The OPI's page (the OPI with its application, candidate and formation: one query) and its PJ-OPI with
# their piece types: one query, whatever their number (one query also finds that it has none).
QUERIES_PAGE = 10
LABELS = ["Carte d'identité ou passeport", "Relevé de notes du baccalauréat", "Attestation de la CVEC"]
CODES = ["CNI", "RBAC", "CVEC"]
LONG_LABEL = (
    "Attestation d'acquittement de la contribution de vie étudiante et de campus (CVEC) pour l'année universitaire "
    "en cours, délivrée par le CROUS"
)


@pytest.fixture(autouse=True)
def _apogee_with_pieces(settings):
    settings.OPI_BACKEND = "apogee"
    settings.OPI_PIECES = True


def transferred_with_pieces(campaign, formation, manager, decision_type, count, *, username="AB123456") -> Opi:
    """A confirmed candidate with ``count`` validated pieces that have an Apogée code, transferred with them."""
    candidate = make_candidate(campaign, username=username, ine="")
    application = admit(candidate, formation, manager=manager, decision_type=decision_type)
    for code, label in list(zip(CODES, LABELS, strict=True))[:count]:
        piece(application, PieceTypeFactory(siscol_code=code, label=label), ID_BYTES)
    confirm(application)
    transfer_opis(Report())
    return Opi.objects.get(application=application)


def page_of(client, opi):
    return client.get(reverse("admin:applications_opi_change", args=[opi.pk]))


def test_the_page_names_each_piece_and_where_it_stands(
    client, django_assert_num_queries, central_manager, campaign, formation, centre_manager, opi_type
):
    opi = transferred_with_pieces(campaign, formation, centre_manager, opi_type, 3)
    day = OpiPiece.objects.get(siscol_code="CNI").day
    OpiPiece.objects.filter(siscol_code__in=["RBAC", "CVEC"]).update(day=None, transferred_at=None)
    # The CVEC's file deleted since (its row's document emptied, SET_NULL): the page says so, never asking the storage.
    OpiPiece.objects.filter(siscol_code="CVEC").update(document=None)
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_PAGE):
        page = page_of(client, opi).content.decode()

    assert "<label>PJ-OPI\N{NO-BREAK SPACE}:</label>" in page
    assert (
        '<table class="opi-pieces"><thead><tr><th scope="col">COD_TPJ</th><th scope="col">Pièce justificative</th>'
        '<th scope="col">État</th></tr></thead><tbody>'
        # in the order of their codes
        '<tr><td>CNI</td><td lang="fr">Carte d&#x27;identité ou passeport</td>'
        f'<td>Déversée le <span class="nowrap">{day:%d/%m/%Y}</span></td></tr>'
        '<tr><td>CVEC</td><td lang="fr">Attestation de la CVEC</td>'
        "<td>En attente<br><strong>fichier absent du stockage</strong></td></tr>"
        '<tr><td>RBAC</td><td lang="fr">Relevé de notes du baccalauréat</td><td>En attente</td></tr>'
        "</tbody></table>"
    ) in page


def test_the_page_reads_in_english(client, central_manager, campaign, formation, centre_manager, opi_type):
    opi = transferred_with_pieces(campaign, formation, centre_manager, opi_type, 2)
    day = OpiPiece.objects.get(siscol_code="CNI").day
    OpiPiece.objects.filter(siscol_code="RBAC").update(day=None, transferred_at=None, document=None)
    client.force_login(central_manager)

    page = client.get(reverse("admin:applications_opi_change", args=[opi.pk]), language="en").content.decode()

    assert '<th scope="col">Piece type</th><th scope="col">State</th>' in page
    with translation.override("en"):
        shown = date_format(day, "SHORT_DATE_FORMAT")  # "4 Dec 2026"
    assert f'<td>Transferred on <span class="nowrap">{shown}</span></td>' in page
    assert "<td>Pending<br><strong>file missing from the storage</strong></td>" in page


@pytest.mark.parametrize("count", [1, 3])
def test_the_pieces_cost_one_query_whatever_their_number(
    client, django_assert_num_queries, central_manager, campaign, formation, centre_manager, opi_type, count
):
    opi = transferred_with_pieces(campaign, formation, centre_manager, opi_type, count)
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_PAGE):
        page = page_of(client, opi).content.decode()

    assert page.count("<td>Déversée le ") == count
    assert [f'<tr><td>{code}</td><td lang="fr">' in page for code in CODES] == [n < count for n in range(3)]


@pytest.mark.parametrize("pieces_on", [True, False])
def test_nothing_for_an_opi_without_pieces(
    settings,
    client,
    django_assert_num_queries,
    central_manager,
    campaign,
    formation,
    centre_manager,
    opi_type,
    pieces_on,
):
    """No piece sent (the parameter off, or none with an Apogée code): no « PJ-OPI » line, not an empty table."""
    settings.OPI_PIECES = pieces_on
    opi = transferred_with_pieces(campaign, formation, centre_manager, opi_type, 0 if pieces_on else 2)
    assert not opi.pieces.exists()
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_PAGE):
        response = page_of(client, opi)

    assert response.status_code == 200
    assert "PJ-OPI" not in response.content.decode()


def test_pieces_recorded_while_on_stay_shown_once_off(
    settings, client, central_manager, campaign, formation, centre_manager, opi_type
):
    opi = transferred_with_pieces(campaign, formation, centre_manager, opi_type, 1)
    settings.OPI_PIECES = False
    client.force_login(central_manager)

    assert '<tr><td>CNI</td><td lang="fr">' in page_of(client, opi).content.decode()


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("central_manager", 200),
        # Not the centre managers' 403 of the screen: an OPI outside their scope is not found, as an outsider's.
        ("centre_manager", 404),
        ("other_centre_manager", 404),
        ("commission_member", 404),
        ("read_only_staff", 404),
        ("candidate_user", 302),  # the back office sends candidates to its login page
        ("anonymous", 302),
    ],
)
def test_only_the_central_office_sees_an_opis_page(
    request, client, campaign, formation, centre_manager, opi_type, persona, expected
):
    opi = transferred_with_pieces(campaign, formation, centre_manager, opi_type, 1)
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))

    response = page_of(client, opi)

    assert response.status_code == expected
    if expected == 302:
        assert "login" in response["Location"]
    else:
        assert ("CNI" in response.content.decode()) is (expected == 200)


def test_an_unknown_opis_page_is_404(client, central_manager, db):
    client.force_login(central_manager)

    assert client.get(reverse("admin:applications_opi_change", args=[999999])).status_code == 404


def test_the_list_filters_the_opis_with_pending_pieces_in_the_same_queries(
    client, django_assert_num_queries, central_manager, campaign, formation, centre_manager, opi_type
):
    waiting = transferred_with_pieces(campaign, formation, centre_manager, opi_type, 2, username="AB000001")
    sent = transferred_with_pieces(campaign, formation, centre_manager, opi_type, 1, username="AB000002")
    none = transferred_with_pieces(campaign, formation, centre_manager, opi_type, 0, username="AB000003")
    waiting.pieces.filter(siscol_code="RBAC").update(day=None, transferred_at=None)
    url = reverse("admin:applications_opi_changelist")
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_SCREEN + 1):  # the PJ-OPI counters, as without the filter
        pending = client.get(url, {"pieces_pending": "yes"})
    others = client.get(url, {"pieces_pending": "no"})

    assert list(pending.context["cl"].result_list) == [waiting]
    assert set(others.context["cl"].result_list) == {sent, none}
    assert [spec.title for spec in pending.context["cl"].filter_specs][-1] == "PJ-OPI en attente"
    assert "?pieces_pending=yes" in pending.content.decode()


def test_no_pieces_filter_when_the_pieces_do_not_go(settings, client, central_manager, db):
    settings.OPI_PIECES = False
    client.force_login(central_manager)

    response = client.get(reverse("admin:applications_opi_changelist"))

    assert "pieces_pending" not in response.content.decode()


@pytest.mark.browser
@pytest.mark.parametrize("width", [320, 375, 1280])
def test_the_pieces_fit_a_phone_and_a_desktop(
    browser_page, live_server, tmp_path, campaign, formation, centre_manager, opi_type, width
):
    """Three pieces, one of them a long label and one pending without its file: no page-wide scrolling, the table
    within the page (its cells wrap), at 320, 375 and 1,280 px. axe-core finds no serious violation."""
    opi = transferred_with_pieces(campaign, formation, centre_manager, opi_type, 3)
    PieceType.objects.filter(siscol_code="CVEC").update(label=LONG_LABEL)
    OpiPiece.objects.filter(siscol_code="CVEC").update(day=None, transferred_at=None, document=None)
    central, secret = staff_with_authenticator_app(central=True)
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})

    staff_login(page, live_server, central, secret)
    page.goto(f"{live_server.url}{reverse('admin:applications_opi_change', args=[opi.pk])}")

    table = page.locator("table.opi-pieces")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table).to_contain_text("fichier absent du stockage")
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0
    box = table.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= width + 0.5
    assert_no_serious_axe_violations(page)
    page.screenshot(path=str(tmp_path / f"opi-pieces-{width}.png"), full_page=True)
