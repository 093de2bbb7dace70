"""The deadline-rush mix, for Locust (started by ``bench/rush/run.py``; not meant to be run by hand).

Open-loop Poisson arrivals, as independent candidates' are: each user keeps its own schedule, the next arrival
an exponentially distributed time (mean ``pacing``) after the previous *scheduled* one, whatever the response times.
A slow server therefore does not slow the offered load down (no coordinated omission): requests fall behind their
schedule, and the runner sees fewer served than offered. The arrivals scheduled inside the measured window are
counted (``offered``), and requests are recorded by the time they started, so served and offered are compared over
the same window (Poisson counts vary by about 10 % over 15 s: a nominal rate would be the wrong yardstick).

An earlier version paced each user at a constant interval with Locust's ``constant_pacing``. Locust measures that
interval from the user's creation, so the initial random sleep was absorbed and every user fired within the same
100 ms of each 2-second period: bursts of all users at once made even the bare project queue (p50 40-50 ms for a
2 ms page), which measured the load generator, not the servers.

Environment (set by the runner):
  RUSH_TARGET    ``app`` or ``bare``
  RUSH_SEED      the JSON written by ``bench.rush.seed`` (app only): sessions, CSRF secrets, upload slots
  RUSH_PDF       the 1.4 MB PDF to upload
  RUSH_UPLOAD_FIRST  index of the first seeded candidate whose pieces this step may upload
  RUSH_PAGE_USERS, RUSH_UPLOAD_USERS, RUSH_PAGE_PACING, RUSH_UPLOAD_PACING
  RUSH_EVEN_ARRIVALS  "1": each user's requests at even gaps of its pacing, not Poisson ones (the smoke run)
  RUSH_WARMUP    seconds at the start whose requests are not recorded
  RUSH_RUN_SECONDS  requests that end later (while Locust stops) are not recorded either
  RUSH_OUT       where the recorded samples go (JSON: kind, milliseconds, ok)

Every request is sent as nginx would forward it (``X-Forwarded-Proto: https``, one ``X-Forwarded-For`` per
simulated candidate), so the production security settings (secure cookies, HTTPS redirect) stay on.
"""

import collections
import itertools
import json
import os
import random
import time

from locust import FastHttpUser, events, task

TARGET = os.environ.get("RUSH_TARGET", "app")
WARMUP = float(os.environ.get("RUSH_WARMUP", "3"))
RUN_SECONDS = float(os.environ.get("RUSH_RUN_SECONDS", "30"))
UPLOAD_FIRST = int(os.environ.get("RUSH_UPLOAD_FIRST", "0"))
PAGE_PACING = float(os.environ.get("RUSH_PAGE_PACING", "2"))
UPLOAD_PACING = float(os.environ.get("RUSH_UPLOAD_PACING", "4"))
# Even gaps instead of Poisson ones: the smoke run's few seconds then always hold a few uploads (with random gaps
# a window of three seconds at one upload a second is empty one time in twenty).
EVEN_ARRIVALS = os.environ.get("RUSH_EVEN_ARRIVALS") == "1"
with open(os.environ["RUSH_PDF"], "rb") as _handle:
    PDF = _handle.read()
SEED: dict[str, list[dict]] = {"candidates": []}
if TARGET == "app":
    with open(os.environ["RUSH_SEED"]) as _handle:
        SEED = json.load(_handle)
CANDIDATES = SEED["candidates"]

_samples: list[tuple[str, float, bool]] = []
_offered: collections.Counter[str] = collections.Counter()
_started = time.monotonic()
_upload_numbers = itertools.count()
_used_candidates: set[int] = set()


_uploads_ok_total = 0


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception=None, **kwargs):
    global _uploads_ok_total
    if name == "upload" and exception is None:
        _uploads_ok_total += 1
    if _in_window(time.monotonic() - response_time / 1000):  # by the time the request started
        _samples.append((name, response_time, exception is None))


def _in_window(moment: float) -> bool:
    return WARMUP <= moment - _started < RUN_SECONDS


def poisson_arrivals(kind: str, pacing: float):
    """Locust ``wait_time``: sleep until this user's next arrival, an exponential gap after the previous one."""

    def wait_time(user) -> float:
        user.next_arrival = _arrival(kind, pacing, user.next_arrival)
        return max(0.0, user.next_arrival - time.monotonic())

    return wait_time


def _arrival(kind: str, pacing: float, previous: float) -> float:
    arrival = previous + (pacing if EVEN_ARRIVALS else random.expovariate(1 / pacing))
    if _in_window(arrival):
        _offered[kind] += 1
    return arrival


@events.quitting.add_listener
def _dump(environment, **kwargs):
    with open(os.environ["RUSH_OUT"], "w") as handle:
        json.dump(
            {
                "samples": _samples,
                "measured_seconds": RUN_SECONDS - WARMUP,
                "offered": dict(_offered),
                "uploads_ok_total": _uploads_ok_total,
                "last_upload_candidate": max(_used_candidates, default=UPLOAD_FIRST - 1),
            },
            handle,
        )


