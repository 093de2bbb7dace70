"""Three mails of the candidate's and the commission's that said too little, or too late.

- The first mail of a paper application (CANDIDATURE) asked the candidate to post the printed dossier « à l'adresse
  de contact » and gave neither the address nor a link to the application, where the dossier is downloaded: it now
  gives the commission's postal address and the recap's link, as the « dossier incomplet » mail of a paper dossier
  (STATUT_IN) does, and the central office's own text of the mail may print that link (``${recap_url}``).
- The nightly « not transmitted yet » reminder (CANDIDATURE_RELANCE_TRANSMISSION) had no outbox topic: written while
  the mail server refused (« 421 »), it waited for its next attempt and left after the candidate had transmitted or
  cancelled the application. It is now a mail of the dossier's status (``status_topic``), which the transmission's
  STATUT_RE replaces; the cancellation withdraws the status and processing type mails still waiting with it.
- The commission's « Passage en liste principale » alert was the only one whose subject did not name the formation.
"""

import smtplib
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone, translation

from applications.enums import DossierStatus
from applications.notifications import NOTIFICATIONS, notify_commission
from applications.services import candidature as candidature_services
from applications.services import nightly, staff
from applications.tests.factories_candidature import complete_candidate, make_application
from applications.tests.helpers import mails
from ecandidat.absolute_urls import absolute_url
from ecandidat.batches import Report
from ecandidat.emails import send_pending_mails
from ecandidat.mail_templates import check_source, file_version
from ecandidat.models import MailTemplate, OutboundEmail
from offers.enums import ApplicationMode, TreatmentType
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

CANDIDATURE = next(notification for notification in NOTIFICATIONS if notification.code == "CANDIDATURE")
LISTE_PRINC = next(
    notification for notification in NOTIFICATIONS if notification.code == "COMMISSION_ALERT_LISTE_PRINC"
)
REMINDER = "CANDIDATURE_RELANCE_TRANSMISSION"
REMINDER_SUBJECT = "Relance : votre candidature n'est pas encore transmise"

ADDRESS = "Secrétariat du master, bâtiment B de l'UFR\n52 avenue Paul Alduy\n66860 Perpignan Cedex"
PRINT_FR = (
    "Imprimez votre dossier avec « Télécharger mon dossier » sur la page de votre candidature dans eCandidat et "
    "envoyez-le par courrier avec vos pièces justificatives à la commission avant le {date}."
)
PRINT_EN = (
    "Print your dossier with “Download my dossier” on the page of your application in eCandidat and post it with "
    "your supporting documents to the commission by {date}."
)
UPLOAD_FR = "Déposez vos pièces justificatives et transmettez votre candidature avant le"


def in_french(text: str) -> str:
    """``text`` as the central office reads it in the outbox (the institution's language)."""
    with translation.override("fr"):
        return translation.gettext(text)


CANCELLED_REASON = "Not sent: the application was cancelled before this e-mail left."
REPLACED_REASON = "Not sent: a later status of the dossier replaced this one before this e-mail left."


@pytest.fixture
def commission(commission):
    commission.address = ADDRESS
    commission.save(update_fields=["address"])
    return commission


# --- 1. CANDIDATURE of a paper application --------------------------------------------------------------------------


def _apply(commission, campaign, mode, language="fr"):
    """The candidate applies (the real service) to a new formation of ``commission`` in ``mode``; their mail."""
    formation = FormationFactory(centre=commission.centre, commission=commission, mode=mode)
    candidate = complete_candidate(user__campaign=campaign, preferred_language=language)
    application = candidature_services.create_application(
        candidate=candidate, formation=formation, actor=candidate.user
    )
    [mail] = mails("CANDIDATURE")
    recap = absolute_url(reverse("applications:detail", args=[application.public_id]))
    return application, mail, recap


def test_a_paper_application_is_told_where_to_post_its_dossier_and_where_to_download_it(commission, campaign):
    application, mail, recap = _apply(commission, campaign, ApplicationMode.PAPER)
    deadline = f"{application.formation.return_deadline:%d/%m/%Y}"

    assert (
        f"{PRINT_FR.format(date=deadline)}\n"
        f"Adresse postale de la commission :\n{ADDRESS}\n"
        f"Votre candidature sur eCandidat : {recap}\n\n"
        "Ce courriel a été envoyé automatiquement"
    ) in mail.body
    assert "adresse de contact" not in mail.body
    assert UPLOAD_FR not in mail.body


