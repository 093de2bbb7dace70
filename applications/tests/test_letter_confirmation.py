"""The admission letter carried by the confirmation mail (eCandidat DOWNLOAD_IS_LETTRE_ADM_APRES_CONFIRM, features
§1.12–1.13): with ADMISSION_LETTER_AFTER_CONFIRMATION the decision mail cannot give the letter (the download
withholds it until "Confirmer"), so CANDIDATURE_CONFIRM does: its link, and the letter itself when the commission
attaches letters, with the decision mail's durability (built by the delivery if need be, a fault delays the mail,
never sends it without its letter). A letter whose text is deleted before the mail leaves: the mail says so."""

import smtplib
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from applications.letters import ATTACHMENT_PROVIDER
from applications.models import DecisionLetter
from applications.services import candidature, staff
from applications.tests.factories_candidature import decision_type, make_application
from applications.workflow import Role
from ecandidat.emails import deliver, send_pending_mails
from ecandidat.mail_templates import check_source, file_version, render_source
from ecandidat.models import MailTemplate, OutboundEmail
from ecandidat.notifications import get as notification
from offers.enums import Avis
from offers.models import DecisionLetterTemplate
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

ATTACHED_FR = "Votre lettre d'admission est jointe à ce courriel ; vous pouvez aussi la télécharger sur eCandidat : "
LINKED_FR = "Votre lettre d'admission : "


@pytest.fixture(autouse=True)
def _cold_content_types():
    """Deterministic query counts here and in the modules after this one (the admin caches content types)."""
    ContentType.objects.clear_cache()
    yield
    ContentType.objects.clear_cache()


@pytest.fixture(autouse=True)
def _after_confirmation(settings):
    settings.ADMISSION_LETTER_AFTER_CONFIRMATION = True


@pytest.fixture
def formation(centre, commission):
    commission.attach_letter_to_mail = True
    commission.email, commission.phone = "master-info@univ.example", "04 68 00 00 00"
    commission.save()
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Master Informatique")


@pytest.fixture
def admission_text(centre):
    return DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.ADMISSION, centre=centre, title="Lettre d'admission", body="Bienvenue."
    )


@pytest.fixture
def admitted(formation, campaign, centre_manager, admission_text, django_capture_on_commit_callbacks):
    """A favourable decision released, its letter built and its mail sent; the outbox emptied."""
    with django_capture_on_commit_callbacks(execute=True):
        application = released(formation, campaign, centre_manager)
    OutboundEmail.objects.all().delete()
    mail.outbox.clear()  # the decision mail, whichever of this fixture and ``mailoutbox`` came first
    return application


def released(formation, campaign, actor):
    """An application given a favourable decision, validated (its mail queued, its letter recorded)."""
    application = make_application(formation, campaign=campaign)
    decision = staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=actor)
    staff.validate_decision(decision, actor=actor)
    return application


def confirmed(application, **kwargs):
    kwargs.setdefault("actor", application.candidate.user)
    return candidature.confirm_application(application=application, **kwargs)


def the_mail(application) -> OutboundEmail:
    return OutboundEmail.objects.get(code="CANDIDATURE_CONFIRM", to=application.candidate.user.email)


def letter_link(application) -> str:
    return "https://ecandidat.test" + reverse("applications:letter", args=[application.public_id])


def pdf_parts(message) -> list[tuple[str, bytes]]:
    return [
        (part.get_filename(), part.get_payload(decode=True))
        for part in message.message().walk()
        if part.get_content_type() == "application/pdf"
    ]


def stored(application) -> bytes:
    letter = DecisionLetter.objects.get(application=application)
    with default_storage.open(letter.file.name, "rb") as handle:
        return handle.read()


def _due_again(email: OutboundEmail) -> None:
    OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "https://ecandidat.test"


# --- the confirmation mail carries the letter ---------------------------------------------------------------------


