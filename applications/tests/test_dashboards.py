"""The dashboards (ecandidat-features §2.9): per formation, per application centre and per commission, in each
persona's scope, with the formations' capacité d'accueil (§2.8), the out-of-service option, the exports, and one
aggregate query per table whatever the number of lines."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import expect

from accounts.tests.factories import StaffMembershipFactory
from applications.enums import DossierStatus
from applications.services import staff
from applications.tests.factories_candidature import decide, decision_type, make_application
from applications.tests.helpers import admin_form_data, staff_login, staff_with_authenticator_app
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations
from offers import demo as offers_demo
from offers.enums import Avis
from offers.models import Formation
from offers.tests.factories import CampaignFactory, CentreFactory, CommissionFactory, FormationFactory

URL = "admin:applications_application_dashboard"


def dashboard(client, **params):
    return client.get(reverse(URL), params)


def lines(response):
    """(code, title, applications, capacity) per line of the table."""
    return [(row.code, row.title, row.counts["total"], row.capacity) for row, _values in response.context["rows"]]


def answered(application, *, accepted: bool):
    application.accepted = accepted
    application.answered_at = timezone.now()
    application.save(update_fields=["accepted", "answered_at"])


@pytest.fixture
def second_commission(centre):
    return CommissionFactory(centre=centre, code="COM-B", label="Commission B")


@pytest.fixture
def catalogue(centre, commission, second_commission, other_centre, campaign, centre_manager):
    """In ``centre``: MINFO (capacity 30, ``commission``) with four applications (one confirmed after a validated
    favourable decision, one withdrawn, one cancelled, one with a decision not yet validated), MMATH (capacity 20,
    the second commission) with one, MPHYS (capacity unknown, the second commission) with none. In
    ``other_centre``: MDROIT (capacity 50) with one."""
    commission.code, commission.label = "COM-A", "Commission A"
    commission.save()
    centre.code = "SEE"
    centre.save()
    minfo = FormationFactory(centre=centre, commission=commission, code="MINFO", title="Informatique", capacity=30)
    mmath = FormationFactory(
        centre=centre, commission=second_commission, code="MMATH", title="Mathématiques", capacity=20
    )
    FormationFactory(centre=centre, commission=second_commission, code="MPHYS", title="Physique")
    mdroit = FormationFactory(centre=other_centre, code="MDROIT", title="Droit", capacity=50)

    confirmed = make_application(minfo, campaign=campaign, status=DossierStatus.COMPLETE)
    decide(confirmed, Avis.FAVOURABLE, actor=centre_manager)
    answered(confirmed, accepted=True)
    withdrawn = make_application(minfo, campaign=campaign, status=DossierStatus.COMPLETE)
    answered(withdrawn, accepted=False)
    make_application(minfo, campaign=campaign, status=DossierStatus.WAITING, cancelled_at=timezone.now())
    pending = make_application(minfo, campaign=campaign, status=DossierStatus.COMPLETE)
    staff.record_decision(pending, decision_type=decision_type(Avis.WAITING_LIST), actor=centre_manager)
    make_application(mmath, campaign=campaign, transmitted_at=timezone.now())
    make_application(mdroit, campaign=campaign)


# --- who sees what ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),  # not staff: sent to the admin's login page
        ("centre_manager", 200),
        ("other_centre_manager", 200),  # their own centre's lines only, below
        ("commission_member", 200),
        ("central_manager", 200),
        ("read_only", 200),
    ],
    indirect=["persona"],
)
@pytest.mark.parametrize("group", ["formation", "centre", "commission"])
def test_every_grouping_is_open_to_staff_only(client, persona, catalogue, expected, group):
    client.force_login(persona)

    response = dashboard(client, group=group)

    assert response.status_code == expected


def test_a_staff_account_without_a_scope_is_refused(client, django_user_model):
    outsider = django_user_model.objects.create_user("sans.role", password="x", is_staff=True)  # noqa: S106
    client.force_login(outsider)

    assert dashboard(client).status_code == 403


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("central_manager", ["MDROIT", "SEE"]),
        ("centre_manager", ["SEE"]),
        ("read_only", ["SEE"]),
        ("other_centre_manager", ["MDROIT"]),
        ("commission_member", ["SEE"]),
    ],
    indirect=["persona"],
)
def test_per_centre_each_persona_sees_only_their_centres(client, persona, catalogue, other_centre, expected):
    other_centre.code = "MDROIT"
    other_centre.save()
    client.force_login(persona)

    response = dashboard(client, group="centre")

    assert [row.code for row, _values in response.context["rows"]] == expected


def test_per_commission_a_member_sees_only_their_commission(client, commission_member, catalogue):
    client.force_login(commission_member)

    per_commission = dashboard(client, group="commission")
    per_centre = dashboard(client, group="centre")

    assert lines(per_commission) == [("COM-A", "Commission A", 3, 30)]
    assert lines(per_centre) == [("SEE", "UFR Sciences Exactes et Expérimentales", 3, 30)]  # COM-B is not theirs


def test_a_member_counts_only_the_statuses_their_commission_shows(client, commission_member, catalogue, commission):
    """As the list (``Application.objects.visible_to``): a commission that hides the complete dossiers from its
    members hides them from their counts too; the centre's managers still count them all."""
    commission.shows_complete = False
    commission.save()
    client.force_login(commission_member)

    per_commission = dashboard(client, group="commission")

    assert lines(per_commission) == [("COM-A", "Commission A", 0, 30)]  # MINFO's three active ones are complete


