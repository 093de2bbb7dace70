"""A withdrawal locks the formation's list before the application, whatever the formation in memory says.

``withdraw_application`` read ``auto_waiting_list`` from the formation in memory, before any lock, to decide whether
to lock the list (``staff.lock_waiting_list``). Staff switching the formation to an automatic list between the
page's load and the withdrawal: the list was not locked, the application was, and the promotion the withdrawal
triggers (the formation re-read with the application) then locked the formation after the application, the
other way round from every path that changes ranks (a validation of a complementary-list decision, the nightly
ranks: a deadlock). Now the formation's row is always locked first and its setting read under that lock.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications.enums import DecisionAction
from applications.models import Application
from applications.services import candidature as candidature_services
from applications.tests.factories_candidature import decide, decision_type, make_application
from offers.enums import Avis
from offers.models import Formation
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(
        centre=centre,
        commission=commission,
        auto_waiting_list=False,
        favourable_decision_type=decision_type(Avis.FAVOURABLE),
    )


@pytest.fixture
def listed(formation, campaign, central_manager):
    application = make_application(formation, campaign=campaign, email="liste@example.org")
    decide(application, Avis.COMPLEMENTARY_LIST, actor=central_manager, rank=1)
    return application


@pytest.fixture
def admitted(formation, campaign, central_manager, listed):
    """Admitted, loaded with its formation as the candidate's page loads it."""
    application = make_application(formation, campaign=campaign, email="admis@example.org")
    decide(application, Avis.FAVOURABLE, actor=central_manager)
    return Application.objects.select_related("formation").get(pk=application.pk)


def _row_locks(queries: CaptureQueriesContext) -> list[str]:
    """The table of each statement that locks rows, in order: on PostgreSQL its ``FOR … UPDATE``; SQLite locks the
    whole database and writes no such clause, so every SELECT there (the order of the reads is the order of the
    locks on PostgreSQL)."""
    statements = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("SELECT")]
    if connection.vendor == "postgresql":
        statements = [sql for sql in statements if " FOR UPDATE" in sql or " FOR NO KEY UPDATE" in sql]
    return [sql.split(" FROM ", 1)[1].split()[0].strip('"') for sql in statements]


def _promoted(application: Application) -> bool:
    latest = application.decisions.newest_first().first()
    return latest is not None and latest.action == DecisionAction.WAITING_LIST_PROMOTION


def test_a_list_switched_to_automatic_since_the_page_load_is_locked_before_the_application(
    formation, listed, admitted
):
    assert admitted.formation.auto_waiting_list is False  # in memory
    Formation.objects.filter(pk=formation.pk).update(auto_waiting_list=True)  # staff, meanwhile
    candidate = admitted.candidate.user

    with CaptureQueriesContext(connection) as queries:
        candidature_services.withdraw_application(application=admitted, actor=candidate, reason="PER")

    locks = _row_locks(queries)
    assert locks.index("offers_formation") < locks.index("applications_application"), locks
    assert _promoted(listed)  # the automatic list, as the database says


def test_a_list_switched_to_manual_since_the_page_load_promotes_nobody(formation, listed, admitted):
    Formation.objects.filter(pk=formation.pk).update(auto_waiting_list=True)
    admitted.formation.auto_waiting_list = True
    Formation.objects.filter(pk=formation.pk).update(auto_waiting_list=False)  # staff, meanwhile

    candidature_services.withdraw_application(application=admitted, actor=admitted.candidate.user, reason="PER")

    admitted.refresh_from_db()
    assert admitted.accepted is False
    assert not _promoted(listed)
