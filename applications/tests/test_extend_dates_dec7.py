"""« Prolonger les dates » never shortens a date the candidate was given, and its page shows the current dates.

Found by review (central office, in the browser): the page showed only empty « Nouvelle date… » fields, and
``staff.extend_deadlines`` took a date earlier than the candidate's. A promotion mailed « au plus tard le
12/12/2026 »; staff typed 08/12/2026: stored, the history said « Dates prolongées », no mail to the candidate, and the
nightly withdrawal withdrew them four days before their date, their place given away. Now a date earlier than the
application's effective one (its own date, the délai counted from the favourable decision capped at the campaign's
closing date for candidates, the formation's) is refused next to its field, nothing changed; one application of a
selection is refused by name, the others extended; the same date is still accepted. One application's page shows
its current return deadline and confirmation date under the fields."""

import datetime

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation

from applications.enums import DossierStatus, EventKind
from applications.models import Application, ApplicationEvent
from applications.services import staff
from applications.tests.factories_candidature import decide, make_application
from applications.tests.helpers import REVIEW_PAGE_QUERIES, change_url, operation_url, paris
from ecandidat.exceptions import FieldRuleError
from offers.enums import Avis
from offers.models import Campaign, Formation
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

PROMISED = datetime.date(2026, 12, 12)  # the date the promotion mailed
SHORTER = datetime.date(2026, 12, 8)
LONGER = datetime.date(2026, 12, 18)
RETURN_BY = datetime.date(2026, 12, 20)  # the formation's date limite de retour
CONFIRM_BY = datetime.date(2027, 1, 15)  # the formation's date de confirmation
SHORTER_CONFIRMATION_FR = (
    "La nouvelle date de confirmation (08/12/2026) précède celle que le candidat a reçue (12/12/2026) : "
    "« Prolonger les dates » ne raccourcit pas un délai."
)
SHORTER_RETURN_FR = (
    "La nouvelle date limite de retour (15/12/2026) précède celle du candidat (20/12/2026) : « Prolonger les "
    "dates » ne raccourcit pas un délai."
)
# An operation page without a preview reads 9 queries (``test_admin_applications``: « Statut du dossier », « Type de
# traitement »…), as this one did; it now reads the application's current dates, in one query more.
DATES_PAGE_QUERIES = 10


@pytest.fixture(autouse=True)
def on_7_december():
    with time_machine.travel(paris(2026, 12, 7, 10, 0), tick=True):
        yield


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(
        centre=centre,
        commission=commission,
        closes_on=datetime.date(2026, 12, 15),
        return_deadline=RETURN_BY,
        confirmation_date=CONFIRM_BY,
    )


@pytest.fixture
def promoted(formation, campaign):
    """Promoted from the complementary list: its own date de confirmation, mailed to the candidate."""
    application = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
    Application.objects.filter(pk=application.pk).update(confirmation_date_override=PROMISED)
    application.refresh_from_db()
    return application


def dates(*applications) -> list:
    return list(
        Application.objects.filter(pk__in=[a.pk for a in applications])
        .order_by("pk")
        .values_list("return_deadline_override", "confirmation_date_override")
    )


def extensions() -> int:
    return ApplicationEvent.objects.filter(kind=EventKind.DEADLINES).count()


# --- the service ------------------------------------------------------------------------------------------------


def test_a_confirmation_date_earlier_than_the_candidates_is_refused(promoted, centre_manager):
    with translation.override("fr"), pytest.raises(FieldRuleError) as refused:
        staff.extend_deadlines(promoted, actor=centre_manager, confirmation_date=SHORTER)

    assert (str(refused.value), refused.value.field) == (SHORTER_CONFIRMATION_FR, "confirmation_date")
    assert dates(promoted) == [(None, PROMISED)]
    assert extensions() == 0


def test_a_return_deadline_earlier_than_the_formations_is_refused(promoted, centre_manager):
    with translation.override("fr"), pytest.raises(FieldRuleError) as refused:
        staff.extend_deadlines(promoted, actor=centre_manager, return_deadline=datetime.date(2026, 12, 15))

    assert (str(refused.value), refused.value.field) == (SHORTER_RETURN_FR, "return_deadline")
    assert dates(promoted) == [(None, PROMISED)]
    assert extensions() == 0


