import datetime

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.core.cache import caches
from django.utils import translation

from applications import pegase
from applications.services import staff
from applications.tests.factories import AddressFactory, CandidateFactory
from applications.tests.factories_candidature import (
    DecisionTypeFactory,
    application_of,
    decision_type,
    make_application,
)
from applications.tests.helpers import paris
from offers.enums import Avis
from offers.tests.factories import FormationFactory


@pytest.fixture
def superuser(django_user_model):
    """A superuser: what only superusers may do in the back office (deleting setup rows, the staff's rights)."""
    return django_user_model.objects.create_superuser("root", "root@example.org", "x")


@pytest.fixture
def empty_pages_cache():
    """The candidate pages keep each formation's questions in the "pages" cache: no test reads another's."""
    caches["pages"].clear()
    yield
    caches["pages"].clear()


@pytest.fixture
def back_office_in_french(client):
    """The back office's pages in French, its language (the package's tests otherwise run in English). A module of
    back-office tests says ``pytestmark = pytest.mark.usefixtures("back_office_in_french")``."""
    client.language = "fr"
    with translation.override("fr"):
        yield


@pytest.fixture
def fresh_pegase_memory():
    """The Pégase client's per-process memories (tokens, "did not answer" marks): a test using a Pégase peer starts
    without them and leaves none. A module says ``pytestmark = pytest.mark.usefixtures("fresh_pegase_memory")``."""
    pegase._tokens.clear()
    pegase._unreachable.clear()
    yield
    pegase._tokens.clear()
    pegase._unreachable.clear()


@pytest.fixture
def pegase_opi(settings):
    """OPI to Pégase, numbered « EC… », no cap on a transfer, no shared folder (the day's files stay in the
    database): the OPI tests' settings (``pytestmark = pytest.mark.usefixtures("pegase_opi")``)."""
    settings.OPI_BACKEND = "pegase"
    settings.OPI_PREFIX = "EC"
    settings.OPI_BATCH_MAX = 0
    settings.OPI_EXPORT_DIR = ""
    return settings


@pytest.fixture
def opi_type(db):
    """A favourable decision type marked « Déversement OPI »: confirming it creates the candidate's OPI."""
    return DecisionTypeFactory(code="AVIS_FAV_OPI", avis=Avis.FAVOURABLE, opi_transfer=True)


@pytest.fixture
def maintenance_window(settings):
    """The production maintenance window (22:45–06:00), enforced: the test settings turn it off."""
    settings.MAINTENANCE_WINDOW_ENFORCED = True
    settings.MAINTENANCE_START = datetime.time(22, 45)
    settings.MAINTENANCE_END = datetime.time(6, 0)


@pytest.fixture
def before_the_confirmation_date():
    """The timeline of the tests around the date de confirmation ``CONFIRM_BY`` (30 June 2027) is fixed: what they
    do at no given moment (the decisions entered and validated, the campaigns) happens on 1 May 2027, before that
    date, not on the real day, which overtakes it (the validation of a favourable decision is refused once its date
    has passed). The clock ticks. A module says
    ``pytestmark = pytest.mark.usefixtures("before_the_confirmation_date")``."""
    with time_machine.travel(paris(2027, 5, 1, 12, 0), tick=True):
        yield


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


# The candidate personas. An account without a dossier is ``candidate_user`` (accounts.tests.personas).


@pytest.fixture
def candidate(campaign):
    """The owning candidate's dossier (``Candidate``, personal details filled in) on its own account of the active
    campaign (``candidate.user``)."""
    return CandidateFactory(user__campaign=campaign)


@pytest.fixture
def other_candidate(campaign):
    """Another candidate's dossier (``Candidate``) on its own account."""
    return CandidateFactory(user__campaign=campaign, user__email="other@example.org", birth_name="AUTRE")


@pytest.fixture
def owner_client(client, candidate):
    """A client logged in as ``candidate``'s account."""
    client.force_login(candidate.user)
    return client


@pytest.fixture
def client(client):
    # The pages are asserted in English (msgids), whatever catalogue is compiled.
    client.language = "en"
    return client


PERSONA_FIXTURES = (
    "candidate",
    "centre_manager",
    "other_centre_manager",
    "commission_member",
    "central_manager",
    "read_only_staff",
)


@pytest.fixture
def persona(request):
    """The user of the persona named by indirect parametrisation: "anonymous", "candidate" (the dossier's account),
    "read_only", or a staff persona fixture's name. Every persona exists whichever is asked, as in a real centre."""
    users = {name: request.getfixturevalue(name) for name in PERSONA_FIXTURES}
    users["candidate"] = users["candidate"].user
    users["read_only"] = users.pop("read_only_staff")
    users["anonymous"] = AnonymousUser()
    return users[request.param]


@pytest.fixture(params=["superuser", "centre_manager"])
def corrector(request):
    """Who corrects a dossier in the back office: the central office's superuser, a centre manager of the
    candidate."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def dossier_to_correct(centre, commission, campaign):
    """An application of the centre, its candidate with an address in Perpignan: a dossier staff correct."""
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    AddressFactory(candidate=application.candidate, city="PERPIGNAN", postal_code="66000")
    return application


@pytest.fixture
def documents_in_memory(settings):
    """Pieces uploaded through the services without an antivirus, into a fresh, empty InMemoryStorage (changing
    STORAGES makes Django rebuild default_storage): the lock-order and race tests of the pieces."""
    settings.CLAMD_ADDRESS = None
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}


@pytest.fixture
def two_applications(candidate_user, centre, commission):
    """A and B, two applications of the candidate account to two formations of the centre (B's « Histoire »)."""
    first = application_of(candidate_user, FormationFactory(centre=centre, commission=commission))
    other = application_of(candidate_user, FormationFactory(centre=centre, commission=commission, title="Histoire"))
    return first, other


@pytest.fixture
def favourable(formation, campaign, commission_member):
    """Three applications of ``formation`` (the module's) with a favourable decision waiting for its release (the
    releases' tests: background release, requester's rights, stalled jobs)."""
    applications = []
    for _ in range(3):
        application = make_application(formation, campaign=campaign)
        staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=commission_member)
        applications.append(application)
    return applications
