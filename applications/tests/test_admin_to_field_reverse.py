"""``?_to_field=`` naming a reverse relation of the page's model (``?_to_field=events`` on the applications'
list): Django 6.1 reads the ``primary_key`` of what the name resolves to, which a reverse relation has not, and
every list and change page answered a 500 (an ``AttributeError``) to every staff member, even on pages their rights
do not open. Found on 2026-12-07 by a reviewer sweeping the back office with each persona.
``ecandidat.admin_base.refusing_reverse_to_fields`` refuses the name with a 400, as Django refuses a column that
no relation targets (``?_to_field=password``)."""

import pytest
from django.contrib import admin
from django.urls import reverse

from applications.tests.factories_candidature import make_application
from offers.tests.factories import FormationFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("back_office_in_french")]

APPLICATIONS = reverse("admin:applications_application_changelist")


def _reverse_relations() -> list[str]:
    """Every registered list with each reverse relation of its model (ours and the packages')."""
    return [
        f"{reverse(f'admin:{model._meta.app_label}_{model._meta.model_name}_changelist')}?_to_field={field.name}"
        for model in admin.site._registry
        for field in model._meta.get_fields(include_hidden=True)
        if field.auto_created and not field.concrete and field.name
    ]


def test_every_list_refuses_a_reverse_relation_as_to_field(client, superuser):
    queries = _reverse_relations()
    client.force_login(superuser)
    client.raise_request_exception = False  # a 500 is collected with the others, not raised

    statuses = {query: client.get(query).status_code for query in queries}

    wrong = {query: status for query, status in statuses.items() if status != 400}
    assert not wrong, "\n".join(f"{status} {query}" for query, status in wrong.items())
    assert len(queries) > 50  # every list was found


def test_a_centre_managers_pages_refuse_it_and_read_no_row(
    client, django_assert_num_queries, centre_manager, centre, commission, campaign
):
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    client.force_login(centre_manager)
    change = reverse("admin:applications_application_change", args=[application.pk])

    with django_assert_num_queries(6):  # session, user, scope in the request's savepoint, rolled back; no row read
        response = client.get(f"{APPLICATIONS}?_to_field=events")
    change_response = client.get(f"{change}?_to_field=events")
    candidate = reverse("admin:applications_candidate_change", args=[application.candidate_id])

    assert response.status_code == 400
    assert "Requête incorrecte" in response.content.decode()
    assert change_response.status_code == 200  # the application's page is its review page, which reads no _to_field
    assert client.get(f"{candidate}?_to_field=applications").status_code == 400


def test_the_primary_key_and_a_referenced_column_are_still_allowed(client, superuser):
    client.force_login(superuser)

    assert client.get(f"{APPLICATIONS}?_to_field=id").status_code == 200
