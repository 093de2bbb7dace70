"""The nightly automatic withdrawal (no answer by the date de confirmation) cancels the decision's mails still
waiting in the outbox, as the candidate's own withdrawal does: a « confirmez avant le… » that waited for the mail
server must not reach a candidate withdrawn that night."""

import io

import pytest
import time_machine
from django.core.management import call_command

from applications.services.candidature import confirm_application
from applications.tests.helpers import formation_confirmed_by, mails, paris, released
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.usefixtures("before_the_confirmation_date")


def test_the_nightly_withdrawal_cancels_the_decision_mail_that_has_not_left(
    maintenance_window, centre, commission, campaign, central_manager
):
    application = released(formation_confirmed_by(centre, commission), campaign, central_manager, email="fa@x.org")
    other = released(formation_confirmed_by(centre, commission), campaign, central_manager, email="ok@x.org")
    confirm_application(application=other, actor=other.candidate.user)  # in time: not withdrawn, its mail untouched
    # Never sent: the test runs no on-commit dispatch, as when the mail server was down all along.
    assert {mail.status for mail in mails("AVIS_FAVORABLE")} == {OutboundEmail.Status.PENDING}

    with time_machine.travel(paris(2027, 6, 30, 23, 0), tick=False):
        call_command("withdraw_expired_confirmations", stdout=io.StringIO(), stderr=io.StringIO())

    application.refresh_from_db()
    assert application.accepted is False
    statuses = {mail.to: (mail.status, mail.cancel_reason != "") for mail in mails("AVIS_FAVORABLE")}
    assert statuses == {
        "fa@x.org": (OutboundEmail.Status.CANCELLED, True),
        "ok@x.org": (OutboundEmail.Status.PENDING, False),
    }
    assert [(mail.to, mail.status) for mail in mails("CANDIDATURE_DESIST_AUTO")] == [
        ("fa@x.org", OutboundEmail.Status.PENDING)
    ]
