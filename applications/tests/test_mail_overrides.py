"""A mail template overridden from the back office (ecandidat.mail_templates) is what a real workflow sends."""

import datetime

import pytest
from django.utils import translation

from applications.enums import DossierStatus
from applications.models import Application
from applications.services import staff
from applications.tests.factories_candidature import make_application
from ecandidat.models import MailTemplate, OutboundEmail
from offers.tests.factories import FormationFactory


@pytest.mark.django_db
def test_a_real_status_change_mails_the_override(centre, commission, campaign, central_manager):
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    MailTemplate.objects.create(
        code="STATUT_IN",
        language="fr",
        subject="Il manque des pièces (${formation_code})",
        body="${refused_pieces}\n${comment}",
    )

    with translation.override("fr"):
        staff.set_dossier_status(
            application, target=DossierStatus.INCOMPLETE, actor=central_manager, comment="Relevé du S2"
        )

    email = OutboundEmail.objects.get(code="STATUT_IN")
    assert email.subject == f"Il manque des pièces ({application.formation.code})"
    assert email.body == "\nRelevé du S2"


def _statut_co(application, actor, django_assert_num_queries, queries):
    with translation.override("en"), django_assert_num_queries(queries):
        staff.set_dossier_status(application, target=DossierStatus.COMPLETE, actor=actor)
    return OutboundEmail.objects.get(code="STATUT_CO")


@pytest.fixture
def dated_application(centre, commission, campaign):
    commission.email, commission.phone, commission.address = "m1-ener@univ.example", "+33 4 68 66 20 00", "Bât. B"
    commission.url, commission.return_comment = "https://aide.univ.example/m1", "Secrétariat de 9 h à 12 h."
    commission.save()
    formation = FormationFactory(centre=centre, commission=commission, jury_on=None, publication_on=None)
    formation.jury_on = formation.return_deadline + datetime.timedelta(days=5)
    formation.save()
    application = make_application(formation, campaign=campaign)
    application.candidate.preferred_language = "fr"
    application.candidate.save(update_fields=["preferred_language"])
    # As the back office loads it: nothing of the commission nor of the campaign in memory.
    return Application.objects.select_related("candidate__user", "formation__centre").get(pk=application.pk)


@pytest.mark.django_db
def test_an_override_prints_the_commission_the_campaign_and_the_formation_dates(
    dated_application, central_manager, campaign, django_assert_num_queries
):
    """eCandidat's variables (§2.10), in the candidate's language (French civility in a mail sent from an English
    page). The staff services' lock already reads the commission and the campaign (the date de confirmation is
    capped at its closing date for candidates): printing them costs no query more."""
    MailTemplate.objects.create(
        code="STATUT_CO",
        language="fr",
        subject="Dossier complet — ${campaign_label}",
        body="${civility} ${last_name}, jury le ${jury_date}. Contact : ${commission_label}, ${commission_email}, "
        "${commission_phone}, ${commission_address}, ${commission_url}. ${commission_comment}",
    )
    application = dated_application
    formation, commission = application.formation, application.formation.commission

    email = _statut_co(application, central_manager, django_assert_num_queries, STATUT_CO_QUERIES)

    assert email.subject == f"Dossier complet — {campaign.label}"
    assert email.body == (
        f"Madame {application.candidate.birth_name}, jury le {formation.jury_on:%d/%m/%Y}. Contact : "
        f"{commission.label}, m1-ener@univ.example, +33 4 68 66 20 00, Bât. B, https://aide.univ.example/m1. "
        "Secrétariat de 9 h à 12 h."
    )


@pytest.mark.django_db
def test_a_text_that_does_not_print_them_reads_neither_commission_nor_campaign(
    dated_application, central_manager, django_assert_num_queries
):
    MailTemplate.objects.create(code="STATUT_CO", language="fr", subject="Complet", body="${formation_code}")

    email = _statut_co(dated_application, central_manager, django_assert_num_queries, STATUT_CO_QUERIES)

    assert email.body == dated_application.formation.code


# savepoint pair, lock, status, history, override lookup, an earlier status mail withdrawn, outbox row
STATUT_CO_QUERIES = 8
