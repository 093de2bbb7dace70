"""A local stand-in for the Pégase REST API as eCandidat uses it, for development and tests (Pégase itself is not
available outside a university). Standard library only; run it as a separate process:

    python devtools/pegase/server.py --port 8766 [--fixtures DIR] [--user ecandidat] [--password secret]
        [--etablissement ETAB00] [--page-size N] [--token-lifetime SECONDS] [--today YYYY-MM-DD]

It prints ``LISTENING <port>`` once ready (``--port 0`` picks a free port). Routes (reference:
siscol-pegase-apogee.md §1):

- ``POST /cas/v1/tickets`` (form ``username``, ``password``, ``token=true``) → 201 and the JWT as plain text;
  wrong credentials → 401;
- every other route needs ``Authorization: Bearer <jwt>`` of an unexpired token, else 401;
- ``GET /api/v1/ref/nomenclatures/{Nom}/numPage/{p}/nbOccurences/{n}`` → ``{nomenclatures, nbTotalPages,
  nbTotalOccurences, nbOccurences, numPage}``; pages hold at most ``--page-size`` rows (like a server capping
  the size asked), so the client must follow ``nbTotalPages``; an unknown name → 404;
- ``GET /api/v1/ref/etablissement/{etab}/espaces?type=PERIODE&page={p}&taille={n}`` (P2) → a ``PeriodePagination``
  ``{items: [{code, libelle, libelleLong, …}], totalPages, totalElements, page, taille}`` of the spaces of that
  type; pages start at 0 and hold at most ``--page-size`` rows, so the client must follow ``totalPages``; no
  ``type`` → 400;
- ``GET /api/idt/v1/etablissements/{etab}/identites/apprenants?codeApprenant=…|ine=…`` → ``{totalElements,
  items: [{id, …}]}`` (0, 1 or several matches);
- ``GET /api/idt/v1/etablissements/{etab}/identites/{id}`` → the ``Identite``, or 404;
- ``GET /api/ins/ext/v2/gestion/inscription/{etab}/{codeApprenant}/`` → ``{inscriptions: [...]}``, or 404;
- ``GET /api/coc/publication/v2/etablissements/{etab}/periodes/{codePeriode}/apprenants/{codeApprenant}/chemins/
  {codeFormation>codeCible}`` (``>`` raw or ``%3E``) → the list of ``Publication`` of that enrolment (``[]`` when
  nothing is published), or 404 for a learner without results.

Test controls (not Pégase): ``POST /_peer/expire-tokens`` makes every issued token expired;
``POST /_peer/fail?status=503&count=1[&path=/api/coc/]`` answers the next ``count`` API calls (under ``path``
only, when given) with that status; ``POST /_peer/delay?seconds=3&count=1[&path=…]`` makes them wait that long
before answering (a client's timeout); ``GET /_peer/stats`` → ``{"tokens_issued": n, "api_calls": n,
"calls_by_api": {"idt": n, …}}``.

Periods follow the calendar: besides the fixture's (irregular codes, for the edge cases), the peer lists one period
per academic year (1 September to 31 August) from three years before the current one to the next, coded by the year
it starts in (``2026`` for 2026-2027, the code the demo campaign takes): ``seed_demo``'s campaign is one of them
whatever the date. The years are computed at start-up from ``--today`` (``YYYY-MM-DD``), else the environment
variable ``PEGASE_PEER_TODAY``, else the date of the day: tests pin it.

Fixtures (``fixtures/``): ``nomenclatures/<Nom>.json`` (a list of rows), ``espaces.json`` (the institution's
spaces, each with its ``typeEspace``: a few irregular periods and other spaces), ``identites.json`` (a list of
``Identite`` objects, shaped as Pégase answers, with their ``id``), ``inscriptions.json`` (``{codeApprenant:
{"inscriptions": [...]}}``), ``publications.json`` (``{codeApprenant: {codePeriode: {"formation>cible":
[Publication, …]}}}``).
"""

import argparse
import base64
import contextlib
import datetime
import json
import os
import re
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

DEFAULT_FIXTURES = Path(__file__).with_name("fixtures")

NOMENCLATURE = re.compile(r"^/api/v1/ref/nomenclatures/([^/]+)/numPage/(\d+)/nbOccurences/(\d+)$")
SPACES = re.compile(r"^/api/v1/ref/etablissement/([^/]+)/espaces$")
SEARCH = re.compile(r"^/api/idt/v1/etablissements/([^/]+)/identites/apprenants$")
IDENTITY = re.compile(r"^/api/idt/v1/etablissements/([^/]+)/identites/([^/]+)$")
ENROLMENTS = re.compile(r"^/api/ins/ext/v2/gestion/inscription/([^/]+)/([^/]+)/$")
PUBLICATIONS = re.compile(
    r"^/api/coc/publication/v2/etablissements/([^/]+)/periodes/([^/]+)/apprenants/([^/]+)/chemins/([^/]+)$"
)


