"""Piece types, complementary forms and complementary questions in the back office
(``offers.admin_catalogue.ScopedByCentre``): a centre manager given their Django permissions reads the institution's
rows and their centres', changes only their centres', and never sees, changes nor creates another centre's."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from offers.models import ComplementaryForm, PieceType, Question
from offers.tests.factories import PieceTypeFactory, make_question

ACTIONS = ("view", "add", "change", "delete")


@pytest.fixture
def manager_client(client, centre_manager):
    codenames = [f"{action}_{model}" for action in ACTIONS for model in ("piecetype", "complementaryform", "question")]
    centre_manager.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(centre_manager)
    return client


def _piece_data(centre, **fields):
    return {
        "code": "PJ_NEW",
        "label": "Attestation",
        "centre": centre.pk,
        "is_common": "on",
        "order": 0,
        "in_service": "on",
        **fields,
    }


def test_a_centre_manager_reaches_only_their_centres_piece_types(manager_client, centre, other_centre):
    """Regression: the piece types' page was a plain ModelAdmin: every centre's rows, changed and created alike."""
    own = PieceTypeFactory(centre=centre, is_common=True)
    institution = PieceTypeFactory(centre=None)
    foreign = PieceTypeFactory(centre=other_centre, is_common=True)

    listed = manager_client.get(reverse("admin:offers_piecetype_changelist")).context["cl"].result_list

    assert set(listed) == {own, institution}
    change_url = "admin:offers_piecetype_change"
    assert manager_client.get(reverse(change_url, args=[foreign.pk])).status_code == 404
    # The institution's piece is read, not changed.
    assert manager_client.get(reverse(change_url, args=[institution.pk])).context["has_change_permission"] is False
    posted = manager_client.post(
        reverse(change_url, args=[institution.pk]), _piece_data(centre, code=institution.code, is_common="")
    )
    assert posted.status_code == 403
    institution.refresh_from_db()
    assert institution.label != "Attestation"
    # A piece of another centre is not created; one of their own centre is.
    add_url = reverse("admin:offers_piecetype_add")
    response = manager_client.post(add_url, _piece_data(other_centre))
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["centre"]
    assert not PieceType.objects.filter(code="PJ_NEW").exists()
    assert manager_client.post(add_url, _piece_data(centre)).status_code == 302
    assert PieceType.objects.get(code="PJ_NEW").centre == centre


def test_a_centre_manager_reaches_only_their_centres_complementary_forms(manager_client, centre, other_centre):
    def form(code, centre, survey_id):
        return ComplementaryForm.objects.create(
            code=code, survey_id=survey_id, label=code, candidate_label=code, url="https://survey", centre=centre
        )

    own, institution, foreign = form("OWN", centre, 1), form("ALL", None, 2), form("OTHER", other_centre, 3)

    listed = manager_client.get(reverse("admin:offers_complementaryform_changelist")).context["cl"].result_list

    assert set(listed) == {own, institution}
    change_url = "admin:offers_complementaryform_change"
    assert manager_client.get(reverse(change_url, args=[foreign.pk])).status_code == 404
    assert manager_client.get(reverse(change_url, args=[institution.pk])).context["has_change_permission"] is False
    data = {"code": "NEW", "survey_id": 4, "label": "New", "candidate_label": "New", "url": "https://survey"}
    response = manager_client.post(reverse("admin:offers_complementaryform_add"), {**data, "centre": other_centre.pk})
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["centre"]
    assert not ComplementaryForm.objects.filter(code="NEW").exists()


def test_a_centre_manager_reaches_only_their_centres_questions(manager_client, centre, other_centre):
    """Regression: the questions' page was a plain ModelAdmin: another centre's questions were listed, changed,
    created and deleted."""
    own = make_question("OWN", centre=centre, is_common=True)
    institution = make_question("ALL")
    foreign = make_question("OTHER", centre=other_centre, is_common=True)

    listed = manager_client.get(reverse("admin:offers_question_changelist")).context["cl"].result_list

    assert set(listed) == {own, institution}
    change_url = "admin:offers_question_change"
    assert manager_client.get(reverse(change_url, args=[foreign.pk])).status_code == 404
    assert manager_client.post(reverse(change_url, args=[foreign.pk]), {"label": "Changed"}).status_code == 404
    assert (
        manager_client.post(reverse("admin:offers_question_delete", args=[foreign.pk]), {"post": "yes"}).status_code
        == 404
    )
    assert manager_client.get(reverse(change_url, args=[institution.pk])).context["has_change_permission"] is False
    data = {"code": "NEW", "label": "New", "candidate_label": "New?", "kind": "S", "is_common": "on", "order": 0}
    data["in_service"] = "on"
    response = manager_client.post(reverse("admin:offers_question_add"), {**data, "centre": other_centre.pk})
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["centre"]
    created = manager_client.post(reverse("admin:offers_question_add"), {**data, "centre": centre.pk})
    assert created.status_code == 302, created.context["adminform"].form.errors
    assert Question.objects.get(code="NEW").centre == centre
    foreign.refresh_from_db()
    assert foreign.label == "Label OTHER"
