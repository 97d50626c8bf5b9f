"""The record categories an institution may furnish, set by the operator:
a record of another category is refused (403 problem+json of type
category-not-allowed) before anything is read or written, at no extra SQL
statement; an allowed category is furnished; no list (None) allows any."""

from __future__ import annotations

import pytest

from portal.institutions.models import Institution
from portal.records.models import CreditRecord

from .conftest import bearer, count, counts, db, furnish_body, is_problem
from .test_suspension import statements


def allow(app, institution_id, categories):
    with db(app) as (s, _v):
        s.get(Institution, institution_id).allowed_categories = categories


def furnish(app, token, category, reference="CAT-1", **headers):
    body = furnish_body(category=category, reference=reference)
    return app.test_client().post("/api/v1/records", json=body, headers={**bearer(token), **headers})


def test_an_unlisted_category_is_refused_and_nothing_is_written(app, api):
    allow(app, api.ids.bank, ["loan"])
    before, records = counts(app), count(app, CreditRecord)
    refused = furnish(app, api.tokens["bank"], "credit_card", **{"Idempotency-Key": "cat-1"})
    problem = is_problem(refused, 403)
    assert problem["type"] == "urn:portal:problem:category-not-allowed"
    assert problem["title"] == "Category not allowed"
    assert "credit_card" in problem["detail"]
    assert "operator" in problem["detail"]
    assert problem["category"] == "credit_card"
    assert problem["errors"] == [{"pointer": "/record/category", "detail": problem["detail"]}]
    assert counts(app) == before
    assert count(app, CreditRecord) == records
    # The refusal kept no Idempotency-Key: once allowed, the same request goes through.
    allow(app, api.ids.bank, ["loan", "credit_card"])
    assert furnish(app, api.tokens["bank"], "credit_card", **{"Idempotency-Key": "cat-1"}).status_code == 201


def test_a_listed_category_is_furnished(app, api):
    allow(app, api.ids.bank, ["loan", "tax_arrears"])
    response = furnish(app, api.tokens["bank"], "loan")
    assert response.status_code == 201, response.get_data(as_text=True)
    assert count(app, CreditRecord, CreditRecord.furnisher_id == api.ids.bank) == 6  # the world's five and this one


@pytest.mark.parametrize("category", ["loan", "credit_card", "court_judgment", "utility_arrears"])
def test_no_list_allows_any_category(app, api, category):
    with db(app) as (s, _v):
        assert s.get(Institution, api.ids.bank).allowed_categories is None
    assert furnish(app, api.tokens["bank"], category, reference=f"ANY-{category}").status_code == 201


def test_an_empty_list_allows_none(app, api):
    allow(app, api.ids.bank, [])
    before = counts(app)
    for category in ("loan", "guarantee"):
        assert is_problem(furnish(app, api.tokens["bank"], category), 403)["category"] == category
    assert counts(app) == before


def test_the_check_costs_no_statement(app, api):
    """The categories came with the key: the refusal runs the key's
    look-up and nothing else."""
    allow(app, api.ids.bank, ["loan"])
    with statements() as seen:
        is_problem(furnish(app, api.tokens["bank"], "credit_card"), 403)
    assert len(seen) == 1, seen
    assert "api_keys" in seen[0]
    assert "institutions" in seen[0]


def test_the_openapi_document_names_the_refusal(client):
    document = client.get("/api/v1/openapi.json").get_json()
    refusal = document["paths"]["/api/v1/records"]["post"]["responses"]["403"]
    assert "category-not-allowed" in refusal["description"]
