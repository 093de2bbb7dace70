"""The reference deployment (Dockerfile, compose.yaml): docker cannot run on CI, so what can be checked without it
is checked here — the compose file parses and wires every service, the image is multi-stage, non-root and has no
compiler in its final stage, and every variable it sets is one the settings read and the README documents.

The systemd way (deploy/): the units, the crontab, gunicorn.conf.py, the nginx example and deploy/manage.sh, each
checked against what a first installation on Debian 12 tripped on (the rehearsal of h19)."""

import fcntl
import gc
import importlib
import importlib.util
import os
import re
import runpy
import subprocess
import sys
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
import yaml
from celery import signals
from celery.utils.nodenames import host_format
from django.apps import apps
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management import get_commands
from django.utils.module_loading import import_string
from gunicorn.config import Config

from ecandidat.celery import app, freeze_what_the_process_inherited
from ecandidat.maintenance import in_window
from ecandidat.settings import base  # the production settings module, as the tests below read it

BASE_DIR = settings.BASE_DIR


def _compose() -> dict:
    return yaml.safe_load((BASE_DIR / "compose.yaml").read_text(encoding="utf-8"))


def _dockerfile_stages() -> dict[str, str]:
    text = (BASE_DIR / "Dockerfile").read_text(encoding="utf-8")
    parts = re.split(r"^FROM \S+ AS (\w+)\n", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_compose_has_the_reference_services():
    services = _compose()["services"]

    assert {"web", "worker", "worker-long", "beat", "postgres", "redis", "clamd", "s3"} <= set(services)
    for name in ("web", "worker", "worker-long", "beat", "migrate"):
        assert services[name]["image"] == "ecandidat:latest"
        assert services[name]["build"] == "."
    assert services["worker"]["command"][:4] == ["celery", "-A", "ecandidat", "worker"]
    assert services["worker-long"]["command"][:4] == ["celery", "-A", "ecandidat", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "ecandidat", "beat"]
    assert "replicas" not in services["beat"].get("deploy", {})  # exactly one beat


def test_compose_waits_for_migrations_and_healthy_peers():
    services = _compose()["services"]

    for name in ("web", "worker", "worker-long", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}
        assert depends["redis"] == {"condition": "service_healthy"}
        assert depends["s3-bucket"] == {"condition": "service_completed_successfully"}
    assert "check --deploy" in services["migrate"]["command"][-1]


def test_compose_points_the_application_at_its_peers():
    env = _compose()["services"]["web"]["environment"]

    assert env["DJANGO_SETTINGS_MODULE"] == "ecandidat.settings.base"
    assert env["DATABASE_URL"].startswith("postgres://ecandidat:")
    assert env["DATABASE_URL"].endswith("@postgres:5432/ecandidat")
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["CLAMD_ADDRESS"] == "tcp://clamd:3310"
    assert env["AWS_S3_ENDPOINT_URL"] == "http://s3:9000"
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")  # no default secret: compose refuses to start without it


def test_every_variable_compose_sets_is_read_by_the_settings_and_documented():
    source = (BASE_DIR / "ecandidat" / "settings" / "base.py").read_text(encoding="utf-8")
    gunicorn = (BASE_DIR / "deploy" / "gunicorn.conf.py").read_text(encoding="utf-8")
    readme = (BASE_DIR / "README.md").read_text(encoding="utf-8")
    env = _compose()["services"]["web"]["environment"]

    unknown = [
        name
        for name in env
        if name != "DJANGO_SETTINGS_MODULE" and f'"{name}"' not in source and f'"{name}"' not in gunicorn
    ]
    undocumented = [
        name for name in env if f"`{name}`" not in readme and not name.startswith(("GUNICORN_", "DJANGO_"))
    ]
    assert unknown == []
    assert undocumented == []


def test_image_is_multi_stage_non_root_without_compiler_in_the_final_stage():
    stages = _dockerfile_stages()

    assert list(stages) == ["build", "runtime"]
    assert "build-essential" in stages["build"]
    final = stages["runtime"]
    assert not re.search(r"build-essential|\bgcc\b|\bcc\b|apt-get install", final)
    assert "COPY --from=build /opt/venv /opt/venv" in final
    users = re.findall(r"^USER (\S+)$", final, flags=re.M)
    assert users == ["ecandidat"]
    assert final.index("USER ecandidat") < final.index("CMD ")
    assert 'CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "ecandidat.wsgi"]' in final


def test_docker_context_leaves_out_the_local_state():
    ignored = (BASE_DIR / ".dockerignore").read_text(encoding="utf-8").split()

    assert {".git", ".venv", "var"} <= set(ignored)


DEPLOY = BASE_DIR / "deploy"
UNITS = ("ecandidat.service", "ecandidat-worker.service", "ecandidat-worker-long.service", "ecandidat-beat.service")


def _unit(name: str) -> dict[str, list[str]]:
    """A systemd unit's assignments (every section), each key with its values in order."""
    values: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            values.setdefault(key, []).append(value)
    return values


def _systemd_unescape(command: str) -> str:
    """What the process receives: systemd turns %% into % in ExecStart (the units use no other specifier)."""
    assert re.search(r"(?<!%)%[^%]", command.replace("%%", "")) is None, command
    return command.replace("%%", "%")


def test_the_units_run_the_code_as_the_service_user_with_the_production_settings():
    for name in UNITS:
        unit = _unit(name)
        assert unit["User"] == ["ecandidat"], name
        assert unit["Group"] == ["ecandidat"], name
        assert unit["WorkingDirectory"] == ["/srv/ecandidat"], name
        assert unit["Environment"][0] == "DJANGO_SETTINGS_MODULE=ecandidat.settings.base", name
        assert unit["EnvironmentFile"] == ["/etc/ecandidat/env"], name
        assert unit["ProtectSystem"] == ["strict"], name
        assert unit["ReadWritePaths"] == ["/srv/ecandidat/var"], name
        program = unit["ExecStart"][0].split()[0]
        assert program.startswith("/srv/ecandidat/.venv/bin/"), name
        # The program is one the virtualenv installs (requirements.txt), named as pip names it.
        assert os.path.exists(os.path.join(os.path.dirname(sys.executable), program.rsplit("/", 1)[1])), name
    web = _unit("ecandidat.service")
    assert web["ExecStartPre"] == ["/srv/ecandidat/.venv/bin/python manage.py check --deploy --fail-level ERROR"]
    assert web["ExecStart"] == ["/srv/ecandidat/.venv/bin/gunicorn -c deploy/gunicorn.conf.py ecandidat.wsgi"]
    beat = _systemd_unescape(_unit("ecandidat-beat.service")["ExecStart"][0]).split()
    # beat writes its schedule: it must be under the one writable path of the sandbox
    assert beat[beat.index("-s") + 1].startswith("/srv/ecandidat/var/")


def test_the_worker_name_is_one_celery_can_expand():
    # `-n worker@%%H` reached Celery as `worker@%H`, and Celery has no %H: "Unknown format %H", the worker unit never
    # started. %%h is systemd's escape for Celery's %h (this host's name).

    names = {}
    for unit in ("ecandidat-worker.service", "ecandidat-worker-long.service"):
        command = _systemd_unescape(_unit(unit)["ExecStart"][0]).split()
        assert command[1:4] == ["-A", "ecandidat", "worker"]
        name = command[command.index("-n") + 1]
        # systemd puts in CELERY_QUEUE (the unit's default, else /etc/ecandidat/env's) before Celery expands %h.
        names[unit] = host_format(name.replace("${CELERY_QUEUE}", "celery"), host="app1.univ.example")

    # Two workers on one host: two node names, each "worker-" and the queue it consumes.
    assert names == {
        "ecandidat-worker.service": "worker-celery@app1.univ.example",
        "ecandidat-worker-long.service": "worker-celery-long@app1.univ.example",
    }


def _settings_queues(celery_queue: str) -> list[str]:
    """CELERY_TASK_DEFAULT_QUEUE and CELERY_LONG_QUEUE as ecandidat.settings.base computes them with CELERY_QUEUE."""
    base = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    code = "import ecandidat.settings.base as s; print(s.CELERY_TASK_DEFAULT_QUEUE, s.CELERY_LONG_QUEUE)"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "ecandidat.settings.base",
            "SECRET_KEY": "x" * 60,
            "CELERY_QUEUE": celery_queue,
        },
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.split()


