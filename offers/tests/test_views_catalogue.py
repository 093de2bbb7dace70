import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from ecandidat import cache as fail_open
from ecandidat.parameters import set_parameters
from ecandidat.tests.plugins.services import free_port
from ecandidat.tests.tables import card_table, card_table_roles
from offers import catalogue
from offers.models import FormationType
from offers.tests.factories import CentreFactory, DiplomaTypeFactory, FormationFactory

pytestmark = pytest.mark.django_db

URL = reverse("offers:catalogue")
# Session + the formations query; the page does not grow with the number of formations.
CATALOGUE_QUERIES = 1


def _formations(count):
    centre = CentreFactory(label="UFR Sciences Exactes et Expérimentales")
    FormationFactory.create_batch(count, centre=centre, commission__centre=centre)


@pytest.mark.parametrize("count", [5, 500])
def test_catalogue_query_count_does_not_depend_on_formations(client, django_assert_num_queries, count):
    _formations(count)

    with django_assert_num_queries(CATALOGUE_QUERIES):
        response = client.get(URL)

    assert response.status_code == 200
    assert response.content.count(b'<th scope="row" role="rowheader">') == count


def test_every_element_of_the_tables_has_its_role(client, django_assert_num_queries):
    """A table per diploma type of a centre, each element with its role: on a phone its rows read as cards
    (ecandidat/tests/tables.py)."""
    centre = CentreFactory()
    for code in ("MASTER", "LICENCE"):
        diploma_type = DiplomaTypeFactory(code=code, label=code)
        FormationFactory.create_batch(2, centre=centre, commission__centre=centre, diploma_type=diploma_type)

    with django_assert_num_queries(CATALOGUE_QUERIES):
        response = client.get(URL)

    # The title (the row's header), keywords, application dates, application mode.
    assert card_table_roles(response.content.decode()) == [card_table(columns=4, rows=2, cells=2 * 3)] * 2


def test_a_formation_without_keywords_has_an_empty_keywords_cell(client, django_assert_num_queries):
    """Empty, the cell is left out of the card on a phone (``td:empty``): no "Keywords :" label over nothing."""
    centre = CentreFactory()
    FormationFactory(title="MASTER 1 - Histoire", keywords="", centre=centre)
    FormationFactory(title="MASTER 1 - Chimie", keywords="énergie verte", centre=centre)

    with django_assert_num_queries(CATALOGUE_QUERIES):
        response = client.get(URL)

    assert len(re.findall(r'data-label="[^"]+"></td>', response.content.decode())) == 1
    assertContains(response, '<span lang="fr">énergie verte</span>', count=1)


def test_the_tables_captions_mark_the_french_centre_and_diploma_names_for_an_english_reader(
    client, django_assert_num_queries
):
    """RGAA 8.7: the screen reader reads each table's (hidden) caption; on the English page its French centre and
    diploma names are marked ``lang="fr"``, as they are in the <summary> above it."""
    centre = CentreFactory(label="UFR Sciences Exactes et Expérimentales")
    diploma_type = DiplomaTypeFactory(code="MEEF", label="MEEF 1er degré")
    FormationFactory(centre=centre, commission__centre=centre, diploma_type=diploma_type)

    with django_assert_num_queries(CATALOGUE_QUERIES):
        response = client.get(URL, language="en")

    assertContains(
        response,
        '<caption class="visually-hidden"><span lang="fr">UFR Sciences Exactes et Expérimentales</span> — '
        '<span lang="fr">MEEF 1er degré</span></caption>',
        html=True,
    )


def test_filter_is_case_and_accent_insensitive(client):
    centre = CentreFactory()
    FormationFactory(title="MASTER 1 - ENERGIE Parc. Matériaux et procédés solaires", centre=centre)
    FormationFactory(title="MASTER 1 - Chimie", keywords="énergie verte", centre=centre)
    FormationFactory(title="MASTER 1 - Histoire", centre=centre)

    response = client.get(URL, {"q": "energie"})

    assertContains(response, "MASTER 1 - ENERGIE Parc.")
    assertContains(response, "MASTER 1 - Chimie")
    assertNotContains(response, "MASTER 1 - Histoire")
    assertContains(response, '<details class="catalogue__centre" open>', html=False)


