"""Browser tests: Playwright (sync API) driving Debian's Chromium against pytest-django's ``live_server``.

Use ``browser_page`` with ``live_server`` and ``transactional_db`` (the live server thread must see committed
data). Static files are served by the live server's static handler, as in ``StaticLiveServerTestCase``.
"""

import io
import os
import threading
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.signals import request_finished, request_started
from django.test import Client
from playwright.sync_api import sync_playwright
from pypdf import PdfWriter

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERIOUS_IMPACTS = {"serious", "critical"}


@pytest.fixture(scope="session", autouse=True)
def _static_root_exists():
    """WhiteNoise warns (an error under ``filterwarnings = error``) when STATIC_ROOT is missing, which kills the
    live server thread; the directory is git-ignored and may be absent on a fresh clone."""
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session")
def chromium_browser():
    """One Chromium for the whole session; fails (never skips) when Debian's chromium package is missing."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Browser tests need Chromium at {CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH).")

    # The sync API keeps an asyncio loop in this thread; Django's ORM calls made by the test itself (factories,
    # assertions) are still synchronous and safe, so let them through.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_page(chromium_browser):
    """A page in a fresh context (no cookies shared between tests), French locale like the candidates."""
    context = chromium_browser.new_context(locale="fr-FR")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def new_browser_page(chromium_browser):
    """A factory of pages, each in its own fresh context (French locale), for scenarios with several people at
    once (a manager, a commission member and the candidate): ``page = new_browser_page()``. All are closed at
    teardown."""
    contexts = []

    def make_page():
        context = chromium_browser.new_context(locale="fr-FR")
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    try:
        yield make_page
    finally:
        for context in contexts:
            context.close()


def serious_axe_violations(page) -> list[str]:
    """axe-core violations of impact serious or critical on the current page, one readable line each."""
    results = Axe().run(page)
    lines = []
    for violation in results.response["violations"]:
        if violation.get("impact") in SERIOUS_IMPACTS:
            targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
            lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']} — {targets}")
    return lines


def assert_no_serious_axe_violations(page) -> None:
    violations = serious_axe_violations(page)
    assert not violations, f"axe-core found serious/critical violations on {page.url}:\n" + "\n".join(violations)


def pdf_bytes(text: str) -> bytes:
    """A small valid one-page PDF (it passes the whole upload pipeline), titled ``text``."""
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": text})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def log_in_browser(page, live_server, user) -> None:
    """Open a session for ``user`` in ``page``'s browser context without going through the login pages (the login
    flows have their own browser tests)."""
    client = Client()
    client.force_login(user)
    assert client.session[SESSION_KEY] == str(user.pk)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


@pytest.fixture
def live_server_idle():
    """``wait()`` returns once the live server has finished every request it started, the ones the browser gave up
    on included (a cancelled upload): with SQLite in memory the server's thread shares the test's connection, so a
    test that reads the database, or ends, while such a request still runs sees « database table is locked »."""
    in_flight = [0]
    changed = threading.Condition()

    def started(**kwargs):
        with changed:
            in_flight[0] += 1

    def finished(**kwargs):
        with changed:
            in_flight[0] -= 1
            changed.notify_all()

    request_started.connect(started, weak=False)
    request_finished.connect(finished, weak=False)

    def wait(timeout: float = 30.0) -> None:
        with changed:
            assert changed.wait_for(lambda: in_flight[0] <= 0, timeout), "the live server is still busy"

    yield wait
    request_started.disconnect(started)
    request_finished.disconnect(finished)
