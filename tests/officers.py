"""Helpers of the officer tests (compliance, and disputes that involve an
officer): staff with a second factor, cases filed and moved through the real
services, the case page's forms."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from portal.accounts.models import Role, User
from portal.compliance import assignment
from portal.disputes.lifecycle import advance
from portal.disputes.models import Dispute, DisputeReason, DisputeStatus
from portal.extensions import session, vault
from portal.records.models import CreditRecord, Subject
from tests import factories as make

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')  # the sign-out (or sign-in) form of a page
S = DisputeStatus


@dataclass
class Staff:
    officer: User
    officer2: User
    supervisor: User


@pytest.fixture
def staff(app, world) -> Staff:
    """Two officers and a supervisor, each with a second factor (staff can
    do nothing without one)."""
    with app.app_context():
        s, v = session(), vault()
        out = Staff(
            *(
                make.user(s, v, role, email, second_factor=True)
                for role, email in (
                    (Role.OFFICER, "officer.one@staff.example"),
                    (Role.OFFICER, "officer.two@staff.example"),
                    (Role.SUPERVISOR, "supervisor@staff.example"),
                )
            )
        )
        s.commit()
    return out


def english(client):
    client.set_cookie("lang", "en")
    return client


def as_user(app, sign_in, user):
    return english(sign_in(app.test_client(), user))


def file_case(
    app,
    world,
    who="a",
    reason=DisputeReason.WRONG_AMOUNT,
    statement="The balance is wrong.",
    filed_on=None,
    record=0,
    files=(),
) -> uuid.UUID:
    """A case filed by person A (or B, or firm F's representative) about one
    of its records, `filed_on` a given day."""
    subject = {"a": world.person_a, "b": world.person_b, "f": world.firm_f}[who]
    filer = {"a": world.user_a, "b": world.user_b, "f": world.rep_f}[who]
    with app.app_context():
        s, v = session(), vault()
        subj = s.get(Subject, subject.id)
        records = s.scalars(
            select(CreditRecord.id)
            .where(CreditRecord.subject_id == subj.id)
            .order_by(CreditRecord.created_at, CreditRecord.id)
        ).all()
        d = make.dispute(
            s, v, subj, s.get(User, filer.id), [records[record]], reason, statement, files=files, today=filed_on
        )
        s.commit()
        return d.id


def with_case(app, dispute_id, fn):
    """Run fn(session, vault, dispute) in a transaction of its own."""
    with app.app_context():
        s, v = session(), vault()
        result = fn(s, v, s.get(Dispute, dispute_id))
        s.commit()
        return result


def case_state(app, dispute_id) -> Dispute:
    with app.app_context():
        d = session().get(Dispute, dispute_id)
        session().expunge(d)
        return d


def assign_to(app, dispute_id, officer, *, review=False):
    """Assign the case to `officer` (and move it to under review)."""

    def go(s, v, d):
        user = s.get(User, officer.id)
        assignment.assign(s, v, d, user)
        if review:
            for to in (S.ACKNOWLEDGED, S.UNDER_REVIEW):
                advance(s, v, d, to, user)

    with_case(app, dispute_id, go)


def token(client) -> str:
    html = client.get("/").get_data(as_text=True)
    found = TOKEN.search(html) or TOKEN.search(client.get("/login").get_data(as_text=True))
    return found.group(1)


def post_form(client, url, prefix, fields=None, version=None):
    """Post one of the case page's forms (field names carry its prefix)."""
    data = {f"{prefix}-{k}": v for k, v in (fields or {}).items()}
    data[f"{prefix}-csrf_token"] = token(client)
    if version is not None:
        data[f"{prefix}-lock_version"] = str(version)
    return client.post(url, data=data)


def version_of(app, dispute_id) -> int:
    return case_state(app, dispute_id).lock_version


def case_url(dispute_id, tail=""):
    return f"/officer/cases/{dispute_id}{tail}"
