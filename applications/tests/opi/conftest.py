"""OPI tests: a candidate admitted through the real services (decision entered and validated by the centre manager),
who confirms through the candidate's service."""

import pytest
from django.utils import timezone, translation

from applications.enums import EventKind
from applications.history import record_event
from applications.models import Application
from applications.services import candidature, staff
from applications.signals import confirmation_withdrawn
from applications.tests.factories import AddressFactory, BaccalaureateFactory, CandidateFactory
from applications.tests.factories_candidature import ApplicationFactory, DecisionTypeFactory
from offers.enums import Avis
from offers.tests.factories import FormationFactory


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _opi_settings(settings):
    settings.OPI_BACKEND = "pegase"
    settings.OPI_PREFIX = "EC"
    settings.OPI_BATCH_MAX = 0
    settings.OPI_EXPORT_DIR = ""


@pytest.fixture
def opi_type(db):
    return DecisionTypeFactory(code="AVIS_FAV_OPI", avis=Avis.FAVOURABLE, opi_transfer=True)


@pytest.fixture
def plain_favourable(db):
    return DecisionTypeFactory(code="AVIS_FAV_SANS_OPI", avis=Avis.FAVOURABLE, opi_transfer=False)


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(
        centre=centre,
        commission=commission,
        code="M1ENER",
        title="MASTER 1 - ENERGIE",
        pegase_code="M1-ENER-PSOL",
        apogee_cge="PER",
        apogee_step_code="M1ENE",
        apogee_step_version="101",
        apogee_diploma_code="MENERG",
        apogee_diploma_version="1",
    )


@pytest.fixture
def other_formation(centre, commission):
    return FormationFactory(
        centre=centre,
        commission=commission,
        code="M1PHYS",
        pegase_code="M1-PHYS",
        apogee_cge="PER",
        apogee_step_code="M1PHY",
        apogee_step_version="102",
    )


def make_candidate(campaign, *, username="AB123456", **fields):
    """A candidate with every field the OPI files read, set to known values."""
    values = {
        "user__campaign": campaign,
        "user__username": username,
        "user__email": f"{username.lower()}@example.org",
        "user__student_number": "21901234",
        "birth_name": "DUPONT",
        "usual_name": "MARTIN",
        "first_name": "Élodie",
        "other_first_name": "Marie",
        "birth_date": timezone.datetime(2001, 2, 3).date(),
        "birth_country": "FR",
        "birth_department": "66",
        "birth_city": "Perpignan",
        "nationality": "FR",
        "ine": "1234567890a",
        "phone": "+33468000000",
        "mobile": "+33612345678",
        **fields,
    }
    candidate = CandidateFactory(**values)
    AddressFactory(
        candidate=candidate,
        line1="12 rue des Lilas",
        line2="Appartement 3",
        line3="Résidence; Les Pins",
        postal_code="66000",
        city="PERPIGNAN",
        country="FR",
    )
    BaccalaureateFactory(candidate=candidate, year=2019, department="66", mention="AB")
    return candidate


@pytest.fixture
def opi_candidate(campaign):
    return make_candidate(campaign)


def admit(candidate, formation, *, manager, decision_type) -> Application:
    """An application with a validated favourable decision of ``decision_type``, through the staff services."""
    application: Application = ApplicationFactory(
        candidate=candidate, formation=formation, campaign=candidate.user.campaign, complete=True
    )
    decision = staff.record_decision(application, decision_type=decision_type, actor=manager)
    staff.validate_decision(decision, actor=manager)
    return application


def confirm(application) -> Application:
    return candidature.confirm_application(application=application, actor=application.candidate.user)


def withdraw_after_confirmation(application, *, actor) -> None:
    """What "désister after confirming" does to a confirmed application (the service is built on another branch,
    which sends the same ``confirmation_withdrawn`` signal): the answer becomes a withdrawal, in the history, and
    the signal goes out in the same transaction."""
    Application.objects.filter(pk=application.pk).update(accepted=False, answered_at=timezone.now())
    record_event(application, kind=EventKind.WITHDRAWN, actor=actor)
    confirmation_withdrawn.send(sender=Application, application=application, actor=actor)
