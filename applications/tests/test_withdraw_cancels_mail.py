"""A decision mail still waiting in the outbox when its candidate withdraws (or cancels) is not sent afterwards.

The mail server was down (or the worker): the favourable decision's mail (« confirmez avant le… »), the
complementary list's (« si une place se libère, vous recevrez un avis favorable »), and the centre's « [Copie] » of
them waited in the outbox for their next attempt. The candidate withdrew meanwhile; once the server was back, the
sweeper sent them all the same: a withdrawn candidate read promises nothing keeps. The release already wrote no
decision mail for a withdrawn application (``notifications.notify_decision``); now the withdrawal withdraws those
written before it (``notifications.cancel_decision_mails``): they are ``CANCELLED`` with a reason the central office
reads in French, and only those (the withdrawal's own mail, the account's mails leave as usual).
"""

import smtplib
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone, translation

from applications import notifications
from applications.enums import DossierStatus
from applications.notifications import notify_candidate
from applications.services import candidature as candidature_services
from applications.services import staff
from applications.tests.factories_candidature import decide, decision_type, make_application
from applications.tests.helpers import mails
from ecandidat.emails import enqueue_email, send_pending_mails
from ecandidat.models import OutboundEmail
from offers.enums import Avis
from offers.models import RefusalReason
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

SMTP_DOWN = smtplib.SMTPConnectError(421, b"Service not available")
CENTRE_COPY = "scolarite@univ.example"


def in_french(text: str) -> str:
    """``text`` as the institution reads it (« Non envoyé : … » once the French catalogue is built)."""
    with translation.override("fr"):
        return translation.gettext(text)


WITHDRAWN_REASON = "Not sent: the application was withdrawn before this e-mail left."
CANCELLED_REASON = "Not sent: the application was cancelled before this e-mail left."


@pytest.fixture
def smtp(mocker):
    """The mail server, down until the test calls ``smtp.back()``; then mails go to ``mailoutbox``."""
    down = mocker.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=SMTP_DOWN)
    down.back = lambda: mocker.stop(down)
    return down


@pytest.fixture
def application(centre, commission, campaign):
    centre.candidate_mail_copy, centre.email = "M", CENTRE_COPY
    centre.save()
    formation = FormationFactory(centre=centre, commission=commission, auto_waiting_list=False)
    return make_application(formation, campaign=campaign, email="estelle@example.org")


def _everything_due_is_sent() -> None:
    """The sweeper's runs once the server is back, until nothing is due (a day later: every back-off has passed)."""
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        send_pending_mails()


