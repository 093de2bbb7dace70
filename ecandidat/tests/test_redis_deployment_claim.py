"""Two deployments on one Redis that leave CELERY_QUEUE and CACHE_KEY_PREFIX unset (ecandidat/celery.py,
claim_the_shared_redis; ecandidat/checks.py, ecandidat.W008).

Both consumed the queue "celery" (each worker took the other's mail tasks and returned "skipped": those mails waited
for their sweeper) and shared every cache key (the recette's maintenance switch closed production), and nothing said
so: ``check --deploy`` printed the same with or without the variables. A worker now claims its queue and its cache
prefix in that Redis at its start and refuses a queue another deployment claimed; ``check --deploy`` warns.

The tests use a Redis database of their own (7), emptied before and after.
"""

import json
import logging
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis
from django.conf import settings
from django.core.checks import Warning
from django.core.checks.registry import registry

from ecandidat import celery as ecandidat_celery
from ecandidat.celery import (
    CLAIM_REFUSED_EXIT_STATUS,
    CLAIM_TTL_SECONDS,
    claim_the_shared_redis,
    refresh_the_claims_while_running,
)
from ecandidat.checks import check_redis_deployment
from ecandidat.deployment import deployment_identity, deployment_label
from ecandidat.tests.helpers import PRODUCTION_ENV, manage
from ecandidat.tests.plugins.services import free_port, wait_until

CLAIM_REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/7"
QUEUE_KEY = "ecandidat:deployment:queue:celery"
CACHE_KEY = "ecandidat:deployment:cache:"
BASE_DIR = Path(settings.BASE_DIR)
WORKER_UNIT = BASE_DIR / "deploy" / "ecandidat-worker.service"
LONG_WORKER_UNIT = BASE_DIR / "deploy" / "ecandidat-worker-long.service"


def _worker(*queues: str) -> SimpleNamespace:
    """What the handler reads of the WorkController it is sent: the queues chosen (-Q, else CELERY_QUEUE)."""
    return SimpleNamespace(
        app=SimpleNamespace(amqp=SimpleNamespace(queues=SimpleNamespace(consume_from=dict.fromkeys(queues))))
    )


@pytest.fixture
def claim_redis():
    client = redis.Redis.from_url(CLAIM_REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    client.ping()
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def production(monkeypatch):
    """The checks' production (ecandidat.checks.is_production reads the environment under override_settings)."""
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "ecandidat.settings.base")


@pytest.fixture
def deployment(settings, claim_redis, monkeypatch):
    """This process as production on the shared Redis: queue "celery", no cache prefix (both left unset), its
    identity from its database (these tests open no connection: only the name is read)."""
    settings.REDIS_URL = CLAIM_REDIS_URL
    settings.CACHE_KEY_PREFIX = ""
    settings.CELERY_TASK_DEFAULT_QUEUE = "celery"
    settings.DEPLOYMENT_ID = ""
    monkeypatch.setitem(settings.DATABASES["default"], "NAME", "ecandidat_production")
    return settings


def _another_deployment(monkeypatch) -> None:
    """The recette: the same Redis and the same (unset) names, another database."""
    monkeypatch.setitem(settings.DATABASES["default"], "NAME", "ecandidat_recette")


def _claim(client: redis.Redis, key: str) -> dict:
    return json.loads(client.get(key))


def test_the_claim_is_made_when_a_worker_starts_before_it_consumes():
    assert claim_the_shared_redis in [receiver() for _key, receiver in ecandidat_celery.signals.worker_init.receivers]
    assert refresh_the_claims_while_running in [
        receiver() for _key, receiver in ecandidat_celery.signals.worker_ready.receivers
    ]


@pytest.mark.integration
def test_a_worker_claims_its_queue_and_cache_prefix_at_start(deployment, claim_redis):
    claim_the_shared_redis(sender=_worker("celery"))

    for key in (QUEUE_KEY, CACHE_KEY):
        claim = _claim(claim_redis, key)
        assert claim["identity"] == deployment_identity()
        assert claim["label"] == deployment_label()
        assert CLAIM_TTL_SECONDS - 60 < claim_redis.ttl(key) <= CLAIM_TTL_SECONDS
    assert deployment_label().endswith("/ecandidat_production")
    # Nothing else is written: no kombu key, no cache key.
    assert sorted(key.decode() for key in claim_redis.keys("*")) == [CACHE_KEY, QUEUE_KEY]


