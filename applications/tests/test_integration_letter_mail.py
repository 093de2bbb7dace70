"""The decision mail with its letter, end to end: the validation commits, a real Celery worker (PostgreSQL, Redis)
builds the letter and sends the mail to a real SMTP server, which receives the PDF as an ``application/pdf`` part;
with the storage unreadable at first, the mail waits, then leaves with it. With ADMISSION_LETTER_AFTER_CONFIRMATION,
the confirmation mail carries it instead."""

import pytest
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from applications.models import DecisionLetter
from applications.services import candidature, staff
from applications.tests import shared_media
from applications.tests.factories_candidature import decision_type, make_application
from ecandidat.models import OutboundEmail
from ecandidat.tasks import sweep_outbox
from ecandidat.tests.plugins.services import wait_until
from offers.enums import Avis
from offers.models import DecisionLetterTemplate
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.integration

# The worker and this process share the files through one directory.
media_root, worker_env, shared_storage = shared_media.media_root, shared_media.worker_env, shared_media.shared_storage


def test_the_worker_sends_the_decision_mail_with_its_letter(
    shared_storage, celery_worker_process, smtp_server, centre, commission, campaign, centre_manager
):
    commission.attach_letter_to_mail = True
    commission.save()
    formation = FormationFactory(centre=centre, commission=commission, code="MINFO")
    DecisionLetterTemplate.objects.create(kind="LETTRE_ADM", centre=centre, title="Admission", body="Bienvenue.")
    application = make_application(formation, campaign=campaign)
    decision = staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)

    with transaction.atomic():
        staff.validate_decision(decision, actor=centre_manager)
    email = OutboundEmail.objects.get(to=application.candidate.user.email)

    wait_until(
        lambda: OutboundEmail.objects.get(pk=email.pk).status == OutboundEmail.Status.SENT,
        timeout=60,
        message="the decision mail to be SENT",
    )
    [message] = smtp_server.messages
    [part] = [part for part in message.walk() if part.get_content_type() == "application/pdf"]
    assert part.get_filename() == f"lettre-admission-{application.candidate.user.username}-minfo.pdf"
    letter = DecisionLetter.objects.get(application=application)
    with default_storage.open(letter.file.name, "rb") as handle:
        assert part.get_payload(decode=True) == handle.read()
    assert "jointe" in message.get_body(preferencelist=("plain",)).get_content()


def test_an_unreadable_letter_delays_the_mail_then_it_leaves_with_it(
    shared_storage, media_root, celery_worker_process, smtp_server, centre, commission, campaign, centre_manager
):
    """The letters' directory cannot be written (a storage outage): the worker's build fails, so does the mail's
    attempt, which waits; once the storage is back, the sweeper sends the mail once, with the letter."""
    commission.attach_letter_to_mail = True
    commission.save()
    formation = FormationFactory(centre=centre, commission=commission, code="MINFO")
    DecisionLetterTemplate.objects.create(kind="LETTRE_ADM", centre=centre, title="Admission", body="Bienvenue.")
    application = make_application(formation, campaign=campaign)
    decision = staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    media_root.mkdir(parents=True, exist_ok=True)
    (media_root / "letters").write_text("not a directory")  # every save under letters/ fails

    with transaction.atomic():
        staff.validate_decision(decision, actor=centre_manager)
    email = OutboundEmail.objects.get(to=application.candidate.user.email)

    def attempted() -> bool:
        email.refresh_from_db()
        return email.attempts >= 1 and email.status == OutboundEmail.Status.PENDING

    wait_until(attempted, timeout=60, message="a failed attempt")
    assert email.last_error.startswith("AttachmentError: lettre-admission-")
    assert smtp_server.messages == []

    (media_root / "letters").unlink()
    OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    sweep_outbox.delay()  # what beat sends every minute
    wait_until(
        lambda: OutboundEmail.objects.get(pk=email.pk).status == OutboundEmail.Status.SENT,
        timeout=60,
        message="the mail to be SENT",
    )
    [message] = smtp_server.messages
    assert len([part for part in message.walk() if part.get_content_type() == "application/pdf"]) == 1


def test_with_the_letter_after_confirmation_the_worker_sends_it_with_the_confirmation_mail(
    shared_storage, celery_worker_process, smtp_server, centre, commission, campaign, centre_manager, settings
):
    """ADMISSION_LETTER_AFTER_CONFIRMATION: the decision mail leaves without the letter, the confirmation mail with
    it (the worker built it after the release)."""
    settings.ADMISSION_LETTER_AFTER_CONFIRMATION = True  # read where the mails are written: this process
    commission.attach_letter_to_mail = True
    commission.save()
    formation = FormationFactory(centre=centre, commission=commission, code="MINFO")
    DecisionLetterTemplate.objects.create(kind="LETTRE_ADM", centre=centre, title="Admission", body="Bienvenue.")
    application = make_application(formation, campaign=campaign)
    decision = staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    with transaction.atomic():
        staff.validate_decision(decision, actor=centre_manager)
    wait_until(
        lambda: OutboundEmail.objects.filter(status=OutboundEmail.Status.SENT).count() == 1,
        timeout=60,
        message="the decision mail to be SENT",
    )

    with transaction.atomic():
        candidature.confirm_application(application=application, actor=application.candidate.user)
    email = OutboundEmail.objects.get(code="CANDIDATURE_CONFIRM")

    wait_until(
        lambda: OutboundEmail.objects.get(pk=email.pk).status == OutboundEmail.Status.SENT,
        timeout=60,
        message="the confirmation mail to be SENT",
    )
    decision_mail, confirmation_mail = smtp_server.messages
    pdf = [part for part in confirmation_mail.walk() if part.get_content_type() == "application/pdf"]
    assert [part for part in decision_mail.walk() if part.get_content_type() == "application/pdf"] == []
    assert [part.get_filename() for part in pdf] == [
        f"lettre-admission-{application.candidate.user.username}-minfo.pdf"
    ]
    letter = DecisionLetter.objects.get(application=application)
    with default_storage.open(letter.file.name, "rb") as handle:
        assert pdf[0].get_payload(decode=True) == handle.read()
    link = reverse("applications:letter", args=[application.public_id])
    assert link in confirmation_mail.get_body(preferencelist=("plain",)).get_content()
