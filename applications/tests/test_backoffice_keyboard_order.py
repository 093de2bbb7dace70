"""The commission's back office for a keyboard and a screen reader: a list's filters come after its results in the
page (Django's style sheet shows them on the right, or below the results on a phone: Tab went through every filter
before the first row, RGAA 12.8), and the messages after an action are status messages (RGAA 7.5), an error an
alert."""

import re

import pytest
from django.urls import reverse

from applications.models import SavedFilter
from applications.tests.factories_candidature import decision_type, make_application
from applications.tests.helpers import operation_url
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

APPLICATIONS = reverse("admin:applications_application_changelist")


@pytest.fixture
def listed(campaign, centre, commission):
    return make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)


@pytest.mark.parametrize(
    "url", [APPLICATIONS, reverse("admin:offers_formation_changelist"), reverse("admin:offers_commission_changelist")]
)
def test_the_filters_follow_the_results_in_the_page(client, centre_manager, listed, url):
    client.force_login(centre_manager)

    page = client.get(url).content.decode()

    # The search, the actions, the rows and the pagination, then the filters.
    assert page.index('id="changelist-form"') < page.index('id="changelist-filter"')
    assert page.index('<nav class="paginator"') < page.index('id="changelist-filter"')
    assert page.index('id="changelist-filter"') < page.index("</main>")


def test_a_done_action_is_said_in_a_status_message(client, centre_manager, listed):
    client.force_login(centre_manager)

    page = client.post(
        reverse("admin:applications_application_save_filter"), {"label": "Reçus", "query": ""}, follow=True
    ).content.decode()

    status = r'<div class="messages" role="status"><ul class="messagelist">\s*<li class="success">'
    assert re.search(status + "Filter “Reçus” saved.</li>", page)


def test_on_the_dossier_page_too(client, commission_member, listed, django_assert_num_queries):
    client.force_login(commission_member)

    page = client.post(
        operation_url(listed, "enter_decision"),
        {"decision_type": decision_type(Avis.FAVOURABLE).pk},
        follow=True,
    ).content.decode()

    assert '<div class="review-messages" role="region" tabindex="0" aria-label="Messages">' in page
    assert re.search(r'<div class="messages" role="status"><ul class="messagelist">\s*<li class="success">', page)


def test_a_refused_action_is_an_alert(client, centre_manager, listed):
    """A filter saved under a name already used is refused: an error, said as an alert, not as a status. (One
    without a name is said next to its field: test_admin_listing.)"""
    client.force_login(centre_manager)
    SavedFilter.objects.create(user=centre_manager, label="Reçus", query_string="")

    page = client.post(
        reverse("admin:applications_application_save_filter"), {"label": "Reçus", "query": ""}, follow=True
    ).content.decode()

    assert re.search(r'<div class="messages" role="alert"><ul class="messagelist">\s*<li class="error">', page)
    assert 'role="status"' not in page[page.index("<main") :]


def test_a_decision_form_sent_incomplete_says_so_first_and_beside_the_field(
    client, commission_member, listed, django_assert_num_queries
):
    client.force_login(commission_member)

    with django_assert_num_queries(12):
        page = client.post(operation_url(listed, "enter_decision"), {}).content.decode()

    # The summary, focused on load (admin_a11y.js), leads to the field in error.
    summary = re.search(
        r'<div class="errornote" id="operation-errors" role="alert" tabindex="-1">(.*?)</div>', page, re.S
    )
    assert summary is not None
    assert "<p>Please correct the error below.</p>" in summary.group(1)
    assert re.findall(r"<li>.*?</li>", summary.group(1)) == [
        '<li><a href="#id_decision_type">Decision: This field is required.</a></li>'
    ]
    assert page.index('id="operation-errors"') < page.index('<form method="post" novalidate>')
    assert re.search(r'<select name="decision_type"[^>]*aria-describedby="id_decision_type_error"', page)


@pytest.mark.parametrize(
    ("url", "caption"),
    [(APPLICATIONS, "Applications"), (reverse("admin:offers_formation_changelist"), "Formations")],
)
def test_a_lists_table_is_titled_by_a_caption(client, centre_manager, listed, url, caption):
    """A screen reader's list of tables names each one (RGAA 5.4), as the dashboard's tables are."""
    client.force_login(centre_manager)

    page = client.get(url).content.decode()

    assert (
        '<table id="result_list" class="result-cards" role="table">\n'
        f'<caption class="visually-hidden">{caption}</caption>'
    ) in page
