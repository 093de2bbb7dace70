"""The reference of a request (ecandidat/request_id.py): the 500 page said « l'équipe technique est prévenue » while
ADMINS was empty and could not be set, and gave nothing that matched a person's report to the log. Now each request
has a reference, in each of its log lines (LOGGING's format), in its answer (X-Request-ID) and on the 500 page; and
ADMINS, from the environment, gets one mail per error with that reference and the traceback, none of the request's
data."""

import copy
import io
import logging
import logging.config
import re
import runpy
import sys

import pytest
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError
from django.test import Client
from django.urls import path

from ecandidat import request_id
from ecandidat import urls as root_urls
from ecandidat.settings import base

BASE_SETTINGS = base.BASE_DIR / "ecandidat" / "settings" / "base.py"
HEX_32 = re.compile(r"[0-9a-f]{32}")

view_logger = logging.getLogger("ecandidat.tests.request_id_view")


@login_not_required
def boom(request):
    view_logger.warning("about to fail")
    raise OperationalError("connection to server failed: timeout expired")  # the database down, for one


@login_not_required
def other_boom(request):
    raise KeyError("another error, at another line")


# The site's URLs and 500 handler (ecandidat/urls.py), with two views that fail.
urlpatterns = [path("boom/", boom), path("other-boom/", other_boom), *root_urls.urlpatterns]
handler500 = root_urls.handler500

pytestmark = pytest.mark.urls(__name__)


def _production_handler(name: str, **overrides):
    """The handler ``name`` of the production LOGGING (ecandidat/settings/base.py), built as dictConfig builds it,
    with its formatter and filters, without reconfiguring the test process's logging."""
    configurator = logging.config.DictConfigurator(copy.deepcopy(base.LOGGING))
    config = configurator.config
    for formatter in list(config["formatters"]):
        config["formatters"][formatter] = configurator.configure_formatter(config["formatters"][formatter])
    for filter_name in list(config["filters"]):
        config["filters"][filter_name] = configurator.configure_filter(config["filters"][filter_name])
    return configurator.configure_handler({**config["handlers"][name], **overrides})


@pytest.fixture
def production_console(monkeypatch):
    """The production console handler on the root logger, writing to a string."""
    stream = io.StringIO()
    handler = _production_handler("console", stream=stream)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [*root.handlers, handler])
    monkeypatch.setattr(root, "level", logging.INFO)
    return stream


@pytest.fixture
def production_admin_mail(monkeypatch, settings):
    """The "django" logger as production has it: the admins' mail handler of base.LOGGING only, ADMINS set."""
    settings.ADMINS = ["Équipe technique <ops@univ.example>"]
    handler = _production_handler("mail_admins")
    monkeypatch.setattr(logging.getLogger("django"), "handlers", [handler])
    return handler