@pytest.mark.parametrize("celery_queue", ["celery", "recette"])
def test_the_main_worker_consumes_the_main_queue_only_and_the_long_worker_the_long_queue(celery_queue):
    # One worker took every task: four packs or exports (up to an hour each) held its four slots and every mail
    # (password reset, account validation, decisions) waited for them. The long ones are routed to CELERY_QUEUE-long
    # (CELERY_TASK_ROUTES), which only the long unit consumes; -Q names each unit's queue, with the variable the
    # settings read (the main unit's -Q is explicit: a worker without -Q consumes what Celery's version and a later
    # task_queues setting decide). Both units read CELERY_QUEUE from the same environment as the settings.
    main_queue, long_queue = _settings_queues(celery_queue)

    def consumed(unit: str) -> str:
        command = _systemd_unescape(_unit(unit)["ExecStart"][0]).split()
        return command[command.index("-Q") + 1].replace("${CELERY_QUEUE}", celery_queue)

    assert consumed("ecandidat-worker.service") == main_queue == celery_queue
    assert consumed("ecandidat-worker-long.service") == long_queue == f"{celery_queue}-long"
    for unit in ("ecandidat-worker.service", "ecandidat-worker-long.service"):
        assert "CELERY_QUEUE=celery" in _unit(unit)["Environment"]  # the default when /etc/ecandidat/env has none
    long_command = _systemd_unescape(_unit("ecandidat-worker-long.service")["ExecStart"][0]).split()
    assert "--concurrency=2" in long_command

    # compose: the same, CELERY_QUEUE from .env (or the shell) given to the containers as to the commands.
    services = _compose()["services"]
    assert services["web"]["environment"]["CELERY_QUEUE"] == "${CELERY_QUEUE:-celery}"

    def compose_consumed(name: str) -> str:
        command = services[name]["command"]
        return command[command.index("-Q") + 1].replace("${CELERY_QUEUE:-celery}", celery_queue)

    assert compose_consumed("worker") == main_queue
    assert compose_consumed("worker-long") == long_queue
    assert "--concurrency=2" in services["worker-long"]["command"]


def test_the_long_worker_unit_is_hardened_and_claims_as_the_main_one():
    main, long = _unit("ecandidat-worker.service"), _unit("ecandidat-worker-long.service")

    for key in (
        "User",
        "Group",
        "WorkingDirectory",
        "Environment",
        "EnvironmentFile",
        "RestartPreventExitStatus",
        "Restart",
        "KillSignal",
        "KillMode",
        "TimeoutStopSec",
        "NoNewPrivileges",
        "PrivateTmp",
        "ProtectSystem",
        "ProtectHome",
        "ReadWritePaths",
        "WantedBy",
    ):
        assert long[key] == main[key], key


