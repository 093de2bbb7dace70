"""The connection tests of the core services (ecandidat/connectivity.py) against real peers on loopback: the test
database, Redis (REDIS_URL), an SMTP server (aiosmtpd), the development ENT, a small HTTP server; and their failure
paths: a refused port, a server that never answers, refused credentials. A check never raises and never shows a
secret."""

import contextlib
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from django.contrib.admin.models import LogEntry
from django.core.files.storage import default_storage
from django.utils import translation

from ecandidat import connectivity, connectivity_checks
from ecandidat.connectivity import Check, CheckFailed, Outcome, mask_url, run_check, run_checks, scrub
from ecandidat.tests.plugins.services import free_port

SHORT = 0.5  # seconds: the failure paths wait this long, not the page's 5 s
REFUSED = "Connexion refusée : aucun service ne répond à cette adresse."
TIMED_OUT = "Pas de réponse dans le délai."


def check(key: str) -> Check:
    found = connectivity.get(key)
    assert found is not None
    return found


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections (the kernel completes the handshake) and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


# --- masking ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://:s3cret@cache.univ.fr:6379/0", "redis://:••••@cache.univ.fr:6379/0"),
        ("smtp://ecandidat:pa55@smtp.univ.fr:587?tls=1", "smtp://ecandidat:••••@smtp.univ.fr:587?tls=1"),
        ("https://ws.univ.fr/api?user=x&token=abc&apikey=def", "https://ws.univ.fr/api?user=x&token=••••&apikey=••••"),
        ("ldaps://ldap.univ.fr", "ldaps://ldap.univ.fr"),
    ],
)
def test_mask_url_hides_passwords_and_secret_parameters(url, masked):
    assert mask_url(url) == masked


def test_scrub_removes_secrets_and_url_passwords_from_any_text():
    text = "Error connecting to redis://u:hunter22@h:1 with key hunter22 and LeKey-42"

    assert scrub(text, ["LeKey-42", ""]) == "Error connecting to redis://u:••••@h:1 with key hunter22 and ••••"
    assert "hunter22" not in scrub(text, ["hunter22"])


# --- running: never raises, bounded in time ---------------------------------------------------------------------


def fake(key: str, probe, *, describe=lambda: "somewhere", secrets=lambda: ()) -> Check:
    return Check(key=key, label=key, order=0, settings_names="X", describe=describe, probe=probe, secrets=secrets)


def test_a_probe_that_raises_anything_is_a_failed_line_with_its_detail():
    def buggy(timeout):
        raise ZeroDivisionError("division by zero")

    result = run_check(fake("buggy", buggy))

    assert result.outcome == Outcome.FAILED
    assert result.message == "Échec de la connexion."
    assert result.detail == "ZeroDivisionError: division by zero"
    assert result.elapsed_ms is not None


def test_a_broken_configuration_is_a_failed_line_not_an_error():
    def describe():
        raise KeyError("OPTIONS")

    result = run_check(fake("odd", lambda timeout: "never", describe=describe))

    assert (result.outcome, result.detail) == (Outcome.FAILED, "configuration: KeyError: 'OPTIONS'")


def test_a_check_whose_secrets_cannot_be_listed_is_not_run():
    ran = []

    def secrets():
        raise RuntimeError("settings half loaded: hunter2")

    result = run_check(fake("blind", lambda timeout: ran.append(True), secrets=secrets))

    assert (result.outcome, result.detail, ran) == (Outcome.FAILED, "secrets: RuntimeError", [])


def test_a_secret_never_reaches_the_message_nor_the_detail():
    def leaky(timeout):
        raise CheckFailed(f"bad password Tr0ub4dor&3 for {timeout}", "sent Tr0ub4dor&3 to redis://u:Tr0ub4dor&3@h")

    result = run_check(fake("leaky", leaky, secrets=lambda: ["Tr0ub4dor&3"]))

    assert "Tr0ub4dor&3" not in f"{result.message} {result.detail} {result.configuration}"
    assert "••••" in result.detail


def test_checks_run_at_once_and_a_slow_one_is_reported_after_the_overall_limit():
    def slow(timeout):
        time.sleep(5)  # well past overall=2 and the bound below, so that a loaded CI machine keeps the margins
        return "late"

    def quick(timeout):
        time.sleep(0.2)
        return "fine"

    started = time.monotonic()
    results = run_checks(
        [fake("slow", slow), fake("quick", quick), fake("quick2", quick), fake("off", quick, describe=lambda: None)],
        overall=2,
    )

    assert time.monotonic() - started < 4  # the quick ones ran side by side, the slow one was not waited for
    assert [(r.key, r.outcome) for r in results] == [
        ("slow", Outcome.FAILED),
        ("quick", Outcome.OK),
        ("quick2", Outcome.OK),
        ("off", Outcome.NOT_CONFIGURED),
    ]
    assert results[0].message == TIMED_OUT
    assert results[3].configuration == "X"