def test_the_confirmation_mail_carries_the_admission_letter(admitted, django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=True):
        confirmed(admitted)

    email = the_mail(admitted)
    letter = DecisionLetter.objects.get(application=admitted)
    filename = f"lettre-admission-{admitted.candidate.user.username}-minfo.pdf"
    assert email.attachments == [
        {"provider": ATTACHMENT_PROVIDER, "key": str(letter.pk), "filename": filename, "mimetype": "application/pdf"}
    ]
    assert ATTACHED_FR + letter_link(admitted) in email.body
    assert (email.status, email.last_error) == (OutboundEmail.Status.SENT, "")
    [message] = mailoutbox
    assert pdf_parts(message) == [(filename, stored(admitted))]


def test_without_the_commission_switch_the_mail_only_links_the_letter(
    admitted, django_capture_on_commit_callbacks, mailoutbox
):
    admitted.formation.commission.attach_letter_to_mail = False
    admitted.formation.commission.save()

    with django_capture_on_commit_callbacks(execute=True):
        confirmed(admitted)

    email = the_mail(admitted)
    assert email.attachments == []
    assert LINKED_FR + letter_link(admitted) in email.body
    assert "jointe" not in email.body
    assert pdf_parts(mailoutbox[0]) == []


def test_the_link_of_the_mail_downloads_the_letter_once_confirmed(client, admitted):
    client.force_login(admitted.candidate.user)
    link = reverse("applications:letter", args=[admitted.public_id])
    assert client.get(link).status_code == 404  # withheld until "Confirmer"

    confirmed(admitted)

    assert link in the_mail(admitted).body
    assert client.get(link).status_code == 200


def test_the_setting_off_the_decision_mail_gave_the_letter_and_the_confirmation_mail_does_not(
    admitted, settings, mailoutbox
):
    settings.ADMISSION_LETTER_AFTER_CONFIRMATION = False

    confirmed(admitted)

    email = the_mail(admitted)
    assert email.attachments == []
    assert "lettre" not in email.body


def test_no_letter_text_no_letter_in_the_confirmation_mail(
    formation, campaign, centre_manager, django_capture_on_commit_callbacks
):
    application = released(formation, campaign, centre_manager)

    confirmed(application)

    email = the_mail(application)
    assert email.attachments == []
    assert "lettre" not in email.body


def test_staff_confirming_on_the_candidates_behalf_sends_the_letter_too(admitted, centre_manager):
    confirmed(admitted, actor=centre_manager, role=Role.STAFF, comment="Courrier reçu le 12/07")

    email = the_mail(admitted)
    assert email.attachment_names == [f"lettre-admission-{admitted.candidate.user.username}-minfo.pdf"]
    assert ATTACHED_FR in email.body


def test_an_english_speaking_candidate_reads_it_in_english(admitted):
    admitted.candidate.preferred_language = "en"
    admitted.candidate.save()

    confirmed(admitted)

    body = the_mail(admitted).body
    assert (
        "Your admission letter is attached to this e-mail; you can also download it from eCandidat: "
        + letter_link(admitted)
    ) in body


def test_the_centre_copy_carries_the_letter_too(admitted, django_capture_on_commit_callbacks, mailoutbox):
    centre = admitted.formation.centre
    centre.candidate_mail_copy, centre.email = "M", "scolarite@univ.example"
    centre.save()

    with django_capture_on_commit_callbacks(execute=True):
        confirmed(admitted)

    assert sorted(message.to[0] for message in mailoutbox) == sorted(
        [admitted.candidate.user.email, "scolarite@univ.example"]
    )
    assert [len(pdf_parts(message)) for message in mailoutbox] == [1, 1]


# --- the central office's text of the mail ------------------------------------------------------------------------


def test_the_mail_template_checker_knows_the_letter_variables():
    confirm = notification("CANDIDATURE_CONFIRM")
    source = (
        "Confirmé.{if($letter_url)}{if($letter_attached)} Lettre jointe.{endif($letter_attached)}"
        " Lien : ${letter_url}{endif($letter_url)}"
    )

    assert check_source(source, confirm) == {"letter_url", "letter_attached"}
    assert render_source(source, {"letter_url": "https://x/l", "letter_attached": True}) == (
        "Confirmé. Lettre jointe. Lien : https://x/l"
    )


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_default_texts_give_the_letter_in_blocks(language):
    """The starting text of an override (the files in the override syntax), French and English, passes the
    checker and keeps the letter's passages in {if(…)} blocks."""
    confirm = notification("CANDIDATURE_CONFIRM")
    _subject, body = file_version(confirm, language)

    assert check_source(body, confirm) >= {"letter_url", "letter_attached"}
    assert "{if($letter_url)}" in body
    assert "{if($letter_attached)}" in body
    assert "{if(!$letter_attached)}" in body
    without = render_source(body, {"first_name": "Estelle"})
    attached = render_source(body, {"letter_url": "https://x/l", "letter_attached": True})
    assert "https://x/l" not in without
    assert "https://x/l" in attached
    assert ("jointe" if language == "fr" else "attached") in attached


