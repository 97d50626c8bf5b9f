"""Fixtures: a database migrated once per run (SQLite by default, the URL in
PORTAL_TEST_DATABASE_URL otherwise), emptied after every test; an app per
test with its own instance folder and keys; a CLI runner and a client."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from portal import create_app
from portal.crypto import init_keys
from portal.db import all_models, make_engine
from portal.extensions import session, vault
from portal.migrations import upgrade

IN_CI = os.environ.get("CI") == "true"


def pytest_report_header(config):
    return f"database: {os.environ.get('PORTAL_TEST_DATABASE_URL') or 'SQLite (temporary file)'}; CI={IN_CI}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI nothing may skip: a skip there means a missing dependency."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which is not allowed: {report.longrepr}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("PORTAL_TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    engine = make_engine(url)
    if engine.dialect.name != "sqlite":
        if "test" not in (engine.url.database or ""):
            pytest.exit(f"refusing to wipe {engine.url.database!r}: the test database name must contain 'test'")
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    engine.dispose()
    return url


def wipe(engine) -> None:
    with engine.begin() as conn:
        for table in reversed(all_models().sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def instance(tmp_path, monkeypatch) -> Path:
    for name in list(os.environ):
        if name.startswith("PORTAL_"):
            monkeypatch.delenv(name)
    path = tmp_path / "instance"
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(path))
    return path


@pytest.fixture
def make_app(database_url, instance):
    """Build apps on the shared test database and this test's instance
    folder (keys created unless told otherwise); all are cleaned up."""
    apps = []

    def make(keys: bool = True, **config):
        if keys:
            init_keys(instance / "keys")
        app = create_app({"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": database_url, **config})
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["portal.db"].dispose()
    engine = make_engine(database_url)
    wipe(engine)
    engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def ctx(app):
    """An app context: `session()` and `vault()` work inside it."""
    with app.app_context():
        vault().register_versions(session())
        yield app


@pytest.fixture
def db(ctx):
    return session()


@pytest.fixture
def the_vault(ctx):
    return vault()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def client(app):
    return app.test_client()
