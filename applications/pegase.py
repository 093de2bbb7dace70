"""The Pégase backend of the student records system (``STUDENT_RECORDS_BACKEND=pegase``), over its REST API as
eCandidat uses it (reference: siscol-pegase-apogee.md §1; README "Deploying at a university").

- Token: ``POST PEGASE_AUTH_URL`` with the form ``username``, ``password``, ``token=true``; the plain-text body is
  the JWT, sent afterwards as ``Authorization: Bearer``. Pégase does not say how long it lives: we renew it after
  55 minutes (eCandidat: every 60) and, unlike eCandidat, once on a 401.
- Students (idt): ``etablissements/{etab}/identites/apprenants?codeApprenant=…|ine=…`` then, when exactly one
  matches, ``etablissements/{etab}/identites/{id}``; enrolments (ins): ``gestion/inscription/{etab}/{code}/``;
  when ``PEGASE_COC_URL`` is set, the published results of each enrolment (coc):
  ``etablissements/{etab}/periodes/{période}/apprenants/{code}/chemins/{formation>cible}`` (Pégase has no call
  for all of a learner's results). A failure there costs the results only: the cursus is imported without them.
- Reference lists (ref): ``nomenclatures/{Nom}/numPage/{p}/nbOccurences/1000``, page after page (countries,
  communes, schools, bac series and the spécialités of the bac général).
- Periods (ref, P2): ``etablissement/{etab}/espaces?type=PERIODE&page={p}&taille=1000``, from page 0 until
  ``totalPages``: the codes a campaign's code must be one of, since the OPI files carry it as ``code_periode``
  (eCandidat issue #108; ``applications.opi.periods``).

JSON as eCandidat reads it: unknown fields ignored, ``""`` taken as null. Every text read from an answer goes
through ``_text``, which leaves out what the dossier cannot hold (NUL, control characters: ``_clean``). Pégase's
country, commune and school codes are turned into the dossier's (ISO country codes, labels) through the reference
tables that the nightly ``refresh_reference_data`` fills, so that batch must have run once before students are
imported.

Any failure (network, timeout, credentials refused, 5xx, an answer longer than ``PEGASE_MAX_ANSWER_BYTES``, not JSON,
JSON of another shape than Pégase's: an object where a list is expected, a count that is not a number…) raises
``StudentRecordsUnavailable``; a 404 on a student means "not found". Absent, null and "" are read as empty, as
eCandidat does. Where Pégase answered and only that answer is unusable (an error status other than those of
``OUTAGE_STATUSES``, too long, not JSON, JSON of another shape) it is the subclass ``StudentRecordAnswerError``: one
learner's broken record, which the nightly ``sync_sis`` reports and steps over instead of stopping at it every night.
"""

import datetime
import json
import logging
import re
import threading
import time
from decimal import Decimal
from typing import Any, NamedTuple, cast
from urllib.parse import quote, urlsplit

import requests
import urllib3
from django.conf import settings

from applications.countries import FRANCE
from applications.enums import Civility, Mention
from applications.models import Address, ReferenceCommune, ReferenceCountry, ReferenceSchool
from applications.sis import (
    UAI,
    ReferenceItem,
    ReferenceKind,
    SisAddress,
    SisBaccalaureate,
    SisCursusLine,
    SisStudent,
    StudentRecordAnswerError,
    StudentRecordsUnavailable,
    parse_grade,
    parse_grade_scale,
)
from applications.validators import normalise_ine
from ecandidat.http import TooLarge, TooSlow, read_by
from ecandidat.text import NUL, ONE_LINE_CONTROLS

logger = logging.getLogger(__name__)

