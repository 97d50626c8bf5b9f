"""Fixtures: a database migrated once per run (SQLite by default, the URL in
PORTAL_TEST_DATABASE_URL otherwise) and one app with one set of keys per
run. Each test runs inside a transaction rolled back at its end: the app's
commits (requests, CLI commands) release savepoints of that transaction.

Tests that need real commits (two sessions, threads, other processes, an
engine of their own) carry the `committing` marker: they use the same app
without the outer transaction, and every table is emptied after them. Tests
that need an app of their own (other settings, no keys, their own instance
folder) use `make_app` or `instance`: they get new apps, and the tables are
emptied after them too. Test data comes from tests/factories.py, through
the portal's services; the `world` is built that way once per run and its
rows inserted again in each rolled-back test that asks for it."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, text

from portal import create_app
from portal.crypto import init_keys
from portal.db import make_engine
from portal.extensions import limiter, session, vault
from portal.localtime import today as portal_today
from portal.migrations import upgrade
from portal.models import all_models
from portal.signing import create_document_key
from portal.transparency.notes import create_key_file as create_log_key

IN_CI = os.environ.get("CI") == "true"
TEST_CONFIG = {"TESTING": True, "SECRET_KEY": "test-secret"}


def pytest_report_header(config):
    return f"database: {os.environ.get('PORTAL_TEST_DATABASE_URL') or 'SQLite (temporary file)'}; CI={IN_CI}"


def pytest_collection_modifyitems(config, items):
    """Browser journeys are marked `browser` and `committing` (a served
    portal answers from threads of its own); tests that build apps of their
    own are `committing` too, like those marked so by hand."""
    browser_dir = Path(__file__).parent / "browser"
    for item in items:
        committing = needs_own_app(item.fixturenames)
        if browser_dir in item.path.parents:
            item.add_marker(pytest.mark.browser)
            committing = True
        if committing and not item.get_closest_marker("committing"):
            item.add_marker(pytest.mark.committing)


def needs_own_app(fixturenames) -> bool:
    return "instance" in fixturenames  # which `make_app` uses too


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI nothing may skip: a skip there means a missing dependency."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which is not allowed: {report.longrepr}"


@pytest.fixture(scope="session", autouse=True)
def _quick_password_hashing():
    """argon2id at its lowest cost: the same kind of hash, checked the same
    way, in a millisecond instead of a tenth of a second (hundreds of tests
    sign in). Processes that tests start keep the real cost."""
    from argon2 import PasswordHasher

    from portal.accounts import services as accounts

    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(accounts, "_hasher", hasher)
        mp.setattr(accounts, "_DUMMY_HASH", hasher.hash("not a password of anyone"))
        yield


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


# Engines that live through the run (the tests' own and the shared app's).
_long_lived: list = []


def release_pooled_connections() -> None:
    """Close the idle SQLite connections of the long-lived engines before a
    test that makes apps or commits for real. Such a test may open and
    close the database file outside SQLite (`portal init` does), which
    drops every POSIX lock this process holds on it; connections still
    open would then lose track of the shared WAL index ("disk I/O error")."""
    for engine in _long_lived:
        if engine.dialect.name == "sqlite":
            engine.dispose()


@pytest.fixture(scope="session")
def suite_engine(database_url):
    """The engine of the tests' own connections: the outer transactions and
    the wiping. pysqlite's default transaction control emits no BEGIN before
    a SAVEPOINT, so SQLite connections here leave BEGIN to SQLAlchemy (the
    documented recipe); the app's engine keeps the default."""
    engine = make_engine(database_url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _no_driver_begin(dbapi_connection, _record):
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN")

    _long_lived.append(engine)
    yield engine
    engine.dispose()


def wipe(engine) -> None:
    with engine.begin() as conn:
        for table in reversed(all_models().sorted_tables):
            conn.execute(table.delete())


def _without_portal_env(mp: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PORTAL_"):
            mp.delenv(name)


@pytest.fixture(scope="session")
def shared_app(database_url, tmp_path_factory):
    """The app of the whole run, with its instance folder and keys made once."""
    path = tmp_path_factory.mktemp("shared") / "instance"
    init_keys(path / "keys")
    create_log_key(path / "keys")
    create_document_key(path / "keys")
    with pytest.MonkeyPatch.context() as mp:
        _without_portal_env(mp)
        mp.setenv("PORTAL_INSTANCE_PATH", str(path))
        app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url})
    with app.app_context():
        vault()  # load the keys once, not in every test
    _long_lived.append(app.extensions["portal.db"].engine)
    yield app
    app.extensions["portal.db"].dispose()


