"""The applications list at a glance (issue 11): columns, text for "pièces à contrôler", counters per status, tag
filter, saved filters per user, query count."""

import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from applications.enums import DossierStatus
from applications.models import Application, SavedFilter, Tag
from applications.services import review
from applications.tests.factories_candidature import PieceSubmissionFactory, decide, make_application, with_file
from offers.enums import Avis
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")


@pytest.fixture(autouse=True)
def _warm_content_types(db):
    ContentType.objects.clear_cache()
    ContentType.objects.get_for_model(Application)


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER")


def changelist(query=""):
    return reverse("admin:applications_application_changelist") + query


def test_columns_and_the_text_of_pieces_to_check(client, centre_manager, formation, campaign):
    application = make_application(formation, campaign=campaign)
    with_file(application)
    review.set_tags(application=application, actor=centre_manager, tags=[Tag.objects.create(label="Prioritaire")])
    client.force_login(centre_manager)

    response = client.get(changelist())

    html = response.content.decode()
    assert response.context["cl"].list_display[1:] == [
        "candidate_name",
        "numero_dossier",
        "formation_code",
        "dossier_status",
        "pieces_to_check",
        "decision",
        "rank",
        "tags",
        "transmitted_on",
    ]
    assert "À contrôler" in html
    assert 'alt="True"' not in html
    assert "Prioritaire" in html


@pytest.mark.parametrize(("piece_centre", "flagged"), [("mine", True), ("institution", True), ("other", False)])
def test_a_shared_piece_is_to_check_only_where_the_application_asks_for_it(
    client, centre_manager, formation, campaign, other_centre, piece_centre, flagged
):
    """A piece the candidate shares between their applications waits for a check on the applications that ask for
    it: a common piece of the institution or of the formation's centre, not another centre's (which the manager could
    never clear from this application's page)."""
    application = make_application(formation, campaign=campaign)
    centre = {"mine": formation.centre, "institution": None, "other": other_centre}[piece_centre]
    piece_type = PieceTypeFactory(is_common=True, centre=centre)
    PieceSubmissionFactory(application=None, candidate=application.candidate, piece_type=piece_type)
    client.force_login(centre_manager)

    listed = client.get(changelist("?to_check=yes")).context["cl"].result_list

    assert [row.pk for row in listed] == ([application.pk] if flagged else [])


def test_counters_per_status_follow_the_other_filters(client, centre_manager, formation, campaign):
    for status in [DossierStatus.RECEIVED, DossierStatus.RECEIVED, DossierStatus.COMPLETE]:
        make_application(formation, campaign=campaign, status=status)
    make_application(FormationFactory(centre=formation.centre), campaign=campaign)  # filtered out
    client.force_login(centre_manager)

    response = client.get(changelist(f"?formation={formation.pk}&dossier_status__exact=CO"))

    counters = {counter["label"]: counter for counter in response.context["status_counters"]}
    assert counters["Réceptionné"]["count"] == 2
    assert counters["Complet"]["count"] == 1
    assert counters["Complet"]["selected"]
    assert counters["En attente"]["count"] == 0
    assert f"formation={formation.pk}" in counters["Réceptionné"]["url"]
    assert "dossier_status__exact=RE" in counters["Réceptionné"]["url"]


def test_tag_filter(client, centre_manager, formation, campaign):
    tagged, _untagged = (make_application(formation, campaign=campaign) for _ in range(2))
    tag = Tag.objects.create(label="Entretien", centre=formation.centre)
    review.set_tags(application=tagged, actor=centre_manager, tags=[tag])
    client.force_login(centre_manager)

    response = client.get(changelist(f"?tag={tag.pk}"))

    assert [row.pk for row in response.context["cl"].result_list] == [tagged.pk]


@pytest.mark.parametrize("count", [1, 20])
def test_list_query_count_with_tags_does_not_grow(
    client, django_assert_num_queries, centre_manager, formation, campaign, count
):
    tag = Tag.objects.create(label="Prioritaire")
    for _ in range(count):
        review.set_tags(application=make_application(formation, campaign=campaign), actor=centre_manager, tags=[tag])
    SavedFilter.objects.create(user=centre_manager, label="Reçus", query_string="dossier_status__exact=RE")
    client.force_login(centre_manager)

    with django_assert_num_queries(20):
        response = client.get(changelist())

    assert len(response.context["cl"].result_list) == count


