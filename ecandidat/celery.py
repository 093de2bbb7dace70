"""The Celery application: settings under the CELERY namespace, tasks discovered in each app's tasks.py."""

import functools
import gc
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from time import monotonic
from urllib.parse import parse_qs, urlsplit

import redis
from celery import Celery, signals
from celery.contrib.django.task import DjangoTask
from django.conf import settings
from django.db import transaction
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from ecandidat.deployment import deployment_identity, deployment_label

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecandidat.settings.dev")

logger = logging.getLogger(__name__)

# What a publish raises when the broker is unreachable (Celery wraps most of them in kombu's OperationalError).
BROKER_ERRORS = (KombuOperationalError, RedisError, OSError)

# After a failed publish, this process leaves its next ones to the sweepers for this long instead of trying again:
# a broker that takes connections and never answers costs each publish its socket timeout (5 s), so a status change
# queueing three mails held its request 15 s, and every request that queued anything did the same while the broker
# was silent. The rows are in the database; the sweeper (every minute) sends them once the broker is back.
BROKER_REST_SECONDS = 30
_broker_failed_at: float | None = None


def publish_or_leave(publish: Callable[[], object], what: str) -> bool:
    """Run ``publish`` (a task handed to the broker) unless the broker failed in this process less than
    ``BROKER_REST_SECONDS`` ago; a broker error is logged after ``what`` (« mail 12 left for the sweeper »), never
    raised. Returns whether the task was handed over.

    The work is in the database either way (an outbox row, a scan to do), so skipping a publish delays it until the
    sweeper's next run and loses nothing. Tasks run in-process (``task_always_eager``: ``make run``, tests) have no
    broker to rest: every call publishes."""
    global _broker_failed_at
    eager = app.conf.task_always_eager
    if not eager and _broker_failed_at is not None and monotonic() - _broker_failed_at < BROKER_REST_SECONDS:
        logger.warning(
            "%s: the broker failed %.0f s ago, not tried again before %s s",
            what,
            monotonic() - _broker_failed_at,
            BROKER_REST_SECONDS,
        )
        return False
    try:
        publish()
    except BROKER_ERRORS as exc:
        if not eager:
            _broker_failed_at = monotonic()
        logger.warning("%s: broker unreachable (%s: %s)", what, type(exc).__name__, exc)
        return False
    _broker_failed_at = None
    return True


class Task(DjangoTask):
    """``DjangoTask`` whose ``delay_on_commit`` never turns a committed request into a 500 when the broker is down.

    Our tasks carry work whose state is in the database and that a sweeper picks up again (mails: the outbox's
    ``send_pending_mails``; antivirus scans: the nightly ``rescan_documents`` finds lost scans). So when the publish
    after the commit fails, one warning is logged and the request goes on (issue 9: Redis down is a degraded mode).
    """

    def delay_on_commit(self, *args, **kwargs) -> None:
        transaction.on_commit(functools.partial(self._publish_quietly, args, kwargs))

    def apply_async_on_commit(self, args=None, kwargs=None, **options) -> None:
        transaction.on_commit(functools.partial(self._publish_quietly, args or (), kwargs or {}, **options))

    def _publish_quietly(self, args, kwargs, **options) -> None:
        publish_or_leave(
            functools.partial(self.apply_async, args, kwargs, **options),
            f"task {self.name}{tuple(args)!r} not queued, left for its sweeper",
        )


app = Celery("ecandidat", task_cls="ecandidat.celery:Task")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def registered_task(name: str) -> Task:
    """The task registered as ``name``, for a module that its task's own module imports: ``applications.tasks``
    runs ``build_letter`` and ``run_release``, ``ecandidat.tasks`` runs ``deliver``; those modules queue the tasks
    by name, so that each import goes one way (tasks → the work they run). The apps' tasks modules are imported
    the first time a name is not registered yet in this process (a worker imports them when it starts)."""
    if name not in app.tasks:
        app.autodiscover_tasks(force=True)
    return app.tasks[name]


