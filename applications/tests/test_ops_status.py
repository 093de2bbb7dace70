"""``manage.py ops_status`` (applications/management/commands/ops_status.py): what the operations team's monitoring
polls.

The review: 1,200 mails pending for 3 hours and 20 tasks on a queue nobody consumed, and ``/healthz`` said "ok", the
dry run of ``send_pending_mails`` said "due: 500", and nothing said a nightly run was missing. Each signal here moves
the exit status past its threshold (Nagios: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), and moves it back under a
threshold given as an option, so that none can be a constant. The queue depths are read from a real Redis
(integration marker); a Redis that does not answer needs none.
"""

import datetime
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from io import StringIO

import pytest
import redis
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.utils import timezone

from applications.export_jobs import EXPORT_NEVER_STARTED_AFTER, EXPORT_STALE_AFTER
from applications.lost_tasks import SWEEP_GRACE
from applications.models import CommissionPack, ExportJob, ReleaseJob
from applications.packs import PACK_NEVER_STARTED_AFTER, PACK_STALE_AFTER
from applications.services.release import RELEASE_NEVER_STARTED_AFTER, RELEASE_STALE_AFTER
from ecandidat.batches import NIGHTLY, STALE_BEATS
from ecandidat.models import BatchRun, OutboundEmail
from ecandidat.tests.plugins.services import free_port

NOW = datetime.datetime(2027, 3, 10, 8, 0, tzinfo=datetime.UTC)  # 09:00 in Paris
MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
OUTBOX_STATUS = OutboundEmail.Status


def ops_status(*args) -> tuple[int, str]:
    """The command's exit status (what the monitoring system reads) and its output."""
    out = StringIO()
    try:
        call_command("ops_status", *args, stdout=out)
    except SystemExit as exc:  # the command exits only to say WARNING or CRITICAL
        status = exc.code
        assert status in (1, 2), status
    else:
        status = 0
    return status, out.getvalue()


def ops_json(*args) -> tuple[int, dict]:
    status, out = ops_status("--json", *args)
    return status, json.loads(out)


def line(out: str, check: str) -> str:
    """The line of ``check`` (``outbox``, ``queues``, ``nightly``, ``jobs``)."""
    (found,) = [text for text in out.splitlines()[1:] if text.split(maxsplit=1)[1].startswith(f"{check}:")]
    return found


def mails(count: int, *, status: str = OUTBOX_STATUS.PENDING, **fields) -> None:
    """``count`` outbox rows, written as they are at that point of their life (the tests' clock is frozen)."""
    defaults = {"next_attempt_at": timezone.now()}
    if status == OUTBOX_STATUS.SENT:
        defaults["sent_at"] = timezone.now()
    if status == OUTBOX_STATUS.SENDING:
        defaults["lease_until"] = timezone.now() + MINUTE
    rows = [
        OutboundEmail(
            code="OPS_CHECK",
            language="fr",
            to=f"c{index}@example.org",
            subject="s",
            body="b",
            status=status,
            **{**defaults, **fields},
        )
        for index in range(count)
    ]
    OutboundEmail.objects.bulk_create(rows)


def nightly(*, started_ago: datetime.timedelta, dry_run: bool = False, **fields) -> BatchRun:
    run = BatchRun.objects.create(name=NIGHTLY, dry_run=dry_run, status=fields.pop("status", BatchRun.Status.FINISH))
    started = timezone.now() - started_ago
    values = {"started_at": started, "heartbeat_at": started, "finished_at": started + HOUR, **fields}
    BatchRun.objects.filter(pk=run.pk).update(**values)
    return run


def job(model, user, *, asked_ago: datetime.timedelta, status: str, progress_ago: datetime.timedelta | None = None):
    extra = {"columns": ["numero_dossier"]} if model is ExportJob else {"application_ids": []}
    row = model.objects.create(requested_by=user, status=status, **extra)
    progress = None if progress_ago is None else timezone.now() - progress_ago
    model.objects.filter(pk=row.pk).update(created_at=timezone.now() - asked_ago, progress_at=progress)
    return row


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def no_redis(settings):
    """Tasks in-process (REDIS_URL unset): no queue to read, whatever the environment of the test run."""
    settings.REDIS_URL = ""


@pytest.fixture
def calm(db, frozen, no_redis):
    """A night that went well: the nightly finished, started 10 hours ago; nothing waits."""
    nightly(started_ago=10 * HOUR)


# --- the whole report --------------------------------------------------------------------------------------------