TOKEN_MAX_AGE = 55 * 60  # seconds
NOMENCLATURE_PAGE_SIZE = 1000  # eCandidat's
PERIOD_PAGE_SIZE = 1000  # eCandidat's (P2's taille)
MAX_PAGES = 1000  # a server whose totalPages never ends must not keep a request busy for ever
NOMENCLATURES = {
    ReferenceKind.COUNTRIES: "PaysNationalite",
    ReferenceKind.COMMUNES: "Commune",
    ReferenceKind.SCHOOLS: "EtablissementFrancais",
    ReferenceKind.BAC_SERIES: "SerieBac",
    ReferenceKind.BAC_SPECIALITIES: "SpecialitesBacGeneral",
}
ADDRESS_LINE_LENGTH = cast(int, Address._meta.get_field("line1").max_length)  # each of the dossier's 3 lines
PEGASE_FRANCE = "100"  # Pégase's (and Apogée's) code of France, known before any refresh
# Error statuses that say Pégase (or what stands in front of it) is not serving anyone, whatever the learner asked
# about: 401 once the token was renewed (our credentials refused), a proxy asking for its own credentials (407), a
# server that timed out waiting for the request (408, as our own timeouts), asks to slow down (429), and a gateway
# whose Pégase is down or late (502, 503, 504: the reverse proxy answers for a server it cannot reach, so the next
# learner's request would get the same). These stay ``StudentRecordsUnavailable``. Any other status >= 400 (404
# aside: not found) came from Pégase about that address, a 500 on one learner's identity above all, so it is that
# record's ``StudentRecordAnswerError``; a Pégase answering 500 to everyone is caught by ``sync_sis``'s count of
# such errors in a row.
OUTAGE_STATUSES = frozenset({401, 407, 408, 429, 502, 503, 504})


class UnmappedCountry(Exception):
    """A Pégase country code that the reference tables do not turn into an ISO code."""


# One token per (authentication URL, user) and process, shared by the backends built for each request.
_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()
# Servers (host:port, or the base URL of an API asked apart: coc) that did not answer, and when to try them again
# (monotonic seconds).
_unreachable: dict[str, float] = {}
_unreachable_lock = threading.Lock()
UNREACHABLE_SECONDS = 30


# What a text from Pégase may carry and the dossier must not: NUL, which PostgreSQL refuses in text (the import
# failed with a 500 and the details the candidate had just typed were lost), the other control and writing-direction
# characters the dossier's forms refuse (``ecandidat.text``), and the lone UTF-16 surrogates a JSON escape can give
# ("\ud800"), which no UTF-8 text holds.
_UNSTORABLE = re.compile(f"{NUL}|\t|{ONE_LINE_CONTROLS.pattern}|[\ud800-\udfff]")


def _clean(text: str) -> str:
    """``text`` without the characters of ``_UNSTORABLE``: one that stands for a space (a tab, a line break) becomes
    a space, the others are left out (a commune code with a NUL in it is the commune's code)."""
    return _UNSTORABLE.sub(lambda found: " " if found.group().isspace() else "", text)


def _text(value: Any) -> str:
    """A JSON string as eCandidat reads it: null and "" are empty, surrounding spaces dropped; cleaned (``_clean``).
    Every text the backend takes from an answer is read through here."""
    return _clean(value if isinstance(value, str) else ("" if value is None else str(value))).strip()


