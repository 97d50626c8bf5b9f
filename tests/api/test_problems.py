"""Under /api/v1 every error is problem+json, URLs that match no route
included; an error in the middle of a request rolls back everything it
wrote; the web pages keep their HTML errors."""

from __future__ import annotations

import pytest

from portal.audit.events import canonical_json

from .conftest import bearer, counts, grant, is_problem


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_an_unknown_api_url_is_a_404_problem(client, method):
    # POST too: no CSRF error page for a URL that matches nothing.
    response = client.open("/api/v1/nothing-here", method=method)
    is_problem(response, 404)


def test_a_wrong_method_is_a_405_problem_with_allow(client):
    response = client.put("/api/v1/records", json={})
    is_problem(response, 405)
    assert "POST" in response.headers["Allow"]
    assert "GET" not in response.headers["Allow"]


def test_web_pages_keep_html_errors(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("where", ["portal.api.services.disclosures.store", "portal.api.services.furnish_onto"])
def test_an_error_midway_is_a_500_problem_and_nothing_is_kept(make_app, api, monkeypatch, where):
    app = make_app(TESTING=False)  # errors handled as in production
    grant(app, api.world.person_a.id, api.world.bank.id)

    def boom(*args, **kwargs):
        raise RuntimeError("storage failed after the event was written")

    monkeypatch.setattr(where, boom)
    before = counts(app)
    client = app.test_client()
    if where.endswith("store"):
        response = client.get(
            "/api/v1/reports/11010519491231002X?purpose=loan_approval", headers=bearer(api.tokens["bank"])
        )
    else:
        from .conftest import furnish_body

        response = client.post(
            "/api/v1/records", json=furnish_body("110105198502030015", name="新人"), headers=bearer(api.tokens["bank"])
        )
    problem = is_problem(response, 500)
    assert "detail" not in problem
    assert "storage failed" not in response.get_data(as_text=True)
    assert counts(app) == before  # neither the event nor the subject survived


def test_canonical_json_refuses_what_json_cannot_say():
    with pytest.raises(ValueError, match="not JSON compliant"):
        canonical_json({"x": float("nan")})
