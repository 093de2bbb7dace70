"""Back-office lists are titled by what they list (templates/admin/change_list.html)."""

import html
import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from applications.models import Application

pytestmark = pytest.mark.usefixtures("back_office_in_french")


@pytest.fixture(autouse=True)
def _warm_content_types(db):
    ContentType.objects.clear_cache()
    ContentType.objects.get_for_model(Application)


def titles(response) -> tuple[str, str]:
    page = response.content.decode()
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1).strip()
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1).strip()
    return html.unescape(title), html.unescape(heading)


@pytest.mark.parametrize(
    ("url_name", "queries", "plural"),
    [
        ("admin:applications_application_changelist", 17, "Candidatures"),
        ("admin:offers_formation_changelist", 9, "Formations"),
    ],
)
def test_a_list_is_titled_by_what_it_lists(client, django_assert_num_queries, superuser, url_name, queries, plural):
    client.force_login(superuser)

    with django_assert_num_queries(queries):
        response = client.get(reverse(url_name))

    assert titles(response) == (f"{plural} | Gestion eCandidat", plural)  # "Sélectionnez l'objet … à changer" before


def test_a_commission_member_gets_the_same_title(client, commission_member):
    client.force_login(commission_member)

    response = client.get(reverse("admin:applications_application_changelist"))

    assert response.status_code == 200
    assert titles(response)[1] == "Candidatures"


def test_a_list_with_its_own_title_keeps_it(client, superuser):
    client.force_login(superuser)

    response = client.get(reverse("admin:applications_opi_changelist"))

    assert titles(response)[1] == "OPI : opérations préalables à l'inscription"


def test_a_pop_up_choosing_an_object_keeps_djangos_wording(client, superuser):
    client.force_login(superuser)

    response = client.get(reverse("admin:offers_formation_changelist"), {"_popup": "1", "_to_field": "id"})

    assert titles(response)[1].startswith("Sélectionnez")


@pytest.mark.parametrize(
    ("url_name", "language", "heading"),
    [
        ("admin:applications_tag_add", "fr", "Ajout d'étiquette"),  # Django's French: "Ajout de étiquette"
        ("admin:accounts_user_add", "fr", "Ajout d'utilisateur"),
        ("admin:offers_formation_add", "fr", "Ajout de formation"),  # no vowel: unchanged
        ("admin:applications_tag_add", "en", "Add tag"),
    ],
)
def test_an_add_page_title_elides_de_before_a_vowel_in_french(
    client, django_assert_num_queries, superuser, url_name, language, heading
):
    client.force_login(superuser)

    with django_assert_num_queries(QUERIES_ADD_PAGE[url_name]):
        response = client.get(reverse(url_name), language=language)

    title, h1 = titles(response)
    assert h1 == heading
    assert title.startswith(heading)


# The formation's: its centre, commission and diploma type listed for a browser without JavaScript (one query each),
# and the centres offered to pre-fill it with their default values.
QUERIES_ADD_PAGE = {"admin:applications_tag_add": 7, "admin:accounts_user_add": 6, "admin:offers_formation_add": 16}