def _kind(value: Any) -> str:
    """The JSON type of ``value``: what the messages about an unexpected answer say of it, never the value itself
    (a learner's answer holds personal data)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _malformed(what: str, detail: str) -> StudentRecordAnswerError:
    """An answer Pégase should not give (valid JSON of another shape), logged and reported as the system being
    unavailable: the callers then degrade as for an outage (the candidate types the dossier, nothing is erased).
    A ``StudentRecordAnswerError``: Pégase answered, this answer is broken (``sync_sis`` goes on with the next
    dossier)."""
    logger.warning("Pégase %s: unexpected answer: %s", what, detail)
    return StudentRecordAnswerError(f"Pégase {what}: unexpected answer: {detail}")


def _object(container: dict, key: str, *, what: str, where: str = "") -> dict:
    """``container[key]``, an object: {} when absent, null or "" (JSON as eCandidat reads it), else
    ``StudentRecordsUnavailable``. ``where`` names the container in the message (``inscriptions[].cible``)."""
    value = container.get(key)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise _malformed(what, f"{where}{key} is {_kind(value)}, not an object")
    return value


def _objects(container: dict, key: str, *, what: str, where: str = "") -> list[dict]:
    """``container[key]``, a list of objects: [] when absent, null or "", else ``StudentRecordsUnavailable``."""
    value = container.get(key)
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        raise _malformed(what, f"{where}{key} is {_kind(value)}, not a list")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise _malformed(what, f"{where}{key}[{index}] is {_kind(item)}, not an object")
    return value


def _code(obj: Any, key: str) -> str:
    """``obj[key].code`` (Pégase's references are objects with a code), "" when absent."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return _text(value.get("code")) if isinstance(value, dict) else ""


def _label(item: dict) -> str:
    return _text(item.get("libelleAffichage")) or _text(item.get("libelleLong")) or _text(item.get("libelleCourt"))


def _year(value: Any) -> int | None:
    match = re.match(r"^\s*(\d{4})", _text(value))
    return int(match.group(1)) if match else None


def _insee(code: str) -> str:
    # eCandidat pads 4-character commune codes (départements 01–09 lost their leading zero somewhere upstream).
    return f"0{code}" if len(code) == 4 else code


def department_of(insee_code: str) -> str:
    """The département of a French commune's INSEE code: 2 characters, 3 overseas (97x)."""
    if len(insee_code) != 5:
        return ""
    return insee_code[:3] if insee_code.startswith("97") else insee_code[:2]


class Answer(NamedTuple):
    status: int
    body: bytes


class PegaseClient:
    """HTTP to Pégase: the token, then JSON GETs. Raises ``StudentRecordsUnavailable``; returns None on a 404."""

    def __init__(
        self,
        *,
        auth_url: str,
        username: str,
        password: str,
        timeout: float,
        session: requests.Session | None = None,
        remember_outages: bool = True,
        max_answer_bytes: int | None = None,
    ):
        """``remember_outages=False`` (the connectivity page's test): the "did not answer" memory is neither read nor
        written, so a test with its own short timeout never cuts the process's lookups off from Pégase.
        ``max_answer_bytes``: the most an answer may hold (``PEGASE_MAX_ANSWER_BYTES`` unless given)."""
        self.auth_url, self.username, self.password, self.timeout = auth_url, username, password, timeout
        self.max_answer_bytes = settings.PEGASE_MAX_ANSWER_BYTES if max_answer_bytes is None else max_answer_bytes
        self.http = session or requests.Session()
        self.remember_outages = remember_outages

    def _send(self, method: str, url: str, what: str, *, scope: str = "", **kwargs: Any) -> Answer:
        """One HTTP request, its whole answer within ``timeout`` seconds: requests' timeout bounds each wait on the
        socket only, and a server sending its answer drop by drop held a login as long as it liked
        (``ecandidat.http.read_by``). At most ``max_answer_bytes`` of it: a longer answer is refused (from its
        ``Content-Length`` when it announces one) rather than held whole in the worker's memory, then parsed.
        A server that did not answer (refused, timed out, too slow) is not asked again for UNREACHABLE_SECONDS in
        this process: while Pégase hangs, each login would otherwise wait PEGASE_TIMEOUT. ``scope`` narrows that
        memory to one API (its base URL) when the server's other APIs must not pay for it."""
        server = scope or urlsplit(url).netloc
        if self.remember_outages:
            with _unreachable_lock:
                retry_at = _unreachable.get(server, 0.0)
            if time.monotonic() < retry_at:
                raise StudentRecordsUnavailable(f"{what}: did not answer a moment ago; not asked again yet")
        deadline = time.monotonic() + self.timeout
        try:
            response = self.http.request(method, url, timeout=self.timeout, stream=True, **kwargs)
            try:
                return Answer(response.status_code, read_by(response, deadline, max_bytes=self.max_answer_bytes))
            finally:
                response.close()  # the connection goes back to the pool once read, else it is dropped
        except TooLarge as exc:
            # The server answered: not marked as not answering (it is this answer, not the server, that is refused),
            # and one learner's answer too long is that learner's broken record: the nightly ``sync_sis`` stopped at
            # it every night, and the dossiers after it were never refreshed again.
            logger.warning("%s: answer refused: %s (PEGASE_MAX_ANSWER_BYTES)", what, exc)
            raise StudentRecordAnswerError(f"{what}: {exc} (PEGASE_MAX_ANSWER_BYTES)") from exc
        except (requests.ConnectionError, requests.Timeout, urllib3.exceptions.TimeoutError, TooSlow) as exc:
            if self.remember_outages:
                with _unreachable_lock:
                    _unreachable[server] = time.monotonic() + UNREACHABLE_SECONDS
            raise StudentRecordsUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StudentRecordsUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc

    def token(self, *, renew: bool = False) -> str:
        """The cached token, else a new one. The lock guards the cache only: the POST runs without it, so a slow
        authentication server keeps no other thread's lookup (another account's, or one holding a token) waiting."""
        key = (self.auth_url, self.username)
        with _tokens_lock:
            cached = _tokens.get(key)
        if cached and not renew and time.monotonic() - cached[1] < TOKEN_MAX_AGE:
            return cached[0]
        answer = self._send(
            "POST",
            self.auth_url,
            "Pégase authentication",
            data={"username": self.username, "password": self.password, "token": "true"},
        )
        if answer.status in (401, 403):
            raise StudentRecordsUnavailable("Pégase authentication: the credentials were refused")
        token = _text(answer.body.decode("utf-8", "replace"))
        if answer.status >= 400 or not token:
            raise StudentRecordsUnavailable(f"Pégase authentication: HTTP {answer.status}, no token")
        with _tokens_lock:
            _tokens[key] = (token, time.monotonic())
        return token

    def get_json(self, url: str, *, params: dict | None = None, scope: str = "") -> Any:
        """GET ``url``; the token is renewed once on a 401 (expired or revoked). None on a 404. An error status of
        ``OUTAGE_STATUSES`` raises ``StudentRecordsUnavailable``; any other, or a body that is not JSON, raises
        ``StudentRecordAnswerError`` (Pégase answered; this answer is unusable)."""
        answer = None
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.token(renew=attempt == 2)}", "Accept": "application/json"}
            answer = self._send("GET", url, f"Pégase {url}", scope=scope, params=params, headers=headers)
            if answer.status != 401:
                break
        assert answer is not None  # the loop ran at least once
        if answer.status == 404:
            return None
        if answer.status in OUTAGE_STATUSES:
            raise StudentRecordsUnavailable(f"Pégase {url}: HTTP {answer.status}")
        if answer.status >= 400:
            raise StudentRecordAnswerError(f"Pégase {url}: HTTP {answer.status}")
        try:
            return json.loads(answer.body)
        except ValueError as exc:  # UnicodeDecodeError included
            raise StudentRecordAnswerError(f"Pégase {url}: the answer is not JSON") from exc