def _withdraw(application, django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        candidature_services.withdraw_application(
            application=application, actor=kwargs.pop("actor", application.candidate.user), **kwargs
        )


def test_a_queued_favourable_mail_and_its_centre_copy_are_not_sent_after_the_withdrawal(
    application, central_manager, smtp, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        decide(application, Avis.FAVOURABLE, actor=central_manager)
    queued = mails("AVIS_FAVORABLE")
    assert sorted(mail.to for mail in queued) == ["estelle@example.org", CENTRE_COPY]
    assert {(mail.status, mail.attempts) for mail in queued} == {(OutboundEmail.Status.PENDING, 1)}  # server down

    _withdraw(application, django_capture_on_commit_callbacks, reason="PER")
    smtp.back()
    _everything_due_is_sent()

    # The withdrawal's mail, its centre copy and the commission's alert: nothing else left.
    sent = OutboundEmail.objects.filter(status=OutboundEmail.Status.SENT)
    assert sorted((mail.code, mail.to) for mail in sent) == [
        ("CANDIDATURE_DESIST", "estelle@example.org"),
        ("CANDIDATURE_DESIST", CENTRE_COPY),
        ("COMMISSION_ALERT_DESISTEMENT", application.formation.commission.email),
    ]
    assert sorted(message.subject for message in mailoutbox) == sorted(mail.subject for mail in sent)
    for mail in mails("AVIS_FAVORABLE"):
        assert mail.status == OutboundEmail.Status.CANCELLED
        assert mail.cancel_reason == in_french(WITHDRAWN_REASON)  # the institution's language, whoever withdrew
        assert mail.cancelled_at is not None
        assert mail.sent_at is None
        assert mail.attempts == 1  # never tried again


def test_the_complementary_list_mail_and_the_promotion_mail_are_both_withdrawn(
    application, central_manager, smtp, mailoutbox, django_capture_on_commit_callbacks
):
    """« Si une place se libère, vous recevrez un avis favorable », then the place: both waited, neither leaves."""
    with django_capture_on_commit_callbacks(execute=True):
        decide(application, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)
        decide(application, Avis.FAVOURABLE, actor=central_manager)

    _withdraw(application, django_capture_on_commit_callbacks, reason="PER")
    smtp.back()
    _everything_due_is_sent()

    assert {mail.status for mail in mails("AVIS_LISTE_COMP") + mails("AVIS_FAVORABLE")} == {
        OutboundEmail.Status.CANCELLED
    }
    assert [message.subject for message in mailoutbox if "liste" in message.subject.lower()] == []


def test_staff_recording_the_withdrawal_in_english_cancels_with_the_french_reason(
    application, central_manager, smtp, django_capture_on_commit_callbacks, mocker
):
    """The reason is written in the institution's language (the central office reads it), whoever acted in which:
    checked on the language active when it is written too, since the French catalogue may not be built yet."""
    with django_capture_on_commit_callbacks(execute=True):
        decide(application, Avis.FAVOURABLE, actor=central_manager)
    real = notifications.cancel_pending
    written_in = []

    def cancel(topic, reason):
        written_in.append(translation.get_language())
        return real(topic, reason)

    mocker.patch.object(notifications, "cancel_pending", side_effect=cancel)

    with translation.override("en"):
        _withdraw(
            application,
            django_capture_on_commit_callbacks,
            actor=central_manager,
            reason="PER",
            role=candidature_services.Role.STAFF,
        )

    assert written_in == ["fr"]
    assert {(mail.status, mail.cancel_reason) for mail in mails("AVIS_FAVORABLE")} == {
        (OutboundEmail.Status.CANCELLED, in_french(WITHDRAWN_REASON))
    }


def test_a_decision_mail_already_sent_is_left_as_it_was(
    application, central_manager, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        decide(application, Avis.FAVOURABLE, actor=central_manager)
    (sent,) = [mail for mail in mails("AVIS_FAVORABLE") if mail.to == "estelle@example.org"]
    assert sent.status == OutboundEmail.Status.SENT

    _withdraw(application, django_capture_on_commit_callbacks, reason="PER")

    sent.refresh_from_db()
    assert (sent.status, sent.cancelled_at, sent.cancel_reason) == (OutboundEmail.Status.SENT, None, "")


def test_the_candidates_other_mails_are_not_withdrawn(
    application, central_manager, smtp, mailoutbox, django_capture_on_commit_callbacks
):
    """An account mail to the same address, and the application's own mails (its creation, its status), are about
    nothing the withdrawal changes: they leave once the server is back."""
    user = application.candidate.user
    with django_capture_on_commit_callbacks(execute=True):
        account_mail = enqueue_email(
            to=user.email,
            code="OUTBOX_CHECK",
            template_base="ecandidat/email/outbox_check",
            context={},
            language="fr",
            about=user,
        )
        status_mail = notify_candidate(application=application, code="STATUT_CO", comment="")
        decide(application, Avis.FAVOURABLE, actor=central_manager)

    _withdraw(application, django_capture_on_commit_callbacks, reason="PER")
    smtp.back()
    _everything_due_is_sent()

    for mail in (account_mail, status_mail):
        mail.refresh_from_db()
        assert (mail.status, mail.cancel_reason) == (OutboundEmail.Status.SENT, "")
    cancelled = OutboundEmail.objects.filter(status=OutboundEmail.Status.CANCELLED)
    assert {mail.code for mail in cancelled} == {"AVIS_FAVORABLE"}


def test_another_applications_decision_mail_is_not_withdrawn(
    application, centre, commission, campaign, central_manager, smtp, django_capture_on_commit_callbacks
):
    other = make_application(
        FormationFactory(centre=centre, commission=commission), campaign=campaign, email="autre@example.org"
    )
    with django_capture_on_commit_callbacks(execute=True):
        decide(application, Avis.FAVOURABLE, actor=central_manager)
        decide(other, Avis.FAVOURABLE, actor=central_manager)

    _withdraw(application, django_capture_on_commit_callbacks, reason="PER")

    statuses = {mail.to: mail.status for mail in mails("AVIS_FAVORABLE") if mail.to != CENTRE_COPY}
    assert statuses == {"estelle@example.org": OutboundEmail.Status.CANCELLED, "autre@example.org": "PENDING"}


def test_cancelling_the_application_withdraws_its_queued_reminder(
    centre, commission, campaign, smtp, django_capture_on_commit_callbacks
):
    """The mails of the candidate's standing (here « confirmez avant le… », sent by the nightly batch) waiting when
    the application is cancelled are cancelled with it; the cancellation's own mail leaves."""
    formation = FormationFactory(centre=centre, commission=commission)
    application = make_application(formation, campaign=campaign, status=DossierStatus.WAITING)
    with django_capture_on_commit_callbacks(execute=True):
        reminder = notify_candidate(application=application, code="CANDIDATURE_RELANCE_FAVO", confirmation_date="")

    with django_capture_on_commit_callbacks(execute=True):
        candidature_services.cancel_application(application=application, actor=application.candidate.user)

    reminder.refresh_from_db()
    assert reminder.status == OutboundEmail.Status.CANCELLED
    assert reminder.cancel_reason == in_french(CANCELLED_REASON)
    assert [mail.status for mail in mails("CANDIDATURE_ANNULATION")] == [OutboundEmail.Status.PENDING]


REPLACED_REASON = "Not sent: a later decision replaced this one before this e-mail left."


def test_a_corrected_decision_withdraws_the_queued_mail_of_the_one_it_replaces(
    application, central_manager, smtp, mailoutbox, django_capture_on_commit_callbacks
):
    """Favourable, then corrected to unfavourable, while the mail server was down: the sweeper sends what is due in
    the order of its next attempt, so the candidate read « Avis défavorable », then the older « Avis favorable …
    confirmez avant le … » (its back-off longer)."""
    with django_capture_on_commit_callbacks(execute=True):
        decide(application, Avis.FAVOURABLE, actor=central_manager)
    with time_machine.travel(timezone.now() + timedelta(minutes=30)), django_capture_on_commit_callbacks(execute=True):
        reason = RefusalReason.objects.get_or_create(code="NIV", defaults={"label": "Niveau insuffisant"})[0]
        decide(application, Avis.UNFAVOURABLE, actor=central_manager, refusal_reason=reason)

    smtp.back()
    _everything_due_is_sent()

    assert {(mail.to, mail.status) for mail in mails("AVIS_FAVORABLE")} == {
        ("estelle@example.org", OutboundEmail.Status.CANCELLED),
        (CENTRE_COPY, OutboundEmail.Status.CANCELLED),
    }
    assert {mail.cancel_reason for mail in mails("AVIS_FAVORABLE")} == {in_french(REPLACED_REASON)}
    assert {(mail.to, mail.status) for mail in mails("AVIS_DEFAVORABLE")} == {
        ("estelle@example.org", OutboundEmail.Status.SENT),
        (CENTRE_COPY, OutboundEmail.Status.SENT),
    }
    assert "avis favorable" not in " ".join(message.subject.lower() for message in mailoutbox)


def test_a_promotion_withdraws_the_queued_complementary_list_mail(
    application, central_manager, smtp, mailoutbox, django_capture_on_commit_callbacks
):
    """« Si une place se libère… » waited in the outbox; then the place came (a withdrawal's promotion): only the
    favourable mail leaves."""
    formation = application.formation
    formation.auto_waiting_list = True
    formation.waiting_list_decision_type = decision_type(Avis.FAVOURABLE)
    formation.save()
    with django_capture_on_commit_callbacks(execute=True):
        decide(application, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)
    with django_capture_on_commit_callbacks(execute=True):
        promoted = staff.promote_from_waiting_list(formation=formation, actor=None, batch="desist_auto")
    assert promoted == application

    smtp.back()
    _everything_due_is_sent()

    assert {mail.status for mail in mails("AVIS_LISTE_COMP")} == {OutboundEmail.Status.CANCELLED}
    assert {mail.status for mail in mails("AVIS_FAVORABLE")} == {OutboundEmail.Status.SENT}
    assert not {m.subject for m in mailoutbox} & {mail.subject for mail in mails("AVIS_LISTE_COMP")}