def test_an_override_says_it_only_when_the_letter_is_attached(admitted, formation, campaign, centre_manager):
    MailTemplate.objects.create(
        code="CANDIDATURE_CONFIRM",
        language="fr",
        subject="Confirmation",
        body="Confirmé.{if($letter_attached)} Lettre jointe.{endif($letter_attached)}",
    )
    without = make_application(formation, campaign=campaign)
    decision = staff.record_decision(without, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    DecisionLetterTemplate.objects.all().delete()
    staff.validate_decision(decision, actor=centre_manager)

    confirmed(admitted)
    confirmed(without)

    assert the_mail(admitted).body.strip() == "Confirmé. Lettre jointe."
    assert the_mail(without).body.strip() == "Confirmé."


# --- durability ---------------------------------------------------------------------------------------------------


def test_a_letter_not_built_yet_is_built_by_the_delivery(
    formation, campaign, centre_manager, admission_text, django_capture_on_commit_callbacks, mailoutbox, mocker
):
    """The letter's build never ran (its task lost): the confirmation mail's delivery builds it, then leaves."""
    mocker.patch("applications.tasks.build_decision_letter.delay_on_commit")
    application = released(formation, campaign, centre_manager)
    assert not DecisionLetter.objects.get(application=application).file

    with django_capture_on_commit_callbacks(execute=True):
        confirmed(application)

    assert the_mail(application).status == OutboundEmail.Status.SENT
    [message] = [message for message in mailoutbox if message.subject.endswith("confirmée")]
    [(_name, content)] = pdf_parts(message)
    assert content == stored(application)


def test_a_storage_outage_delays_the_mail_then_it_leaves_with_the_letter(
    admitted, django_capture_on_commit_callbacks, mailoutbox, mocker
):
    mocker.patch.object(default_storage, "open", side_effect=OSError("S3 unreachable"))
    with django_capture_on_commit_callbacks(execute=True):
        confirmed(admitted)

    email = the_mail(admitted)
    assert (email.status, email.attempts) == (OutboundEmail.Status.PENDING, 1)
    assert "OSError: S3 unreachable" in email.last_error
    assert mailoutbox == []

    mocker.stopall()
    _due_again(email)
    assert send_pending_mails() == {"sent": 1}
    email.refresh_from_db()
    assert (email.status, email.last_error) == (OutboundEmail.Status.SENT, "")
    [(_name, content)] = pdf_parts(mailoutbox[0])
    assert content == stored(admitted)


def test_an_smtp_failure_is_retried_with_the_letter(admitted, django_capture_on_commit_callbacks, mailoutbox, mocker):
    mocker.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=smtplib.SMTPServerDisconnected("down"))
    with django_capture_on_commit_callbacks(execute=True):
        confirmed(admitted)
    email = the_mail(admitted)
    assert email.status == OutboundEmail.Status.PENDING

    mocker.stopall()
    _due_again(email)
    assert deliver(email.pk) == "sent"
    [(_name, content)] = pdf_parts(mailoutbox[0])
    assert content == stored(admitted)


# --- a letter that can never exist any more: the mail says so ------------------------------------------------------


