"""The large exports with chosen columns, built in the background (« Exporter avec les colonnes choisies » above
``EXPORT_IN_REQUEST_MAX_ROWS`` applications): the export's page records an ``ExportJob`` (the list's filters and the
columns as posted) and queues its build after commit (``applications.tasks.build_export_job``); the job's page shows
its progress and, once ready, the link to the file, for its requester only (``applications.admin.export_columns``).
The list's plain « Exporter » does the same above that many rows, with its own columns
(``applications.admin.exports.plain_columns``).

An export in the request was cut by the web server's worker timeout (60 s: about 26,000 rows of XLSX on a fast
machine, far fewer on the reference one) with no progress, holding a worker for a minute at each try. Here the
build has its own time limits, as the commission packs' (``applications.packs``), which this follows: a conditional
claim PENDING → RUNNING, a progress stamp each ``PROGRESS_EVERY`` rows, a RUNNING job without progress for
``EXPORT_STALE_AFTER`` queued again by the beat sweeper (``requeue_stalled_exports``: its worker was killed) and
taken back by its claim, a PENDING one whose task was lost queued again by its page
(``applications.lost_tasks.requeue_if_lost``).

The rows are rebuilt at build time from the filters, within the requester's scope then: a right withdrawn since the
request leaves those applications out, a requester who may no longer read the list gets no file. Memory stays
bounded: the rows are read by chunks (``applications.export_columns.export_rows``), written one at a time into a
temporary file (the CSV line by line, the XLSX with openpyxl's write-only mode), which is then copied to the storage.

The jobs older than ``EXPORT_RETENTION`` are deleted, row and file (``prune_export_jobs``): by each new request and
by the nightly batches; those holding a dossier deleted sooner go with it (``exports_holding``: a campaign's
destruction).
"""

from __future__ import annotations

import datetime
import json
import logging
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Any, cast

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import NotSupportedError
from django.db.models import BooleanField, F, Func, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from applications.lost_tasks import never_started, requeue_if_lost, requeue_if_stalled, stopped
from applications.models import ExportJob
from applications.tasks import build_export_job
from documents.storage import delete_file_on_commit

logger = logging.getLogger(__name__)

EXPORT_RETENTION = datetime.timedelta(days=2)
PROGRESS_EVERY = 500  # rows written between two progress stamps (about a second)
# A RUNNING job without progress for this long has lost its worker: the beat sweeper queues its build again
# (``requeue_stalled_exports``). Well above the time between two progress stamps, so that a live build is not taken
# over; should one be, its next write finds the stamp changed and it stops (``ExportTakenOver``).
EXPORT_STALE_AFTER = datetime.timedelta(minutes=10)
EXPORT_REQUEUE_AFTER = datetime.timedelta(minutes=3)
EXPORT_NEVER_STARTED_AFTER = datetime.timedelta(minutes=30)


def in_request_max_rows() -> int:
    """Above this many applications, the export runs in the background (setting ``EXPORT_IN_REQUEST_MAX_ROWS``,
    2,000 by default: what a request writes well within the worker timeout on the reference machine, XLSX about
    4 ms a row there)."""
    return settings.EXPORT_IN_REQUEST_MAX_ROWS


class ExportTakenOver(Exception):
    """This build's claim was taken back by another delivery of the task: it stops, keeping nothing."""


class ExportRefused(Exception):
    """The requester may no longer read the applications list: the job fails without a file."""


def request_export(*, actor: User, filters: str, columns: list[str], fmt: str, total: int) -> ExportJob:
    """Record the export of the list filtered by ``filters`` (its query string) with ``columns`` in ``fmt`` and queue
    its build after commit; ``total`` is the count the page saw (the build counts again). Side effects: deletes the
    jobs past ``EXPORT_RETENTION``."""
    prune_export_jobs()
    job = ExportJob.objects.create(
        requested_by=actor,
        filters=filters,
        columns=columns,
        fmt=ExportJob.Format(fmt),
        total=total,
        language=translation.get_language() or settings.LANGUAGE_CODE,
    )
    build_export_job.delay_on_commit(job.pk)
    return job


def requeue_lost_export(job: ExportJob, *, now: datetime.datetime | None = None) -> bool:
    """Queue the build again when the job is still PENDING ``EXPORT_REQUEUE_AFTER`` after it was asked for (its task
    never reached the broker); see ``applications.lost_tasks.requeue_if_lost``."""
    return requeue_if_lost(
        cast("Any", job),
        task=build_export_job,
        requeue_after=EXPORT_REQUEUE_AFTER,
        never_started_after=EXPORT_NEVER_STARTED_AFTER,
        now=now,
    )


