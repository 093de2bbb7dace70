"""The accès direct only entered, not released, when its candidate could no longer confirm by the date de confirmation
(``staff.grant_direct_access``, test_cutoff_at_once.py), said to the staff member who caused it.

Setting the dossier « Complet » (« Statut du dossier », one application or a selection) or the type de traitement to
accès direct on a complete dossier gave the usual success message only: the member believed the candidate mailed an
admission, whereas the decision waited, unvalidated and unmailed, for a later date. Now a warning names each
application concerned and says what to do (« Prolonger les dates », then validate). It is read from what the
service returned (``staff.held_back_decision``): no query, a selection's page costs what it did.

The test settings turn the maintenance window off: these tests turn it on (22:45–06:00)."""

import pytest
import time_machine
from django.contrib.messages import constants, get_messages
from django.urls import reverse

from applications.enums import DossierStatus
from applications.services import staff
from applications.tests.factories_candidature import decision_type, make_application
from applications.tests.helpers import formation_confirmed_by, mails, operation_url, paris
from offers.enums import Avis, TreatmentType

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("before_the_confirmation_date", "maintenance_window")]

CHANGELIST = "admin:applications_application_changelist"
CLOSING = paris(2027, 6, 30, 22, 50)  # on the date de confirmation, the site closed since 22:45
BEFORE_CLOSING = paris(2027, 6, 30, 21, 40)  # before the site's last hour (applications.dates.ACT_MARGIN)
LATER = paris(2027, 7, 3, 12, 0).date()

HELD_BACK = "The favourable decision of the direct access was neither validated nor sent for"
REASON = (
    "the candidate could no longer answer it by their confirmation date (30 Jun 2027). Extend the dates "
    "(“Extend deadlines”), then validate the decision."
)

# « Statut du dossier » set « Complet » on one application, its accès direct held back: the POST, back to the dossier.
QUERIES_STATUS_ONE = 26
# The same on a selection (the changelist's action, « apply »), all held back: 35 for 1 application, then 19 for
# each other one, as its run costs (the warning costs none).
QUERIES_SELECTION = {1: 35, 3: 73}
# « Changer le type de traitement » to accès direct on one complete application, its decision held back.
QUERIES_TREATMENT_TYPE_ONE = 22


@pytest.fixture
def formation(centre, commission):
    return formation_confirmed_by(
        centre,
        commission,
        code="M1ENER",
        treatment_type=TreatmentType.DIRECT,
        favourable_decision_type=decision_type(Avis.FAVOURABLE),
    )


def direct(formation, campaign, email, **fields):
    """An application in accès direct whose dossier was received, not yet complete."""
    return make_application(formation, campaign=campaign, email=email, treatment_type=TreatmentType.DIRECT, **fields)


def named(application) -> str:
    """The application as the operations' messages name it."""
    return f"{application.candidate.staff_name} ({application.candidate.user.username}) – M1ENER"


def warnings(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request) if message.level == constants.WARNING]


def set_complete(client, application):
    return client.post(
        operation_url(application, "set_status"),
        {"target": "CO", "comment": "", "shown_statuses": f"{application.pk}:{application.dossier_status}"},
    )


def test_one_dossier_set_complete_once_the_site_closed_says_its_direct_access_waits(
    client, django_assert_num_queries, formation, campaign, centre_manager
):
    """At 22:50 on the date: the status is set, its decision only entered; the page the member returns to (the
    dossier) says so, naming the application, beside the usual success message."""
    application = direct(formation, campaign, "ad@example.org")

    with time_machine.travel(CLOSING, tick=False):
        client.force_login(centre_manager)  # the session of that evening
        with django_assert_num_queries(QUERIES_STATUS_ONE):
            response = set_complete(client, application)
        dossier = client.get(response.url)

    assert response.status_code == 302
    assert application.decisions.get().validated_at is None
    assert mails("AVIS_FAVORABLE") == []
    [warning] = warnings(response)
    assert warning == f"{HELD_BACK} {named(application)}: {REASON}"
    text = dossier.content.decode()
    assert HELD_BACK in text
    assert "Set the dossier status: done for" in text


def test_one_dossier_set_complete_before_the_site_closed_says_nothing_more(
    client, formation, campaign, centre_manager
):
    """Control: at 22:00 the decision is validated and mailed at once, as before; no warning."""
    application = direct(formation, campaign, "ad@example.org")

    with time_machine.travel(BEFORE_CLOSING, tick=False):
        client.force_login(centre_manager)
        response = set_complete(client, application)
        dossier = client.get(response.url)

    assert response.status_code == 302
    assert application.decisions.get().validated_by == centre_manager
    assert [mail.to for mail in mails("AVIS_FAVORABLE")] == ["ad@example.org"]
    assert warnings(response) == []
    assert HELD_BACK not in dossier.content.decode()


