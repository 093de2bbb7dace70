"""A deadline's last day ends when the candidate site closes for the nightly window (22:45), not at midnight: the recap
and the mails that give a deadline say so when the window is enforced (the recap and the AVIS_FAVORABLE mail said
« ce jour compris » and nothing else; a candidate reading it at 14:00 on the last day planned for the evening, was
refused from 22:45 and withdrawn by the 23:00 batch). Without a window, nothing is added."""

import datetime

import pytest
from django.core.cache import caches
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from applications.enums import DossierStatus
from applications.services import staff
from applications.tests.factories_candidature import (
    ApplicationFactory,
    DecisionFactory,
    DecisionTypeFactory,
    complete_candidate,
)
from applications.tests.helpers import mails
from ecandidat.maintenance import SWITCH_CACHE_KEY, forget_switch
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

ANSWER_EN = "The site closes every evening at 22:45: on the last day, answer before then."
ANSWER_FR = "Le site ferme chaque soir à 22h45 : le dernier jour, répondez avant cette heure."
TRANSMIT_EN = "The site closes every evening at 22:45: on the last day, transmit before then."
TRANSMIT_FR = "Le site ferme chaque soir à 22h45 : le dernier jour, transmettez avant cette heure."


@pytest.fixture
def applicant(campaign):
    return complete_candidate(user__campaign=campaign)


@pytest.fixture
def formation(commission):
    return FormationFactory(centre=commission.centre, commission=commission)


@pytest.fixture
def favourable(applicant, formation):
    application = ApplicationFactory(candidate=applicant, formation=formation, complete=True)
    DecisionFactory(application=application, decision_type=DecisionTypeFactory(avis=Avis.FAVOURABLE), validated=True)
    application.confirmation_date_override = timezone.localdate() + datetime.timedelta(days=10)
    application.save()
    return application


def _recap(client, application, language, django_assert_num_queries):
    client.force_login(application.candidate.user)
    with django_assert_num_queries(8):  # as without the sentence: the hour is read from the settings
        return client.get(reverse("applications:detail", args=[application.public_id]), language=language)


@pytest.fixture
def daytime(time_machine):
    """Noon of the real day, in Paris: the window enforced, a page asked between 22:45 and 06:00 (a CI run in the
    evening) was the maintenance page, not the recap. The switch's state is put back in its cache at that time: moved
    forward (a run before noon), the state the tests' fixture cached had expired, and the page read the switch's row
    (one query more, a count that depended on the hour of the run)."""
    today = timezone.localdate()
    noon = datetime.datetime.combine(today, datetime.time(12, 0), tzinfo=timezone.get_current_timezone())
    time_machine.move_to(noon, tick=True)
    forget_switch()
    caches["maintenance"].set(SWITCH_CACHE_KEY, (False, ""))


@pytest.mark.parametrize(("language", "sentence"), [("fr", ANSWER_FR), ("en", ANSWER_EN)])
def test_the_recap_says_the_last_day_ends_when_the_site_closes(
    daytime, client, maintenance_window, favourable, language, sentence, django_assert_num_queries
):
    response = _recap(client, favourable, language, django_assert_num_queries)

    assertContains(response, sentence)


def test_without_a_window_the_recap_adds_nothing(client, settings, favourable, django_assert_num_queries):
    settings.MAINTENANCE_WINDOW_ENFORCED = False

    response = _recap(client, favourable, "en", django_assert_num_queries)

    assertContains(response, "that day included")
    assertNotContains(response, "The site closes every evening")


@pytest.mark.parametrize("enforced", [True, False])
def test_the_incomplete_dossier_mail_says_when_the_last_day_ends(
    settings, maintenance_window, applicant, formation, centre_manager, enforced
):
    settings.MAINTENANCE_WINDOW_ENFORCED = enforced
    application = ApplicationFactory(candidate=applicant, formation=formation, complete=True)

    staff.set_dossier_status(application, target=DossierStatus.INCOMPLETE, actor=centre_manager)

    [mail] = [m for m in mails("STATUT_IN") if m.to == applicant.user.email]
    said = TRANSMIT_FR in mail.body or TRANSMIT_EN in mail.body
    assert said is enforced
