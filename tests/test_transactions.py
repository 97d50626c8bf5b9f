"""One transaction per request: a good response commits what the request
did; a refusal (4xx) commits too, so refused attempts stay recorded; an
exception rolls everything back."""
import pytest
from flask import abort
from sqlalchemy import func, select

from portal.extensions import session, vault
from portal.institutions.models import Institution, InstitutionKind
from portal.institutions.services import NewInstitution, create_institution


def add_institution(code):
    create_institution(session(), vault(), NewInstitution(code, code, code, InstitutionKind.BANK, [], "x", "x@y.z"))


@pytest.fixture
def app_with_routes(make_app):
    app = make_app(TESTING=False)  # let the app handle errors as in production

    @app.get("/_t/<outcome>/<code>")
    def act(outcome, code):
        vault().register_versions(session())
        add_institution(code)
        if outcome == "refused":
            abort(403)
        if outcome == "boom":
            raise RuntimeError("after the service wrote")
        return "ok"

    return app


def codes(app):
    with app.app_context():
        return set(session().scalars(select(Institution.code)))


def test_success_commits_refusal_commits_exception_rolls_back(app_with_routes):
    client = app_with_routes.test_client()
    assert client.get("/_t/ok/one").status_code == 200
    assert client.get("/_t/refused/two").status_code == 403
    assert client.get("/_t/boom/three").status_code == 500
    assert codes(app_with_routes) == {"one", "two"}


def test_an_error_page_loses_nothing_already_committed(app_with_routes):
    client = app_with_routes.test_client()
    client.get("/_t/ok/kept")
    client.get("/_t/boom/lost")
    with app_with_routes.app_context():
        assert session().scalar(select(func.count()).select_from(Institution)) == 1
