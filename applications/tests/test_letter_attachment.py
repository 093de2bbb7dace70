"""The admission or refusal letter attached to the decision mail (eCandidat tem_mail_lettre_comm, features §1.13,
§2.6): the commission's switch, the mail's reference to the letter, the PDF read when the mail leaves (built then
if the worker has not yet), and the faults: a storage outage or a failed build delays the mail, never sends it
without its letter; a letter deleted since leaves the mail without it, and the outbox row says so."""

import smtplib
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from applications.enums import DossierStatus, EventKind
from applications.letters import ATTACHMENT_PROVIDER
from applications.models import DecisionLetter
from applications.services import staff
from applications.tests.factories_candidature import decision_type, make_application
from ecandidat.emails import deliver, send_pending_mails
from ecandidat.models import MailTemplate, OutboundEmail
from offers.enums import Avis, TreatmentType
from offers.models import COMMISSION_STATUS_FLAG_FIELDS, DecisionLetterTemplate, RefusalReason
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

ATTACHED_FR = "Votre lettre de décision est jointe à ce courriel"


@pytest.fixture(autouse=True)
def _cold_content_types():
    """Deterministic query counts here and in the modules after this one (the admin caches content types)."""
    ContentType.objects.clear_cache()
    yield
    ContentType.objects.clear_cache()


@pytest.fixture
def formation(centre, commission):
    commission.attach_letter_to_mail = True
    commission.save()
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Master Informatique")


@pytest.fixture
def admission_text(centre):
    return DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.ADMISSION, centre=centre, title="Lettre d'admission", body="Bienvenue."
    )


@pytest.fixture
def refusal_text(centre):
    return DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.REFUSAL, centre=centre, title="Lettre de refus", body="Motif : ${reason}"
    )


def entered(formation, campaign, actor, avis=Avis.FAVOURABLE):
    application = make_application(formation, campaign=campaign)
    extra = {}
    if avis == Avis.UNFAVOURABLE:
        extra["refusal_reason"] = RefusalReason.objects.get_or_create(code="CAP", label="Capacité atteinte")[0]
    staff.record_decision(application, decision_type=decision_type(avis), actor=actor, **extra)
    return application


def released(formation, campaign, actor, avis=Avis.FAVOURABLE):
    application = entered(formation, campaign, actor, avis)
    staff.validate_decision(application.decisions.current(), actor=actor)
    return application


def pdf_parts(message) -> list[tuple[str, bytes]]:
    """The (file name, bytes) of the ``application/pdf`` parts of the MIME message as sent."""
    return [
        (part.get_filename(), part.get_payload(decode=True))
        for part in message.message().walk()
        if part.get_content_type() == "application/pdf"
    ]


def stored(letter: DecisionLetter) -> bytes:
    with default_storage.open(letter.file.name, "rb") as handle:
        return handle.read()


def the_mail(application) -> OutboundEmail:
    return OutboundEmail.objects.get(to=application.candidate.user.email)


def _due_again(email: OutboundEmail) -> None:
    OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


# --- the mail carries the letter ------------------------------------------------------------------------------