def test_filter_matches_centre_and_diploma_labels(client):
    FormationFactory(title="Formation A", centre=CentreFactory(label="IUT De Perpignan"))
    FormationFactory(title="Formation B", diploma_type=DiplomaTypeFactory(code="LPRO", label="LICENCE PRO"))
    FormationFactory(title="Formation C")

    assertContains(client.get(URL, {"q": "iut"}), "Formation A")
    by_diploma = client.get(URL, {"q": "licence pro"})
    assertContains(by_diploma, "Formation B")
    assertNotContains(by_diploma, "Formation C")


def test_without_filter_branches_are_closed_and_filter_says_none(client):
    FormationFactory()

    response = client.get(URL, language="fr")

    assertNotContains(response, '<details class="catalogue__centre" open>', html=False)
    assertContains(response, "Filtre en cours : Aucun")


def test_formation_outside_its_window_is_listed_with_the_reason(client):
    today = timezone.localdate()
    FormationFactory(
        title="Formation future",
        opens_on=today + datetime.timedelta(days=3),
        closes_on=today + datetime.timedelta(days=30),
    )

    response = client.get(URL, {"q": "future"}, language="en")

    assertContains(response, "Formation future")
    opens_on = today + datetime.timedelta(days=3)
    assertContains(response, f"Applications open on {opens_on.day} {opens_on:%b %Y}.")  # English: 4 Dec 2026
    assertContains(response, 'class="is-closed"', html=False)


def test_formations_out_of_service_or_of_a_closed_centre_are_hidden(client):
    FormationFactory(title="Retirée", in_service=False)
    FormationFactory(title="Centre fermé", centre=CentreFactory(in_service=False))

    response = client.get(URL)

    assertNotContains(response, "Retirée")
    assertNotContains(response, "Centre fermé")


def test_overlong_filter_is_refused_beside_the_field_and_the_whole_catalogue_shown(client, django_assert_num_queries):
    FormationFactory(title="Formation visible")

    with django_assert_num_queries(CATALOGUE_QUERIES):
        response = client.get(URL, {"q": "x" * 500}, headers={"accept-language": "fr"})

    assert response.status_code == 200
    assertContains(response, "Formation visible")
    assertContains(
        response,
        '<p class="error" id="filter-error">Assurez-vous que cette valeur comporte au plus 100 caractères '
        "(actuellement 500).</p>",
        html=True,
    )
    assertContains(response, 'aria-describedby="filter-error filter-help" aria-invalid="true"')


@pytest.mark.parametrize("user_fixture", ["client", "admin_client"])
def test_catalogue_is_public(request, user_fixture):
    client = request.getfixturevalue(user_fixture)

    assert client.get(URL).status_code == 200


# --- The unfiltered tree is rendered once per language, "may apply" and day (offers/catalogue.py) ---------------


def _tree(response) -> bytes:
    start = response.content.index(b'<section class="catalogue"')
    return response.content[start : response.content.index(b"</section>", start)]


def test_second_visit_reads_the_tree_from_the_cache_without_a_query(client, django_assert_num_queries):
    _formations(3)
    first = client.get(URL)

    with django_assert_num_queries(0):
        second = client.get(URL)

    assert _tree(second) == _tree(first)  # the rest of the page differs (the CSP nonce)
    assert second.content.count(b'<th scope="row" role="rowheader">') == 3


def test_a_saved_formation_replaces_the_cached_tree_when_it_commits(client, django_capture_on_commit_callbacks):
    formation = FormationFactory(title="Master Chimie")
    assertContains(client.get(URL), "Master Chimie")

    with django_capture_on_commit_callbacks(execute=True):
        formation.title = "Master Chimie verte"
        formation.save()
        assertNotContains(client.get(URL), "Master Chimie verte")  # not before the commit
    assertContains(client.get(URL), "Master Chimie verte")

    with django_capture_on_commit_callbacks(execute=True):
        formation.centre.label = "UFR renommée"
        formation.centre.save()
    assertContains(client.get(URL), "UFR renommée")

    with django_capture_on_commit_callbacks(execute=True):
        formation.delete()
    assertNotContains(client.get(URL), "Master Chimie verte")