@pytest.mark.integration
def test_a_second_deployments_worker_is_refused_and_logs_both_deployments(
    deployment, claim_redis, caplog, monkeypatch
):
    claim_the_shared_redis(sender=_worker("celery"))  # production's worker
    production = _claim(claim_redis, QUEUE_KEY)
    production_label = deployment_label()
    _another_deployment(monkeypatch)

    with caplog.at_level(logging.ERROR, logger="ecandidat.celery"), pytest.raises(SystemExit) as refused:
        claim_the_shared_redis(sender=_worker("celery"))  # the recette's

    assert refused.value.code == CLAIM_REFUSED_EXIT_STATUS
    [record] = caplog.records
    assert record.levelname == "ERROR"
    message = record.getMessage()
    assert production_label in message
    assert deployment_label() in message  # the recette's own
    assert production_label != deployment_label()
    assert "refuses to start" in message
    assert "Set CELERY_QUEUE (and CACHE_KEY_PREFIX) to a name of its own" in message
    assert f"redis-cli -n 7 DEL {QUEUE_KEY} {CACHE_KEY}" in message
    # Production keeps its claims.
    assert _claim(claim_redis, QUEUE_KEY) == production
    assert _claim(claim_redis, CACHE_KEY) == production


@pytest.mark.integration
def test_another_deployment_by_its_deployment_id_is_refused(deployment, claim_redis):
    deployment.DEPLOYMENT_ID = "production"
    claim_the_shared_redis(sender=_worker("celery"))
    deployment.DEPLOYMENT_ID = "recette"  # the same database settings, another deployment said so

    with pytest.raises(SystemExit):
        claim_the_shared_redis(sender=_worker("celery"))

    assert _claim(claim_redis, QUEUE_KEY) == {"identity": "production", "label": "DEPLOYMENT_ID"}


@pytest.mark.integration
def test_the_same_deployment_restarting_is_accepted_and_its_claim_refreshed(deployment, claim_redis, caplog):
    claim_the_shared_redis(sender=_worker("celery"))
    claim_redis.expire(QUEUE_KEY, 100)  # days later
    claim_redis.expire(CACHE_KEY, 100)

    with caplog.at_level(logging.WARNING, logger="ecandidat.celery"):
        claim_the_shared_redis(sender=_worker("celery"))  # a restart, or a second worker of the deployment

    assert caplog.records == []
    assert claim_redis.ttl(QUEUE_KEY) > CLAIM_TTL_SECONDS - 60
    assert claim_redis.ttl(CACHE_KEY) > CLAIM_TTL_SECONDS - 60


@pytest.mark.integration
def test_deployments_with_names_of_their_own_both_start(deployment, claim_redis, caplog, monkeypatch):
    claim_the_shared_redis(sender=_worker("celery"))
    _another_deployment(monkeypatch)
    deployment.CACHE_KEY_PREFIX = "recette"  # CELERY_QUEUE=recette: CACHE_KEY_PREFIX follows it

    with caplog.at_level(logging.WARNING, logger="ecandidat.celery"):
        claim_the_shared_redis(sender=_worker("recette"))

    assert caplog.records == []
    assert _claim(claim_redis, "ecandidat:deployment:queue:recette")["label"].endswith("/ecandidat_recette")
    assert _claim(claim_redis, "ecandidat:deployment:cache:recette")["label"].endswith("/ecandidat_recette")