def test_saved_filters_belong_to_their_user(client, django_assert_num_queries, centre_manager, central_manager):
    client.force_login(centre_manager)

    # session, user, the request's savepoint, scope; the service's savepoint, the account locked, the count, INSERT;
    # the two releases
    with django_assert_num_queries(10):
        saved_response = client.post(
            reverse("admin:applications_application_save_filter"),
            {"label": "Complets", "query": "?dossier_status__exact=CO"},
        )
    response = client.get(saved_response["Location"])
    duplicate = client.post(
        reverse("admin:applications_application_save_filter"), {"label": "Complets", "query": ""}, follow=True
    )

    saved = SavedFilter.objects.get()
    assert (saved.user, saved.query_string) == (centre_manager, "dossier_status__exact=CO")
    assert "Filtre « Complets » enregistré." in response.content.decode()
    assert "Vous avez déjà un filtre nommé « Complets »." in duplicate.content.decode()
    assert 'href="?dossier_status__exact=CO"' in response.content.decode()

    client.force_login(central_manager)
    assert "Complets" not in client.get(changelist()).content.decode()
    delete = reverse("admin:applications_application_delete_filter", args=[saved.pk])
    assert client.get(delete).status_code == 404
    assert client.post(delete).status_code == 404
    client.force_login(centre_manager)
    # session, user, the request's savepoint, scope; the service's savepoint, the row locked, DELETE; two releases
    with django_assert_num_queries(9):
        assert client.post(delete).status_code == 302
    assert not SavedFilter.objects.exists()


@pytest.fixture
def saved(centre_manager):
    return SavedFilter.objects.create(
        user=centre_manager, label="Réceptionnés", query_string="dossier_status__exact=RE"
    )


def test_the_cross_of_a_saved_filter_asks_to_confirm_before_deleting(client, django_assert_num_queries, saved):
    """The « × » deleted the filter at once, with no way back; it now leads to a page that asks, without
    JavaScript, and the filter goes only with its « Oui, supprimer »."""
    client.force_login(saved.user)
    page = client.get(changelist("?dossier_status__exact=CO"))
    links = re.findall(r'<a href="([^"]+)" class="delete-filter-link" aria-label="([^"]+)"', page.content.decode())
    assert len(links) == 1
    confirm_url, label = links[0]
    confirm_url = confirm_url.replace("&amp;", "&")
    assert label == "Supprimer le filtre « Réceptionnés »"
    assert "<form" not in page.content.decode().split('id="saved-filters"')[1].split("</ul>")[0]  # no button deletes

    # session, user, the request's savepoint, scope, the filter, Django's permissions (2: the menu); the release
    with django_assert_num_queries(8):
        confirmation = client.get(confirm_url)

    assert confirmation.status_code == 200
    html = confirmation.content.decode()
    assert "Supprimer le filtre « Réceptionnés » ?" in html
    assert 'value="Oui, supprimer"' in html
    assert f'href="{changelist("?dossier_status__exact=CO")}"' in html  # back to the list as it was
    assert SavedFilter.objects.filter(pk=saved.pk).exists()  # not deleted by the page

    response = client.post(confirm_url)

    assert response.status_code == 302
    assert response["Location"] == changelist("?dossier_status__exact=CO")
    assert not SavedFilter.objects.filter(pk=saved.pk).exists()


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("owner", 200), ("other_centre_manager", 404), ("central_manager", 404), ("commission_member", 404)],
)
def test_the_confirmation_page_is_its_owners_only(request, client, saved, persona, expected):
    user = saved.user if persona == "owner" else request.getfixturevalue(persona)
    client.force_login(user)

    response = client.get(reverse("admin:applications_application_delete_filter", args=[saved.pk]))

    assert response.status_code == expected
    assert SavedFilter.objects.filter(pk=saved.pk).exists()


def test_a_candidate_is_sent_to_the_login_page(client, saved, candidate):
    client.force_login(candidate.user)

    response = client.get(reverse("admin:applications_application_delete_filter", args=[saved.pk]))

    assert response.status_code == 302
    assert SavedFilter.objects.filter(pk=saved.pk).exists()


def test_the_return_to_the_list_keeps_only_a_query_string(client, saved):
    client.force_login(saved.user)
    url = reverse("admin:applications_application_delete_filter", args=[saved.pk])

    response = client.post(url + "?_changelist_filters=%3Fa%2500")

    assert response["Location"] == changelist()


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("candidate", 302), ("centre_manager", 302), ("commission_member", 302), ("central_manager", 302)],
)
def test_save_filter_personas(
    request, client, persona, expected, centre_manager, commission_member, central_manager, candidate
):
    user = candidate.user if persona == "candidate" else request.getfixturevalue(persona)
    client.force_login(user)

    response = client.post(reverse("admin:applications_application_save_filter"), {"label": "Mon filtre"})

    assert response.status_code == expected
    assert SavedFilter.objects.filter(user=user).exists() == (persona != "candidate")


def test_save_filter_is_post_only(client, centre_manager):
    client.force_login(centre_manager)
    assert client.get(reverse("admin:applications_application_save_filter")).status_code == 405


