"""The favourable decisions given "at once", without staff's validation: the accès direct (the dossier set complete,
or the processing type set to direct access on a complete dossier) and the proposition d'admission.

Both created the formation's default favourable decision validated and mailed at once, without the check that
``staff.validate_decision`` makes (``_confirmation_date_refusal``): on the evening of the date de confirmation once the
site had closed for the night (the maintenance window, enforced), or after that date, the candidate was mailed a
decision they could never confirm, and the nightly withdrawal left it for staff (``nightly._given_too_late``), counted.

Now an accès direct whose candidate could no longer answer by the date is only entered: it waits for staff's
validation, which gives the usual refusal until a later date is set ("Extend deadlines"). An admission proposal is
refused, nothing written: its application does not exist yet, so no date can be set on it first. The test settings
turn the window off: these tests turn it on."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation
from pytest_django.asserts import assertContains

from applications.enums import DecisionAction, DossierStatus, EventKind
from applications.models import Application, ApplicationEvent
from applications.services import candidature, nightly, staff
from applications.tests.factories_candidature import complete_candidate, decision_type, make_application
from applications.tests.helpers import CONFIRM_BY, formation_confirmed_by, mails, paris
from applications.workflow import candidate_visible_events
from ecandidat.batches import Report
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import OutboundEmail
from offers.enums import Avis, TreatmentType

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("before_the_confirmation_date")]

CLOSING = paris(2027, 6, 30, 22, 50)  # on the date, the site closed since 22:45
BEFORE_CLOSING = paris(2027, 6, 30, 21, 40)  # before the site's last hour (applications.dates.ACT_MARGIN)
NEXT_MORNING = paris(2027, 7, 1, 10, 0)  # the date gone
LATER = datetime.date(2027, 7, 3)

CLOSED = re.escape(
    "The candidate can no longer confirm by the confirmation date (30 Jun 2027): the site is closed until 06:00 "
    "tomorrow. Set a later confirmation date first (“Extend deadlines”), then validate this favourable decision."
)
PASSED = re.escape("The confirmation date (30 Jun 2027) has passed: the candidate could not answer")
PROPOSAL_CLOSED = (
    "The candidate can no longer confirm by the confirmation date (30 Jun 2027): the site is closed until 06:00 "
    "tomorrow. Create a classic application instead, give it a later confirmation date (“Extend deadlines”), then "
    "enter and validate its favourable decision."
)
PROPOSAL_PASSED = (
    "The confirmation date (30 Jun 2027) has passed: the candidate could not answer this admission proposal. Create "
    "a classic application instead, give it a new confirmation date (“Extend deadlines”), then enter and validate "
    "its favourable decision."
)
# The history row's note, in the institution's language (French once the catalogue is built, English until then).
# The queries of the refused proposal's page: the application, its history row and its mail are written, then rolled
# back with the proposal (``admit_on_proposal``). 13 once ``candidature.propose_admission`` asks
# ``staff.admission_proposal_refusal`` before it creates anything.
REFUSED_PROPOSAL_PAGE_QUERIES = 13
WAITS = (
    "the candidate could no longer confirm it by the confirmation date, 30/06/2027",
    "le candidat ne pourrait plus le confirmer d'ici la date de confirmation, 30/06/2027",
)


@pytest.fixture
def formation(centre, commission):
    return formation_confirmed_by(
        centre,
        commission,
        treatment_type=TreatmentType.DIRECT,
        favourable_decision_type=decision_type(Avis.FAVOURABLE),
    )


def direct(formation, campaign, email="ad@example.org"):
    """An application in accès direct whose dossier was received, not yet complete."""
    return make_application(formation, campaign=campaign, email=email, treatment_type=TreatmentType.DIRECT)


def assert_waits_for_staff(application):
    """The direct access's decision is entered, not released: not validated, not mailed, hidden from the candidate
    (their "Mes données" archive), its history row telling staff why."""
    decision = application.decisions.get()
    assert (decision.action, decision.decision_type.avis) == (DecisionAction.DIRECT_ACCESS, Avis.FAVOURABLE)
    assert (decision.validated_at, decision.validated_by) == (None, None)
    assert mails("AVIS_FAVORABLE") == []
    event = application.events.get(kind=EventKind.DIRECT_ACCESS)
    assert any(words in event.comment for words in WAITS), event.comment
    assert not application.events.filter(candidate_visible_events(), kind=EventKind.DIRECT_ACCESS).exists()
    return decision


# --- accès direct -----------------------------------------------------------------------------------------------


def test_a_direct_access_complete_once_the_site_closed_waits_for_staff(
    maintenance_window, formation, campaign, centre_manager
):
    """Set complete at 22:50 on the date: the status and its mail stand, the decision waits; staff validating it get
    the usual refusal, set a later date, then validate it, and the candidate is mailed that date. Set complete at
    22:00, before the site closed, another one is validated and mailed at once, as before."""
    late = direct(formation, campaign)
    early = direct(formation, campaign, email="early@example.org")
    with time_machine.travel(BEFORE_CLOSING, tick=False):
        staff.set_dossier_status(early, target=DossierStatus.COMPLETE, actor=centre_manager)
    assert early.decisions.get().validated_by == centre_manager
    assert [mail.to for mail in mails("AVIS_FAVORABLE")] == ["early@example.org"]
    OutboundEmail.objects.all().delete()

    with time_machine.travel(CLOSING, tick=False):
        staff.set_dossier_status(late, target=DossierStatus.COMPLETE, actor=centre_manager)
        late.refresh_from_db()
        assert late.dossier_status == DossierStatus.COMPLETE
        assert [mail.to for mail in mails("STATUT_CO")] == ["ad@example.org"]
        decision = assert_waits_for_staff(late)

        with pytest.raises(BusinessRuleError, match=CLOSED):
            staff.validate_decision(decision, actor=centre_manager)
        staff.extend_deadlines(late, actor=centre_manager, confirmation_date=LATER)
        staff.validate_decision(decision, actor=centre_manager)

    decision.refresh_from_db()
    assert decision.validated_by == centre_manager
    [mail] = mails("AVIS_FAVORABLE")
    assert mail.to == "ad@example.org"
    assert "au plus tard le 03/07/2027, ce jour compris" in mail.body


def test_a_direct_access_set_by_hand_once_the_site_closed_waits_for_staff(
    maintenance_window, formation, campaign, centre_manager
):
    application = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE, email="ad@example.org")

    with time_machine.travel(CLOSING, tick=False):
        staff.set_treatment_type(
            application, treatment_type=TreatmentType.DIRECT, reason="Dossier de VAE", actor=centre_manager
        )

    assert [mail.to for mail in mails("TYPE_TRAIT_AD")] == ["ad@example.org"]
    assert_waits_for_staff(application)


def test_a_direct_access_after_its_date_waits_for_staff(formation, campaign, centre_manager):
    """The date gone (no window needed): the decision waits, and its validation says the date has passed."""
    application = direct(formation, campaign)

    with time_machine.travel(NEXT_MORNING, tick=False):
        staff.set_dossier_status(application, target=DossierStatus.COMPLETE, actor=centre_manager)
        decision = assert_waits_for_staff(application)
        with pytest.raises(BusinessRuleError, match=PASSED):
            staff.validate_decision(decision, actor=centre_manager)


def test_the_nightly_no_longer_finds_a_direct_access_it_must_leave_for_staff(
    maintenance_window, formation, campaign, centre_manager
):
    """It counted the decision released at 22:50 among those "given after their confirmation date", night after
    night; now the decision waits for its validation, and once validated with a later date it is withdrawn the night
    of that date like any other."""
    application = direct(formation, campaign)
    with time_machine.travel(CLOSING, tick=False):
        staff.set_dossier_status(application, target=DossierStatus.COMPLETE, actor=centre_manager)

    report = Report()
    with time_machine.travel(paris(2027, 6, 30, 23, 0), tick=False):
        nightly.withdraw_expired_confirmations(report, dry_run=False, limit=None)
    assert report.counts == {}

    with time_machine.travel(paris(2027, 7, 1, 9, 0), tick=False):
        staff.extend_deadlines(application, actor=centre_manager, confirmation_date=LATER)
        staff.validate_decision(application.decisions.get(), actor=centre_manager)
    with time_machine.travel(paris(2027, 7, 3, 23, 0), tick=False):
        nightly.withdraw_expired_confirmations(report, dry_run=False, limit=None)

    application.refresh_from_db()
    assert application.accepted is False
    assert [mail.to for mail in mails("CANDIDATURE_DESIST_AUTO")] == ["ad@example.org"]
    assert "favourable decisions given after their confirmation date (set a date)" not in report.counts


# --- proposition d'admission ------------------------------------------------------------------------------------


def assert_nothing_created(candidate):
    assert not Application.objects.filter(candidate=candidate).exists()
    assert not ApplicationEvent.objects.exists()
    assert not OutboundEmail.objects.exists()


@pytest.mark.parametrize(
    ("moment", "message"), [(CLOSING, PROPOSAL_CLOSED), (NEXT_MORNING, PROPOSAL_PASSED)], ids=["closed", "passed"]
)
def test_an_admission_proposal_its_candidate_could_not_answer_is_refused(
    maintenance_window, formation, campaign, centre_manager, moment, message
):
    candidate = complete_candidate(user__campaign=campaign)

    with (
        time_machine.travel(moment, tick=False),
        translation.override("en"),
        pytest.raises(BusinessRuleError, match=re.escape(message)),
    ):
        candidature.propose_admission(candidate=candidate, formation=formation, actor=centre_manager)

    assert_nothing_created(candidate)


def test_the_proposal_page_says_the_refusal_and_creates_nothing(
    client, maintenance_window, formation, campaign, centre_manager, django_assert_num_queries
):
    """The same evening a classic application is still created, as the message suggests."""
    candidate = complete_candidate(user__campaign=campaign)
    data = {"numero_dossier": candidate.user.username, "formation": formation.pk, "kind": "proposal"}

    with time_machine.travel(CLOSING, tick=False):
        client.force_login(centre_manager)  # the session of that evening
        with django_assert_num_queries(REFUSED_PROPOSAL_PAGE_QUERIES):
            response = client.post(reverse("admin:applications_application_on_behalf"), data)

        assert response.status_code == 200
        assertContains(response, "Create a classic application instead")
        assert_nothing_created(candidate)
        # After the formation's return deadline, a classic application needs a date the candidate can meet.
        classic = {**data, "kind": "classic", "return_deadline": "2027-07-10"}
        response = client.post(reverse("admin:applications_application_on_behalf"), classic)
    assert response.status_code == 302
    assert Application.objects.get(candidate=candidate).decisions.count() == 0


def test_an_admission_proposal_before_the_site_closed_is_still_admitted_and_the_date_is_the_formations(
    maintenance_window, formation, campaign, centre_manager
):
    """Control of the refusal above, in the same test (the refusal is the fix): at 22:00 it is admitted at once,
    mailed the formation's date; at 22:50 another proposal is refused."""
    admitted = complete_candidate(user__campaign=campaign)
    refused = complete_candidate(user__campaign=campaign, user__email="late@example.org")

    with time_machine.travel(BEFORE_CLOSING, tick=False):
        application = candidature.propose_admission(candidate=admitted, formation=formation, actor=centre_manager)
    with time_machine.travel(CLOSING, tick=False), pytest.raises(BusinessRuleError):
        candidature.propose_admission(candidate=refused, formation=formation, actor=centre_manager)

    assert application.decisions.get().validated_by == centre_manager
    [mail] = mails("AVIS_FAVORABLE")
    assert f"au plus tard le {CONFIRM_BY:%d/%m/%Y}, ce jour compris" in mail.body
    assert not Application.objects.filter(candidate=refused).exists()