def test_an_english_paper_application_is_told_so_in_english(commission, campaign):
    application, mail, recap = _apply(commission, campaign, ApplicationMode.PAPER, language="en")
    day = application.formation.return_deadline

    assert (
        f"{PRINT_EN.format(date=f'{day.day} {day:%b %Y}')}\n"
        f"Postal address of the commission:\n{ADDRESS}\n"
        f"Your application in eCandidat: {recap}\n"
    ) in mail.body


def test_a_commission_without_postal_address_still_gives_the_link(commission, campaign):
    """No address typed on the commission: no empty « Adresse postale » heading, the link stands; an online
    application's mail gives neither (it uploads and transmits online)."""
    commission.address = ""
    commission.save(update_fields=["address"])
    application, mail, recap = _apply(commission, campaign, ApplicationMode.PAPER)
    deadline = f"{application.formation.return_deadline:%d/%m/%Y}"

    assert f"{PRINT_FR.format(date=deadline)}\nVotre candidature sur eCandidat : {recap}\n" in mail.body
    assert "Adresse postale" not in mail.body

    OutboundEmail.objects.all().delete()
    _online, online_mail, _recap = _apply(commission, campaign, ApplicationMode.ONLINE)
    assert UPLOAD_FR in online_mail.body
    assert "Adresse postale" not in online_mail.body
    assert "Imprimez" not in online_mail.body


def test_the_office_own_text_may_give_the_recap_link(commission, campaign):
    """``${recap_url}`` is declared for CANDIDATURE: accepted in the central office's text and filled in the real
    mail; the starting text of a new override (the files', converted) has the address and the link."""
    body = "{if($paper)}Adresse :\n${commission_address}\nDossier à imprimer : ${recap_url}{endif($paper)}"
    assert check_source(body, CANDIDATURE) == {"paper", "commission_address", "recap_url"}
    MailTemplate.objects.create(code="CANDIDATURE", language="fr", subject="Candidature", body=body)

    _application, mail, recap = _apply(commission, campaign, ApplicationMode.PAPER)

    assert mail.body == f"Adresse :\n{ADDRESS}\nDossier à imprimer : {recap}"
    _subject, converted = file_version(CANDIDATURE, "fr")
    assert (
        "{if($commission_address)}Adresse postale de la commission :\n${commission_address}\n"
        "{endif($commission_address)}Votre candidature sur eCandidat : ${recap_url}"
    ) in converted


# --- 2. the « not transmitted yet » reminder, then the transmission or the cancellation -----------------------------


@pytest.fixture
def smtp(mocker):
    """The mail server, refusing (« 421 ») until the test calls ``smtp.back()``."""
    down = mocker.patch(
        "django.core.mail.EmailMultiAlternatives.send",
        side_effect=smtplib.SMTPConnectError(421, b"Service not available"),
    )
    down.back = lambda: mocker.stop(down)
    return down


@pytest.fixture
def reminded(commission, campaign, smtp, django_capture_on_commit_callbacks):
    """An online application never transmitted, reminded tonight while the mail server refuses: its reminder waits
    in the outbox for its next attempt."""
    today = timezone.localdate()
    formation = FormationFactory(
        centre=commission.centre,
        commission=commission,
        opens_on=today - timedelta(days=30),
        closes_on=today,
        return_deadline=today + timedelta(days=2),
    )
    application = make_application(formation, campaign=campaign, status=DossierStatus.WAITING)
    with django_capture_on_commit_callbacks(execute=True):
        nightly.remind_untransmitted_applications(Report(), dry_run=False, limit=None, today=today)
    [reminder] = mails(REMINDER)
    assert reminder.status == OutboundEmail.Status.PENDING
    return application


def _server_back_and_everything_due_sent(smtp, mailoutbox):
    """The server answers again; the sweeper runs a day later (every back-off has passed). The subjects sent."""
    smtp.back()
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        send_pending_mails()
    return [message.subject for message in mailoutbox]