def test_a_letter_text_deleted_before_the_delivery_the_mail_says_whom_to_ask(
    formation, campaign, centre_manager, admission_text, mailoutbox, mocker
):
    """Fault injection: the letter was never built (its task lost) and its text is deleted between the queueing
    of the confirmation mail and its delivery. The mail leaves without it, and its text, which announced it, now
    says it could not be attached and names the commission; the row keeps the text as sent."""
    mocker.patch("applications.tasks.build_decision_letter.delay_on_commit")
    application = released(formation, campaign, centre_manager)
    confirmed(application)  # the mail is queued (its callbacks not run yet)
    email = the_mail(application)
    filename = email.attachment_names[0]
    admission_text.delete()

    assert deliver(email.pk) == "sent"

    notice = (
        f"Le fichier {filename} n'a pas pu être joint à ce courriel. Pour l'obtenir, contactez "
        f"{formation.commission.label} (master-info@univ.example, 04 68 00 00 00)."
    )
    [message] = mailoutbox
    assert pdf_parts(message) == []
    assert message.body.rstrip().endswith(notice)
    assert message.body.count(notice) == 1
    email.refresh_from_db()
    assert email.body == message.body
    assert email.last_error == f"Sent without its attachment: {filename} (the letter text was deleted)"


def test_the_decision_mail_says_so_too(formation, campaign, centre_manager, admission_text, mailoutbox, settings):
    """The same fault on the decision mail (the setting off): its text announced the letter."""
    settings.ADMISSION_LETTER_AFTER_CONFIRMATION = False
    centre = formation.centre
    formation.commission.email = formation.commission.phone = ""
    formation.commission.save()
    centre.email = "scolarite@univ.example"
    centre.save()
    released(formation, campaign, centre_manager)
    email = OutboundEmail.objects.get(code="AVIS_FAVORABLE")
    admission_text.delete()

    assert deliver(email.pk) == "sent"

    [message] = mailoutbox
    assert "Votre lettre de décision est jointe à ce courriel" in message.body  # as queued
    assert message.body.rstrip().endswith(
        f"n'a pas pu être joint à ce courriel. Pour l'obtenir, contactez {centre.label} (scolarite@univ.example)."
    )


def test_a_smtp_failure_after_a_missing_letter_adds_the_notice_once(
    formation, campaign, centre_manager, admission_text, mailoutbox, mocker
):
    """Fault injection: the letter's text is gone and the first attempt fails at the SMTP server; the second
    leaves with one notice, not two."""
    mocker.patch("applications.tasks.build_decision_letter.delay_on_commit")
    application = released(formation, campaign, centre_manager)
    confirmed(application)
    email = the_mail(application)
    queued_body = email.body
    admission_text.delete()
    send = mocker.patch(
        "django.core.mail.EmailMultiAlternatives.send", side_effect=smtplib.SMTPServerDisconnected("down")
    )

    assert deliver(email.pk) == "retry"
    email.refresh_from_db()
    assert email.body == queued_body  # nothing left yet: the row's text is unchanged

    send.side_effect = None
    mocker.stopall()
    _due_again(email)
    assert deliver(email.pk) == "sent"
    [message] = mailoutbox
    assert message.body.count("n'a pas pu être joint") == 1
    email.refresh_from_db()
    assert email.body.count("n'a pas pu être joint") == 1


# --- the confirm view costs no query more --------------------------------------------------------------------------


@pytest.mark.parametrize("after_confirmation", [True, False])
def test_the_confirm_view_costs_no_query_for_the_letter(
    client, admitted, settings, django_assert_num_queries, after_confirmation
):
    settings.ADMISSION_LETTER_AFTER_CONFIRMATION = after_confirmation
    client.force_login(admitted.candidate.user)

    with django_assert_num_queries(16):  # as before the letter: it joins the decision's query, no query more
        response = client.post(reverse("applications:confirm", args=[admitted.public_id]))

    assert response.status_code == 302
    assert bool(the_mail(admitted).attachments) is after_confirmation


def test_the_confirmation_mail_does_not_promise_a_letter_whose_text_was_deleted(
    formation, campaign, centre_manager, admission_text, mailoutbox, mocker
):
    """The letter was never built (its task lost) and its text was deleted before the confirmation: the mail queued
    then neither links nor attaches a letter that can never be had."""
    mocker.patch("applications.tasks.build_decision_letter.delay_on_commit")
    application = released(formation, campaign, centre_manager)
    admission_text.delete()

    confirmed(application)

    email = the_mail(application)
    assert email.attachments == []
    assert letter_link(application) not in email.body
    assert "lettre" not in email.body.lower()
