"""An S3-compatible server for tests: moto in server mode (``moto_server``), a separate process on loopback.

``start_s3_server(port)`` returns once it answers; ``s3_options(endpoint, bucket)`` is the ``STORAGES["default"]``
of ecandidat.settings.base for that bucket (the same options production gets from ``AWS_*``).
"""

import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import requests

ACCESS_KEY = "ecandidat-test"
SECRET_KEY = "ecandidat-test-secret"
REGION = "eu-west-3"


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
