"""The operator console is for administrators alone, with their second
factor. Every route under /admin, found in the URL map (so new routes are
covered by default), is tried by every other kind of user (a person, a
firm's representative and agent, an officer, a supervisor, nobody signed
in): 404, and nothing is written (a POST from nobody signed in meets the
CSRF check first: 400). An administrator without a second factor is sent to
set one up first. An administrator reaches every route, which shows the
test can fail."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal import create_app
from portal.accounts.models import Role
from portal.admin.console import PREFIX
from portal.extensions import session, vault
from portal.models import all_models
from tests import factories as make
from tests.officers import as_user, token


def console_routes():
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith(PREFIX + "/") or r.rule == PREFIX]
    assert len(rules) > 10, "the console's routes are not under /admin: the URL map changed shape"
    return sorted(
        (r.endpoint, tuple(sorted(r.arguments)), m) for r in rules for m in sorted(r.methods - {"HEAD", "OPTIONS"})
    )


ROUTES = console_routes()
OUTSIDERS = ("person", "firm_representative", "firm_agent", "officer", "supervisor", None)


@pytest.fixture
def ids(app, world, admins):
    with app.app_context():
        s, v = session(), vault()
        supervisor = make.user(s, v, Role.SUPERVISOR, "supervisor@staff.example", second_factor=True)
        s.commit()
    values = {
        "institution_id": world.bank.id,
        "user_id": admins.officer.id,
        "subject_id": world.person_a.id,
        "proposal_id": None,
        "key_id": None,
    }
    users = {
        "person": world.user_a,
        "firm_representative": world.rep_f,
        "firm_agent": world.agent_f,
        "officer": admins.officer,
        "supervisor": supervisor,
        "administrator": admins.first,
    }
    return values, users


def url(app, endpoint, arguments, values):
    import uuid

    given = {}
    for a in arguments:
        assert a in values, f"{endpoint} takes {a}: give this test a real value for it"
        given[a] = values[a] or (uuid.uuid4() if a.endswith("_id") and a != "key_id" else "0123456789abcdef")
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **given)


def counts(app):
    with app.app_context():
        s = session()
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in all_models().sorted_tables}


def send(client, method, path, csrf):
    return client.open(path, method=method, data={"csrf_token": csrf} if method == "POST" and csrf else None)


CASES = [(role, *r) for r in ROUTES for role in OUTSIDERS]


@pytest.mark.parametrize(
    ("role", "endpoint", "arguments", "method"), CASES, ids=[f"{c[0]}-{c[1]}-{c[3]}" for c in CASES]
)
def test_nobody_but_administrators_reaches_the_console(app, world, sign_in, ids, role, endpoint, arguments, method):
    values, users = ids
    client = app.test_client() if role is None else as_user(app, sign_in, users[role])
    csrf = token(client) if role else None
    path = url(app, endpoint, arguments, values)
    before = counts(app)
    response = send(client, method, path, csrf)
    want = 400 if role is None and method == "POST" else 404
    assert response.status_code == want, (role, method, path, response.status_code)
    assert counts(app) == before, (role, method, path)


def test_an_administrator_without_a_second_factor_sets_one_up_first(app, world, sign_in):
    with app.app_context():
        s, v = session(), vault()
        bare = make.user(s, v, Role.ADMINISTRATOR, "new.admin@staff.example")
        s.commit()
    client = as_user(app, sign_in, bare)
    for path in ("/admin/", "/admin/staff", "/admin/settings"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/account/two-step"), path


@pytest.mark.parametrize(("endpoint", "arguments", "method"), ROUTES, ids=[f"{r[0]}-{r[2]}" for r in ROUTES])
def test_administrators_reach_every_console_route(app, world, sign_in, ids, endpoint, arguments, method):
    values, users = ids
    client = as_user(app, sign_in, users["administrator"])
    response = send(client, method, url(app, endpoint, arguments, values), token(client))
    # An empty form may be refused (400, 409) or redirect; an id made up for
    # the test may be 404 (a proposal or key that does not exist): what
    # matters is that the door lets them through.
    assert response.status_code not in (403, 405, 500), (method, endpoint, response.status_code)
    if not any(a in ("proposal_id", "key_id") for a in arguments):
        assert response.status_code != 404, (method, endpoint)
