"""A client of LimeSurvey's RemoteControl 2 API over JSON-RPC (https://api.limesurvey.org/classes/remotecontrol_handle.html).

Only what the nightly forms synchronisation needs: ``get_session_key``, ``export_responses`` and
``release_session_key``. Every failure (network, HTTP status, not JSON, a JSON-RPC error, LimeSurvey's
``{"status": "..."}`` answers, a payload that is not base64 JSON, one nested too deeply to be read) becomes
:class:`LimeSurveyError`, so the caller logs it and goes on with the next survey.

Numbers JSON can write but neither a float nor the database can hold (``1e400``, ``-1e400``: ``json.loads`` made them
``inf``, which the database refuses in a JSON document, and one of them in one answer lost the survey's whole import,
every night): in the JSON-RPC answer itself they make it « not JSON »; in the exported responses the value is left
empty (``None``, an unanswered question) and logged, the rest of that response and the other responses are imported.
So is an integer too long for Python to read (``sys.get_int_max_str_digits``). A session that expires in the middle
of the synchronisation (``{"status": "Invalid session key"}``) is opened again, once, and the export asked again.
"""

import base64
import binascii
import itertools
import json
import logging
import math
import time
from typing import Any

import requests
import urllib3
from django.conf import settings

from ecandidat.http import TooLarge, TooSlow, read_by

logger = logging.getLogger(__name__)

# LimeSurvey answers "no response yet" with a status instead of an empty export.
NO_DATA_STATUSES = ("No Data", "No Response found")
# A session key LimeSurvey no longer knows (expired, released, or LimeSurvey restarted).
INVALID_SESSION = "Invalid session key"


class LimeSurveyError(Exception):
    pass


