"""The commission packs' counts (review, 2026-12-07): the piece pack's choice counted the cancelled applications of
the selection (« La pièce de 3 dossiers ») though the pack leaves them out and the message after it said 2, one left
out; the queueing message had no singular (« Les 1 dossiers pour la commission sont en cours de constitution. »)."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from applications.enums import DossierStatus
from applications.models import CommissionPack
from applications.tests.factories_candidature import make_application
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")

CHANGELIST = "admin:applications_application_changelist"


@pytest.fixture
def formation(centre, commission):
    formation = FormationFactory(centre=centre, commission=commission, code="M1ENER")
    formation.piece_types.add(PieceTypeFactory(code="CV", label="Curriculum vitae"))
    return formation


def selection_of(formation, campaign, *, live: int, cancelled: int) -> list:
    """``live`` applications, then ``cancelled`` cancelled ones."""
    return [make_application(formation, campaign=campaign) for _ in range(live)] + [
        make_application(formation, campaign=campaign, status=DossierStatus.WAITING, cancelled_at=timezone.now())
        for _ in range(cancelled)
    ]


def post_action(client, applications, action):
    return client.post(reverse(CHANGELIST), {"action": action, ACTION_CHECKBOX_NAME: [a.pk for a in applications]})


@pytest.mark.parametrize(
    ("live", "said"),
    [
        (1, "La pièce de 1 dossier, chaque fichier"),
        (2, "La pièce de 2 dossiers, chaque fichier"),
    ],
)
def test_the_piece_choice_counts_the_live_dossiers_only(
    client, commission_member, formation, campaign, live, said, django_assert_num_queries
):
    selection = selection_of(formation, campaign, live=live, cancelled=1)
    client.force_login(commission_member)

    # As the same form without a cancelled application (20, test_piece_pack): the cancellations are read in the
    # selection's query.
    with django_assert_num_queries(20):
        response = post_action(client, selection, "piece_pack_action")

    page = response.content.decode()
    assert response.status_code == 200
    assert said in page
    # The selection is sent back whole: the message after the choice says how many were left out.
    for application in selection:
        assert f'<input type="hidden" name="{ACTION_CHECKBOX_NAME}" value="{application.pk}">' in page
    assert not CommissionPack.objects.exists()


@pytest.mark.parametrize(
    ("cancelled", "level", "said"),
    [
        (0, "info", "Le dossier pour la commission est en cours de constitution."),
        (
            1,
            "warning",
            "Le dossier pour la commission est en cours de constitution. 1 candidature annulée laissée de côté.",
        ),
    ],
)
def test_the_queueing_message_of_one_dossier_is_singular(
    client, commission_member, formation, campaign, cancelled, level, said
):
    selection = selection_of(formation, campaign, live=1, cancelled=cancelled)
    client.force_login(commission_member)

    response = post_action(client, selection, "commission_pack_action")

    assert response.status_code == 302
    assert [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)] == [(level, said)]
    assert CommissionPack.objects.get().total == 1
