"""What load balancers, monitors and scanners send: HEAD (and OPTIONS, HAProxy's default check) on the read-only
pages, which answered a blank 405 and took the node out; a Host that is not ours, which logged an ERROR with its
whole traceback at every request."""

import logging

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils.log import configure_logging

from ecandidat.settings import base  # the production settings module: its LOGGING is what runs in production

READ_ONLY_PAGES = [
    # (URL name, queries): none reads the session without a cookie
    ("home", 0),
    ("healthz", 1),
    ("assistance", 0),
    ("personal_data", 0),
    ("accessibility", 0),
    ("legal_notice", 0),
    ("theme_css", 0),
    ("offers:catalogue", 1),
    ("accounts:email_change_done", 2),  # the request's savepoint
]


@pytest.mark.parametrize(("name", "queries"), READ_ONLY_PAGES)
def test_head_on_a_read_only_page_answers_200_without_a_body(name, queries, client, db, django_assert_num_queries):
    with django_assert_num_queries(queries):
        response = client.head(reverse(name))

    assert response.status_code == 200
    assert response.content == b""


def test_options_on_healthz_checks_the_database_and_says_the_methods(client, db, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.options(reverse("healthz"))

    assert response.status_code == 200
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    assert response.json()["checks"]["database"] == "ok"


def test_a_post_to_healthz_is_still_refused(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.post(reverse("healthz"))

    assert response.status_code == 405


@pytest.fixture
def test_logging_afterwards():
    yield
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)


def test_a_foreign_host_is_one_warning_line_without_traceback(
    test_logging_afterwards, caplog, capsys, client, db, django_assert_num_queries
):
    # The production LOGGING, applied as Django applies it at start-up, its console on capsys's stderr; pytest's
    # handler again on the root logger, whose handlers the production ones replaced.
    configure_logging(settings.LOGGING_CONFIG, base.LOGGING)
    logging.getLogger().addHandler(caplog.handler)

    with django_assert_num_queries(0):
        response = client.get(reverse("home"), headers={"host": "evil.example"})

    assert response.status_code == 400
    assert [(r.name, r.levelname, r.exc_info) for r in caplog.records] == [
        ("django.security.DisallowedHost", "WARNING", None)
    ]
    (line,) = capsys.readouterr().err.splitlines()
    assert " WARNING django.security.DisallowedHost Invalid HTTP_HOST header: 'evil.example'." in line


def test_font_subsetting_is_not_logged_line_by_line(test_logging_afterwards):
    """fpdf2 subsets the fonts of every letter and dossier PDF with fontTools, which logs each step at INFO: 100 to
    400 lines per PDF in production's journal (and 1,600 before `make run`'s banner). Its warnings are kept."""
    configure_logging(settings.LOGGING_CONFIG, base.LOGGING)

    subset = logging.getLogger("fontTools.subset")

    assert not subset.isEnabledFor(logging.INFO)
    assert subset.isEnabledFor(logging.WARNING)
