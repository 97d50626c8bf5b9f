"""Negative information leaves the file five years after it ended: a record
whose five years are already over is refused when furnished (422
problem+json of type past-retention, the day it left in left_on), before
anything is read or written; one still inside them is furnished."""

from __future__ import annotations

from datetime import timedelta

from portal.localtime import today as portal_today
from portal.records.models import CreditRecord
from portal.records.services import add_years

from .conftest import bearer, count, counts, furnish_body, is_problem


def furnish(app, token, ended_on, negative=True, reference="RET-1"):
    body = furnish_body(reference=reference, status="overdue", negative=negative, ended_on=ended_on.isoformat())
    return app.test_client().post("/api/v1/records", json=body, headers=bearer(token))


def test_negative_information_past_its_five_years_is_refused(app, api):
    ended = add_years(portal_today(), -5) - timedelta(days=1)
    before, records = counts(app), count(app, CreditRecord)
    refused = furnish(app, api.tokens["bank"], ended)
    problem = is_problem(refused, 422)
    assert problem["type"] == "urn:portal:problem:past-retention"
    assert problem["left_on"] == add_years(ended, 5).isoformat()
    assert problem["errors"] == [{"pointer": "/record/ended_on", "detail": problem["detail"]}]
    assert "five years" in problem["detail"]
    assert counts(app) == before
    assert count(app, CreditRecord) == records


def test_the_last_day_inside_and_positive_information_are_furnished(app, api):
    inside = add_years(portal_today(), -5) + timedelta(days=1)
    assert furnish(app, api.tokens["bank"], inside).status_code == 201
    old = add_years(portal_today(), -8)
    assert furnish(app, api.tokens["bank"], old, negative=False, reference="RET-2").status_code == 201
