"""Several instances: two gunicorn processes (ecandidat.settings.base) and a Celery worker against the same
PostgreSQL (the test database), Redis and S3 (moto_server). A candidate logs in on one, uploads on the other,
downloads on the first; the login rate limit and the maintenance switch hold across both; a mail asked on one
instance is sent by the worker."""

import datetime
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings as django_settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.urls import reverse

from accounts.tests.factories import DEFAULT_PASSWORD, CandidateUserFactory
from applications.models import PieceSubmission
from documents.models import Document
from documents.tests import hostile_files as hostile
from documents.tests.s3_peer import ACCESS_KEY, REGION, SECRET_KEY, start_s3_server
from ecandidat import maintenance
from ecandidat.tests.plugins.services import _require_peers, _worker_database_url, free_port, wait_until

pytestmark = pytest.mark.integration

BASE_DIR = Path(django_settings.BASE_DIR)
# This run's Celery queue, hence its cache keys' prefix too (``CACHE_KEY_PREFIX`` follows ``CELERY_QUEUE``).
RUN_QUEUE = f"two-instances-{secrets.token_hex(6)}"


@dataclass
class Instance:
    process: subprocess.Popen
    url: str
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _redis_url() -> str:
    # A database of its own on the Redis server: cache, rate limits and broker are shared by the two instances
    # and the worker, and by nobody else.
    base = os.environ["REDIS_URL"].rsplit("/", 1)[0]
    return f"{base}/9"


def _environment(tmp_path: Path, s3_endpoint: str, bucket: str, smtp_url: str) -> dict:
    # A maintenance window far from now, so that the nightly window never closes the instances during the test.
    paris = datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Paris"))
    start, end = paris + datetime.timedelta(hours=6), paris + datetime.timedelta(hours=6, minutes=1)
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecandidat.settings.base",
        "SECRET_KEY": secrets.token_urlsafe(50),
        # Plain http on loopback: DEBUG=1 drops only the Secure cookie flag, the HTTPS redirect and the static
        # manifest; everything else is production's settings.
        "DEBUG": "1",
        "DATABASE_URL": _worker_database_url(),
        "REDIS_URL": _redis_url(),
        "EMAIL_URL": f"{smtp_url}?timeout=5",
        "CLAMD_ADDRESS": "none",
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "MAINTENANCE_START": start.strftime("%H:%M"),
        "MAINTENANCE_END": end.strftime("%H:%M"),
        "ENT_SERVER_URL": "",
        # A queue of this run's own: another test run on the same Redis must not take its tasks (nor share its cache
        # keys: CACHE_KEY_PREFIX follows CELERY_QUEUE).
        "CELERY_QUEUE": RUN_QUEUE,
    }


def _start_instance(env: dict, tmp_path: Path, name: str, started: list) -> Instance:
    port = free_port()
    log_path = tmp_path / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "ecandidat.wsgi"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    instance = Instance(process, f"http://127.0.0.1:{port}", log_path)
    started.append(instance)  # stopped by the fixture even if it never answers

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{log_path.read_text()}")
        try:
            return requests.get(f"{instance.url}/healthz", timeout=5).status_code == 200
        except requests.RequestException:  # not listening yet, or the first request still loading the application
            return False

    wait_until(up, timeout=60, message=f"instance {name} to answer /healthz")
    return instance


@pytest.fixture
def cluster(transactional_db, smtp_server, tmp_path):
    """Two instances and a worker, sharing the test database, one Redis database and one bucket."""
    _require_peers()
    # Rate-limit counters and the maintenance switch left in this database by an earlier run (the password-reset
    # limit is per hour) would change what the instances answer: each run starts from an empty one.
    redis.Redis.from_url(_redis_url()).flushdb()
    s3 = start_s3_server(free_port(), tmp_path / "moto.log")
    bucket = f"ecandidat-{uuid.uuid4().hex[:12]}"
    s3.client().create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    env = _environment(tmp_path, s3.endpoint_url, bucket, smtp_server.url)
    started: list = [s3]
    try:
        worker_log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "ecandidat", "worker", "--pool=solo", "-l", "info"]
            + ["--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"unisys-{bucket}@%h"],
            cwd=BASE_DIR,
            env=env,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
        )
        started.append(Instance(worker, "", tmp_path / "worker.log"))
        wait_until(lambda: " ready." in (tmp_path / "worker.log").read_text(), timeout=60, message="the worker")
        first = _start_instance(env, tmp_path, "first", started)
        second = _start_instance(env, tmp_path, "second", started)
        yield {"first": first, "second": second, "s3": s3, "bucket": bucket, "env": env}
    finally:
        for peer in reversed(started):
            peer.stop()