def test_a_tree_built_before_a_change_commits_and_stored_after_it_is_not_read(
    client, monkeypatch, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """A visit reads the formations, a change commits (and forgets the cached trees), then the visit stores the
    tree it built from the formations as they were: deleting the keys at the commit let that copy stand for a
    minute (a formation taken out of service still listed, its link a 404)."""
    formation = FormationFactory(title="Master bientôt fermé")
    real_build = catalogue.build_catalogue

    def build_then_a_change_commits(**kwargs):
        tree = real_build(**kwargs)
        with django_capture_on_commit_callbacks(execute=True):
            formation.title = "Master renommé"
            formation.save()
        return tree

    monkeypatch.setattr(catalogue, "build_catalogue", build_then_a_change_commits)
    assertContains(client.get(URL), "Master bientôt fermé")  # built before the change: this visit shows it
    monkeypatch.setattr(catalogue, "build_catalogue", real_build)

    with django_assert_num_queries(CATALOGUE_QUERIES):  # the stored copy is out of date: built again
        response = client.get(URL)
    assertContains(response, "Master renommé")
    assertNotContains(response, "Master bientôt fermé")
    with django_assert_num_queries(0):
        assertContains(client.get(URL), "Master renommé")


def test_links_for_candidates_and_spans_for_visitors_whatever_was_cached_first(client, candidate_user):
    formation = FormationFactory(title="Licence ouverte")
    apply_url = reverse("applications:apply", args=[formation.pk])
    assertNotContains(client.get(URL), apply_url)  # the visitors' tree is cached first

    client.force_login(candidate_user)
    assertContains(client.get(URL), apply_url)
    client.logout()
    assertNotContains(client.get(URL), apply_url)


def test_each_language_has_its_own_tree(client):
    FormationFactory(title="Formation bilingue")

    french = client.get(URL, language="fr")
    english = client.get(URL, language="en")

    assertContains(french, "Dates de candidature")
    assertContains(english, "Application dates")
    assertNotContains(english, "Dates de candidature")


def test_a_filtered_tree_is_never_cached(client, django_assert_num_queries):
    FormationFactory(title="Master Physique")
    client.get(URL, {"q": "physique"})

    with django_assert_num_queries(CATALOGUE_QUERIES):
        response = client.get(URL, {"q": "physique"})

    assertContains(response, "1 formation")


def test_the_tree_is_built_when_the_cache_is_unreachable(client, settings, django_assert_num_queries):
    FormationFactory(title="Master sans Redis")
    backend = {"BACKEND": "ecandidat.cache.FailOpenRedisCache", "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}
    settings.CACHES = {**settings.CACHES, "pages": {**backend, "KEY_PREFIX": "pages"}}
    fail_open._down_until.clear()
    try:
        for _visit in range(2):
            with django_assert_num_queries(CATALOGUE_QUERIES):
                assertContains(client.get(URL), "Master sans Redis")
    finally:
        fail_open._down_until.clear()


def test_a_formation_with_a_programme_page_links_to_it(client, django_assert_num_queries):
    centre = CentreFactory()
    FormationFactory(title="MASTER 1 - Chimie", centre=centre, url="https://www.univ-perp.fr/master-chimie")
    FormationFactory(title="MASTER 1 - Histoire", centre=centre, url="")

    with django_assert_num_queries(CATALOGUE_QUERIES):
        response = client.get(URL, {"lang": "fr"}, language="fr")

    assertContains(
        response,
        '<a href="https://www.univ-perp.fr/master-chimie" class="catalogue__programme" rel="noopener">Présentation'
        '<span class="visually-hidden"> : <span lang="fr">MASTER 1 - Chimie</span></span></a>',
        html=True,
    )
    assert response.content.count(b"catalogue__programme") == 1


# --- The reader's order: the titles as shown, in the active language, case and accents aside --------------------

# (French title, English title): French order Anglais, Chimie, Droit, Économie, Mathématiques; English order
# Chemistry, Economics, English, Law, then "Mathématiques" (no English title: shown, and sorted, in French).
BILINGUAL = [
    ("Droit", "Law"),
    ("Mathématiques", ""),
    ("Économie", "Economics"),
    ("Anglais", "English"),
    ("Chimie", "Chemistry"),
]


def _row_titles(response) -> list[str]:
    return re.findall(
        r'<th scope="row" role="rowheader">\s*<(?:span|a) [^>]*lang="(?:fr|en)">([^<]+)</', _tree(response).decode()
    )


def _branch_labels(response, branch: str) -> list[str]:
    return re.findall(
        rf'<details class="catalogue__{branch}"[^>]*>\s*<summary><span lang="fr">([^<]+)<', _tree(response).decode()
    )


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", ["Chemistry", "Economics", "English", "Law", "Mathématiques"]),
        ("fr", ["Anglais", "Chimie", "Droit", "Économie", "Mathématiques"]),
    ],
)
def test_formations_are_in_the_order_of_the_titles_shown(client, django_assert_num_queries, language, expected):
    centre = CentreFactory()
    for title, title_en in BILINGUAL:
        FormationFactory(title=title, title_en=title_en, keywords="licence", centre=centre)

    with django_assert_num_queries(CATALOGUE_QUERIES):
        tree = client.get(URL, language=language)
    with django_assert_num_queries(CATALOGUE_QUERIES):
        filtered = client.get(URL, {"q": "licence"}, language=language)

    assert _row_titles(tree) == expected
    assert _row_titles(filtered) == expected


