"""Shared fixtures: the persona set (house-style §6) and small builders used across apps."""

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache, caches
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.utils import translation

from accounts.tests.mfa import Client
from applications.models import ReferenceRegime, reference
from ecandidat import celery as celery_app
from ecandidat import faq, home_message, parameters
from ecandidat.maintenance import SWITCH_CACHE_KEY, forget_switch
from offers.tests.factories import CampaignFactory

pytest_plugins = [
    "ecandidat.tests.plugins.browser",
    "ecandidat.tests.plugins.services",
    "accounts.tests.personas",
    "documents.tests.fixtures",
]


@pytest.fixture(scope="session")
def django_db_createdb(request, django_db_modify_db_settings, django_db_blocker) -> bool:
    """``--reuse-db`` (pytest.ini) keeps PostgreSQL's test databases from one run to the next, but every
    transactional test (``transaction=True``, ``live_server``) ends with a flush, which empties the rows the data
    migrations wrote (regimes and fee exemptions, mail texts…): the next run on that database then failed where the
    first had passed. A kept database that lost them is made again (``--create-db``)."""
    if request.config.getvalue("create_db"):
        return True
    with django_db_blocker.unblock():
        return _kept_test_database_was_flushed()


def _kept_test_database_was_flushed() -> bool:
    default = connections[DEFAULT_DB_ALIAS]
    if default.vendor != "postgresql":
        return False  # SQLite's test database lives in memory: nothing is kept between runs
    # The test database's name, with pytest-xdist's worker suffix (django_db_modify_db_settings) when it runs; a
    # wrapper of its own, never registered, closed below.
    kept = {**default.settings_dict, "NAME": default.creation._get_test_db_name()}
    probe = type(default)(kept, alias=DEFAULT_DB_ALIAS)
    try:
        with probe.cursor() as cursor:
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {ReferenceRegime._meta.db_table})")  # noqa: S608
            return not cursor.fetchone()[0]
    except DatabaseError:
        return False  # no kept database, or one not migrated yet: pytest-django makes or migrates it
    finally:
        probe.close()


@pytest.fixture
def campaign(db):
    """The active campaign."""
    return CampaignFactory(is_active=True)


@pytest.fixture
def client():
    """pytest-django's client, except that ``force_login`` also records a second factor: staff need one to enter the
    back office (STAFF_MFA_REQUIRED). See accounts/tests/mfa.py."""
    return Client()


@pytest.fixture
def admin_client(db, admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture(autouse=True)
def _maintenance_switch_off():
    """Pages never read the switch from the database in tests (its state lives in its own cache alias)."""
    forget_switch()  # each process keeps the switch in memory for a few seconds
    caches["maintenance"].set(SWITCH_CACHE_KEY, (False, ""))
    yield
    caches["maintenance"].clear()
    forget_switch()


@pytest.fixture(autouse=True)
def _no_parameter_overrides():
    """Pages read the back office's parameters from this process's memory (ecandidat/parameters.py): each test starts
    with none changed and none read, so a query count does not depend on which test ran before, and a test that
    changes ``settings`` sees its value. The accessor's own tests call ``parameters.forget()``."""
    parameters.remember({}, seconds=float("inf"))
    yield
    parameters.forget()


@pytest.fixture(autouse=True)
def _cold_content_types():
    """Every test starts with Django's content-type cache empty, whatever ran before it in the same process: the
    admin (its history, its permissions) reads content types through that cache, so a query count that depended on
    which test ran earlier would pass or fail with the order xdist chose."""
    ContentType.objects.clear_cache()


@pytest.fixture(autouse=True)
def _no_home_message():
    """The home page finds "no message" in the cache, as a running site does between two saves: the tests that
    count its queries count the page's own (ecandidat/tests/test_home_message.py tests the cold read)."""
    cache.set(home_message.CACHE_KEY, ("", ""), 300)


@pytest.fixture(autouse=True)
def _no_faq():
    """The Assistance page finds an empty FAQ in the cache, as for the home message above
    (ecandidat/tests/test_faq.py tests the cold read)."""
    cache.set(faq.CACHE_KEY, (), 300)


@pytest.fixture(autouse=True)
def _no_cached_pages():
    """Each test starts with no cached fragment (the catalogue tree): its formations are its own."""
    caches["pages"].clear()
    yield
    caches["pages"].clear()


@pytest.fixture(autouse=True)
def _no_reference_lists():
    """Pages read the SIS's reference lists through a per-process memo (applications.models.reference), so a test's
    query count would depend on which test ran before. Each test starts as a fresh install: no list refreshed, memo
    primed. Tests of the lists call ``forget_reference_lists()`` after filling the tables."""
    reference.forget_reference_lists()
    for key in ("countries", "bac_series", "bac_specialities"):
        reference.memoised(key, list)
    for key in ("communes", "schools"):
        reference.memoised(key, lambda: [False])
    yield
    reference.forget_reference_lists()


@pytest.fixture(autouse=True)
def _broker_not_resting():
    """Each test starts with a broker that has not failed in this process: ``publish_or_leave`` leaves publishes to
    the sweepers for ``BROKER_REST_SECONDS`` after a failure, so a test that cut the broker would otherwise keep the
    next tests of the same process from publishing (a worker test then waited for a mail that was never handed over).
    """
    celery_app._broker_failed_at = None
    yield
    celery_app._broker_failed_at = None


@pytest.fixture(autouse=True)
def _language_reset():
    """Each test starts in the default language (French): a request through LocaleMiddleware leaves the language it
    activated on the thread, which would otherwise leak into the next test of the same worker."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True, scope="session")
def _invalid_template_values_are_never_true(_fail_for_invalid_template_variable):
    """pytest-django's ``FAIL_INVALID_TEMPLATE_VARS`` (pytest.ini) puts an object in ``string_if_invalid``, and Django
    gives that object, not a failure, for a method the template calls that needs arguments: ``{% if
    operation.preview %}`` was true in every test and false in production ("" is the engine's default), so the
    release preview never showed outside the tests. Asking that object for its truth fails the test instead, alone
    or inside ``and``/``or``/``not`` (the failure is not an ``Exception``: the template engine cannot swallow it)."""
    marker = settings.TEMPLATES[0]["OPTIONS"].get("string_if_invalid")
    if marker is None or isinstance(marker, str):
        yield
        return

    def truth(self):
        if self.fail:
            pytest.fail(
                "a template asks whether a method that needs arguments is true (always false in production); "
                "give the template a value instead"
            )
        return False

    kind = type(marker)
    kind.__bool__ = truth
    yield
    del kind.__bool__
