"""One transaction per request: a good response commits what the request
did; a refusal (4xx) writes nothing, unless a service marked the unit of
work as the record of a refused attempt; an exception rolls everything
back, and so does a failed flush even when the page then redirects."""

import pytest
from flask import abort, redirect
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from portal.db import keep_refused_attempt
from portal.extensions import session, vault
from portal.institutions.models import Institution, InstitutionKind
from portal.institutions.services import NewInstitution, create_institution


def add_institution(code):
    create_institution(session(), vault(), NewInstitution(code, code, code, InstitutionKind.BANK, [], "x", "x@y.z"))


@pytest.fixture
def app_with_routes(make_app):
    app = make_app(TESTING=False)  # let the app handle errors as in production

    @app.get("/_t/<outcome>/<code>")
    def act(outcome, code):
        vault().register_versions(session())
        add_institution(code)
        if outcome == "refused":
            abort(403)
        if outcome == "recorded":  # a refused attempt the subject must see
            keep_refused_attempt(session())
            abort(403)
        if outcome == "failed-flush":  # say a stale case: the page redirects
            try:
                add_institution(code)  # the same code again breaks a unique constraint
                session().flush()
            except IntegrityError:
                return redirect("/")
        if outcome == "boom":
            raise RuntimeError("after the service wrote")
        return "ok"

    return app


def codes(app):
    with app.app_context():
        return set(session().scalars(select(Institution.code)))


def test_success_commits_refusal_and_exception_roll_back(app_with_routes):
    client = app_with_routes.test_client()
    assert client.get("/_t/ok/one").status_code == 200
    assert client.get("/_t/refused/two").status_code == 403
    assert client.get("/_t/boom/three").status_code == 500
    assert codes(app_with_routes) == {"one"}


def test_a_recorded_refusal_commits(app_with_routes):
    client = app_with_routes.test_client()
    assert client.get("/_t/recorded/kept").status_code == 403
    assert client.get("/_t/refused/lost").status_code == 403  # the mark was this request's only
    assert codes(app_with_routes) == {"kept"}


def test_a_failed_flush_rolls_back_even_when_the_page_redirects(app_with_routes):
    client = app_with_routes.test_client()
    assert client.get("/_t/failed-flush/twice").status_code == 302
    assert codes(app_with_routes) == set()
    assert client.get("/_t/ok/after").status_code == 200  # the next request starts clean
    assert codes(app_with_routes) == {"after"}


def test_an_error_page_loses_nothing_already_committed(app_with_routes):
    client = app_with_routes.test_client()
    client.get("/_t/ok/kept")
    client.get("/_t/boom/lost")
    with app_with_routes.app_context():
        assert session().scalar(select(func.count()).select_from(Institution)) == 1


def test_a_savepoint_on_sqlite_writes_although_another_connection_committed_after_its_reads(tmp_path):
    """An officer's action runs in a savepoint: its reads, another
    connection's commit (the log integrator's), then its write. On SQLite
    the write must not fail with "database is locked"."""
    from sqlalchemy import text

    from portal.db import Database

    url = f"sqlite:///{tmp_path / 'two.sqlite3'}"
    ours, theirs = Database(url), Database(url, connect_args={"timeout": 0.2})
    with ours.engine.begin() as c:
        c.execute(text("CREATE TABLE t (who TEXT)"))
    s, other = ours.session(), theirs.session()
    with s.begin_nested():
        assert s.execute(text("SELECT count(*) FROM t")).scalar() == 0
        try:  # they commit now, or wait for our write lock and give up
            other.execute(text("INSERT INTO t VALUES ('theirs')"))
            other.commit()
        except OperationalError:
            other.rollback()
        s.execute(text("INSERT INTO t VALUES ('ours')"))
    s.commit()
    assert s.execute(text("SELECT who FROM t")).scalars().all() == ["ours"]
    ours.dispose(), theirs.dispose()
