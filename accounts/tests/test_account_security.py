"""Account security (issue 9): lockouts per account and per IP on a cache shared by every process, re-authentication
before an e-mail change, and no-store on the pages of logged-in users."""

import datetime
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.cache.backends.db import DatabaseCache
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import SharedCacheEntry
from accounts.tests.factories import CandidateUserFactory
from accounts.tests.personas import PASSWORD
from ecandidat.models import OutboundEmail
from ecandidat.tests.plugins.services import _worker_database_url

LOCKED = "Trop de tentatives de connexion échouées. Réessayez plus tard."
NEW = "nouvelle.adresse@example.org"


@pytest.fixture
def client(client):
    client.language = "fr"
    return client


def _log_in(client, login, password=PASSWORD):
    return client.post(reverse("account_login"), {"login": login, "password": password})


# --- Lockouts: per account and per IP, each with its own limit ---


def test_a_locked_account_leaves_another_account_working_from_the_same_ip(
    client, candidate_user, other_candidate_user
):
    for _attempt in range(5):
        assert _log_in(client, candidate_user.username, "mauvais-mot-de-passe").status_code == 200

    locked = _log_in(client, candidate_user.username)

    assert LOCKED in locked.content.decode()
    assert "_auth_user_id" not in client.session
    response = _log_in(client, other_candidate_user.username)  # same client, same REMOTE_ADDR (127.0.0.1)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(other_candidate_user.pk)


@pytest.mark.parametrize("persona", ["candidate", "staff"])
def test_the_account_limit_counts_its_username_and_its_address_together(
    client, candidate_user, centre_manager, persona
):
    user = candidate_user if persona == "candidate" else centre_manager
    for login in (user.username, user.email, user.username, user.email.upper(), user.username):
        assert LOCKED not in _log_in(client, login, "mauvais-mot-de-passe").content.decode()

    # Five failures for this one account, whichever of its logins was typed: locked under both.
    assert LOCKED in _log_in(client, user.email).content.decode()
    assert LOCKED in _log_in(client, user.username).content.decode()
    assert "_auth_user_id" not in client.session


def test_an_ip_trying_many_accounts_is_locked_at_its_own_limit(client, campaign, time_machine):
    accounts = CandidateUserFactory.create_batch(8, campaign=campaign)
    for index, account in enumerate(accounts[:6]):
        if index % 3 == 0:  # allauth's separate "login" limit (30 posts a minute per IP) is not what is tested
            time_machine.move_to(timezone.now() + datetime.timedelta(seconds=61))
        for _attempt in range(5):  # at each account's own limit: 30 failures from this IP in all, in 3 minutes
            assert LOCKED not in _log_in(client, account.username, "mauvais-mot-de-passe").content.decode()

    response = _log_in(client, accounts[7].username)

    assert LOCKED in response.content.decode()
    other_ip = client.post(
        reverse("account_login"), {"login": accounts[7].username, "password": PASSWORD}, REMOTE_ADDR="10.1.2.3"
    )
    assert other_ip.status_code == 302


@pytest.mark.django_db(transaction=True, databases="__all__")  # "__all__": the cache alias when settings add it
def test_lockout_is_shared_through_the_database_cache(client, settings, candidate_user, other_candidate_user):
    # The REDIS_URL-absent production cache (settings.base), instead of the tests' LocMemCache.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "ecandidat_cache"},
        "maintenance": settings.CACHES["maintenance"],
        "pages": settings.CACHES["pages"],
    }
    for _attempt in range(5):
        _log_in(client, candidate_user.username, "mauvais-mot-de-passe")

    assert SharedCacheEntry.objects.exists()  # the counters are rows, visible to every process
    # Another process = another cache client on the same table: it sees the same counter.
    other_process_cache = DatabaseCache("ecandidat_cache", {})
    keys = list(SharedCacheEntry.objects.values_list("cache_key", flat=True))
    assert any(other_process_cache.get(key.split(":", 2)[-1]) for key in keys)
    assert LOCKED in _log_in(client, candidate_user.username).content.decode()
    assert _log_in(client, other_candidate_user.username).status_code == 302


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_two_database_cache_clients_see_the_same_counter():
    first, second = DatabaseCache("ecandidat_cache", {}), DatabaseCache("ecandidat_cache", {})

    first.set("failed-logins", 1, 300)
    second.incr("failed-logins")

    assert first.get("failed-logins") == 2
    assert SharedCacheEntry.objects.count() == 1


