"""One institution never reaches another's items through the API. Every
/api/v1 route that takes an id (a subject's identifier, a dispute, a file,
a notice), found in the URL map so new routes are covered by default, is
tried on the bank's items: with another institution's key it is a 404
problem (the same as for an id that does not exist), or for a report the
refusal of a query without a basis; with the bank's own key lacking the
route's scope it is a 403 problem. Nothing is written, except the refused
query's access event, which the subject must see. The bank's full key does
get each item, which shows the test can fail."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal import create_app
from portal.access import consents
from portal.access.models import Consent
from portal.accounts.models import Role, User
from portal.accounts.services import create_user
from portal.audit.events import record_event
from portal.audit.models import AccessEvent, Disclosure, EventKind, Outcome
from portal.db import new_id, utcnow
from portal.disputes.evidence import Upload
from portal.disputes.lifecycle import advance
from portal.disputes.models import CorrectionNotice, Dispute, DisputeStatus, DisputeStep, FurnisherResponse
from portal.disputes.services import file_dispute
from portal.extensions import session, vault
from portal.institutions.models import ApiScope, Institution, InstitutionKind
from portal.institutions.services import NewInstitution, create_institution, issue_api_key
from portal.localtime import today as portal_today
from portal.records.models import CreditRecord, RecordVersion, Subject
from tests.files import PDF

PREFIX = "/api/v1"
ID_ARGS = {"identifier", "dispute_id", "evidence_id", "notice_id"}
PERSON_A = "11010519491231002X"
# Everything an API request could write (the key's last use aside).
TABLES = (
    Subject,
    CreditRecord,
    RecordVersion,
    AccessEvent,
    Disclosure,
    Consent,
    Dispute,
    DisputeStep,
    FurnisherResponse,
    CorrectionNotice,
)


def api_routes():
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith(PREFIX + "/") and ID_ARGS & set(r.arguments)]
    assert rules, "no API route takes an id: the URL map changed shape"
    out = []
    for rule in sorted(rules, key=lambda r: r.rule):
        scopes = sorted(s.value for s in getattr(app.view_functions[rule.endpoint], "required_scopes", ()))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule.rule, method, scopes))
    return out


ROUTES = api_routes()
IDS = [f"{method} {rule}" for rule, method, _scopes in ROUTES]
# Routes that one of the test keys (furnish only, query only) lacks the scope
# for; a route either key may call is left to the other tests.
SCOPED = [(route, f"{route[1]} {route[0]}") for route in ROUTES if {"furnish", "query"} - set(route[2])]


def counts(app) -> dict[str, int]:
    with app.app_context():
        return {m.__tablename__: session().scalar(select(func.count()).select_from(m)) for m in TABLES}


def acknowledged(app) -> int:
    with app.app_context():
        return session().scalar(
            select(func.count()).select_from(CorrectionNotice).where(CorrectionNotice.acknowledged_at.is_not(None))
        )


@pytest.fixture
def bank(app, world):
    """The bank's items: a dispute of its record of person A, sent to it with
    a file, a correction notice to it, and A's authority for its loan
    approval queries. Keys: the bank's by scope, and a lender's."""
    with app.app_context():
        s, v = session(), vault()
        a, user_a = s.get(Subject, world.person_a.id), s.get(User, world.user_a.id)
        bank = s.get(Institution, world.bank.id)
        loan = s.scalar(
            select(CreditRecord.id)
            .where(CreditRecord.subject_id == a.id)
            .order_by(CreditRecord.created_at, CreditRecord.id)
        )
        dispute = file_dispute(
            s, v, a, user_a, [loan], "wrong_amount", "The balance is wrong.", files=[Upload("statement.pdf", PDF)]
        )
        officer = create_user(s, v, role=Role.OFFICER, email="officer@iso.example", display_name="officer")
        for to in (DisputeStatus.ACKNOWLEDGED, DisputeStatus.UNDER_REVIEW, DisputeStatus.WAITING_FOR_FURNISHER):
            advance(s, v, dispute, to, officer, "Please check." if to is DisputeStatus.WAITING_FOR_FURNISHER else None)
        received = record_event(
            s,
            v,
            a,
            EventKind.INSTITUTION_QUERY,
            channel="api",
            institution_id=bank.id,
            purpose="loan_approval",
            detail={"what": "a report"},
        )
        notice = CorrectionNotice(
            id=new_id(),
            dispute_id=dispute.id,
            institution_id=bank.id,
            record_id=loan,
            received_event_id=received.id,
            created_at=utcnow(),
        )
        v.cipher(s, a.data_key_id).seal_field(notice, "body", json.dumps({"record_id": str(loan)}))
        s.add(notice)
        consents.grant(s, v, a, bank, "loan_approval", portal_today() + timedelta(days=30), user_a)
        lender = create_institution(
            s,
            v,
            NewInstitution(
                "iso-lender",
                "另一贷款公司",
                "Other Lender",
                InstitutionKind.LENDER,
                ["loan_approval"],
                "联系人",
                "ops@lender.example",
            ),
        )
        tokens = {
            "bank": issue_api_key(s, bank, [ApiScope.FURNISH, ApiScope.QUERY]),
            "furnish": issue_api_key(s, bank, [ApiScope.FURNISH]),
            "query": issue_api_key(s, bank, [ApiScope.QUERY]),
            "lender": issue_api_key(s, lender, [ApiScope.FURNISH, ApiScope.QUERY]),
        }
        s.commit()
        values = {
            "identifier": PERSON_A,
            "dispute_id": dispute.id,
            "evidence_id": dispute.evidence[0].id,
            "notice_id": notice.id,
        }
        return SimpleNamespace(tokens=tokens, values=values, loan=loan)


def request(app, bank, token, rule, method, **overrides):
    values = {**bank.values, **overrides}
    path = rule
    for name in ID_ARGS:
        path = path.replace(f"<{name}>", str(values[name])).replace(f"<uuid:{name}>", str(values[name]))
    assert "<" not in path, path
    if "/reports/" in path:
        path += "?purpose=loan_approval"
    body = (
        {"record_id": str(bank.loan), "answer": "verified_accurate", "reviewed": "The ledger."}
        if path.endswith("/responses")
        else None
    )
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    return app.test_client().open(path, method=method, json=body, headers=headers)


def problem(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"
    return response.get_json(force=True)


@pytest.mark.parametrize(("rule", "method", "scopes"), ROUTES, ids=IDS)
def test_another_institution_gets_nothing_of_the_banks(app, bank, rule, method, scopes):
    before = counts(app)
    theirs = request(app, bank, bank.tokens["lender"], rule, method)
    if "<identifier>" in rule:
        # The lender has no authority: the query is refused, and that refusal
        # is the one thing recorded (the subject sees it); nothing is disclosed.
        body = problem(theirs, 403)
        assert body["type"].endswith("query-refused")
        after = counts(app)
        assert after.pop("access_events") == before.pop("access_events") + 1
        assert after == before
        with app.app_context():
            assert session().get(AccessEvent, uuid.UUID(body["event_id"])).outcome is Outcome.REFUSED
        return
    body = problem(theirs, 404)
    unknown = problem(
        request(app, bank, bank.tokens["lender"], rule, method, **{a: uuid.uuid4() for a in ID_ARGS - {"identifier"}}),
        404,
    )
    assert body == unknown  # the same answer whether it exists or not
    assert counts(app) == before
    assert acknowledged(app) == 0


@pytest.mark.parametrize(("rule", "method", "scopes"), [r for r, _ in SCOPED], ids=[i for _, i in SCOPED])
def test_a_key_without_the_scope_is_refused_and_writes_nothing(app, bank, rule, method, scopes):
    lacking = [name for name in ("furnish", "query") if name not in scopes]
    before = counts(app)
    body = problem(request(app, bank, bank.tokens[lacking[0]], rule, method), 403)
    assert body["type"].endswith("insufficient-scope")
    assert counts(app) == before
    assert acknowledged(app) == 0


@pytest.mark.parametrize(("rule", "method", "scopes"), ROUTES, ids=IDS)
def test_the_bank_gets_its_own(app, bank, rule, method, scopes):
    response = request(app, bank, bank.tokens["bank"], rule, method)
    assert response.status_code in (200, 201), (response.status_code, response.get_data(as_text=True))
