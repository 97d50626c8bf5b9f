"""The consent, lock and disclosure services on their own: grants and
revocations with their events, the statuses the subject sees, every branch
of legal_basis, the lock's events, and disclosures read back."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.access import consents, lock
from portal.access.basis import Reason, legal_basis
from portal.access.consents import ConsentError
from portal.access.models import Consent
from portal.accounts.models import User
from portal.audit import disclosures
from portal.audit.events import canonical_json, recent_events, record_event
from portal.audit.models import AccessEvent, Disclosure, EventKind
from portal.audit.purposes import Purpose
from portal.crypto.errors import DecryptionFailed
from portal.db import utcnow
from portal.institutions.models import Institution, InstitutionKind
from portal.institutions.services import NewInstitution, create_institution
from portal.localtime import today as portal_today
from portal.records.models import CreditRecord, Subject

from .conftest import db

TODAY = portal_today()


@pytest.fixture
def cast(app, api):
    """Loaded inside one app context per test: (session, vault, a, user_a, bank, lender, court)."""
    with db(app) as (s, v):
        yield (
            s,
            v,
            s.get(Subject, api.world.person_a.id),
            s.get(User, api.world.user_a.id),
            s.get(Institution, api.world.bank.id),
            s.get(Institution, api.ids.lender),
            s.get(Institution, api.ids.court),
        )


def kinds(s, subject):
    return [
        e.kind
        for e in s.scalars(
            select(AccessEvent).where(AccessEvent.subject_id == subject.id).order_by(AccessEvent.occurred_at)
        )
    ]


def test_grant_revoke_and_the_statuses_the_subject_sees(cast):
    s, v, a, user, bank, lender, _court = cast
    live = consents.grant(s, v, a, bank, "loan_approval", TODAY + timedelta(days=30), user)
    old = consents.grant(
        s, v, a, lender, "credit_card_approval", TODAY - timedelta(days=1), user, today=TODAY - timedelta(days=10)
    )
    gone = consents.grant(s, v, a, lender, "loan_approval", TODAY + timedelta(days=5), user)
    assert consents.revoke(s, v, a, gone.id, user) is gone
    assert gone.revoked_at is not None
    assert consents.revoke(s, v, a, gone.id, user) is gone  # twice: no second event
    views = {c.id: c for c in consents.list_for_subject(s, v, a)}
    assert {views[live.id].status, views[old.id].status, views[gone.id].status} == {"live", "expired", "revoked"}
    assert views[live.id].status == "live"
    assert views[old.id].status == "expired"
    assert views[live.id].institution_name == "测试银行"
    assert views[live.id].document_hash is None
    assert kinds(s, a) == [EventKind.CONSENT_GRANTED] * 3 + [EventKind.CONSENT_REVOKED]
    [revoked] = [e for e in recent_events(s, v, a) if e.kind is EventKind.CONSENT_REVOKED]
    assert revoked.detail["consent"] == str(gone.id)
    assert revoked.institution_id == lender.id


def test_a_subject_cannot_revoke_anothers_consent(app, api, cast):
    s, v, a, user, bank, _lender, _court = cast
    b = s.get(Subject, api.world.person_b.id)
    theirs = consents.grant(s, v, b, bank, "loan_approval", TODAY + timedelta(days=3), s.get(User, api.world.user_b.id))
    assert consents.revoke(s, v, a, theirs.id, user) is None
    assert theirs.revoked_at is None


@pytest.mark.parametrize(
    ("purpose", "until", "field"),
    [
        ("post_loan_management", 30, "purpose"),  # a contract, not a consent
        ("court_enforcement", 30, "purpose"),
        ("self_query", 30, "purpose"),
        ("credit_card_approval", 30, "purpose"),  # not one of the bank's purposes
        ("astrology", 30, "purpose"),
        ("loan_approval", -1, "valid_until"),
        ("loan_approval", 367, "valid_until"),
    ],
)
def test_bad_grants_name_the_field_and_write_nothing(cast, purpose, until, field):
    s, v, a, user, bank, _lender, _court = cast
    with pytest.raises(ConsentError) as error:
        consents.grant(s, v, a, bank, purpose, TODAY + timedelta(days=until), user)
    assert error.value.field == field
    assert s.scalar(select(func.count()).select_from(Consent)) == 0
    assert kinds(s, a) == []


def test_legal_basis_decides_every_case(app, api, cast):
    s, v, a, user, bank, lender, court = cast
    odd_bank = create_institution(
        s,
        v,
        NewInstitution(
            "odd-bank", "odd", "Odd", InstitutionKind.BANK, ["court_enforcement", "self_query"], "x", "x@y.z"
        ),
    )
    live = consents.grant(s, v, a, bank, "loan_approval", TODAY + timedelta(days=1), user)

    def decide(inst, purpose, consent_id=None, today=TODAY):
        return legal_basis(s, a, inst, Purpose(purpose), consent_id, today).reason

    assert decide(bank, "loan_approval", live.id) is Reason.CONSENT
    assert decide(bank, "loan_approval") is Reason.CONSENT
    assert decide(bank, "loan_approval", live.id, TODAY + timedelta(days=2)) is Reason.CONSENT_EXPIRED
    assert decide(odd_bank, "court_enforcement") is Reason.NOT_A_COURT
    assert decide(odd_bank, "self_query") is Reason.SELF_QUERY_NOT_FOR_INSTITUTIONS
    assert decide(court, "court_enforcement") is Reason.COURT_ENFORCEMENT
    assert decide(lender, "post_loan_management") is Reason.NO_EXISTING_CONTRACT
    assert decide(lender, "loan_approval") is Reason.CONSENT_REQUIRED
    assert decide(lender, "loan_approval", live.id) is Reason.CONSENT_NOT_FOUND
    lock.set_lock(s, v, a, user)
    assert decide(bank, "loan_approval", live.id) is Reason.FILE_LOCKED
    assert decide(lender, "post_loan_management") is Reason.FILE_LOCKED
    basis = legal_basis(s, a, court, Purpose.COURT_ENFORCEMENT, None, TODAY)
    assert basis.allowed
    assert basis.while_locked
    assert basis.detail()["while_locked"] is True
    refusal = legal_basis(s, a, bank, Purpose.LOAN_APPROVAL, live.id, TODAY)
    assert not refusal.allowed
    assert refusal.message
    assert "basis" not in refusal.detail()


def test_existing_contracts_are_listed_for_the_subject(app, api, cast):
    s, _v, a, _user, _bank, _lender, _court = cast
    # The world's bank holds A's open loan, but post-loan management is not one of its purposes.
    assert consents.existing_contracts(s, a) == []
    s.get(Institution, api.world.bank.id).allowed_purposes = ["loan_approval", "post_loan_management"]
    s.flush()
    assert [f.code for f in consents.existing_contracts(s, a)] == ["test-bank"]
    bank = s.get(Institution, api.world.bank.id)
    assert legal_basis(s, a, bank, Purpose.POST_LOAN_MANAGEMENT, None, portal_today()).allowed
    # A record deleted by a dispute's decision is no contract to manage.
    for record in s.scalars(select(CreditRecord).where(CreditRecord.subject_id == a.id)):
        record.deleted_at = utcnow()
    s.flush()
    assert consents.existing_contracts(s, a) == []
    assert not legal_basis(s, a, bank, Purpose.POST_LOAN_MANAGEMENT, None, portal_today()).allowed


def test_lock_and_release_write_their_events_once(cast):
    s, v, a, user, _bank, _lender, _court = cast
    assert lock.set_lock(s, v, a, user)
    assert a.locked_at is not None
    assert not lock.set_lock(s, v, a, user)
    assert lock.release_lock(s, v, a, user)
    assert a.locked_at is None
    assert not lock.release_lock(s, v, a, user)
    assert kinds(s, a) == [EventKind.LOCK_SET, EventKind.LOCK_RELEASED]


def test_disclosures_are_read_back_only_for_their_subject_and_unaltered(app, api, cast):
    s, v, a, _user, bank, _lender, _court = cast
    b = s.get(Subject, api.world.person_b.id)
    event = record_event(s, v, a, EventKind.INSTITUTION_QUERY, channel="api", institution_id=bank.id)
    body = canonical_json({"b": [1, "二"], "a": None})
    assert body == '{"a":null,"b":[1,"二"]}'.encode()
    row = disclosures.store(s, v, a, event, body)
    shown = disclosures.disclosure_for_event(s, v, a, event.id)
    assert shown.body == body
    assert shown.hash == hashlib.sha256(body).hexdigest()
    assert shown.report == {"a": None, "b": [1, "二"]}
    assert disclosures.disclosure_for_event(s, v, b, event.id) is None
    assert row.snapshot_ct != body
    assert body not in row.snapshot_ct
    row.snapshot_hash = hashlib.sha256(b"something else").digest()
    with pytest.raises(DecryptionFailed):
        disclosures.disclosure_for_event(s, v, a, event.id)
    s.rollback()
    assert s.scalar(select(func.count()).select_from(Disclosure)) == 0