def test_the_favourable_mail_carries_the_admission_letter(
    formation, campaign, centre_manager, admission_text, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        application = released(formation, campaign, centre_manager)

    letter = DecisionLetter.objects.get(application=application)
    email = the_mail(application)
    filename = f"lettre-admission-{application.candidate.user.username}-minfo.pdf"
    assert email.attachments == [
        {"provider": ATTACHMENT_PROVIDER, "key": str(letter.pk), "filename": filename, "mimetype": "application/pdf"}
    ]
    assert (email.status, email.last_error) == (OutboundEmail.Status.SENT, "")
    assert ATTACHED_FR in email.body
    assert reverse("applications:letter", args=[application.public_id]) in email.body
    [message] = mailoutbox
    [(name, content)] = pdf_parts(message)
    assert name == filename
    assert content.startswith(b"%PDF")
    assert content == stored(letter)


def test_the_unfavourable_mail_carries_the_refusal_letter(
    formation, campaign, centre_manager, refusal_text, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        application = released(formation, campaign, centre_manager, avis=Avis.UNFAVOURABLE)

    assert ATTACHED_FR in the_mail(application).body
    [message] = mailoutbox
    [(name, _content)] = pdf_parts(message)
    assert name.startswith("lettre-refus-")


def test_off_by_default_the_mail_only_links_the_letter(
    formation, campaign, centre_manager, admission_text, django_capture_on_commit_callbacks, mailoutbox
):
    formation.commission.attach_letter_to_mail = False
    formation.commission.save()

    with django_capture_on_commit_callbacks(execute=True):
        application = released(formation, campaign, centre_manager)

    email = the_mail(application)
    assert email.attachments == []
    assert ATTACHED_FR not in email.body
    assert "Votre lettre de décision : " in email.body
    assert pdf_parts(mailoutbox[0]) == []


def test_no_letter_text_no_attachment_and_no_sentence(formation, campaign, centre_manager, mailoutbox):
    application = released(formation, campaign, centre_manager)

    email = the_mail(application)
    assert email.attachments == []
    assert ATTACHED_FR not in email.body


def test_an_admission_letter_that_waits_for_the_confirmation_is_not_attached(
    formation, campaign, centre_manager, admission_text, refusal_text, settings
):
    """With ADMISSION_LETTER_AFTER_CONFIRMATION the download withholds it until "Confirmer": the mail too."""
    settings.ADMISSION_LETTER_AFTER_CONFIRMATION = True

    admitted = released(formation, campaign, centre_manager)
    refused = released(formation, campaign, centre_manager, avis=Avis.UNFAVOURABLE)

    assert the_mail(admitted).attachments == []
    assert ATTACHED_FR not in the_mail(admitted).body
    assert the_mail(refused).attachment_names == [f"lettre-refus-{refused.candidate.user.username}-minfo.pdf"]


def test_a_waiting_list_promotion_mails_its_letter(
    formation, campaign, centre_manager, admission_text, django_capture_on_commit_callbacks, mailoutbox
):
    formation.auto_waiting_list = True
    formation.waiting_list_decision_type = decision_type(Avis.FAVOURABLE)
    formation.save()
    listed = make_application(formation, campaign=campaign)
    decision = staff.record_decision(
        listed, decision_type=decision_type(Avis.COMPLEMENTARY_LIST), actor=centre_manager, rank=1
    )
    staff.validate_decision(decision, actor=centre_manager)

    with django_capture_on_commit_callbacks(execute=True):
        promoted = staff.promote_from_waiting_list(formation=formation, actor=None)

    assert promoted.pk == listed.pk
    mail = [message for message in mailoutbox if message.to == [listed.candidate.user.email]][-1]
    [(name, content)] = pdf_parts(mail)
    assert name.startswith("lettre-admission-")
    assert content == stored(DecisionLetter.objects.get(application=listed))
    assert ATTACHED_FR in mail.body


def test_a_direct_access_mails_its_letter(
    formation, campaign, centre_manager, admission_text, django_capture_on_commit_callbacks, mailoutbox
):
    """Accès direct: the dossier set complete gets the formation's default favourable decision, with its letter."""
    formation.favourable_decision_type = decision_type(Avis.FAVOURABLE)
    formation.save()
    application = make_application(formation, campaign=campaign, treatment_type=TreatmentType.DIRECT)

    with django_capture_on_commit_callbacks(execute=True):
        staff.set_dossier_status(application, target=DossierStatus.COMPLETE, actor=centre_manager)

    favourable = [message for message in mailoutbox if pdf_parts(message)]
    assert len(favourable) == 1
    assert ATTACHED_FR in favourable[0].body
    assert pdf_parts(favourable[0])[0][1] == stored(DecisionLetter.objects.get(application=application))


def test_the_centre_copy_carries_the_letter_too(
    formation, campaign, centre_manager, admission_text, django_capture_on_commit_callbacks, mailoutbox
):
    centre = formation.centre
    centre.candidate_mail_copy, centre.email = "M", "scolarite@univ.example"
    centre.save()

    with django_capture_on_commit_callbacks(execute=True):
        released(formation, campaign, centre_manager)

    assert len(mailoutbox) == 2
    assert [len(pdf_parts(message)) for message in mailoutbox] == [1, 1]


def test_an_override_says_it_only_when_the_letter_is_attached(
    formation, campaign, centre_manager, admission_text, mailoutbox
):
    MailTemplate.objects.create(
        code="AVIS_FAVORABLE",
        language="fr",
        subject="Admission",
        body="Admis.{if($letter_attached)} Lettre jointe.{endif($letter_attached)}",
    )

    with_letter = released(formation, campaign, centre_manager)
    admission_text.delete()
    without = released(formation, campaign, centre_manager)

    assert the_mail(with_letter).body.strip() == "Admis. Lettre jointe."
    assert the_mail(without).body.strip() == "Admis."


# --- durability ----------------------------------------------------------------------------------------------


def test_a_letter_not_built_yet_is_built_by_the_delivery(
    formation, campaign, centre_manager, admission_text, django_capture_on_commit_callbacks, mailoutbox, mocker
):
    """The mail's task runs before the letter's (another worker, a queue behind): the delivery builds it, once."""
    mocker.patch("applications.tasks.build_decision_letter.delay_on_commit")

    with django_capture_on_commit_callbacks(execute=True):
        application = released(formation, campaign, centre_manager)

    letter = DecisionLetter.objects.get(application=application)
    assert letter.file
    assert the_mail(application).status == OutboundEmail.Status.SENT
    [(_name, content)] = pdf_parts(mailoutbox[0])
    assert content == stored(letter)


def test_a_storage_outage_delays_the_mail_then_it_leaves_with_the_letter(
    formation, campaign, centre_manager, admission_text, django_capture_on_commit_callbacks, mailoutbox, mocker
):
    with django_capture_on_commit_callbacks(execute=True):
        application = entered(formation, campaign, centre_manager)
        staff.validate_decision(application.decisions.current(), actor=centre_manager)
        # The letter is built (first callback), then the storage fails when the mail reads it.
        mocker.patch.object(default_storage, "open", side_effect=OSError("S3 unreachable"))

    email = the_mail(application)
    assert email.status == OutboundEmail.Status.PENDING
    assert email.attempts == 1
    assert "OSError: S3 unreachable" in email.last_error
    assert email.attachment_names[0] in email.last_error
    assert mailoutbox == []

    mocker.stopall()
    _due_again(email)
    assert send_pending_mails() == {"sent": 1}

    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (OutboundEmail.Status.SENT, 2, "")
    [(_name, content)] = pdf_parts(mailoutbox[0])
    assert content == stored(DecisionLetter.objects.get(application=application))


def test_a_failed_build_delays_the_mail(
    formation, campaign, centre_manager, admission_text, django_capture_on_commit_callbacks, mailoutbox, mocker
):
    mocker.patch("applications.tasks.build_decision_letter.delay_on_commit")
    mocker.patch("applications.letters.render_letter_pdf", side_effect=RuntimeError("font missing"))

    with django_capture_on_commit_callbacks(execute=True):
        application = released(formation, campaign, centre_manager)

    email = the_mail(application)
    assert email.status == OutboundEmail.Status.PENDING
    assert "RuntimeError: font missing" in email.last_error
    assert mailoutbox == []
    mocker.stopall()
    _due_again(email)
    assert deliver(email.pk) == "sent"
    assert len(pdf_parts(mailoutbox[0])) == 1


def test_an_smtp_failure_is_retried_with_the_letter(
    formation, campaign, centre_manager, admission_text, django_capture_on_commit_callbacks, mailoutbox, mocker
):
    mocker.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=smtplib.SMTPServerDisconnected("down"))
    with django_capture_on_commit_callbacks(execute=True):
        application = released(formation, campaign, centre_manager)
    email = the_mail(application)
    assert (email.status, email.last_error) == (OutboundEmail.Status.PENDING, "SMTPServerDisconnected: down")

    mocker.stopall()
    _due_again(email)
    assert deliver(email.pk) == "sent"

    [(_name, content)] = pdf_parts(mailoutbox[0])
    assert content == stored(DecisionLetter.objects.get(application=application))


def test_a_letter_file_gone_from_the_storage_is_built_again(
    formation, campaign, centre_manager, admission_text, django_capture_on_commit_callbacks, mailoutbox, mocker
):
    mocker.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=smtplib.SMTPServerDisconnected("down"))
    with django_capture_on_commit_callbacks(execute=True):
        application = released(formation, campaign, centre_manager)
    letter = DecisionLetter.objects.get(application=application)
    default_storage.delete(letter.file.name)
    mocker.stopall()

    _due_again(the_mail(application))
    assert send_pending_mails() == {"sent": 1}

    letter.refresh_from_db()
    [(_name, content)] = pdf_parts(mailoutbox[0])
    assert content == stored(letter)
    event = application.events.filter(kind=EventKind.LETTER_REGENERATED).get()
    assert (event.actor, event.batch) == (None, "send_outbound_email")
    assert event.comment == "Lettre d'admission : fichier manquant, reconstruite pour son mail"