@pytest.mark.integration
def test_a_shared_cache_prefix_alone_is_an_error_in_the_log_not_a_refusal(
    deployment, claim_redis, caplog, monkeypatch
):
    # Another queue (this worker takes none of the other's tasks) but the same cache keys (CACHE_KEY_PREFIX set alike).
    claim_the_shared_redis(sender=_worker("celery"))
    _another_deployment(monkeypatch)

    with caplog.at_level(logging.ERROR, logger="ecandidat.celery"):
        claim_the_shared_redis(sender=_worker("recette"))

    [record] = caplog.records
    assert "the empty cache key prefix is claimed in this Redis by another deployment" in record.getMessage()
    assert "same cache keys" in record.getMessage()


def test_redis_unreachable_at_start_does_not_block_the_worker(settings, caplog):
    port = free_port()
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/7"  # nobody listens there
    started = time.monotonic()

    with caplog.at_level(logging.WARNING, logger="ecandidat.celery"):
        claim_the_shared_redis(sender=_worker("celery"))  # no exit, no exception

    assert time.monotonic() - started < 5
    [record] = caplog.records
    assert record.levelname == "WARNING"
    assert record.getMessage().startswith(f"Deployment claim not written: Redis 127.0.0.1:{port}/7 unreachable")


# --- check --deploy ------------------------------------------------------------------------------------------------


def test_the_check_runs_with_check_deploy_only():
    assert check_redis_deployment in registry.get_checks(include_deployment_checks=True)
    assert check_redis_deployment not in registry.get_checks(include_deployment_checks=False)


@pytest.mark.integration
def test_the_deploy_check_warns_when_another_deployment_claimed_the_queue_and_cache(
    production, deployment, claim_redis, monkeypatch
):
    claim_the_shared_redis(sender=_worker("celery"))  # production's worker
    production_label = deployment_label()
    _another_deployment(monkeypatch)  # the recette's check --deploy
    keys = set(claim_redis.keys("*"))

    warnings = check_redis_deployment(None)

    assert [(type(warning), warning.id) for warning in warnings] == [(Warning, "ecandidat.W008")] * 2
    queue, cache = (warning.msg for warning in warnings)
    assert queue.startswith(
        f"the Celery queue 'celery' is claimed in this Redis by another deployment ({production_label}"
    )
    assert cache.startswith(
        f"the empty cache key prefix is claimed in this Redis by another deployment ({production_label}"
    )
    assert f"this deployment is {deployment_label()}, identity " in queue
    assert deployment_label().endswith("/ecandidat_recette")
    assert "Set CELERY_QUEUE (and CACHE_KEY_PREFIX) to a name of its own" in warnings[0].hint
    assert set(claim_redis.keys("*")) == keys  # read only
    assert claim_redis.ttl(QUEUE_KEY) > CLAIM_TTL_SECONDS - 60


@pytest.mark.integration
def test_the_deploy_check_is_silent_for_its_own_claim_none_or_names_of_its_own(
    production, deployment, claim_redis, monkeypatch
):
    assert check_redis_deployment(None) == []  # no worker has started yet: nothing claimed, nothing written
    assert claim_redis.keys("*") == []
    claim_the_shared_redis(sender=_worker("celery"))
    assert check_redis_deployment(None) == []  # its own worker's claim

    _another_deployment(monkeypatch)
    deployment.CELERY_TASK_DEFAULT_QUEUE = deployment.CACHE_KEY_PREFIX = "recette"
    assert check_redis_deployment(None) == []


