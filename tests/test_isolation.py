"""One subject never sees another's data. Every route that takes a subject
or firm id, found in the URL map (so new routes are covered by default), is
tried for person A's file and firm F's file: signed in as another person,
as another firm's agent, and anonymously, none gets it (404, or a redirect
to sign-in); the owner does (200), which shows the test can fail."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from portal import create_app

ID_ARGS = {"subject_id", "firm_id"}


def subject_routes():
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    rules = [r for r in app.url_map.iter_rules() if ID_ARGS & set(r.arguments)]
    assert rules, "no route takes a subject id: the URL map changed shape"
    return sorted((r.endpoint, sorted(r.arguments), sorted(r.methods - {"HEAD", "OPTIONS"})) for r in rules)


ROUTES = subject_routes()


def url(app, endpoint, arguments, target_id):
    import uuid

    values = {a: (target_id if a in ID_ARGS else uuid.uuid4()) for a in arguments}
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **values)


@pytest.mark.parametrize(("endpoint", "arguments", "methods"), ROUTES, ids=[r[0] for r in ROUTES])
@pytest.mark.parametrize("intruder", ["user_b", "agent_g", "rep_g", None])
def test_nobody_else_reaches_a_subjects_data(app, world, sign_in, endpoint, arguments, methods, intruder):
    target = world.firm_f if "firm_id" in arguments else world.person_a
    path = url(app, endpoint, arguments, target.id)
    client = app.test_client()
    if intruder:
        sign_in(client, getattr(world, intruder))
    # An intruder holds a valid CSRF token of their own session.
    token = (
        re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/account").get_data(as_text=True))
        if intruder
        else None
    )
    for method in methods:
        data = {"csrf_token": token.group(1)} if token and method == "POST" else None
        response = client.open(path, method=method, data=data)
        if intruder is None:
            assert response.status_code in (302, 400), (method, path)
            if response.status_code == 302:
                assert urlsplit(response.headers["Location"]).path == "/login"
        else:
            assert response.status_code == 404, (method, path, response.status_code)
        body = response.get_data()
        assert "张三".encode() not in body
        assert "福州示例科技有限公司".encode() not in body


@pytest.mark.parametrize(
    ("endpoint", "arguments", "methods"),
    [r for r in ROUTES if "GET" in r[2] and len(r[1]) == 1],
    ids=[r[0] for r in ROUTES if "GET" in r[2] and len(r[1]) == 1],
)
def test_the_owner_does_reach_it(app, world, sign_in, endpoint, arguments, methods):
    owner, target = (world.rep_f, world.firm_f) if "firm_id" in arguments else (world.user_a, world.person_a)
    client = sign_in(app.test_client(), owner)
    assert client.get(url(app, endpoint, arguments, target.id)).status_code == 200
