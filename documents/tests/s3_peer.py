"""An S3-compatible server for tests: moto in server mode (``moto_server``), a separate process on loopback.

``start_s3_server(port)`` returns once it answers; ``s3_options(endpoint, bucket)`` is the ``STORAGES["default"]``
of ecandidat.settings.base for that bucket (the same options production gets from ``AWS_*``), and
``production_storage`` the one that module builds from the environment itself, with 1 s time limits.

A bucket failing, over real sockets: ``S3Proxy`` between the application and moto_server, which records every call
and answers it, holds it, or cuts it as its ``plan`` says; ``SilentBucket``, an endpoint that never answers.
"""

import runpy
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import requests
from botocore.config import Config  # type: ignore[import-untyped]

ACCESS_KEY = "ecandidat-test"
SECRET_KEY = "ecandidat-test-secret"
REGION = "eu-west-3"
BASE_SETTINGS = Path(__file__).resolve().parents[2] / "ecandidat" / "settings" / "base.py"
# One attempt of 1 s: a request held unanswered is botocore's ReadTimeoutError after a second.
QUICK = Config(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1})


@dataclass
class S3Server:
    process: subprocess.Popen
    endpoint_url: str

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_s3_server(port: int, log_path: Path) -> S3Server:
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = S3Server(process=process, endpoint_url=f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited early:\n{log_path.read_text()}")
        try:
            requests.get(server.endpoint_url, timeout=5)
            return server
        # Not listening yet, or listening but still loading (a loaded machine: its first answer took over a second
        # once in CI, and the ReadTimeout failed the test's setup).
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"moto_server did not answer on {server.endpoint_url}")


def s3_options(endpoint_url: str, bucket: str) -> dict:
    """What ecandidat.settings.base builds from AWS_STORAGE_BUCKET_NAME and friends."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url,
            "region_name": REGION,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "default_acl": "private",
            "file_overwrite": False,
            "querystring_auth": True,
            "querystring_expire": 60,
        },
    }


def fresh_bucket(server: S3Server, settings) -> str:
    """A new private bucket on ``server``, set as the default storage through pytest-django's ``settings`` (Django
    then rebuilds default_storage); its name."""
    name = f"ecandidat-{uuid.uuid4().hex[:12]}"
    server.client().create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    settings.STORAGES = {**settings.STORAGES, "default": s3_options(server.endpoint_url, name)}
    return name


def quick_options(endpoint_url: str, bucket: str) -> dict:
    """``s3_options`` with ``QUICK``'s one attempt of 1 s."""
    default = s3_options(endpoint_url, bucket)
    default["OPTIONS"]["client_config"] = QUICK
    return default


def production_storage(monkeypatch, *, bucket: str, endpoint_url: str) -> dict:
    """``STORAGES["default"]`` as ecandidat.settings.base builds it from the environment, 1 s time limits."""
    environment = {
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ENDPOINT_URL": endpoint_url,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_S3_CONNECT_TIMEOUT": "1",
        "AWS_S3_READ_TIMEOUT": "1",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(BASE_SETTINGS))["STORAGES"]["default"]


def call_budget(storage: dict) -> tuple[int, float]:
    """What the README promises for a bucket that stops answering, with ``storage``'s options: botocore's attempts of
    one call, and their time budget, each its connection then its read time limit (plus botocore's back-off between
    them, well under a second)."""
    config = storage["OPTIONS"]["client_config"]
    attempts = config.retries["total_max_attempts"]
    return attempts, attempts * (config.connect_timeout + config.read_timeout)


# Request headers not passed on as they are (the proxy's own connection to moto sets them).
HOP_BY_HOP = {"host", "content-length", "connection", "expect", "transfer-encoding", "keep-alive"}
# Answer headers not passed on: the proxy sends the body whole (a Content-Length of its own) or cuts it.
ANSWER_HOP_BY_HOP = {"content-length", "connection", "transfer-encoding", "content-encoding", "keep-alive"}
NO_SUCH_KEY = b"<Error><Code>NoSuchKey</Code><Message>NoSuchKey</Message></Error>"


class S3Proxy:
    """A proxy over real sockets between the application and moto_server (``upstream``), at ``endpoint_url``. It
    records every call as (method, object key as in the path — "" for a bucket-level request —, action) and takes the
    action ``plan(method, key)`` says (a subclass's rule; "pass" for all here):

    - "pass": passed on, the bucket's answer given whole;
    - "hold": held unanswered, not passed on, until ``stop()``;
    - "hold_after": passed on (the object landed), its answer held until ``stop()``;
    - "vanished": S3's 404 NoSuchKey, not passed on (the object deleted since open()'s HEAD);
    - "cut": passed on, the answer's status, headers and Content-Length, half its body, then the connection closed;
    - "stall_body": the same, and then nothing more until ``stop()``."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.calls: list[tuple[str, str, str]] = []
        self.released = threading.Event()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def relay(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                key = self.path.split("?")[0].strip("/").partition("/")[2]
                with proxy._lock:
                    action = proxy.plan(self.command, key)
                    proxy.calls.append((self.command, key, action))
                if action == "hold":
                    self.hold()
                    return
                if action == "vanished":
                    self.respond(404, {"Content-Type": "application/xml"}, NO_SUCH_KEY)
                    return
                headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
                answer = requests.request(
                    self.command, proxy.upstream + self.path, headers=headers, data=body, timeout=30
                )
                if action == "hold_after":
                    self.hold()
                    return
                kept = {name: value for name, value in answer.headers.items() if name.lower() not in ANSWER_HOP_BY_HOP}
                if action == "pass":
                    self.respond(answer.status_code, kept, answer.content)
                    return
                self.respond(answer.status_code, kept, answer.content, cut=True)
                if action == "stall_body":
                    proxy.released.wait(60)
                self.close_connection = True

            def hold(self):
                proxy.released.wait(60)
                self.close_connection = True

            def respond(self, status, headers, content, *, cut=False):
                """``content`` with its Content-Length; only its first half when ``cut``."""
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if self.command == "HEAD":
                    return
                self.wfile.write(content[: len(content) // 2] if cut else content)
                if cut:
                    self.wfile.flush()

            do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def plan(self, method: str, key: str) -> str:
        """The action for a call (under the proxy's lock: it may read what the test sets meanwhile)."""
        return "pass"

    def methods(self) -> list[str]:
        with self._lock:
            return [method for method, _key, _action in self.calls]

    def count(self, *actions: str, method: str | None = None) -> int:
        """How many calls got one of ``actions`` (any of them when none is named), of ``method`` if named."""
        with self._lock:
            return sum(
                1
                for called, _key, action in self.calls
                if (not actions or action in actions) and (method is None or called == method)
            )

    def forget(self) -> None:
        with self._lock:
            self.calls.clear()

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


class SilentBucket:
    """A bucket endpoint that accepts connections and never answers, counting them (each held until ``close()``)."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _address = self.listener.accept()
            except OSError:  # closed
                return
            self.connections.append(connection)

    def close(self) -> None:
        self.listener.close()
        self.thread.join(5)
        for connection in self.connections:
            connection.close()


def closed_endpoint_url() -> str:
    """A bucket endpoint where nothing listens (a port opened and closed again): botocore's EndpointConnectionError
    at once."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
