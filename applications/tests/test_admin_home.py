"""The back office's home (issue 11): the staff member's figures with links into the filtered list, and the
applications per day (inline SVG and a table)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from applications.enums import DossierStatus
from applications.tests.factories_candidature import make_application, with_file
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")


@pytest.fixture
def figures_data(centre, commission, other_centre, campaign):
    formation = FormationFactory(centre=centre, commission=commission)
    for status in [DossierStatus.RECEIVED, DossierStatus.RECEIVED, DossierStatus.COMPLETE, DossierStatus.WAITING]:
        application = make_application(formation, campaign=campaign, status=status)
    with_file(application)
    make_application(formation, campaign=campaign, accepted=True, answered_at=timezone.now())
    make_application(FormationFactory(centre=other_centre), campaign=campaign)  # another centre's
    return formation


def figures(response):
    return {figure["label"]: figure for figure in response.context["centre_home"]["figures"]}


@pytest.mark.parametrize(
    ("persona", "total"),
    [
        ("centre_manager", 5),
        ("commission_member", 5),
        ("read_only_staff", 5),
        ("other_centre_manager", 1),
        ("central_manager", 6),
    ],
)
def test_figures_of_the_staff_members_scope(request, client, figures_data, persona, total):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert figures(response)["Candidatures"]["count"] == total


def test_candidate_is_sent_to_the_login(client, candidate):
    client.force_login(candidate.user)
    assert client.get(reverse("admin:index")).status_code == 302


def test_figures_link_into_the_filtered_list(
    client, centre_manager, figures_data, campaign, django_assert_num_queries
):
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_HOME):
        response = client.get(reverse("admin:index"))

    shown = figures(response)
    assert {label: figure["count"] for label, figure in shown.items()} == {
        "Candidatures": 5,
        "Réceptionné": 3,
        "Pièces à contrôler": 1,
        "Complet": 1,
        "Décidées (avis validé)": 0,
        "Confirmée": 1,
    }
    listed = client.get(shown["Réceptionné"]["url"])
    assert len(listed.context["cl"].result_list) == 3  # each figure counts what its link lists
    html = response.content.decode()
    assert 'role="img" aria-labelledby="chart-title"' in html
    assert "<title>" in html
    assert "<table>" in html
    assert reverse("admin:applications_application_dashboard") in html  # the dashboards, one click away


QUERIES_HOME = 11  # session, user, scope, permissions, app list, campaign, figures, chart


def test_home_query_count_does_not_grow(client, centre_manager, figures_data, campaign, django_assert_num_queries):
    for _ in range(10):
        make_application(figures_data, campaign=campaign)
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_HOME):
        client.get(reverse("admin:index"))
