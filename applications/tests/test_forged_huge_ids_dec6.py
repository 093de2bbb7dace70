"""Ids out of the database's integer range (64 bits) in a list's query string or in a form's multiple choice: none
of our links or forms sends one, but a hand-made address or POST did, and SQLite answered a 500 ("Python int too
large to convert to SQLite INTEGER", an OverflowError raised when it binds the value; PostgreSQL reads such a value
and finds no row). Found on 2026-12-06 by a reviewer on SQLite, the database of ``make run`` and of the tests.

- A list, and the exports that read its query string, filtered by the id of a row or of a related row
  (``?pk__in=…``, ``?campaign=…``, ``?campaign__in=…``): Django compares only the list's own integer fields with
  its bounds, for ``exact`` and the comparisons, not ``__in`` nor a foreign key.
  ``ecandidat.admin_base.refusing_forged_lookups`` refuses them with a 400, as every filter the database cannot run.
- A form's multiple choice of rows (the tags of the mass action, a formation's pieces, a membership's commissions):
  Django reads the posted ids back with ``pk__in`` and catches only the values it cannot convert.
  ``ecandidat.admin_base.refusing_out_of_range_choices`` gives the field's own message instead, as for an id that
  names no row."""

import pytest
from django.contrib import admin
from django.db import models
from django.urls import reverse

from accounts.models import StaffMembership, User
from applications.models import Application, ApplicationTag, Tag
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import admin_form_data
from offers.admin_exports import XlsxExport
from offers.tests.factories import FormationFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("back_office_in_french")]

HUGE = "9" * 20  # a bigint holds 19 digits
OUT_OF_RANGE = [HUGE, "-" + HUGE]
NOT_A_CHOICE = "Sélectionnez un choix valide. {} n’en fait pas partie."
APPLICATIONS = reverse("admin:applications_application_changelist")


@pytest.fixture
def application(centre, commission, campaign):
    return make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)


