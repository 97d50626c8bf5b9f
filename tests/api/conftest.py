"""Fixtures for the institution API: the `world` of tests/conftest.py plus a
lender and a court, each with real tokens from issue_api_key, and helpers
that count rows around a request. No app context stays pushed while the
client makes requests (see the `world` docstring)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.access.models import Consent
from portal.audit.models import AccessEvent, Disclosure
from portal.crypto.models import DataKey
from portal.extensions import session, vault
from portal.institutions.models import ApiScope, Institution, InstitutionKind
from portal.institutions.services import issue_api_key
from portal.localtime import today as portal_today
from portal.records.models import CreditRecord, RecordVersion, Subject
from tests import factories as make

FURNISH, QUERY = ApiScope.FURNISH, ApiScope.QUERY
PROBLEM = "application/problem+json"
# Everything a request could write: compared before and after a refusal.
TABLES = (Subject, CreditRecord, RecordVersion, AccessEvent, Consent, Disclosure, DataKey)


@contextmanager
def db(app):
    """An app context yielding (session, vault); commits at the end. Use it
    around direct service calls only, never around client requests."""
    with app.app_context():
        yield session(), vault()
        session().commit()


def count(app, model, *where) -> int:
    with app.app_context():
        return session().scalar(select(func.count()).select_from(model).where(*where))


def counts(app) -> dict[str, int]:
    return {m.__tablename__: count(app, m) for m in TABLES}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


def is_problem(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["title"]
    assert body["type"]
    return body


@pytest.fixture
def api(app, world):
    """Institutions with tokens: the world's bank (loan approval only), a
    lender (loan and card approval, post-loan management), a court (court
    enforcement) and an employer."""
    with db(app) as (s, v):
        bank = s.get(Institution, world.bank.id)
        lender = make.institution(
            s,
            v,
            "test-lender",
            InstitutionKind.LENDER,
            ["loan_approval", "credit_card_approval", "post_loan_management"],
        )
        court = make.institution(s, v, "test-court", InstitutionKind.COURT, ["court_enforcement"])
        employer = make.institution(s, v, "test-employer", InstitutionKind.EMPLOYER, ["employment_screening"])
        tokens = {
            "bank": issue_api_key(s, bank, [FURNISH, QUERY]),
            "bank_furnish": issue_api_key(s, bank, [FURNISH]),
            "bank_query": issue_api_key(s, bank, [QUERY]),
            "lender": issue_api_key(s, lender, [FURNISH, QUERY]),
            "court": issue_api_key(s, court, [QUERY]),
            "employer": issue_api_key(s, employer, [QUERY]),
        }
        ids = SimpleNamespace(bank=bank.id, lender=lender.id, court=court.id, employer=employer.id)
    return SimpleNamespace(world=world, tokens=tokens, ids=ids)


def grant(app, subject_id, institution_id, purpose="loan_approval", days=30, by=None, today=None):
    """A consent given by the subject's own user, as the portal would."""
    from portal.access import consents
    from portal.accounts.models import User

    with db(app) as (s, v):
        subject = s.get(Subject, subject_id)
        user = by or s.scalar(select(User).where(User.subject_id == subject_id))
        consent = consents.grant(
            s,
            v,
            subject,
            s.get(Institution, institution_id),
            purpose,
            (today or portal_today()) + timedelta(days=days),
            user,
            today=today,
        )
        return consent.id


def furnish_body(identifier="11010519491231002X", kind="person", name="张三", **record):
    return {
        "subject": {"kind": kind, "identifier": identifier, "name": name},
        "record": {
            "category": "loan",
            "reference": "API-LOAN-1",
            "status": "active",
            "negative": False,
            "ended_on": None,
            "details": {"currency": "CNY", "principal": "120000.00", "balance": "80000.00", "opened_on": "2024-05-01"},
            **record,
        },
    }
