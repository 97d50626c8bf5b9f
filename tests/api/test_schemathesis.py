"""Property-based testing of the API against its own OpenAPI document,
in-process with Schemathesis: for a bounded number of generated requests
per operation, valid and invalid, no answer is a 5xx, every answer matches
the document (status code, content type, headers, body schema), and a
request the document forbids is refused. (A request the document allows
may still be refused for rules only code can check: identifier check
characters, dates in the future; so that check is left out.)"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import bearer

EXAMPLES = 25  # per operation: enough to find a 500, few enough for the suite
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def test_the_api_answers_every_request_as_its_document_says(app, api):
    app.config["API_RATE_LIMIT"] = "1000000 per minute"  # the generator sends many
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = bearer(api.tokens["bank"])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 9

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def answers_as_documented(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        answers_as_documented()
