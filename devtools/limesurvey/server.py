"""A local stand-in for LimeSurvey's RemoteControl 2 JSON-RPC API, for development and tests (LimeSurvey itself
cannot be installed here). Standard library only; run it as a separate process:

    python devtools/limesurvey/server.py --port 8765 [--fixtures DIR] [--user admin] [--password secret]

It prints ``LISTENING <port>`` once ready (``--port 0`` picks a free port). Implemented as LimeSurvey documents them
(https://api.limesurvey.org/classes/remotecontrol_handle.html):

- ``get_session_key(username, password)`` → a key, or ``{"status": "Invalid user name or password"}``;
- ``release_session_key(key)`` → ``"OK"``;
- ``export_responses(key, survey_id, document_type, language, completion_status, heading_type, response_type)``
  → the export base64-encoded (``document_type`` "json": ``{"responses": [{"<id>": {...}}, ...]}``, as LimeSurvey
  3–5 write it), or ``{"status": "Invalid session key"}``, ``{"status": "Error: Invalid survey ID"}``,
  ``{"status": "No Data, could not get max id."}`` for a survey without responses.

Fixtures: ``<survey id>.json`` holds the survey's responses (a list of objects with question codes as keys;
``submitdate`` null for an incomplete response); ``<survey id>.raw`` is returned verbatim instead of an export
(to test garbage).
"""

import argparse
import base64
import contextlib
import json
import secrets
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEFAULT_FIXTURES = Path(__file__).with_name("fixtures")


class RemoteControl:
    def __init__(self, fixtures: Path, user: str, password: str):
        self.fixtures, self.user, self.password = fixtures, user, password
        self.sessions: set[str] = set()

    def get_session_key(self, username, password, *plugin):
        if (username, password) != (self.user, self.password):
            return {"status": "Invalid user name or password"}
        key = secrets.token_hex(16)
        self.sessions.add(key)
        return key

    def release_session_key(self, key):
        self.sessions.discard(key)
        return "OK"

    def export_responses(
        self,
        key,
        survey_id,
        document_type="json",
        language=None,
        completion="all",
        heading="code",
        rtype="short",
        *rest,
    ):
        if key not in self.sessions:
            return {"status": "Invalid session key"}
        raw = self.fixtures / f"{int(survey_id)}.raw"
        if raw.exists():
            return raw.read_text()
        path = self.fixtures / f"{int(survey_id)}.json"
        if not path.exists():
            return {"status": "Error: Invalid survey ID"}
        if document_type != "json":
            return {"status": "Invalid extension"}
        responses = json.loads(path.read_text())
        if completion == "complete":
            responses = [r for r in responses if r.get("submitdate")]
        elif completion == "incomplete":
            responses = [r for r in responses if not r.get("submitdate")]
        if not responses:
            return {"status": "No Data, could not get max id."}
        export = {"responses": [{str(r["id"]): r} for r in responses]}
        return base64.b64encode(json.dumps(export, ensure_ascii=False).encode()).decode()


def make_handler(api: RemoteControl):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            try:
                request = json.loads(self.rfile.read(length))
                method = getattr(api, request["method"], None) if not request["method"].startswith("_") else None
                if method is None:
                    body = {"id": request.get("id"), "result": None, "error": "Method not found"}
                else:
                    body = {"id": request.get("id"), "result": method(*request.get("params", [])), "error": None}
            except (ValueError, KeyError, TypeError) as exc:
                body = {"id": None, "result": None, "error": f"Invalid request: {exc}"}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="password")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(
        (args.host, args.port), make_handler(RemoteControl(args.fixtures, args.user, args.password))
    )
    print(f"LISTENING {server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
