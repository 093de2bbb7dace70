"""``manage.py ops_status``: what the monitoring system polls (Nagios, Centreon, Icinga, Zabbix's external checks).

Four checks, one line each: the outbox (mails by status, how long the oldest mail due has waited, the failures of the
last hour), the Celery queues (their depth in Redis), the last nightly run (when, how it ended) and the background
jobs stuck (commission packs, exports, releases of decisions). ``/healthz`` says whether a node serves pages; it
stayed "ok" with 1,200 mails due for 3 hours and 20 tasks on a queue nobody consumed, and the dry run of
``send_pending_mails`` stopped counting at 500.

Exit status, the Nagios plugins' convention: 0 OK, 1 WARNING, 2 CRITICAL (the worst of the checks), 3 UNKNOWN (an
option refused). A measure "past" its threshold is strictly above it. The first line is the plugin's summary with its
performance data after ``|``; ``--json`` prints one JSON object instead, with the same exit status.

Read-only and cheap: six queries whatever the number of rows, one round trip to Redis (LLEN of both queues, one
second of timeout, no retry) when REDIS_URL is set. A database or a Redis that does not answer is a CRITICAL line
saying so, never a traceback.

In the top layer (applications) because it reads every layer's work: the outbox and the batch history (ecandidat),
the packs, exports and releases (applications), whose windows it takes from their sweepers and pages: a job counted
stuck here is one its page shows stopped or never started (``is_stalled``, ``never_started``).
"""

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.db.models import Case, Count, F, Min, Q, When
from django.utils import timezone
from redis.backoff import NoBackoff
from redis.retry import Retry

from applications.export_jobs import EXPORT_NEVER_STARTED_AFTER, EXPORT_STALE_AFTER
from applications.lost_tasks import SWEEP_GRACE
from applications.models import CommissionPack, ExportJob, ReleaseJob
from applications.packs import PACK_NEVER_STARTED_AFTER, PACK_STALE_AFTER
from applications.services.release import RELEASE_NEVER_STARTED_AFTER, RELEASE_STALE_AFTER
from ecandidat.batches import NIGHTLY, STALE_BEATS
from ecandidat.celery import redis_address
from ecandidat.models import BatchRun, OutboundEmail

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL"}

# The failures counted: mails given up (FAILED) within this much; their ``next_attempt_at`` is when they were.
FAILURES_WITHIN = timedelta(hours=1)
# Redis is asked once, briefly: a silent Redis costs one second, not the client's default retries.
REDIS_TIMEOUT_SECONDS = 1

# (name, model, the stale window of its sweeper and page, the window after which its page says it never started)
JOB_KINDS = (
    ("packs", CommissionPack, PACK_STALE_AFTER, PACK_NEVER_STARTED_AFTER),
    ("exports", ExportJob, EXPORT_STALE_AFTER, EXPORT_NEVER_STARTED_AFTER),
    ("releases", ReleaseJob, RELEASE_STALE_AFTER, RELEASE_NEVER_STARTED_AFTER),
)


@dataclass
class Check:
    """One line of the report: its state, its text, the reasons it is not OK, its data for ``--json``."""

    name: str
    state: int = OK
    text: str = ""
    problems: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    perfdata: list[str] = field(default_factory=list)

    def alert(self, state: int, problem: str) -> None:
        if state > OK:
            self.state = max(self.state, state)
            self.problems.append(problem)

    def as_json(self) -> dict[str, Any]:
        return {"status": STATE_NAMES[self.state].lower(), "problems": self.problems, "text": self.text, **self.data}


@dataclass(frozen=True)
class Thresholds:
    warning: float
    critical: float

    def past(self, value: float) -> tuple[int, float]:
        """CRITICAL above the critical threshold, WARNING above the warning one, else OK; and the threshold passed."""
        if value > self.critical:
            return CRITICAL, self.critical
        if value > self.warning:
            return WARNING, self.warning
        return OK, self.warning

    def as_json(self) -> dict[str, float]:
        return {"warning": self.warning, "critical": self.critical}