def test_the_checks_words_are_read_in_the_language_of_their_reader():
    """Run in threads, a check's message is translated when shown: the page in the superuser's language, the
    history in the institution's (``summary``)."""

    def refused(timeout):
        raise ConnectionRefusedError(111, "Connection refused")

    with translation.override("en"):
        (result,) = run_checks([fake("x", refused)])
        english = str(result.message)
    french = str(result.message)

    assert english == "Connection refused: nothing answers at this address."
    assert french == "Connexion refusée : aucun service ne répond à cette adresse."
    with translation.override("en"):
        assert connectivity.summary([result]).startswith("x : échec — Connexion refusée")


def test_every_registered_service_has_a_line_in_page_order():
    assert [c.key for c in connectivity.registered()] == [
        "database",
        "redis",
        "smtp",
        "storage",
        "clamd",
        "ent",
        "ldap",
        "pegase",
        "limesurvey",
    ]


# --- database -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_database_answers_select_1_on_a_connection_of_its_own(django_assert_num_queries):
    with django_assert_num_queries(0):  # not the page's connection
        result = run_check(check("database"))

    assert result.outcome == Outcome.OK, result
    assert result.detail.split()[0] in ("SQLite", "PostgreSQL")


def test_the_database_line_names_the_deployment_identity(settings):
    """What this deployment writes in the storage's marker and its Redis claims (ecandidat.deployment), shown to IT
    next to the database that gives it, in the reader's language."""
    settings.DEPLOYMENT_ID = "recette-lyon"

    assert check("database").describe().endswith(" · déploiement recette-lyon")
    with translation.override("en"):
        assert check("database").describe().endswith(" · deployment recette-lyon")


def test_the_storage_line_names_the_deployments_prefix_in_a_shared_bucket(settings):
    def s3(location: str) -> dict:
        options = {"bucket_name": "partage", "endpoint_url": "https://s3.univ.fr", "location": location}
        return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}

    settings.STORAGES = {**settings.STORAGES, "default": s3("recette")}
    assert check("storage").describe() == "S3 — https://s3.univ.fr, bucket partage, prefix recette/"

    settings.STORAGES = {**settings.STORAGES, "default": s3("")}
    assert check("storage").describe() == "S3 — https://s3.univ.fr, bucket partage"


@pytest.mark.django_db
def test_database_out_of_reach_is_a_failure(monkeypatch):
    db = dict(connectivity_checks._database_settings())
    if db["ENGINE"].endswith("sqlite3"):
        db["NAME"] = "/nonexistent-directory/ecandidat.sqlite3"
    else:
        db.update(HOST="127.0.0.1", PORT=str(free_port()), PASSWORD="db-Secret-99")
    monkeypatch.setattr(connectivity_checks, "_database_settings", lambda: db)

    result = run_check(check("database"), timeout=SHORT)

    assert result.outcome == Outcome.FAILED
    assert result.message in (REFUSED, "Échec de la connexion.")
    assert "db-Secret-99" not in result.detail + result.configuration


# --- Redis --------------------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_redis_answers_pong_with_its_version(settings):
    if not os.environ.get("REDIS_URL"):
        pytest.fail("This test needs Redis: set REDIS_URL (e.g. redis://127.0.0.1:6379/0).")
    settings.REDIS_URL = os.environ["REDIS_URL"]

    result = run_check(check("redis"))

    assert result.outcome == Outcome.OK, result
    assert result.detail.startswith("PONG, Redis ")


def test_redis_refused_says_so_without_its_password(settings):
    settings.REDIS_URL = f"redis://:redis-Pass-77@127.0.0.1:{free_port()}/0"

    result = run_check(check("redis"), timeout=SHORT)

    assert result.outcome == Outcome.FAILED
    assert result.message == REFUSED
    assert result.configuration.startswith("redis://:••••@127.0.0.1:")
    assert "redis-Pass-77" not in result.detail + result.configuration


