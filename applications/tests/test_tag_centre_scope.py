"""The centre of a tag, for a manager of the whole centre A who also manages some commissions of centre B (issue 11):
a tag is its centre's as a whole, so the « Centre » offered is A only, when adding and when changing. B was offered:
they created a tag of B they could not change afterwards, and moved A's tags to B, leaving A's applications with a
tag of another centre (the review service refuses those, ``_check_centre``)."""

import pytest
from django.urls import reverse

from accounts.tests.factories import StaffMembershipFactory
from applications.models import Tag
from applications.tests.helpers import admin_form_data
from offers.tests.factories import CommissionFactory

INVALID_CHOICE = "Select a valid choice. That choice is not one of the available choices."

# The session, the user, the add view's savepoint and its release, the staff scope, the user's and their groups'
# permissions, the content type of tags, and the centres offered: as many as before the fix.
QUERIES_ADD_PAGE = 9


@pytest.fixture
def dual_manager(centre_manager, other_centre):
    """``centre_manager`` (the whole of ``centre``, A), also manager of one commission of ``other_centre`` (B)."""
    membership = StaffMembershipFactory(centre=other_centre, all_commissions=False, user=centre_manager)
    membership.commissions.set([CommissionFactory(centre=other_centre)])
    return centre_manager


def _add(client, centre):
    return client.post(
        reverse("admin:applications_tag_add"),
        {"label": "Entretien", "colour": "#112233", "centre": centre.pk, "in_service": "on"},
    )


def test_the_add_page_offers_only_the_centres_managed_wholly(client, dual_manager, centre, django_assert_num_queries):
    client.force_login(dual_manager)

    with django_assert_num_queries(QUERIES_ADD_PAGE):
        page = client.get(reverse("admin:applications_tag_add"))

    assert page.status_code == 200
    assert list(page.context["adminform"].form.fields["centre"].queryset) == [centre]


def test_a_tag_is_not_added_in_a_centre_managed_in_part(client, dual_manager, other_centre):
    client.force_login(dual_manager)

    response = _add(client, other_centre)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["centre"] == [INVALID_CHOICE]
    assert not Tag.objects.exists()


def test_a_tag_is_added_in_a_centre_managed_wholly(client, dual_manager, centre):
    client.force_login(dual_manager)

    response = _add(client, centre)

    assert response.status_code == 302
    assert list(Tag.objects.values_list("label", "centre_id")) == [("Entretien", centre.pk)]


def test_a_tag_is_not_moved_to_a_centre_managed_in_part(client, dual_manager, centre, other_centre):
    tag = Tag.objects.create(label="Entretien", colour="#112233", centre=centre)
    client.force_login(dual_manager)
    change = reverse("admin:applications_tag_change", args=[tag.pk])
    page = client.get(change)

    response = client.post(change, {**admin_form_data(page), "label": "Moved", "centre": other_centre.pk})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["centre"] == [INVALID_CHOICE]
    tag.refresh_from_db()
    assert (tag.label, tag.centre_id) == ("Entretien", centre.pk)
    assert list(page.context["adminform"].form.fields["centre"].queryset) == [centre]  # B not even offered


def test_a_formation_may_still_go_to_a_centre_managed_in_part(client, dual_manager, centre, other_centre):
    """A formation is a commission's: its « Centre » still offers the centres where the user manages commissions."""
    client.force_login(dual_manager)

    page = client.get(reverse("admin:offers_formation_add"))

    assert set(page.context["adminform"].form.fields["centre"].queryset) == {centre, other_centre}