# --- The reference ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_answer_gives_a_new_reference_of_its_own():
    client = Client()

    first, second = client.get("/healthz"), client.get("/healthz")

    assert HEX_32.fullmatch(first["X-Request-ID"])
    assert HEX_32.fullmatch(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.django_db
def test_nginx_request_id_is_kept():
    response = Client().get("/healthz", HTTP_X_REQUEST_ID="5f0c3e1d8a7b4c2e9f1a0b3c4d5e6f70")

    assert response["X-Request-ID"] == "5f0c3e1d8a7b4c2e9f1a0b3c4d5e6f70"


@pytest.mark.django_db
@pytest.mark.parametrize("forged", ["", "a b", "x" * 65, "<script>", "id%0aERROR forged", "réf", "a_b"])
def test_a_reference_that_could_forge_a_log_line_is_replaced(forged):
    response = Client().get("/healthz", HTTP_X_REQUEST_ID=forged)

    assert HEX_32.fullmatch(response["X-Request-ID"])


@pytest.mark.django_db
def test_each_log_line_of_a_request_carries_its_reference_and_none_outside(production_console):
    client = Client(raise_request_exception=False)

    response = client.get("/boom/", HTTP_X_REQUEST_ID="ref-from-nginx-1")
    # An answer Django logs after the middleware (BaseHandler.get_response), not an exception.
    not_found = client.get("/nulle-part/", HTTP_X_REQUEST_ID="ref-from-nginx-2")
    logging.getLogger("ecandidat.batches").warning("a line outside any request")

    lines = production_console.getvalue().splitlines()
    assert response.status_code == 500
    assert response["X-Request-ID"] == "ref-from-nginx-1"
    ours = [line for line in lines if "[ref-from-nginx-1]" in line]
    assert any(" [ref-from-nginx-1] WARNING ecandidat.tests.request_id_view about to fail" in line for line in ours)
    assert any(" [ref-from-nginx-1] ERROR django.request Internal Server Error: /boom/" in line for line in ours)
    assert not_found.status_code == 404
    assert any(line.endswith(" [ref-from-nginx-2] WARNING django.request Not Found: /nulle-part/") for line in lines)
    assert any(line.endswith(" [-] WARNING ecandidat.batches a line outside any request") for line in lines)
    assert request_id.current() is None  # nothing left behind for the next request


# --- The 500 page ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_500_page_shows_the_reference_of_the_log_and_the_answer(production_console):
    response = Client(raise_request_exception=False).get("/boom/")

    reference = response["X-Request-ID"]
    html = response.content.decode()
    assert response.status_code == 500
    assert f'Référence de l\'erreur : <span class="request-id">{reference}</span>' in html
    assert 'donnez cette référence à l\'<a href="/assistance/">assistance</a>' in html
    assert f"give the help desk this reference: {reference}." in html
    assert "est prévenue" not in html  # nobody may be: ADMINS may be empty
    assert f"[{reference}] ERROR django.request Internal Server Error: /boom/" in production_console.getvalue()


def test_the_500_page_needs_no_database_and_no_context_processor(rf):
    # No django_db mark: any query fails the test (the error may be that the database is down).
    request = rf.get("/")
    request.request_id = "0123456789abcdef0123456789abcdef"

    response = request_id.server_error(request)

    html = response.content.decode()
    assert response.status_code == 500
    assert '<html lang="fr">' in html
    assert "<h1>Erreur du serveur</h1>" in html
    assert "0123456789abcdef0123456789abcdef" in html
    assert '<a class="skip-link" href="#main">Aller au contenu</a>' in html


def test_the_500_page_without_a_reference_still_says_where_to_turn(rf):
    response = request_id.server_error(rf.get("/"))  # a request that did not pass the middleware

    html = response.content.decode()
    assert "Référence" not in html
    assert 'écrivez à l\'<a href="/assistance/">assistance</a>' in html


def test_the_site_uses_the_500_handler_with_the_reference():
    assert root_urls.handler500 is request_id.server_error


# --- ADMINS --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "admins"),
    [
        (None, []),
        ("", []),
        ("  ", []),
        ("ops@univ.example", ["ops@univ.example"]),
        ("ops@univ.example,", ["ops@univ.example"]),
        (
            'Équipe technique <ops@univ.example>, "Dupont, Jean" <jean.dupont@univ.example>, dsi@univ.example',
            [
                "=?utf-8?q?=C3=89quipe_technique?= <ops@univ.example>",
                '"Dupont, Jean" <jean.dupont@univ.example>',
                "dsi@univ.example",
            ],
        ),
    ],
)
def test_admins_are_read_from_the_environment(raw, admins):
    assert base.admins_from(raw) == admins


@pytest.mark.parametrize(
    "raw", ["ops", "ops@univ.example dsi@univ.example", "a@b.fr,,c@d.fr", "Dupont, Jean <j@univ.example>", "<>"]
)
def test_malformed_admins_stop_the_start_naming_the_variable(raw):
    with pytest.raises(ImproperlyConfigured, match="ADMINS must list addresses"):
        base.admins_from(raw)


def test_the_settings_read_admins(monkeypatch):
    monkeypatch.setenv("ADMINS", "Équipe technique <ops@univ.example>, dsi@univ.example")

    admins = runpy.run_path(str(BASE_SETTINGS))["ADMINS"]

    assert admins == ["=?utf-8?q?=C3=89quipe_technique?= <ops@univ.example>", "dsi@univ.example"]


@pytest.mark.django_db
def test_a_500_mails_the_admins_its_reference_and_traceback_not_the_requests_data(production_admin_mail, mailoutbox):
    response = Client(raise_request_exception=False).post("/boom/", {"last_name": "Candidate-Secret-Name"})

    assert response.status_code == 500
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["Équipe technique <ops@univ.example>"]
    assert "Internal Server Error: /boom/" in message.subject
    assert f"Référence de l'erreur (request id) : {response['X-Request-ID']}" in message.body
    assert "OperationalError: connection to server failed: timeout expired" in message.body
    assert "Traceback" in message.body
    assert "Candidate-Secret-Name" not in message.body  # Django's report listed the POST fields
    assert "REMOTE_ADDR" not in message.body
    assert message.alternatives == []


@pytest.mark.django_db
def test_an_outage_mails_each_error_once_not_once_per_failed_page(production_admin_mail, mailoutbox):
    client = Client(raise_request_exception=False)

    for _ in range(5):  # the database down: every page fails at the same line
        assert client.get("/boom/").status_code == 500
    assert client.get("/other-boom/").status_code == 500  # another error

    assert [message.subject.rsplit(": ", 1)[1] for message in mailoutbox] == ["/boom/", "/other-boom/"]


def test_the_same_error_mails_again_once_the_interval_has_passed(monkeypatch):
    throttle = request_id.AdminMailThrottle(interval=600)
    clock = iter([1000.0, 1300.0, 1601.0])
    monkeypatch.setattr(request_id.time, "monotonic", lambda: next(clock))
    try:
        raise OperationalError("down")
    except OperationalError:
        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "x", (), sys.exc_info())

    assert [throttle.filter(record) for _ in range(3)] == [True, False, True]


def test_without_admins_nobody_is_mailed(settings, monkeypatch, mailoutbox):
    settings.ADMINS = []
    handler = _production_handler("mail_admins")
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s", ("/",), None)

    handler.handle(record)

    assert mailoutbox == []
