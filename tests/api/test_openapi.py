"""The OpenAPI document: valid OpenAPI 3.1, public, lists exactly the API
routes of the URL map with the scopes the views require, and describes
what the API really accepts and sends (checked with a JSON Schema
validator independent of the API's own)."""

from __future__ import annotations

import re

import jsonschema
import pytest
from openapi_spec_validator import validate

from .conftest import bearer, furnish_body, grant
from .test_validation import CASES


@pytest.fixture
def document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def conforms(document, name, instance) -> bool:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": f"#/components/schemas/{name}",
        "components": document["components"],
    }
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    return validator.is_valid(instance)


def test_it_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any violation


def test_it_lists_every_api_route_of_the_url_map_and_no_other(app, document):
    routes = {
        (re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", r.rule), m.lower())
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/v1")
        for m in r.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert routes == documented
    assert len(routes) == 10


def test_each_operation_names_the_scope_its_view_requires(document):
    scopes = {(p, m): op["security"] for p, item in document["paths"].items() for m, op in item.items()}
    assert scopes[("/api/v1/records", "post")] == [{"bearer": ["furnish"]}]
    assert scopes[("/api/v1/reports/{identifier}", "get")] == [{"bearer": ["query"]}]
    assert scopes[("/api/v1/authorisations", "post")] == [{"bearer": ["query"]}]
    assert scopes[("/api/v1/openapi.json", "get")] == []
    furnish = [{"bearer": ["furnish"]}]
    assert scopes[("/api/v1/disputes", "get")] == furnish
    assert scopes[("/api/v1/disputes/{dispute_id}/evidence/{evidence_id}", "get")] == furnish
    assert scopes[("/api/v1/disputes/{dispute_id}/responses", "post")] == furnish
    # Either key may read notices: one requirement per scope.
    either = [{"bearer": ["furnish"]}, {"bearer": ["query"]}]
    assert scopes[("/api/v1/notices", "get")] == scopes[("/api/v1/notices/{notice_id}/ack", "post")] == either


def test_the_request_schema_agrees_with_the_validator(document):
    assert conforms(document, "FurnishRequest", furnish_body())
    # What only code can check (identifier check characters, dates in the
    # future, byte sizes) is left out; every other refusal is in the schema.
    semantic = {
        "future end",
        "details too large",
        "impossible date",
        "opened the day after tomorrow",
        "opened in 9999",
        "closed in the future",
    }
    for why, body, _pointer in CASES:
        if why not in semantic:
            assert not conforms(document, "FurnishRequest", body), why


def test_responses_match_the_document(app, api, document):
    client = app.test_client()
    furnished = client.post("/api/v1/records", json=furnish_body(), headers=bearer(api.tokens["bank"]))
    assert furnished.status_code == 201
    assert conforms(document, "Furnished", furnished.get_json())
    grant(app, api.world.person_a.id, api.world.bank.id)
    served = client.get("/api/v1/reports/11010519491231002X?purpose=loan_approval", headers=bearer(api.tokens["bank"]))
    assert served.status_code == 200
    assert conforms(document, "ReportSent", served.get_json())
    for response in (
        client.post("/api/v1/records", json={"x": 1}, headers=bearer(api.tokens["bank"])),
        client.get("/api/v1/reports/11010519491231002X?purpose=self_query", headers=bearer(api.tokens["bank"])),
        client.get("/api/v1/nowhere"),
        client.get("/api/v1/reports/x"),
    ):
        assert response.status_code >= 400
        assert conforms(document, "Problem", response.get_json(force=True))