def test_the_deploy_check_is_silent_when_redis_does_not_answer(production, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/7"

    assert check_redis_deployment(None) == []


def test_the_deploy_check_is_silent_without_redis_as_in_ci(production, settings):
    settings.REDIS_URL = None

    assert check_redis_deployment(None) == []


@pytest.mark.integration
def test_check_deploy_as_ci_runs_it_passes_and_stops_on_another_deployments_claim(claim_redis):
    """.ci/run's ``check --deploy --fail-level WARNING`` (no REDIS_URL: nothing read), then the same environment on a
    Redis where another deployment's worker claimed the queue "celery" and the empty prefix, then this deployment's
    own claims. Before, all three printed the same."""
    secret = "k" + "".join(chr(ord("a") + n % 26) + str(n) for n in range(40))  # 50+ characters, many distinct
    env = {**PRODUCTION_ENV, "SECRET_KEY": secret, "CLAMD_ADDRESS": "none", "DEPLOYMENT_ID": "recette"}
    check = ("check", "--deploy", "--fail-level", "WARNING")
    other = json.dumps({"identity": "production", "label": "postgresql db.univ.fr:5432/ecandidat"})
    claim_redis.set(QUEUE_KEY, other, ex=CLAIM_TTL_SECONDS)
    claim_redis.set(CACHE_KEY, other, ex=CLAIM_TTL_SECONDS)

    as_ci = manage(*check, **env)
    shared = manage(*check, **env, REDIS_URL=CLAIM_REDIS_URL)
    claim_redis.set(QUEUE_KEY, json.dumps({"identity": "recette", "label": "DEPLOYMENT_ID"}))
    claim_redis.set(CACHE_KEY, json.dumps({"identity": "recette", "label": "DEPLOYMENT_ID"}))
    own = manage(*check, **env, REDIS_URL=CLAIM_REDIS_URL)

    assert as_ci.returncode == 0, as_ci.stderr
    assert shared.returncode == 1
    assert shared.stderr.count("ecandidat.W008") == 2
    assert "(postgresql db.univ.fr:5432/ecandidat, identity production" in shared.stderr
    assert "this deployment is DEPLOYMENT_ID, identity recette" in shared.stderr
    assert own.returncode == 0, own.stderr


# --- The systemd unit ----------------------------------------------------------------------------------------------


def _unit_values(path: Path) -> dict[str, list[str]]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    values: dict[str, list[str]] = {}
    for line in lines:
        if "=" in line and not line.startswith("["):
            key, value = line.split("=", 1)
            values.setdefault(key, []).append(value)
    return values


@pytest.mark.parametrize(
    ("unit", "queue"),
    [(WORKER_UNIT, "${CELERY_QUEUE}"), (LONG_WORKER_UNIT, "${CELERY_QUEUE}-long")],
    ids=["main", "long"],
)
def test_the_worker_units_name_the_node_after_their_queue_and_do_not_restart_a_refused_worker(unit, queue):
    values = _unit_values(unit)

    command = values["ExecStart"][0].split()
    assert command[command.index("-n") + 1] == f"worker-{queue}@%%h"
    # -Q, with the variable the settings read from the same environment: the main unit consumes CELERY_QUEUE only
    # (mails, scans, sweepers), the long unit CELERY_QUEUE-long only (packs, exports, releases: CELERY_TASK_ROUTES).
    # The main unit had no -Q: it consumed CELERY_QUEUE as Celery's default queue. Now that the settings route tasks
    # to a second queue, -Q says which queue each worker takes (and claims), whatever Celery's version does without it.
    assert command[command.index("-Q") + 1] == queue
    # The default queue's name when /etc/ecandidat/env leaves it unset (EnvironmentFile= overrides Environment=).
    assert "CELERY_QUEUE=celery" in values["Environment"]
    assert values["RestartPreventExitStatus"] == [str(CLAIM_REFUSED_EXIT_STATUS)]
    assert values["Restart"] == ["on-failure"]


# --- Real workers --------------------------------------------------------------------------------------------------


def _start_worker(
    tmp_path: Path, name: str, queue: str, deployment_id: str, *options: str
) -> tuple[subprocess.Popen, Path]:
    """A real worker of the deployment ``deployment_id`` with CELERY_QUEUE=``queue``, and ``options`` (-Q ...)."""
    env = {
        **{key: value for key, value in os.environ.items() if key not in {"CACHE_KEY_PREFIX", "DEPLOYMENT_ID"}},
        "DJANGO_SETTINGS_MODULE": "ecandidat.settings.base",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / (name + '.sqlite3')}",  # the worker reads no table at its start
        "REDIS_URL": CLAIM_REDIS_URL,
        "CELERY_QUEUE": queue,
        "DEPLOYMENT_ID": deployment_id,
        "LOG_LEVEL": "INFO",
    }
    log_path = tmp_path / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "celery", "-A", "ecandidat", "worker", "--pool=solo", "-l", "info"]
            + ["--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{name}-{queue}@%h", *options],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return process, log_path


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.integration
def test_real_workers_the_second_deployment_exits_and_the_first_keeps_consuming(claim_redis, tmp_path):
    queue = f"claim-{secrets.token_hex(4)}"
    production, production_log = _start_worker(tmp_path, "production", queue, "production")
    recette = restart = None
    try:
        wait_until(
            lambda: production.poll() is not None or " ready." in production_log.read_text(errors="replace"),
            timeout=60,
            message="production's worker to be ready",
        )
        assert production.poll() is None, production_log.read_text(errors="replace")
        assert _claim(claim_redis, f"ecandidat:deployment:queue:{queue}")["identity"] == "production"

        recette, recette_log = _start_worker(tmp_path, "recette", queue, "recette")
        assert recette.wait(timeout=60) == CLAIM_REFUSED_EXIT_STATUS
        log = recette_log.read_text(errors="replace")
        assert re.search(r" ERROR ecandidat\.celery Two deployments share the Redis 127\.0\.0\.1:\d+/7: ", log), log
        assert f"the Celery queue '{queue}' is claimed in this Redis by another deployment (DEPLOYMENT_ID, " in log
        assert "identity production" in log
        assert "identity recette" in log
        assert " ready." not in log  # it never consumed

        # A second worker of production itself (or production's restart) is accepted.
        restart, restart_log = _start_worker(tmp_path, "production2", queue, "production")
        wait_until(
            lambda: restart.poll() is not None or " ready." in restart_log.read_text(errors="replace"),
            timeout=60,
            message="production's second worker to be ready",
        )
        assert restart.poll() is None, restart_log.read_text(errors="replace")
        assert production.poll() is None
    finally:
        for process in (restart, recette, production):
            if process is not None:
                _stop(process)