@signals.worker_process_init.connect
def freeze_what_the_process_inherited(**_kwargs) -> None:
    """Each pool process starts by freezing what it inherited from the worker's main process (Celery, Django, the
    apps): the cyclic collector leaves those objects out of its passes, as the web workers do (deploy/gunicorn.conf.py
    ``pre_fork``). A commission pack runs a full collection after each dossier (applications/packs.py); each now walks
    only what the task made (~5 ms instead of ~150 ms, issue 14)."""
    gc.freeze()


# --- One deployment per queue and per cache prefix on a shared Redis ------------------------------------------------
# Two deployments on one Redis (a "recette" beside production) that both leave CELERY_QUEUE and CACHE_KEY_PREFIX
# unset share the queue "celery" and every cache key: each worker took the other's tasks (a mail task of the other
# deployment finds no row in this database and returns "skipped": the mail waited for its sweeper) and the recette's
# maintenance switch put production on the maintenance page. Nothing said so. Each worker now claims, in that Redis,
# the queues it consumes and its deployment's cache prefix (a key holding ecandidat.deployment's identity and label),
# and refuses to start on a queue another deployment has claimed; ``check --deploy`` reads the same keys
# (ecandidat.checks.check_redis_deployment). A claim lives CLAIM_TTL_SECONDS after its worker's last refresh, so a
# deployment removed frees its names within a week.
CLAIM_KEY_PREFIX = "ecandidat:deployment"  # no kombu key starts so; cache keys are "<prefix>:<version number>:<key>"
CLAIM_TTL_SECONDS = 7 * 24 * 3600
CLAIM_REFRESH_SECONDS = 3600  # a worker running for weeks keeps its claims
# EX_CONFIG: deploy/ecandidat-worker.service's RestartPreventExitStatus, so systemd does not restart it in a loop.
CLAIM_REFUSED_EXIT_STATUS = 78


@dataclass(frozen=True)
class Claim:
    """A deployment's claim of one name (a queue, a cache prefix) in the shared Redis."""

    key: str
    what: str  # "the Celery queue 'celery'", "the cache key prefix '' (none)"
    identity: str
    label: str


def claim_keys(queues: Iterable[str], cache_prefix: str) -> dict[str, str]:
    """The keys a deployment consuming ``queues`` with ``cache_prefix`` claims, each with what it names."""
    keys = {f"{CLAIM_KEY_PREFIX}:queue:{queue}": f"the Celery queue '{queue}'" for queue in sorted(queues)}
    keys[f"{CLAIM_KEY_PREFIX}:cache:{cache_prefix}"] = (
        f"the cache key prefix '{cache_prefix}'" if cache_prefix else "the empty cache key prefix"
    )
    return keys


def claim_redis(url: str) -> redis.Redis:
    """A short-lived client of the shared Redis: a dead host costs 2 s, never a blocked start."""
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def _decoded(key: str, what: str, raw: bytes | str | None) -> Claim | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
        return Claim(key, what, str(value["identity"]), str(value.get("label", "")))
    except (ValueError, TypeError, KeyError):  # not ours to read: another deployment's, say so
        return Claim(key, what, "", "an unreadable claim")


def read_claims(client: redis.Redis, keys: dict[str, str]) -> list[Claim]:
    """The claims found under ``keys`` (read only); raises RedisError/OSError when Redis does not answer."""
    raws = client.mget(list(keys))
    return [claim for (key, what), raw in zip(keys.items(), raws, strict=True) if (claim := _decoded(key, what, raw))]


def claim_for_this_deployment(client: redis.Redis, keys: dict[str, str]) -> list[Claim]:
    """Claims each of ``keys`` for this deployment (SET NX, else refreshes it when it is already ours) and returns the
    claims found to be another deployment's, left as they are."""
    identity, label = deployment_identity(), deployment_label()
    mine = json.dumps({"identity": identity, "label": label})
    others = []
    for key, what in keys.items():
        if client.set(key, mine, nx=True, ex=CLAIM_TTL_SECONDS):
            continue
        found = _decoded(key, what, client.get(key))
        if found is None:  # expired between the two commands: claim it again
            client.set(key, mine, nx=True, ex=CLAIM_TTL_SECONDS)
        elif found.identity == identity:
            client.set(key, mine, xx=True, ex=CLAIM_TTL_SECONDS)  # refreshed (and the label as it is today)
        else:
            others.append(found)
    return others


