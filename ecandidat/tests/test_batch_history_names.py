"""The batch history's names in Django's sentences: the model is a « lancement de batch » (Django built « Supprimer
les historique des batchs sélectionnés » from the old plural), while the menu and the list keep the title the staff
know, « Historique des batchs »."""

import pytest

from ecandidat.batches import run_batch

LIST = "/gestion/ecandidat/batchrun/"


def _runs(count: int = 2):
    return [run_batch("transfer_opi", lambda report, **kw: None) for _ in range(count)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "title", "delete_action"),
    [
        ("fr", "Historique des batchs", "Supprimer les lancements de batch sélectionnés"),
        ("en", "Batch history", "Delete selected batch runs"),
    ],
)
def test_the_list_keeps_its_title_and_django_s_sentences_read_right(
    admin_client, django_assert_num_queries, language, title, delete_action
):
    _runs()

    with django_assert_num_queries(7):
        page = admin_client.get(LIST, language=language).text

    assert f"<h1>{title}</h1>" in page
    assert f"<title>{title} |" in page
    assert f'<a href="{LIST}" aria-current="page">{title}</a>' in page  # the menu
    assert f'<li aria-current="page">{title}</li>' in page  # the breadcrumbs
    assert f'aria-label="{title}"' in page  # the results' region
    assert delete_action in page
    assert "historique des batchs sélectionnés" not in page
    assert "Lancements de batch" not in page
    assert "Batch runs" not in page


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "title"), [("fr", "Historique des batchs"), ("en", "Batch history")])
def test_the_app_index_and_the_home_name_the_list_by_its_title(admin_client, language, title):
    app_index = admin_client.get("/gestion/ecandidat/", language=language).text
    home = admin_client.get("/gestion/", language=language).text

    assert f'<a href="{LIST}">{title}</a>' in app_index
    assert f'<a href="{LIST}">{title}</a>' in home


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "question", "done"),
    [
        (
            "fr",
            "Voulez-vous vraiment supprimer les objets lancements de batch sélectionnés ?",
            "La suppression de 2 lancements de batch a réussi.",
        ),
        (
            "en",
            "Are you sure you want to delete the selected batch runs?",
            "Successfully deleted 2 batch runs.",
        ),
    ],
)
def test_deleting_runs_reads_right(admin_client, language, question, done):
    selected = [run.pk for run in _runs()]
    posted = {"action": "delete_selected", "_selected_action": selected}

    confirmation = admin_client.post(LIST, posted, language=language).text
    deleted = admin_client.post(LIST, {**posted, "post": "yes"}, language=language, follow=True).text

    assert question in confirmation.replace("\N{NO-BREAK SPACE}", " ")
    assert done in deleted


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "select_all"),
    [("fr", "Sélectionner tous les 101 lancements de batch"), ("en", "Select all 101 batch runs")],
)
def test_selecting_every_run_of_a_long_list_reads_right(admin_client, language, select_all):
    _runs(101)  # more than a page (100)

    page = admin_client.get(LIST, language=language).text

    assert select_all in page