def test_a_calm_day_is_ok_with_exit_status_zero_and_one_line_per_check(calm):
    mails(3, status=OUTBOX_STATUS.SENT)

    status, out = ops_status()

    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("ECANDIDAT OK - every check within its thresholds | ")
    assert "mail_oldest_due=0s;900;3600;0" in lines[0]
    assert [text.split()[:2] for text in lines[1:]] == [
        ["OK", "outbox:"],
        ["OK", "queues:"],
        ["OK", "nightly:"],
        ["OK", "jobs:"],
    ]
    assert "0 pending, 0 sending, 3 sent, 0 failed, 0 cancelled; none due" in line(out, "outbox")
    assert "no Redis (REDIS_URL unset)" in line(out, "queues")
    assert "10 h 00 min ago: finished" in line(out, "nightly")


def test_the_review_s_backlog_is_critical_and_says_how_many_and_for_how_long(calm):
    # 1,200 mails pending for 3 hours: /healthz said "ok" and the dry run "due: 500".
    mails(1200, next_attempt_at=timezone.now() - 3 * HOUR)

    status, out = ops_status()

    assert status == 2
    assert out.startswith("ECANDIDAT CRITICAL - oldest mail due for 3 h 00 min (more than 1 h 00 min) | ")
    assert line(out, "outbox").startswith("CRITICAL outbox: 1,200 pending")
    assert "1,200 due, the oldest for 3 h 00 min" in line(out, "outbox")


# --- the outbox ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("due_for", "options", "expected"),
    [
        (10 * MINUTE, [], 0),
        (20 * MINUTE, [], 1),
        (90 * MINUTE, [], 2),
        (20 * MINUTE, ["--mail-age-warning", "30"], 0),
        (90 * MINUTE, ["--mail-age-critical", "120"], 1),
        (10 * MINUTE, ["--mail-age-warning", "5", "--mail-age-critical", "8"], 2),
    ],
)
def test_the_oldest_mail_due_moves_the_exit_status_past_its_thresholds(calm, due_for, options, expected):
    mails(1, next_attempt_at=timezone.now() - due_for)
    mails(5)  # just queued: due now, not late

    status, report = ops_json(*options)

    assert status == expected == report["exit_status"]
    assert report["checks"]["outbox"]["oldest_due_seconds"] == due_for.total_seconds()
    assert report["checks"]["outbox"]["due"] == 6
    assert report["checks"]["outbox"]["status"] == ["ok", "warning", "critical"][expected]


def test_a_mail_whose_sender_died_is_due_since_its_lease_ended(calm):
    mails(1, status=OUTBOX_STATUS.SENDING, lease_until=timezone.now() - 25 * MINUTE)
    mails(1, status=OUTBOX_STATUS.SENDING)  # being sent: its lease runs

    status, report = ops_json()

    assert status == 1
    outbox = report["checks"]["outbox"]
    assert (outbox["due"], outbox["oldest_due_seconds"]) == (1, 25 * 60)
    assert outbox["counts"]["sending"] == 2


def test_mails_waiting_for_a_retry_are_not_late_but_counted_and_failures_of_the_last_hour_too(calm):
    # The SMTP server refused them: their next attempt is later (back-off), so nothing is late for the sweeper.
    mails(4, attempts=2, next_attempt_at=timezone.now() + 10 * MINUTE, last_error="SMTPServerDisconnected")
    mails(2, status=OUTBOX_STATUS.FAILED, next_attempt_at=timezone.now() - 10 * MINUTE)
    mails(3, status=OUTBOX_STATUS.FAILED, next_attempt_at=timezone.now() - 2 * HOUR)
    mails(1, status=OUTBOX_STATUS.CANCELLED)

    status, out = ops_status()

    assert status == 0
    assert line(out, "outbox") == (
        "OK       outbox: 4 pending, 0 sending, 0 sent, 5 failed, 1 cancelled; none due; 2 failed in the last hour; "
        "4 waiting for a retry"
    )


# --- the nightly run -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("started_ago", "options", "expected"),
    [
        (20 * HOUR, [], 0),
        (30 * HOUR, [], 1),
        (60 * HOUR, [], 2),
        (30 * HOUR, ["--nightly-warning", "36"], 0),
        (60 * HOUR, ["--nightly-critical", "72"], 1),
        (20 * HOUR, ["--nightly-warning", "12", "--nightly-critical", "18"], 2),
    ],
)
def test_the_age_of_the_last_nightly_run_moves_the_exit_status(db, frozen, no_redis, started_ago, options, expected):
    nightly(started_ago=started_ago)
    nightly(started_ago=HOUR, dry_run=True)  # a dry run by hand does none of the night's work

    status, report = ops_json(*options)

    assert status == expected
    assert report["checks"]["nightly"]["age_seconds"] == started_ago.total_seconds()
    assert report["checks"]["nightly"]["last_run"]["result"] == "finished"