def test_the_transmission_withdraws_the_reminder_still_waiting(
    reminded, smtp, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        candidature_services.transmit_application(application=reminded, actor=reminded.candidate.user)

    [reminder] = mails(REMINDER)
    assert reminder.status == OutboundEmail.Status.CANCELLED
    assert reminder.cancel_reason == in_french(REPLACED_REASON)
    subjects = _server_back_and_everything_due_sent(smtp, mailoutbox)
    assert REMINDER_SUBJECT not in subjects
    assert [mail.status for mail in mails("STATUT_RE")] == [OutboundEmail.Status.SENT]


def test_the_cancellation_withdraws_the_reminder_still_waiting(
    reminded, smtp, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        candidature_services.cancel_application(application=reminded, actor=reminded.candidate.user)

    [reminder] = mails(REMINDER)
    assert (reminder.status, reminder.cancel_reason) == (OutboundEmail.Status.CANCELLED, in_french(CANCELLED_REASON))
    subjects = _server_back_and_everything_due_sent(smtp, mailoutbox)
    assert REMINDER_SUBJECT not in subjects
    assert [mail.status for mail in mails("CANDIDATURE_ANNULATION")] == [OutboundEmail.Status.SENT]


def test_the_cancellation_withdraws_the_status_and_processing_type_mails_still_waiting(
    commission, campaign, centre_manager, smtp, mailoutbox, django_capture_on_commit_callbacks
):
    """Staff set the dossier « Incomplet », then back « En attente », and its processing type « En attente »
    while the server refused; the candidate cancels: those mails no longer hold. The STATUT_IN replaced by STATUT_AT
    keeps its own reason."""
    formation = FormationFactory(centre=commission.centre, commission=commission)
    application = make_application(formation, campaign=campaign, status=DossierStatus.WAITING)
    with django_capture_on_commit_callbacks(execute=True):
        staff.set_dossier_status(application, target=DossierStatus.INCOMPLETE, actor=centre_manager)
        staff.set_dossier_status(application, target=DossierStatus.WAITING, actor=centre_manager)
        staff.set_treatment_type(
            application, treatment_type=TreatmentType.WAITING, reason="Avis du responsable", actor=centre_manager
        )
    assert [mail.status for mail in mails("STATUT_AT") + mails("TYPE_TRAIT_ATT")] == [OutboundEmail.Status.PENDING] * 2

    with django_capture_on_commit_callbacks(execute=True):
        candidature_services.cancel_application(application=application, actor=application.candidate.user)

    withdrawn = {mail.code: (mail.status, mail.cancel_reason) for mail in OutboundEmail.objects.exclude(code="")}
    assert withdrawn["STATUT_IN"] == (OutboundEmail.Status.CANCELLED, in_french(REPLACED_REASON))
    assert withdrawn["STATUT_AT"] == (OutboundEmail.Status.CANCELLED, in_french(CANCELLED_REASON))
    assert withdrawn["TYPE_TRAIT_ATT"] == (OutboundEmail.Status.CANCELLED, in_french(CANCELLED_REASON))
    _server_back_and_everything_due_sent(smtp, mailoutbox)
    assert [mail.status for mail in mails("CANDIDATURE_ANNULATION")] == [OutboundEmail.Status.SENT]


# --- 3. the commission's alert of a promotion to the main list -------------------------------------------------------


def test_the_promotion_alert_names_the_formation_in_its_subject(commission, campaign):
    commission.alert_mode, commission.alert_on_promotion = "M", True
    commission.save(update_fields=["alert_mode", "alert_on_promotion"])
    formation = FormationFactory(centre=commission.centre, commission=commission, code="MINFO")
    application = make_application(formation, campaign=campaign)

    assert notify_commission(application=application, code="COMMISSION_ALERT_LISTE_PRINC", confirmation_date="") == 1

    [alert] = mails("COMMISSION_ALERT_LISTE_PRINC")
    assert alert.subject == "Passage en liste principale : MINFO"
    assert file_version(LISTE_PRINC, "fr")[0] == "Passage en liste principale : ${formation_code}"
    assert file_version(LISTE_PRINC, "en")[0] == "Waiting-list promotion to the main list: ${formation_code}"
