"""The back office's "Paramètres" page (ecandidat/admin_parameters.py): who reaches it, what it shows, saving,
"Rétablir la valeur par défaut", refused values next to their field, and the query counts."""

import re

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from ecandidat import parameters
from ecandidat.models import ParameterChange, ParameterOverride
from ecandidat.parameters import set_parameters

pytestmark = pytest.mark.django_db

PAGE = reverse("admin:ecandidat_parameteroverride_changelist")
# session, user; the request's savepoint (2); the staff scope; the overrides with their authors; the sidebar's Django
# permissions (user's and groups'); the history with its authors.
QUERIES_PAGE = 9


def form_data(**changes):
    """What the page posts when nothing was touched but ``changes``: every field with the value shown (and the
    hidden copy of it, Django's show_hidden_initial)."""
    data = {}
    for parameter in parameters.PARAMETERS:
        shown = parameter.default
        value = changes.get(parameter.name, shown)
        if parameter.kind is parameters.Kind.BOOL:
            if value:
                data[parameter.name] = "on"
            data[f"initial-{parameter.name}"] = "True" if shown else "False"
        else:
            data[parameter.name] = str(value)
            data[f"initial-{parameter.name}"] = str(shown)
    return data


@pytest.fixture
def central_client(client, central_manager):
    client.force_login(central_manager)
    return client


