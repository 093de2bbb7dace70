"""The Celery application: settings under the CELERY namespace, tasks discovered in each app's tasks.py."""

import functools
import gc
import logging
import os
from collections.abc import Callable
from time import monotonic

from celery import Celery, signals
from celery.contrib.django.task import DjangoTask
from django.db import transaction
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

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
