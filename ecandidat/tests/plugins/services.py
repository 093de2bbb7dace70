"""Real peers for the integration tests: an SMTP server on loopback, a Celery worker process on Redis and the
development ENT (an OpenID Connect provider, its own process).

The worker is a separate ``celery worker`` process using ``ecandidat.settings.base`` (not the test settings, which
force eager tasks), connected to the *test* database, so these tests need PostgreSQL (``DATABASE_URL``) and Redis
(``REDIS_URL``). Without them they fail with a clear message; ``make test`` only selects them when both are set.
"""

import asyncio
import contextlib
import importlib.util
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.db import connection, connections

from ecandidat.celery import app

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
BASE_DIR = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.2, message: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout:.0f}s waiting for {message}")
        time.sleep(interval)


class SMTPServer:
    """aiosmtpd on 127.0.0.1 that keeps every message it accepts; can be stopped and restarted on the same port.

    ``hold()`` makes the next DATA wait before answering (``held`` is set once a message is waiting there), so that a
    test can kill the client in the middle of the conversation; ``release(accept=False)`` then answers 421 and keeps
    nothing: the message was never accepted. ``refuse`` maps recipient addresses to the reply their ``RCPT TO``
    gets instead of 250 (e.g. ``"550 5.1.1 No such user"``).
    """

    def __init__(self):
        self.host = "127.0.0.1"
        self.port = free_port()
        self.messages = []  # email.message.EmailMessage objects, in order of arrival
        self._controller = None
        self.held = threading.Event()
        self._holding = False
        self._released = threading.Event()
        self._accept_held = True
        self.refuse: dict[str, str] = {}

    def hold(self):
        self._holding, self._accept_held = True, True
        self.held.clear()
        self._released.clear()

    def release(self, *, accept: bool = True):
        self._holding, self._accept_held = False, accept
        self._released.set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's handler protocol)
        if self._holding:
            self.held.set()
            while not self._released.is_set():
                await asyncio.sleep(0.05)
            if not self._accept_held:
                return "421 Service not available, closing transmission channel"
        message = message_from_bytes(envelope.content, policy=policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def start(self):
        self._controller = Controller(self, hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self):
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"


@pytest.fixture
def smtp_server():
    server = SMTPServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _require_peers():
    missing = []
    if not os.environ.get("REDIS_URL"):
        missing.append("REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
    if connection.vendor != "postgresql":
        missing.append("DATABASE_URL on PostgreSQL (e.g. postgres://postgres@127.0.0.1:5432/ecandidat)")
    if missing:
        pytest.fail(
            "Integration tests start a real Celery worker that must share the test database and a Redis broker; "
            "set " + " and ".join(missing) + ". (make test selects them only when both are set.)"
        )


def _worker_database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database, not the configured one)."""
    s = connection.settings_dict
    credentials = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        credentials += ":" + quote(s["PASSWORD"], safe="")
    host = s["HOST"] or "127.0.0.1"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{credentials}@{host}{port}/{quote(s['NAME'], safe='')}"


class WorkerProcess:
    def __init__(self, process, log_path, queues=(), env=None):
        self.process = process
        self.log_path = log_path
        self.queues = list(queues)  # what it consumes (-Q)
        self.env = env or {}  # its environment, for a second worker of the same test

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_worker_process(queues: list[str], env: dict[str, str], log_path: Path) -> WorkerProcess:
    """A real ``celery -A ecandidat worker --pool=solo`` (one task at a time) consuming ``queues`` only, ready; its
    output in ``log_path``. The caller stops it (``WorkerProcess.stop``)."""
    with log_path.open("wb") as log_file:  # the child keeps its own descriptor
        cmd = [sys.executable, "-m", "celery", "-A", "ecandidat", "worker", "--pool=solo", "-l", "info"]
        cmd += ["-Q", ",".join(queues), "--without-gossip", "--without-mingle", "--without-heartbeat"]
        cmd += ["-n", f"{queues[0]}@%h"]
        process = subprocess.Popen(cmd, cwd=BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT)  # noqa: S603
    worker = WorkerProcess(process, log_path, queues, env)
    try:
        wait_until(
            lambda: process.poll() is not None or " ready." in worker.log(),
            timeout=60,
            message="the Celery worker to be ready",
        )
    except BaseException:
        worker.stop()
        raise
    if process.poll() is not None:
        pytest.fail(f"The Celery worker exited with {process.returncode}:\n{worker.log()}")
    return worker


@pytest.fixture
def smtp_mailer(smtp_server, settings):
    """This process's mails go to ``smtp_server`` (the sweeper run by a test, eager tasks) instead of locmem."""
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": smtp_server.host, "port": smtp_server.port, "timeout": 5},
        }
    }
    return smtp_server


