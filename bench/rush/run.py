"""The deadline-rush benchmark (issues 9 and 14): ecandidat against a bare Django project, same gunicorn, same run.

``make bench`` runs ``python -m bench.rush.run``; ``make bench-smoke`` runs it with ``--smoke`` (a few seconds of
tiny load: it checks that the harness starts, measures and reports, nothing is timed).

What it starts, all on 127.0.0.1 and all stopped at exit (normal end, error, Ctrl-C, SIGTERM, or the overall
time limit): its own PostgreSQL database (``ecandidat_bench``, created and dropped), Redis database 9 (flushed),
an SMTP sink (aiosmtpd), a Celery worker, ecandidat on gunicorn with ``deploy/gunicorn.conf.py``
(``ecandidat.settings.base`` + environment, DEBUG off) and ``bench/bare`` on the same configuration.

Then:
1. per-request CPU: one gunicorn worker per project, N sequential requests of each kind, CPU seconds of the
   worker process and of its PostgreSQL backend (``/proc`` through psutil) divided by N; queries per request
   from ``bench/rush/probe.py``; bare and app rounds alternate and the median round is kept;
2. the rush: Locust steps the load (1.0x = 130 pages/s + 9 uploads/s of 1.4 MB), bare and app alternating at
   each scale, arrivals open-loop Poisson (``bench/rush/locustfile.py``); a step holds when p95 < 200 ms for
   pages, p95 < 1 s for uploads, no error, at least 95 % of the arrivals scheduled in the window served, and
   every upload answered 302 really stored (counted in the database);
3. web-worker RSS after about 30 dossier PDFs per worker;
4. optionally (``--profile``) py-spy on the single CPU-table worker, summarised by function.

Results: ``bench/results/<timestamp>/`` (``results.json``, ``table.md``, logs, profiles) and ``bench/results/latest``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import io
import json
import math
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import psycopg2
import redis
from fpdf import FPDF
from PIL import Image

try:
    import psutil
except ImportError:  # make bench installs it; the report helpers (tested in bench/tests/) do not need it
    psutil = None

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
DATABASE = "ecandidat_bench"
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/9"
PAGES_PER_SECOND = 130  # issue 14: 1.0x
UPLOADS_PER_SECOND = 9
PAGE_P95_MS = 200
UPLOAD_P95_MS = 1000
PDF_BYTES = 1_400_000


class TimeLimit(Exception):
    pass


class Bench:
    def __init__(self, arguments: argparse.Namespace) -> None:
        self.arguments = arguments
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        self.out = ROOT / "bench" / "results" / (("smoke-" if arguments.smoke else "") + stamp)
        self.out.mkdir(parents=True, exist_ok=True)
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.results: dict = {"started": stamp, "smoke": arguments.smoke, "machine": machine()}
        self.upload_cursor = 0  # first seeded candidate the next rush step uploads for
        self.env = self._environment()

    # --- Environment and processes ---------------------------------------------------------------------------
    def _environment(self) -> dict[str, str]:
        self.ports = {name: free_port() for name in ("app", "bare", "smtp", "app1", "bare1")}
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "EMAIL_", "GUNICORN_", "CLAMD_"))
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "ecandidat.settings.base",
                "SECRET_KEY": secrets.token_urlsafe(64),
                "DEBUG": "0",
                "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
                "REDIS_URL": REDIS_URL,
                "EMAIL_URL": f"smtp://127.0.0.1:{self.ports['smtp']}",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "MEDIA_ROOT": str(self.out / "media"),
                "STATIC_ROOT": str(ROOT / "bench" / "results" / "static"),
                "BARE_UPLOAD_DIR": str(self.out / "bare-uploads"),
                # The nightly window would close candidate pages if the bench runs at night.
                "MAINTENANCE_WINDOW_ENFORCED": "0",
                # No clamd in the benchmark (its scans run in the Celery worker, after the request): said explicitly.
                "CLAMD_ADDRESS": "none",
                # Fair use stays on per account; the per-IP part would count the whole load generator (one address
                # standing for thousands of candidates) as a single client.
                "UPLOAD_RATE_LIMITS": "30/10m/user",
                "DOSSIER_PDF_RATE_LIMITS": "10/10m/user",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def start(self, name: str, command: list[str], **env: str) -> subprocess.Popen:
        with open(self.out / f"{name}.log", "ab") as log:  # the child keeps its own descriptor
            process = self._popen(command, log, env)
        self.processes.append((name, process))
        return process

    def _popen(self, command: list[str], log, env: dict[str, str]) -> subprocess.Popen:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole
        )

    def stop(self, process: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        self.processes = [(name, p) for name, p in self.processes if p is not process]

    def stop_all(self) -> None:
        for _name, process in reversed(list(self.processes)):
            self.stop(process)

    def run(self, name: str, command: list[str], *, timeout: float = 300) -> str:
        completed = subprocess.run(
            command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        (self.out / f"{name}.log").write_text(completed.stdout + completed.stderr)
        if completed.returncode != 0:
            raise RuntimeError(f"{name} failed (exit {completed.returncode}): {completed.stderr[-2000:]}")
        return completed.stdout

    def manage(self, name: str, *args: str, timeout: float = 300) -> str:
        return self.run(name, [str(VENV_BIN / "python"), "manage.py", *args], timeout=timeout)

    # --- Set-up ----------------------------------------------------------------------------------------------
    def database(self, action: str) -> None:
        connection = psycopg2.connect(PG_ADMIN_URL)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            if action == "create":
                cursor.execute(f"CREATE DATABASE {DATABASE}")
        connection.close()

    def flush_redis(self) -> None:
        redis.Redis.from_url(REDIS_URL).flushdb()

    def set_up(self) -> None:
        print("== Setting up: database, migrations, static files, seed", flush=True)
        self.database("create")
        self.flush_redis()
        self.manage("migrate", "migrate", "--noinput")
        manifest = Path(self.env["STATIC_ROOT"]) / "staticfiles.json"
        folders = [
            ROOT / "static",
            *(ROOT / app / "static" for app in ("accounts", "applications", "documents", "offers", "ecandidat")),
        ]
        sources = [p for folder in folders for p in folder.rglob("*") if p.is_file()]
        if not manifest.exists() or any(p.stat().st_mtime > manifest.stat().st_mtime for p in sources):
            self.manage("collectstatic", "collectstatic", "--noinput")  # kept between runs (bench/results/static)
        seed_output = self.run(
            "seed",
            [
                str(VENV_BIN / "python"),
                "-m",
                "bench.rush.seed",
                "--candidates",
                str(self.arguments.candidates),
                "--out",
                str(self.out / "seed.json"),
            ],
            timeout=900,
        )
        print("   " + seed_output.strip().splitlines()[-1], flush=True)
        self.seed = json.loads((self.out / "seed.json").read_text())
        self.pdf_path = self.out / "scan.pdf"
        self.pdf_path.write_bytes(scanned_pdf(PDF_BYTES))
        self.pdf = self.pdf_path.read_bytes()

        self.start(
            "smtp",
            [
                str(VENV_BIN / "python"),
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                f"127.0.0.1:{self.ports['smtp']}",
                "-c",
                "aiosmtpd.handlers.Sink",
            ],
        )
        self.start(
            "celery",
            [
                str(VENV_BIN / "celery"),
                "-A",
                "ecandidat",
                "worker",
                "-l",
                "warning",
                "--concurrency=1",
                "-n",
                "bench@%h",
            ],
        )
        self.app = self.gunicorn("app", "ecandidat.wsgi", self.ports["app"])
        self.bare = self.gunicorn(
            "bare", "bench.bare.wsgi", self.ports["bare"], DJANGO_SETTINGS_MODULE="bench.bare.settings"
        )
        wait_port(self.ports["smtp"])
        self.snapshot_rss("after_warmup")

    def gunicorn(
        self, name: str, module: str, port: int, *, workers: int | None = None, probe: bool = False, **env: str
    ) -> subprocess.Popen:
        extra = {"GUNICORN_BIND": f"127.0.0.1:{port}", **env}
        if workers is not None:
            extra["GUNICORN_WORKERS"] = str(workers)
        application = module + ":application"
        options = []
        if probe:
            extra["BENCH_WSGI"] = module
            application = "bench.rush.probe:application"
            # The measured worker must not be recycled mid-table (max_requests is 2000 in deploy/).
            options = ["--max-requests", "0"]
        process = self.start(
            name, [str(VENV_BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", *options, application], **extra
        )
        wait_port(port, process=process)
        expected = workers or int(os.environ.get("GUNICORN_WORKERS", 0)) or (os.cpu_count() or 1) + 2
        deadline = time.monotonic() + 60
        while len(psutil.Process(process.pid).children()) < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        # Import-time work (Django set-up, URL resolver, templates) happens on the first requests: warm every worker.
        candidates = self.seed["candidates"]
        for n in range(expected * 3):
            if name.startswith("app"):
                for _kind, make in self.kinds().values():
                    if make is not None:
                        method, path, candidate = make(candidates[n % len(candidates)])
                        request(port, method, path, candidate=candidate)
            else:
                request(port, "GET", "/page/")
        return process

    # --- Requests --------------------------------------------------------------------------------------------
    def kinds(self) -> dict[str, list]:
        """What the CPU table measures: (label, target, method, path builder, expected status)."""
        return {
            "catalogue, anonymous": ["page", lambda c: ("GET", "/offre-de-formation/", None)],
            "catalogue, logged in": ["page", lambda c: ("GET", "/offre-de-formation/", c)],
            "recap of an application": ["page", lambda c: ("GET", f"/candidat/candidatures/{c['application']}/", c)],
            "pieces page": ["page", lambda c: ("GET", f"/pieces/{c['application']}/", c)],
            "candidatures list": ["page", lambda c: ("GET", "/candidat/candidatures/", c)],
            "upload of a 1.4 MB PDF": ["upload", None],
        }

    def upload_slots(self):
        """Slots for the CPU table and the profile, from the end of the seeded list (the rush starts at its head,
        the dossier-memory phase uses the 30 candidates before the last 60)."""
        for candidate in reversed(self.seed["candidates"]):
            for piece in candidate["pieces"]:
                yield candidate, piece

    def upload(self, port: int, candidate: dict, piece: int | None) -> tuple[int, dict]:
        path = "/upload/" if piece is None else f"/pieces/{candidate['application']}/{piece}/ajouter/"
        return request(port, "POST", path, candidate=candidate, pdf=self.pdf)

    def reset_uploads(self) -> int:
        output = self.run(
            "reset",
            [str(VENV_BIN / "python"), "-m", "bench.rush.seed", "--reset-uploads", str(self.out / "seed.json")],
            timeout=600,
        )
        return int(output.split()[1])

    # --- 1. Per-request CPU ----------------------------------------------------------------------------------
    def cpu_table(self) -> None:
        print("== Per-request CPU (one gunicorn worker each, sequential requests, bare/app alternating)", flush=True)
        count = self.arguments.cpu_requests
        upload_count = max(count // 4, 3)
        # One database connection for the whole table, so that its backend's CPU can be read before and after
        # (production's 60 s DATABASE_CONN_MAX_AGE would replace it mid-measurement; one reconnection a minute).
        app = self.gunicorn(
            "app1", "ecandidat.wsgi", self.ports["app1"], workers=1, probe=True, DATABASE_CONN_MAX_AGE="3600"
        )
        bare = self.gunicorn(
            "bare1",
            "bench.bare.wsgi",
            self.ports["bare1"],
            workers=1,
            probe=True,
            DJANGO_SETTINGS_MODULE="bench.bare.settings",
        )
        app_worker = psutil.Process(app.pid).children()[0]
        bare_worker = psutil.Process(bare.pid).children()[0]
        rounds: dict[str, list[dict]] = defaultdict(list)
        slots = self._cpu_slots = self.upload_slots()
        candidates = self.seed["candidates"]
        profiles = {}
        for round_number in range(self.arguments.rounds):
            rounds["bare: page"].append(
                measure(bare_worker, self.ports["bare1"], count, lambda n: ("GET", "/page/", None), None)
            )
            rounds["bare: upload"].append(
                measure(
                    bare_worker,
                    self.ports["bare1"],
                    upload_count,
                    None,
                    None,
                    upload=lambda n: self.upload(self.ports["bare1"], BARE_CANDIDATE, None),
                )
            )
            for label, (_kind, make) in self.kinds().items():
                if make is None:
                    rounds[label].append(
                        measure(
                            app_worker,
                            self.ports["app1"],
                            upload_count,
                            None,
                            DATABASE,
                            upload=lambda n: self.upload(self.ports["app1"], *next(slots)),
                        )
                    )
                else:
                    rounds[label].append(
                        measure(
                            app_worker,
                            self.ports["app1"],
                            count,
                            lambda n, make=make: make(candidates[n % len(candidates)]),
                            DATABASE,
                        )
                    )
            print(f"   round {round_number + 1}/{self.arguments.rounds} done", flush=True)
        print(f"   removed {self.reset_uploads()} uploaded files", flush=True)
        if self.arguments.profile:
            profiles = self.profile(app_worker)
        self.stop(app)
        self.stop(bare)
        table = {}
        for label, values in rounds.items():
            middle = sorted(values, key=lambda v: v["cpu_ms"] + v["pg_ms"])[len(values) // 2]
            table[label] = {
                **middle,
                "cpu_ms_rounds": [v["cpu_ms"] for v in values],
                "pg_ms_rounds": [v["pg_ms"] for v in values],
            }
        self.results["cpu"] = table
        self.results["profiles"] = profiles
        if profiles:
            self.reset_uploads()

    def profile(self, worker: psutil.Process) -> dict:
        """py-spy on the single worker while it serves the slowest pages; summarised by function."""
        print("== Profiling the CPU-table worker with py-spy", flush=True)
        candidates = self.seed["candidates"]
        summaries = {}
        slots = self._cpu_slots  # the CPU table's slots go on: no account uploads twice into the same slot
        for label, (_kind, make) in self.kinds().items():
            if label not in (
                "recap of an application",
                "pieces page",
                "upload of a 1.4 MB PDF",
                "catalogue, logged in",
            ):
                continue
            raw = self.out / f"profile-{label.split()[0].strip(',')}.txt"
            seconds = max(1, round(self.arguments.profile_seconds))
            with open(self.out / "py-spy.log", "ab") as log:
                spy = subprocess.Popen(
                    [
                        str(VENV_BIN / "py-spy"),
                        "record",
                        "--pid",
                        str(worker.pid),
                        "--rate",
                        "250",
                        "--format",
                        "raw",
                        "--output",
                        str(raw),
                        "--duration",
                        str(seconds),
                        "--nonblocking",
                        "--gil",  # only samples holding the GIL: waits on PostgreSQL (GIL released) are not CPU
                    ],
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            self.processes.append(("py-spy", spy))
            time.sleep(0.5)
            deadline = time.monotonic() + seconds + 1  # requests until py-spy has stopped sampling
            n = 0
            while time.monotonic() < deadline and spy.poll() is None:
                if make is None:
                    self.upload(self.ports["app1"], *next(slots))
                else:
                    method, path, candidate = make(candidates[n % len(candidates)])
                    request(self.ports["app1"], method, path, candidate=candidate)
                n += 1
            try:
                spy.wait(timeout=60)  # it writes its output after the last sample
            except subprocess.TimeoutExpired:
                self.stop(spy)
            self.processes = [(name, p) for name, p in self.processes if p is not spy]
            if raw.exists():
                summaries[label] = summarise_profile(raw.read_text(), requests=n)
        return summaries

    # --- 2. The rush -----------------------------------------------------------------------------------------
    def rush(self) -> None:
        print("== The rush (1.0x = 130 pages/s + 9 uploads/s of 1.4 MB), bare and app alternating", flush=True)
        steps: dict[str, list[dict]] = {"bare": [], "app": []}
        holding = {"bare": True, "app": True}
        for scale in self.arguments.scales:
            for target in ("bare", "app"):
                if not holding[target]:
                    continue
                step = self.rush_step(target, scale)
                if not step["holds"] and self.arguments.retry:
                    # The machine is shared: a failed step is run once more before the search stops there.
                    print(f"   {target:4} {scale:4.2f}x  failed ({step['why']}); trying once more", flush=True)
                    first = step
                    step = self.rush_step(target, scale)
                    step["first_try"] = {key: first[key] for key in ("page_p95_ms", "upload_p95_ms", "errors", "why")}
                steps[target].append(step)
                holding[target] = step["holds"]
                print(
                    f"   {target:4} {scale:4.2f}x  pages {step['pages_per_s']:6.1f}/s"
                    f" p95 {step['page_p95_ms']:6.0f} ms"
                    f" | uploads {step['uploads_per_s']:5.1f}/s p95 {step['upload_p95_ms']:6.0f} ms"
                    f" | errors {step['errors']} | CPU s: server {step['server_cpu_s']},"
                    f" locust {step['locust_cpu_s']},"
                    f" other {step['other_cpu_s']}  {'holds' if step['holds'] else 'FAILS: ' + step['why']}",
                    flush=True,
                )
            if not any(holding.values()):
                break
        self.results["rush"] = steps
        self.snapshot_rss("after_rush")

    def rush_step(self, target: str, scale: float) -> dict:
        port = self.ports[target]
        page_rate = PAGES_PER_SECOND * scale
        upload_rate = UPLOADS_PER_SECOND * scale
        page_pacing, upload_pacing = self.arguments.page_pacing, self.arguments.upload_pacing
        page_users = max(1, round(page_rate * page_pacing))
        upload_users = max(1, round(upload_rate * upload_pacing))
        samples_file = self.out / f"rush-{target}-{scale:.2f}.json"
        warmup = self.arguments.warmup
        duration = self.arguments.duration + warmup
        server = psutil.Process((self.app if target == "app" else self.bare).pid)
        cpu_before = tree_cpu(server)
        busy_before = busy_cpu()
        wall = time.monotonic()
        locust = self.start(
            f"locust-{target}",
            [
                str(VENV_BIN / "locust"),
                "-f",
                "bench/rush/locustfile.py",
                "--headless",
                "--only-summary",
                "--users",
                str(page_users + upload_users),
                "--spawn-rate",
                str(max(page_users + upload_users, 1)),
                "--run-time",  # two seconds past the window: every arrival scheduled in it is sent
                f"{duration + 2:.0f}s",
                "--stop-timeout",
                "5",
                "--host",
                f"http://127.0.0.1:{port}",
                "--loglevel",
                "WARNING",
            ],
            RUSH_TARGET=target,
            RUSH_SEED=str(self.out / "seed.json"),
            RUSH_PDF=str(self.pdf_path),
            RUSH_PAGE_USERS=str(page_users),
            RUSH_UPLOAD_USERS=str(upload_users),
            RUSH_PAGE_PACING=str(page_pacing),
            RUSH_UPLOAD_PACING=str(upload_pacing),
            RUSH_EVEN_ARRIVALS="1" if self.arguments.smoke else "0",
            RUSH_UPLOAD_FIRST=str(self.upload_cursor if target == "app" else 0),
            RUSH_WARMUP=str(warmup),
            RUSH_RUN_SECONDS=str(duration),
            RUSH_OUT=str(samples_file),
        )
        locust_process = psutil.Process(locust.pid)
        locust_cpu = 0.0
        try:
            while locust.poll() is None:
                with contextlib.suppress(psutil.Error):
                    times = locust_process.cpu_times()
                    locust_cpu = times.user + times.system
                time.sleep(0.5)
                if time.monotonic() - wall > duration + 60:
                    raise RuntimeError("locust did not stop on time")
        finally:
            if locust.poll() is None:
                self.stop(locust)
            self.processes = [(n, p) for n, p in self.processes if p is not locust]
        server_cpu = tree_cpu(server) - cpu_before
        machine_cpu = busy_cpu() - busy_before
        elapsed = time.monotonic() - wall
        data = json.loads(samples_file.read_text())
        if target == "app":
            self.upload_cursor = data["last_upload_candidate"] + 1
            if self.upload_cursor > len(self.seed["candidates"]) - 150:  # keep clear of the CPU-table accounts
                self.upload_cursor = 0
        seconds = max(data["measured_seconds"], 1e-6)
        offered = data["offered"]
        pages = [ms for name, ms, ok in data["samples"] if name == "page"]
        uploads = [ms for name, ms, ok in data["samples"] if name == "upload"]
        errors = sum(1 for _name, _ms, ok in data["samples"] if not ok)
        uploads_ok = sum(1 for name, _ms, ok in data["samples"] if name == "upload" and ok)
        # Every upload answered 302, warm-up included, must be in the database.
        stored = self.reset_uploads() if target == "app" else data["uploads_ok_total"]
        step = {
            "scale": scale,
            "nominal_pages_per_s": page_rate,
            "nominal_uploads_per_s": upload_rate,
            # The arrivals scheduled in the measured window (a Poisson count: about the nominal rate, +/- 10 %).
            "offered_pages_per_s": offered.get("page", 0) / seconds,
            "offered_uploads_per_s": offered.get("upload", 0) / seconds,
            "pages_per_s": len(pages) / seconds,
            "uploads_per_s": len(uploads) / seconds,
            "page_p50_ms": percentile(pages, 50),
            "page_p95_ms": percentile(pages, 95),
            "upload_p50_ms": percentile(uploads, 50),
            "upload_p95_ms": percentile(uploads, 95),
            "errors": errors,
            "uploads_answered_302": data["uploads_ok_total"],
            "uploads_ok_measured": uploads_ok,
            "uploads_stored": stored,
            "server_cpu_s": round(server_cpu, 1),
            "locust_cpu_s": round(locust_cpu, 1),
            "wall_s": round(elapsed, 1),
            # Everything else on the machine in the meantime: PostgreSQL, Redis, Celery, and other people's work.
            "other_cpu_s": round(machine_cpu - server_cpu - locust_cpu, 1),
            "load_average": os.getloadavg()[0],
        }
        reasons = []
        if step["page_p95_ms"] >= PAGE_P95_MS:
            reasons.append(f"page p95 {step['page_p95_ms']:.0f} ms")
        if step["upload_p95_ms"] >= UPLOAD_P95_MS:
            reasons.append(f"upload p95 {step['upload_p95_ms']:.0f} ms")
        if errors:
            reasons.append(f"{errors} errors")
        if (
            step["pages_per_s"] < 0.95 * step["offered_pages_per_s"]
            or step["uploads_per_s"] < 0.95 * step["offered_uploads_per_s"]
        ):
            reasons.append("offered rate not served")
        if stored != data["uploads_ok_total"]:
            reasons.append(f"{data['uploads_ok_total']} uploads answered 302 but {stored} stored")
        step["holds"] = not reasons
        step["why"] = ", ".join(reasons)
        return step

    def snapshot_rss(self, moment: str) -> None:
        """The app's web workers' RSS (MiB, sorted) at a moment of the run: where a worker's memory grows."""
        workers = psutil.Process(self.app.pid).children()
        self.results.setdefault("worker_rss_mib", {})[moment] = sorted(
            round(w.memory_info().rss / 2**20) for w in workers if w.is_running()
        )

    # --- 3. Memory after dossier PDFs ------------------------------------------------------------------------
    def dossier_memory(self) -> None:
        per_worker = self.arguments.dossiers
        print(f"== Web-worker RSS after ~{per_worker} dossier PDFs per worker", flush=True)
        workers = psutil.Process(self.app.pid).children()
        seeded = self.seed["candidates"]
        candidates = seeded[-90:-60] if len(seeded) >= 120 else seeded[:1]
        fill: Counter = Counter()
        for candidate in candidates:  # a dossier with its pieces: fill every slot of these candidates
            for piece in candidate["pieces"]:
                fill[self.upload(self.ports["app"], candidate, piece)[0]] += 1
        before = {w.pid: w.memory_info().rss for w in workers}
        statuses: Counter = Counter()
        durations = []
        for n in range(per_worker * len(workers)):
            candidate = candidates[n % len(candidates)]
            start = time.monotonic()
            status, _headers = request(
                self.ports["app"], "GET", f"/pieces/{candidate['application']}/dossier.pdf", candidate=candidate
            )
            durations.append((time.monotonic() - start) * 1000)
            statuses[status] += 1
        after = {w.pid: w.memory_info().rss for w in workers if w.is_running()}
        self.results["dossier_memory"] = {
            "pdfs": per_worker * len(workers),
            "fill_statuses": dict(fill),
            "statuses": dict(statuses),
            "median_ms": percentile(durations, 50),
            "rss_before_mib": sorted(round(v / 2**20) for v in before.values()),
            "rss_after_mib": sorted(round(v / 2**20) for v in after.values()),
        }
        print(f"   {dict(statuses)}; RSS after: {self.results['dossier_memory']['rss_after_mib']} MiB", flush=True)
        self.reset_uploads()

    # --- Report ----------------------------------------------------------------------------------------------
    def mails(self) -> None:
        connection = psycopg2.connect(self.env["DATABASE_URL"])
        with connection.cursor() as cursor:
            cursor.execute("SELECT status, count(*) FROM ecandidat_outboundemail GROUP BY status")
            self.results["outbox"] = dict(cursor.fetchall())
        connection.close()

    def report(self) -> str:
        lines = table(self.results)
        text = "\n".join(lines)
        (self.out / "table.md").write_text(text + "\n")
        (self.out / "results.json").write_text(json.dumps(self.results, indent=2, default=str))
        latest = self.out.parent / ("latest-smoke" if self.arguments.smoke else "latest")
        with contextlib.suppress(FileNotFoundError):
            latest.unlink()
        latest.symlink_to(self.out.name)
        return text