def post_selection(client, applications, **data):
    selection = {"action": "action_set_status", "_selected_action": [application.pk for application in applications]}
    shown = ",".join(f"{application.pk}:{application.dossier_status}" for application in applications)
    return client.post(
        reverse(CHANGELIST), {**selection, "apply": "1", "target": "CO", "comment": "", "shown_statuses": shown}
    )


def test_a_selection_names_the_two_applications_held_back_and_not_the_third(
    client, formation, campaign, centre_manager
):
    """Three set complete at 22:50: two keep the formation's date (held back), the third was given a later one
    (« Prolonger les dates » before): its decision is released and mailed, and it is not named."""
    first = direct(formation, campaign, "first@example.org")
    extended = direct(formation, campaign, "extended@example.org", confirmation_date_override=LATER)
    third = direct(formation, campaign, "third@example.org")

    with time_machine.travel(CLOSING, tick=False):
        client.force_login(centre_manager)
        response = post_selection(client, [first, extended, third])
        page = client.get(response.url)

    assert response.status_code == 302
    assert [mail.to for mail in mails("AVIS_FAVORABLE")] == ["extended@example.org"]
    assert extended.decisions.get().validated_by == centre_manager
    assert first.decisions.get().validated_at is None
    assert third.decisions.get().validated_at is None
    messages = [str(message) for message in get_messages(response.wsgi_request)]
    assert "Set the dossier status: 3 applications done." in messages
    assert warnings(response) == [f"{HELD_BACK} {named(first)}: {REASON}", f"{HELD_BACK} {named(third)}: {REASON}"]
    text = page.content.decode()
    assert text.count(HELD_BACK) == 2
    assert extended.candidate.user.username not in " ".join(warnings(response))


@pytest.mark.parametrize("count", [1, 3])
def test_a_selections_warnings_cost_no_query(
    client, django_assert_num_queries, formation, campaign, centre_manager, count
):
    """Each held back application costs what its run costs, its warning none: the same count per application."""
    applications = [direct(formation, campaign, f"ad{number}@example.org") for number in range(count)]

    with time_machine.travel(CLOSING, tick=False):
        client.force_login(centre_manager)
        with django_assert_num_queries(QUERIES_SELECTION[count]):
            response = post_selection(client, applications)

    assert response.status_code == 302
    assert len(warnings(response)) == count


def test_the_treatment_type_set_to_direct_access_once_the_site_closed_says_its_decision_waits(
    client, django_assert_num_queries, formation, campaign, centre_manager
):
    """« Changer le type de traitement » to accès direct on a complete dossier at 22:50: the type is set and mailed,
    the decision only entered, and said."""
    application = make_application(
        formation,
        campaign=campaign,
        status=DossierStatus.COMPLETE,
        email="ad@example.org",
        treatment_type=TreatmentType.CONTROLLED,
    )

    with time_machine.travel(CLOSING, tick=False):
        client.force_login(centre_manager)
        with django_assert_num_queries(QUERIES_TREATMENT_TYPE_ONE):
            response = client.post(
                operation_url(application, "treatment_type"),
                {"treatment_type": TreatmentType.DIRECT, "reason": "Dossier de VAE"},
            )

    assert response.status_code == 302
    application.refresh_from_db()
    assert application.treatment_type == TreatmentType.DIRECT
    assert [mail.to for mail in mails("TYPE_TRAIT_AD")] == ["ad@example.org"]
    assert application.decisions.get().validated_at is None
    assert warnings(response) == [f"{HELD_BACK} {named(application)}: {REASON}"]


def test_the_service_reports_the_decision_it_held_back(formation, campaign, centre_manager):
    """``staff.held_back_decision`` on what ``set_dossier_status`` returned: the decision and its date; None at
    22:00."""
    late = direct(formation, campaign, "late@example.org")
    early = direct(formation, campaign, "early@example.org")

    with time_machine.travel(BEFORE_CLOSING, tick=False):
        assert (
            staff.held_back_decision(
                staff.set_dossier_status(early, target=DossierStatus.COMPLETE, actor=centre_manager)
            )
            is None
        )
    with time_machine.travel(CLOSING, tick=False):
        held = staff.held_back_decision(
            staff.set_dossier_status(late, target=DossierStatus.COMPLETE, actor=centre_manager)
        )

    assert held is not None
    assert held.decision == late.decisions.get()
    assert held.confirmation_date == paris(2027, 6, 30, 12, 0).date()