def duration(seconds: float) -> str:
    """``42 s``, ``12 min``, ``3 h 02 min``, ``3 d 4 h``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def local(moment: datetime | None) -> str | None:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z") if moment else None


def iso(moment: datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else None


def perf(label: str, value: float | None, unit: str = "", thresholds: Thresholds | None = None) -> str:
    """One Nagios performance datum, ``label=value[unit];warning;critical;0`` (``U``: no value), the label reduced
    to letters, digits, ``_``, ``.`` and ``-`` (no quoting needed)."""
    label = re.sub(r"[^A-Za-z0-9_.-]", "_", label)
    shown = "U" if value is None else f"{int(value)}{unit}"
    limits = f"{int(thresholds.warning)};{int(thresholds.critical)}" if thresholds else ";"
    return f"{label}={shown};{limits};0"


def unreadable(check: Check, what: str, exc: Exception) -> Check:
    check.alert(CRITICAL, f"{what} unreadable (database error)")
    check.text = f"could not read {what} ({type(exc).__name__}: {str(exc).strip()[:200]})"
    return check


def check_outbox(now: datetime, age: Thresholds) -> Check:
    """Mails by status, the mails due and how long the oldest has waited, the failures of the last hour, the mails
    waiting for a retry after a failed attempt (they grow while the SMTP server refuses). Two queries."""
    check = Check("outbox")
    statuses = OutboundEmail.Status
    check.data = {
        "counts": None,
        "due": None,
        "oldest_due_since": None,
        "oldest_due_seconds": None,
        "failed_last_hour": None,
        "retrying": None,
        "thresholds_seconds": age.as_json(),
    }
    try:
        counts = OutboundEmail.objects.aggregate(
            **{status.value.lower(): Count("pk", filter=Q(status=status)) for status in statuses},
            failed_last_hour=Count("pk", filter=Q(status=statuses.FAILED, next_attempt_at__gte=now - FAILURES_WITHIN)),
            retrying=Count("pk", filter=Q(status=statuses.PENDING, attempts__gt=0)),
        )
        # Due since its next attempt (pending) or the end of its sender's lease (the sender died): the sweeper's own
        # definition of "due" (``OutboundEmail.objects.due``).
        due = (
            OutboundEmail.objects.due(now)
            .order_by()
            .aggregate(
                due=Count("pk"),
                since=Min(Case(When(status=statuses.SENDING, then=F("lease_until")), default=F("next_attempt_at"))),
            )
        )
    except DatabaseError as exc:
        return unreadable(check, "the outbox", exc)
    failed_last_hour, retrying = counts.pop("failed_last_hour"), counts.pop("retrying")
    since = due["since"]
    oldest = (now - since).total_seconds() if since else 0
    level, limit = age.past(oldest)
    check.alert(level, f"oldest mail due for {duration(oldest)} (more than {duration(limit)})")
    by_status = ", ".join(f"{value:,} {name}" for name, value in counts.items())
    waiting = f"{due['due']:,} due, the oldest for {duration(oldest)} (since {local(since)})" if since else "none due"
    check.text = (
        f"{by_status}; {waiting}; {failed_last_hour:,} failed in the last hour; {retrying:,} waiting for a retry"
    )
    check.data.update(
        counts=counts,
        due=due["due"],
        oldest_due_since=iso(since),
        oldest_due_seconds=int(oldest) if since else None,
        failed_last_hour=failed_last_hour,
        retrying=retrying,
    )
    check.perfdata = [
        perf("mail_due", due["due"]),
        perf("mail_oldest_due", oldest, "s", age),
        perf("mail_failed_last_hour", failed_last_hour),
    ]
    return check


def check_queues(depth: Thresholds) -> Check:
    """The depth (LLEN) of the main queue and of the long jobs' queue in Redis: tasks published and not yet taken by
    a worker. No query; one round trip to Redis."""
    check = Check("queues")
    names = [settings.CELERY_TASK_DEFAULT_QUEUE, settings.CELERY_LONG_QUEUE]
    check.data = {"redis": None, "depths": None, "error": None, "thresholds": depth.as_json()}
    if not settings.REDIS_URL:
        check.text = "no Redis (REDIS_URL unset): tasks run in the web and cron processes, no queue to watch"
        return check
    address = redis_address(settings.REDIS_URL)
    check.data["redis"] = address
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        pipeline = client.pipeline(transaction=False)
        for name in names:
            pipeline.llen(name)
        depths = dict(zip(names, pipeline.execute(), strict=True))
    except (redis.RedisError, OSError) as exc:
        error = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
        check.data["error"] = error
        check.perfdata = [perf(f"queue_{name}", None, thresholds=depth) for name in names]
        check.text = f"could not read the queues in Redis at {address} ({error})"
        if isinstance(exc, redis.ConnectionError | redis.TimeoutError | OSError):
            check.alert(CRITICAL, f"Redis at {address} did not answer")
            check.text += ": no task is queued meanwhile, the mails wait for the cron sweeper (deploy/crontab)"
        else:
            check.alert(CRITICAL, f"Redis at {address} answered with an error")
        return check
    finally:
        client.close()
    for name, tasks in depths.items():
        level, limit = depth.past(tasks)
        check.alert(level, f"queue {name}: {tasks:,} tasks waiting (more than {limit:,.0f})")
    waiting = ", ".join(f"{name} {tasks:,}" for name, tasks in depths.items())
    check.text = f"tasks waiting for a worker: {waiting} (Redis {address})"
    check.data["depths"] = depths
    check.perfdata = [perf(f"queue_{name}", tasks, thresholds=depth) for name, tasks in depths.items()]
    return check


def check_nightly(now: datetime, age: Thresholds) -> Check:
    """The last real run of ``manage.py nightly`` (the batch history): when it started, how it ended. Too old means
    cron, or the host, did not run it. One query."""
    check = Check("nightly")
    check.data = {"last_run": None, "age_seconds": None, "thresholds_seconds": age.as_json()}
    try:
        run = BatchRun.objects.filter(name=NIGHTLY, dry_run=False).order_by("-started_at", "-pk").first()
    except DatabaseError as exc:
        return unreadable(check, "the batch history", exc)
    if run is None:
        check.alert(CRITICAL, "no nightly run recorded")
        check.text = "no run of `manage.py nightly` recorded: cron has not run it here (deploy/crontab)"
        check.perfdata = [perf("nightly_age", None, "s", age)]
        return check
    started = (now - run.started_at).total_seconds()
    level, limit = age.past(started)
    check.alert(level, f"last nightly run started {duration(started)} ago (more than {duration(limit)})")
    failed = re.findall(r"\((\w+)\)$", run.errors, flags=re.MULTILINE) if run.status == BatchRun.Status.ERROR else []
    # As ``ecandidat.batches.interrupt_stale_runs`` reads it: a RUNNING run without a beat for that long is dead.
    stale_before = now - timedelta(seconds=settings.BATCH_HEARTBEAT_SECONDS * STALE_BEATS)
    if run.status == BatchRun.Status.RUNNING and run.heartbeat_at < stale_before:
        result = "died"
        ending = f"died: no sign of life since {local(run.heartbeat_at)} (the next run marks it interrupted)"
        check.alert(WARNING, "last nightly run died")
    elif run.status == BatchRun.Status.RUNNING:
        result = "running"
        ending = f"running, last sign of life {duration((now - run.heartbeat_at).total_seconds())} ago"
    elif run.status == BatchRun.Status.ERROR:
        result = "error"
        which = f"failed: {', '.join(failed)}; " if failed else ""
        ending = f"ended in error ({which}see the batch history)"
        check.alert(WARNING, "last nightly run ended in error")
    elif run.status == BatchRun.Status.INTERRUPT:
        result = "interrupted"
        ending = "interrupted (see the batch history)"
        check.alert(WARNING, "last nightly run interrupted")
    else:
        result = "finished"
        ending = "finished"
    check.text = f"last run started {local(run.started_at)}, {duration(started)} ago: {ending}"
    check.data["last_run"] = {
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "last_sign_of_life": iso(run.heartbeat_at),
        "result": result,
        "failed_batches": failed,
    }
    check.data["age_seconds"] = int(started)
    check.perfdata = [perf("nightly_age", started, "s", age)]
    return check


def check_jobs(now: datetime, stuck: Thresholds, window: timedelta) -> Check:
    """The commission packs, exports and releases of decisions asked for within ``window``: those running and
    waiting, and those stuck, as their pages show them: RUNNING without progress for their sweeper's stale window and
    ``SWEEP_GRACE`` more (their worker was killed and nothing took them back), PENDING past the window after which
    their page says they never started (no worker took their task). One query per kind."""
    check = Check("jobs")
    hours = window.total_seconds() / 3600
    check.data = {"window_hours": hours, "stuck": None, "kinds": None, "thresholds": stuck.as_json()}
    found: dict[str, dict[str, int]] = {}
    try:
        for name, model, stale_after, never_started_after in JOB_KINDS:
            statuses = model.Status
            found[name] = model._default_manager.filter(
                status__in=[statuses.PENDING, statuses.RUNNING], created_at__gte=now - window
            ).aggregate(
                running=Count("pk", filter=Q(status=statuses.RUNNING)),
                waiting=Count("pk", filter=Q(status=statuses.PENDING)),
                stopped=Count(
                    "pk", filter=Q(status=statuses.RUNNING, progress_at__lt=now - stale_after - SWEEP_GRACE)
                ),
                never_started=Count("pk", filter=Q(status=statuses.PENDING, created_at__lt=now - never_started_after)),
            )
    except DatabaseError as exc:
        return unreadable(check, "the background jobs", exc)
    total = sum(counts["stopped"] + counts["never_started"] for counts in found.values())
    level, limit = stuck.past(total)
    check.alert(level, f"{total} background job(s) stuck (more than {limit:.0f})")
    details = "; ".join(
        f"{name} {counts['running']} running, {counts['waiting']} waiting"
        + (f", {counts['stopped']} stopped" if counts["stopped"] else "")
        + (f", {counts['never_started']} never started" if counts["never_started"] else "")
        for name, counts in found.items()
    )
    check.text = f"{total} stuck among those asked for in the last {hours:g} h: {details}"
    check.data.update(stuck=total, kinds=found)
    check.perfdata = [perf("jobs_stuck", total, thresholds=stuck)]
    return check


def non_negative(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise argparse.ArgumentTypeError(f"must be a number, 0 or more, not {value}")
    return number


class _Parser(CommandParser):
    """A refused option exits with 3 (UNKNOWN), not argparse's 2, which a monitoring system reads as CRITICAL."""

    def error(self, message):
        if self.called_from_command_line:
            self.print_usage(sys.stderr)
            self.exit(UNKNOWN, f"{self.prog}: error: {message}\n")
        raise CommandError(f"Error: {message}", returncode=UNKNOWN)