def test_the_centres_managers_still_count_every_status(client, centre_manager, catalogue, commission):
    commission.shows_complete = False
    commission.save()
    client.force_login(centre_manager)

    assert ("COM-A", "Commission A", 3, 30) in lines(dashboard(client, group="commission"))


# --- the figures ------------------------------------------------------------------------------------------------


def test_per_formation_counts_capacity_and_admitted_share(client, centre_manager, catalogue):
    client.force_login(centre_manager)

    response = dashboard(client)

    assert response.context["grouping"].key == "formation"
    assert lines(response) == [
        ("MINFO", "Informatique", 3, 30),
        ("MMATH", "Mathématiques", 1, 20),
        ("MPHYS", "Physique", 0, None),  # no application yet: still a line, with its zeros
    ]
    minfo = response.context["rows"][0][0]
    assert minfo.counts == {
        "total": 3,
        "cancelled": 1,
        "transmitted": 0,
        "status_AT": 0,
        "status_RE": 0,
        "status_IN": 0,
        "status_CO": 3,
        "avis_FA": 1,
        "avis_DE": 0,
        "avis_LC": 0,
        "avis_LA": 1,
        "avis_PR": 0,
        "validated": 1,
        "not_validated": 1,
        "confirmed": 1,
        "withdrawn": 1,
    }
    assert minfo.admitted_share == "1 / 30 (3 %)"
    assert response.context["total_row"].capacity == 50  # 30 + 20, MPHYS's is unknown
    content = response.content.decode()
    assert "1 / 30 (3 %)" in content
    assert "0 / 20 (0 %)" in content


def test_per_centre_and_per_commission_sum_the_counts_and_the_known_capacities(client, central_manager, catalogue):
    client.force_login(central_manager)

    per_centre = dashboard(client, group="centre")
    per_commission = dashboard(client, group="commission")

    see = next(row for row, _values in per_centre.context["rows"] if row.code == "SEE")
    assert (see.counts["total"], see.counts["cancelled"], see.counts["transmitted"], see.capacity) == (4, 1, 1, 50)
    assert (see.counts["avis_FA"], see.counts["validated"], see.counts["not_validated"]) == (1, 1, 1)
    assert per_centre.context["total"][0] == 5  # every centre's applications
    assert per_centre.context["total_row"].capacity == 100
    by_code = {row.code: (row.counts["total"], row.capacity) for row, _values in per_commission.context["rows"]}
    assert by_code["COM-A"] == (3, 30)
    assert by_code["COM-B"] == (1, 20)  # MMATH's 20, MPHYS unknown
    assert "Admitted (confirmed) / capacity" not in per_centre.content.decode()  # per formation only


def test_a_centre_or_commission_without_any_known_capacity_shows_none(client, central_manager, campaign):
    formation = FormationFactory(code="MX")
    make_application(formation, campaign=campaign)
    client.force_login(central_manager)

    response = dashboard(client, group="commission")

    assert lines(response) == [(formation.commission.code, formation.commission.label, 1, None)]
    assert response.context["total_row"].capacity is None


def test_another_campaigns_applications_are_not_counted(client, central_manager, catalogue):
    old = CampaignFactory(is_active=False, code="OLD")
    client.force_login(central_manager)

    response = dashboard(client, campaign=old.pk, group="centre")

    assert [row.counts["total"] for row, _values in response.context["rows"]] == [0, 0]


def test_out_of_service_formations_only_on_request(client, central_manager, campaign, centre):
    FormationFactory(centre=centre, code="AON", capacity=10)
    closed = FormationFactory(centre=centre, code="BOFF", capacity=5, in_service=False)
    make_application(closed, campaign=campaign)
    closed_centre = CentreFactory(in_service=False)
    FormationFactory(centre=closed_centre, code="CCLOSED")
    client.force_login(central_manager)

    default = dashboard(client)
    included = dashboard(client, out_of_service="1")
    per_centre = dashboard(client, group="centre", out_of_service="1")

    assert [row.code for row, _values in default.context["rows"]] == ["AON"]
    assert [row.code for row, _values in included.context["rows"]] == ["AON", "BOFF", "CCLOSED"]
    assert included.context["total_row"].capacity == 15
    assert [row.capacity for row, _values in per_centre.context["rows"] if row.code == centre.code] == [15]
    assert 'name="out_of_service" value="1" id="id_out_of_service" checked' in included.content.decode()
    assert " checked" not in default.content.decode().split('id="id_out_of_service"')[1].split(">")[0]