def api_of(path: str) -> str:
    """The API a path belongs to, for the stats: ref, idt, ins or coc."""
    parts = path.split("/")
    return "ref" if path.startswith("/api/v1/ref/") else (parts[2] if len(parts) > 2 else "")


PARIS = ZoneInfo("Europe/Paris")  # the day's date as the demo (TIME_ZONE) sees it, whatever the machine's zone
YEARS_BEFORE, YEARS_AFTER = 3, 1  # the calendar's periods around the current academic year


def academic_year(today: datetime.date) -> int:
    """The year the academic year of ``today`` starts in (as ``offers.demo.seed`` codes the demo campaign)."""
    return today.year if today.month >= 9 else today.year - 1


def calendar_periods(today: datetime.date) -> list[dict]:
    """One Pégase period (an ``espace`` of type PERIODE) per academic year around ``today``'s, oldest first."""
    current = academic_year(today)
    return [
        {
            "id": f"periode-{year}",
            "code": f"{year}",
            "libelle": f"{year}-{year + 1}",
            "libelleLong": f"Année universitaire {year}-{year + 1}",
            "typeEspace": "PERIODE",
            "dateDebut": f"{year}-09-01",
            "dateFin": f"{year + 1}-08-31",
        }
        for year in range(current - YEARS_BEFORE, current + YEARS_AFTER + 1)
    ]


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class Pegase:
    def __init__(
        self,
        fixtures: Path,
        user: str,
        password: str,
        etablissement: str,
        page_size: int,
        lifetime: int,
        today: datetime.date | None = None,
    ):
        self.fixtures, self.user, self.password = fixtures, user, password
        # The institution's spaces: the fixture's, then the calendar's periods (computed once, at start-up).
        self.spaces = (self.load("espaces.json") or []) + calendar_periods(
            today or datetime.datetime.now(PARIS).date()
        )
        self.etablissement, self.page_size, self.lifetime = etablissement, page_size, lifetime
        self.tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self.fail_status, self.fail_count, self.fail_path = 0, 0, ""
        self.delay_seconds, self.delay_count, self.delay_path = 0.0, 0, ""
        self.tokens_issued = self.api_calls = 0
        self.calls_by_api: dict[str, int] = {}
        self.lock = threading.Lock()

    def load(self, name: str):
        path = self.fixtures / name
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def issue_token(self, username: str, password: str) -> str | None:
        if (username, password) != (self.user, self.password):
            return None
        expires = time.time() + self.lifetime
        # Shaped like a JWT (header.payload.signature); the peer checks it by lookup, not by signature.
        token = ".".join(
            [_b64({"alg": "RS256", "typ": "JWT"}), _b64({"sub": username, "exp": int(expires)}), secrets.token_hex(16)]
        )
        with self.lock:
            self.tokens[token] = expires
            self.tokens_issued += 1
        return token

    def authorised(self, header: str) -> bool:
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        with self.lock:
            return bool(token) and self.tokens.get(token, 0) > time.time()

    def route(self, path: str, query: dict) -> tuple[int, object]:
        if match := NOMENCLATURE.match(path):
            name, page, size = unquote(match.group(1)), int(match.group(2)), int(match.group(3))
            rows = self.load(f"nomenclatures/{name}.json")
            if rows is None:
                return 404, {"message": f"Nomenclature {name} inconnue"}
            size = max(1, min(size, self.page_size))
            pages = max(1, -(-len(rows) // size))
            chunk = rows[page * size : (page + 1) * size]
            return 200, {
                "nomenclatures": chunk,
                "nbTotalPages": pages,
                "nbTotalOccurences": len(rows),
                "nbOccurences": len(chunk),
                "numPage": page,
            }
        if (match := SPACES.match(path)) and match.group(1) == self.etablissement:
            kind = query.get("type", [""])[0]
            if not kind:
                return 400, {"message": "Le paramètre type est obligatoire"}
            spaces = [row for row in self.spaces if row.get("typeEspace") == kind]
            page, size = int(query.get("page", ["0"])[0]), int(query.get("taille", ["1000"])[0])
            size = max(1, min(size, self.page_size))
            chunk = spaces[page * size : (page + 1) * size]
            return 200, {
                "items": chunk,
                "totalPages": max(1, -(-len(spaces) // size)),
                "totalElements": len(spaces),
                "page": page,
                "taille": size,
            }
        if (match := SEARCH.match(path)) and match.group(1) == self.etablissement:
            identities = self.load("identites.json") or []
            number, ine = query.get("codeApprenant", [""])[0], query.get("ine", [""])[0].upper()
            found = [
                identity
                for identity in identities
                if (number and identity["profilApprenant"].get("codeApprenant") == number)
                or (ine and any(e.get("ine") == ine for e in identity["profilApprenant"].get("listeINEs") or []))
            ]
            items = [
                {
                    "id": i["id"],
                    "codeApprenant": i["profilApprenant"].get("codeApprenant"),
                    "nomNaissance": i.get("nomNaissance"),
                    "prenom": i.get("prenom"),
                }
                for i in found
            ]
            return 200, {"totalElements": len(items), "totalPages": 1, "items": items}
        if (match := IDENTITY.match(path)) and match.group(1) == self.etablissement:
            for identity in self.load("identites.json") or []:
                if identity["id"] == unquote(match.group(2)):
                    return 200, identity
            return 404, {"message": "Identité introuvable"}
        if (match := ENROLMENTS.match(path)) and match.group(1) == self.etablissement:
            enrolments = (self.load("inscriptions.json") or {}).get(unquote(match.group(2)))
            return (200, enrolments) if enrolments is not None else (404, {"message": "Apprenant inconnu"})
        if (match := PUBLICATIONS.match(path)) and match.group(1) == self.etablissement:
            period, learner, chemin = (unquote(match.group(n)) for n in (2, 3, 4))
            published = (self.load("publications.json") or {}).get(learner)
            if published is None:
                return 404, {"message": "Aucune publication pour cet apprenant"}
            return 200, (published.get(period) or {}).get(chemin, [])
        return 404, {"message": "Not found"}

    def take(self, kind: str, path: str) -> bool:
        """Whether this API call is one of the next ``count`` the fail or delay control targets (and count it)."""
        count, prefix = getattr(self, f"{kind}_count"), getattr(self, f"{kind}_path")
        if count <= 0 or not path.startswith(prefix):
            return False
        setattr(self, f"{kind}_count", count - 1)
        return True


def make_handler(api: Pegase):
    class Handler(BaseHTTPRequestHandler):
        def answer(self, status: int, body: object, content_type: str = "application/json") -> None:
            data = body.encode() if isinstance(body, str) else json.dumps(body, ensure_ascii=False).encode()
            # A client that gave up (a delayed answer past its timeout) has closed the connection: nothing to say.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        def do_POST(self):
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            if url.path == "/cas/v1/tickets":
                token = api.issue_token(form.get("username", [""])[0], form.get("password", [""])[0])
                if token is None or form.get("token", [""])[0] != "true":
                    return self.answer(401, "Authentication failed", "text/plain")
                return self.answer(201, token, "text/plain")
            if url.path == "/_peer/expire-tokens":
                with api.lock:
                    api.tokens = dict.fromkeys(api.tokens, 0.0)
                return self.answer(200, {"expired": len(api.tokens)})
            if url.path == "/_peer/fail":
                query = parse_qs(url.query)
                with api.lock:
                    api.fail_status = int(query.get("status", ["503"])[0])
                    api.fail_count = int(query.get("count", ["1"])[0])
                    api.fail_path = query.get("path", [""])[0]
                return self.answer(200, {"status": api.fail_status, "count": api.fail_count, "path": api.fail_path})
            if url.path == "/_peer/delay":
                query = parse_qs(url.query)
                with api.lock:
                    api.delay_seconds = float(query.get("seconds", ["3"])[0])
                    api.delay_count = int(query.get("count", ["1"])[0])
                    api.delay_path = query.get("path", [""])[0]
                return self.answer(200, {"seconds": api.delay_seconds, "count": api.delay_count})
            return self.answer(404, {"message": "Not found"})

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path == "/_peer/stats":
                with api.lock:
                    stats = {
                        "tokens_issued": api.tokens_issued,
                        "api_calls": api.api_calls,
                        "calls_by_api": dict(api.calls_by_api),
                    }
                return self.answer(200, stats)
            if not api.authorised(self.headers.get("Authorization", "")):
                return self.answer(401, {"message": "Jeton absent, invalide ou expiré"})
            with api.lock:
                api.api_calls += 1
                api.calls_by_api[api_of(url.path)] = api.calls_by_api.get(api_of(url.path), 0) + 1
                failing = api.take("fail", url.path)
                delay = api.delay_seconds if api.take("delay", url.path) else 0.0
            if delay:
                time.sleep(delay)  # the server is threaded: the other requests are answered meanwhile
            if failing:
                return self.answer(api.fail_status, {"message": "Erreur interne simulée"})
            status, body = api.route(url.path, parse_qs(url.query))
            return self.answer(status, body)

        def log_message(self, *args):
            pass

    return Handler


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--user", default="ecandidat")
    parser.add_argument("--password", default="pegase-dev-password")
    parser.add_argument("--etablissement", default="ETAB00")
    parser.add_argument("--page-size", type=int, default=1000, help="most rows per nomenclature or spaces page")
    parser.add_argument("--token-lifetime", type=int, default=3600, help="seconds")
    parser.add_argument(
        "--today",
        type=datetime.date.fromisoformat,
        default=os.environ.get("PEGASE_PEER_TODAY") or None,
        help="the date the calendar's periods are computed from, YYYY-MM-DD (default: $PEGASE_PEER_TODAY, else today)",
    )
    args = parser.parse_args(argv)
    api = Pegase(
        args.fixtures, args.user, args.password, args.etablissement, args.page_size, args.token_lifetime, args.today
    )
    server = ThreadingHTTPServer((args.host, args.port), make_handler(api))
    print(f"LISTENING {server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