def test_redis_that_never_answers_times_out(settings, silent_server):
    settings.REDIS_URL = f"redis://127.0.0.1:{silent_server}/0"

    started = time.monotonic()
    result = run_check(check("redis"), timeout=SHORT)

    assert (result.outcome, result.message) == (Outcome.FAILED, TIMED_OUT)
    assert time.monotonic() - started < 3


def test_redis_not_configured(settings):
    settings.REDIS_URL = ""

    result = run_check(check("redis"))

    assert (result.outcome, result.configuration) == (Outcome.NOT_CONFIGURED, "REDIS_URL")


# --- SMTP ---------------------------------------------------------------------------------------------------------


def smtp_mailer(settings, port: int, **options) -> None:
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5, **options},
        }
    }


class AuthenticatingSMTP:
    """aiosmtpd on loopback that offers AUTH (without TLS, loopback only) and accepts one login/password."""

    def __init__(self, login: str, password: str):
        self.received: list = []

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (auth_data.login, auth_data.password) == (login.encode(), password.encode())
            return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself

        self.port = free_port()
        self.controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=authenticator,
            auth_require_tls=False,
        )

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's handler protocol)
        self.received.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_with_auth():
    server = AuthenticatingSMTP("ecandidat", "smtp-Secret-42")
    server.controller.start()
    try:
        yield server
    finally:
        server.controller.stop()


@pytest.mark.integration
def test_smtp_says_hello_and_quits_without_sending(settings, smtp_server):
    smtp_mailer(settings, smtp_server.port)

    result = run_check(check("smtp"))

    assert result.outcome == Outcome.OK, result
    assert result.detail.startswith("EHLO ")
    assert result.configuration == f"smtp://127.0.0.1:{smtp_server.port}"
    assert smtp_server.messages == []


@pytest.mark.integration
def test_smtp_logs_in_with_the_configured_account(settings, smtp_with_auth):
    smtp_mailer(settings, smtp_with_auth.port, username="ecandidat", password="smtp-Secret-42")

    result = run_check(check("smtp"))

    assert result.outcome == Outcome.OK, result
    assert result.configuration == f"smtp://ecandidat:••••@127.0.0.1:{smtp_with_auth.port}"
    assert smtp_with_auth.received == []


@pytest.mark.integration
def test_smtp_refused_credentials_are_a_failure_without_the_password(settings, smtp_with_auth):
    smtp_mailer(settings, smtp_with_auth.port, username="ecandidat", password="wrong-Secret-13")

    result = run_check(check("smtp"))

    assert (result.outcome, result.message) == (Outcome.FAILED, "Identifiants refusés.")
    assert result.detail.startswith("AUTH: 535")
    assert "wrong-Secret-13" not in result.detail + result.configuration + result.message


def test_smtp_refused_port(settings):
    smtp_mailer(settings, free_port(), username="u", password="smtp-Pass-0")

    result = run_check(check("smtp"), timeout=SHORT)

    assert (result.outcome, result.message) == (Outcome.FAILED, REFUSED)


def test_smtp_server_that_never_greets_times_out(settings, silent_server):
    smtp_mailer(settings, silent_server)

    started = time.monotonic()
    result = run_check(check("smtp"), timeout=SHORT)

    assert (result.outcome, result.message) == (Outcome.FAILED, TIMED_OUT)
    assert time.monotonic() - started < 3


def test_smtp_not_configured_when_mails_stay_in_the_outbox(settings):
    assert run_check(check("smtp")).outcome == Outcome.NOT_CONFIGURED  # test settings: locmem


# --- file storage -------------------------------------------------------------------------------------------------


def test_storage_writes_reads_and_deletes_a_temporary_object():
    result = run_check(check("storage"))

    assert result.outcome == Outcome.OK, result
    assert "_connectivity-check/" in result.detail
    assert default_storage.listdir("_connectivity-check/")[1] == []


def test_storage_on_the_file_system_leaves_no_file(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path}},
    }

    result = run_check(check("storage"))

    assert result.outcome == Outcome.OK, result
    assert result.configuration == f"FileSystemStorage — {tmp_path}"
    assert list(tmp_path.iterdir()) == []  # neither the object nor its folder


def test_storage_on_the_file_system_keeps_a_folder_still_in_use(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path}},
    }
    other = tmp_path / "_connectivity-check" / "another-check.txt"
    other.parent.mkdir()
    other.write_text("a concurrent check's object")

    assert run_check(check("storage")).outcome == Outcome.OK
    assert list(tmp_path.rglob("*")) == [other.parent, other]


