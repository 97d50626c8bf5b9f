"""A suspended institution's report queries and authorisations'
registrations are refused (403 problem+json of type querying-suspended,
the supervisor's reason in detail) before any subject is looked up, writing nothing and costing no
extra statement; furnishing still works; lifted, queries are served."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from portal.accounts.models import Role, User
from portal.compliance import oversight
from portal.institutions.models import Institution
from tests import factories as make

from .conftest import bearer, counts, db, furnish_body, grant, is_problem
from .test_authorisations import body, register
from .test_reports import NOT_ON_FILE, A, query

REASON = "Queries far outside its declared hours; under review by the supervisor."


@pytest.fixture
def supervisor(app, world):
    with db(app) as (s, v):
        return make.user(s, v, Role.SUPERVISOR, "supervisor@staff.example", second_factor=True).id


def _suspend(app, institution_id, supervisor_id, lift=False):
    with db(app) as (s, _v):
        institution, actor = s.get(Institution, institution_id), s.get(User, supervisor_id)
        (oversight.lift if lift else oversight.suspend)(s, institution, actor, "Reviewed." if lift else REASON)


@contextmanager
def statements():
    """The SQL statements (no savepoints) run inside the block."""
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")):
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", count)


def test_a_suspended_institution_is_refused_then_served_once_lifted(app, api, supervisor):
    consent = grant(app, api.world.person_a.id, api.world.bank.id)
    assert query(app, api.tokens["bank"], consent=consent).status_code == 200
    _suspend(app, api.world.bank.id, supervisor)

    before = counts(app)
    refused = query(app, api.tokens["bank"], consent=consent)
    problem = is_problem(refused, 403)
    assert problem["type"] == "urn:portal:problem:querying-suspended"
    assert problem["title"] == "Querying suspended"
    assert problem["detail"] == REASON
    assert "event_id" not in problem
    assert counts(app) == before  # no access event, no disclosure: no subject was reached

    # Nothing about the subject is looked up: unknown and malformed identifiers get the same answer.
    for identifier in (NOT_ON_FILE, "not-an-identifier"):
        assert is_problem(query(app, api.tokens["bank"], identifier), 403)["detail"] == REASON
    assert counts(app) == before

    # Furnishing keeps working.
    furnished = app.test_client().post(
        "/api/v1/records", json=furnish_body(reference="SUSP-1"), headers=bearer(api.tokens["bank"])
    )
    assert furnished.status_code == 201, furnished.get_data(as_text=True)

    # Another institution is not affected.
    other = grant(app, api.world.person_a.id, api.ids.lender)
    assert query(app, api.tokens["lender"], consent=other).status_code == 200

    _suspend(app, api.world.bank.id, supervisor, lift=True)
    assert query(app, api.tokens["bank"], A, consent=consent).status_code == 200


def test_the_refusal_adds_no_statement_to_the_request(app, api, supervisor):
    """The institution comes with the key: refusing a suspended one costs
    what refusing a key without the query scope costs."""
    _suspend(app, api.world.bank.id, supervisor)
    for token in ("bank", "bank_furnish"):  # warm up: keys' last use written
        query(app, api.tokens[token])
    with statements() as scope:
        assert is_problem(query(app, api.tokens["bank_furnish"]), 403)["type"].endswith("insufficient-scope")
    with statements() as suspended:
        assert is_problem(query(app, api.tokens["bank"]), 403)["type"].endswith("querying-suspended")
    assert len(suspended) == len(scope)
    assert any("api_keys" in s for s in suspended)
    assert not any("access_events" in s or "subjects" in s for s in suspended)


def test_a_suspended_institution_cannot_register_authorisations_nor_learn_who_is_on_file(app, api, supervisor):
    """Registering answers 201 for a subject on file and 404 otherwise: an
    oracle the suspension closes, before anything is looked up."""
    _suspend(app, api.world.bank.id, supervisor)
    before = counts(app)
    on_file = register(app, api.tokens["bank"], body())
    not_on_file = register(app, api.tokens["bank"], body(subject={"kind": "person", "identifier": NOT_ON_FILE}))
    for refused in (on_file, not_on_file):
        problem = is_problem(refused, 403)
        assert problem["type"] == "urn:portal:problem:querying-suspended"
        assert problem["detail"] == REASON
    assert counts(app) == before

    _suspend(app, api.world.bank.id, supervisor, lift=True)
    assert register(app, api.tokens["bank"], body()).status_code == 201


def test_the_openapi_document_names_the_problem(app, api):
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    for path, method in (("/api/v1/reports/{identifier}", "get"), ("/api/v1/authorisations", "post")):
        refused = doc["paths"][path][method]["responses"]["403"]["description"]
        assert "querying-suspended" in refused


def test_the_key_still_authenticates_first(app, api, supervisor):
    """A suspended institution with a wrong token is a 401, as anyone."""
    _suspend(app, api.world.bank.id, supervisor)
    token = api.tokens["bank"]
    wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert is_problem(query(app, wrong), 401)["type"].endswith("unauthorized")
