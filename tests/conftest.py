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
from portal.db import make_engine
from portal.extensions import session, vault
from portal.localtime import today as portal_today
from portal.migrations import upgrade
from portal.models import all_models
from portal.transparency.notes import create_key_file as create_log_key

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
            create_log_key(instance / "keys")
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
    """An app context: `session()` and `vault()` work inside it. Not for tests
    that also make requests with a client (see `world`)."""
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


# -- a small cast of subjects and users --------------------------------------
from dataclasses import dataclass  # noqa: E402
from datetime import date, timedelta  # noqa: E402

PERSON_A, PERSON_B = "11010519491231002X", "110105198001010016"
FIRM_F, FIRM_G = "91350100M000100Y43", "91110000600037341L"


@dataclass
class World:
    """Two persons, two firms, each firm with a representative and an agent;
    records for person A and firm F. Users have no password (tests sign them
    in with `sign_in`); their ids and the subjects' ids are kept."""

    person_a: object
    person_b: object
    firm_f: object
    firm_g: object
    user_a: object
    user_b: object
    rep_f: object
    agent_f: object
    rep_g: object
    agent_g: object
    bank: object


@pytest.fixture
def world(app) -> World:
    """Built in an app context of its own and popped: a test client reuses a
    pushed app context (and its `g` and session) for every request, which
    would leak the signed-in user between requests. Tests that use a client
    open `with app.app_context():` only around direct service calls."""
    with app.app_context():
        vault().register_versions(session())
        return _build_world()


def _build_world() -> World:
    from portal.accounts.models import FirmDelegation, Role
    from portal.accounts.services import create_user
    from portal.institutions.models import InstitutionKind
    from portal.institutions.services import NewInstitution, create_institution
    from portal.records.models import Category, RecordStatus, SubjectKind
    from portal.records.services import RecordInput, create_subject, furnish

    s, v = session(), vault()
    bank = create_institution(s, v, NewInstitution("test-bank", "测试银行", "Test Bank", InstitutionKind.BANK,
                                                   ["loan_approval"], "王五", "ops@bank.example"))
    a = create_subject(s, v, SubjectKind.PERSON, PERSON_A, "张三")
    b = create_subject(s, v, SubjectKind.PERSON, PERSON_B, "李四")
    f = create_subject(s, v, SubjectKind.FIRM, FIRM_F, "福州示例科技有限公司")
    g = create_subject(s, v, SubjectKind.FIRM, FIRM_G, "北京示例贸易有限公司")
    for subject, ref, negative in ((a, "A-LOAN-1", False), (a, "A-CARD-1", True), (f, "F-LOAN-1", True),
                                   (b, "B-LOAN-1", False), (g, "G-LOAN-1", False)):
        furnish(s, v, bank, subject, RecordInput(
            Category.LOAN, ref, RecordStatus.SETTLED if negative else RecordStatus.ACTIVE, negative,
            date(2023, 3, 1) if negative else None, {"currency": "CNY", "principal": "50000.00", "balance": "0.00"}))

    def user(role, email, subject=None):
        return create_user(s, v, role=role, email=email, display_name=email.split("@")[0],
                           subject_id=subject.id if subject else None)

    users = dict(user_a=user(Role.PERSON, "a@test.example", a), user_b=user(Role.PERSON, "b@test.example", b),
                 rep_f=user(Role.FIRM_REPRESENTATIVE, "rep.f@test.example", f),
                 agent_f=user(Role.FIRM_AGENT, "agent.f@test.example"),
                 rep_g=user(Role.FIRM_REPRESENTATIVE, "rep.g@test.example", g),
                 agent_g=user(Role.FIRM_AGENT, "agent.g@test.example"))
    for firm, rep, agent in ((f, users["rep_f"], users["agent_f"]), (g, users["rep_g"], users["agent_g"])):
        s.add(FirmDelegation(firm_id=firm.id, agent_id=agent.id, granted_by_id=rep.id,
                             scopes=["view_report", "file_disputes"], valid_until=portal_today() + timedelta(days=30)))
    from portal.accounts import two_factor
    for rep in (users["rep_f"], users["rep_g"]):  # representatives must have a second factor
        two_factor.enable(s, v, rep, two_factor.new_secret())
    s.commit()
    return World(a, b, f, g, bank=bank, **users)


@pytest.fixture
def sign_in(app):
    """Sign a client in as a user, through a real server-side session."""
    from portal.accounts import sessions

    def do(client, user):
        with app.app_context():
            principal = sessions.start(session(), session().get(type(user), user.id))
            session().commit()
        with client.session_transaction() as cookie:
            cookie["_user_id"] = principal.token
            cookie["_fresh"] = True
        return client

    return do


@pytest.fixture
def pdf_text(tmp_path):
    """The text of a PDF as poppler's pdftotext reads it (real glyphs, not
    boxes); the file is kept in tmp_path under `name`. Skips where
    poppler-utils is missing; never in CI."""
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext not installed (apt-get install poppler-utils)")

    def read(data: bytes, name: str = "file.pdf") -> str:
        path = tmp_path / name
        path.write_bytes(data)
        return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return read