@pytest.mark.parametrize(
    "persona", ["candidate_user", "centre_manager", "commission_member", "read_only_staff", "other_centre_manager"]
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_anyone_but_the_central_office_gets_404(request, client, persona, method):
    client.force_login(request.getfixturevalue(persona))

    response = getattr(client, method)(PAGE, form_data(MAX_WISHES=3) if method == "post" else None)
    reset = client.post(PAGE, {"reset": "MAX_WISHES"})

    assert (response.status_code, reset.status_code) == (404, 404)
    assert not ParameterOverride.objects.exists()
    assert not ParameterChange.objects.exists()


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert "/login/" in response["Location"]


# A superuser: no staff scope nor permissions to read; the maintenance switch's "add" permission (the sidebar).
@pytest.mark.parametrize(("persona", "queries"), [("central_manager", QUERIES_PAGE), ("admin_user", 7)])
def test_the_central_office_and_superusers_see_every_parameter(
    request, client, persona, queries, django_assert_num_queries
):
    client.force_login(request.getfixturevalue(persona))

    with django_assert_num_queries(queries):
        response = client.get(PAGE)

    assert response.status_code == 200
    for parameter in parameters.PARAMETERS:
        assertContains(response, f'id="parameter-{parameter.name}"')
        assertContains(response, f"<code>{parameter.name}</code>")
    assertContains(response, "Nombre maximum de candidatures")
    assertContains(response, "paramètre eCandidat CANDIDATURE_NB_VOEUX_MAX")
    assertContains(response, "Aucun paramètre n'a été modifié ici.")  # the template's text is not escaped
    assertNotContains(response, 'name="reset"')


def test_the_query_count_does_not_grow_with_the_changes(
    central_client, central_manager, admin_user, django_assert_num_queries
):
    set_parameters(actor=admin_user, values={"MAX_WISHES": 5, "SVA_ALERT_DATE": "REC"})
    set_parameters(actor=central_manager, values={"DECISION_APPEALS": False, "MAX_WISHES": 6})

    with django_assert_num_queries(QUERIES_PAGE):
        response = central_client.get(PAGE)

    assert len(response.context["history"]) == 4


def test_the_page_says_who_changed_a_value_and_when(central_client, admin_user):
    set_parameters(actor=admin_user, values={"MAX_WISHES": 5})
    row = ParameterOverride.objects.get()

    response = central_client.get(PAGE)

    assertContains(response, "Valeur actuelle : <strong>5</strong>")
    assertContains(
        response, f"modifiée ici par admin le {row.changed_at.astimezone():%d/%m/%Y %H:%M} (valeur par défaut : 20)."
    )
    assertContains(response, 'form="reset-MAX_WISHES" name="reset" value="MAX_WISHES"')
    assertContains(response, '<form id="reset-MAX_WISHES" method="post">')
    assertContains(response, "<td>20 → 5</td>", html=True)
    assertContains(response, 'name="MAX_WISHES" value="5"')


def test_the_form_labels_and_describes_each_field(central_client):
    response = central_client.get(PAGE)

    assertContains(response, '<label for="id_MAX_WISHES">Nombre maximum de candidatures\u00a0:</label>', html=True)
    assertContains(response, 'aria-describedby="id_MAX_WISHES_helptext" id="id_MAX_WISHES"')
    assertContains(response, 'id="id_MAX_WISHES_helptext"')


def test_saving_changes_only_what_was_changed(central_client, central_manager, django_assert_num_queries):
    # session, user, savepoint, scope; the overrides shown; the service's savepoint, the rows locked, the two new
    # rows in one INSERT (in a savepoint: 3), the history (one INSERT); 2 savepoints released.
    with django_assert_num_queries(13):
        response = central_client.post(PAGE, form_data(MAX_WISHES=4, WAITING_LIST_RANK_DISPLAY="N"))

    assertRedirects(response, PAGE, fetch_redirect_response=False)
    assert dict(ParameterOverride.objects.values_list("name", "value")) == {
        "MAX_WISHES": 4,
        "WAITING_LIST_RANK_DISPLAY": "N",
    }
    assert set(ParameterChange.objects.values_list("name", "changed_by")) == {
        ("MAX_WISHES", central_manager.pk),
        ("WAITING_LIST_RANK_DISPLAY", central_manager.pk),
    }
    assertContains(central_client.get(PAGE), "2 paramètres modifiés.")


def test_a_checkbox_unticked_is_saved_as_no(central_client, settings):
    settings.DECISION_APPEALS = True

    central_client.post(PAGE, form_data(DECISION_APPEALS=False))

    assert parameters.REGISTRY["DECISION_APPEALS"].default is True
    assert ParameterOverride.objects.get().value is False


def test_saving_a_stale_page_keeps_what_someone_else_changed_meanwhile(central_client, admin_user):
    page_shown = form_data(DECISION_APPEALS=False)  # MAX_WISHES shown as 20, untouched
    set_parameters(actor=admin_user, values={"MAX_WISHES": 8})  # meanwhile, in another tab

    central_client.post(PAGE, page_shown)

    assert dict(ParameterOverride.objects.values_list("name", "value")) == {"MAX_WISHES": 8, "DECISION_APPEALS": False}


def test_saving_nothing_says_so(central_client):
    response = central_client.post(PAGE, form_data(), follow=True)

    assertContains(response, "Aucun paramètre n&#x27;a été modifié.")  # a message, escaped
    assert not ParameterChange.objects.exists()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MAX_WISHES", "0", "Assurez-vous que cette valeur est supérieure ou égale à 1."),
        ("MAX_WISHES", "vingt", "Saisissez un nombre entier."),
        ("TRANSMISSION_REMINDER_DAYS", "61", "Assurez-vous que cette valeur est inférieure ou égale à 60."),
        ("SVA_ALERT_DATE", "JAMAIS", "Sélectionnez un choix valide. JAMAIS n’en fait pas partie."),
    ],
)
def test_a_refused_value_is_shown_next_to_its_field_and_nothing_is_saved(central_client, name, value, message):
    response = central_client.post(PAGE, {**form_data(DECISION_APPEALS=False), name: value})

    assert response.status_code == 400
    row = re.search(rf'<div class="form-row parameter errors" id="parameter-{name}">.*?</div>', response.text, re.S)
    assert row
    assert message in row.group(0)
    assert not ParameterOverride.objects.exists()


def test_restoring_the_default_value(central_client, admin_user, django_assert_num_queries):
    set_parameters(actor=admin_user, values={"MAX_WISHES": 5, "DECISION_APPEALS": False})

    # session, user, savepoint, scope; the overrides shown; the service's savepoint, the rows locked, the DELETE, the
    # history; 2 savepoints released.
    with django_assert_num_queries(11):
        response = central_client.post(PAGE, {"reset": "MAX_WISHES"})

    assertRedirects(response, PAGE, fetch_redirect_response=False)
    assert list(ParameterOverride.objects.values_list("name", flat=True)) == ["DECISION_APPEALS"]
    assert ParameterChange.objects.first().restored_default
    page = central_client.get(PAGE)
    assertContains(page, "« Nombre maximum de candidatures » a retrouvé sa valeur par défaut : 20.")
    assertContains(page, "20 → 5")
    assertContains(page, "5 → 20 (valeur par défaut rétablie)")