@contextmanager
def _restored(app):
    """Undo what a test changes in the shared app's settings and extensions;
    rate-limit counters start empty, as in a new app."""
    config, extensions = dict(app.config), dict(app.extensions)
    limiter.init_app(app)  # new storage; the hooks are registered only once
    try:
        yield app
    finally:
        app.config.clear()
        app.config.update(config)
        app.extensions.clear()
        app.extensions.update(extensions)


@contextmanager
def _rolled_back(app, engine):
    """SQLAlchemy's "joining a Session into an external transaction": every
    session of the app works on one connection whose transaction is rolled
    back at the end; the app's commits release savepoints inside it."""
    db = app.extensions["portal.db"]
    factory = db.session.session_factory
    kw = dict(factory.kw)
    with engine.connect() as conn:
        outer = conn.begin()
        db.session.remove()
        db.session.configure(bind=conn, join_transaction_mode="create_savepoint")
        try:
            yield app
        finally:
            db.session.remove()
            factory.kw = kw
            outer.rollback()


@pytest.fixture
def instance(tmp_path, monkeypatch) -> Path:
    """An instance folder of this test's own; apps made by `make_app` use it."""
    _without_portal_env(monkeypatch)
    path = tmp_path / "instance"
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(path))
    return path


@pytest.fixture
def make_app(database_url, instance, suite_engine):
    """Build new apps on the shared test database and this test's instance
    folder (keys created unless told otherwise); all are cleaned up, and the
    tables emptied."""
    apps = []
    release_pooled_connections()

    def make(keys: bool = True, **config):
        if keys:
            init_keys(instance / "keys")
            create_log_key(instance / "keys")
            create_document_key(instance / "keys")
        app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url, **config})
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["portal.db"].dispose()
    wipe(suite_engine)


@pytest.fixture
def app(request, shared_app, suite_engine, world_rows):
    """The shared app inside a rolled-back transaction; for `committing`
    tests, the shared app with real commits (tables emptied after); for tests
    with an instance folder of their own, a new app (see `make_app`).
    `world_rows` is only asked for here to be made before the transaction."""
    if needs_own_app(request.fixturenames):
        yield request.getfixturevalue("make_app")()
    elif request.node.get_closest_marker("committing"):
        release_pooled_connections()
        with _restored(shared_app):
            try:
                yield shared_app
            finally:
                shared_app.extensions["portal.db"].session.remove()
                wipe(suite_engine)
    else:
        with _restored(shared_app), _rolled_back(shared_app, suite_engine):
            yield shared_app


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
from dataclasses import dataclass, fields  # noqa: E402
from datetime import timedelta  # noqa: E402

from sqlalchemy import select  # noqa: E402

from tests.factories import FIRM_F, FIRM_G, PERSON_A, PERSON_B  # noqa: E402


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
def world(request, app, world_rows) -> World:
    """Built in an app context of its own and popped: a test client reuses a
    pushed app context (and its `g` and session) for every request, which
    would leak the signed-in user between requests. Tests that use a client
    open `with app.app_context():` only around direct service calls.

    In a rolled-back test the rows the services wrote for the world once
    (`world_rows`) are inserted again, which is what building it would do
    at a fraction of the cost; elsewhere it is built through the services."""
    with app.app_context():
        vault().register_versions(session())
        if request.node.get_closest_marker("committing"):
            return _build_world()
        return world_rows.insert(session())


