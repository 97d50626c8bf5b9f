"""Strict validation: each bad body is a 400/415/413/422 problem naming the
field (a JSON pointer) or the parameter, and writes nothing at all."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from portal.localtime import today as portal_today
from portal.records.models import SubjectKind
from portal.records.services import validate_identifier

from .conftest import bearer, counts, furnish_body, is_problem

# Well in the future, so a run that crosses midnight does not make it today.
IN_A_MONTH = (portal_today() + timedelta(days=30)).isoformat()
AFTER_TOMORROW = (portal_today() + timedelta(days=2)).isoformat()  # a run may cross midnight


def mutate(path: str, value=None, delete=False):
    """furnish_body() with the value at `path` (slash-separated) replaced,
    added or deleted."""
    body = copy.deepcopy(furnish_body())
    *parents, last = path.strip("/").split("/")
    node = body
    for key in parents:
        node = node[key]
    if delete:
        del node[last]
    else:
        node[last] = value
    return body


CASES = [
    # (why, body, pointer)
    ("a number for a boolean", mutate("/record/negative", 1), "/record/negative"),
    ("a string for a boolean", mutate("/record/negative", "false"), "/record/negative"),
    ("a boolean for a number", mutate("/record/details/overdue_months", True), "/record/details/overdue_months"),
    ("a float for an integer", mutate("/record/details/overdue_months", 2.5), "/record/details/overdue_months"),
    ("a number for an amount", mutate("/record/details/principal", 120000), "/record/details/principal"),
    ("an amount with three decimals", mutate("/record/details/balance", "1.005"), "/record/details/balance"),
    ("a number for a string", mutate("/record/reference", 42), "/record/reference"),
    ("unknown field at the top", mutate("/extra", 1), "/extra"),
    ("unknown field in subject", mutate("/subject/birthday", "1949-12-31"), "/subject/birthday"),
    ("unknown field in record", mutate("/record/amount", "1.00"), "/record/amount"),
    ("a key escaped in the pointer", {**furnish_body(), "a~b/c": 1}, "/a~0b~1c"),  # RFC 6901: ~0 and ~1
    ("missing subject", mutate("/subject", delete=True), "/subject"),
    ("missing kind", mutate("/subject/kind", delete=True), "/subject/kind"),
    ("missing name", mutate("/subject/name", delete=True), "/subject/name"),
    ("missing category", mutate("/record/category", delete=True), "/record/category"),
    ("missing negative", mutate("/record/negative", delete=True), "/record/negative"),
    ("blank reference", mutate("/record/reference", "   "), "/record/reference"),
    ("bad category", mutate("/record/category", "mortgage"), "/record/category"),
    ("bad status", mutate("/record/status", "paid"), "/record/status"),
    ("bad kind", mutate("/subject/kind", "robot"), "/subject/kind"),
    ("impossible date", mutate("/record/ended_on", "2024-02-30"), "/record/ended_on"),
    ("slashed date", mutate("/record/ended_on", "2024/01/01"), "/record/ended_on"),
    ("compact date", mutate("/record/ended_on", "20240101"), "/record/ended_on"),
    ("date and time", mutate("/record/ended_on", "2024-01-01T00:00:00"), "/record/ended_on"),
    ("future end", mutate("/record/ended_on", IN_A_MONTH), "/record/ended_on"),
    ("bad date in details", mutate("/record/details/opened_on", "May 2024"), "/record/details/opened_on"),
    ("nested object in details", mutate("/record/details/extra", {"a": 1}), "/record/details/extra"),
    ("null in details", mutate("/record/details/extra", None), "/record/details/extra"),
    ("reference in details", mutate("/record/details/reference", "X"), "/record/details/reference"),
    ("bad detail key", mutate("/record/details/Bad Key", "x"), "/record/details/Bad Key"),
    ("details not an object", mutate("/record/details", ["a"]), "/record/details"),
    ("too many detail keys", mutate("/record/details", {f"k{i}": i for i in range(41)}), "/record/details"),
    ("details too large", mutate("/record/details", {f"k{i}": "x" * 450 for i in range(10)}), "/record/details"),
    ("a long detail string", mutate("/record/details/note", "x" * 501), "/record/details/note"),
    ("body not an object", ["subject"], ""),
    ("bad currency", mutate("/record/details/currency", "yuan"), "/record/details/currency"),
    ("bad e-mail", mutate("/subject/contact_email", "nobody"), "/subject/contact_email"),
    # Found by an outside attack run: accepted before.
    ("a negative principal", mutate("/record/details/principal", "-100.00"), "/record/details/principal"),
    ("a negative balance", mutate("/record/details/balance", "-0.01"), "/record/details/balance"),
    ("opened the day after tomorrow", mutate("/record/details/opened_on", AFTER_TOMORROW), "/record/details/opened_on"),
    ("opened in 9999", mutate("/record/details/opened_on", "9999-12-31"), "/record/details/opened_on"),
    ("closed in the future", mutate("/record/details/closed_on", IN_A_MONTH), "/record/details/closed_on"),
    ("ended in year 1", mutate("/record/ended_on", "0001-01-01"), "/record/ended_on"),
    ("opened before 1900", mutate("/record/details/opened_on", "1899-12-31"), "/record/details/opened_on"),
    ("NUL in the name", mutate("/subject/name", "张\x00三"), "/subject/name"),
    ("NUL in the reference", mutate("/record/reference", "LOAN\x00-1"), "/record/reference"),
    ("an escape sequence in a detail", mutate("/record/details/note", "\x1b[2Jgone"), "/record/details/note"),
    ("a C1 control in a detail", mutate("/record/details/loan_type", "consumer\x85"), "/record/details/loan_type"),
]


@pytest.mark.parametrize(("why", "body", "pointer"), CASES, ids=[c[0] for c in CASES])
def test_bad_bodies_are_422_naming_the_field_and_write_nothing(app, api, why, body, pointer):
    before = counts(app)
    response = app.test_client().post("/api/v1/records", json=body, headers=bearer(api.tokens["bank"]))
    problem = is_problem(response, 422)
    pointers = [e["pointer"] for e in problem["errors"]]
    assert pointer in pointers, (why, problem)
    assert problem["detail"].startswith(problem["errors"][0]["pointer"])
    assert counts(app) == before, why


@pytest.mark.parametrize(("language", "words"), [("en", "check character"), ("zh-CN", "校验")])
def test_the_identifier_error_is_the_identifiers_own_message(app, api, language, words):
    bad = "110105194912310021"  # the check character should be X
    with (
        app.test_request_context(headers={"Accept-Language": language}),
        pytest.raises(ValueError, match=words) as expected,
    ):
        validate_identifier(SubjectKind.PERSON, bad)
    before = counts(app)
    response = app.test_client().post(
        "/api/v1/records", json=furnish_body(bad), headers={**bearer(api.tokens["bank"]), "Accept-Language": language}
    )
    problem = is_problem(response, 422)
    assert problem["errors"] == [{"pointer": "/subject/identifier", "detail": str(expected.value)}]
    assert words in str(expected.value)
    assert counts(app) == before


def test_every_error_is_reported_at_once(app, api):
    body = mutate("/record/unknown", 1)
    del body["subject"]["kind"]
    body["record"]["negative"] = "no"
    response = app.test_client().post("/api/v1/records", json=body, headers=bearer(api.tokens["bank"]))
    pointers = {e["pointer"] for e in is_problem(response, 422)["errors"]}
    assert pointers == {"/record/unknown", "/subject/kind", "/record/negative"}


RAW = [
    ("malformed JSON", b'{"subject": ', "application/json", 400),
    ("duplicate keys", b'{"subject": {}, "subject": {}}', "application/json", 400),
    ("NaN", b'{"record": {"details": {"x": NaN}}}', "application/json", 400),
    ("not UTF-8", '{"subject": "\u5f20"}'.encode("utf-16"), "application/json", 400),
    ("form data", b"subject=1", "application/x-www-form-urlencoded", 415),
    ("no content type", json.dumps(furnish_body()).encode(), None, 415),
    ("too large", b'{"x": "' + b"a" * 70_000 + b'"}', "application/json", 413),
    ("nested 1,000 deep", b"[" * 1000 + b"]" * 1000, "application/json", 400),
    ("nested 10,000 deep", b"[" * 10_000 + b"]" * 10_000, "application/json", 400),
    ("objects nested 20 deep", b'{"a":' * 20 + b"1" + b"}" * 20, "application/json", 400),
]


@pytest.mark.parametrize(("why", "data", "content_type", "status"), RAW, ids=[r[0] for r in RAW])
def test_unreadable_bodies_are_problems_and_write_nothing(app, api, why, data, content_type, status):
    before = counts(app)
    headers = bearer(api.tokens["bank"])
    if content_type:
        headers["Content-Type"] = content_type
    response = app.test_client().post("/api/v1/records", data=data, headers=headers)
    is_problem(response, status)
    assert counts(app) == before


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("purpose=loan", "purpose"),
        ("", "purpose"),
        ("purpose=loan_approval&consent=not-a-uuid", "consent"),
        ("purpose=loan_approval&purpose=loan_approval", "purpose"),
        ("purpose=loan_approval&kind=robot", "kind"),
        ("purpose=loan_approval&debug=1", "debug"),
    ],
)
def test_bad_query_parameters_are_400_naming_the_parameter_and_record_nothing(app, api, query, parameter):
    before = counts(app)
    response = app.test_client().get(f"/api/v1/reports/11010519491231002X?{query}", headers=bearer(api.tokens["bank"]))
    problem = is_problem(response, 400)
    assert parameter in [e["parameter"] for e in problem["errors"]]
    assert counts(app) == before