def redis_address(url: str) -> str:
    """Where ``url`` points, without its credentials: host:port/db (or the socket's path)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    return f"{parts.hostname}:{parts.port or 6379}/{redis_database(url)}"


def redis_database(url: str) -> str:
    """The database number ``url`` selects (redis-cli's -n)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parse_qs(parts.query).get("db", ["0"])[0]
    return parts.path.lstrip("/") or "0"


def shared_with(claim: Claim) -> str:
    """The sentence naming another deployment's claim, for IT."""
    return (
        f"{claim.what} is claimed in this Redis by another deployment ({claim.label}, identity {claim.identity or '?'}"
        f", key {claim.key})"
    )


def _consumed_queues(worker) -> list[str]:
    return sorted(worker.app.amqp.queues.consume_from)


def _claim_at_start(worker, *, exit_on_conflict: bool) -> None:
    url = getattr(settings, "REDIS_URL", None)
    if not url:
        return  # no shared broker: nothing to claim
    keys = claim_keys(_consumed_queues(worker), settings.CACHE_KEY_PREFIX)
    client = claim_redis(url)
    try:
        others = claim_for_this_deployment(client, keys)
    except (RedisError, OSError) as exc:
        # As before: the worker starts and waits for its broker; the claims are written at the next refresh.
        logger.warning("Deployment claim not written: Redis %s unreachable (%s)", redis_address(url), exc)
        return
    finally:
        client.close()
    if not others:
        return
    taken = [claim for claim in others if claim.key.startswith(f"{CLAIM_KEY_PREFIX}:queue:")]
    refusing = exit_on_conflict and bool(taken)
    if refusing:
        consequence = "This worker refuses to start: consuming that queue would take the other deployment's tasks."
    elif taken:
        consequence = "Both deployments' workers consume that queue: each takes the other's tasks."
    else:
        consequence = "Both deployments read and write the same cache keys (maintenance switch, home message, limits)."
    logger.error(
        "Two deployments share the Redis %s: %s; this one is %s, identity %s. %s Set CELERY_QUEUE (and "
        "CACHE_KEY_PREFIX) to a name of its own in each deployment's environment (/etc/ecandidat/env), e.g. "
        "CELERY_QUEUE=recette, then restart its web, worker and beat services. If that other deployment no longer "
        "exists (or was this one before its database moved; set DEPLOYMENT_ID to keep it across a move), delete its "
        "claim: redis-cli -n %s DEL %s (a claim also expires %s days after its last worker stopped).",
        redis_address(url),
        "; ".join(shared_with(claim) for claim in others),
        deployment_label(),
        deployment_identity(),
        consequence,
        redis_database(url),
        " ".join(claim.key for claim in others),
        CLAIM_TTL_SECONDS // 86400,
    )
    if refusing:
        raise SystemExit(CLAIM_REFUSED_EXIT_STATUS)


@signals.worker_init.connect
def claim_the_shared_redis(sender=None, **_kwargs) -> None:
    """At a worker's start, once its queues are chosen and before it consumes: claims them and its deployment's cache
    prefix in the shared Redis; exits (CLAIM_REFUSED_EXIT_STATUS) when another deployment has claimed one of its
    queues. Only a cache prefix shared is logged without stopping: this worker takes nothing of the other's then.
    Redis unreachable: a warning, and the start goes on as before."""
    _claim_at_start(sender, exit_on_conflict=True)


@signals.worker_ready.connect
def refresh_the_claims_while_running(sender=None, **_kwargs) -> None:
    """Every CLAIM_REFRESH_SECONDS, the running worker refreshes its claims (a conflict found then is logged: the
    worker is already consuming, and the other deployment's worker was the one refused)."""
    worker = sender.controller
    sender.timer.call_repeatedly(CLAIM_REFRESH_SECONDS, _claim_at_start, (worker,), {"exit_on_conflict": False})