def test_export_carries_the_tags_and_notes(client, settings, centre_manager, formation, campaign):
    settings.EXPORT_NOTES = True  # eCandidat GEST_IS_EXPORT_BLOC_NOTE, off by default (test_bulk_fixes_dec6.py)
    application = make_application(formation, campaign=campaign)
    review.set_tags(application=application, actor=centre_manager, tags=[Tag.objects.create(label="Prioritaire")])
    review.add_note(application=application, actor=centre_manager, text="=À revoir en jury")
    review.add_note(application=application, actor=centre_manager, text="Entretien le 12")
    client.force_login(centre_manager)

    csv_text = (
        client.get(reverse("admin:applications_application_export", args=["csv"])).getvalue().decode("utf-8-sig")
    )

    header, row = csv_text.split("\r\n")[0], csv_text.split("\r\n", 1)[1]
    assert header.endswith("Étiquettes;Bloc-notes")  # the chosen-columns export's titles
    assert "Prioritaire" in row
    assert "gestionnaire : =À revoir en jury" in row  # the cell starts with the date: no formula to neutralise
    assert "gestionnaire : Entretien le 12" in row


def test_the_rank_column_says_it_is_the_actual_rank(
    client, django_assert_num_queries, centre_manager, formation, campaign
):
    """The list's « Rang » column showed the rang réel (1) of a candidate the commission had put at rank 2: read as
    the rank entered, it looked wrong. The column and the export's header now say « rang réel », as the dossier does
    (checked in English: the French is the catalogue's, built from locale/fragments/h18.po)."""
    application = make_application(formation, campaign=campaign)
    decide(application, Avis.COMPLEMENTARY_LIST, actor=centre_manager, rank=2)
    client.force_login(centre_manager)

    client.language = "en"  # the French comes from the catalogue the fragments build

    with django_assert_num_queries(20):
        html = client.get(changelist()).content.decode()
    csv_text = (
        client.get(reverse("admin:applications_application_export", args=["csv"])).getvalue().decode("utf-8-sig")
    )

    assert re.search(r'class="sortable column-rank">\s*<div class="text"><a [^>]*>Actual rank</a>', html)
    header = csv_text.split("\r\n")[0].split(";")
    assert "Actual rank on the complementary list" in header
    assert "rank" not in header


@pytest.mark.parametrize(("language", "heading"), [("fr", "Par annulation"), ("en", "By cancellation")])
def test_the_cancellation_filter_has_a_heading_that_reads(
    client, django_assert_num_queries, centre_manager, formation, campaign, language, heading
):
    """The filter's heading said « Par annulée » (« By cancelled »), after « Par confirmation »."""
    make_application(formation, campaign=campaign)
    client.force_login(centre_manager)

    with django_assert_num_queries(20):
        response = client.get(changelist(), language=language)

    assert re.search(rf"<summary[^>]*>\s*{heading}\s*</summary>", response.content.decode())


@pytest.mark.parametrize("typed", ["   ", ""])
def test_a_name_refused_comes_back_in_the_open_form_with_the_message_beside_it(
    client, django_assert_num_queries, centre_manager, formation, campaign, typed
):
    """A filter saved without a name (three spaces and Enter, at the keyboard) is refused next to its field, in
    « Mes filtres enregistrés » open again, what was typed kept: not at the top of the page, the disclosure closed
    (no filter saved yet) and the field emptied, which a keyboard user had to reach again from the top."""
    make_application(formation, campaign=campaign)
    client.force_login(centre_manager)
    query = "dossier_status__exact=RE"

    # session, user, scope and the list's permission; nothing written but what was typed, kept in the session (3)
    with django_assert_num_queries(8):
        response = client.post(reverse("admin:applications_application_save_filter"), {"label": typed, "query": query})

    assert response.status_code == 302
    assert response["Location"] == changelist(f"?{query}#saved-filters")
    assert not SavedFilter.objects.exists()
    # The list's queries (test_list_query_count_with_tags_does_not_grow) and the session written (what was typed
    # taken out of it: a savepoint, its update, its release).
    with django_assert_num_queries(20 + 3):
        page = client.get(response["Location"]).content.decode()
    details = re.search(r'<details id="saved-filters" class="saved-filters" open>(.*?)</details>', page, re.S)
    assert details is not None
    assert (
        '<p class="errornote" id="saved-filter-label-error">Donnez un nom au filtre pour l’enregistrer.</p>'
        in details.group(1)
    )
    field = re.search(r'<input type="text" name="label" id="saved-filter-label"[^>]*>', details.group(1))
    assert field is not None
    assert field.group(0) == (
        f'<input type="text" name="label" id="saved-filter-label" maxlength="80" required value="{typed}" '
        'aria-invalid="true" aria-describedby="saved-filter-label-error" autofocus>'
    )
    assert 'class="messagelist"' not in page  # not said a second time, away from the field
    # Once: the list opened again has the form as before (closed: no filter saved).
    with django_assert_num_queries(20):
        again = client.get(changelist()).content.decode()
    assert '<details id="saved-filters" class="saved-filters">' in again
    assert "saved-filter-label-error" not in again
    assert '<input type="text" name="label" id="saved-filter-label" maxlength="80" required>' in again