@pytest.mark.parametrize(
    ("ends_on", "given"),
    [
        (datetime.date(2027, 6, 30), datetime.date(2026, 12, 17)),  # validated on 07/12 with a délai of 10 days
        (datetime.date(2026, 12, 14), datetime.date(2026, 12, 14)),  # capped at the campaign's closing date
    ],
)
def test_the_date_counted_from_the_favourable_decision_is_not_shortened(
    formation, campaign, centre_manager, ends_on, given
):
    Formation.objects.filter(pk=formation.pk).update(confirmation_date=None, confirmation_delay_days=10)
    Campaign.objects.filter(pk=campaign.pk).update(ends_on=ends_on)
    application = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
    decide(application, Avis.FAVOURABLE, actor=centre_manager)
    day_before = given - datetime.timedelta(days=1)

    with pytest.raises(FieldRuleError, match=f"\\({day_before:%d %b %Y}\\) is earlier .* \\({given:%d %b %Y}\\)"):
        staff.extend_deadlines(application, actor=centre_manager, confirmation_date=day_before)

    assert dates(application) == [(None, None)]
    staff.extend_deadlines(application, actor=centre_manager, confirmation_date=given)  # the same date: accepted
    assert dates(application) == [(None, given)]


def test_a_later_date_and_the_same_date_are_still_given(promoted, centre_manager):
    staff.extend_deadlines(promoted, actor=centre_manager, return_deadline=RETURN_BY, confirmation_date=PROMISED)
    staff.extend_deadlines(promoted, actor=centre_manager, confirmation_date=LONGER)

    assert dates(promoted) == [(RETURN_BY, LONGER)]
    assert extensions() == 2


# --- the back office --------------------------------------------------------------------------------------------


def test_one_application_given_an_earlier_date_is_refused_next_to_the_field(client, promoted, centre_manager):
    client.force_login(centre_manager)

    response = client.post(
        operation_url(promoted, "extend_deadlines"), {"confirmation_date": SHORTER.isoformat()}, language="fr"
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {"confirmation_date": [SHORTER_CONFIRMATION_FR]}
    assert dates(promoted) == [(None, PROMISED)]
    assert extensions() == 0


def test_a_selection_refuses_by_name_the_application_it_would_shorten(
    client, promoted, formation, campaign, centre_manager
):
    """The operation's convention: each application in its own savepoint, a refusal named, the others done."""
    other = make_application(formation, campaign=campaign, email="other@example.org")
    Application.objects.filter(pk=other.pk).update(confirmation_date_override=datetime.date(2026, 12, 9))
    client.force_login(centre_manager)

    response = client.post(
        reverse("admin:applications_application_changelist"),
        {
            "action": "action_extend_deadlines",
            "_selected_action": [promoted.pk, other.pk],
            "apply": "1",
            "confirmation_date": datetime.date(2026, 12, 10).isoformat(),
        },
        language="fr",
    )

    assert response.status_code == 302
    errors = [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "error"]
    assert len(errors) == 1
    assert promoted.candidate.user.username in errors[0]
    assert "précède celle que le candidat a reçue (12/12/2026)" in errors[0]
    assert dates(promoted, other) == [(None, PROMISED), (None, datetime.date(2026, 12, 10))]
    assert extensions() == 1


def test_the_page_shows_the_current_dates(client, promoted, centre_manager, django_assert_num_queries):
    client.force_login(centre_manager)
    client.get(operation_url(promoted, "extend_deadlines"))

    with django_assert_num_queries(DATES_PAGE_QUERIES):
        page = client.get(operation_url(promoted, "extend_deadlines"), language="fr").content.decode()

    assert "Actuellement : 20/12/2026" in page  # the formation's date limite de retour
    assert "Actuellement : 12/12/2026" in page  # the promotion's date de confirmation


def test_the_page_says_when_there_is_no_confirmation_date(client, formation, campaign, centre_manager):
    """A formation counting a délai from a favourable decision not given yet: no date to confirm by."""
    Formation.objects.filter(pk=formation.pk).update(confirmation_date=None, confirmation_delay_days=10)
    application = make_application(formation, campaign=campaign)
    client.force_login(centre_manager)

    page = client.get(operation_url(application, "extend_deadlines"), language="fr").content.decode()

    assert "Actuellement : 20/12/2026" in page
    assert "Actuellement : aucune" in page


def test_the_dossier_page_shows_the_current_dates_without_a_query_more(
    client, promoted, formation, campaign, centre_manager, django_assert_num_queries
):
    """Read from the application as the page loads it (its formation, campaign and current decisions)."""
    Formation.objects.filter(pk=formation.pk).update(confirmation_date=None, confirmation_delay_days=10)
    undecided = make_application(formation, campaign=campaign, email="undecided@example.org")
    client.force_login(centre_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        page = client.get(change_url(promoted), language="fr").content.decode()
    other = client.get(change_url(undecided), language="fr").content.decode()

    assert '<strong id="current-return-deadline">20/12/2026</strong>' in page
    assert '<strong id="current-confirmation-date">12/12/2026</strong>' in page
    assert '<strong id="current-confirmation-date">aucune</strong>' in other