def _not_json(constant: str) -> object:
    """``json.loads`` reads ``NaN`` and ``Infinity``, which JSON has not (nor LimeSurvey's PHP writes): a response
    holding one could not be stored (the database refuses it in a JSON document) and lost its survey's import."""
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    """``parse_float`` of the JSON-RPC answer: a number no float holds (``1e400``) is refused, as ``Infinity`` is."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


class _Numbers:
    """``parse_float`` and ``parse_int`` of an export: a number no float holds (``1e400``), or an integer too long to
    be read, is ``None`` (counted in ``out_of_range``) rather than ``inf`` or a ``ValueError`` losing the export."""

    def __init__(self) -> None:
        self.out_of_range = 0

    def parse_float(self, text: str) -> float | None:
        value = float(text)
        if math.isfinite(value):
            return value
        self.out_of_range += 1
        return None

    def parse_int(self, text: str) -> int | None:
        try:
            return int(text)
        except ValueError:  # longer than sys.get_int_max_str_digits()
            self.out_of_range += 1
            return None


class LimeSurveyClient:
    """Use as a context manager: opens a session on entry, releases it on exit."""

    def __init__(
        self, url: str, user: str, password: str, *, timeout: float = 30.0, max_answer_bytes: int | None = None
    ):
        """``max_answer_bytes``: the most an answer may hold (``LIMESURVEY_MAX_ANSWER_BYTES`` unless given)."""
        self.url, self.user, self.password, self.timeout = url, user, password, timeout
        self.max_answer_bytes = settings.LIMESURVEY_MAX_ANSWER_BYTES if max_answer_bytes is None else max_answer_bytes
        self.session_key: str | None = None
        self._opened_key: str | None = None  # the last key get_session_key opened: only it is opened again
        self._ids = itertools.count(1)
        self._http = requests.Session()
        # The numbers of the last export no float or int holds, left empty (``_Numbers``): the batch counts them.
        self.numbers_out_of_range = 0

    def __enter__(self) -> "LimeSurveyClient":
        self.session_key = self.get_session_key()
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self.session_key:
                self.release_session_key()
        except LimeSurveyError as exc:  # the session expires by itself; nothing to do about it
            logger.warning("LimeSurvey: could not release the session: %s", exc)
        finally:
            self._http.close()

    def call(self, method: str, *params: object) -> Any:
        """One JSON-RPC call, its whole answer within ``timeout`` seconds (``ecandidat.http.read_by``): a LimeSurvey
        sending its answer drop by drop held the nightly sequence, and every batch after this one, for as long as it
        liked. At most ``max_answer_bytes`` of it: a longer answer is an error rather than held whole in memory."""
        payload: dict[str, Any] = {"method": method, "params": list(params), "id": next(self._ids)}
        deadline = time.monotonic() + self.timeout
        try:
            with self._http.post(self.url, json=payload, timeout=self.timeout, stream=True) as response:
                response.raise_for_status()
                content = read_by(response, deadline, max_bytes=self.max_answer_bytes)
            body = json.loads(content, parse_constant=_not_json, parse_float=_finite)
        except TooLarge as exc:
            raise LimeSurveyError(f"{method}: {exc} (LIMESURVEY_MAX_ANSWER_BYTES)") from exc
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, TooSlow) as exc:
            raise LimeSurveyError(f"{method}: {type(exc).__name__}: {exc}") from exc
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply (``[[[[...]]]]``)
            raise LimeSurveyError(f"{method}: the answer is not JSON") from exc
        if not isinstance(body, dict) or "result" not in body:
            raise LimeSurveyError(f"{method}: not a JSON-RPC answer")
        if body.get("error"):
            raise LimeSurveyError(f"{method}: {body['error']}")
        return body["result"]

    def get_session_key(self) -> str:
        result = self.call("get_session_key", self.user, self.password)
        if not isinstance(result, str) or not result:
            status = result.get("status") if isinstance(result, dict) else result
            raise LimeSurveyError(f"get_session_key: {status}")
        self._opened_key = result
        return result

    def release_session_key(self) -> None:
        self.call("release_session_key", self.session_key)
        self.session_key = None

    def export_responses(self, survey_id: int) -> list[dict]:
        """The completed responses of a survey, with question codes as keys (an empty list when there are none).

        The session this client opened expired meanwhile (LimeSurvey's ``Invalid session key``: its session lifetime
        is shorter than a long synchronisation, or LimeSurvey restarted): every later survey failed, every night. A new
        session is opened and the export asked again, once; a key set by hand is not replaced."""
        self.numbers_out_of_range = 0
        result = self._export(survey_id)
        if _status(result) == INVALID_SESSION and self.session_key and self.session_key == self._opened_key:
            logger.info("LimeSurvey: the session expired; opening a new one")
            self.session_key = self.get_session_key()
            result = self._export(survey_id)
        if isinstance(result, dict):
            status = _status(result)
            if status.startswith(NO_DATA_STATUSES):
                return []
            raise LimeSurveyError(f"export_responses({survey_id}): {status}")
        if not isinstance(result, str):
            raise LimeSurveyError(f"export_responses({survey_id}): unexpected {type(result).__name__}")
        numbers = _Numbers()
        try:
            data = json.loads(
                base64.b64decode(result, validate=True),
                parse_constant=_not_json,
                parse_float=numbers.parse_float,
                parse_int=numbers.parse_int,
            )
        except (binascii.Error, ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
            raise LimeSurveyError(f"export_responses({survey_id}): not base64-encoded JSON") from exc
        self.numbers_out_of_range = numbers.out_of_range
        if numbers.out_of_range:
            logger.warning(
                "LimeSurvey: survey %s: %d number(s) out of range left empty", survey_id, numbers.out_of_range
            )
        return parse_export(data, survey_id)

    def _export(self, survey_id: int) -> Any:
        return self.call("export_responses", self.session_key, survey_id, "json", None, "complete", "code", "long")


def _status(result: object) -> str:
    """LimeSurvey's status answer (``{"status": "..."}``) as text; ``""`` when ``result`` is no such answer."""
    return str(result.get("status", result)) if isinstance(result, dict) else ""


def parse_export(data: object, survey_id: int) -> list[dict]:
    """LimeSurvey's JSON export: ``{"responses": [{"<id>": {...}}, ...]}`` up to 5.x, ``[{...}, ...]`` since 6."""
    if not isinstance(data, dict) or not isinstance(data.get("responses"), list):
        raise LimeSurveyError(f"export_responses({survey_id}): no 'responses' list")
    rows = []
    for item in data["responses"]:
        if isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item.values())), dict):
            item = next(iter(item.values()))
        if not isinstance(item, dict):
            raise LimeSurveyError(f"export_responses({survey_id}): a response is not an object")
        rows.append(item)
    return rows
