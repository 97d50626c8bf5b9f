"""Bearer tokens: missing, garbled, unknown, wrong secret, revoked and
wrong-scope tokens are refused with problem+json and a WWW-Authenticate
challenge, before anything is read or written; good tokens are recorded as
used. Rate limits count per key."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.institutions.keys import revoke_key
from portal.institutions.models import ApiKey

from .conftest import bearer, counts, db, furnish_body, is_problem

PERSON_A = "11010519491231002X"


def protected(app):
    """Every API route but the public document, from the URL map: a new
    route is covered by default."""
    rules = [
        r for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/") and r.endpoint != "api.openapi_document"
    ]
    assert len(rules) >= 3
    return [
        (m, re.sub(r"<uuid:[a-z_]+>", str(uuid.uuid4()), r.rule.replace("<identifier>", PERSON_A)))
        for r in rules
        for m in sorted(r.methods - {"HEAD", "OPTIONS"})
    ]


def call(client, method, path, headers=None):
    return client.open(path, method=method, json={} if method == "POST" else None, headers=headers or {})


def test_every_protected_route_wants_a_token(app, api):
    client = app.test_client()
    for method, path in protected(app):
        response = call(client, method, path)
        body = is_problem(response, 401)
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="portal-api"', path
        assert "Bearer" in body["detail"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer nonsense",
        "Basic dXNlcjpwYXNz",
        "Token pk_0123456789abcdef." + "a" * 43,
        "Bearer pk_0123456789abcdef",
        "Bearer pk_0123456789ABCDEF." + "a" * 43,
        "Bearer pk_0123456789abcdef." + "a" * 44,
    ],
)
def test_garbled_tokens_are_401(app, api, header):
    response = app.test_client().get(
        f"/api/v1/reports/{PERSON_A}?purpose=loan_approval", headers={"Authorization": header}
    )
    is_problem(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_unknown_key_and_wrong_secret_are_401_alike(app, api):
    good = api.tokens["bank"]
    key_id, secret = good[3:].split(".")
    wrong_secret = f"pk_{key_id}.{'A' * 43}"
    unknown = f"pk_{'0' * 16}.{secret}"
    client = app.test_client()
    bodies = []
    for token in (wrong_secret, unknown):
        response = client.get(f"/api/v1/reports/{PERSON_A}?purpose=loan_approval", headers=bearer(token))
        bodies.append(is_problem(response, 401))
    assert bodies[0] == bodies[1]  # nothing tells a real key id from an unknown one


def test_revoked_key_is_401_and_other_keys_still_work(app, api):
    token = api.tokens["bank"]
    with db(app) as (s, _v):
        revoke_key(s, token[3:19], actor_id=None, channel="cli")
    before = counts(app)
    response = app.test_client().post("/api/v1/records", json=furnish_body(), headers=bearer(token))
    assert "revoked" in is_problem(response, 401)["detail"]
    assert counts(app) == before
    other = app.test_client().post("/api/v1/records", json=furnish_body(), headers=bearer(api.tokens["bank_furnish"]))
    assert other.status_code == 201


@pytest.mark.parametrize(
    ("token", "method", "path", "scope"),
    [
        ("bank_furnish", "GET", f"/api/v1/reports/{PERSON_A}?purpose=loan_approval", "query"),
        ("bank_query", "POST", "/api/v1/records", "furnish"),
    ],
)
def test_a_key_without_the_scope_is_403_and_nothing_happens(app, api, token, method, path, scope):
    before = counts(app)
    response = app.test_client().open(
        path, method=method, headers=bearer(api.tokens[token]), json=furnish_body() if method == "POST" else None
    )
    body = is_problem(response, 403)
    assert body["type"].endswith("insufficient-scope")
    assert scope in body["detail"]
    assert f'error="insufficient_scope", scope="{scope}"' in response.headers["WWW-Authenticate"]
    assert counts(app) == before  # no event, no record


def test_a_good_token_is_recorded_as_used(app, api):
    token = api.tokens["bank_furnish"]
    with db(app) as (s, _v):
        assert s.scalar(select(ApiKey).where(ApiKey.key_id == token[3:19])).last_used_at is None
    assert app.test_client().post("/api/v1/records", json=furnish_body(), headers=bearer(token)).status_code == 201
    with db(app) as (s, _v):
        assert s.scalar(select(ApiKey).where(ApiKey.key_id == token[3:19])).last_used_at is not None


def test_the_last_use_is_written_at_most_once_a_minute(app, api):
    """Requests of one key do not all update its row: within a minute of the
    recorded use nothing is written; after it, the new use is."""
    token = api.tokens["bank_furnish"]
    client = app.test_client()

    def last_used():
        with db(app) as (s, _v):
            return s.scalar(select(ApiKey).where(ApiKey.key_id == token[3:19])).last_used_at

    assert client.post("/api/v1/records", json=furnish_body(), headers=bearer(token)).status_code == 201
    first = last_used()
    body = furnish_body(reference="API-LOAN-2")
    assert client.post("/api/v1/records", json=body, headers=bearer(token)).status_code == 201
    assert last_used() == first
    with db(app) as (s, _v):  # the recorded use is now two minutes old
        s.scalar(select(ApiKey).where(ApiKey.key_id == token[3:19])).last_used_at = first - timedelta(minutes=2)
        s.commit()
    body = furnish_body(reference="API-LOAN-3")
    assert client.post("/api/v1/records", json=body, headers=bearer(token)).status_code == 201
    assert last_used() > first


def test_no_csrf_token_and_no_cookie_needed(app, api):
    client = app.test_client()
    response = client.post("/api/v1/records", json=furnish_body(), headers=bearer(api.tokens["bank"]))
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers


def test_rate_limit_counts_per_key(make_app, api):
    limited = make_app(API_RATE_LIMIT="2 per minute")
    client = limited.test_client()
    url = f"/api/v1/reports/{PERSON_A}?purpose=self_query"
    for _ in range(2):
        assert client.get(url, headers=bearer(api.tokens["bank"])).status_code == 403
    response = client.get(url, headers=bearer(api.tokens["bank"]))
    is_problem(response, 429)
    assert response.headers["Retry-After"]
    # Another key of the same institution has its own allowance.
    assert client.get(url, headers=bearer(api.tokens["bank_query"])).status_code == 403
