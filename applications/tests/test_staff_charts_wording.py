"""The charts of the staff home page and of the dashboard in words: « Barre la plus haute : 1 candidature. » in the
singular for 0 and 1 (it read « 1 candidatures »), and a dashboard bar's tooltip (its accessible name) punctuated in
the page's language, as the home chart's is (it read « Master Énergie: 1 » on the French page)."""

import re

import pytest
from django.urls import reverse

from applications.enums import DossierStatus
from applications.tests.factories_candidature import make_application
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

HOME = reverse("admin:index")
DASHBOARD = reverse("admin:applications_application_dashboard")


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")


def _highest(page: str) -> str:
    [sentence] = re.findall(r'<p class="help">((?:Highest bar|Barre la plus haute)[^<]*)</p>', page)
    return sentence


@pytest.mark.parametrize(
    ("count", "language", "expected"),
    [
        (0, "fr", "Barre la plus haute : 0 candidature."),
        (1, "fr", "Barre la plus haute : 1 candidature."),
        (2, "fr", "Barre la plus haute : 2 candidatures."),
        (1, "en", "Highest bar: 1 application."),
        (2, "en", "Highest bar: 2 applications."),
    ],
)
def test_the_highest_bar_agrees_with_its_number(
    client, centre_manager, formation, campaign, count, language, expected, django_assert_num_queries
):
    for _ in range(count):
        make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED)
    client.force_login(centre_manager)
    client.get(HOME, language=language)  # per-process memos warm

    with django_assert_num_queries(12):
        page = client.get(HOME, language=language).content.decode()

    assert _highest(page) == expected


@pytest.mark.parametrize(("language", "title"), [("fr", "Master Énergie : 1"), ("en", "Master Énergie: 1")])
def test_a_dashboard_bars_name_is_punctuated_in_the_pages_language(
    client, centre_manager, centre, formation, campaign, language, title, django_assert_num_queries
):
    make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED)
    client.force_login(centre_manager)
    client.get(DASHBOARD, {"centre": centre.pk}, language=language)

    with django_assert_num_queries(10):
        page = client.get(DASHBOARD, {"centre": centre.pk}, language=language).content.decode()

    assert re.findall(r"<rect [^>]*><title>([^<]*)</title></rect>", page) == [title]