def test_storage_that_cannot_be_written_is_a_failure(settings, tmp_path):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the storage expects a directory")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": blocked}},
    }

    result = run_check(check("storage"))

    assert (result.outcome, result.message) == (Outcome.FAILED, "Échec de la connexion.")
    assert "Error" in result.detail


# --- ENT ----------------------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, str, bytes]] = {}

    def do_GET(self):  # noqa: N802 (http.server's protocol)
        status, content_type, body = self.routes.get(self.path, (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_peer():
    """A small HTTP server on loopback answering the routes a test gives it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        _Handler.routes = {}


def ent(settings, url: str, protocol: str = "oidc") -> None:
    settings.ENT_SERVER_URL, settings.ENT_PROTOCOL = url, protocol


def test_ent_discovery_document_is_read(settings, http_peer):
    base = f"http://127.0.0.1:{http_peer.server_port}"
    document = {"issuer": base, "authorization_endpoint": f"{base}/authorize"}
    _Handler.routes = {"/.well-known/openid-configuration": (200, "application/json", json.dumps(document).encode())}
    ent(settings, base)

    result = run_check(check("ent"))

    assert result.outcome == Outcome.OK, result
    assert result.detail == f"issuer {base}"
    assert result.configuration == f"OIDC — {base}/.well-known/openid-configuration"


def test_ent_answering_something_else_than_a_discovery_document_is_a_failure(settings, http_peer):
    base = f"http://127.0.0.1:{http_peer.server_port}"
    _Handler.routes = {"/.well-known/openid-configuration": (200, "text/html", b"<html>portail</html>")}
    ent(settings, base)

    result = run_check(check("ent"))

    assert (result.outcome, result.message) == (Outcome.FAILED, "Réponse inattendue.")
    assert result.detail.endswith("not JSON")


def test_ent_cas_login_page_answering_500_is_a_failure(settings, http_peer):
    _Handler.routes = {"/cas/login": (500, "text/plain", b"oops")}
    ent(settings, f"http://127.0.0.1:{http_peer.server_port}/cas", "cas")

    result = run_check(check("ent"))

    assert (result.outcome, result.message) == (Outcome.FAILED, "Réponse inattendue.")
    assert result.detail.endswith("HTTP 500")


def test_ent_refused_and_silent(settings, silent_server):
    ent(settings, f"http://127.0.0.1:{free_port()}")
    refused = run_check(check("ent"), timeout=SHORT)
    ent(settings, f"http://127.0.0.1:{silent_server}")
    silent = run_check(check("ent"), timeout=SHORT)

    assert (refused.outcome, refused.message) == (Outcome.FAILED, REFUSED)
    assert (silent.outcome, silent.message) == (Outcome.FAILED, TIMED_OUT)


def test_ent_not_configured(settings):
    ent(settings, "")

    assert run_check(check("ent")).outcome == Outcome.NOT_CONFIGURED


@pytest.mark.integration
def test_development_ent_over_openid_connect_and_cas(settings, ent_server):
    ent(settings, ent_server.base_url)
    oidc = run_check(check("ent"))
    ent(settings, f"{ent_server.base_url}/cas", "cas")
    cas = run_check(check("ent"))

    assert oidc.outcome == Outcome.OK, oidc
    assert oidc.detail.startswith("issuer ")
    assert (cas.outcome, cas.detail) == (Outcome.OK, "HTTP 200"), cas


# --- the history --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_run_is_recorded_in_the_admin_history(admin_user, django_assert_num_queries):
    checks = [fake("one", lambda timeout: "fine"), fake("two", lambda timeout: "x", describe=lambda: None)]
    results = run_checks(checks)

    with django_assert_num_queries(1):
        entry = connectivity.record(actor=admin_user, text=connectivity.summary(results))

    assert entry.user == admin_user
    assert entry.content_type is None
    assert entry.get_change_message() == entry.change_message  # plain text, not the admin's JSON form
    assert entry.change_message.startswith("one : OK (")
    assert entry.change_message.endswith("two : non configuré")
    assert connectivity.recent_runs() == [LogEntry.objects.get()]


def test_a_refusal_known_only_by_its_text_is_recognised():
    """Clients that raise their own exception with the socket error's text (ldap3, redis) still read as refused."""

    class ClientSocketError(OSError):
        pass

    def probe(timeout):
        with contextlib.suppress(ValueError):
            raise ClientSocketError("socket connection error while opening: [Errno 111] Connection refused")

    result = run_check(fake("client", probe))

    assert (result.outcome, result.message) == (Outcome.FAILED, REFUSED)