def test_no_nightly_run_ever_is_critical(db, frozen, no_redis):
    nightly(started_ago=HOUR, dry_run=True)
    BatchRun.objects.create(name="prune_outbox", status=BatchRun.Status.FINISH)  # a batch run alone is not the night

    status, out = ops_status()

    assert status == 2
    assert line(out, "nightly") == (
        "CRITICAL nightly: no run of `manage.py nightly` recorded: cron has not run it here (deploy/crontab)"
    )


def test_a_nightly_run_ended_in_error_warns_and_names_the_failed_batches(db, frozen, no_redis):
    nightly(
        started_ago=10 * HOUR,
        status=BatchRun.Status.ERROR,
        errors="Archivage de campagne (archive_campaigns)\nDéversement OPI (transfer_opi)",
    )

    status, out = ops_status()

    assert status == 1
    assert out.startswith("ECANDIDAT WARNING - last nightly run ended in error | ")
    assert line(out, "nightly").endswith(
        "10 h 00 min ago: ended in error (failed: archive_campaigns, transfer_opi; see the batch history)"
    )


def test_a_running_nightly_is_ok_while_it_beats_and_warns_once_its_heartbeat_stopped(db, frozen, no_redis):
    beats = datetime.timedelta(seconds=settings.BATCH_HEARTBEAT_SECONDS * STALE_BEATS)
    run = nightly(started_ago=2 * HOUR, status=BatchRun.Status.RUNNING, finished_at=None)
    BatchRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - beats + MINUTE)

    assert ops_status()[0] == 0

    BatchRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - beats - MINUTE)
    status, report = ops_json()
    assert status == 1
    assert report["checks"]["nightly"]["last_run"]["result"] == "died"


# --- the background jobs ---------------------------------------------------------------------------------------------

KINDS = [
    ("packs", CommissionPack, PACK_STALE_AFTER, PACK_NEVER_STARTED_AFTER),
    ("exports", ExportJob, EXPORT_STALE_AFTER, EXPORT_NEVER_STARTED_AFTER),
    ("releases", ReleaseJob, RELEASE_STALE_AFTER, RELEASE_NEVER_STARTED_AFTER),
]


@pytest.mark.parametrize(("kind", "model", "stale_after", "never_started_after"), KINDS)
def test_a_job_is_stuck_exactly_when_its_page_shows_it_stopped_or_never_started(
    calm, centre_manager, kind, model, stale_after, never_started_after
):
    # Just inside each window: not stuck (its sweeper may still take it back, its task may still come).
    RUNNING, PENDING = model.Status.RUNNING, model.Status.PENDING
    job(model, centre_manager, asked_ago=HOUR, status=RUNNING, progress_ago=stale_after + SWEEP_GRACE - MINUTE)
    job(model, centre_manager, asked_ago=never_started_after - MINUTE, status=PENDING)

    status, report = ops_json()
    assert status == 0
    assert report["checks"]["jobs"]["kinds"][kind] == {"running": 1, "waiting": 1, "stopped": 0, "never_started": 0}

    # Just past them: its page says it stopped, or never started.
    job(model, centre_manager, asked_ago=HOUR, status=RUNNING, progress_ago=stale_after + SWEEP_GRACE + MINUTE)
    job(model, centre_manager, asked_ago=never_started_after + MINUTE, status=PENDING)

    status, out = ops_status()
    assert status == 1
    assert out.startswith("ECANDIDAT WARNING - 2 background job(s) stuck (more than 0) | ")
    assert f"{kind} 2 running, 2 waiting, 1 stopped, 1 never started" in line(out, "jobs")


def test_stuck_jobs_past_the_critical_threshold_are_critical_and_the_thresholds_are_options(calm, centre_manager):
    for _ in range(3):
        job(ExportJob, centre_manager, asked_ago=HOUR, status=ExportJob.Status.PENDING)

    assert ops_status()[0] == 2
    assert ops_status("--stuck-critical", "3")[0] == 1
    assert ops_status("--stuck-warning", "3", "--stuck-critical", "3")[0] == 0


def test_only_the_jobs_asked_for_within_the_window_count(calm, centre_manager):
    # Never started, shown failed to its requester two days ago; releases are never pruned.
    job(ReleaseJob, centre_manager, asked_ago=48 * HOUR, status=ReleaseJob.Status.PENDING)

    assert ops_status()[0] == 0
    status, report = ops_json("--jobs-window", "72")
    assert status == 1
    assert report["checks"]["jobs"]["stuck"] == 1


