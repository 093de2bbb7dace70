"""A classic application created on a candidate's behalf without a date of its own, on the day of the formation's
return deadline, in the hour before the site closes for the night (the maintenance window 22:45–06:00, enforced):
its CANDIDATURE mail asked to transmit « avant le » that day, with minutes left before 22:45, and from 06:00 the next
morning « Transmettre » was refused for good. Refused from an hour before the window (``ACT_MARGIN``), as the same
day typed as the application's own date and the status « Incomplet » with it already were (found by review)."""

import datetime

import pytest
from django.core.cache import caches
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from applications.models import Application
from applications.services import candidature
from applications.tests.factories_candidature import complete_candidate, decision_type
from ecandidat.exceptions import FieldRuleError
from ecandidat.maintenance import SWITCH_CACHE_KEY, forget_switch
from ecandidat.models import OutboundEmail
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

APPLY = "admin:applications_application_on_behalf"
# The on-behalf page's POST refused beside the return deadline's field (the session, the staff's rights, the form's
# lookups; nothing written), and accepted (the service's writes and its mail).
REFUSED_PAGE_QUERIES = 10
CREATED_PAGE_QUERIES = 19
REFUSAL_EN = (
    "The candidate would have less than an hour to transmit by the formation's return deadline ({date}): the site "
    "closes at 22:45 tonight. Give this application its own, later return deadline."
)
REFUSAL_FR = (
    "Le candidat aurait moins d'une heure pour transmettre sa candidature avant la date limite de retour de la "
    "formation ({date}) : le site ferme ce soir à 22h45. Donnez à cette candidature sa propre date limite de "
    "retour, plus tardive."
)


def _paris(day: datetime.date, hour: int, minute: int) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def deadline_day(maintenance_window):
    """Today (Paris), the formation's return deadline, the window enforced."""
    return timezone.localdate()


@pytest.fixture
def at(time_machine, deadline_day):
    """Moves the clock to ``hour``:``minute`` (Paris) of the deadline day, and puts the switch's state back in its
    cache at that time: moved, the state the tests' fixture cached may have expired, and the page read the switch's
    row (one query more, a count that depended on the hour of the run)."""

    def move(hour: int, minute: int) -> datetime.datetime:
        moment = _paris(deadline_day, hour, minute)
        time_machine.move_to(moment, tick=False)
        forget_switch()
        caches["maintenance"].set(SWITCH_CACHE_KEY, (False, ""))
        return moment

    return move


@pytest.fixture
def formation(centre, commission, deadline_day):
    """Closed to candidates yesterday; its return deadline is today."""
    return FormationFactory(
        centre=centre,
        commission=commission,
        code="MINFO",
        opens_on=deadline_day - datetime.timedelta(days=30),
        closes_on=deadline_day - datetime.timedelta(days=1),
        return_deadline=deadline_day,
        favourable_decision_type=decision_type(Avis.FAVOURABLE),
    )


@pytest.fixture
def candidate(campaign):
    return complete_candidate(user__campaign=campaign, user__email="late.evening@example.org")


def test_at_21_40_an_application_without_a_date_keeps_the_formations(
    at, deadline_day, client, centre_manager, formation, candidate, django_assert_num_queries
):
    """Control: more than an hour before the site closes, the candidate can still transmit by today's date."""
    now = at(21, 40)
    assert candidature.on_behalf_return_deadline_refusal(formation, None, now=now) == ""
    client.force_login(centre_manager)
    data = {"numero_dossier": candidate.user.username, "formation": formation.pk, "kind": "classic"}

    with django_assert_num_queries(CREATED_PAGE_QUERIES):
        response = client.post(reverse(APPLY), data, language="fr")

    assert response.status_code == 302
    application = Application.objects.get(candidate=candidate)
    assert application.return_deadline_override is None
    mail = OutboundEmail.objects.get(to=candidate.user.email)
    assert mail.code == "CANDIDATURE"
    assert f"transmettez votre candidature avant le {deadline_day:%d/%m/%Y}" in mail.body


@pytest.mark.parametrize(("hour", "minute"), [(21, 50), (22, 44)])
def test_in_the_hour_before_the_site_closes_the_service_refuses_it(
    at, deadline_day, centre_manager, formation, candidate, hour, minute
):
    now = at(hour, minute)
    refusal = candidature.on_behalf_return_deadline_refusal(formation, None, now=now)
    assert refusal == REFUSAL_EN.format(date=date_format(deadline_day, "SHORT_DATE_FORMAT"))

    with pytest.raises(FieldRuleError) as refused:
        candidature.create_application_on_behalf(candidate=candidate, formation=formation, actor=centre_manager)

    assert (refused.value.field, str(refused.value)) == ("return_deadline", refusal)
    assert not Application.objects.filter(candidate=candidate).exists()
    assert not OutboundEmail.objects.exists()


@pytest.mark.parametrize(("hour", "minute"), [(21, 50), (22, 44)])
def test_in_the_hour_before_the_site_closes_the_page_refuses_it_beside_the_field(
    at, deadline_day, client, centre_manager, formation, candidate, hour, minute, django_assert_num_queries
):
    at(hour, minute)
    client.force_login(centre_manager)
    data = {"numero_dossier": candidate.user.username, "formation": formation.pk, "kind": "classic"}

    with django_assert_num_queries(REFUSED_PAGE_QUERIES):
        response = client.post(reverse(APPLY), data, language="fr")

    assert response.status_code == 200
    message = REFUSAL_FR.format(date=f"{deadline_day:%d/%m/%Y}")
    assert response.context["form"].errors["return_deadline"] == [message]
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert not Application.objects.filter(candidate=candidate).exists()
    assert not OutboundEmail.objects.exists()
    # The way out the message gives: a later date of the application's own is accepted, and its mail gives it.
    tomorrow = deadline_day + datetime.timedelta(days=1)
    response = client.post(reverse(APPLY), {**data, "return_deadline": tomorrow.isoformat()}, language="fr")
    assert response.status_code == 302
    assert Application.objects.get(candidate=candidate).return_deadline_override == tomorrow
    mail = OutboundEmail.objects.get(to=candidate.user.email)
    assert f"transmettez votre candidature avant le {tomorrow:%d/%m/%Y}" in mail.body