@dataclass(frozen=True)
class WorldRows:
    """The rows written by building the world, by table in insertion order,
    and the class and id of each member of the world."""

    tables: list
    members: dict

    def insert(self, s) -> World:
        for table, rows in self.tables:
            s.execute(table.insert(), rows)
        s.commit()
        by_model: dict = {}
        for model, id_ in self.members.values():
            by_model.setdefault(model, []).append(id_)
        loaded = {
            (model, obj.id): obj
            for model, ids in by_model.items()
            for obj in s.scalars(select(model).where(model.id.in_(ids)))
        }
        return World(**{name: loaded[member] for name, member in self.members.items()})


@pytest.fixture(scope="session")
def world_rows(shared_app, suite_engine) -> WorldRows:
    """The world built once through the services on the shared app, in a
    transaction rolled back after its rows were read. Only rows the world
    added are kept (not the key versions every test registers). Requested
    by `app` too, so that it is made before any test's own transaction."""
    tables = all_models().sorted_tables
    with _rolled_back(shared_app, suite_engine), shared_app.app_context():
        s = session()
        vault().register_versions(s)
        before = {table: {_key(table, row) for row in s.execute(select(table))} for table in tables}
        built = _build_world()
        s = session()
        added = [
            (table, [dict(row._mapping) for row in s.execute(select(table)) if _key(table, row) not in before[table]])
            for table in tables
        ]
        members = {f.name: (type(getattr(built, f.name)), getattr(built, f.name).id) for f in fields(World)}
    return WorldRows([(table, rows) for table, rows in added if rows], members)


def _key(table, row) -> tuple:
    return tuple(row._mapping[column.name] for column in table.primary_key.columns)


def _build_world() -> World:
    from portal.accounts import two_factor
    from portal.accounts.models import FirmDelegation, Role
    from tests import factories as make

    s, v = session(), vault()
    bank = make.institution(
        s, v, "test-bank", name="测试银行", name_en="Test Bank", contact="王五", email="ops@bank.example"
    )
    a, b = make.person(s, v, PERSON_A, "张三"), make.person(s, v, PERSON_B, "李四")
    f, g = make.firm(s, v, FIRM_F, "福州示例科技有限公司"), make.firm(s, v, FIRM_G, "北京示例贸易有限公司")
    for subject, ref, negative in (
        (a, "A-LOAN-1", False),
        (a, "A-CARD-1", True),
        (f, "F-LOAN-1", True),
        (b, "B-LOAN-1", False),
        (g, "G-LOAN-1", False),
    ):
        make.record(s, v, bank, subject, ref, negative=negative)
    users = dict(
        user_a=make.user(s, v, Role.PERSON, "a@test.example", a),
        user_b=make.user(s, v, Role.PERSON, "b@test.example", b),
        rep_f=make.user(s, v, Role.FIRM_REPRESENTATIVE, "rep.f@test.example", f),
        agent_f=make.user(s, v, Role.FIRM_AGENT, "agent.f@test.example"),
        rep_g=make.user(s, v, Role.FIRM_REPRESENTATIVE, "rep.g@test.example", g),
        agent_g=make.user(s, v, Role.FIRM_AGENT, "agent.g@test.example"),
    )
    for firm, rep, agent in ((f, users["rep_f"], users["agent_f"]), (g, users["rep_g"], users["agent_g"])):
        s.add(
            FirmDelegation(
                firm_id=firm.id,
                agent_id=agent.id,
                granted_by_id=rep.id,
                scopes=["view_report", "file_disputes"],
                valid_until=portal_today() + timedelta(days=30),
            )
        )
    for who in ("rep_f", "rep_g", "agent_f", "agent_g"):  # those who act for a firm must have a second factor
        two_factor.enable(s, v, users[who], two_factor.new_secret())
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


# -- the transparency log (tests/transparency, tests/audit) --------------------
@pytest.fixture
def log_app(app):
    """An app with a log signing key."""
    from portal.transparency.notes import create_key_file

    create_key_file(app.config["KEY_DIR"])
    return app


@pytest.fixture
def signer(log_app):
    from portal.transparency.notes import Signer

    return Signer.load(log_app.config["KEY_DIR"])
