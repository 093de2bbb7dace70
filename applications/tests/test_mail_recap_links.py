"""Regression: the mails that ask the candidate to act on an application ("Connectez-vous à eCandidat pour confirmer ou
vous désister…", the reminder before the date de confirmation, "remplacez les pièces… et transmettez à nouveau")
gave no link at all; the candidate had to find the site and the application. They now end that paragraph with the
absolute address of the application's recap, where the candidate confirms, withdraws, replaces pieces and transmits
(the transmission reminder already did)."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.urls import resolve, reverse
from django.utils import timezone

from applications.enums import DossierStatus
from applications.services import staff
from applications.services.candidature import cancel_application
from applications.tests.factories_candidature import decide, decision_type, make_application
from applications.tests.helpers import mails
from offers.enums import Avis
from offers.models import RefusalReason
from offers.tests.factories import FormationFactory

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission)


def recap_line(application) -> str:
    url = settings.SITE_URL + reverse("applications:detail", args=[application.public_id])
    assert url.startswith(("http://", "https://"))
    return f"Votre candidature sur eCandidat : {url}\n"


def test_the_favourable_mail_links_to_the_recap_where_the_candidate_answers(formation, campaign, central_manager):
    application = make_application(formation, campaign=campaign)

    decide(application, Avis.FAVOURABLE, actor=central_manager)

    [mail] = mails("AVIS_FAVORABLE")
    assert recap_line(application) in mail.body


@pytest.mark.parametrize(
    ("avis", "code", "details"),
    [
        (Avis.UNFAVOURABLE, "AVIS_DEFAVORABLE", {"refusal_reason": lambda: RefusalReason.objects.create(code="CAP")}),
        (Avis.WAITING_LIST, "AVIS_LISTE_ATT", {}),
        (Avis.COMPLEMENTARY_LIST, "AVIS_LISTE_COMP", {"rank": 3}),
        (
            Avis.PRESELECTION,
            "AVIS_PRESELECTION",
            {
                "preselection_at": datetime.datetime(2027, 5, 3, 9, 30, tzinfo=PARIS),
                "preselection_place": "Salle B12",
            },
        ),
    ],
)
def test_every_decision_mail_links_to_the_recap(formation, campaign, central_manager, avis, code, details):
    """Regression: only the favourable mail linked to the application; a candidate on the complementary list (who
    follows their rank there), refused (the reason, the appeal, the letter) or preselected had to find the site."""
    application = make_application(formation, campaign=campaign)
    details = {name: value() if callable(value) else value for name, value in details.items()}

    decide(application, avis, actor=central_manager, **details)

    [mail] = mails(code)
    assert recap_line(application) in mail.body


def test_the_confirmation_reminder_links_to_the_recap(centre, commission, campaign, central_manager):
    formation = FormationFactory(
        centre=centre,
        commission=commission,
        confirmation_date=timezone.localdate() + datetime.timedelta(days=60),  # after the factory's return deadline
        favourable_decision_type=decision_type(Avis.FAVOURABLE),
    )
    application = make_application(formation, campaign=campaign)
    decide(application, Avis.FAVOURABLE, actor=central_manager)
    two_nights_before = datetime.datetime.combine(
        formation.confirmation_date - datetime.timedelta(days=2), datetime.time(23, 0), tzinfo=PARIS
    )

    with time_machine.travel(two_nights_before, tick=False):
        call_command("remind_favourable_decisions", verbosity=0)

    [mail] = mails("CANDIDATURE_RELANCE_FAVO")
    assert recap_line(application) in mail.body


def test_the_incomplete_mail_links_to_the_recap_where_pieces_are_replaced(formation, campaign, centre_manager):
    application = make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED)

    staff.set_dossier_status(application, target=DossierStatus.INCOMPLETE, actor=centre_manager)

    [mail] = mails("STATUT_IN")
    assert recap_line(application) in mail.body


def test_a_commission_alert_links_to_the_application_in_the_back_office(formation, campaign):
    """Regression: the commission's alerts (transmission, cancellation, withdrawal, promotion, proposal) named the
    candidate and the formation but gave no link: staff searched the list for the dossier."""
    formation.commission.alert_mode, formation.commission.email = "M", "commission.minfo@univ.example"
    formation.commission.alert_on_cancellation = True
    formation.commission.save()
    application = make_application(formation, campaign=campaign, status=DossierStatus.WAITING)

    cancel_application(application=application, actor=application.candidate.user)

    [mail] = mails("COMMISSION_ALERT_ANNULATION")
    path = reverse("admin:applications_application_change", args=[application.pk])
    assert f"La candidature dans la gestion : {settings.SITE_URL}{path}\n" in mail.body
    assert resolve(path).url_name == "applications_application_change"