class TCPProxy:
    """A TCP relay on 127.0.0.1 in front of a server (Redis), that a test can close and open again on the same port.

    ``close()`` stops listening and cuts every relayed connection, as when the network to Redis goes away;
    ``open()`` listens again. Used to make the broker unreachable at the moment a transaction commits.
    """

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def open(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def close(self):
        listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone does not on Linux.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = [thread for thread in self._threads if thread.is_alive()]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def _accept(self, listener):
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # close() ran since accept(): it could not cut this pair, cut it
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=self._pump, args=(source, sink), daemon=True)
                thread.start()
                self._threads.append(thread)

    @staticmethod
    def _pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def redis_proxy():
    """A :class:`TCPProxy` in front of ``REDIS_URL``'s server, open."""
    if not os.environ.get("REDIS_URL"):
        pytest.fail("This test needs Redis: set REDIS_URL (e.g. redis://127.0.0.1:6379/0).")
    target = urlsplit(os.environ["REDIS_URL"])
    proxy = TCPProxy(target.hostname or "127.0.0.1", target.port or 6379)
    proxy.open()
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def worker_env():
    """Extra environment for ``celery_worker_process`` (override it in a test module)."""
    return {}


@pytest.fixture
def worker_consumes_long_queue():
    """Whether ``celery_worker_process`` also consumes the long queue (packs, exports, releases of decisions: the
    settings' CELERY_TASK_ROUTES), as ``make worker`` does. A module overrides it with False to run the worker as
    production's main unit (deploy/ecandidat-worker.service), which consumes the main queue only."""
    return True


def _forget_routing() -> None:
    """Celery's cached queues and router, rebuilt from ``app.conf`` on their next use."""
    for cached in ("queues", "default_queue", "router"):
        app.amqp.__dict__.pop(cached, None)
    app.amqp.flush_routes()


@pytest.fixture
def celery_worker_process(transactional_db, smtp_server, settings, tmp_path, worker_env, worker_consumes_long_queue):
    """A real ``celery -A ecandidat worker --pool=solo`` on a queue private to this test and its long queue
    (``<queue>-long``, unless ``worker_consumes_long_queue`` is False), sending through ``smtp_server``; tasks enqueued
    by the test process are published to Redis, not run eagerly, the long ones (CELERY_TASK_ROUTES) to that long
    queue. The worker has the same CELERY_QUEUE, so that the tasks it publishes itself (a sweeper's requeue) go to
    this test's queues too."""
    _require_peers()

    queue = f"ecandidat-test-{secrets.token_hex(6)}"
    long_queue = f"{queue}-long"  # as the settings derive CELERY_LONG_QUEUE from CELERY_QUEUE
    redis_url = os.environ["REDIS_URL"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecandidat.settings.base",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "DATABASE_URL": _worker_database_url(),
        "REDIS_URL": redis_url,
        "EMAIL_URL": f"{smtp_server.url}?timeout=5",
        "LOG_LEVEL": "INFO",
        "CELERY_QUEUE": queue,  # its cache keys follow it (CACHE_KEY_PREFIX unless set): this test's own
        **worker_env,
    }
    # Saved before the settings change: app.conf is read from the settings lazily, on its first use, and a copy taken
    # afterwards would "restore" non-eager tasks for the rest of the session (seen with the browser tests).
    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url", "task_default_queue", "task_routes")}
    # This process publishes the long tasks to this test's long queue, as the settings route them to theirs.
    routes = {
        name: {**route, "queue": long_queue} if route.get("queue") == settings.CELERY_LONG_QUEUE else route
        for name, route in (saved["task_routes"] or {}).items()
    }
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = redis_url
    app.conf.update(task_always_eager=False, broker_url=redis_url, task_default_queue=queue, task_routes=routes)
    _forget_routing()
    queues = [queue, long_queue] if worker_consumes_long_queue else [queue]
    worker = None
    try:
        worker = start_worker_process(queues, env, tmp_path / "celery-worker.log")
        yield worker
    finally:
        if worker is not None:
            worker.stop()
        app.conf.update(saved)
        _forget_routing()

        connections.close_all()


# --- The development ENT (devtools/ent) ------------------------------------------------------------------------

ENT_DIR = BASE_DIR / "devtools" / "ent"
ENT_CLIENT_ID = "ecandidat"
# The ENT process inherits the environment, and seed_ent sets the client's secret from it (default below).
ENT_CLIENT_SECRET = os.environ.get("ENT_CLIENT_SECRET", "dev-ent-secret")
ENT_PASSWORD = "ent-demo-password"


def load_ent_module(name: str):
    """A module of devtools/ent, loaded by path: devtools/ is not a package, and the ENT's modules must not mix with
    the app's."""
    spec = importlib.util.spec_from_file_location(f"ent_{name}", ENT_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def ent_server(tmp_path_factory):
    """The development ENT as its own process (own SQLite database in a temporary directory), once per session.

    Its client ``ecandidat`` has seed_ent's redirect URIs; those on 127.0.0.1 match on any port (RFC 8252), so a
    live server or a test reached through 127.0.0.1 needs no registration. Students and password: devtools/ent.
    """
    testing = load_ent_module("testing")
    server = testing.start_ent_server(free_port(), tmp_path_factory.mktemp("ent"), [])
    try:
        yield server
    finally:
        server.stop()


__all__ = [
    "ENT_CLIENT_ID",
    "ENT_CLIENT_SECRET",
    "ENT_PASSWORD",
    "SMTPServer",
    "TCPProxy",
    "TEMPLATES_DIR",
    "free_port",
    "load_ent_module",
    "start_worker_process",
    "wait_until",
]
