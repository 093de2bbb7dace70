"""A mail template overridden from the back office (ecandidat.mail_templates) is what a real workflow sends."""

import pytest
from django.utils import translation

from applications.enums import DossierStatus
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