def requeue_stalled_exports(*, now: datetime.datetime | None = None) -> int:
    """Queue the build again for every RUNNING job without progress for ``EXPORT_STALE_AFTER`` (its worker was
    killed) asked for less than ``STALLED_RETAKEN_WITHIN`` ago; how many were (the beat sweeper,
    ``applications.lost_tasks.requeue_if_stalled``). Its claim takes it back and builds it from the start."""
    return requeue_if_stalled(ExportJob, task=build_export_job, stale_after=EXPORT_STALE_AFTER, now=now)


def is_stalled(job: ExportJob, *, now: datetime.datetime | None = None) -> bool:
    """A RUNNING job without progress for ``EXPORT_STALE_AFTER`` and ``SWEEP_GRACE`` more (the sweeper did not take
    it back), or a PENDING one never started: its page shows it failed (« relancez la demande ») rather than being
    built for ever."""
    now = now or timezone.now()
    if job.status == ExportJob.Status.PENDING:
        return never_started(cast("Any", job), after=EXPORT_NEVER_STARTED_AFTER, now=now)
    return stopped(job, stale_after=EXPORT_STALE_AFTER, now=now)


def _claim(job_id: int) -> datetime.datetime | None:
    """Claim the job by a conditional update: PENDING → RUNNING, or a RUNNING job stalled past
    ``EXPORT_STALE_AFTER`` taken back from the start (its worker was killed). The delivery that follows the kill at
    once (the task is acknowledged late) finds the job's progress fresh and does nothing: the one that takes it back
    is the beat sweeper's (``requeue_stalled_exports``). Returns the claim's progress stamp, None when there is
    nothing to do (built, failed, or being built)."""
    now = timezone.now()
    claimable = Q(status=ExportJob.Status.PENDING) | Q(
        status=ExportJob.Status.RUNNING, progress_at__lt=now - EXPORT_STALE_AFTER
    )
    claimed = ExportJob.objects.filter(claimable, pk=job_id).update(
        status=ExportJob.Status.RUNNING, done=0, progress_at=now
    )
    return now if claimed else None


def _mine(job: ExportJob):
    return ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING, progress_at=job.progress_at)


def _progress(job: ExportJob, **values: Any) -> None:
    now = timezone.now()
    if not _mine(job).update(progress_at=now, **values):
        raise ExportTakenOver
    job.progress_at = now


def _counted(job: ExportJob, rows: Iterable[list[Any]]) -> Iterator[list[Any]]:
    """The rows, recording the progress every ``PROGRESS_EVERY`` of them; ``job.done`` ends as their number."""
    done = 0
    for row in rows:
        yield row
        done += 1
        if done % PROGRESS_EVERY == 0:
            _progress(job, done=done)
    job.done = done


def build_export(job_id: int) -> None:
    """Build the file of a claimed job within its requester's scope now; store it and mark the job ready. Any
    failure marks it failed with its reason (no partial file is kept)."""
    claimed_at = _claim(job_id)
    if claimed_at is None:
        return
    job = ExportJob.objects.select_related("requested_by").filter(pk=job_id).first()
    if job is None:  # deleted since the claim (a « Suppression CNIL » deletes every kept export)
        return
    job.progress_at = claimed_at
    stored = ""
    try:
        with translation.override(job.language or settings.LANGUAGE_CODE):
            spool, size, application_ids = _write(job)
        with spool:
            stored = default_storage.save(f"exports/{job.public_id}.{job.fmt}", File(spool))
        if not _mine(job).update(
            status=ExportJob.Status.DONE,
            file=stored,
            size=size,
            application_ids=application_ids,
            done=job.done,
            total=job.done,
            finished_at=timezone.now(),
        ):
            raise ExportTakenOver
    except ExportTakenOver:
        logger.warning("export %s: taken over by another build, this one stops", job.public_id)
        if stored:
            default_storage.delete(stored)
    except ExportRefused as error:
        logger.warning("export %s refused: %s", job.public_id, error)
        _mine(job).update(status=ExportJob.Status.FAILED, error=str(error)[:300], finished_at=timezone.now())
    except Exception as error:
        logger.exception("export %s failed", job.public_id)
        if stored:
            default_storage.delete(stored)
        _mine(job).update(status=ExportJob.Status.FAILED, error=str(error)[:300], finished_at=timezone.now())
        raise


