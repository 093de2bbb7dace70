"""The « dossier incomplet » mail (STATUT_IN) of a paper dossier: the candidate posts the missing or refused pieces
to the commission's postal address by the date limite de retour. It told them to log in to eCandidat, replace the
pieces and transmit the application again before the site closes at 22h45, which a paper dossier cannot do (no
upload, no transmission online): they were never told to post anything. The mail declares ``paper``, as
CANDIDATURE does, so the central office's own text of this mail tells paper dossiers apart too."""

import pytest
from django.urls import reverse
from django.utils import translation

from applications.enums import DossierStatus
from applications.notifications import NOTIFICATIONS
from applications.services import staff
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import english_date, mails
from ecandidat.absolute_urls import absolute_url
from ecandidat.mail_templates import check_source, file_version, variable_rows
from ecandidat.models import MailTemplate
from offers.enums import ApplicationMode
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

STATUT_IN = next(notification for notification in NOTIFICATIONS if notification.code == "STATUT_IN")

ADDRESS = "Secrétariat du master, bâtiment B de l'UFR\n52 avenue Paul Alduy\n66860 Perpignan Cedex"
POST_FR = (
    "Votre dossier est un dossier papier : envoyez par courrier les pièces manquantes ou refusées à la commission "
    "avant la date limite de retour."
)
POST_EN = "Your dossier is a paper one: post the missing or refused pieces to the commission by the return deadline."
TRANSMIT_AGAIN_FR = (
    "Connectez-vous à eCandidat, remplacez les pièces manquantes ou refusées et transmettez à nouveau votre "
    "candidature."
)
CLOSING_FR = "Le site ferme chaque soir à 22h45 : le dernier jour, transmettez avant cette heure."

# savepoint pair, lock, status, history, refused pieces (two), override lookup, an earlier status mail withdrawn,
# outbox row: the commission's address is read with the lock, the paper mail reads nothing more.
STATUT_IN_QUERIES = 10


@pytest.fixture
def commission(commission):
    commission.address = ADDRESS
    commission.save(update_fields=["address"])
    return commission


def _received(commission, campaign, mode, language):
    """An application « Réceptionné » to a new formation of ``commission`` in ``mode``, its candidate reading
    ``language``."""
    formation = FormationFactory(centre=commission.centre, commission=commission, mode=mode)
    application = make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED)
    application.candidate.preferred_language = language
    application.candidate.save(update_fields=["preferred_language"])
    return application


def _set_incomplete(application, actor, django_assert_num_queries):
    """« Incomplet » set by staff, from an English page: the mail's language is the candidate's."""
    with translation.override("en"), django_assert_num_queries(STATUT_IN_QUERIES):
        staff.set_dossier_status(application, target=DossierStatus.INCOMPLETE, actor=actor)
    [mail] = [m for m in mails("STATUT_IN") if m.to == application.candidate.user.email]
    return mail


def test_a_paper_dossier_is_told_to_post_the_pieces_to_the_commission(
    maintenance_window, commission, campaign, centre_manager, django_assert_num_queries
):
    application = _received(commission, campaign, ApplicationMode.PAPER, "fr")
    deadline = application.formation.return_deadline

    body = _set_incomplete(application, centre_manager, django_assert_num_queries).body

    assert f"{POST_FR}\nAdresse postale de la commission :\n{ADDRESS}\n" in body
    assert f"Date limite de retour : {deadline:%d/%m/%Y}.\n" in body
    assert "transmettez à nouveau" not in body
    assert "Connectez-vous" not in body
    assert "Le site ferme chaque soir" not in body


def test_an_english_paper_dossier_is_told_so_in_english(
    maintenance_window, commission, campaign, centre_manager, django_assert_num_queries
):
    application = _received(commission, campaign, ApplicationMode.PAPER, "en")
    deadline = application.formation.return_deadline

    body = _set_incomplete(application, centre_manager, django_assert_num_queries).body

    assert f"{POST_EN}\nPostal address of the commission:\n{ADDRESS}\n" in body
    assert f"Return deadline: {english_date(deadline)}.\n" in body
    assert "transmit your application again" not in body
    assert "Log in to eCandidat" not in body
    assert "The site closes every evening" not in body


def test_a_paper_dossier_of_a_commission_without_address_is_still_told_to_post(
    maintenance_window, commission, campaign, centre_manager, django_assert_num_queries
):
    """No postal address typed on the commission: the sentence stands, no empty « Adresse postale » heading."""
    commission.address = ""
    commission.save(update_fields=["address"])
    application = _received(commission, campaign, ApplicationMode.PAPER, "fr")

    body = _set_incomplete(application, centre_manager, django_assert_num_queries).body

    assert f"{POST_FR}\nVotre candidature sur eCandidat : " in body
    assert "Adresse postale" not in body
    assert "transmettez à nouveau" not in body


def test_an_online_dossier_mail_is_unchanged(
    maintenance_window, commission, campaign, centre_manager, django_assert_num_queries
):
    application = _received(commission, campaign, ApplicationMode.ONLINE, "fr")
    candidate, formation = application.candidate, application.formation
    recap = absolute_url(reverse("applications:detail", args=[application.public_id]))

    body = _set_incomplete(application, centre_manager, django_assert_num_queries).body

    assert body == (
        f"Bonjour {candidate.first_name} {candidate.birth_name},\n\n"
        f"Votre dossier pour la formation {formation.title} ({formation.code}) est incomplet.\n\n"
        f"{TRANSMIT_AGAIN_FR}\n"
        f"Votre candidature sur eCandidat : {recap}\n"
        f"Date limite de retour : {formation.return_deadline:%d/%m/%Y}. {CLOSING_FR}\n\n"
        "Ce courriel a été envoyé automatiquement, merci de ne pas y répondre.\n"
    )


def test_the_office_own_text_tells_paper_dossiers_apart(
    maintenance_window, commission, campaign, centre_manager, django_assert_num_queries
):
    """``${paper}`` is offered to the central office's text of STATUT_IN (listed under the form, accepted on save)
    and is what the real mail says of each dossier."""
    body = (
        "{if($paper)}Envoyez les pièces par courrier à :\n${commission_address}{endif($paper)}"
        "{if(!$paper)}Transmettez à nouveau votre candidature.{endif(!$paper)}"
    )
    assert check_source(body, STATUT_IN) == {"paper", "commission_address"}
    assert "paper" in [row["name"] for row in variable_rows(STATUT_IN)]
    MailTemplate.objects.create(code="STATUT_IN", language="fr", subject="Dossier incomplet", body=body)
    paper = _received(commission, campaign, ApplicationMode.PAPER, "fr")
    online = _received(commission, campaign, ApplicationMode.ONLINE, "fr")

    assert _set_incomplete(paper, centre_manager, django_assert_num_queries).body == (
        f"Envoyez les pièces par courrier à :\n{ADDRESS}"
    )
    assert _set_incomplete(online, centre_manager, django_assert_num_queries).body == (
        "Transmettez à nouveau votre candidature."
    )


def test_a_new_office_text_starts_from_the_files_with_both_dossiers():
    """The starting text of a new override (the files' version, converted) keeps the paper branch as a block."""
    _subject, body = file_version(STATUT_IN, "fr")

    assert f"{{if($paper)}}{POST_FR}\n{{if($commission_address)}}Adresse postale de la commission :" in body
    assert "Adresse postale de la commission :\n${commission_address}\n{endif($commission_address)}" in body
    assert f"{{if(!$paper)}}{TRANSMIT_AGAIN_FR}\n" in body
