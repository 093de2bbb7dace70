"""Helpers shared by applications' tests that are not builders (those are in factories*.py): addresses of pages,
requests made the way a person makes them, and reads of the outbox."""

import contextlib
import csv
import datetime
import io
import json
import re
import subprocess
import sys
import threading
import time
import zoneinfo
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import requests
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import translation

from accounts.tests.factories import DEFAULT_PASSWORD, StaffMembershipFactory
from applications.services import pieces as pieces_services
from applications.services import staff
from applications.tests.factories import STUDENT, CandidateFactory
from applications.tests.factories_candidature import ApplicationFactory, decision_type, make_application
from documents.tests import hostile_files as hostile
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import OutboundEmail
from ecandidat.tests.helpers import loopback_http
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations
from offers.enums import Avis
from offers.models import RefusalReason
from offers.tests.factories import FormationFactory


def english_date(day) -> str:
    """A date as the English pages and mails write it (``ecandidat/formats/en``): "7 Jan 2027"; French: 07/01/2027."""
    return f"{day.day} {day:%b %Y}"


def mails(code):
    """The outbox rows of mail ``code``, oldest first."""
    return list(OutboundEmail.objects.filter(code=code).order_by("id"))


# --- the candidate's « Informations personnelles » -----------------------------------------------------------------


def personal_details_form(**changes) -> dict:
    """The personal details page as Camille DUPONT posts it (a French national: her INE is required), with
    ``changes``."""
    return {
        "civility": "Mme",
        "birth_name": "Dupont",
        "usual_name": "",
        "first_name": "Camille",
        "other_first_name": "",
        "birth_date": "2001-02-03",
        "birth_country": "FR",
        "birth_department": "66",
        "birth_city": "Perpignan",
        "nationality": "FR",
        "ine": "1234567890V",
        "phone": "04 68 00 00 00",
        "mobile": "",
        "preferred_language": "fr",
        **changes,
    }


# What Estelle MARTIN (the student records' ``STUDENT``) types on her e-mail account: her INE, her birth date, her
# name (any case, accents aside).
ESTELLE_TYPED = personal_details_form(
    birth_name="Martin", first_name="Estelle", birth_date="2001-03-14", ine=STUDENT.ine, phone=""
)


def estelle_typed_by_hand(campaign):
    """Estelle's dossier typed by hand on an e-mail account of ``campaign``, with an application: her INE, her name,
    her birth date, not taken from the student records (``sis_locked`` off)."""
    candidate = CandidateFactory(
        user__campaign=campaign,
        birth_name="MARTIN",
        first_name="Estelle",
        birth_date=STUDENT.birth_date,
        ine=STUDENT.ine,
        sis_locked=False,
    )
    ApplicationFactory(candidate=candidate)
    return candidate


# --- the date de confirmation and the nights around it (the nightly batches, the validation's cutoff) -------------

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
CONFIRM_BY = datetime.date(2027, 6, 30)


def paris(*args) -> datetime.datetime:
    """A moment in Paris, the batches' and the site's time: ``paris(2027, 6, 30, 23, 0)``."""
    return datetime.datetime(*args, tzinfo=PARIS)


def formation_confirmed_by(centre, commission, **extra):
    """A formation of the 2027 calendar (applications from 1 January to 1 March, pieces until 15 March) whose
    favourable decisions are to be confirmed by ``CONFIRM_BY``, 30 June 2027; ``extra``: its other fields."""
    return FormationFactory(
        centre=centre,
        commission=commission,
        opens_on=datetime.date(2027, 1, 1),
        closes_on=datetime.date(2027, 3, 1),
        return_deadline=datetime.date(2027, 3, 15),
        confirmation_date=CONFIRM_BY,
        **extra,
    )


# --- the back office ------------------------------------------------------------------------------------------------


def change_url(application):
    return reverse("admin:applications_application_change", args=[application.pk])