def _write(job: ExportJob) -> tuple[IO[bytes], int, list[int]]:
    """The job's file in a temporary file (open, at its start), its size and the applications it holds (read in
    the query that counted them: the file is handed out only while they stay in the requester's scope)."""
    # The admin's list and its filters (a higher part of this app, read only here, at build time).
    from applications.admin.export_columns import scoped_queryset  # noqa: PLC0415
    from applications.export_columns import available_columns, export_rows, headers, stream_csv, write_xlsx  # noqa: PLC0415

    queryset = scoped_queryset(job.requested_by, job.filters)
    if queryset is None:
        raise ExportRefused("the requester may no longer read the applications")
    # In the order asked for (the plain export's, « Exporter », is not the chooser's), less the columns no longer
    # offered.
    offered = available_columns()
    keys = [key for key in dict.fromkeys(job.columns) if key in offered]
    if not keys:
        raise ExportRefused("none of the chosen columns is offered any more")
    application_ids = list(queryset.order_by().values_list("pk", flat=True))
    _progress(job, total=len(application_ids))
    rows = _counted(job, export_rows(queryset, keys, list_order=True))  # in the list's sort, as on the screen
    spool: IO[bytes]
    if job.fmt == ExportJob.Format.CSV:
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - returned open: the caller stores then closes it
        for line in stream_csv(headers(keys), rows):
            spool.write(line.encode("utf-8"))
    else:
        spool = write_xlsx(headers(keys), rows, title=_("Applications"))
    spool.seek(0, 2)
    size = spool.tell()
    spool.seek(0)
    return spool, size, application_ids


class _HoldsAny(Func):
    """Whether the JSON list of ids ``field`` holds one of ``ids``, searched by the database: one query, whatever the
    number of jobs, and no job's list read back (an export of 100,000 applications records as many ids). Each list
    is read once against a hashed set of the ids: PostgreSQL hashes ``= ANY`` of a constant array (a job of 100,000
    applications against a chunk's 2,000 in 0.1 s; the same ids as a JSON subquery were joined by a nested loop,
    150 s), SQLite indexes ``IN`` of a subquery. PostgreSQL (``jsonb``) and SQLite (JSON text, the tests' and a
    newcomer's database) only, the databases this project runs on."""

    output_field = BooleanField()

    def __init__(self, field: str, ids: Iterable[int]) -> None:
        super().__init__(F(field))
        self.ids = sorted(set(ids))

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, tuple[Any, ...]]:
        raise NotSupportedError(f"exports_holding does not support {connection.vendor}")

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, tuple[Any, ...]]:
        (field,) = self.get_source_expressions()
        field_sql, field_params = compiler.compile(field)
        # Only compiled SQL is interpolated (the column): the ids are a parameter.
        sql = (
            f"EXISTS (SELECT 1 FROM jsonb_array_elements_text({field_sql}) AS held(id) "  # noqa: S608
            "WHERE held.id::bigint = ANY(%s::bigint[]))"
        )
        return sql, (*field_params, self.ids)

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, tuple[Any, ...]]:
        (field,) = self.get_source_expressions()
        field_sql, field_params = compiler.compile(field)
        sql = (
            f"EXISTS (SELECT 1 FROM json_each({field_sql}) AS held "  # noqa: S608
            "WHERE held.value IN (SELECT value FROM json_each(%s)))"
        )
        return sql, (*field_params, json.dumps(self.ids))


def exports_holding(application_ids: Iterable[int]) -> QuerySet[ExportJob]:
    """The jobs whose file holds one of these applications (their ``application_ids``, recorded at the build),
    selected by the database in one query whatever their number; none for no application. Used by the deletion of
    dossiers (a campaign's destruction): their exports go with them. A job not built yet records none: its build
    reads the rows then, and its page refuses a file holding an application deleted since
    (``applications.admin.export_columns``)."""
    ids = set(application_ids)
    if not ids:
        return ExportJob.objects.none()
    return ExportJob.objects.filter(_HoldsAny("application_ids", ids))


def prune_export_jobs(*, now: datetime.datetime | None = None, dry_run: bool = False) -> int:
    """Delete the jobs (rows and files) older than ``EXPORT_RETENTION``: the row now, its file once the transaction
    commits (``delete_file_on_commit``); how many there were. ``dry_run`` deletes nothing."""
    limit = (now or timezone.now()) - EXPORT_RETENTION
    old = list(ExportJob.objects.filter(created_at__lt=limit))
    if dry_run:
        return len(old)
    for job in old:
        name = job.file.name
        job.delete()
        if name:
            delete_file_on_commit(name)
    if old:
        logger.info("%d export(s) older than %s deleted", len(old), EXPORT_RETENTION)
    return len(old)
