"""The case page offers an action exactly when the action goes through.
For cases in every state (unassigned, held by an officer, held by a
supervisor), each viewer's page is read for its forms and links; then every
action is tried through the services, as the routes call them (the case
loaded as the viewer, then the action), and rolled back. What the page
shows and what succeeds must be the same set."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from portal.accounts import two_factor
from portal.accounts.models import Role, User
from portal.accounts.services import create_user
from portal.compliance import actions, assignment, conflicts, notes, policy, reveal
from portal.db import new_id
from portal.disputes import decisions
from portal.disputes.evidence import Upload
from portal.disputes.lifecycle import DisputeError, advance
from portal.disputes.models import Answer, Dispute, DisputeItem, DisputeReason, FurnisherResponse
from portal.disputes.services import file_dispute
from portal.extensions import session, vault
from portal.institutions.models import InstitutionKind
from portal.institutions.services import NewInstitution, create_institution
from portal.records.models import Category, CreditRecord, RecordStatus, Subject
from portal.records.services import RecordInput, furnish
from tests.cast import PDF, PNG
from tests.officers import S, as_user, case_url

# How each state is reached from a new case (None: the portal's own step).
STATES = {
    "submitted": [],
    "acknowledged": [S.ACKNOWLEDGED],
    "under_review": [S.ACKNOWLEDGED, S.UNDER_REVIEW],
    "waiting_for_furnisher": [S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_FURNISHER],
    "waiting_for_subject": [S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_SUBJECT],
    # Every furnisher has answered: nobody is left to send the case to.
    "answered": [S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_FURNISHER, "answers", S.UNDER_REVIEW],
    "resolved": [S.ACKNOWLEDGED, S.UNDER_REVIEW, "decided"],
    "withdrawn": [S.WITHDRAWN],
}
HOLDERS = [None, "officer", "supervisor"]
VIEWERS = ["officer", "officer2", "supervisor", "administrator", "linked", "person"]
ACTION = re.compile(r'(?:action|href)="/officer/cases/[0-9a-f-]{36}/([^"]+)"')


@pytest.fixture
def people(app, world, staff):
    """Everyone who looks at the case, by name."""
    with app.app_context():
        s, v = session(), vault()

        def make(role, email):
            user = create_user(s, v, role=role, email=email, display_name=email.split("@")[0])
            two_factor.enable(s, v, user, two_factor.new_secret())
            return user

        admin = make(Role.ADMINISTRATOR, "admin@staff.example")
        linked = make(Role.OFFICER, "officer.linked@staff.example")
        conflicts.declare_conflict(s, v, linked, s.get(Subject, world.person_a.id))
        s.commit()
    return {
        "officer": staff.officer,
        "officer2": staff.officer2,
        "supervisor": staff.supervisor,
        "administrator": admin,
        "linked": linked,
        "person": world.user_a,
    }


def make_case(app, world, people, state, holder) -> uuid.UUID:
    """Person A's case over a bank's loan and a lender's card (so its files
    can go to some furnishers only), with two files, in `state`, held by
    `holder`."""
    with app.app_context():
        s, v = session(), vault()
        lender = create_institution(
            s,
            v,
            NewInstitution(
                "test-lender",
                "测试小贷",
                "Test Lender",
                InstitutionKind.LENDER,
                ["loan_approval"],
                "赵六",
                "ops@lender.example",
            ),
        )
        a = s.get(Subject, world.person_a.id)
        card = furnish(
            s,
            v,
            lender,
            a,
            RecordInput(
                Category.CREDIT_CARD,
                "L-CARD-1",
                RecordStatus.ACTIVE,
                False,
                None,
                {"currency": "CNY", "limit": "10000.00"},
            ),
        )
        loan = s.scalar(
            select(CreditRecord.id)
            .where(CreditRecord.subject_id == a.id)
            .order_by(CreditRecord.created_at, CreditRecord.id)
        )
        d = file_dispute(
            s,
            v,
            a,
            s.get(User, world.user_a.id),
            [loan, card.record_id],
            DisputeReason.WRONG_AMOUNT,
            "Both balances are wrong.",
            files=[Upload("loan.pdf", PDF), Upload("card.png", PNG)],
        )
        officer = s.get(User, people["officer"].id)
        for step in STATES[state]:
            if step == "answers":
                cipher = v.cipher(s, a.data_key_id)
                for item in s.scalars(select(DisputeItem).where(DisputeItem.dispute_id == d.id)):
                    row = FurnisherResponse(
                        id=new_id(),
                        dispute_id=d.id,
                        item_id=item.id,
                        institution_id=s.get(CreditRecord, item.record_id).furnisher_id,
                        answer=Answer.VERIFIED_ACCURATE,
                    )
                    cipher.seal_field(row, "reviewed", "The ledger")
                    s.add(row)
                s.flush()
            elif step == "decided":
                d.assigned_officer_id = officer.id
                decisions.decide(s, v, d, officer, "verified_accurate", "The ledgers match.")
            elif step is S.WITHDRAWN:
                advance(s, v, d, step, s.get(User, world.user_a.id))
            else:
                advance(s, v, d, step, officer, note="Please send the receipt.")
        d.assigned_officer_id = people[holder].id if holder else None
        s.commit()
        return d.id


def offered(app, sign_in, user, dispute_id) -> set[str]:
    """What the viewer's case page offers: its forms' and links' paths
    under the case (none when the page is not theirs to see)."""
    response = as_user(app, sign_in, user).get(case_url(dispute_id))
    if response.status_code == 404:
        return set()
    assert response.status_code == 200
    return set(ACTION.findall(response.get_data(as_text=True)))


def attempts(s, v, d, user, people):
    """Every action on the case, by the path of its form or link, as a
    function that does it (True: it took effect)."""
    target = next(
        s.get(User, people[n].id)
        for n in ("officer2", "officer", "supervisor")
        if people[n].id not in (user.id, d.assigned_officer_id)
    )
    version = d.lock_version
    files = sorted(d.evidence, key=lambda e: e.id)
    furnishers = [i.id for i in actions.case_furnishers(s, d)]
    out = {
        "take": lambda: assignment.assign(s, v, d, user, expected_version=version),
        "assign": lambda: assignment.assign(s, v, d, user, target, expected_version=version),
        "decide": lambda: actions.decide(
            s, v, d, user, "verified_accurate", "The ledgers match.", expected_version=version
        ),
        "extend": lambda: actions.extend_deadline(s, v, d, user, 5, "Waiting for the court", expected_version=version),
        "notes": lambda: notes.add_note(s, v, d, user, "A note", expected_version=version),
        "reveal": lambda: reveal.reveal(s, v, d, user, "To check the licence"),
        "recuse": lambda: conflicts.recuse(s, v, d, user, expected_version=version),
    }
    for status in policy.OFFICER_MOVES:
        out[f"move/{status.value}"] = lambda status=status: actions.move(
            s, v, d, user, status, "Please send the receipt.", expected_version=version
        )
    for e in files:
        out[f"evidence/{e.id}"] = lambda e=e: reveal.evidence_file(s, v, d, user, e.id)
        # A file sent to nobody new is no action.
        out[f"evidence/{e.id}/share"] = lambda e=e: (
            actions.share_evidence(s, d, user, e.id, furnishers, expected_version=version) or None
        )
    return out


def succeeds(app, dispute_id, who, people, name) -> bool:
    """Try one action as the route would (the case loaded as `who`), then
    undo it."""
    with app.app_context():
        s, v = session(), vault()
        user = s.get(User, who.id)
        outer = s.begin_nested()  # undone below, whatever the action committed to
        try:
            d = policy.load_case(s, user, dispute_id)
            done = attempts(s, v, d, user, people)[name]() is not None
        except (DisputeError, LookupError):
            done = False
        finally:
            outer.rollback()
            s.rollback()
        return done


@pytest.mark.parametrize("holder", HOLDERS, ids=[h or "unassigned" for h in HOLDERS])
@pytest.mark.parametrize("state", list(STATES))
def test_the_page_offers_exactly_what_goes_through(app, world, sign_in, people, state, holder):
    dispute_id = make_case(app, world, people, state, holder)
    with app.app_context():
        s, v = session(), vault()
        d = s.get(Dispute, dispute_id)
        names = list(attempts(s, v, d, s.get(User, people["officer"].id), people))
    for viewer in VIEWERS:
        shown = offered(app, sign_in, people[viewer], dispute_id)
        done = {name for name in names if succeeds(app, dispute_id, people[viewer], people, name)}
        assert shown <= set(names), (viewer, shown - set(names))  # every offer is one of the actions tried
        assert shown == done, (viewer, {"shown, refused": shown - done, "not shown, went through": done - shown})


def test_the_rules_answer_with_the_refusals_the_pages_show(app, world, people):
    """A refusal names its reason; one rule function answers both the
    page's question and the action's."""
    dispute_id = make_case(app, world, people, "under_review", "officer")
    with app.app_context():
        s = session()
        d = s.get(Dispute, dispute_id)
        other = policy.viewer(s, s.get(User, people["officer2"].id))
        boss = policy.viewer(s, s.get(User, people["supervisor"].id))
        linked = policy.viewer(s, s.get(User, people["linked"].id))
        assert isinstance(policy.act_refusal(other.user, d, policy.Act.DECIDE), policy.NotAssigned)
        assert policy.act_refusal(s.get(User, people["officer"].id), d, policy.Act.DECIDE) is None
        assert "already assigned to another officer" in str(policy.assignment_refusal(other, d))
        assert not policy.can_take(other, d)
        assert policy.can_take(boss, d)
        assert "linked to the subject" in str(policy.assignment_refusal(boss, d, linked))
        assert not policy.can_see(linked, d, s.get(Subject, d.subject_id))
        stale = policy.assignment_refusal(boss, d, other, expected_version=d.lock_version - 1)
        assert type(stale).__name__ == "StaleDispute"


@pytest.mark.committing  # two sessions of their own
@pytest.mark.parametrize("action", ["move", "take"])
def test_an_action_refused_when_written_leaves_nothing(app, world, people, action):
    """Someone else changes the case between reading and writing: the
    action is refused as stale, what it had begun to write is gone, and
    the rest of the request's work goes on."""
    from sqlalchemy import func
    from sqlalchemy.orm import Session

    from portal.audit.models import AccessEvent
    from portal.disputes.lifecycle import StaleDispute
    from portal.disputes.models import DisputeStep, OfficerConflict

    dispute_id = make_case(app, world, people, "submitted", "officer" if action == "move" else None)
    engine = app.extensions["portal.db"].engine
    with app.app_context(), Session(engine, expire_on_commit=False) as mine, Session(engine) as theirs:
        v = vault()
        d = mine.get(Dispute, dispute_id)
        me = mine.get(User, people["officer"].id)
        seen = d.lock_version
        steps = mine.scalar(select(func.count()).select_from(DisputeStep))
        events = mine.scalar(select(func.count()).select_from(AccessEvent))
        advance(theirs, v, theirs.get(Dispute, dispute_id), S.ACKNOWLEDGED, theirs.get(User, people["officer2"].id))
        theirs.commit()
        attempt = (
            (lambda: actions.move(mine, v, d, me, S.ACKNOWLEDGED, expected_version=seen))
            if action == "move"
            else (lambda: assignment.assign(mine, v, d, me, expected_version=seen))
        )
        with pytest.raises(StaleDispute):
            attempt()
        mine.add(OfficerConflict(officer_user_id=me.id, subject_id=world.person_b.id))  # the request goes on
        mine.commit()
        assert mine.get(Dispute, dispute_id).assigned_officer_id == (me.id if action == "move" else None)
        assert mine.scalar(select(func.count()).select_from(DisputeStep)) == steps + 1  # theirs only
        assert mine.scalar(select(func.count()).select_from(AccessEvent)) == events + 1
        assert (
            mine.scalar(
                select(func.count()).select_from(OfficerConflict).where(OfficerConflict.subject_id == world.person_b.id)
            )
            == 1
        )