def _path(*segments: str) -> str:
    # Pégase path segments are percent-encoded (a code chemin's ">" becomes %3E).
    return "/".join(quote(segment, safe="") for segment in segments)


class Period(NamedTuple):
    """A Pégase period (P2's ``items[]``): its code is what the OPI files carry as ``code_periode``."""

    code: str
    label: str


class Enrolment(NamedTuple):
    """An enrolment (``inscriptions[].cible``): its cursus line and what names its results in coc."""

    line: SisCursusLine
    target: str  # cible.code
    formation: str  # cible.formation.code
    period: str  # cible.periode.code

    @property
    def path(self) -> str:
        """eCandidat's code chemin of the enrolment: ``formation>cible`` (the cible alone without a formation)."""
        return f"{self.formation}>{self.target}" if self.formation else self.target


def _final_session(publication: dict) -> tuple[str, Decimal | None]:
    """The result code and the note of the last session that has either: session 2 (the resit) when the learner
    sat it, else session 1. eCandidat takes session 1 whenever it has one, which shows "AJ" for a year passed at
    the resit; its Apogée import lists every session. A note that is not a number is left out."""
    for session in (2, 1):
        result = _code(publication, f"resultatSession{session}")
        try:
            grade = parse_grade(publication.get(f"noteSession{session}"))
        except ValueError:
            grade = None
        if result or grade is not None:
            return result, grade
    return "", None


