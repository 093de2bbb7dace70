"""A withdrawn candidate put back on the complementary list holds no rank.

A candidate withdrew their favourable decision; the commission then corrects its avis to a complementary list, and
it is validated. The withdrawal stands (``staff._reset_answer``, ecandidat-features §1.12: the désistement is
irreversible): the decision is recorded, the candidate is never promoted (``_first_of_waiting_list``). The rang
réel counted them all the same: the real first in line was shown and mailed rank 2, for ever, and the withdrawn
candidate was mailed a rank their recap does not show. Now a withdrawn application is on no list
(``staff.waiting_list_queryset``), is given no rank (``staff.mailed_rank``) and is mailed no decision at all
(``notifications.notify_decision``: « Si une place se libère, vous recevrez un avis favorable » promised a place
that never comes).
"""

import pytest

from applications.services import candidature as candidature_services
from applications.services import staff
from applications.tests.factories_candidature import decide, make_application
from applications.tests.helpers import mails
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def formation(centre, commission):
    # No automatic list: the place the withdrawal frees is given to nobody, the list stays as it is.
    return FormationFactory(centre=centre, commission=commission, auto_waiting_list=False)


@pytest.fixture
def first_in_line(formation, campaign, central_manager):
    """On the list at rank 2 entered, rang réel 1: nobody else is on it."""
    application = make_application(formation, campaign=campaign, email="premier@example.org")
    decide(application, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=2)
    return application


@pytest.fixture
def withdrawn(formation, campaign, central_manager, first_in_line):
    """Admitted, then withdrew."""
    application = make_application(formation, campaign=campaign, email="desiste@example.org")
    decide(application, Avis.FAVOURABLE, actor=central_manager)
    candidature_services.withdraw_application(application=application, actor=application.candidate.user, reason="PER")
    application.refresh_from_db()
    assert application.accepted is False
    return application


@pytest.mark.parametrize("display", ["R", "S"])
def test_a_withdrawn_candidate_put_back_on_the_list_holds_no_rank(
    settings, formation, first_in_line, withdrawn, central_manager, display
):
    settings.WAITING_LIST_RANK_DISPLAY = display

    decide(withdrawn, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)

    withdrawn.refresh_from_db()
    first_in_line.refresh_from_db()
    assert withdrawn.accepted is False  # the withdrawal stands
    assert (withdrawn.waiting_list_rank, withdrawn.waiting_list_rank_mailed) == (None, None)
    assert first_in_line.waiting_list_rank == 1
    assert list(staff.waiting_list_queryset(formation).values_list("pk", flat=True)) == [first_in_line.pk]
    # Nor any mail: it would promise a place that never comes (``notifications.notify_decision``).
    assert [mail.to for mail in mails("AVIS_LISTE_COMP")] == [first_in_line.candidate.user.email]


def test_the_nightly_ranks_leave_a_withdrawn_candidate_out(formation, first_in_line, withdrawn, central_manager):
    decide(withdrawn, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)

    assert staff.recompute_waiting_list_ranks(formation=formation) == 1

    first_in_line.refresh_from_db()
    withdrawn.refresh_from_db()
    assert (first_in_line.waiting_list_rank, withdrawn.waiting_list_rank) == (1, None)