def test_the_centre_filter_applies_to_every_grouping(client, central_manager, catalogue, centre):
    client.force_login(central_manager)

    response = dashboard(client, group="commission", centre=centre.pk)

    assert [row.code for row, _values in response.context["rows"]] == ["COM-A", "COM-B"]


# --- the page ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "heading"), [("formation", "Formation"), ("centre", "Application centre")])
def test_the_current_grouping_is_marked_and_kept_by_the_form(client, centre_manager, catalogue, group, heading):
    client.force_login(centre_manager)

    response = dashboard(client, group=group)

    content = response.content.decode()
    campaign = response.context["campaign"].pk
    for choice, label in [
        ("formation", "Per formation"),
        ("centre", "Per application centre"),
        ("commission", "Per commission"),
    ]:
        link = f'<a href="?campaign={campaign}&amp;group={choice}"'
        marked = f'{link} aria-current="page">{label}</a>'
        assert (marked in content) is (choice == group)
        assert f"{link}>{label}</a>" in content or choice == group
    assert f'<input type="hidden" name="group" value="{group}">' in content
    assert f'<th scope="col">{heading}</th>' in content


def test_an_unknown_grouping_falls_back_to_per_formation(client, centre_manager, catalogue):
    client.force_login(centre_manager)

    assert dashboard(client, group="nope").context["grouping"].key == "formation"


def test_the_table_is_captioned_with_headers_and_numbers_aligned(client, centre_manager, catalogue, campaign):
    client.force_login(centre_manager)

    content = dashboard(client, out_of_service="1").content.decode()

    assert (
        '<caption id="dashboard-caption"><span>Applications per formation — '
        f'<span lang="fr">{campaign.label}</span> — out-of-service formations included</span></caption>'
    ) in content
    assert '<div class="dashboard-table" role="region" aria-labelledby="dashboard-caption" tabindex="0">' in content
    assert '<th scope="row">MINFO</th>' in content
    assert '<th scope="col" class="num">Capacity</th>' in content
    assert '<td class="num">30</td>' in content
    assert "css/admin_dashboard.css" in content


def test_the_counts_of_applications_are_plural_in_french(
    client, centre_manager, catalogue, campaign, django_assert_num_queries
):
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES):
        content = client.get(reverse(URL), language="fr").content.decode()

    # « 2 Confirmée » beside « Transmises »: the counts are of applications, as eCandidat's « Confirmées, Désistées ».
    for heading in ("Annulées", "Transmises", "Confirmées", "Désistées"):
        assert f'<th scope="col" class="num">{heading}</th>' in content
    assert '<th scope="col" class="num">Confirmée</th>' not in content


def test_no_formation_in_the_scope(client, other_centre_manager):
    client.force_login(other_centre_manager)

    response = dashboard(client, group="commission")

    assert response.context["rows"] == []
    assert "No commission." in response.content.decode()


# --- exports ----------------------------------------------------------------------------------------------------


def test_csv_export_per_centre(client, central_manager, catalogue, other_centre):
    other_centre.code = "MDROIT"
    other_centre.save()
    client.force_login(central_manager)

    response = dashboard(client, group="centre", format="csv")

    assert 'filename="tableau-de-bord-centre-' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Code", "Application centre", "Applications"]
    assert rows[0][-1] == "Capacity"
    assert [(row[0], row[2], row[-1]) for row in rows[1:]] == [
        ("MDROIT", "1", "50"),
        ("SEE", "4", "50"),
        ("", "5", "100"),
    ]


def test_xlsx_export_per_formation_has_the_capacity_and_the_share(client, centre_manager, catalogue):
    client.force_login(centre_manager)

    response = dashboard(client, format="xlsx")

    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][-2:] == ("Capacity", "Admitted (confirmed) / capacity")
    assert rows[1][0] == "MINFO"
    assert rows[1][-2:] == (30, "1 / 30 (3 %)")
    assert rows[3][0] == "MPHYS"
    assert rows[3][-2] is None


# --- queries ----------------------------------------------------------------------------------------------------


def _lines_of(count, campaign, manager):
    """``count`` centres managed by ``manager``, each with one commission and one formation, each with two
    applications (one decided): ``count`` lines whichever the grouping."""
    for index in range(count):
        centre = CentreFactory(code=f"C{index}")
        StaffMembershipFactory(user=manager, centre=centre)
        formation = FormationFactory(centre=centre, commission=CommissionFactory(centre=centre), capacity=10 + index)
        make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
        decided = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
        staff.record_decision(decided, decision_type=decision_type(Avis.FAVOURABLE), actor=manager)