def _longest_task_time_limit() -> int:
    """The longest hard time limit of the registered Celery tasks (a task's own, else CELERY_TASK_TIME_LIMIT)."""
    for config in apps.get_app_configs():  # autodiscovery's modules, without the worker's start-up (database)
        if importlib.util.find_spec(f"{config.name}.tasks"):
            importlib.import_module(f"{config.name}.tasks")
    limits = [task.time_limit or settings.CELERY_TASK_TIME_LIMIT for task in app.tasks.values()]
    return max([settings.CELERY_TASK_TIME_LIMIT, *limits])


def test_a_stopping_worker_is_given_the_time_of_its_longest_task():
    # systemd kills the worker after TimeoutStopSec; a task past its time limit is killed by Celery anyway, so waiting
    # longer than the longest (a commission pack or a decision release: 3700 s, not CELERY_TASK_TIME_LIMIT) lets every
    # running task end before the kill. Those two are claimed once: cut, a redelivery does nothing and they stayed
    # "en cours" for good.
    # Both workers: the long one runs them now, the main one still takes those the previous code queued on
    # CELERY_QUEUE before an upgrade.
    longest = _longest_task_time_limit()
    assert longest >= 3700
    for unit in ("ecandidat-worker.service", "ecandidat-worker-long.service"):
        worker = _unit(unit)
        assert worker["KillSignal"] == ["SIGTERM"], unit  # Celery's warm shutdown: no new task, running ones finish
        # ...sent to the main process only: with systemd's default (control-group) the pool's children got it too,
        # and a prefork child dies on SIGTERM (celery.concurrency.prefork resets it): the running tasks were cut.
        assert worker["KillMode"] == ["mixed"], unit
        assert int(worker["TimeoutStopSec"][0]) > longest, unit
    # The same under compose: docker stop's SIGKILL comes after stop_grace_period (10 s unless set).
    for service in ("worker", "worker-long"):
        grace = _compose()["services"][service]["stop_grace_period"]
        assert re.fullmatch(r"\d+s", grace)
        assert int(grace[:-1]) > longest


# A cron line's command: deploy/manage.sh (the sweeper's under flock), its output and its errors appended to its log,
# and only a failure's one line, naming the log, for cron's mail to MAILTO.
CRON_COMMAND = re.compile(
    r"(?:flock -n -E 0 (?P<lock>/srv/ecandidat/var/\w+\.lock) )?"
    r"/srv/ecandidat/deploy/manage\.sh (?P<command>\w+)(?: [^>]*)? >> (?P<log>/var/log/ecandidat/\w+\.log) 2>&1"
    r' \|\| echo "(?P<failed>\w+) failed \(exit \$\?\), see (?P<named_log>/var/log/ecandidat/\w+\.log)"'
)


def _crontab_jobs() -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """The crontab's variables, and its jobs as (minute, hour, command)."""
    variables, jobs = {}, []
    for line in (DEPLOY / "crontab").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if re.match(r"^[A-Z_]+=", line):
            name, value = line.split("=", 1)
            variables[name] = value
            continue
        minute, hour, _day, _month, _weekday, command = line.split(None, 5)
        jobs.append((minute, hour, command))
    return variables, jobs


def test_every_cron_line_runs_an_existing_command_through_deploy_manage_sh():
    # The earlier lines sourced /etc/ecandidat/env with the shell, which fails on a value systemd accepts
    # (INSTITUTION_NAME=Université de Perpignan): every batch and the mail sweeper failed. deploy/manage.sh reads it
    # as systemd does (test below).
    _variables, jobs = _crontab_jobs()
    commands = get_commands()

    assert len(jobs) >= 3
    for _minute, _hour, command in jobs:
        match = CRON_COMMAND.fullmatch(command)
        assert match, command
        assert match["command"] in commands, command
    assert {re.search(r"manage\.sh (\w+)", command).group(1) for *_, command in jobs} >= {
        "nightly",
        "send_pending_mails",
        "django_cas_ng_clean_sessions",
        "clearsessions",  # nothing else deletes an expired session (nor its ENT single-logout rows)
    }


def _cron_lines() -> list[str]:
    """Every command of the crontab, the commented SIS import's included."""
    _variables, jobs = _crontab_jobs()
    return [command for *_, command in jobs] + [command for *_, command in _commented_crontab_jobs()]


def test_each_cron_line_writes_its_errors_to_its_log_and_mails_only_that_it_failed():
    # stderr went to MAILTO: the INFO lines of each successful night and each sweeper minute that sent mails (« mail
    # X sent to <candidate's address> ») were mailed, against the crontab's own « errors to MAILTO ».
    lines = _cron_lines()

    assert len(lines) >= 5
    for command in lines:
        match = CRON_COMMAND.fullmatch(command)
        assert match, command
        assert match["failed"] == match["command"], command  # the mail names the command that failed...
        assert match["named_log"] == match["log"], command  # ...and the log its output went to
    logs = {CRON_COMMAND.fullmatch(command)["command"]: CRON_COMMAND.fullmatch(command)["log"] for command in lines}
    # The log files the crontab always had.
    assert logs["nightly"] == logs["clearsessions"] == "/var/log/ecandidat/nightly.log"
    assert logs["send_pending_mails"] == "/var/log/ecandidat/mail.log"
    assert logs["import_sis"] == "/var/log/ecandidat/sis.log"


