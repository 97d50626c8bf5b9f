"""The demo shows authorities: the demo person has a bank's live
loan-approval grant and an employer's expired one; the demo firm a live
grant and a registered written authorisation."""

from __future__ import annotations

from sqlalchemy import select

from portal.access import consents
from portal.accounts.models import Role, User
from portal.demo import load_demo
from portal.localtime import today as portal_today
from portal.records.models import Subject


def test_demo_logins_see_live_and_expired_authorities(ctx):
    from portal.extensions import session, vault

    s, v = session(), vault()
    load_demo(s, v, subjects=20, seed=3, today=portal_today())
    shown = {}
    for role in (Role.PERSON, Role.FIRM_REPRESENTATIVE):
        user = s.scalar(select(User).where(User.role == role))
        shown[role] = {
            (c.institution.code, c.purpose, c.kind.value, c.status)
            for c in consents.list_for_subject(s, v, s.get(Subject, user.subject_id))
        }
    assert shown[Role.PERSON] == {
        ("hengtong-bank", "loan_approval", "grant", "live"),
        ("yunfan-hr", "employment_screening", "grant", "expired"),
    }
    assert shown[Role.FIRM_REPRESENTATIVE] == {
        ("jinqiao-bank", "loan_approval", "grant", "live"),
        ("hengtong-bank", "guarantee_review", "written_authorisation", "live"),
    }