def test_accents_case_and_ligatures_sort_as_in_a_dictionary(client):
    centre = CentreFactory()
    for title in ["Zoologie", "Œnologie", "écologie", "Ethnologie", "Éducation", "Ecologie", "biologie"]:
        FormationFactory(title=title, centre=centre)

    response = client.get(URL, language="fr")

    # Equal but for accents and case ("Ecologie", "écologie"): as written, unaccented first; then a total order.
    expected = ["biologie", "Ecologie", "écologie", "Éducation", "Ethnologie", "Œnologie", "Zoologie"]
    assert _row_titles(response) == expected
    assert _row_titles(client.get(URL, {"q": "oenologie"})) == ["Œnologie"]  # the filter spells "Œ" out too


def test_centres_and_diploma_types_sort_accents_aside(client):
    licence = DiplomaTypeFactory(code="LIC", label="LICENCE", order=1)
    diplome = DiplomaTypeFactory(code="DU", label="DIPLÔME D'UNIVERSITÉ", order=2)
    doctorat = DiplomaTypeFactory(code="DOC", label="DOCTORAT", order=2)
    for label in ["UFR Sciences", "École doctorale", "IUT"]:
        centre = CentreFactory(label=label)
        for diploma_type in (doctorat, diplome, licence):
            FormationFactory(centre=centre, diploma_type=diploma_type)

    response = client.get(URL, language="en")

    assert _branch_labels(response, "centre") == ["École doctorale", "IUT", "UFR Sciences"]
    # Their order first, then the label: LICENCE (1), then DIPLÔME… before DOCTORAT (both 2), in each centre.
    assert _branch_labels(response, "diploma") == ["LICENCE", "DIPLÔME D&#x27;UNIVERSITÉ", "DOCTORAT"] * 3


@pytest.mark.parametrize("change", ["formation saved", "formation deleted", "centre saved", "diploma type saved"])
def test_a_change_replaces_the_cached_tree_of_every_language(
    client, django_assert_num_queries, django_capture_on_commit_callbacks, change
):
    centre = CentreFactory(label="UFR Lettres")
    chimie = FormationFactory(title="Chimie", title_en="Chemistry", centre=centre)
    droit = FormationFactory(title="Droit", title_en="Law", centre=centre)
    for language in ("fr", "en"):
        client.get(URL, language=language)
        with django_assert_num_queries(0):
            client.get(URL, language=language)  # cached

    with django_capture_on_commit_callbacks(execute=True):
        if change == "formation saved":  # "Law" becomes "Business law": first in English, French order unchanged
            droit.title_en = "Business law"
            droit.save()
        elif change == "formation deleted":
            chimie.delete()
        elif change == "centre saved":
            centre.label = "UFR Lettres et Langues"
            centre.save()
        else:
            chimie.diploma_type.label = "MASTER MEEF"
            chimie.diploma_type.save()

    expected = {
        "formation saved": {"fr": ["Chimie", "Droit"], "en": ["Business law", "Chemistry"]},
        "formation deleted": {"fr": ["Droit"], "en": ["Law"]},
    }.get(change, {"fr": ["Chimie", "Droit"], "en": ["Chemistry", "Law"]})
    for language in ("fr", "en"):
        with django_assert_num_queries(CATALOGUE_QUERIES):  # rebuilt, not read from the cache
            response = client.get(URL, language=language)
        assert _row_titles(response) == expected[language]
        if change == "centre saved":
            assert _branch_labels(response, "centre") == ["UFR Lettres et Langues"]
        if change == "diploma type saved":
            assert _branch_labels(response, "diploma") == ["MASTER MEEF"]


# --- the grouping under each centre (CATALOGUE_GROUPING, eCandidat's SCOL_MODE_TYPE_FORMATION) ------------------