def test_only_the_every_minute_sweeper_runs_under_a_lock_in_the_units_var_dir():
    # A sweeper held by a database that never answered was joined by another every minute (~157 MB each).
    _variables, jobs = _crontab_jobs()
    locked = {
        CRON_COMMAND.fullmatch(command)["command"]: CRON_COMMAND.fullmatch(command)["lock"] for *_, command in jobs
    }
    every_minute = [command for minute, hour, command in jobs if (minute, hour) == ("*", "*")]

    assert [CRON_COMMAND.fullmatch(command)["command"] for command in every_minute] == ["send_pending_mails"]
    assert locked.pop("send_pending_mails") == "/srv/ecandidat/var/send_pending_mails.lock"
    assert set(locked.values()) == {None}  # the nightly batches claim their runs themselves (batch history)
    for unit in ("ecandidat", "ecandidat-worker", "ecandidat-beat"):
        assert "ReadWritePaths=/srv/ecandidat/var" in (DEPLOY / f"{unit}.service").read_text(encoding="utf-8")


def _run_cron_line(command: str, tmp_path, *, exit_status: int, sleep: float = 0.0) -> subprocess.CompletedProcess:
    """``command`` as cron runs it (SHELL=/bin/sh), with a deploy/manage.sh that writes to stdout and to stderr (a
    candidate's address in an INFO line) and exits ``exit_status``, and the log and lock folders under ``tmp_path``.
    What it prints is what cron mails to MAILTO."""
    fake = tmp_path / "manage.sh"
    fake.write_text(
        "#!/bin/sh\n"
        'echo "summary of $1"\n'
        'echo "INFO mail 7 sent to jeanne.candidate@example.org" >&2\n'
        f"sleep {sleep}\n"
        f"exit {exit_status}\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    (tmp_path / "log").mkdir(exist_ok=True)
    (tmp_path / "var").mkdir(exist_ok=True)
    local = (
        command.replace("/srv/ecandidat/deploy/manage.sh", str(fake))
        .replace("/var/log/ecandidat/", f"{tmp_path}/log/")
        .replace("/srv/ecandidat/var/", f"{tmp_path}/var/")
    )
    return subprocess.run(["/bin/sh", "-c", local], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", ["nightly", "send_pending_mails", "clearsessions", "import_sis"])
def test_a_cron_line_mails_nothing_on_success_and_one_line_without_personal_data_on_failure(tmp_path, name):
    command = next(line for line in _cron_lines() if CRON_COMMAND.fullmatch(line)["command"] == name)
    log = tmp_path / "log" / CRON_COMMAND.fullmatch(command)["log"].rsplit("/", 1)[1]

    succeeded = _run_cron_line(command, tmp_path, exit_status=0)

    assert (succeeded.returncode, succeeded.stdout, succeeded.stderr) == (0, "", "")  # no mail
    assert f"summary of {name}" in log.read_text()  # stdout in the log, as before
    assert "jeanne.candidate@example.org" in log.read_text()  # stderr too, not in cron's mail

    failed = _run_cron_line(command, tmp_path, exit_status=3)

    assert failed.stderr == ""
    assert failed.stdout == f"{name} failed (exit 3), see /var/log/ecandidat/{log.name}\n".replace(
        "/var/log/ecandidat/", f"{tmp_path}/log/"
    )
    assert "@" not in failed.stdout.replace(str(tmp_path), "")
    assert log.read_text().count("jeanne.candidate@example.org") == 2


def test_a_sweeper_still_running_is_not_joined_by_the_next_minutes_one(tmp_path):
    command = next(line for line in _cron_lines() if CRON_COMMAND.fullmatch(line)["command"] == "send_pending_mails")
    (tmp_path / "var").mkdir()
    lock = tmp_path / "var" / CRON_COMMAND.fullmatch(command)["lock"].rsplit("/", 1)[1]

    with open(lock, "w") as held:  # the previous minute's sweeper, still running
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        skipped = _run_cron_line(command, tmp_path, exit_status=3)

        assert (skipped.returncode, skipped.stdout, skipped.stderr) == (0, "", "")  # not started, no mail
        assert not (tmp_path / "log" / "mail.log").read_text()
    ran = _run_cron_line(command, tmp_path, exit_status=0)  # once it ended, the next one runs

    assert ran.returncode == 0
    assert "summary of send_pending_mails" in (tmp_path / "log" / "mail.log").read_text()


def _inside_window(moment: time) -> bool:
    start, end = settings.MAINTENANCE_START, settings.MAINTENANCE_END
    return start <= moment or moment < end if start > end else start <= moment < end


def _maintenance_jobs() -> list[tuple[int, int, str]]:
    """The crontab's jobs at a fixed hour (the maintenance batches), as (minute, hour, command); the mail sweeper runs
    every minute, all day, on purpose."""
    _variables, jobs = _crontab_jobs()
    return [(int(minute), int(hour), command) for minute, hour, command in jobs if minute.isdigit() and hour.isdigit()]


# An overseas university sets its own TIME_ZONE; the crontab's hours must then be read in it too.
OVERSEAS_TIME_ZONES = ["America/Martinique", "America/Cayenne", "Indian/Reunion", "Pacific/Noumea", "Pacific/Tahiti"]


@pytest.mark.parametrize("time_zone", ["Europe/Paris", *OVERSEAS_TIME_ZONES])
def test_each_maintenance_batch_starts_inside_the_window_read_in_the_cron_tz_it_states(settings, time_zone):
    # The crontab states CRON_TZ=Europe/Paris, TIME_ZONE's default; an installation in another TIME_ZONE writes its
    # own CRON_TZ, as the crontab says. The window is read in TIME_ZONE (ecandidat.maintenance.in_window).
    variables, _jobs = _crontab_jobs()
    assert variables["CRON_TZ"] == base.TIME_ZONE == "Europe/Paris"
    cron_tz = variables["CRON_TZ"] if time_zone == base.TIME_ZONE else time_zone
    settings.TIME_ZONE = time_zone
    jobs = _maintenance_jobs()

    assert {re.search(r"manage\.sh (\w+)", command).group(1) for *_, command in jobs} >= {"nightly", "clearsessions"}
    for minute, hour, command in jobs:
        for day in (datetime(2027, 1, 15), datetime(2027, 7, 15)):  # winter and summer time
            start = day.replace(hour=hour, minute=minute, tzinfo=ZoneInfo(cron_tz))
            assert in_window(start), (command, cron_tz, start)


@pytest.mark.parametrize("time_zone", [name for name in OVERSEAS_TIME_ZONES if name != "Indian/Reunion"])
def test_a_cron_tz_left_at_europe_paris_overseas_runs_the_batches_in_the_day(settings, time_zone):
    # Why CRON_TZ must be TIME_ZONE: 23:00 in Paris is 17:00 or 18:00 in Martinique, 08:00 or 09:00 in Nouméa (in
    # La Réunion, 01:00 or 02:00: inside the window by chance).
    settings.TIME_ZONE = time_zone
    nightly = [(minute, hour) for minute, hour, command in _maintenance_jobs() if "manage.sh nightly " in command]

    assert nightly
    for minute, hour in nightly:
        assert not in_window(datetime(2027, 1, 15, hour, minute, tzinfo=ZoneInfo("Europe/Paris")))


def test_the_crontab_and_the_readme_say_cron_tz_must_be_time_zone():
    # Their earlier advice, "set the server to Europe/Paris or UTC", gave the wrong hours to any other TIME_ZONE.
    crontab = (DEPLOY / "crontab").read_text(encoding="utf-8")
    readme = (BASE_DIR / "README.md").read_text(encoding="utf-8")
    compose = (BASE_DIR / "compose.yaml").read_text(encoding="utf-8")
    comments = " ".join(line.lstrip("# ") for line in crontab.splitlines() if line.startswith("#"))

    assert "CRON_TZ must be the TIME_ZONE of /etc/ecandidat/env" in comments
    assert "set the server's timezone to TIME_ZONE" in comments
    assert "Europe/Paris or UTC" not in comments
    assert "`CRON_TZ` must be your\n`TIME_ZONE`" in readme
    assert "with `CRON_TZ` set to your `TIME_ZONE`" in readme  # the host's cron of the compose deployment
    assert "CRON_TZ set to TIME_ZONE" in compose
    assert "`manage.py nightly --force`" in readme


def test_the_nightly_lines_run_inside_the_maintenance_window_whether_cron_reads_cron_tz_or_not():
    # With TIME_ZONE=Europe/Paris (the default), cronie reads the hours in CRON_TZ; Debian's cron ignores CRON_TZ and
    # reads them in the server's timezone, UTC on most servers. Both readings, in winter and in summer time, must land
    # inside 22:45-06:00 Paris (the crontab says a UTC server does for Europe/Paris only).
    variables, _jobs = _crontab_jobs()
    assert variables["CRON_TZ"] == settings.TIME_ZONE == "Europe/Paris"
    paris = ZoneInfo("Europe/Paris")
    nightly = _maintenance_jobs()

    assert nightly
    for minute, hour, command in nightly:
        for day in (datetime(2027, 1, 15), datetime(2027, 7, 15)):
            for reading in (paris, ZoneInfo("UTC")):
                run = day.replace(hour=hour, minute=minute, tzinfo=reading).astimezone(paris)
                assert _inside_window(run.time()), (command, reading, run)


def _commented_crontab_jobs() -> list[tuple[int, int, str]]:
    """The jobs the crontab ships commented, for an installation to uncomment (the SIS import), as (minute, hour,
    command)."""
    jobs = []
    for line in (DEPLOY / "crontab").read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"#\s*(\d+) (\d+) \* \* \* (/srv/ecandidat/deploy/manage\.sh .+)", line)
        if match:
            jobs.append((int(match.group(1)), int(match.group(2)), match.group(3)))
    return jobs


@pytest.mark.parametrize("time_zone", ["Europe/Paris", *OVERSEAS_TIME_ZONES])
def test_the_commented_sis_import_runs_once_uncommented_inside_the_window_before_nightly(settings, time_zone):
    # README said the CSV export is loaded by `import_sis FILE` "nightly from cron", and sync_sis (in nightly) runs
    # after it: the crontab had no such line. It ships commented (the file's path is the university's).
    variables, _jobs = _crontab_jobs()
    settings.TIME_ZONE = time_zone
    cron_tz = variables["CRON_TZ"] if time_zone == "Europe/Paris" else time_zone
    nightly = [(hour, minute) for minute, hour, command in _maintenance_jobs() if "manage.sh nightly " in command]
    imports = [job for job in _commented_crontab_jobs() if "manage.sh import_sis " in job[2]]

    assert len(imports) == 1
    minute, hour, command = imports[0]
    match = CRON_COMMAND.fullmatch(command)
    assert match, command
    assert re.fullmatch(r"import_sis /\S+\.csv", command.split("manage.sh ", 1)[1].split(" >> ", 1)[0])
    assert (match["failed"], match["named_log"], match["lock"]) == ("import_sis", match["log"], None)
    assert "import_sis" in get_commands()
    assert "sync_sis" in import_string("ecandidat.management.commands.nightly.BATCHES")
    assert nightly
    assert all((22, 45) <= (hour, minute) < start for start in nightly)  # the same evening, before nightly
    readings = [ZoneInfo(cron_tz)] + ([ZoneInfo("UTC")] if time_zone == "Europe/Paris" else [])
    for day in (datetime(2027, 1, 15), datetime(2027, 7, 15)):
        for reading in readings:  # cronie reads CRON_TZ; Debian's cron the server's timezone (UTC, Paris only)
            start = day.replace(hour=hour, minute=minute, tzinfo=reading)
            assert in_window(start), (command, reading, start)


def test_the_readme_and_the_sis_format_point_to_the_crontabs_import_line():
    readme = (BASE_DIR / "README.md").read_text(encoding="utf-8")
    sis_format = (BASE_DIR / "docs" / "sis-format.md").read_text(encoding="utf-8")

    assert "the commented `import_sis` line of `deploy/crontab`" in readme
    assert "uncomment the `import_sis` line of `deploy/crontab`" in readme
    assert "`deploy/crontab` has\nits line, commented" in sis_format


def _gunicorn_config() -> dict:
    return {
        name: value
        for name, value in runpy.run_path(str(DEPLOY / "gunicorn.conf.py")).items()
        if not name.startswith("_") and not isinstance(value, type(os))  # its settings and hooks, not its imports
    }


def test_gunicorn_accepts_its_configuration_and_opens_no_control_socket_under_home():
    # gunicorn >= 25.1 opens a control socket under $HOME by default; the service user's home is the root-owned code
    # (and ProtectSystem=strict), so each start logged "Control server error: Permission denied".
    config = Config()
    for name, value in _gunicorn_config().items():
        config.set(name, value)  # gunicorn's own validation: an unknown or malformed setting raises

    assert config.control_socket_disable is True
    assert config.preload_app is True
    assert config.bind == [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]


def test_gunicorn_freezes_what_the_master_preloaded_before_each_fork():
    # The workers' collections then skip Django's own objects (a full one after each dossier PDF: ~150 ms to ~5 ms).
    config = Config()
    config.set("pre_fork", _gunicorn_config()["pre_fork"])
    try:
        gc.unfreeze()
        config.pre_fork(None, None)

        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()


def _nginx_example() -> str:
    return (DEPLOY / "nginx.conf.example").read_text(encoding="utf-8")


def test_the_nginx_example_runs_on_debian_12s_nginx_and_fits_gunicorn_and_the_uploads():
    text = _nginx_example()
    directives = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    directives = [line for line in directives if line]

    # `http2 on;` needs nginx >= 1.25.1: Debian 12's 1.22 stops with "unknown directive" (nginx -t).
    assert not any(line.startswith("http2 ") for line in directives)
    assert text.count("{") == text.count("}")
    # gunicorn kills a request at its timeout: nginx must wait a little longer, so the error is gunicorn's.
    read_timeout = int(re.search(r"proxy_read_timeout (\d+)s;", text).group(1))
    assert read_timeout > _gunicorn_config()["timeout"]
    # What a candidate may post must reach Django, which answers with its French message: without JavaScript, up to
    # MAX_PAGES photos of UPLOAD_MAX_BYTES each in one post (documents/merge.py, read as text: the ecandidat layer
    # imports no app above it), plus the form.
    merge = (BASE_DIR / "documents" / "merge.py").read_text(encoding="utf-8")
    max_pages = int(re.search(r"^MAX_PAGES = (\d+)$", merge, flags=re.M).group(1))

    body = re.search(r"client_max_body_size (\d+)m;", text).group(1)
    assert int(body) * 1024 * 1024 >= max_pages * settings.UPLOAD_MAX_BYTES + 1024 * 1024
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in text
    upstream = re.search(r"upstream (\w+) \{", text).group(1)
    assert f"proxy_pass http://{upstream};" in text
    # nginx serves what collectstatic writes (STATIC_ROOT's default, var/static, under the units' code directory)
    assert "alias /srv/ecandidat/var/static/;" in text


def test_nginx_speaks_http_1_1_to_gunicorn_so_a_cut_stream_is_a_failed_download():
    # In HTTP/1.0 gunicorn ends an answer without Content-Length (the CSV exports) by closing the connection, and a
    # worker killed mid-stream reached the browser as a complete, truncated file; in HTTP/1.1 it chunks, and nginx
    # cuts the download (applications/tests/test_integration_nginx_cut_stream.py runs this block).
    block = re.search(r"\n    location / \{([^}]*)\}", _nginx_example()).group(1)
    directives = [line.split("#", 1)[0].strip() for line in block.splitlines()]

    assert "proxy_http_version 1.1;" in directives


def test_nginx_refuses_other_host_names_before_django():
    # A scanner's request for the bare IP address or a name of its own reached Django, which logged a DisallowedHost
    # at each one: the default servers of both ports close the connection (444), the TLS one without showing the
    # certificate (ssl_reject_handshake), and the site's own servers are not the default.
    text = _nginx_example()
    servers = re.findall(r"^server \{\n(.*?)^\}", text, flags=re.S | re.M)
    default = [block for block in servers if "default_server" in block]
    assert len(default) == 2
    listens = sorted(re.findall(r"^    listen (?:\[::\]:)?(\d+)[^;]* default_server;", "".join(default), flags=re.M))
    assert listens == ["443", "443", "80", "80"]
    for block in default:
        assert "server_name _;" in block
        assert "    return 444;" in block
    assert "    ssl_reject_handshake on;" in next(block for block in default if "443" in block)
    assert all("server_name ecandidat.example.org;" in block for block in servers if block not in default)


def test_nginx_answers_its_own_errors_with_the_french_pages_of_deploy_errors():
    # nginx's built-in pages are English ("413 Request Entity Too Large", "502 Bad Gateway"): a candidate whose photos
    # are over the limit, or who posts while gunicorn restarts, gets a French page saying whether anything was kept.
    text = _nginx_example()
    pages = dict(re.findall(r"error_page ([\d ]+) /_nginx_errors/([\w.]+);", text))
    assert set(" ".join(pages).split()) == {"413", "502", "504"}
    block = re.search(r"location \^~ /_nginx_errors/ \{(.*?)\}", text, flags=re.S).group(1)
    assert "alias /srv/ecandidat/deploy/errors/;" in block
    assert "internal;" in block
    # Over HTTP/2 the redirect checks the body again: a limit here turns the 413 page into a 500 (seen on nginx 1.22).
    assert "client_max_body_size 0;" in block
    for codes, name in pages.items():
        page = (BASE_DIR / "deploy" / "errors" / name).read_text(encoding="utf-8")
        assert '<html lang="fr">' in page
        assert f"Erreur {codes.split()[0]}" in page
        # Served by nginx alone, gunicorn possibly down: nothing but the collected stylesheet, no template syntax.
        assert set(re.findall(r'(?:href|src)="([^"#]+)"', page)) == {"/static/css/app.css", "data:,", "/"}
        assert "{%" not in page
        assert "{{" not in page
    assert "Rien n'a été enregistré" in (BASE_DIR / "deploy" / "errors" / "413.html").read_text(encoding="utf-8")


def _protected_media_location(text: str) -> tuple[str, str]:
    """The example's internal location for large downloads: its URI prefix and its body."""
    match = re.search(r"location \^~ (/\S*/) \{([^}]*alias /srv/ecandidat/var/media/;[^}]*)\}", text)
    assert match, "no location aliased to the documented MEDIA_ROOT"
    return match.group(1), match.group(2)


def test_large_downloads_go_through_an_internal_location_on_the_documented_media_root():
    # Commission packs (~1.7 GB for 500 dossiers) streamed by a sync worker were cut at gunicorn's timeout; with
    # DOWNLOAD_ACCEL_REDIRECT_PREFIX set, Django answers X-Accel-Redirect: <prefix><name> and nginx sends the file.

    text = _nginx_example()
    prefix, block = _protected_media_location(text)
    directives = {line.split("#", 1)[0].strip() for line in block.splitlines()} - {""}

    # The prefix the example tells to set is the location's, and one the settings accept.
    assert f"DOWNLOAD_ACCEL_REDIRECT_PREFIX={prefix}" in text
    assert re.fullmatch(r"/[\w./-]*/", prefix)
    assert base.DOWNLOAD_ACCEL_REDIRECT_PREFIX == ""  # off unless the deployment says so
    # Never reachable from outside: only Django's answer, after its access check, leads there.
    assert "internal;" in directives
    # The alias is MEDIA_ROOT of the documented install: the code in /srv/ecandidat, MEDIA_ROOT's default under it
    # (VAR_DIR/media), the folder the README creates.
    source = (BASE_DIR / "ecandidat" / "settings" / "base.py").read_text(encoding="utf-8")
    assert 'VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))' in source
    assert 'MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))' in source
    assert "-m 0750 /srv/ecandidat/var/media " in (BASE_DIR / "README.md").read_text(encoding="utf-8")
    # nginx keeps only Content-Type, Content-Disposition and Cache-Control of Django's answer: the rest is set here.
    assert {
        "add_header X-Content-Type-Options nosniff always;",
        "add_header X-Frame-Options DENY always;",
        "add_header Referrer-Policy same-origin always;",
        """add_header Content-Security-Policy "default-src 'none'; sandbox" always;""",
        # SECURE_HSTS_SECONDS and SECURE_HSTS_INCLUDE_SUBDOMAINS's defaults
        'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;',
    } <= directives
    # Not under a location that would serve it publicly.
    assert not prefix.startswith(("/static/", "/_nginx_errors/"))


def test_large_downloads_on_s3_go_through_an_internal_location_that_hides_the_bucket():
    # With the files on S3, Django answers X-Accel-Redirect: <prefix><scheme>/<host>/<path>?<query> of a signed URL
    # (ecandidat/downloads.py) and nginx fetches it; the integration test (applications/tests/
    # test_integration_pack_nginx_s3.py) runs this block. What it cannot see is checked here.
    text = _nginx_example()
    captures = "(?<s3_scheme>https?)/(?<s3_host>[^/]+)/(?<s3_path>.*)$ {"
    match = re.search(r"location ~ \^(/[\w./-]*/)" + re.escape(captures) + r"([^}]*)\}", text)
    assert match, "no internal location for the files on S3"
    prefix, block = match.groups()
    directives = [line.split("#", 1)[0].strip() for line in block.splitlines()]

    assert f"DOWNLOAD_ACCEL_REDIRECT_PREFIX={prefix}" in text
    assert re.fullmatch(r"/[\w./-]*/", prefix)
    assert "internal;" in directives
    assert "proxy_pass $s3_scheme://$s3_host/$s3_path$is_args$args;" in directives
    # Nothing of the browser's request reaches the bucket but the range: not its session cookie.
    assert "proxy_pass_request_headers off;" in directives
    assert sorted(d for d in directives if d.startswith("proxy_set_header")) == [
        "proxy_set_header Host $s3_host;",
        "proxy_set_header If-Range $http_if_range;",
        "proxy_set_header Range $http_range;",
    ]
    # The bucket is a TLS peer like any other: its certificate is checked (nginx does not by default).
    assert "proxy_ssl_verify on;" in directives
    assert "proxy_ssl_server_name on;" in directives
    # Passed on as it comes: not buffered to disk up to proxy_max_temp_file_size (1 GB) then cut.
    assert "proxy_buffering off;" in directives
    assert any(d.startswith("resolver ") for d in directives)
    assert {
        "add_header X-Content-Type-Options nosniff always;",
        "add_header X-Frame-Options DENY always;",
        "add_header Referrer-Policy same-origin always;",
        """add_header Content-Security-Policy "default-src 'none'; sandbox" always;""",
        'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;',
    } <= set(directives)
    # The headers the bucket adds are hidden; those the browser needs are kept.
    hidden = {d.split()[1].lower().rstrip(";") for d in directives if d.startswith("proxy_hide_header")}
    assert {"x-amz-request-id", "x-amz-id-2", "x-amz-server-side-encryption-aws-kms-key-id", "set-cookie"} <= hidden
    assert not hidden & {"content-type", "content-disposition", "content-length", "content-range", "etag"}


def test_static_files_are_written_readable_by_nginx(tmp_path):
    # FILE_UPLOAD_PERMISSIONS (0640, for the private pieces) also applied to collectstatic's copies and manifest:
    # nginx, another user, answered 403 for every stylesheet; in the image (collectstatic as root at build, gunicorn
    # as ecandidat) every page failed on staticfiles.json (PermissionError). The test settings replace STORAGES, so
    # this reads the production one.

    static = base.STORAGES["staticfiles"]
    storage = import_string(static["BACKEND"])(location=tmp_path / "static", **static.get("OPTIONS", {}))

    name = storage._save("css/app.css", ContentFile(b"a{}"))

    assert base.FILE_UPLOAD_PERMISSIONS == 0o640  # the pieces stay private
    assert (tmp_path / "static" / name).stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "static" / "css").stat().st_mode & 0o777 == 0o755


