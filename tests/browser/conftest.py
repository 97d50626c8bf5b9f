"""Browser tests: the portal served by waitress on a free local port, driven
by Playwright in Debian's headless Chromium (PORTAL_CHROMIUM, default
/usr/bin/chromium). Without Chromium these tests skip on a newcomer's
machine; under CI=true a skip is a failure (see tests/conftest.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from .people import put_on_file

CHROMIUM = os.environ.get("PORTAL_CHROMIUM") or "/usr/bin/chromium"
# Chromium flags for a closed network and a root user (see the README).
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set PORTAL_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def live_app(app, monkeypatch):
    """The app with CSRF on, as in production (settings read per request;
    the `app` fixture restores them), whose database counts as the demo's,
    so the journeys read their e-mails at /demo/outbox. Browser tests
    commit for real: the server answers from threads of its own."""
    from portal.notifications import routes as notifications

    app.config.update(WTF_CSRF_ENABLED=True, TESTING=False)
    monkeypatch.setattr(notifications, "holds_demo_data", lambda _session: True)
    return app


@pytest.fixture
def live_server(live_app):
    """Served as `portal serve` serves: waitress, and the job thread (the
    log integrator among them) beside it."""
    from waitress.server import create_server

    from portal import worker

    server = create_server(live_app, host="127.0.0.1", port=0, threads=4, ident="portal")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    jobs, stop = worker.start(live_app)
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=5)
    stop.set()
    jobs.join(timeout=30)


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, accept_downloads=True, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def on_file(live_app):
    """A person and a firm on file, with a contact and records; the firm's
    representative has an account with a password but no second factor."""
    put_on_file(live_app)