@pytest.mark.parametrize("gone", ["letter", "text"])
def test_a_letter_deleted_since_leaves_the_mail_without_it_and_the_row_says_so(
    formation, campaign, centre_manager, admission_text, mailoutbox, gone
):
    application = released(formation, campaign, centre_manager)  # the mail's and the build's callbacks not run yet
    if gone == "letter":
        DecisionLetter.objects.filter(application=application).delete()
    else:
        admission_text.delete()
    email = the_mail(application)

    assert deliver(email.pk) == "sent"

    email.refresh_from_db()
    reason = "the decision letter was deleted" if gone == "letter" else "the letter text was deleted"
    assert email.last_error == f"Sent without its attachment: {email.attachment_names[0]} ({reason})"
    [message] = mailoutbox
    assert pdf_parts(message) == []


# --- the release costs no query more -------------------------------------------------------------------------


def _validation_queries(application, actor) -> int:
    with CaptureQueriesContext(connection) as queries:
        staff.validate_decision(application.decisions.current(), actor=actor)
    return len(queries)


def test_attaching_the_letter_costs_no_query_at_the_validation(formation, campaign, centre_manager, admission_text):
    attached = entered(formation, campaign, centre_manager)
    linked = entered(formation, campaign, centre_manager)
    with_attachment = _validation_queries(attached, centre_manager)
    formation.commission.attach_letter_to_mail = False
    formation.commission.save()

    assert with_attachment == _validation_queries(linked, centre_manager)
    assert the_mail(attached).attachments != []
    assert the_mail(linked).attachments == []