@pytest.mark.parametrize(
    ("name", "message"),
    [("SECRET_KEY", "Ce paramètre n&#x27;existe pas."), ("MAX_WISHES", "avait déjà sa valeur par défaut")],
)
def test_restoring_an_unknown_or_unchanged_parameter_changes_nothing(central_client, name, message):
    response = central_client.post(PAGE, {"reset": name}, follow=True)

    assertContains(response, message)
    assert not ParameterChange.objects.exists()


def test_the_admin_home_links_to_the_page_for_the_central_office_only(client, central_manager, centre_manager):
    client.force_login(central_manager)
    central_home = client.get(reverse("admin:index"))
    client.force_login(centre_manager)
    manager_home = client.get(reverse("admin:index"))

    assertContains(central_home, f'<a href="{PAGE}">Paramètres</a>', html=True)
    assertNotContains(manager_home, PAGE)


def test_a_change_on_the_page_applies_at_once_in_this_process(central_client, django_capture_on_commit_callbacks):
    assert parameters.get("MAX_WISHES") == 20  # the memory holds "no override"

    with django_capture_on_commit_callbacks(execute=True):
        central_client.post(PAGE, form_data(MAX_WISHES=2))

    assert parameters.get("MAX_WISHES") == 2


def test_the_central_office_turns_the_two_ent_switches_off(central_client, central_manager, settings):
    """ENT_ACCOUNTS_PASSWORD (CANDIDAT_IS_MDP_CONNECT_CAS) and ENT_CANDIDATE_LOGIN (CANDIDAT_IS_CONNECT_CAS), both on
    by default, shown with their eCandidat codes and turned off on the page."""
    page = central_client.get(PAGE)
    assertContains(page, "Les étudiants de l&#x27;ENT peuvent aussi choisir un mot de passe")
    assertContains(page, "Les candidats se connectent par l&#x27;ENT")
    assertContains(page, "CANDIDAT_IS_MDP_CONNECT_CAS")
    assertContains(page, "CANDIDAT_IS_CONNECT_CAS")

    central_client.post(PAGE, form_data(ENT_ACCOUNTS_PASSWORD=False, ENT_CANDIDATE_LOGIN=False))

    assert dict(ParameterOverride.objects.values_list("name", "value")) == {
        "ENT_ACCOUNTS_PASSWORD": False,
        "ENT_CANDIDATE_LOGIN": False,
    }
    assert set(ParameterChange.objects.values_list("name", "changed_by")) == {
        ("ENT_ACCOUNTS_PASSWORD", central_manager.pk),
        ("ENT_CANDIDATE_LOGIN", central_manager.pk),
    }


def test_the_central_office_turns_the_reset_on_a_type_change_on(central_client, central_manager):
    """TREATMENT_TYPE_RESETS_STATUS (SCOL_IS_STATUT_ATT_WHEN_CHANGE_TT), off by default, shown with its eCandidat code,
    the action and the status by their own labels, and turned on on the page."""
    page = central_client.get(PAGE)
    assertContains(page, "Dossier remis à « En attente » quand le type de traitement change")
    assertContains(page, "Oui : « Modifier le type de traitement » (sur une candidature ou une sélection)")
    assertContains(page, "SCOL_IS_STATUT_ATT_WHEN_CHANGE_TT")

    central_client.post(PAGE, form_data(TREATMENT_TYPE_RESETS_STATUS=True))

    assert dict(ParameterOverride.objects.values_list("name", "value")) == {"TREATMENT_TYPE_RESETS_STATUS": True}
    assert list(ParameterChange.objects.values_list("name", "changed_by")) == [
        ("TREATMENT_TYPE_RESETS_STATUS", central_manager.pk)
    ]