class Command(BaseCommand):
    help = (
        "For the monitoring system: the outbox's backlog, the Celery queues' depths, the last nightly run and the "
        "background jobs stuck, one line each. Exit status 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios "
        "plugins' convention); a measure past its threshold is strictly above it. Read-only."
    )
    # Read-only and polled every few minutes: no system checks (a deploy warning is no reason for a WARNING here).
    requires_system_checks: list[str] = []

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = _Parser
        return parser

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of the lines.")
        limits = parser.add_argument_group("thresholds (WARNING, CRITICAL when the measure is above them)")
        for option, default, unit, what in (
            ("--mail-age-warning", 15, "MINUTES", "The oldest mail due has waited longer. Default 15."),
            ("--mail-age-critical", 60, "MINUTES", "Default 60."),
            ("--queue-warning", 500, "TASKS", "A queue holds more tasks. Default 500."),
            ("--queue-critical", 5000, "TASKS", "Default 5000."),
            ("--nightly-warning", 26, "HOURS", "The last nightly run started longer ago. Default 26."),
            ("--nightly-critical", 50, "HOURS", "Default 50: two nights missed."),
        ):
            limits.add_argument(option, type=non_negative, default=default, metavar=unit, help=what)
        limits.add_argument(
            "--stuck-warning",
            type=non_negative,
            default=0,
            metavar="JOBS",
            help="More jobs stuck. Default 0: any stuck job warns.",
        )
        limits.add_argument(
            "--stuck-critical",
            type=non_negative,
            default=2,
            metavar="JOBS",
            help="Default 2: three stuck jobs or more, the long jobs' worker is likely gone.",
        )
        limits.add_argument(
            "--jobs-window",
            type=non_negative,
            default=24,
            metavar="HOURS",
            help="Only the jobs asked for within this many hours (older ones were shown failed to their requester).",
        )

    def handle(self, *args, **options):
        thresholds = {}
        for name, scale in (("mail_age", 60), ("queue", 1), ("nightly", 3600), ("stuck", 1)):
            warning, critical = options[f"{name}_warning"], options[f"{name}_critical"]
            if warning > critical:
                option = name.replace("_", "-")
                raise CommandError(
                    f"--{option}-warning ({warning:g}) is above --{option}-critical ({critical:g}).",
                    returncode=UNKNOWN,
                )
            thresholds[name] = Thresholds(warning * scale, critical * scale)
        now = timezone.now()
        checks = [
            check_outbox(now, thresholds["mail_age"]),
            check_queues(thresholds["queue"]),
            check_nightly(now, thresholds["nightly"]),
            check_jobs(now, thresholds["stuck"], timedelta(hours=options["jobs_window"])),
        ]
        state = max(check.state for check in checks)
        problems = [problem for check in checks for problem in check.problems]
        if options["json"]:
            report = {
                "status": STATE_NAMES[state].lower(),
                "exit_status": state,
                "checked_at": iso(now),
                "problems": problems,
                "checks": {check.name: check.as_json() for check in checks},
            }
            self.stdout.write(json.dumps(report, indent=2, ensure_ascii=False))
        else:
            summary = "; ".join(problems) or "every check within its thresholds"
            perfdata = " ".join(datum for check in checks for datum in check.perfdata)
            self.stdout.write(f"ECANDIDAT {STATE_NAMES[state]} - {summary}" + (f" | {perfdata}" if perfdata else ""))
            for check in checks:
                self.stdout.write(f"{STATE_NAMES[check.state]:<8} {check.name}: {check.text}")
        if state != OK:
            sys.exit(state)
