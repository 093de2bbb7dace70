"""Shared helpers of the ecandidat tests."""

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings

# A production server's environment, as .ci/run's deploy check gives it (each test adds what it checks).
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "ecandidat.settings.base",
    "DEBUG": "0",
    # SQLite is ecandidat.E006; `check` connects to no database.
    "DATABASE_URL": "postgres://ecandidat@127.0.0.1:5432/ecandidat",
    "ALLOWED_HOSTS": "ecandidat.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://ecandidat.example.org",
    "SITE_URL": "https://ecandidat.example.org",
    "EMAIL_URL": "smtp://127.0.0.1:25",
    "DEFAULT_FROM_EMAIL": "ne-pas-repondre@univ-exemple.fr",  # a reserved domain is ecandidat.E005
    "SECURE_HSTS_PRELOAD": "1",
}


def manage(*args, **env):
    """``manage.py`` in a child process with only ``env`` and what a server's environment would hold: nothing
    inherited from the test settings (SECRET_KEY, DEBUG...)."""
    base = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env={**base, **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextlib.contextmanager
def loopback_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A peer of ours (Pégase, LimeSurvey, CAS...) in a thread of the test's process: ``handler`` served on a free
    loopback port; yields its base URL (``http://127.0.0.1:<port>``) and stops it after."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def dripping_handler(body: bytes, stop: threading.Event, *, content_type: str, every: float = 0.2):
    """A handler answering every GET and POST with ``body``, one byte every ``every`` seconds (each wait well within a
    client's timeout, the whole far beyond it), until ``stop`` is set: the peer that only a deadline on the whole
    answer gives up on."""

    class Dripping(BaseHTTPRequestHandler):
        def answer(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for byte in body:
                    if stop.wait(every):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            except OSError:  # the client gave up
                return

        do_GET = do_POST = answer  # noqa: N815 (http.server's protocol)

        def log_message(self, *args):
            pass

    return Dripping