# session, user, staff scope, campaigns, centres, the table, the admin menu's permissions (2), and the request's
# savepoint and its release
QUERIES = 10


@pytest.mark.parametrize("group", ["formation", "centre", "commission"])
@pytest.mark.parametrize("count", [1, 5])
def test_one_query_per_table_whatever_the_number_of_lines(
    client, django_user_model, campaign, django_assert_num_queries, group, count
):
    manager = django_user_model.objects.create_user("gestionnaire.multi", is_staff=True)
    _lines_of(count, campaign, manager)
    client.force_login(manager)

    with django_assert_num_queries(QUERIES):
        response = dashboard(client, group=group)

    assert len(response.context["rows"]) == count
    assert response.context["total"][0] == 2 * count


@pytest.mark.parametrize("group", ["formation", "centre", "commission"])
def test_the_table_is_one_grouped_query(client, central_manager, campaign, group):
    _lines_of(3, campaign, central_manager)
    client.force_login(central_manager)

    with CaptureQueriesContext(connection) as queries:
        dashboard(client, group=group)

    grouped = [query["sql"] for query in queries.captured_queries if "GROUP BY" in query["sql"]]
    assert len(grouped) == 1
    assert "COUNT(" in grouped[0]


# --- the capacity on the formation's form -----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["central_manager", "centre_manager"])  # the catalogue of their centres
def test_the_capacity_is_set_on_the_formations_form(request, client, persona, centre, commission):
    formation = FormationFactory(centre=centre, commission=commission, code="M1ENER")
    client.force_login(request.getfixturevalue(persona))
    url = reverse("admin:offers_formation_change", args=[formation.pk])
    page = client.get(url)
    assert "capacity" in page.context["adminform"].form.fields

    response = client.post(url, {**admin_form_data(page), "capacity": "24", "_save": "1"})

    assert response.status_code == 302
    formation.refresh_from_db()
    assert formation.capacity == 24


def test_the_capacity_may_stay_unknown_but_not_be_negative(client, central_manager, centre, commission):
    formation = FormationFactory(centre=centre, commission=commission, capacity=10)
    client.force_login(central_manager)
    url = reverse("admin:offers_formation_change", args=[formation.pk])
    data = admin_form_data(client.get(url))

    refused = client.post(url, {**data, "capacity": "-1", "_save": "1"})
    emptied = client.post(url, {**data, "capacity": "", "_save": "1"})

    assert "capacity" in refused.context["adminform"].form.errors
    assert emptied.status_code == 302
    formation.refresh_from_db()
    assert formation.capacity is None


def test_the_demo_gives_a_few_formations_a_capacity(db):
    offers_demo.seed()

    capacities = dict(Formation.objects.values_list("code", "capacity"))

    assert capacities["M1ENER"] == 24
    assert capacities["M2ENER"] is None


# --- in Chromium ------------------------------------------------------------------------------------------------

LONG_TITLE = (
    "MASTER 2 - INGÉNIERIE DES SYSTÈMES ÉNERGÉTIQUES RENOUVELABLES ET STOCKAGE DISTRIBUÉ PARCOURS INTERNATIONAL"
)


@pytest.mark.browser
def test_the_dashboards_fit_a_phone_and_a_desktop(live_server, transactional_db, new_browser_page, campaign, settings):
    settings.MFA_TOTP_TOLERANCE = 1  # a code typed as the 30-second step changes is still accepted
    for index in range(3):
        centre = CentreFactory(code=f"UFR{index}", label=f"UFR Sciences et techniques n° {index}")
        formation = FormationFactory(centre=centre, code=f"M2ISER{index}", title=LONG_TITLE, capacity=30)
        make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
    manager, secret = staff_with_authenticator_app(central=True, user__username="scolarite")
    page = new_browser_page()
    staff_login(page, live_server, manager, secret)

    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(f"{live_server.url}{reverse(URL)}")
        for choice in ("Par formation", "Par centre de candidature", "Par commission"):
            page.get_by_role("link", name=choice, exact=True).click()
            expect(page.get_by_role("link", name=choice, exact=True)).to_have_attribute("aria-current", "page")
            expect(page.locator("#result_list caption")).to_contain_text(campaign.label)
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{choice} at {width} px: the page scrolls sideways by {overflow} px"
            assert_no_serious_axe_violations(page)
        page.get_by_label("Inclure les formations hors service").check()
        page.get_by_role("button", name="Afficher").click()
        expect(page.get_by_label("Inclure les formations hors service")).to_be_checked()
        expect(page.get_by_role("link", name="Par commission", exact=True)).to_have_attribute("aria-current", "page")