ENV_FILE = """# the university's settings (systemd's EnvironmentFile syntax)
; another comment
  SECRET_KEY = {key}
INSTITUTION_NAME=Université de Perpignan Via Domitia
LDAP_STAFF_FILTER=(|(eduPersonAffiliation=staff)(eduPersonAffiliation=faculty))
LDAP_BIND_PASSWORD=p@$$w0rd;&`id` "q"
LEGAL_HOST='DSI, 52 avenue Paul Alduy'
PERSONAL_DATA_OFFICE="la sous-direction $HOME"
DATABASE_URL=sqlite:///{database}
CLAMD_ADDRESS=none
"""


def _manage_sh(env_file, *args):
    base = {name: os.environ[name] for name in ("PATH", "LANG") if name in os.environ}
    return subprocess.run(
        [str(DEPLOY / "manage.sh"), *args],
        env={**base, "ECANDIDAT_ENV_FILE": str(env_file), "ECANDIDAT_PYTHON": sys.executable},
        cwd="/",
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_manage_sh_reads_the_environment_file_as_systemd_does(tmp_path):
    env_file = tmp_path / "env"
    key = "k" + "".join(chr(65 + index % 26) + str(index) for index in range(30))
    env_file.write_text(ENV_FILE.format(key=key, database=tmp_path / "db.sqlite3"), encoding="utf-8")
    names = ("SECRET_KEY", "INSTITUTION_NAME", "LDAP_STAFF_FILTER", "LDAP_BIND_PASSWORD", "LEGAL_HOST")
    names += ("PERSONAL_DATA_OFFICE", "DJANGO_SETTINGS_MODULE")
    script = f"import os, json; from django.conf import settings; print(json.dumps([os.environ[n] for n in {names!r}]"
    script += " + [settings.INSTITUTION_NAME, settings.DEBUG]))"

    result = _manage_sh(env_file, "shell", "-c", script)

    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout.strip().splitlines()[-1]) == [
        key,
        "Université de Perpignan Via Domitia",
        "(|(eduPersonAffiliation=staff)(eduPersonAffiliation=faculty))",
        'p@$$w0rd;&`id` "q"',  # verbatim: no expansion, no command run
        "DSI, 52 avenue Paul Alduy",
        "la sous-direction $HOME",
        "ecandidat.settings.base",  # the production settings, whatever manage.py's default
        "Université de Perpignan Via Domitia",
        False,
    ]
    assert os.access(DEPLOY / "manage.sh", os.X_OK)  # cron runs it directly


def test_manage_sh_says_which_file_it_cannot_use(tmp_path):
    missing = _manage_sh(tmp_path / "absent", "check")
    bad = tmp_path / "env"
    bad.write_text("1SECRET=x\n", encoding="utf-8")
    malformed = _manage_sh(bad, "check")

    assert missing.returncode == 78
    assert f"cannot read the environment file {tmp_path / 'absent'}" in missing.stderr
    assert malformed.returncode == 78
    assert "'1SECRET' is not a variable name" in malformed.stderr


def test_each_celery_pool_process_freezes_what_it_inherited():
    # The pack builder's collection after each dossier then skips what the worker's main process loaded.
    connected = [receiver() for _key, receiver in signals.worker_process_init.receivers]
    assert freeze_what_the_process_inherited in connected
    try:
        gc.unfreeze()
        freeze_what_the_process_inherited()

        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
