"""Outsiders get 404, in the whole back office: the staff who write none of its setup (read-only staff, commission
members) read a list or a row, or get the 404 an outsider gets, never Django's 403, on every registered ModelAdmin's
list and on one of its rows (``ecandidat.admin_base.not_found_for_readers``). A forged POST on a page they read
stays a 403."""

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.test import RequestFactory
from django.urls import reverse

from applications.tests.factories_candidature import make_application, with_file
from offers.tests.factories import FormationFactory

READERS = ["read_only_staff", "commission_member"]
QUERIES_REFUSED = 6  # session, account, its memberships (the scope) in a savepoint: no lookup of the list
QUERIES_FORGED_POST = 12  # the dossier and its scope are read before the form is refused
# Every registered ModelAdmin, by its model's label (sites.Site, auth.Group… included: they are pages too).
ADMINS = sorted(model._meta.label for model in admin.site._registry)
# Those with a change page (the parameters' override has only its own page, tested by test_parameters_page).
ROW_PAGES = {"ecandidat.ParameterOverride": False}


@pytest.fixture
def application(centre, commission, campaign):
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    with_file(application)
    return application


def model_admin_of(label):
    return next(model_admin for model, model_admin in admin.site._registry.items() if model._meta.label == label)


def asked_by(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def admin_url(model_admin, page, *args):
    opts = model_admin.model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{page}", args=args)


@pytest.mark.parametrize("label", ADMINS)
@pytest.mark.parametrize("persona", READERS)
def test_readers_read_a_list_or_do_not_find_it(request, client, application, persona, label):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    model_admin = model_admin_of(label)

    response = client.get(admin_url(model_admin, "changelist"))

    assert response.status_code in {200, 404}
    # 200 exactly where the list is offered: the menu's links and the answers say the same.
    assert (response.status_code == 200) == model_admin.has_view_permission(asked_by(user))


@pytest.mark.parametrize("label", [label for label in ADMINS if ROW_PAGES.get(label, True)])
@pytest.mark.parametrize("persona", READERS)
def test_readers_read_a_row_or_do_not_find_it(request, client, application, persona, label):
    """The application's rows (its candidate, formation, centre, account…) where the fixtures made one; elsewhere
    an id no row has, which Django refuses before looking (the permission is asked first): the 404 is the rule's."""
    user = request.getfixturevalue(persona)
    client.force_login(user)
    model_admin = model_admin_of(label)
    row = model_admin.model._default_manager.order_by("pk").first()

    response = client.get(admin_url(model_admin, "change", row.pk if row is not None else 0))

    assert response.status_code in {200, 404}
    if not model_admin.has_view_permission(asked_by(user)):
        assert response.status_code == 404


@pytest.mark.parametrize("persona", READERS)
def test_a_list_refused_as_a_whole_is_not_found_in_constant_queries(
    request, client, django_assert_num_queries, application, persona
):
    """The OPI screen typed by a reader: not found, before the screen's counters (session, account, scope)."""
    client.force_login(request.getfixturevalue(persona))

    with django_assert_num_queries(QUERIES_REFUSED):
        response = client.get(reverse("admin:applications_opi_changelist"))

    assert response.status_code == 404


@pytest.mark.parametrize("persona", READERS)
def test_a_forged_post_on_a_page_the_reader_reads_stays_refused(
    request, client, django_assert_num_queries, application, persona
):
    """The candidate's dossier, which both read: a POST they are never offered is a 403, and nothing changes."""
    client.force_login(request.getfixturevalue(persona))
    candidate = application.candidate
    url = reverse("admin:applications_candidate_change", args=[candidate.pk])
    assert client.get(url).status_code == 200

    with django_assert_num_queries(QUERIES_FORGED_POST):
        response = client.post(url, {"birth_name": "FORGED"})

    assert response.status_code == 403
    candidate.refresh_from_db()
    assert candidate.birth_name != "FORGED"
    assert not LogEntry.objects.exists()
