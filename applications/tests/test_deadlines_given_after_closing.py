"""A new date limite de retour or a piece's own « à remplacer au plus tard le » given once the site has closed for
the night (22:45–06:00) must not be today: the candidate could not reach the site again before it passed (found by
review: accepted at 22:50, then « La date limite de retour (…) est dépassée » at 06:00). As the new date de
confirmation already was (``staff.new_confirmation_date_refusal``)."""

import datetime

import pytest
import time_machine

from applications.admin.forms import DeadlinesForm
from applications.enums import PieceStatus
from applications.models import PieceSubmission
from applications.services import staff
from applications.services.pieces import clean_piece_check
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import paris
from ecandidat.exceptions import BusinessRuleError, FieldRuleError
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("maintenance_window")]

TODAY = datetime.date(2027, 4, 2)
CLOSED = paris(2027, 4, 2, 22, 50)  # the site closed since 22:45
OPEN = paris(2027, 4, 2, 21, 40)  # before the site's last hour (applications.dates.ACT_MARGIN)
RETURN_CLOSED = (
    "The candidate could no longer transmit by today: the site is closed until 06:00 tomorrow. Give tomorrow's date "
    "or a later one."
)
REPLACE_CLOSED = (
    "The candidate could no longer replace the piece by today: the site is closed until 06:00 tomorrow. Give "
    "tomorrow's date or a later one."
)


@pytest.fixture
def application(centre, commission, campaign):
    return make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)


def test_todays_return_deadline_once_the_site_closed_is_refused_with_why(application, central_manager):
    with time_machine.travel(CLOSED, tick=False):
        form = DeadlinesForm(data={"return_deadline": TODAY.isoformat()})
        assert form.errors == {"return_deadline": [RETURN_CLOSED]}
        with pytest.raises(BusinessRuleError, match="could no longer transmit by today"):
            staff.extend_deadlines(application, actor=central_manager, return_deadline=TODAY)
        tomorrow = TODAY + datetime.timedelta(days=1)
        assert DeadlinesForm(data={"return_deadline": tomorrow.isoformat()}).is_valid()
        staff.extend_deadlines(application, actor=central_manager, return_deadline=tomorrow)
    application.refresh_from_db()
    assert application.return_deadline_override == tomorrow


def test_todays_return_deadline_before_the_site_closed_is_given(application, central_manager):
    with time_machine.travel(OPEN, tick=False):
        assert DeadlinesForm(data={"return_deadline": TODAY.isoformat()}).is_valid()
        staff.extend_deadlines(application, actor=central_manager, return_deadline=TODAY)
    application.refresh_from_db()
    assert application.return_deadline_override == TODAY


def test_a_past_return_deadline_keeps_its_own_message(application, central_manager):
    with time_machine.travel(CLOSED, tick=False):
        form = DeadlinesForm(data={"return_deadline": (TODAY - datetime.timedelta(days=1)).isoformat()})
        assert form.errors == {"return_deadline": ["The new date must be today or later."]}


@pytest.mark.parametrize(("moment", "refusal"), [(CLOSED, REPLACE_CLOSED), (OPEN, None)])
def test_a_pieces_own_date_of_today_once_the_site_closed_is_refused_with_why(application, moment, refusal):
    # The check of the staff's input alone (``clean_piece_check``, before any row is read): a piece in memory.
    submission = PieceSubmission(
        candidate=application.candidate, application=application, piece_type=PieceTypeFactory()
    )
    with time_machine.travel(moment, tick=False):
        if refusal is None:
            assert clean_piece_check(
                submission=submission, status=PieceStatus.REFUSED, comment="Flou", replace_by=TODAY
            )
            return
        with pytest.raises(FieldRuleError) as error:
            clean_piece_check(submission=submission, status=PieceStatus.REFUSED, comment="Flou", replace_by=TODAY)
    assert (str(error.value), error.value.field) == (refusal, "replace_by")