@pytest.mark.parametrize("attach", [True, False])
def test_the_release_preview_names_the_attachment(
    client, formation, campaign, commission_member, centre_manager, admission_text, django_assert_num_queries, attach
):
    formation.commission.attach_letter_to_mail = attach
    formation.commission.save()
    application = entered(formation, campaign, commission_member)
    client.force_login(centre_manager)
    url = reverse("admin:applications_application_operation", args=[application.pk, "validate_decisions"])
    filename = f"lettre-admission-{application.candidate.user.username}-minfo.pdf"

    # The same with or without the attachment (+1: the decisions previewed; +1: the older decision's mails waiting)
    with django_assert_num_queries(28):
        response = client.get(url, language="fr")

    if attach:
        assertContains(response, "Pièces jointes")
        assertContains(response, filename)
        assertContains(response, ATTACHED_FR)
    else:
        assertNotContains(response, "Pièces jointes")
        assertNotContains(response, ATTACHED_FR)
    assert not OutboundEmail.objects.exists()


# --- the commission's switch --------------------------------------------------------------------------------------


def test_a_centre_manager_switches_it_on_in_the_commission(
    client, centre_manager, commission, django_assert_num_queries
):
    url = reverse("admin:offers_commission_change", args=[commission.pk])
    client.force_login(centre_manager)

    with django_assert_num_queries(10):
        page = client.get(url, language="fr")

    assertContains(page, "Joindre la lettre au mail de décision")
    assertContains(page, "Lettres de décision")
    data = {
        name: value
        for name, value in page.context["adminform"].form.initial.items()
        if value is not None and not isinstance(value, bool)
    }
    data.update(
        {
            "centre": commission.centre_id,
            "in_service": "on",
            "alert_on_withdrawal": "on",
            "attach_letter_to_mail": "on",
            "shown_statuses": list(COMMISSION_STATUS_FLAG_FIELDS),
        }
    )
    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    commission.refresh_from_db()
    assert commission.attach_letter_to_mail is True


@pytest.mark.parametrize(("persona", "expected"), [("other_centre_manager", 404), ("candidate_user", 302)])
def test_outsiders_cannot_reach_the_switch(client, request, commission, persona, expected):
    client.force_login(request.getfixturevalue(persona))

    response = client.post(
        reverse("admin:offers_commission_change", args=[commission.pk]),
        {
            "code": commission.code,
            "label": commission.label,
            "centre": commission.centre_id,
            "attach_letter_to_mail": "on",
        },
    )

    assert response.status_code == expected
    commission.refresh_from_db()
    assert commission.attach_letter_to_mail is False
