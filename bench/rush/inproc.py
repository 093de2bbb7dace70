"""Per-request CPU in one process, without gunicorn or Locust: quick before/after figures on a busy machine.

``python -m bench.rush.inproc --database ecandidat_x --redis redis://127.0.0.1:6379/N [--setup] [--requests 100]``

Production settings (``ecandidat.settings.base``, DEBUG off, the same environment as ``bench/rush/run.py``), the
requests go through Django's handler with the test client (``secure=True``: as nginx forwards them). What is
measured is the *process* CPU time (``time.process_time``), plus the CPU of the PostgreSQL backend serving this
connection (read from ``/proc``), so other programs on the machine change the figures little. Each kind runs
``--rounds`` rounds; the median round is printed, with all rounds. ``--setup`` (re)creates the database, migrates
and seeds it (``bench/rush/seed.py``, ``--candidates``); without it the database seeded last time is reused.
Uploads remove their file through the service after each request (outside the measured time). With ``--cprofile N``,
``INPROC_TIMER=cpu`` profiles CPU time, ``INPROC_SORT=tottime`` sorts by own time and ``INPROC_PROFILE_DIR=dir`` keeps
each kind's profile there (for ``pstats``' callers).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import json
import os
import pstats
import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path

import django
import psycopg2

ROOT = Path(__file__).resolve().parents[2]


def _environment(database: str, redis_url: str, media: Path) -> None:
    # One secret key for the seed and the measurements: the sessions' auth hash depends on it.
    key_file = media.parent / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "ecandidat.settings.base",
            "SECRET_KEY": key_file.read_text(),
            "DEBUG": "0",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
            "DATABASE_CONN_MAX_AGE": "3600",
            "REDIS_URL": redis_url,
            "ALLOWED_HOSTS": "testserver,127.0.0.1",
            "MEDIA_ROOT": str(media),
            "STATIC_ROOT": str(media.parent / "static"),
            "MAINTENANCE_WINDOW_ENFORCED": "0",
            "CLAMD_ADDRESS": "none",
            "UPLOAD_RATE_LIMITS": "",
            "DOSSIER_PDF_RATE_LIMITS": "",
            "LOG_LEVEL": "WARNING",
        }
    )
    for key in ("EMAIL_URL",):
        os.environ.pop(key, None)


def _backend_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def template_timer():
    """CPU seconds spent rendering each template, exclusive of the templates it includes or extends."""
    from django.template.base import Template  # noqa: PLC0415 (needs the settings of _environment)

    spent: dict[str, float] = {}
    stack: list[list] = []
    original = Template._render

    def timed(self, context):
        stack.append([self.origin.template_name or self.name or "?", time.process_time(), 0.0])
        try:
            return original(self, context)
        finally:
            name, started, inner = stack.pop()
            total = time.process_time() - started
            spent[name] = spent.get(name, 0.0) + total - inner
            if stack:
                stack[-1][2] += total

    Template._render = timed
    try:
        yield spent
    finally:
        Template._render = original


@contextlib.contextmanager
def line_timer(template_name: str):
    """CPU seconds spent in each line of one template, exclusive of the nodes nested in it and of other templates."""
    from django.template.base import Node  # noqa: PLC0415 (needs the settings of _environment)

    spent: dict[int, float] = {}
    stack: list[list] = []
    original = Node.render_annotated

    def timed(self, context):
        origin = getattr(self, "origin", None)
        mine = origin is not None and origin.template_name == template_name
        stack.append([mine, getattr(getattr(self, "token", None), "lineno", 0), time.process_time(), 0.0])
        try:
            return original(self, context)
        finally:
            counted, line, started, inner = stack.pop()
            total = time.process_time() - started
            if counted:
                spent[line] = spent.get(line, 0.0) + total - inner
            if stack:
                stack[-1][3] += total

    Node.render_annotated = timed
    try:
        yield spent
    finally:
        Node.render_annotated = original


def renew_sessions(keys: list[str]) -> int:
    """Give the seeded sessions a new ``SESSION_COOKIE_AGE``: a database seeded more than 45 minutes ago would
    otherwise have its sessions expired, and the "logged in" kinds would measure anonymous requests."""
    from django.conf import settings  # noqa: PLC0415 (needs the settings of _environment)
    from django.contrib.sessions.models import Session  # noqa: PLC0415
    from django.utils import timezone  # noqa: PLC0415

    lease = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    return Session.objects.filter(session_key__in=keys).update(expire_date=lease)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--setup", action="store_true")
    parser.add_argument("--candidates", type=int, default=40)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--kinds", nargs="*", default=None, help="words of the labels to measure")
    parser.add_argument("--cprofile", type=int, default=0, help="print the N costliest functions of each kind")
    parser.add_argument("--show-sql", action="store_true", help="print the SQL of one request of each kind")
    parser.add_argument(
        "--templates", action="store_true", help="print the CPU spent in each template (its own, includes apart)"
    )
    parser.add_argument(
        "--lines", metavar="TEMPLATE", help="print the CPU spent in each line of that template (nested nodes apart)"
    )
    arguments = parser.parse_args(argv)
    state = ROOT / "bench" / "results" / f"inproc-{arguments.database}"
    state.mkdir(parents=True, exist_ok=True)
    _environment(arguments.database, arguments.redis, state / "media")
    if arguments.setup:
        admin = psycopg2.connect("postgres://postgres@127.0.0.1:5432/postgres")
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {arguments.database} WITH (FORCE)")
            cursor.execute(f"CREATE DATABASE {arguments.database}")
        admin.close()
    django.setup()
    # Deferred: they need the django.setup() above (the environment is set first).
    from django.core.management import call_command  # noqa: PLC0415
    from django.db import connection  # noqa: PLC0415
    from django.test import Client  # noqa: PLC0415

    from bench.rush import seed as seeding  # noqa: PLC0415
    from bench.rush.run import scanned_pdf  # noqa: PLC0415

    if arguments.setup:
        call_command("migrate", verbosity=0)
        (state / "seed.json").write_text(json.dumps(seeding.seed(arguments.candidates)))
        (state / "scan.pdf").write_bytes(scanned_pdf(1_400_000))
    if not (state / "static" / "staticfiles.json").exists():
        call_command("collectstatic", "--noinput", verbosity=0)
    seeded = json.loads((state / "seed.json").read_text())["candidates"]
    pdf = (state / "scan.pdf").read_bytes()
    seeding.reset_uploads(str(state / "seed.json"))
    renew_sessions([row["session"] for row in seeded])

    from django.conf import settings  # noqa: PLC0415
    from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: PLC0415

    from applications.models import Application  # noqa: PLC0415
    from applications.services import pieces as piece_services  # noqa: PLC0415
    from offers.models import PieceType  # noqa: PLC0415

    # One client (one handler, one middleware chain, as in a gunicorn worker); the session cookie changes.
    browser = Client(secure=True, HTTP_X_FORWARDED_PROTO="https")

    def as_candidate(row):
        browser.cookies.clear()
        if row is not None:
            browser.cookies[settings.SESSION_COOKIE_NAME] = row["session"]
        return browser

    def page(path_of, *, logged_in=True):
        def one(n):
            row = seeded[n % len(seeded)]
            return as_candidate(row if logged_in else None).get(path_of(row))

        return one

    slots = [(row, piece) for row in seeded for piece in row["pieces"]]

    def upload(n):
        row, piece = slots[n % len(slots)]
        return as_candidate(row).post(
            f"/pieces/{row['application']}/{piece}/ajouter/",
            {"file": SimpleUploadedFile("scan.pdf", pdf, "application/pdf")},
        )

    def undo_upload(n):
        row, piece = slots[n % len(slots)]
        application = Application.objects.select_related("candidate__user", "formation").get(
            public_id=row["application"]
        )
        piece_services.remove_piece(
            application=application, piece_type=PieceType.objects.get(pk=piece), actor=application.candidate.user
        )

    kinds = {
        "catalogue, anonymous": (page(lambda r: "/offre-de-formation/", logged_in=False), None),
        "catalogue, logged in": (page(lambda r: "/offre-de-formation/"), None),
        "recap of an application": (page(lambda r: f"/candidat/candidatures/{r['application']}/"), None),
        "pieces page": (page(lambda r: f"/pieces/{r['application']}/"), None),
        "candidatures list": (page(lambda r: "/candidat/candidatures/"), None),
        "upload of a 1.4 MB PDF": (upload, undo_upload),
        # The floor of a candidate page: the layout alone (a page of static text), and the health check (no page).
        "layout only, anonymous": (page(lambda r: "/mentions-legales/", logged_in=False), None),
        "layout only, logged in": (page(lambda r: "/mentions-legales/"), None),
        "health check, logged in": (page(lambda r: "/healthz"), None),
    }
    if arguments.kinds:
        kinds = {k: v for k, v in kinds.items() if any(w in k for w in arguments.kinds)}

    queries: list[int] = []

    def counter(execute, sql, params, many, context):
        queries.append(1)
        return execute(sql, params, many, context)

    results = {}
    for label, (one, undo) in kinds.items():
        count = arguments.requests if undo is None else max(arguments.requests // 4, 5)
        for n in range(5):  # warm-up, and the database connection opened
            response = one(n)
            if undo is not None:
                undo(n)
        if "anonymous" not in label and not response.wsgi_request.user.is_authenticated:
            print(f"{label}: the seeded session was refused; run again with --setup", file=sys.stderr)
            return 1
        if arguments.show_sql:
            statements: list[str] = []

            def keep(execute, sql, params, many, context, statements=statements):
                statements.append(sql % tuple(f"'{p}'" for p in params) if params else sql)
                return execute(sql, params, many, context)

            with connection.execute_wrapper(keep):
                one(5)
            if undo is not None:
                undo(5)
            print(f"--- {label}: {len(statements)} statements", *statements, sep="\n")
            continue
        if arguments.templates:
            with template_timer() as spent:
                for n in range(count):
                    one(n)
                    if undo is not None:
                        undo(n)
            print(f"--- {label}: CPU ms per request in each template, its includes apart")
            for name, seconds in sorted(spent.items(), key=lambda item: -item[1]):
                print(f"{seconds * 1000 / count:7.3f}  {name}")
            continue
        if arguments.lines:
            with line_timer(arguments.lines) as spent:
                for n in range(count):
                    one(n)
                    if undo is not None:
                        undo(n)
            print(f"--- {label}: CPU ms per request in each line of {arguments.lines}, nested nodes apart")
            for line, seconds in sorted(spent.items(), key=lambda item: -item[1])[:25]:
                print(f"{seconds * 1000 / count:7.3f}  line {line}")
            continue
        if arguments.cprofile:
            # INPROC_TIMER=cpu: CPU time (waits on PostgreSQL and Redis left out); the default is wall-clock time.
            timer = time.process_time if os.environ.get("INPROC_TIMER") == "cpu" else time.perf_counter
            profiler = cProfile.Profile(timer)
            for n in range(20):
                profiler.enable()
                one(n)
                profiler.disable()
                if undo is not None:
                    undo(n)
            print(f"--- {label}: 20 requests")
            order = os.environ.get("INPROC_SORT", "cumulative")  # or "tottime"
            pstats.Stats(profiler).sort_stats(order).print_stats(arguments.cprofile)
            if os.environ.get("INPROC_PROFILE_DIR"):  # for pstats' print_callers, snakeviz, …
                name = "".join(c if c.isalnum() else "-" for c in label)
                profiler.dump_stats(Path(os.environ["INPROC_PROFILE_DIR"]) / f"{name}.prof")
            continue
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        collecting: dict[str, list[float]] = {}

        def timing(phase, info, collecting=collecting):  # CPU spent in the collector, per request below
            if phase == "start":
                collecting["started"] = [time.process_time()]
            elif "started" in collecting:
                collecting.setdefault("spent", []).append(time.process_time() - collecting.pop("started")[0])

        gc.callbacks[:] = [timing]
        if os.environ.get("INPROC_GC_FREEZE") == "1":  # as deploy/gunicorn.conf.py does after the preload
            gc.collect()
            gc.freeze()
        rounds = []
        for _round in range(arguments.rounds):
            cpu = pg = 0.0
            collecting.clear()
            statuses: dict[int, int] = {}
            queries.clear()
            for n in range(count):
                with connection.execute_wrapper(counter):
                    before, pg_before = time.process_time(), _backend_cpu(backend)
                    response = one(n)
                    cpu += time.process_time() - before
                    pg += _backend_cpu(backend) - pg_before
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if undo is not None:
                    undo(n)
            gc_ms = sum(collecting.get("spent", [])) * 1000 / count
            rounds.append(
                {"cpu_ms": cpu * 1000 / count, "pg_ms": pg * 1000 / count, "gc_ms": gc_ms, "statuses": statuses}
            )
            per_request = len(queries) / count
        middle = sorted(rounds, key=lambda r: r["cpu_ms"])[len(rounds) // 2]
        results[label] = {**middle, "queries": per_request, "rounds": [round(r["cpu_ms"], 1) for r in rounds]}
        print(
            f"{label:26} cpu {middle['cpu_ms']:6.2f} ms  pg {middle['pg_ms']:5.2f} ms  gc {middle['gc_ms']:4.2f} ms  "
            f"queries {per_request:5.1f}  "
            f"rounds {results[label]['rounds']}  {middle['statuses']}",
            flush=True,
        )
    print(f"median CPU of rounds; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