def _lists() -> list[tuple[str, list[str]]]:
    """Every registered list (ours and the packages'), once for each address that reads its query string (the list,
    its exports), with the lookups by id its query string may name: the row's own, each foreign key's to an integer
    id (a list filter of ours named like one, ``?formation=``, is checked as the field would be)."""
    lists: list[tuple[str, list[str]]] = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        if opts.label_lower == "ecandidat.parameteroverride":
            continue  # its "list" is the parameters' page (ecandidat.admin_parameters), which reads no query string
        urls = [reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")]
        if isinstance(model_admin, XlsxExport):
            urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_export"))
        if model is Application:
            urls += [reverse("admin:applications_application_export", args=[fmt]) for fmt in ("csv", "xlsx")]
        keys = [
            field.name
            for field in opts.concrete_fields
            if isinstance(field, models.ForeignKey) and isinstance(field.target_field, models.IntegerField)
        ]  # not the keys to a code (an application's regime): a text that names no row
        lookups = [*dict.fromkeys(["pk__in", f"{opts.pk.name}__in"])]
        lookups += [f"{key}{suffix}" for key in keys for suffix in ("", "__exact", "__in")]
        lists.extend((url, lookups) for url in urls)
    return lists


def _statuses(client, queries) -> dict[str, int]:
    client.raise_request_exception = False  # a 500 is collected with the others, not raised
    return {query: client.get(query).status_code for query in queries}


@pytest.mark.parametrize("value", OUT_OF_RANGE, ids=["huge", "-huge"])
def test_every_list_refuses_an_id_out_of_range_in_its_query_string(client, superuser, value):
    """Each list and export with each lookup, as a superuser (who opens every list): a 400, Django's answer to a
    filter it does not allow."""
    queries = [f"{url}?{lookup}={value}" for url, lookups in _lists() for lookup in lookups]
    client.force_login(superuser)

    statuses = _statuses(client, queries)

    wrong = {query: status for query, status in statuses.items() if status != 400}
    assert not wrong, "\n".join(f"{status} {query}" for query, status in wrong.items())
    assert len(queries) > 200  # every list was found (44 lists and 5 exports as written)


def test_a_centre_managers_lists_refuse_an_id_out_of_range_and_read_no_row(
    client, django_assert_num_queries, centre_manager
):
    client.force_login(centre_manager)

    with django_assert_num_queries(6):  # session, user, scope in the request's savepoint, rolled back; no row read
        response = client.get(f"{APPLICATIONS}?campaign={HUGE}")
    statuses = _statuses(
        client,
        [
            f"{APPLICATIONS}?campaign__in=1,{HUGE}",
            f"{APPLICATIONS}?pk__in=-{HUGE}",
            reverse("admin:applications_application_export", args=["csv"]) + f"?campaign__exact={HUGE}",
            reverse("admin:accounts_staffmembership_changelist") + f"?centre={HUGE}",
            reverse("admin:offers_formation_changelist") + f"?commission__in={HUGE}",
            reverse("admin:offers_formation_export") + f"?centre={HUGE}",
        ],
    )

    assert response.status_code == 400
    assert "Requête incorrecte" in response.content.decode()
    assert set(statuses.values()) == {400}, statuses


@pytest.mark.parametrize("query", ["campaign=0", "campaign__in=0,1000", "pk__in=0", f"campaign={'9' * 18}"])
def test_a_list_filtered_by_an_id_in_range_that_names_no_row_is_kept(client, superuser, application, query):
    client.force_login(superuser)

    response = client.get(f"{APPLICATIONS}?{query}")

    assert response.status_code == 200
    assert response.context["cl"].result_count == 0


# --- multiple choices of rows ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", OUT_OF_RANGE, ids=["huge", "-huge"])
def test_the_tags_mass_action_refuses_a_tag_out_of_range(
    client, django_assert_num_queries, centre_manager, application, centre, value
):
    """``applications.admin.forms.TagsForm``: the tags to add and to remove, ticked on the action's page."""
    tag = Tag.objects.create(label="Prioritaire", centre=centre)
    client.force_login(centre_manager)
    selection = {"action": "action_change_tags", "_selected_action": [application.pk], "apply": "1"}

    with django_assert_num_queries(QUERIES_TAGS_PAGE):
        added = client.post(APPLICATIONS, {**selection, "add": [tag.pk, value]})
    removed = client.post(APPLICATIONS, {**selection, "remove": [value]})

    assert (added.status_code, removed.status_code) == (200, 200)  # the action's page again, with the message
    assert added.context["form"].errors["add"] == [NOT_A_CHOICE.format(value)]
    assert removed.context["form"].errors["remove"] == [NOT_A_CHOICE.format(value)]
    assert not ApplicationTag.objects.exists()
    # The error summary's link leads to the first box of the field in error, without reading its choices again.
    page = added.content.decode()
    assert 'href="#id_add_0"' in page
    assert 'id="id_add_0"' in page


# the list's own (the action runs from it), the selection, the tags offered (twice) and whether any; no tag read back
QUERIES_TAGS_PAGE = 21


@pytest.mark.parametrize("field", ["piece_types", "forms", "questions"])
def test_a_formation_refuses_a_piece_form_or_question_out_of_range(client, centre_manager, application, field):
    """The formation's page (``offers.admin.FormationAdmin``, ``WholeLabelChoiceField``)."""
    formation = application.formation
    client.force_login(centre_manager)
    url = reverse("admin:offers_formation_change", args=[formation.pk])
    data = admin_form_data(client.get(url))

    response = client.post(url, {**data, field: [HUGE], "title": "Autre titre", "_save": "1"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field] == [NOT_A_CHOICE.format(HUGE)]
    formation.refresh_from_db()
    assert formation.title != "Autre titre"


def test_a_membership_refuses_a_commission_out_of_range(client, central_manager, centre, commission):
    """The staff membership's commissions (``accounts.admin.CentreCommissionsField``); its single choices (the
    staff member, the centre) already said theirs."""
    colleague = User.objects.create_user("nouveau", is_staff=True)
    memberships = StaffMembership.objects.count()
    client.force_login(central_manager)
    add = reverse("admin:accounts_staffmembership_add")

    many = client.post(add, {"user": colleague.pk, "role": "CTR", "centre": centre.pk, "commissions": [HUGE]})
    single = client.post(add, {"user": HUGE, "role": "CTR", "centre": f"-{HUGE}", "all_commissions": "on"})

    assert (many.status_code, single.status_code) == (200, 200)
    assert NOT_A_CHOICE.format(HUGE) in many.context["adminform"].form.errors["commissions"]
    assert set(single.context["adminform"].form.errors) >= {"user", "centre"}
    assert StaffMembership.objects.count() == memberships
