"""XLSX exports of the formations, commissions and centres lists (ecandidat-features §2.8): the rows of the list as
filtered, within the user's scope; a fixed number of queries whatever the number of rows."""

import datetime
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from offers import admin_exports
from offers.tests.factories import CampaignFactory, CentreFactory, CommissionFactory, FormationFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")

LISTS = ["formation", "commission", "centre"]


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER", title="MASTER Énergie")


@pytest.fixture
def foreign_formation(other_centre):
    return FormationFactory(centre=other_centre, code="MDROIT", title="MASTER Droit")


def export_url(model: str, query: str = "") -> str:
    return reverse(f"admin:offers_{model}_export") + query


def sheet_of(response) -> list[tuple]:
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    return list(workbook.active.iter_rows(values_only=True))


@pytest.mark.parametrize("model", LISTS)
@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),  # to the login page
        ("centre_manager", 200),
        ("other_centre_manager", 200),  # their own rows only (below)
        ("commission_member", 404),
        ("read_only_staff", 404),
        ("candidates_manager", 404),
        ("superuser", 200),
    ],
)
def test_export_personas(request, client, persona, expected, model, formation, foreign_formation):
    user = request.getfixturevalue("candidate").user if persona == "candidate" else request.getfixturevalue(persona)
    client.force_login(user)

    response = client.get(export_url(model))

    assert response.status_code == expected
    if expected == 200:
        assert response["Content-Disposition"].startswith(f'attachment; filename="{model}s-')


@pytest.mark.parametrize(
    ("model", "mine", "theirs"),
    [("formation", "M1ENER", "MDROIT"), ("commission", None, None), ("centre", "SEE", None)],
)
def test_a_manager_exports_only_their_centres_rows(
    client, centre_manager, formation, foreign_formation, model, mine, theirs
):
    client.force_login(centre_manager)

    rows = sheet_of(client.get(export_url(model)))

    codes = [row[0] for row in rows[1:]]
    assert codes == [mine or formation.commission.code]
    assert (theirs or foreign_formation.commission.code) not in codes
    assert foreign_formation.centre.code not in codes


@pytest.mark.parametrize("count", [1, 6])
def test_the_formations_export_reads_its_rows_in_one_query(
    client, django_assert_num_queries, centre_manager, centre, commission, count
):
    for number in range(count):
        FormationFactory(centre=centre, commission=commission, code=f"F{number}")
    client.force_login(centre_manager)

    # session, user, Django permissions (2), staff scope, the list's filters (centres, diploma types), the count, the
    # rows with their related rows, and the request's savepoint and its release
    with django_assert_num_queries(11):
        response = client.get(export_url("formation"))

    assert len(sheet_of(response)) == count + 1


@pytest.mark.parametrize(("model", "queries"), [("commission", 7), ("centre", 7)])
def test_the_other_exports_read_their_rows_in_one_query(client, django_assert_num_queries, superuser, model, queries):
    for number in range(4):
        CommissionFactory(centre=CentreFactory(code=f"C{number}"))
    client.force_login(superuser)

    with django_assert_num_queries(queries):
        response = client.get(export_url(model))

    assert len(sheet_of(response)) == 5


def test_the_formations_export_follows_the_lists_filters_and_says_the_campaign_flag(
    client, centre_manager, centre, commission
):
    start, end = datetime.date(2027, 1, 15), datetime.date(2027, 6, 30)
    CampaignFactory(is_active=True, starts_on=start, ends_on=end)
    FormationFactory(
        centre=centre,
        commission=commission,
        code="DEDANS",
        opens_on=start,
        closes_on=end,
        return_deadline=end,
        confirmation_date=end,
    )
    FormationFactory(
        centre=centre,
        commission=commission,
        code="TARD",
        opens_on=start,
        closes_on=end.replace(day=29),
        return_deadline=end,
        confirmation_date=end,
    )
    FormationFactory(
        centre=centre,
        commission=commission,
        code="HORS",
        title="=HYPERLINK(1)",
        opens_on=start.replace(day=1),
        closes_on=end,
    )
    client.force_login(centre_manager)

    rows = sheet_of(client.get(export_url("formation", "?campaign_dates=outside&o=1")))

    header, *lines = rows
    assert header[:3] == ("Code", "Titre", "Titre en anglais")
    assert [line[0] for line in lines] == ["HORS"]
    line = dict(zip(header, lines[0], strict=True))
    assert line["Titre"] == "'=HYPERLINK(1)"  # inert
    assert line["Campagne"] == "Hors campagne"
    assert line["Début de dépôt des candidatures"] == datetime.datetime(2027, 1, 1)  # a date cell


def test_the_list_offers_the_export_with_its_filters(client, django_assert_num_queries, centre_manager, formation):
    client.force_login(centre_manager)

    with django_assert_num_queries(11):  # as the list without the link
        response = client.get(reverse("admin:offers_formation_changelist") + "?q=ENER")

    html = response.content.decode()
    assert f'<a href="{export_url("formation", "?q=ENER")}">Exporter la liste (XLSX)</a>' in html


def test_too_many_rows_are_refused_with_a_message(client, monkeypatch, centre_manager, formation, centre, commission):
    FormationFactory(centre=centre, commission=commission)
    monkeypatch.setattr(admin_exports, "EXPORT_LIMIT", 1)
    client.force_login(centre_manager)

    response = client.get(export_url("formation"), follow=True)

    assert response.redirect_chain == [(reverse("admin:offers_formation_changelist"), 302)]
    assert "2 lignes : au plus 1 peuvent être exportées ; ajoutez des filtres." in response.content.decode()


@pytest.mark.parametrize("query", ["?centre__id__exact=abc", "?o=abc", "?campaign_dates=x"])
def test_a_forged_filter_is_not_a_server_error(client, centre_manager, formation, query):
    client.force_login(centre_manager)

    response = client.get(export_url("formation", query))

    assert response.status_code in (200, 400)


def test_only_get(client, centre_manager):
    client.force_login(centre_manager)

    assert client.post(export_url("formation")).status_code == 405