def _grouping_data():
    centre = CentreFactory(label="UFR Sciences")
    continuing = FormationType.objects.create(
        code="FC", label="Formation continue", label_en="Continuing education", order=2
    )
    initial = FormationType.objects.create(code="FI", label="Formation initiale", order=1)
    master = DiplomaTypeFactory(code="MASTER", label="MASTER LMD", order=1)
    du = DiplomaTypeFactory(code="DU", label="DIPLÔME D'UNIVERSITÉ", order=2)
    FormationFactory(centre=centre, title="Chimie", diploma_type=master, formation_type=initial)
    FormationFactory(centre=centre, title="Biologie", diploma_type=du, formation_type=continuing)
    FormationFactory(centre=centre, title="Zoologie", diploma_type=master, formation_type=None)


def _group_labels(response) -> list[tuple[str, str]]:
    return re.findall(
        r'<details class="catalogue__diploma"[^>]*>\s*<summary><span lang="(fr|en)">([^<]+)<', _tree(response).decode()
    )


def test_grouped_by_diploma_type_by_default(client, django_assert_num_queries):
    _grouping_data()

    with django_assert_num_queries(CATALOGUE_QUERIES):
        response = client.get(URL)

    assert _group_labels(response) == [("fr", "MASTER LMD"), ("fr", "DIPLÔME D&#x27;UNIVERSITÉ")]
    assert _row_titles(response) == ["Chimie", "Zoologie", "Biologie"]


@pytest.mark.parametrize(
    ("language", "groups"),
    [
        ("fr", [("fr", "Formation initiale"), ("fr", "Formation continue"), ("fr", "Autres formations")]),
        ("en", [("fr", "Formation initiale"), ("en", "Continuing education"), ("en", "Other formations")]),
    ],
)
def test_grouped_by_the_institutions_formation_types(client, settings, django_assert_num_queries, language, groups):
    settings.CATALOGUE_GROUPING = "NOM"
    _grouping_data()

    with django_assert_num_queries(CATALOGUE_QUERIES):
        response = client.get(URL, language=language)

    assert _group_labels(response) == groups  # their order, and a formation without a type last
    assert _row_titles(response) == ["Chimie", "Biologie", "Zoologie"]
    assert _row_titles(client.get(URL, {"q": "formation continue"})) == ["Biologie"]  # the filter reads it too


def test_without_grouping_each_centre_has_one_table(client, settings, django_assert_num_queries):
    settings.CATALOGUE_GROUPING = "NO"
    _grouping_data()

    with django_assert_num_queries(CATALOGUE_QUERIES):
        response = client.get(URL)

    tree = _tree(response).decode()
    assert _group_labels(response) == []
    assert tree.count("<table") == 1
    assert '<caption class="visually-hidden"><span lang="fr">UFR Sciences</span></caption>' in tree
    assert _row_titles(response) == ["Biologie", "Chimie", "Zoologie"]


def test_a_change_of_grouping_is_shown_at_once_whatever_was_cached(client, settings):
    _grouping_data()
    assert _group_labels(client.get(URL))[0] == ("fr", "MASTER LMD")  # cached under the diploma types

    settings.CATALOGUE_GROUPING = "NOM"

    assert _group_labels(client.get(URL))[0] == ("fr", "Formation initiale")


def test_the_central_office_changes_the_grouping_in_the_parameters(
    client, admin_user, django_capture_on_commit_callbacks
):
    _grouping_data()
    assert _group_labels(client.get(URL))[0] == ("fr", "MASTER LMD")

    with django_capture_on_commit_callbacks(execute=True):
        set_parameters(actor=admin_user, values={"CATALOGUE_GROUPING": "NO"})

    assert _group_labels(client.get(URL)) == []  # at once in this process, the others within 10 s


def test_the_formation_types_list_says_when_they_are_used(admin_client, settings, django_assert_num_queries):
    settings.CATALOGUE_GROUPING = "DIP"

    with django_assert_num_queries(8):  # the admin list page of a small table, the message costs none
        response = admin_client.get(reverse("admin:offers_formationtype_changelist"))

    assert (
        "Ces types classent l&#x27;offre de formation quand « Classement des formations sous chaque centre dans "
        "l&#x27;offre de formation » vaut « Type de formation » (Paramètres) ; actuellement : Type de diplôme."
    ) in response.content.decode()
