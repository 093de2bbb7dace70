"""A dossier's status mails (STATUT_*) and type de traitement mails (TYPE_TRAIT_*) never arrive out of order.

Staff set a dossier « Incomplet » while the relay refused for a while (« 421 »): its mail waited in the outbox for
its next attempt. The candidate sent the missing piece, staff set it « Complet », and that mail left at once. The
sweeper sends what is due in the order of its next attempt, so the « incomplet » mail, tried again later, arrived
after the « complet » one: the candidate read last that their dossier was incomplete. Now each such mail replaces the
previous one of its kind still waiting (``notifications.replaced_mails``): that one is ``CANCELLED`` with a reason the
central office reads in French in the outbox, the candidate's row and the centre's copy alike.
"""

import smtplib
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone, translation

from applications.enums import DossierStatus
from applications.notifications import status_topic, treatment_topic
from applications.services import candidature as candidature_services
from applications.services import staff
from applications.tests.factories_candidature import decide, make_application
from applications.tests.helpers import mails
from ecandidat.emails import send_pending_mails
from ecandidat.models import OutboundEmail
from offers.enums import Avis, TreatmentType
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

RELAY_BUSY = smtplib.SMTPConnectError(421, b"4.3.2 Service not available, try again later")
CANDIDATE = "estelle@example.org"
CENTRE_COPY = "scolarite@univ.example"
STATUS_REPLACED = "Not sent: a later status of the dossier replaced this one before this e-mail left."
TREATMENT_REPLACED = "Not sent: a later processing type replaced this one before this e-mail left."


def in_french(text: str) -> str:
    """``text`` as the institution reads it (« Non envoyé : … » once the French catalogue is built)."""
    with translation.override("fr"):
        return translation.gettext(text)


@pytest.fixture
def relay(mocker):
    """The mail relay, refusing for a while (« 421 ») until the test calls ``relay.back()``; then mails go to
    ``mailoutbox``."""
    busy = mocker.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=RELAY_BUSY)
    busy.back = lambda: mocker.stop(busy)
    return busy


@pytest.fixture
def application(centre, commission, campaign):
    centre.candidate_mail_copy, centre.email = "M", CENTRE_COPY
    centre.save()
    formation = FormationFactory(centre=centre, commission=commission, auto_waiting_list=False)
    return make_application(formation, campaign=campaign, email=CANDIDATE)