def operation_url(application, name):
    return reverse("admin:applications_application_operation", args=[application.pk, name])


# The application's review page as its centre's manager sees it: the questions asked and their answers (2) included,
# and the two lists of its « Saisir un avis » (decision types, refusal reasons: for whoever may decide only). Pages
# that add something to it say so beside their own count.
REVIEW_PAGE_QUERIES = 34
# The same once a decision is validated: the mails about it, with their state (``review._decision_mails``).
RELEASED_REVIEW_PAGE_QUERIES = REVIEW_PAGE_QUERIES + 1


def _posted(value):
    """A form field's value as the browser posts it back (None: not posted)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "on" if value else None
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [str(item) for item in value]
    return str(getattr(value, "pk", value))


def admin_form_data(response) -> dict:
    """An admin change form's current values (the main form only), as the browser would post them back."""
    form = response.context["adminform"].form
    values = {name: _posted(form[name].value()) for name in form.fields}
    return {name: value for name, value in values.items() if value is not None}


def dossier_form_data(response) -> dict:
    """The staff dossier page's values (the dossier and every inline), as the browser would post them back."""
    data: dict = {}

    def put(form):
        for name in form.fields:
            value = _posted(form[name].value())
            if value is not None:
                data[form.add_prefix(name)] = value

    put(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[formset.management_form.add_prefix(name)] = _posted(formset.management_form[name].value())
        for form in formset.forms:
            put(form)
    return {key: value for key, value in data.items() if value is not None}


def released(formation, campaign, actor, avis=Avis.FAVOURABLE, **candidate):
    """An application of ``formation`` whose decision (``avis``) is recorded and validated by ``actor``."""
    application = make_application(formation, campaign=campaign, **candidate)
    extra = {}
    if avis == Avis.UNFAVOURABLE:
        extra["refusal_reason"] = RefusalReason.objects.get_or_create(code="CAP", label="Capacité atteinte")[0]
    decision = staff.record_decision(application, decision_type=decision_type(avis), actor=actor, **extra)
    staff.validate_decision(decision, actor=actor)
    return application


# --- exports --------------------------------------------------------------------------------------------------------

EXPORT_COLUMNS_URL = "admin:applications_application_export_columns"


def post_export(client, columns, fmt="csv", filters=""):
    """« Exporter avec les colonnes choisies », posted as its page does."""
    return client.post(reverse(EXPORT_COLUMNS_URL), {"columns": columns, "fmt": fmt, "filters": filters})


def csv_rows(response) -> list[list[str]]:
    """The rows of a streamed CSV export (UTF-8 with BOM, semicolons, as Excel in French opens it)."""
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


# --- the candidate's pieces -----------------------------------------------------------------------------------------


def upload_url(application, piece_type):
    return reverse("pieces:upload", args=[application.public_id, piece_type.pk])


def post_file(client, application, piece_type, uploaded_file):
    return client.post(upload_url(application, piece_type), {"file": uploaded_file})


def upload_pdf(application, piece_type):
    """The candidate sends a valid PDF for ``piece_type`` through ``application`` (the service, no request)."""
    return pieces_services.upload_piece(
        application=application,
        piece_type=piece_type,
        uploaded_file=hostile.valid_pdf_upload(),
        actor=application.created_by,
    )


# --- races on PostgreSQL (two transactions at once, the interleaving forced) ----------------------------------------


def backend_pid() -> int:
    """The PostgreSQL process of this thread's connection (``pg_stat_activity.pid``)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def waits_for_a_lock(pid: int) -> bool:
    """Whether the connection ``pid`` waits for a lock now. PostgreSQL reads the list of connections once per
    transaction (the first read of ``pg_stat_activity``): a connection opened after it would never be seen, hence the
    cleared snapshot before each read (this made the lock-order tests fail at random on a loaded machine)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
        return bool(row and row[0])


def stay_stopped(done: threading.Event, pids: dict, other: str) -> bool:
    """Until the other side is ``done``, or its connection waits for a lock this transaction holds (it cannot go
    on before this one ends); True in the second case: the other side was seen waiting."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not done.wait(0.05):
        if other in pids and waits_for_a_lock(pids[other]):
            return True
    return False


def run_both(sides: dict) -> dict:
    """Run each side (name: function) in a thread of its own, in English, each closing its connection; what each
    returned: "ok", the message of the ``BusinessRuleError`` it raised, or any other exception (PostgreSQL's
    "deadlock detected" among them)."""
    outcomes: dict = {}

    def run(name, function):
        try:
            with translation.override("en"):
                function()
            outcomes[name] = "ok"
        except BusinessRuleError as error:
            outcomes[name] = str(error)
        except BaseException as error:  # noqa: BLE001 - reported to the test
            outcomes[name] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=item, name=item[0]) for item in sides.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


# --- staff in a browser ---------------------------------------------------------------------------------------------


def staff_with_authenticator_app(**membership):
    """A staff member with an active authenticator app (allauth TOTP), as the back office requires; returns the user
    and the app's secret, from which the test computes the codes the phone would show."""
    membership = StaffMembershipFactory(**membership)
    secret = generate_totp_secret()
    TOTP.activate(membership.user, secret)
    return membership.user, secret


def staff_login(page, live_server, user, secret: str) -> None:
    """The back office's address, the login page it sends to, then the code of the authenticator app, as a member
    of staff does."""
    page.goto(f"{live_server.url}/gestion/")
    page.get_by_label("Utilisateur").fill(user.username)
    page.get_by_label("Mot de passe").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Connexion", exact=True).click()
    page.get_by_role("textbox", name="Code").fill(current_code(secret))
    page.get_by_role("button", name="Connexion", exact=True).click()
    page.get_by_role("heading", name="Gestion").wait_for()


def current_code(secret: str) -> str:
    """The code the phone shows now (allauth's own TOTP functions)."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD))


def admin_operation(
    page, link: str, choices: dict[str, str] | None = None, *, check_accessibility: bool = False
) -> None:
    """An object tool of the application page ("Statut du dossier", "Saisir un avis", "Valider les avis"): its
    drop-downs (label → option), "Confirmer", and the back office's report."""
    page.locator(".review-operations").get_by_role("link", name=link, exact=True).click()
    if check_accessibility:
        assert_no_serious_axe_violations(page)
    for label, option in (choices or {}).items():
        # Django's label_tag appends " :", hence a prefix match.
        page.get_by_role("combobox", name=re.compile(rf"^{re.escape(label)}\b")).select_option(label=option)
    confirm, cancel = (
        page.get_by_role("button", name="Confirmer", exact=True),
        page.get_by_role("link", name="Annuler"),
    )
    # "Annuler" is drawn as a button beside "Confirmer" (static/css/admin_a11y.css), not as a small underlined tag.
    assert cancel.evaluate("link => getComputedStyle(link).textDecorationLine") == "none"
    assert abs(cancel.bounding_box()["height"] - confirm.bounding_box()["height"]) <= 2
    confirm.click()
    page.locator(".messagelist .success", has_text=link).wait_for()


# --- the peers of devtools/ (separate processes over real HTTP) -------------------------------------------------

DEVTOOLS = Path(__file__).resolve().parents[2] / "devtools"


def start_peer(script: str, *args: str):
    """Start ``devtools/<script>`` on a free port; returns the process (``stop_peer`` it) and its base address."""
    process = subprocess.Popen(  # noqa: S603 (our own script)
        [sys.executable, str(DEVTOOLS / script), "--port", "0", *args], stdout=subprocess.PIPE, text=True
    )
    line = process.stdout.readline()
    assert line.startswith("LISTENING"), line
    return process, f"http://127.0.0.1:{line.split()[1]}"


def stop_peer(process) -> None:
    process.terminate()
    process.wait(timeout=10)


# --- the Pégase peer (devtools/pegase/server.py, a separate process over real HTTP) ---------------------------------

PEGASE_SERVER = Path(__file__).resolve().parents[2] / "devtools" / "pegase" / "server.py"
# The peer's "today", from which it computes its calendar's periods (2023 … 2027 around the academic year 2026-2027):
# the tests do not depend on the real date.
PEGASE_PEER_TODAY = datetime.date(2026, 10, 1)


def start_pegase_peer(*args: str, today: datetime.date | None = PEGASE_PEER_TODAY, env: dict | None = None):
    """Start the peer on a free port, its calendar computed from ``today`` (None: not pinned, the peer's own
    choice); returns the process (terminate it) and its base address."""
    pinned = ("--today", today.isoformat()) if today else ()
    process = subprocess.Popen(  # noqa: S603 (our own script)
        [sys.executable, str(PEGASE_SERVER), "--port", "0", "--user", "u", "--password", "p", *pinned, *args],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    assert line.startswith("LISTENING"), line
    return process, f"http://127.0.0.1:{line.split()[1]}"


def configure_pegase(settings, url: str) -> None:
    """Point the Pégase backend's settings at the peer at ``url``."""
    settings.STUDENT_RECORDS_BACKEND = "pegase"
    settings.PEGASE_AUTH_URL = f"{url}/cas/v1/tickets"
    settings.PEGASE_USERNAME, settings.PEGASE_PASSWORD = "u", "p"
    settings.PEGASE_ETABLISSEMENT = "ETAB00"
    settings.PEGASE_REF_URL = f"{url}/api/v1/ref/"
    settings.PEGASE_IDT_URL = f"{url}/api/idt/v1/"
    settings.PEGASE_INS_URL = f"{url}/api/ins/ext/v2/"
    settings.PEGASE_TIMEOUT = 5


@contextlib.contextmanager
def pegase_on_loopback(settings, answer: Callable[[str, str], tuple[int, object]]) -> Iterator[str]:
    """A Pégase in a thread of the test's own process, on loopback, the backend's settings pointed at it (yields its
    address): a token for any credentials, and for each GET the JSON of ``answer(path, query)`` → (status, body).
    For the answers the peer of devtools/ never gives (it only answers Pégase's own shapes). The Pégase client's
    memories are the test's to clear (the ``fresh_pegase_memory`` fixture)."""

    class Handler(BaseHTTPRequestHandler):
        def send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):  # noqa: N802 (http.server's protocol)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send(201, b"a.jwt.token", "text/plain")

        def do_GET(self):  # noqa: N802
            path, _, query = self.path.partition("?")
            status, body = answer(path, query)
            self.send(status, json.dumps(body).encode(), "application/json")

        def log_message(self, *args):
            pass

    with loopback_http(Handler) as url:
        configure_pegase(settings, url)
        yield url


def pegase_peer_stats(url: str) -> dict:
    """What the peer counted (requests per endpoint, tokens issued…)."""
    return requests.get(f"{url}/_peer/stats", timeout=5).json()


def post_raw(client, url, parts: list[tuple[bytes, bytes]], **extra):
    """A multipart POST built by hand: (file name as sent, content) per part of the field ``file``. Lets a test send
    what a browser never does, such as a name that is not UTF-8."""
    body = b""
    for name, content in parts:
        body += (
            b'--BOUNDARY\r\nContent-Disposition: form-data; name="file"; filename="' + name + b'"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
        )
    body += b"--BOUNDARY--\r\n"
    return client.post(url, data=body, content_type="multipart/form-data; boundary=BOUNDARY", **extra)


def migrate_to(targets):
    """Migrate the test database to ``targets`` ([(app, migration)]); the models as they were there."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def migrate_to_latest() -> None:
    """Back to the latest migrations, as the other tests of the process expect after a migration test."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