# --- Helpers ---------------------------------------------------------------------------------------------------
def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "python": sys.version.split()[0],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, *, process: subprocess.Popen | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited (exit {process.returncode}); see its log")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing answers on 127.0.0.1:{port} after {timeout} s")


BOUNDARY = "----bench7d0f1b2c3a4e"


# What the bare project's upload is sent as (bench/bare keeps Django's cookie names; its view checks the CSRF token).
BARE_CANDIDATE = {"csrf": "b" * 32, "session": "x", "cookie": f"sessionid=x; csrftoken={'b' * 32}"}


def request(
    port: int, method: str, path: str, *, candidate: dict | None = None, pdf: bytes | None = None
) -> tuple[int, dict]:
    """One request as nginx forwards it; returns the status and the headers (the body is read and dropped)."""
    headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": f"10.9.{random.randrange(256)}.{random.randrange(256)}",
    }
    body = None
    if candidate is not None:
        headers["Cookie"] = candidate["cookie"]
    if pdf is not None:
        assert candidate is not None
        headers["Origin"] = f"https://127.0.0.1:{port}"
        headers["Referer"] = headers["Origin"] + "/"
        headers["Content-Type"] = f"multipart/form-data; boundary={BOUNDARY}"
        body = b"".join(
            [
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
                f"{candidate['csrf']}\r\n".encode(),
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="scan.pdf"\r\n'.encode(),
                b"Content-Type: application/pdf\r\n\r\n",
                pdf,
                f"\r\n--{BOUNDARY}--\r\n".encode(),
            ]
        )
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        connection.close()