def _set_status(application, target, actor, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # the first attempt follows the commit
        staff.set_dossier_status(application, target=target, actor=actor)


def _everything_due_is_sent(mailoutbox) -> list[str]:
    """The sweeper runs until nothing is due (a day later: every back-off has passed); the subjects sent, in order."""
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        send_pending_mails()
    return [message.subject for message in mailoutbox]


def test_the_incomplete_mail_that_waited_is_not_sent_after_the_complete_one(
    application, central_manager, relay, mailoutbox, django_capture_on_commit_callbacks
):
    _set_status(application, DossierStatus.INCOMPLETE, central_manager, django_capture_on_commit_callbacks)
    incomplete = mails("STATUT_IN")
    assert sorted(mail.to for mail in incomplete) == [CANDIDATE, CENTRE_COPY]
    for mail in incomplete:  # the relay refused: tried again later
        assert (mail.status, mail.attempts, mail.topic) == (OutboundEmail.Status.PENDING, 1, status_topic(application))
        assert mail.next_attempt_at > timezone.now()

    relay.back()
    _set_status(application, DossierStatus.COMPLETE, central_manager, django_capture_on_commit_callbacks)
    complete = mails("STATUT_CO")
    assert {(mail.to, mail.status) for mail in complete} == {
        (CANDIDATE, OutboundEmail.Status.SENT),
        (CENTRE_COPY, OutboundEmail.Status.SENT),
    }

    sent = _everything_due_is_sent(mailoutbox)

    assert sent == [mail.subject for mail in complete]  # nothing after « complet »
    for mail in mails("STATUT_IN"):
        assert mail.status == OutboundEmail.Status.CANCELLED
        assert mail.cancel_reason == in_french(STATUS_REPLACED)  # the institution's language
        assert (mail.sent_at, mail.attempts) == (None, 1)  # never tried again


def test_a_status_mail_given_up_is_withdrawn_too_so_that_it_is_not_resent(
    application, central_manager, relay, django_capture_on_commit_callbacks, settings
):
    """A mail the outbox gave up on (FAILED) could still be resent from the admin, after the newer one."""
    _set_status(application, DossierStatus.INCOMPLETE, central_manager, django_capture_on_commit_callbacks)
    OutboundEmail.objects.filter(code="STATUT_IN").update(status=OutboundEmail.Status.FAILED)

    _set_status(application, DossierStatus.COMPLETE, central_manager, django_capture_on_commit_callbacks)

    assert {mail.status for mail in mails("STATUT_IN")} == {OutboundEmail.Status.CANCELLED}
    # The new one is the one waiting now: it replaces, it is not replaced.
    assert {(mail.status, mail.cancel_reason) for mail in mails("STATUT_CO")} == {(OutboundEmail.Status.PENDING, "")}


def test_the_candidates_transmission_replaces_the_staff_status_mail_still_waiting(
    application, central_manager, relay, mailoutbox, django_capture_on_commit_callbacks
):
    """« Incomplet » waited; the candidate completed the dossier and sent it again (« Réceptionné », STATUT_RE)."""
    _set_status(application, DossierStatus.INCOMPLETE, central_manager, django_capture_on_commit_callbacks)
    relay.back()

    with django_capture_on_commit_callbacks(execute=True):
        candidature_services.transmit_application(application=application, actor=application.candidate.user)

    sent = _everything_due_is_sent(mailoutbox)

    assert {mail.status for mail in mails("STATUT_IN")} == {OutboundEmail.Status.CANCELLED}
    received = [mail.subject for mail in mails("STATUT_RE")]
    assert len(received) == 2  # the candidate's and the centre's copy
    assert [subject for subject in sent if subject in received] == received
    assert not any(subject in sent for subject in {mail.subject for mail in mails("STATUT_IN")})


def test_a_processing_type_mail_that_waited_is_not_sent_after_the_next_one(
    application, central_manager, relay, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        staff.set_treatment_type(
            application, treatment_type=TreatmentType.WAITING, reason="Dossier à revoir", actor=central_manager
        )
    (waiting, _copy) = mails("TYPE_TRAIT_ATT")
    assert (waiting.status, waiting.topic) == (OutboundEmail.Status.PENDING, treatment_topic(application))

    relay.back()
    with django_capture_on_commit_callbacks(execute=True):
        staff.set_treatment_type(
            application, treatment_type=TreatmentType.CONTROLLED, reason="Revu", actor=central_manager
        )

    sent = _everything_due_is_sent(mailoutbox)

    assert sent == [mail.subject for mail in mails("TYPE_TRAIT_AC")]
    assert {(mail.status, mail.cancel_reason) for mail in mails("TYPE_TRAIT_ATT")} == {
        (OutboundEmail.Status.CANCELLED, in_french(TREATMENT_REPLACED))
    }


def test_other_mails_and_other_applications_status_mails_are_left_alone(
    application, centre, commission, campaign, central_manager, relay, django_capture_on_commit_callbacks
):
    """Only the previous mail of the same kind about the same application is replaced: not its decision mail, not
    its processing type mail, not another application's status mail."""
    other = make_application(
        FormationFactory(centre=centre, commission=commission), campaign=campaign, email="lou@example.org"
    )
    _set_status(other, DossierStatus.INCOMPLETE, central_manager, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        staff.set_treatment_type(
            application, treatment_type=TreatmentType.WAITING, reason="Dossier à revoir", actor=central_manager
        )
        decide(application, Avis.FAVOURABLE, actor=central_manager)

    _set_status(application, DossierStatus.INCOMPLETE, central_manager, django_capture_on_commit_callbacks)
    _set_status(application, DossierStatus.COMPLETE, central_manager, django_capture_on_commit_callbacks)

    cancelled = OutboundEmail.objects.filter(status=OutboundEmail.Status.CANCELLED)
    assert sorted((mail.code, mail.to) for mail in cancelled) == [("STATUT_IN", CANDIDATE), ("STATUT_IN", CENTRE_COPY)]
    assert {mail.status for mail in mails("TYPE_TRAIT_ATT") + mails("AVIS_FAVORABLE")} == {
        OutboundEmail.Status.PENDING
    }
    assert {mail.status for mail in mails("STATUT_IN") if mail.to == "lou@example.org"} == {
        OutboundEmail.Status.PENDING
    }
