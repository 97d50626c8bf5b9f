"""The compliance console is for officers and supervisors alone. Every route
under /compliance, found in the URL map (so new routes are covered by
default), is tried by every other kind of user (a person, a firm's
representative and agent, an administrator, nobody signed in; an
institution has no web session, so it is nobody here): 404, and nothing is
written (a POST from nobody signed in meets the CSRF check first: 400).
Routes marked for supervisors are 404 for officers too. A
supervisor reaches every route and an officer every other one, which shows
the test can fail."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import create_app
from portal.accounts import two_factor
from portal.accounts.models import Role, User
from portal.accounts.services import create_user
from portal.compliance.console import PREFIX
from portal.compliance.erasure import ErasureGround, file_request
from portal.compliance.models import Alert
from portal.db import utcnow
from portal.extensions import session, vault
from portal.models import all_models
from tests.officers import as_user, token


def console_routes():
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith(PREFIX + "/") or r.rule == PREFIX]
    assert rules, "no route under /compliance: the URL map changed shape"
    return sorted(
        (r.endpoint, tuple(sorted(r.arguments)), m, getattr(app.view_functions[r.endpoint], "supervisors_only", False))
        for r in rules
        for m in sorted(r.methods - {"HEAD", "OPTIONS"})
    )


ROUTES = console_routes()
OUTSIDERS = ("person", "firm_representative", "firm_agent", "administrator", None)
# Values for arguments that are not ids, by name (anything else is an
# argument this test must be told about).
OTHER_ARGS = {"name": "disputes", "month": "2026-01"}


@pytest.fixture
def ids(app, world, staff):
    """A real id for each kind of argument the console's routes take."""
    with app.app_context():
        s, v = session(), vault()
        admin = create_user(s, v, role=Role.ADMINISTRATOR, email="admin@staff.example", display_name="admin")
        two_factor.enable(s, v, admin, two_factor.new_secret())
        now = utcnow()
        alert = Alert(
            rule="volume_spike",
            fingerprint=f"test:{uuid.uuid4()}",
            window_start=now - timedelta(days=1),
            window_end=now,
            institution_id=world.bank.id,
            facts={"count": 1},
            event_ids=[],
        )
        s.add(alert)
        erasure_request = file_request(s, v, s.get(User, world.user_a.id), ErasureGround.NOT_NEEDED, "")
        s.commit()
        values = {
            "alert_id": alert.id,
            "institution_id": world.bank.id,
            "user_id": staff.officer.id,
            "request_id": erasure_request.id,
        }
    users = {
        "person": world.user_a,
        "firm_representative": world.rep_f,
        "firm_agent": world.agent_f,
        "administrator": admin,
        "officer": staff.officer2,
        "supervisor": staff.supervisor,
    }
    return values, users


def url(app, endpoint, arguments, values):
    given = {}
    for a in arguments:
        assert a in values or a in OTHER_ARGS, f"{endpoint} takes {a}: give this test a real value for it"
        given[a] = values.get(a) or OTHER_ARGS[a]
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **given)


def counts(app):
    with app.app_context():
        s = session()
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in all_models().sorted_tables}


def client_for(app, sign_in, users, role):
    if role is None:
        return app.test_client()
    return as_user(app, sign_in, users[role])


def send(client, method, path, csrf):
    return client.open(path, method=method, data={"csrf_token": csrf} if method == "POST" and csrf else None)


OUTSIDER_CASES = [(role, *r) for r in ROUTES for role in OUTSIDERS]


@pytest.mark.parametrize(
    ("role", "endpoint", "arguments", "method", "supervisors"),
    OUTSIDER_CASES,
    ids=[f"{c[0]}-{c[1]}-{c[3]}" for c in OUTSIDER_CASES],
)
def test_nobody_but_staff_reaches_the_console(app, world, sign_in, ids, role, endpoint, arguments, method, supervisors):
    values, users = ids
    client = client_for(app, sign_in, users, role)
    csrf = token(client) if role else None
    path = url(app, endpoint, arguments, values)
    before = counts(app)
    response = send(client, method, path, csrf)
    # Nobody signed in has no CSRF token: the app refuses their POST (400)
    # before any route runs, as it does everywhere.
    want = 400 if role is None and method == "POST" else 404
    assert response.status_code == want, (role, method, path, response.status_code)
    assert counts(app) == before, (role, method, path)


SUPERVISOR_ROUTES = [r for r in ROUTES if r[3]]


@pytest.mark.parametrize(
    ("endpoint", "arguments", "method", "supervisors"),
    SUPERVISOR_ROUTES,
    ids=[f"{r[0]}-{r[2]}" for r in SUPERVISOR_ROUTES],
)
def test_officers_do_not_reach_what_supervisors_do(app, world, sign_in, ids, endpoint, arguments, method, supervisors):
    values, users = ids
    client = client_for(app, sign_in, users, "officer")
    path = url(app, endpoint, arguments, values)
    before = counts(app)
    response = send(client, method, path, token(client))
    assert response.status_code == 404, (method, path, response.status_code)
    assert counts(app) == before, (method, path)


@pytest.mark.parametrize(
    ("role", "endpoint", "arguments", "method"),
    [("supervisor", *r[:3]) for r in ROUTES] + [("officer", *r[:3]) for r in ROUTES if not r[3]],
    ids=[f"supervisor-{r[0]}-{r[2]}" for r in ROUTES] + [f"officer-{r[0]}-{r[2]}" for r in ROUTES if not r[3]],
)
def test_staff_reach_their_console_routes(app, world, sign_in, ids, role, endpoint, arguments, method):
    values, users = ids
    client = client_for(app, sign_in, users, role)
    response = send(client, method, url(app, endpoint, arguments, values), token(client))
    # An empty form may be refused (200 with its errors, 400, 409, 422) or
    # redirect back; what matters is that the route exists for them.
    assert response.status_code not in (403, 404, 405, 500), (role, method, endpoint, response.status_code)