def _production_password(user) -> None:
    """The test settings hash with MD5, which production's hashers do not read: a PBKDF2 hash, as production has."""
    user.password = PBKDF2PasswordHasher().encode(DEFAULT_PASSWORD, PBKDF2PasswordHasher().salt())
    user.save(update_fields=["password"])


def _token(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=10)
    assert page.status_code == 200, page.text[:500]
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def _log_in(session: requests.Session, base: str, login: str, password: str) -> requests.Response:
    token = _token(session, f"{base}/accounts/login/")
    return session.post(
        f"{base}/accounts/login/",
        data={"csrfmiddlewaretoken": token, "login": login, "password": password},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=10,
    )


def test_log_in_on_one_upload_on_the_other_download_on_the_first(cluster, application, piece, candidate_user):
    first, second = cluster["first"].url, cluster["second"].url
    _production_password(candidate_user)
    session = requests.Session()

    response = _log_in(session, first, candidate_user.username, DEFAULT_PASSWORD)
    assert "/accounts/login/" not in response.url

    pieces_url = second + reverse("pieces:pieces", args=[application.public_id])
    token = _token(session, pieces_url)  # the session opened on the first instance works on the second
    upload = session.post(
        second + reverse("pieces:upload", args=[application.public_id, piece.pk]),
        data={"csrfmiddlewaretoken": token},
        files={"file": ("relevé.pdf", hostile.pdf_bytes(), "application/pdf")},
        headers={"Referer": pieces_url},
        allow_redirects=False,
        timeout=30,
    )
    assert upload.status_code == 302, upload.text[:500]
    document = Document.objects.get()
    keys = [o["Key"] for o in cluster["s3"].client().list_objects_v2(Bucket=cluster["bucket"])["Contents"]]
    assert keys == [document.file.name]

    submission = PieceSubmission.objects.get()
    download = session.get(first + reverse("pieces:download", args=[submission.public_id]), timeout=10)
    assert download.status_code == 200
    assert download.content == hostile.pdf_bytes()


def test_login_failures_count_across_both_instances(cluster, campaign):
    user = CandidateUserFactory(campaign=campaign)
    _production_password(user)
    first, second = cluster["first"].url, cluster["second"].url
    for base in (first, second, first, second, first):  # 5 failures per account and 5 minutes, wherever
        response = _log_in(requests.Session(), base, user.username, "not-the-password")
        assert "/accounts/login/" in response.url

    refused = _log_in(requests.Session(), second, user.username, DEFAULT_PASSWORD)

    assert "/accounts/login/" in refused.url
    assert "Trop de tentatives de connexion échouées" in refused.text


def test_the_maintenance_switch_closes_both_instances(cluster, candidate_user, settings):
    # The test process writes the switch as the admin does, into the same database and Redis cache.
    redis_cache = {"BACKEND": "ecandidat.cache.FailOpenRedisCache", "LOCATION": _redis_url()}
    switch_cache = {**redis_cache, "KEY_PREFIX": f"{RUN_QUEUE}:maintenance", "TIMEOUT": 30}  # the instances' prefix
    settings.CACHES = {**settings.CACHES, "maintenance": switch_cache}
    _production_password(candidate_user)
    sessions = {}
    for name in ("first", "second"):
        sessions[name] = requests.Session()
        _log_in(sessions[name], cluster[name].url, candidate_user.username, DEFAULT_PASSWORD)

    def statuses() -> set[int]:
        return {
            sessions[name].get(f"{cluster[name].url}/candidat/informations-perso/", timeout=10).status_code
            for name in ("first", "second")
        }

    assert statuses() == {200}
    maintenance.set_switch(is_on=True, message="Essai à deux instances", actor="test")
    try:
        wait_until(lambda: statuses() == {503}, timeout=maintenance.SWITCH_MEMORY_SECONDS + 5, message="maintenance")
        page = sessions["second"].get(f"{cluster['second'].url}/candidat/informations-perso/", timeout=10)
        assert "Essai à deux instances" in page.text
    finally:
        maintenance.set_switch(is_on=False, actor="test")
        maintenance.forget_switch()
    wait_until(lambda: statuses() == {200}, timeout=maintenance.SWITCH_MEMORY_SECONDS + 5, message="the end")


def test_a_mail_asked_on_an_instance_is_sent_by_the_worker(cluster, candidate_user, smtp_server):
    session = requests.Session()
    base = cluster["second"].url
    token = _token(session, f"{base}/accounts/password/reset/")

    session.post(
        f"{base}/accounts/password/reset/",
        data={"csrfmiddlewaretoken": token, "email": candidate_user.email},
        headers={"Referer": f"{base}/accounts/password/reset/"},
        timeout=10,
    )

    started = time.monotonic()
    wait_until(lambda: smtp_server.messages, timeout=30, message="the worker to send the mail")
    assert smtp_server.messages[0]["To"] == candidate_user.email
    assert time.monotonic() - started < 30
