"""The staff who write none of the back office's setup (the helpdesk, GCA and GCAL, the read-only staff, the
commission members) get a 404, as outsiders do, from the add, delete and history pages they are never offered,
where Django answered 403: adding or deleting a candidate typed by the helpdesk, adding a formation typed by a
commission member. The central office and the centre managers keep Django's answers; a forged POST on a page the
reader reads stays 403; a list refused as a whole stays 403 for the read-only staff and commission members (404 for
the candidates managers, test_candidates_managers)."""

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from applications.tests.factories_candidature import make_application
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

READERS = ["candidates_manager", "candidates_reader", "read_only_staff", "commission_member"]


@pytest.fixture
def application(centre, commission, campaign):
    return make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)


def _admin_pages(kind: str) -> list[str]:
    """Each registered list's page of ``kind`` ("add", or "delete"/"history" of a row), for its first row."""
    urls = []
    for model in admin.site._registry:
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}_{kind}"
        row = model._default_manager.order_by("pk").first() if kind != "add" else None
        if kind != "add" and row is None:
            continue
        try:
            urls.append(reverse(info, args=[] if row is None else [row.pk]))
        except NoReverseMatch:  # a list without that page (the parameters)
            continue
    return urls


@pytest.mark.parametrize("persona", ["candidates_manager", "candidates_reader"])
def test_the_helpdesk_gets_404_adding_or_deleting_a_candidate(
    client, request, persona, application, django_assert_num_queries
):
    client.force_login(request.getfixturevalue(persona))
    add = reverse("admin:applications_candidate_add")
    delete = reverse("admin:applications_candidate_delete", args=[application.candidate_id])
    client.get(reverse("admin:index"))

    with django_assert_num_queries(8):  # the session, the account, its memberships: no candidate is read
        added = client.get(add)
    answers = [added.status_code, client.post(add).status_code, client.get(delete).status_code]
    answers.append(client.post(delete, {"post": "yes"}).status_code)

    assert answers == [404, 404, 404, 404]
    assert application.candidate.__class__.objects.filter(pk=application.candidate_id).exists()


@pytest.mark.parametrize("persona", READERS)
@pytest.mark.parametrize("kind", ["add", "delete", "history"])
def test_no_admin_page_answers_403_to_a_reader(client, request, persona, kind, application):
    """Every list's add, delete and history page, typed: the page (200), the admin's redirect to the list (302), or
    a 404; never Django's 403, which tells the page exists and is someone else's."""
    client.force_login(request.getfixturevalue(persona))
    urls = _admin_pages(kind)
    assert urls

    forbidden = {url: client.get(url).status_code for url in urls}
    forbidden |= {f"POST {url}": client.post(url, {"post": "yes"}).status_code for url in urls}

    assert {url: status for url, status in forbidden.items() if status == 403} == {}


def test_a_readers_forged_post_on_a_page_they_read_stays_403(client, candidates_reader, application):
    client.force_login(candidates_reader)

    response = client.post(reverse("admin:applications_candidate_change", args=[application.candidate_id]), {})

    assert response.status_code == 403


@pytest.mark.parametrize("persona", ["central_manager", "centre_manager"])
def test_the_central_office_and_managers_keep_djangos_answer(client, request, persona, application):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(reverse("admin:applications_application_add")).status_code == 403