def _headers(candidate: dict | None, number: int) -> dict:
    headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}",
    }
    if candidate is not None:
        headers["Cookie"] = candidate["cookie"]
    return headers


BOUNDARY = "----rush" + "7d0f1b2c3a4e5f6a"


def _multipart(csrf: str, headers: dict) -> bytes:
    """The body a browser sends for the "+" form: the CSRF field and the file (FastHttpUser has no ``files=``)."""
    headers["Content-Type"] = f"multipart/form-data; boundary={BOUNDARY}"
    return b"".join(
        [
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{csrf}\r\n'.encode(),
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="scan.pdf"\r\n'.encode(),
            b"Content-Type: application/pdf\r\n\r\n",
            PDF,
            f"\r\n--{BOUNDARY}--\r\n".encode(),
        ]
    )


def _check(response, expected: int) -> None:
    if response.status_code != expected:
        response.failure(f"HTTP {response.status_code}, expected {expected}")
    else:
        response.success()


class PageUser(FastHttpUser):
    """Page views: anonymous catalogue 30 %, logged-in catalogue 10 %, recap 20 %, pieces 20 %, list 20 %."""

    fixed_count = int(os.environ.get("RUSH_PAGE_USERS", "1"))
    wait_time = poisson_arrivals("page", PAGE_PACING)

    def on_start(self) -> None:
        self.number = random.randrange(1, 1_000_000)
        self.candidate = CANDIDATES[self.number % len(CANDIDATES)] if CANDIDATES else None
        self.next_arrival = _arrival("page", PAGE_PACING, time.monotonic())
        time.sleep(self.next_arrival - time.monotonic())  # Locust patches sleep for gevent

    def _get(self, name: str, url: str, candidate: dict | None) -> None:
        with self.client.get(
            url, name=name, headers=_headers(candidate, self.number), allow_redirects=False, catch_response=True
        ) as response:
            _check(response, 200)

    @task
    def page(self) -> None:
        if TARGET == "bare":
            self._get("page", "/page/", None)
            return
        choice = random.random()
        candidate = self.candidate
        if choice < 0.30:
            self._get("page", "/offre-de-formation/", None)
        elif choice < 0.40:
            self._get("page", "/offre-de-formation/", candidate)
        elif choice < 0.60:
            self._get("page", f"/candidat/candidatures/{candidate['application']}/", candidate)
        elif choice < 0.80:
            self._get("page", f"/pieces/{candidate['application']}/", candidate)
        else:
            self._get("page", "/candidat/candidatures/", candidate)


class UploadUser(FastHttpUser):
    """1.4 MB PDF uploads, each on an empty piece slot of its own (slots are shared out, never reused)."""

    fixed_count = int(os.environ.get("RUSH_UPLOAD_USERS", "0"))
    wait_time = poisson_arrivals("upload", UPLOAD_PACING)

    def on_start(self) -> None:
        self.number = next(_upload_numbers)
        users = max(self.fixed_count, 1)
        # Candidates from RUSH_UPLOAD_FIRST on, dealt out among the upload users: each step of the runner starts
        # after the candidates the previous one used, so no account reaches its fair-use upload limit.
        indices = range(UPLOAD_FIRST + self.number, len(CANDIDATES), users)
        self.slots = iter([(index, piece) for index in indices for piece in CANDIDATES[index]["pieces"]])
        self.next_arrival = _arrival("upload", UPLOAD_PACING, time.monotonic())
        time.sleep(self.next_arrival - time.monotonic())

    @task
    def upload(self) -> None:
        if TARGET == "bare":
            # The bare project (bench/bare) keeps Django's cookie names.
            candidate = {"session": "none", "csrf": "b" * 32, "cookie": f"sessionid=none; csrftoken={'b' * 32}"}
            url = "/upload/"
        else:
            slot = next(self.slots, None)
            if slot is None:  # seed more candidates: reusing a slot would measure a refusal, not an upload
                events.request.fire(
                    request_type="POST",
                    name="upload",
                    response_time=0,
                    response_length=0,
                    exception=RuntimeError("no empty upload slot left"),
                    context={},
                )
                return
            index, piece = slot
            candidate = CANDIDATES[index]
            _used_candidates.add(index)
            url = f"/pieces/{candidate['application']}/{piece}/ajouter/"
        headers = _headers(candidate, 500_000 + self.number)
        headers["Origin"] = f"https://{self.client.base_url.split('://', 1)[1]}"
        headers["Referer"] = headers["Origin"] + "/"
        with self.client.post(
            url,
            name="upload",
            headers=headers,
            data=_multipart(candidate["csrf"], headers),
            allow_redirects=False,
            catch_response=True,
        ) as response:
            _check(response, 302)
