"""Written authorisations: an institution registers the hash and scope of a
signed document; the subject sees both and may revoke it; it serves queries
like a grant while live."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.access import consents
from portal.access.models import Consent, ConsentKind
from portal.accounts.models import User
from portal.audit.events import recent_events
from portal.audit.models import EventKind
from portal.localtime import today as portal_today
from portal.records.models import Subject

from .conftest import bearer, counts, db, is_problem

A = "11010519491231002X"
DOCUMENT = hashlib.sha256(b"scanned signed authorisation").hexdigest()


def body(**overrides):
    return {
        "subject": {"kind": "person", "identifier": A},
        "purpose": "loan_approval",
        "valid_until": (portal_today() + timedelta(days=60)).isoformat(),
        "document_sha256": DOCUMENT,
        "scope": "Loan approval for a mortgage application, signed 2026-11-20",
        **overrides,
    }


def register(app, token, data):
    return app.test_client().post("/api/v1/authorisations", json=data, headers=bearer(token))


def test_registered_authorisation_is_shown_to_the_subject_and_serves_queries(app, api):
    response = register(app, api.tokens["bank_query"], body())
    assert response.status_code == 201
    consent_id = uuid.UUID(response.get_json()["consent_id"])
    with db(app) as (s, v):
        subject = s.get(Subject, api.world.person_a.id)
        [view] = consents.list_for_subject(s, v, subject)
        [event] = recent_events(s, v, subject, limit=1)
    assert view.id == consent_id
    assert view.kind is ConsentKind.WRITTEN
    assert view.status == "live"
    assert view.document_hash == DOCUMENT
    assert view.scope.startswith("Loan approval for a mortgage")
    assert view.institution.code == "test-bank"
    assert view.purpose == "loan_approval"
    assert event.kind is EventKind.AUTHORISATION_REGISTERED
    assert event.institution_id == api.world.bank.id
    assert event.detail["document_sha256"] == DOCUMENT
    assert event.detail["consent"] == str(consent_id)

    served = app.test_client().get(
        f"/api/v1/reports/{A}?purpose=loan_approval&consent={consent_id}", headers=bearer(api.tokens["bank_query"])
    )
    assert served.status_code == 200
    assert served.get_json()["report"]["query"]["basis"] == "written_authorisation"

    with db(app) as (s, v):
        consents.revoke(s, v, s.get(Subject, api.world.person_a.id), consent_id, s.get(User, api.world.user_a.id))
    again = app.test_client().get(
        f"/api/v1/reports/{A}?purpose=loan_approval&consent={consent_id}", headers=bearer(api.tokens["bank_query"])
    )
    assert is_problem(again, 403)["reason"] == "consent_revoked"


@pytest.mark.parametrize(
    ("overrides", "pointer"),
    [
        ({"purpose": "post_loan_management"}, "/purpose"),  # rests on a contract, not a consent
        ({"purpose": "credit_card_approval"}, "/purpose"),  # not one of the bank's purposes
        ({"purpose": "cooking"}, "/purpose"),
        ({"valid_until": (portal_today() + timedelta(days=400)).isoformat()}, "/valid_until"),
        ({"valid_until": (portal_today() - timedelta(days=1)).isoformat()}, "/valid_until"),
        ({"document_sha256": DOCUMENT.upper()}, "/document_sha256"),
        ({"document_sha256": DOCUMENT[:-2]}, "/document_sha256"),
        ({"scope": " "}, "/scope"),
        ({"subject": {"kind": "person", "identifier": A, "name": "张三"}}, "/subject/name"),
        ({"signed_by": "x"}, "/signed_by"),
    ],
)
def test_bad_registrations_are_422_naming_the_field_and_write_nothing(app, api, overrides, pointer):
    before = counts(app)
    problem = is_problem(register(app, api.tokens["bank_query"], body(**overrides)), 422)
    assert problem["errors"][0]["pointer"] == pointer
    assert counts(app) == before


def test_a_subject_not_on_file_is_404_and_a_furnish_key_is_403(app, api):
    before = counts(app)
    is_problem(
        register(app, api.tokens["bank_query"], body(subject={"kind": "person", "identifier": "110105198502030015"})),
        404,
    )
    is_problem(register(app, api.tokens["bank_furnish"], body()), 403)
    assert counts(app) == before
    with db(app) as (s, _v):
        assert s.scalar(select(Consent)) is None


@pytest.mark.parametrize(
    "bad", [{"valid_until": (portal_today() - timedelta(days=1)).isoformat()}, {"purpose": "post_loan_management"}]
)
def test_a_bad_registration_does_not_tell_whether_the_subject_is_on_file(app, api, bad):
    """The same problem for a subject on file and one who is not: the
    endpoint is no way to probe who has a credit file."""
    from portal.records.identifiers import resident_id_check

    nobody = "11010519900101123" + resident_id_check("11010519900101123")
    on_file = register(app, api.tokens["bank_query"], body(**bad))
    not_on_file = register(app, api.tokens["bank_query"], body(subject={"kind": "person", "identifier": nobody}, **bad))
    assert on_file.status_code == not_on_file.status_code == 422
    assert on_file.get_json(force=True)["errors"] == not_on_file.get_json(force=True)["errors"]