def backend_of(worker: psutil.Process, database: str) -> psutil.Process | None:
    """The PostgreSQL backend serving ``worker`` (matched on the client port of its connection)."""
    ports = [c.laddr.port for c in worker.net_connections(kind="tcp") if c.raddr and c.raddr.port == 5432]
    if not ports:
        return None
    connection = psycopg2.connect(f"postgres://postgres@127.0.0.1:5432/{database}")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE client_port = ANY(%s)", (ports,))
            row = cursor.fetchone()
    finally:
        connection.close()
    return psutil.Process(row[0]) if row else None


def cpu(process: psutil.Process | None) -> float:
    if process is None:
        return 0.0
    times = process.cpu_times()
    return times.user + times.system


def busy_cpu() -> float:
    """CPU seconds spent by the whole machine (all cores), idle and I/O wait excluded."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def tree_cpu(process: psutil.Process) -> float:
    total = cpu(process)
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += cpu(child)
    return total


def measure(worker: psutil.Process, port: int, count: int, make, database: str | None, *, upload=None) -> dict:
    """CPU milliseconds per request of ``worker`` (and of its PostgreSQL backend), queries, status codes."""

    def one(n: int) -> tuple[int, dict]:
        if upload is not None:
            return upload(n)
        method, path, candidate = make(n)
        return request(port, method, path, candidate=candidate)

    status, headers = one(0)  # warm: opens the database connection whose backend is measured
    backend = backend_of(worker, database) if database else None
    statuses: Counter = Counter()
    queries = []
    sizes = []
    before, pg_before, wall = cpu(worker), cpu(backend), time.monotonic()
    for n in range(1, count + 1):
        status, headers = one(n)
        statuses[status] += 1
        queries.append(int(headers.get("X-Bench-Queries", "0")))
        sizes.append(int(headers.get("Content-Length", "0") or 0))
    elapsed = time.monotonic() - wall
    return {
        "requests": count,
        "cpu_ms": round((cpu(worker) - before) * 1000 / count, 2),
        "pg_ms": round((cpu(backend) - pg_before) * 1000 / count, 2),
        "wall_ms": round(elapsed * 1000 / count, 2),
        "queries": statistics.median(queries),
        "statuses": dict(statuses),
        "bytes": statistics.median(sizes) if sizes else 0,
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)], 1)


def scanned_pdf(size: int) -> bytes:
    """A one-page PDF holding a noisy JPEG (a scan that does not compress), about ``size`` bytes."""
    generator = random.Random(14)
    width, height = 900, 800
    for _ in range(8):
        image = Image.frombytes("RGB", (width, height), generator.randbytes(width * height * 3))
        jpeg = io.BytesIO()
        image.save(jpeg, "JPEG", quality=85)
        pdf = FPDF()
        pdf.add_page()
        pdf.image(io.BytesIO(jpeg.getvalue()), x=10, y=10, w=190)
        content = bytes(pdf.output())
        if abs(len(content) - size) < size * 0.02:
            break
        width = max(100, int(width * math.sqrt(size / len(content))))
    return content


def _frame_name(frame: str) -> str:
    """``func (path/to/file.py:12)`` → ``func (path/to/file.py)``, site-packages and the checkout stripped."""
    if " (" not in frame:
        return frame
    function, _, where = frame.partition(" (")
    path = where.split(":")[0].rsplit("/site-packages/", 1)[-1].replace(str(ROOT) + "/", "")
    return f"{function} ({path})"


# Where the CPU goes, by kind of work: the first category whose marker is in a sample's stack takes the sample.
CATEGORIES = [
    ("PDF parsing (pypdf)", ("pypdf/",)),
    ("template rendering", ("Template.render (django/template/base.py)",)),
    ("SQL building (ORM compiler)", ("SQLCompiler.as_sql", "SQLCompiler.pre_sql_setup", "SQLCompiler.compile")),
    ("database driver (psycopg2 execute, GIL held)", ("CursorWrapper._execute (",)),
    ("rows to model instances", ("ModelIterable.__iter__", "Model.from_db")),
    ("multipart parsing", ("MultiPartParser",)),
    ("hashing", ("sha256", "hashlib")),
]


def summarise_profile(raw: str, *, requests: int, top: int = 20) -> dict:
    """py-spy's collapsed stacks, summarised: inclusive share of each project function (the middleware and
    decorator wrappers, which only call the next layer, left out), of a few Django parts, and by kind of work."""
    inclusive: Counter = Counter()
    categories: Counter = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame_name(frame) for frame in stack.split(";")]
        for name in set(frames):
            inclusive[name] += count
        for category, markers in CATEGORIES:
            if any(marker in frame for frame in frames for marker in markers):
                categories[category] += count
                break
        else:
            categories["other (middleware, sessions, auth, URL resolving, Python)"] += count
    project = ("applications/", "documents/", "offers/", "accounts/", "ecandidat/")
    wrappers = ("__call__", "sync_middleware", "wrapper (", "inner (", "_view_wrapper")
    interesting = [
        (name, count)
        for name, count in inclusive.most_common()
        if any(part in name for part in project) and not any(w in name for w in wrappers)
    ]
    markers = (
        "SessionStore.save (",
        "SessionStore.load (",
        "get_user (django",
        "SQLCompiler.as_sql (",
        "CursorWrapper._execute (",
        "Template.render (django/template/base.py)",
        "MultiPartParser.parse (",
    )
    django_parts = [(name, count) for name, count in inclusive.most_common() if any(m in name for m in markers)]

    def share(count: int) -> float:
        return round(100 * count / max(total, 1), 1)

    return {
        "requests": requests,
        "samples": total,
        "project": [(name, share(count)) for name, count in interesting[:top]],
        "django": [(name, share(count)) for name, count in django_parts],
        "categories": [(name, share(count)) for name, count in categories.most_common()],
    }


PAGE_MIX = {
    "catalogue, anonymous": 0.3,
    "catalogue, logged in": 0.1,
    "recap of an application": 0.2,
    "pieces page": 0.2,
    "candidatures list": 0.2,
}


def cpu_ceiling(cpu_rows: dict, cores: int) -> dict | None:
    """The rush scale at which the measured CPU per request (web worker + PostgreSQL) would fill every core."""
    try:
        page = sum(share * (cpu_rows[k]["cpu_ms"] + cpu_rows[k]["pg_ms"]) for k, share in PAGE_MIX.items())
        upload = cpu_rows["upload of a 1.4 MB PDF"]["cpu_ms"] + cpu_rows["upload of a 1.4 MB PDF"]["pg_ms"]
        bare_page, bare_upload = cpu_rows["bare: page"]["cpu_ms"], cpu_rows["bare: upload"]["cpu_ms"]
    except KeyError:
        return None
    budget = 1000 * cores  # CPU milliseconds per second
    app = PAGES_PER_SECOND * page + UPLOADS_PER_SECOND * upload
    bare = PAGES_PER_SECOND * bare_page + UPLOADS_PER_SECOND * bare_upload
    if not app or not bare:
        return None
    return {"app": budget / app, "bare": budget / bare, "app_ms_per_s_at_1x": app, "bare_ms_per_s_at_1x": bare}


def table(results: dict) -> list[str]:
    lines = []
    cpu_rows = results.get("cpu", {})
    bare_page = cpu_rows.get("bare: page", {})
    bare_upload = cpu_rows.get("bare: upload", {})
    if cpu_rows:
        lines += [
            "| what | ecandidat CPU ms/request | + PostgreSQL ms | queries | bare Django ms | ratio (bare / app+PG) |",
            "|---|---|---|---|---|---|",
        ]
        for label, row in cpu_rows.items():
            if label.startswith("bare"):
                continue
            bare = bare_upload if label.startswith("upload") else bare_page
            total = row["cpu_ms"] + row["pg_ms"]
            ratio = bare.get("cpu_ms", 0) / total if total else 0
            lines.append(
                f"| {label} | {row['cpu_ms']:.1f} (rounds {', '.join(f'{v:.1f}' for v in row['cpu_ms_rounds'])})"
                f" | {row['pg_ms']:.1f} | {row['queries']:g} | {bare.get('cpu_ms', 0):.1f} | {ratio:.2f} |"
            )
        lines.append("")
        sizes = ", ".join(
            f"{label} {row['bytes'] / 1024:.0f} KiB"
            for label, row in cpu_rows.items()
            if row.get("bytes") and "upload" not in label
        )
        lines.append(f"Page sizes: {sizes}.")
        ceiling = cpu_ceiling(cpu_rows, results["machine"]["cpus"])
        if ceiling:
            results["cpu_ceiling"] = ceiling
            lines.append(
                f"CPU-bound ceiling from these figures ({results['machine']['cpus']} cores fully used, no queueing,"
                f" the rush mix): ecandidat {ceiling['app']:.2f}x, bare Django {ceiling['bare']:.2f}x"
                f" (ratio {ceiling['app'] / ceiling['bare']:.2f})."
            )
        bad = {
            label: row["statuses"]
            for label, row in cpu_rows.items()
            if {int(code) for code in row["statuses"]} - ({302} if "upload" in label else {200})
        }
        if bad:
            lines.append(f"Unexpected statuses in the CPU table: {bad}")
        lines.append("")
    rush = results.get("rush")
    if rush:
        lines += [
            (
                "| rush scale | target pages/s + uploads/s | bare: pages p95 / uploads p95"
                " | app: pages p95 / uploads p95 |"
            ),
            "|---|---|---|---|",
        ]
        scales = sorted({step["scale"] for steps in rush.values() for step in steps})
        for scale in scales:
            cells = []
            for target in ("bare", "app"):
                step = next((s for s in rush[target] if s["scale"] == scale), None)
                if step is None:
                    cells.append("not run")
                    continue
                verdict = "holds" if step["holds"] else f"fails ({step['why']})"
                cells.append(
                    f"{step['page_p95_ms']:.0f} ms / {step['upload_p95_ms']:.0f} ms, served {step['pages_per_s']:.0f}+"
                    f"{step['uploads_per_s']:.1f}/s of {step.get('offered_pages_per_s', 0):.0f}+"
                    f"{step.get('offered_uploads_per_s', 0):.1f}/s offered, {step['errors']} err, {verdict}"
                )
            lines.append(
                f"| {scale:.2f}x | {PAGES_PER_SECOND * scale:.0f} + {UPLOADS_PER_SECOND * scale:.1f} | "
                + " | ".join(cells)
                + " |"
            )
        best = {target: max((s["scale"] for s in steps if s["holds"]), default=0.0) for target, steps in rush.items()}
        lines.append("")
        ratio = best["app"] / best["bare"] if best["bare"] else 0
        lines.append(
            f"Highest rush scale held: ecandidat {best['app']:.2f}x, bare Django {best['bare']:.2f}x"
            f" (ratio {ratio:.2f})."
        )
        results["best"] = best
    memory = results.get("dossier_memory")
    if memory:
        lines.append(
            f"Web-worker RSS after {memory['pdfs']} dossier PDFs"
            f" (~{memory['pdfs'] // max(len(memory['rss_after_mib']), 1)}"
            f" each, statuses {memory['statuses']}, median {memory['median_ms']:.0f} ms): before "
            f"{memory['rss_before_mib']} MiB, after {memory['rss_after_mib']} MiB."
        )
    for moment, sizes in results.get("worker_rss_mib", {}).items():
        lines.append(f"Web-worker RSS {moment.replace('_', ' ')}: {sizes} MiB.")
    if "outbox" in results:
        lines.append(f"Outbox at the end: {results['outbox']}.")
    lines.append(
        f"Machine: {results['machine']['cpus']} CPUs,"
        f" load average at start {results['machine']['load_average_at_start']}"
        f", at end {results.get('load_average_at_end')}."
    )
    for label, profile in results.get("profiles", {}).items():
        lines.append("")
        lines.append(
            f"Profile, {label} ({profile['requests']} requests, {profile['samples']} CPU samples), share of the"
            " samples spent in (inclusive):"
        )
        lines += [f"  {share:5.1f} %  {name}" for name, share in profile["project"]]
        lines.append("  -- Django parts:")
        lines += [f"  {share:5.1f} %  {name}" for name, share in profile["django"]]
        lines.append("  -- by kind of work (each sample counted once, first match):")
        lines += [f"  {share:5.1f} %  {name}" for name, share in profile["categories"]]
    return lines


def smoke_verdict(results: dict) -> int:
    """The smoke run's only assertions (nothing timed): every kind answered as expected, no error, uploads stored."""
    problems = []
    for label, row in results.get("cpu", {}).items():
        if {int(code) for code in row["statuses"]} != ({302} if "upload" in label else {200}):
            problems.append(f"{label}: statuses {row['statuses']}")
    for target, steps in results.get("rush", {}).items():
        for step in steps:
            if step["errors"] or not step["pages_per_s"] or not step["uploads_per_s"]:
                problems.append(f"rush {target}: {step['errors']} errors, {step['pages_per_s']:.1f} pages/s")
            if step["uploads_stored"] != step["uploads_answered_302"]:
                problems.append(
                    f"rush {target}: {step['uploads_answered_302']} uploads answered, {step['uploads_stored']} stored"
                )
    if {int(code) for code in results.get("dossier_memory", {}).get("statuses", {})} != {200}:
        problems.append(f"dossier PDFs: {results.get('dossier_memory')}")
    for problem in problems:
        print(f"SMOKE FAILED: {problem}", file=sys.stderr)
    if not problems:
        print("Smoke run OK: the harness started every process, measured, and reported with no error.")
    return 1 if problems else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="The deadline-rush benchmark: ecandidat vs bare Django.")
    parser.add_argument("--smoke", action="store_true", help="a few seconds at a tiny load: checks the harness")
    parser.add_argument("--candidates", type=int, default=600)
    parser.add_argument("--cpu-requests", type=int, default=120, help="requests per kind and round, CPU table")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scales", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0])
    parser.add_argument("--duration", type=float, default=30, help="measured seconds per rush step")
    parser.add_argument("--warmup", type=float, default=4)
    parser.add_argument("--no-retry", dest="retry", action="store_false", help="do not run a failed step again")
    parser.add_argument("--page-pacing", type=float, default=2, help="seconds between two pages of one user")
    parser.add_argument("--upload-pacing", type=float, default=4, help="seconds between two uploads of one user")
    parser.add_argument("--dossiers", type=int, default=30, help="dossier PDFs per web worker")
    parser.add_argument("--profile", action="store_true", help="py-spy the slowest pages (needs ptrace rights)")
    parser.add_argument("--profile-seconds", type=float, default=8)
    parser.add_argument(
        "--rush-only", action="store_true", help="only the rush steps (no CPU table, no dossier memory): quick tries"
    )
    parser.add_argument("--time-limit", type=float, default=45 * 60, help="the whole run stops after this")
    arguments = parser.parse_args(argv)
    if arguments.smoke:
        arguments.candidates = 12
        arguments.cpu_requests = 8
        arguments.rounds = 1
        arguments.scales = [0.02]
        arguments.duration = 4
        arguments.warmup = 1
        arguments.page_pacing = arguments.upload_pacing = 1
        arguments.dossiers = 1
        arguments.profile = False
        arguments.retry = False
        arguments.time_limit = min(arguments.time_limit, 240)

    bench = Bench(arguments)

    def on_signal(number, _frame):
        raise KeyboardInterrupt(f"signal {number}")

    def on_alarm(_number, _frame):
        raise TimeLimit(f"the benchmark exceeded its time limit of {arguments.time_limit:.0f} s")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(arguments.time_limit))
    try:
        bench.set_up()
        if not arguments.rush_only:
            bench.cpu_table()
        bench.rush()
        if not arguments.rush_only:
            bench.dossier_memory()
        bench.mails()
        bench.results["load_average_at_end"] = os.getloadavg()
        print()
        print(bench.report())
        print(f"\nResults in {bench.out.relative_to(ROOT)}/")
        if arguments.smoke:
            return smoke_verdict(bench.results)
        return 0
    finally:
        signal.alarm(0)
        bench.stop_all()
        with contextlib.suppress(Exception):
            bench.database("drop")
        with contextlib.suppress(Exception):
            bench.flush_redis()
        shutil.rmtree(bench.out / "media", ignore_errors=True)
        shutil.rmtree(bench.out / "bare-uploads", ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
