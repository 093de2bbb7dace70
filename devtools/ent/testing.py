"""Start the development ENT as a separate process, for integration tests that need a real OpenID Connect provider.

`start_ent_server(port, tmp_dir, [callback_uri])` returns an `EntServer` once discovery answers; call its `stop()`.
"""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ENT_DIR = Path(__file__).resolve().parent
START_TIMEOUT = 30


@dataclass
class EntServer:
    process: subprocess.Popen
    base_url: str
    log_path: Path

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/.well-known/openid-configuration"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_ent_server(port: int, var_dir: Path, redirect_uris: list[str]) -> EntServer:
    """Migrate and seed an ENT database in `var_dir`, serve it on 127.0.0.1:`port`, return once discovery answers."""
    var_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ENT_VAR_DIR": str(var_dir), "DJANGO_SETTINGS_MODULE": "entserver.settings"}
    env.pop("ENT_EXTRA_REDIRECT_URIS", None)  # the caller's list is the whole truth
    log_path = var_dir / "ent-server.log"

    def manage(*args: str) -> list[str]:
        return [sys.executable, "manage.py", *args]

    subprocess.run(manage("migrate", "--noinput", "-v0"), cwd=ENT_DIR, env=env, check=True)
    seed_args = [arg for uri in redirect_uris for arg in ("--redirect-uri", uri)]
    subprocess.run(manage("seed_ent", *seed_args), cwd=ENT_DIR, env=env, check=True, stdout=subprocess.DEVNULL)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            manage("runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"),
            cwd=ENT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = EntServer(process=process, base_url=f"http://127.0.0.1:{port}", log_path=log_path)
    try:
        _wait_until_up(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_up(server: EntServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"ENT server exited early, see {server.log_path}:\n{server.log_path.read_text()}")
        try:
            with urllib.request.urlopen(server.discovery_url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"ENT server did not answer {server.discovery_url} within {START_TIMEOUT} s")