def _ready(process: subprocess.Popen, log_path: Path, what: str) -> None:
    wait_until(
        lambda: process.poll() is not None or " ready." in log_path.read_text(errors="replace"),
        timeout=60,
        message=f"{what} to be ready",
    )
    assert process.poll() is None, log_path.read_text(errors="replace")


@pytest.mark.integration
def test_real_long_workers_claim_their_long_queue_and_two_deployments_long_queues_stay_apart(claim_redis, tmp_path):
    """The two units of one deployment (-Q CELERY_QUEUE, -Q CELERY_QUEUE-long) both start and claim their queue; a
    recette with its own CELERY_QUEUE has its own long queue and starts; a recette left on production's CELERY_QUEUE
    is refused on the long queue too (it would take production's packs)."""
    queue = f"claim-{secrets.token_hex(4)}"
    recette_queue = f"{queue}-recette"
    started = []
    try:
        for name, celery_queue, deployment_id in (
            ("production", queue, "production"),
            ("recette", recette_queue, "recette"),
        ):
            for what, consumed in (("main", celery_queue), ("long", f"{celery_queue}-long")):
                process, log = _start_worker(tmp_path, f"{name}-{what}", celery_queue, deployment_id, "-Q", consumed)
                started.append(process)
                _ready(process, log, f"{name}'s {what} worker")
                assert f".> {consumed} " in log.read_text(errors="replace")  # Celery's list of what it consumes

        for celery_queue, identity in ((queue, "production"), (recette_queue, "recette")):
            for consumed in (celery_queue, f"{celery_queue}-long"):
                assert _claim(claim_redis, f"ecandidat:deployment:queue:{consumed}")["identity"] == identity

        refused, refused_log = _start_worker(tmp_path, "recette-long2", queue, "recette", "-Q", f"{queue}-long")
        started.append(refused)
        assert refused.wait(timeout=60) == CLAIM_REFUSED_EXIT_STATUS
        log = refused_log.read_text(errors="replace")
        assert (
            f"the Celery queue '{queue}-long' is claimed in this Redis by another deployment (DEPLOYMENT_ID, " in log
        )
        assert " ready." not in log
        assert all(process.poll() is None for process in started[:4])
    finally:
        for process in reversed(started):
            _stop(process)