# --- Redis ---------------------------------------------------------------------------------------------------------


def test_a_redis_that_refuses_the_connection_is_critical_in_words(calm, settings):
    settings.REDIS_URL = f"redis://:s3cret@127.0.0.1:{free_port()}/0"

    status, out = ops_status()

    assert status == 2
    assert "Traceback" not in out
    assert "s3cret" not in out
    assert out.startswith("ECANDIDAT CRITICAL - Redis at 127.0.0.1:")
    assert line(out, "queues").startswith("CRITICAL queues: could not read the queues in Redis at 127.0.0.1:")
    assert "(ConnectionError: " in line(out, "queues")
    assert "queue_celery=U;500;5000;0" in out.splitlines()[0]


def test_a_redis_that_never_answers_costs_about_a_second_not_a_hang(db, no_redis, settings):
    nightly(started_ago=HOUR)
    with socket.socket() as silent:  # takes connections (the kernel's backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings.REDIS_URL = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        started = time.monotonic()
        status, report = ops_json()
        elapsed = time.monotonic() - started

    assert status == 2
    assert report["checks"]["queues"]["error"].startswith("TimeoutError")
    assert elapsed < 3


@pytest.fixture
def real_redis(settings):
    """The test run's Redis (REDIS_URL), with queues of this test's own: nothing else there is read or emptied."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.fail(
            "This integration test reads queues in a real Redis: set REDIS_URL (e.g. redis://127.0.0.1:6379/7)."
        )
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    settings.REDIS_URL = url
    settings.CELERY_TASK_DEFAULT_QUEUE = f"ops-{uuid.uuid4().hex[:8]}"
    settings.CELERY_LONG_QUEUE = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-long"
    yield client
    client.delete(settings.CELERY_TASK_DEFAULT_QUEUE, settings.CELERY_LONG_QUEUE)
    client.close()


@pytest.mark.integration
def test_the_depths_of_both_queues_are_read_in_redis_and_move_the_exit_status(db, frozen, real_redis):
    nightly(started_ago=HOUR)
    main, long = settings.CELERY_TASK_DEFAULT_QUEUE, settings.CELERY_LONG_QUEUE
    real_redis.lpush(long, *[f"task {index}" for index in range(20)])  # the review's queue that no worker consumed
    real_redis.lpush(main, "task")

    status, out = ops_status()
    assert status == 0
    assert line(out, "queues").startswith(f"OK       queues: tasks waiting for a worker: {main} 1, {long} 20 (Redis ")
    assert f"queue_{long}=20;500;5000;0" in out.splitlines()[0]

    status, report = ops_json("--queue-warning", "10")
    assert status == 1
    assert report["checks"]["queues"]["depths"] == {main: 1, long: 20}
    assert report["problems"] == [f"queue {long}: 20 tasks waiting (more than 10)"]

    assert ops_status("--queue-warning", "10", "--queue-critical", "19")[0] == 2
    assert ops_status("--queue-warning", "0", "--queue-critical", "19")[0] == 2
    real_redis.delete(long)
    assert ops_status("--queue-warning", "0", "--queue-critical", "19")[0] == 1  # the main queue's one task
    real_redis.delete(main)
    assert ops_status("--queue-warning", "0", "--queue-critical", "19")[0] == 0

    real_redis.set(main, "not a queue")  # a key of another kind under the queue's name: Redis answers an error
    status, report = ops_json()
    assert status == 2
    assert report["problems"] == [f"Redis at {report['checks']['queues']['redis']} answered with an error"]
    assert report["checks"]["queues"]["error"].startswith("ResponseError: ")
    assert "WRONGTYPE" in report["checks"]["queues"]["error"]


# --- the JSON, the queries, the database -----------------------------------------------------------------------------


def test_the_json_report_has_the_same_exit_status_and_a_fixed_shape(calm, centre_manager):
    mails(2, next_attempt_at=timezone.now() - 20 * MINUTE)
    job(CommissionPack, centre_manager, asked_ago=HOUR, status=CommissionPack.Status.PENDING)

    status, report = ops_json()

    assert status == report["exit_status"] == 1
    assert report["status"] == "warning"
    assert report["checked_at"] == "2027-03-10T09:00:00+01:00"  # TIME_ZONE's offset
    assert report["problems"] == [
        "oldest mail due for 20 min (more than 15 min)",
        "1 background job(s) stuck (more than 0)",
    ]
    checks = report["checks"]
    assert list(checks) == ["outbox", "queues", "nightly", "jobs"]
    assert checks["outbox"] == {
        "status": "warning",
        "problems": ["oldest mail due for 20 min (more than 15 min)"],
        "text": checks["outbox"]["text"],
        "counts": {"pending": 2, "sending": 0, "sent": 0, "failed": 0, "cancelled": 0},
        "due": 2,
        "oldest_due_since": "2027-03-10T08:40:00+01:00",
        "oldest_due_seconds": 1200,
        "failed_last_hour": 0,
        "retrying": 0,
        "thresholds_seconds": {"warning": 900, "critical": 3600},
    }
    assert checks["queues"] == {
        "status": "ok",
        "problems": [],
        "text": checks["queues"]["text"],
        "redis": None,
        "depths": None,
        "error": None,
        "thresholds": {"warning": 500, "critical": 5000},
    }
    assert checks["nightly"]["last_run"] == {
        "started_at": "2027-03-09T23:00:00+01:00",
        "finished_at": "2027-03-10T00:00:00+01:00",
        "last_sign_of_life": "2027-03-09T23:00:00+01:00",
        "result": "finished",
        "failed_batches": [],
    }
    assert (checks["nightly"]["status"], checks["nightly"]["age_seconds"]) == ("ok", 36000)
    assert checks["jobs"]["status"] == "warning"
    assert checks["jobs"]["stuck"] == 1
    assert checks["jobs"]["window_hours"] == 24
    assert checks["jobs"]["kinds"]["packs"] == {"running": 0, "waiting": 1, "stopped": 0, "never_started": 1}


@pytest.mark.parametrize("rows", [0, 300])
def test_six_queries_whatever_the_number_of_mails_and_jobs(calm, centre_manager, django_assert_num_queries, rows):
    for status in (OUTBOX_STATUS.PENDING, OUTBOX_STATUS.SENT, OUTBOX_STATUS.FAILED):
        mails(rows, status=status, next_attempt_at=timezone.now() - 20 * MINUTE)
    for model in (CommissionPack, ExportJob, ReleaseJob):
        for _ in range(rows // 100):
            job(model, centre_manager, asked_ago=HOUR, status=model.Status.PENDING)

    with django_assert_num_queries(6):
        status, report = ops_json()

    assert report["checks"]["outbox"]["due"] == rows
    assert report["checks"]["jobs"]["stuck"] == 3 * (rows // 100)
    assert status == (2 if rows else 0)


def test_a_database_that_fails_is_critical_in_words_on_each_line_that_reads_it(calm):
    def refuse(execute, sql, params, many, context):
        raise OperationalError("server closed the connection unexpectedly")

    with connection.execute_wrapper(refuse):
        status, out = ops_status()

    assert status == 2
    assert "Traceback" not in out
    assert out.splitlines()[0] == (
        "ECANDIDAT CRITICAL - the outbox unreadable (database error); the batch history unreadable (database "
        "error); the background jobs unreadable (database error)"
    )
    assert line(out, "outbox") == (
        "CRITICAL outbox: could not read the outbox (OperationalError: server closed the connection unexpectedly)"
    )
    assert line(out, "queues").startswith("OK       queues:")


# --- the options -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        ["--queue-warning", "many"],
        ["--mail-age-warning", "-1"],
        ["--nightly-critical", "nan"],
        ["--stuck-warning", "3", "--stuck-critical", "1"],
    ],
)
def test_an_option_refused_is_unknown_exit_status_three(db, no_redis, options):
    with pytest.raises(CommandError) as refused:
        call_command("ops_status", *options, stdout=StringIO())

    assert refused.value.returncode == 3


def test_from_the_command_line_the_exit_statuses_are_nagios_ones(tmp_path):
    env = {
        **{name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ},
        "DJANGO_SETTINGS_MODULE": "ecandidat.settings.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'not-migrated.sqlite3'}",
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", "ops_status", *args],
            env=env,
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )

    down = manage()
    assert down.returncode == 2
    assert down.stdout.startswith("ECANDIDAT CRITICAL - the outbox unreadable (database error); Redis at 127.0.0.1:")
    assert down.stderr == ""

    refused = manage("--queue-warning", "many")
    assert refused.returncode == 3
    assert "argument --queue-warning: not a number: 'many'" in refused.stderr

    inverted = manage("--queue-warning", "10", "--queue-critical", "5")
    assert inverted.returncode == 3
    assert "--queue-warning (10) is above --queue-critical (5)." in inverted.stderr