class PegaseBackend:
    """``STUDENT_RECORDS_BACKEND=pegase``: students and reference lists from Pégase."""

    def __init__(
        self,
        *,
        client: PegaseClient,
        etablissement: str,
        ref_url: str,
        idt_url: str,
        ins_url: str,
        coc_url: str = "",
    ):
        self.client, self.etablissement = client, etablissement
        self.ref_url, self.idt_url, self.ins_url = (url.rstrip("/") + "/" for url in (ref_url, idt_url, ins_url))
        self.coc_url = coc_url.rstrip("/") + "/" if coc_url else ""  # empty: results are not read

    @classmethod
    def from_settings(cls) -> "PegaseBackend":
        client = PegaseClient(
            auth_url=settings.PEGASE_AUTH_URL,
            username=settings.PEGASE_USERNAME,
            password=settings.PEGASE_PASSWORD,
            timeout=settings.PEGASE_TIMEOUT,
        )
        return cls(
            client=client,
            etablissement=settings.PEGASE_ETABLISSEMENT,
            ref_url=settings.PEGASE_REF_URL,
            idt_url=settings.PEGASE_IDT_URL,
            ins_url=settings.PEGASE_INS_URL,
            coc_url=settings.PEGASE_COC_URL,
        )

    # --- students ---------------------------------------------------------------------------------------------

    def find_by_student_number(self, number: str) -> SisStudent | None:
        return self._find(codeApprenant=number) if number else None

    def find_by_ine(self, ine: str) -> SisStudent | None:
        return self._find(ine=normalise_ine(ine)) if ine else None

    def _find(self, **query: str) -> SisStudent | None:
        found = self.client.get_json(
            self.idt_url + _path("etablissements", self.etablissement, "identites", "apprenants"), params=query
        )
        if found is None:
            return None  # 404
        what = "learner search"
        if not isinstance(found, dict):
            raise _malformed(what, f"the answer is {_kind(found)}, not an object")
        total = found.get("totalElements")
        if type(total) is not int or total < 0:
            raise _malformed(what, f"totalElements is {_kind(total)}, not a count")
        if total != 1:
            if total:
                logger.warning("Pégase: %s learners match %s; none imported", total, list(query))
            return None
        items = _objects(found, "items", what=what)
        if not items:
            raise _malformed(what, "totalElements is 1 but items is empty")
        raw_id = items[0].get("id")
        if type(raw_id) not in (str, int) or not _text(raw_id):
            raise _malformed(what, f"items[0].id is {_kind(raw_id) if raw_id != '' else 'empty'}, not an id")
        identity_id = _text(raw_id)
        identity = self.client.get_json(
            self.idt_url + _path("etablissements", self.etablissement, "identites", identity_id)
        )
        if identity is None:
            return None  # 404: gone since the search
        if not isinstance(identity, dict):
            raise _malformed("identity", f"the answer is {_kind(identity)}, not an object")
        profile = _object(identity, "profilApprenant", what="identity")
        civil = _object(profile, "etatCivil", what="identity", where="profilApprenant.")
        code = _text(profile.get("codeApprenant"))
        try:
            birth_date = datetime.date.fromisoformat(_text(civil.get("dateNaissance")))
        except ValueError:
            birth_date = None
        # The import locks the names and the birth date: an identity lacking one would blank it in the dossier, and
        # the candidate could not type it back. Not imported, as a learner Pégase does not know.
        names = (_text(identity.get("nomNaissance")), _text(identity.get("prenom")) or _text(civil.get("prenom")))
        if not code or birth_date is None or not all(names):
            logger.warning(
                "Pégase: identity %s has no learner code, date of birth, birth name or first name; not imported",
                identity_id,
            )
            return None
        try:
            return self._student(identity, profile, code, birth_date)
        except UnmappedCountry as exc:
            logger.warning(
                "Pégase: learner %s not imported: country codes %s have no ISO code here (refresh_reference_data)",
                code,
                exc.args,
            )
            return None

    def _cursus(self, code: str) -> tuple[tuple[SisCursusLine, ...], bool]:
        # eCandidat swallows cursus errors; we do not for an outage: an empty answer would erase the cursus the
        # nightly refresh imported before. A 404 (no enrolment) is an empty cursus.
        data = self.client.get_json(self.ins_url + _path("gestion", "inscription", self.etablissement, code) + "/")
        what = "enrolments"
        if data is not None and not isinstance(data, dict):
            raise _malformed(what, f"the answer is {_kind(data)}, not an object")
        enrolments = []
        # An enrolment of another shape is not skipped: the nightly refresh would erase that cursus line.
        for item in _objects(data or {}, "inscriptions", what=what):
            target = _object(item, "cible", what=what, where="inscriptions[].")
            period = _object(target, "periode", what=what, where="inscriptions[].cible.")
            formation = _object(target, "formation", what=what, where="inscriptions[].cible.")
            year = _year(period.get("anneeUniversitaire"))
            target_code = _text(target.get("code"))
            label = _text(target.get("libelleCourt")) or _text(formation.get("libelleCourt"))
            if year and target_code and label:
                line = SisCursusLine(academic_year=year, code=target_code[:20], label=label[:200])
                enrolments.append(
                    Enrolment(line, target_code, _text(formation.get("code")), _text(period.get("code")))
                )
        lines = [enrolment.line for enrolment in enrolments]
        if not self.coc_url:
            return tuple(lines), False
        try:
            results = [self._results(code, enrolment) for enrolment in enrolments]
        except StudentRecordsUnavailable as exc:
            # The enrolments were read: the cursus is imported without its results rather than not at all.
            logger.warning(
                "Pégase: the results of learner %s were not read, cursus imported without them: %s", code, exc
            )
            return tuple(lines), True
        return tuple(
            line for enrolment, found in zip(enrolments, results, strict=True) for line in (enrolment.line, *found)
        ), False

    def _results(self, code: str, enrolment: Enrolment) -> list[SisCursusLine]:
        """The published results of one enrolment (coc ``Publication`` list), as eCandidat reads them: one line per
        object exactly one level below the enrolment's cible (code chemin ``formation>cible>objet``, e.g. its
        semesters), named by the enrolment and the object. Raises ``StudentRecordsUnavailable``."""
        if not enrolment.period:
            return []
        url = self.coc_url + _path(
            "etablissements",
            self.etablissement,
            "periodes",
            enrolment.period,
            "apprenants",
            code,
            "chemins",
            enrolment.path,
        )
        # Scoped: a coc that hangs must not make the identities and enrolments (often the same host) wait too.
        publications = self.client.get_json(url, scope=self.coc_url)
        if publications is None:
            return []  # 404: nothing published for this enrolment
        if not isinstance(publications, list):
            raise StudentRecordsUnavailable(f"Pégase {url}: the answer is not a list of publications")
        lines = []
        for publication in publications:
            if not isinstance(publication, dict) or len(_text(publication.get("codeChemin")).split(">")) != 3:
                continue
            leaf = publication.get("objetFeuille") or {}
            leaf_code = _text(leaf.get("code")) if isinstance(leaf, dict) else ""
            if not leaf_code:
                continue
            result, grade = _final_session(publication)
            try:
                grade_scale = parse_grade_scale(publication.get("bareme"))
            except ValueError:
                grade_scale = None
            lines.append(
                SisCursusLine(
                    academic_year=enrolment.line.academic_year,
                    code=leaf_code[:20],
                    label=f"{enrolment.line.label} / {_text(leaf.get('libelleCourt')) or leaf_code}"[:200],
                    result=result[:50],
                    grade=grade,
                    grade_scale=grade_scale,
                )
            )
        return lines

    def _student(self, identity: dict, profile: dict, code: str, birth_date: datetime.date) -> SisStudent:
        civil = _object(profile, "etatCivil", what="identity", where="profilApprenant.")
        contact = _object(profile, "donneesContact", what="identity", where="profilApprenant.")
        schooling = _object(profile, "parcoursScolaireEtUniversitaire", what="identity", where="profilApprenant.")
        country_codes = {
            _code(civil, "paysNaissance"),
            _code(civil, "nationalite"),
            _code(contact, "adresseFixePays"),
            _code(schooling, "paysBac"),
        }
        countries = dict(
            ReferenceCountry.objects.filter(code__in=country_codes - {""})
            .exclude(iso_code="")
            .values_list("code", "iso_code")
        )
        countries.setdefault(PEGASE_FRANCE, FRANCE)

        birth_commune = _insee(_code(civil, "communeNaissance"))
        birth_country = countries.get(_code(civil, "paysNaissance"), "")
        nationality = countries.get(_code(civil, "nationalite"), "") or birth_country
        if not birth_country or not nationality:
            # The dossier needs ISO codes and the SIS import locks these fields: rather than a locked empty field,
            # no import (the candidate types the dossier). refresh_reference_data maps the codes it can.
            raise UnmappedCountry(_code(civil, "paysNaissance"), _code(civil, "nationalite"))
        birth_city = _text(civil.get("libelleCommuneNaissanceEtranger"))
        if birth_commune:
            birth_city = self._commune_label(birth_commune) or birth_city
        ine = next(
            (
                normalise_ine(_text(entry.get("ine")))
                for entry in _objects(profile, "listeINEs", what="identity", where="profilApprenant.")
                if entry.get("confirme") and entry.get("maitre")
            ),
            "",
        )
        cursus, results_missing = self._cursus(code)
        return SisStudent(
            student_number=code,
            ine=ine if len(ine) == 11 else "",
            civility=Civility.MRS if _text(civil.get("sexe")).upper() == "F" else Civility.MR,
            birth_name=_text(identity.get("nomNaissance")),
            usual_name=_text(civil.get("nomUsage")),
            first_name=_text(identity.get("prenom")) or _text(civil.get("prenom")),
            other_first_name=_text(civil.get("prenom2")),
            birth_date=birth_date,
            birth_country=birth_country,
            birth_department=department_of(birth_commune) if birth_country == FRANCE else "",
            birth_city=birth_city[:50],
            nationality=nationality,
            mobile=_text(identity.get("telephonePortablePersonnel")),
            address=self._address(contact, countries),
            baccalaureate=self._baccalaureate(schooling, countries),
            cursus=cursus,
            cursus_results_missing=results_missing,
        )

    def _commune_label(self, insee_code: str, postal_code: str = "") -> str:
        communes = ReferenceCommune.objects.filter(insee_code=insee_code)
        if postal_code:
            communes = communes.filter(postal_code=postal_code)
        return communes.order_by("code").values_list("label", flat=True).first() or ""

    def _address(self, contact: dict, countries: dict[str, str]) -> SisAddress | None:
        """The fixed address, each Pégase line in the dossier's slot of the same meaning, as eCandidat maps it (adr1 =
        ``Ligne3Voie``, adr2 = ``Ligne1Etage``, adr3 = ``Ligne2Batiment``): line 1 the street, line 2 the étage,
        line 3 the bâtiment. An empty line leaves its slot empty, never filled from the next: the OPI files send
        line 2 back as ``adresse_ligne1_etage`` and line 3 as ``adresse_ligne2_batiment``.

        The dossier has no slot for ``Ligne4Complement`` (eCandidat drops it; the OPI files send its column
        empty): it is added to the street line, after a comma, only when both fit the line's 32 characters, and
        is otherwise dropped rather than cut or moved into the étage or bâtiment slot. Each line is cut at 32
        characters. No line left (none given, or only a complément too long for the street line): no address (the
        candidate types it)."""
        street, floor, building, complement = (
            _text(contact.get(f"adresseFixeLigne{n}")) for n in ("3Voie", "1Etage", "2Batiment", "4Complement")
        )
        with_complement = ", ".join(filter(None, (street, complement)))
        if len(with_complement) <= ADDRESS_LINE_LENGTH:
            street = with_complement
        lines = [line[:ADDRESS_LINE_LENGTH] for line in (street, floor, building)]
        if not any(lines):
            return None
        country = countries.get(_code(contact, "adresseFixePays"), "")
        postal_code = _text(contact.get("adresseFixeCodePostal"))
        if country == FRANCE:
            city = self._commune_label(_insee(_text(contact.get("adresseFixeCodeCommune"))), postal_code)
        else:
            city = _text(contact.get("adresseFixeLigne5Etranger"))
        return SisAddress(
            line1=lines[0],
            line2=lines[1],
            line3=lines[2],
            postal_code=postal_code,
            city=city[:50],
            country=country or FRANCE,
        )

    def _baccalaureate(self, schooling: dict, countries: dict[str, str]) -> SisBaccalaureate | None:
        series, year = _code(schooling, "typeSerieBac"), _year(schooling.get("anneeObtentionBac"))
        if not series or not year:
            return None
        school_code = _code(schooling, "etablissementBac")
        school = ReferenceSchool.objects.filter(code=school_code).first() if school_code else None
        mention = _code(schooling, "mentionBac")
        # eCandidat reads these two as the spécialités terminale 1 and 2; Pégase has no spécialité de première
        # abandonnée nor options. Codes of SpecialitesBacGeneral, named through the refreshed list.
        first, second = _code(schooling, "premiereSpecialiteBac")[:20], _code(schooling, "deuxiemeSpecialiteBac")[:20]
        return SisBaccalaureate(
            series=series[:20],
            year=year,
            mention=mention if mention in Mention.values else "",
            country=countries.get(_code(schooling, "paysBac"), "") or FRANCE,
            department=school.department if school else "",
            city=self._commune_label(school.commune_insee_code) if school else "",
            school=(school.label if school else school_code)[:100],
            school_uai=school_code if UAI.match(school_code) else "",
            speciality_1=first,
            speciality_2=second if second != first else "",
        )

    # --- reference lists --------------------------------------------------------------------------------------

    def reference_list(self, kind: ReferenceKind) -> list[ReferenceItem] | None:
        """The nomenclature of ``kind``, page after page from 0 until ``nbTotalPages`` and, as ``periods``, at most
        ``MAX_PAGES`` pages (an answer claiming a billion pages must not keep the refresh asking for ever). Raises
        ``StudentRecordsUnavailable`` (an outage, or an answer that is not a page)."""
        name = NOMENCLATURES[kind]
        items, page, pages = [], 0, 1
        while page < min(pages, MAX_PAGES):
            data = self.client.get_json(
                self.ref_url
                + _path("nomenclatures", name, "numPage", str(page), "nbOccurences")
                + f"/{NOMENCLATURE_PAGE_SIZE}"
            )
            if not isinstance(data, dict):
                raise StudentRecordsUnavailable(f"Pégase nomenclature {name}: page {page} missing")
            rows = data.get("nomenclatures") or []
            if not isinstance(rows, list):  # not taken as an empty page: the refresh would hide that page's rows
                raise _malformed(f"nomenclature {name}", f"nomenclatures is {_kind(rows)}, not a list")
            items += [item for item in rows if isinstance(item, dict)]
            try:
                pages = int(data.get("nbTotalPages") or 0)
            except (TypeError, ValueError) as exc:
                detail = f"nbTotalPages is {_kind(data.get('nbTotalPages'))}, not a page count"
                raise _malformed(f"nomenclature {name}", detail) from exc
            page += 1
        convert = getattr(self, f"_{kind.value}_item")
        return [row for row in map(convert, items) if row is not None]

    def periods(self) -> list[Period]:
        """Every period of the institution (P2), page after page from 0 until ``totalPages``; rows without a code
        are skipped. Raises ``StudentRecordsUnavailable`` (an outage, or an answer that is not a page)."""
        url = self.ref_url + _path("etablissement", self.etablissement, "espaces")
        periods: list[Period] = []
        page, pages = 0, 1
        while page < min(pages, MAX_PAGES):
            data = self.client.get_json(url, params={"type": "PERIODE", "page": page, "taille": PERIOD_PAGE_SIZE})
            if not isinstance(data, dict):
                raise StudentRecordsUnavailable(f"Pégase periods: page {page} missing")
            rows = data.get("items") or []
            if not isinstance(rows, list):
                raise _malformed("periods", f"items is {_kind(rows)}, not a list")
            for item in rows:
                code = _text(item.get("code")) if isinstance(item, dict) else ""
                if code:
                    periods.append(Period(code, _text(item.get("libelleLong")) or _text(item.get("libelle")) or code))
            try:
                pages = int(data.get("totalPages") or 0)
            except (TypeError, ValueError) as exc:
                raise StudentRecordsUnavailable(f"Pégase periods: totalPages {data.get('totalPages')!r}") from exc
            page += 1
        return periods

    @staticmethod
    def _visible(item: dict) -> bool:
        return item.get("temoinVisible") is not False

    def _countries_item(self, item: dict) -> ReferenceItem | None:
        code, label = _text(item.get("code")), _label(item)
        if not code or not label:
            return None
        nationality = _text(item.get("libelleNationalite")) or _text(item.get("libelleCourt"))
        return ReferenceItem(code=code, label=label, visible=self._visible(item), nationality_label=nationality)

    def _communes_item(self, item: dict) -> ReferenceItem | None:
        code, label = _text(item.get("code")), _label(item)
        insee, postal_code = _insee(_text(item.get("codeInsee"))), _text(item.get("codePostal"))
        if not code or not label or len(insee) != 5:
            return None
        return ReferenceItem(
            code=code, label=label, visible=self._visible(item), insee_code=insee, postal_code=postal_code[:5]
        )

    def _schools_item(self, item: dict) -> ReferenceItem | None:
        # eCandidat skips schools lacking a UAI, label, commune or département.
        uai, label = _text(item.get("numeroUai")), _text(item.get("libelleAffichage"))
        commune = item.get("commune")
        commune = _insee(_text(commune.get("code") if isinstance(commune, dict) else commune))
        department = _code(item, "departement")
        if not uai or not label or not commune or not department:
            return None
        school_type = item.get("typeUai")
        return ReferenceItem(
            code=uai,
            label=label,
            visible=self._visible(item),
            commune_insee_code=commune,
            department=department[:3],
            school_type=_text(school_type.get("typeUai") if isinstance(school_type, dict) else "")[:20],
        )

    def _bac_specialities_item(self, item: dict) -> ReferenceItem | None:
        return self._bac_series_item(item)  # the same shape: code, labels, validity dates

    def _bac_series_item(self, item: dict) -> ReferenceItem | None:
        code, label = _text(item.get("code")), _label(item)
        if not code or not label:
            return None
        return ReferenceItem(
            code=code,
            label=label,
            visible=self._visible(item),
            first_year=_year(item.get("dateDebutValidite")),
            last_year=_year(item.get("dateFinValidite")),
        )