def test_production_settings_without_redis_use_the_database_cache():
    env = {
        key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "DATABASE_URL", "CLAMD_ADDRESS"}
    }
    env.update({"DJANGO_SETTINGS_MODULE": "ecandidat.settings.base", "SECRET_KEY": "x" * 60})
    code = (
        "import ecandidat.settings.base as s; print(s.CACHES['default']['BACKEND'], s.CACHES['default']['LOCATION'])"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=django_settings.BASE_DIR, capture_output=True, text=True, check=True
    )

    assert result.stdout.split() == ["django.core.cache.backends.db.DatabaseCache", "ecandidat_cache"]


PROBE = """
import os
import django, psycopg2
django.setup()
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

assert "cache" in settings.DATABASES, "no autocommit alias for the cache"
with transaction.atomic():  # as a request does (ATOMIC_REQUESTS)
    cache.set("probe", 1, 60)
    other = psycopg2.connect(os.environ["PROBE_DSN"])  # another process's connection
    cursor = other.cursor()
    cursor.execute("SELECT count(*) FROM ecandidat_cache WHERE cache_key LIKE '%probe'")
    print(cursor.fetchone()[0])
    other.close()
    transaction.set_rollback(True)  # the request fails: the counter stays, as it must
"""


@pytest.mark.integration
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_on_postgresql_counters_are_committed_at_once_outside_the_request_transaction():
    if connection.vendor != "postgresql":
        pytest.fail("This test needs DATABASE_URL on PostgreSQL (e.g. postgres://postgres@127.0.0.1:5432/ecandidat).")
    url = _worker_database_url()
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "ecandidat.settings.base",
            "SECRET_KEY": "x" * 60,
            "DATABASE_URL": url,
            "PROBE_DSN": url.replace("postgres://", "postgresql://", 1),
            "CLAMD_ADDRESS": "none",
        }
    )

    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"  # seen by another connection while the "request" is still open
    assert SharedCacheEntry.objects.filter(cache_key__endswith="probe").count() == 1


# --- Re-authentication before changing the e-mail address ---


def test_email_change_asks_the_password_again_after_five_minutes(client, candidate_user, time_machine):
    _log_in(client, candidate_user.username)
    assert client.get(reverse("accounts:email_change")).status_code == 200  # just logged in: recent enough

    time_machine.move_to(timezone.now() + datetime.timedelta(minutes=6))
    response = client.get(reverse("accounts:email_change"))

    assert response.status_code == 302
    assert response.url == f"{reverse('account_reauthenticate')}?next=%2Fcompte%2Fadresse-mail%2F"
    page = client.get(response.url).content.decode()
    assert "Confirmer avec votre mot de passe" in page
    wrong = client.post(reverse("account_reauthenticate"), {"password": "mauvais-mot-de-passe"})
    assert wrong.status_code == 200
    response = client.post(
        reverse("account_reauthenticate"), {"password": PASSWORD, "next": reverse("accounts:email_change")}
    )
    assert response.url == reverse("accounts:email_change")
    assert client.get(reverse("accounts:email_change")).status_code == 200


def test_a_change_posted_from_an_old_session_waits_for_the_password(
    client, candidate_user, time_machine, django_capture_on_commit_callbacks
):
    _log_in(client, candidate_user.username)
    time_machine.move_to(timezone.now() + datetime.timedelta(minutes=6))

    response = client.post(reverse("accounts:email_change"), {"email": NEW, "email2": NEW})

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_reauthenticate"))
    candidate_user.refresh_from_db()
    assert candidate_user.email != NEW
    assert not OutboundEmail.objects.exists()
    # allauth replays the posted form once the password is confirmed
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("account_reauthenticate"), {"password": PASSWORD, "next": reverse("accounts:email_change")}
        )
    assert response.url == reverse("accounts:email_change_done")
    candidate_user.refresh_from_db()
    assert candidate_user.email == NEW
    assert OutboundEmail.objects.get(code="CPT_MIN_MODIF_MAIL").to == NEW  # the former address gets its notice


# --- Cache-Control: no-store on the pages of logged-in users only ---


@pytest.mark.parametrize("persona", ["candidate_user", "other_candidate_user", "centre_manager"])
@pytest.mark.parametrize("url", ["/", "/candidat/"])
def test_pages_seen_logged_in_are_not_stored(client, request, persona, url):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(url)

    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_back_office_pages_are_not_stored(client, centre_manager):
    client.force_login(centre_manager)

    response = client.get("/gestion/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]  # the admin's never_cache, kept
    assert "private" in response["Cache-Control"]


def test_public_pages_seen_anonymously_stay_cacheable(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):  # no session: the middleware does not load anything to decide
        response = client.get("/")

    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


def test_the_answer_to_a_logout_is_not_stored(client, candidate_user):
    client.force_login(candidate_user)

    response = client.post(reverse("account_logout"))

    assert "no-store" in response["Cache-Control"]
