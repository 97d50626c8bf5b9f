"""Idempotency-Key on API POSTs: a furnisher whose connection died after
the portal committed (so it never saw the answer) sends the request again
and gets the first answer, with nothing written twice."""

from __future__ import annotations

import copy
import threading
from datetime import timedelta

import pytest
from sqlalchemy import update

from portal.api.idempotency import forget_old
from portal.db import utcnow
from portal.institutions.models import IdempotentRequest
from portal.worker import forget_expired

from .conftest import bearer, count, counts, db, furnish_body, is_problem


def post(app, token, body, key=None, url="/api/v1/records"):
    headers = bearer(token) | ({"Idempotency-Key": key} if key is not None else {})
    return app.test_client().post(url, json=body, headers=headers)


def test_a_retry_with_the_same_key_gets_the_first_answer_and_writes_nothing(app, api):
    first = post(app, api.tokens["bank"], furnish_body(), key="retry-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    after_first = counts(app)
    again = post(app, api.tokens["bank"], furnish_body(), key="retry-1")
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert counts(app) == after_first  # no second version, no second access event
    # Without a key, the same body is a new version: the key is what makes a retry.
    assert post(app, api.tokens["bank"], furnish_body()).get_json()["version"] == 2


def test_quoted_and_bare_keys_are_the_same_key(app, api):
    first = post(app, api.tokens["bank"], furnish_body(), key='"8e03978e-40d5-43e8-bc93-6894a57f9324"')
    again = post(app, api.tokens["bank"], furnish_body(), key="8e03978e-40d5-43e8-bc93-6894a57f9324")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()


def test_the_same_key_with_another_body_is_refused_and_writes_nothing(app, api):
    assert post(app, api.tokens["bank"], furnish_body(), key="k").status_code == 201
    before = counts(app)
    other = copy.deepcopy(furnish_body())
    other["record"]["details"]["balance"] = "1.00"
    problem = is_problem(post(app, api.tokens["bank"], other, key="k"), 422)
    assert problem["type"].endswith("idempotency-key-reused")
    assert counts(app) == before


def test_keys_are_each_institutions_own(app, api):
    bank = post(app, api.tokens["bank"], furnish_body(), key="shared")
    lender = post(app, api.tokens["lender"], furnish_body(), key="shared")
    assert bank.status_code == lender.status_code == 201
    assert "Idempotent-Replayed" not in lender.headers
    assert lender.get_json()["record_id"] != bank.get_json()["record_id"]


def test_an_error_keeps_no_key_so_the_corrected_request_goes_through(app, api):
    bad = furnish_body()
    bad["record"]["status"] = "paid"
    is_problem(post(app, api.tokens["bank"], bad, key="fix-me"), 422)
    assert count(app, IdempotentRequest) == 0
    assert post(app, api.tokens["bank"], furnish_body(), key="fix-me").status_code == 201


@pytest.mark.parametrize("key", ["", "two words", "x" * 256, 'a"b', '"open', "é"])
def test_a_malformed_key_is_a_400_and_writes_nothing(app, api, key):
    before = counts(app)
    problem = is_problem(post(app, api.tokens["bank"], furnish_body(), key=key), 400)
    assert problem["type"].endswith("bad-idempotency-key")
    assert counts(app) == before


def test_every_post_of_the_api_takes_the_key_and_says_so(app):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    posts = {path: ops["post"] for path, ops in document["paths"].items() if "post" in ops}
    assert len(posts) == 4
    for path, operation in posts.items():
        names = [p["name"] for p in operation.get("parameters", [])]
        assert "Idempotency-Key" in names, path
        assert "422" in operation["responses"], path


def test_a_refused_post_without_a_body_keeps_no_key(app, api):
    url = "/api/v1/notices/00000000-0000-4000-8000-000000000000/ack"
    is_problem(post(app, api.tokens["bank"], None, key="ack", url=url), 404)
    assert count(app, IdempotentRequest) == 0


def test_keys_older_than_a_day_are_forgotten_by_the_worker(app, api):
    post(app, api.tokens["bank"], furnish_body(), key="old")
    post(app, api.tokens["bank"], furnish_body(reference="API-LOAN-2"), key="new")
    with db(app) as (s, _v):
        s.execute(
            update(IdempotentRequest)
            .where(IdempotentRequest.key == "old")
            .values(created_at=utcnow() - timedelta(hours=25))
        )
        assert forget_old(s, 24) == 1
    assert count(app, IdempotentRequest) == 1
    assert forget_expired(app) == 0  # nothing left that old


@pytest.mark.committing
def test_a_retry_sent_while_the_first_is_under_way_waits_and_gets_its_answer(app, api):
    import hashlib
    import json

    from sqlalchemy.orm import Session

    raw = json.dumps(furnish_body()).encode()
    answers = []
    engine = app.extensions["portal.db"].engine
    with app.app_context(), Session(engine) as first:
        # The first request, stored with its answer, not yet committed.
        first.add(
            IdempotentRequest(
                institution_id=api.ids.bank,
                key="under-way",
                fingerprint=hashlib.sha256(b"POST\n/api/v1/records\n" + raw).digest(),
                status=201,
                body=b'{"record_id": "the first one"}',
                content_type="application/json",
            )
        )
        first.flush()
        headers = bearer(api.tokens["bank"]) | {"Idempotency-Key": "under-way", "Content-Type": "application/json"}
        retry = threading.Thread(
            target=lambda: answers.append(app.test_client().post("/api/v1/records", data=raw, headers=headers))
        )
        retry.start()
        retry.join(timeout=0.5)
        assert answers == []  # it waits for the first
        first.commit()
    retry.join(timeout=60)
    (answer,) = answers
    assert answer.status_code == 201
    assert answer.get_json() == {"record_id": "the first one"}
    assert answer.headers["Idempotent-Replayed"] == "true"
    assert count(app, IdempotentRequest) == 1
