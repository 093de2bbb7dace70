"""The Celery application: settings under the CELERY namespace, tasks discovered in each app's tasks.py."""

import functools
import gc
import logging
import os

from celery import Celery, signals
from celery.contrib.django.task import DjangoTask
from django.db import transaction
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecandidat.settings.dev")

logger = logging.getLogger(__name__)

# What a publish raises when the broker is unreachable (Celery wraps most of them in kombu's OperationalError).
BROKER_ERRORS = (KombuOperationalError, RedisError, OSError)


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
        try:
            self.apply_async(args, kwargs, **options)
        except BROKER_ERRORS as exc:
            logger.warning(
                "task %s%r not queued, left for its sweeper: broker unreachable (%s: %s)",
                self.name,
                tuple(args),
                type(exc).__name__,
                exc,
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
