"""The reference lists in the back office: read-only, for the central office only."""

import pytest
from django.urls import reverse

from applications.models import ReferenceCommune

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:applications_referencecommune_changelist"


def communes(rows: int) -> None:
    ReferenceCommune.objects.bulk_create(
        ReferenceCommune(code=f"66{n:03d}", label=f"COMMUNE {n}", insee_code=f"66{n:03d}", postal_code="66000")
        for n in range(rows)
    )


@pytest.mark.parametrize("rows", [1, 30])
def test_central_office_reads_the_list_with_constant_queries(client, central_manager, django_assert_num_queries, rows):
    communes(rows)
    client.force_login(central_manager)

    with django_assert_num_queries(9):
        response = client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == rows
    assert not response.context["has_add_permission"]


@pytest.mark.parametrize("persona", ["centre_manager", "other_centre_manager", "commission_member", "read_only_staff"])
def test_other_staff_are_refused(request, client, persona):
    communes(1)
    client.force_login(request.getfixturevalue(persona))

    # The managers keep Django's 403; the readers, never offered the list, do not find it (as an outsider).
    refused = 403 if persona.endswith("centre_manager") else 404
    assert client.get(reverse(CHANGELIST)).status_code == refused


def test_nobody_edits_a_row(client, central_manager):
    communes(1)
    client.force_login(central_manager)
    row = ReferenceCommune.objects.get()

    response = client.post(reverse("admin:applications_referencecommune_change", args=[row.pk]), {"label": "X"})

    assert response.status_code == 403
    assert ReferenceCommune.objects.get().label == "COMMUNE 0"


def test_candidate_and_anonymous_are_sent_to_the_login(client, candidate):
    assert client.get(reverse(CHANGELIST)).status_code == 302
    client.force_login(candidate.user)
    assert client.get(reverse(CHANGELIST)).status_code == 302
