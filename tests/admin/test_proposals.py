"""The two-person rule: granting the administrator role, rotating the
key-encryption key and erasing a subject are carried out only when a
second administrator approves within 24 hours, with a fresh password."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from portal import worker
from portal.accounts.models import AuthSession, Role, User
from portal.accounts.services import user_email
from portal.admin.models import Proposal, ProposalAction, ProposalState
from portal.audit.events import record_event
from portal.audit.models import AccessEvent, EventKind, OperatorAct
from portal.crypto.models import DataKey
from portal.db import utcnow
from portal.extensions import session, vault
from portal.records.models import Subject
from tests.accounts.helpers import NOT_ON_FILE, post_form
from tests.factories import PERSON_A, integrate

ERASE = "/admin/proposals/erase-subject"
ROTATE = "/admin/proposals/rotate-keys"


def decide(client, p, **data):
    page = f"/admin/proposals/{p}"
    return post_form(client, page, data, page=page)


def only_proposal(app):
    with app.app_context():
        return session().scalar(select(Proposal))


def propose_erasure(client, identifier=PERSON_A, reason="The court ordered erasure, case 2026-17."):
    return post_form(client, ERASE, {"erase-identifier": identifier, "erase-reason": reason}, page="/admin/proposals")


def test_an_erasure_needs_a_second_administrator(app, world, admins, as_admin):
    first, second = as_admin(), as_admin(admins.second)
    assert propose_erasure(first).status_code == 302
    p = only_proposal(app)
    assert p.action is ProposalAction.ERASE_SUBJECT
    assert p.target_subject_id == world.person_a.id
    assert decide(first, p.id, approve="1", confirm="y").status_code == 409  # not their own
    with app.app_context():
        assert session().get(Subject, world.person_a.id).shredded_at is None
    unconfirmed = decide(second, p.id, approve="1")
    assert unconfirmed.status_code == 400
    assert "Tick the box" in unconfirmed.get_data(as_text=True)
    assert decide(second, p.id, approve="1", confirm="y").status_code == 302
    with app.app_context():
        s = session()
        subject = s.get(Subject, world.person_a.id)
        assert subject.shredded_at is not None
        assert subject.identifier_bidx is None
        assert s.get(DataKey, subject.data_key_id).wrapped is None
        assert not s.get(User, world.user_a.id).is_active
        assert s.get(Proposal, p.id).state is ProposalState.APPROVED
        actions = [a.action for a in s.scalars(select(OperatorAct).order_by(OperatorAct.at))]
    assert actions == ["proposal_made", "proposal_approved"]
    again = propose_erasure(first)
    assert again.status_code == 400  # no such file any more: the blind index no longer matches


def test_erasure_proposals_refuse_bad_input(app, world, admins, as_admin):
    first = as_admin()
    assert propose_erasure(first, identifier="12345").status_code == 400
    missing = propose_erasure(first, identifier=NOT_ON_FILE)
    assert missing.status_code == 400
    assert "No subject with this identifier" in missing.get_data(as_text=True)
    no_reason = propose_erasure(first, reason="")
    assert no_reason.status_code == 400
    assert "This field is required." in no_reason.get_data(as_text=True)
    assert propose_erasure(first).status_code == 302
    twice = propose_erasure(as_admin(admins.second))
    assert twice.status_code == 409
    assert "already waiting" in twice.get_data(as_text=True)
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Proposal)) == 1


def test_an_expired_proposal_is_not_carried_out(app, world, admins, as_admin):
    propose_erasure(as_admin())
    p = only_proposal(app)
    with app.app_context():
        session().execute(update(Proposal).values(expires_at=utcnow() - timedelta(seconds=1)))
        session().commit()
    refused = decide(as_admin(admins.second), p.id, approve="1", confirm="y")
    assert refused.status_code == 409
    assert "expired" in refused.get_data(as_text=True)
    with app.app_context():
        assert session().get(Subject, world.person_a.id).shredded_at is None
    worker.forget_expired(app)  # the hourly job marks it
    with app.app_context():
        assert session().get(Proposal, p.id).state is ProposalState.EXPIRED
        (act,) = session().scalars(select(OperatorAct).where(OperatorAct.action == "proposal_expired")).all()
        assert act.channel == "worker"
        assert act.actor_user_id is None


def test_approving_needs_the_password_again(app, world, admins, as_admin):
    propose_erasure(as_admin())
    p = only_proposal(app)
    second = as_admin(admins.second)
    with app.app_context():
        session().execute(
            update(AuthSession)
            .where(AuthSession.user_id == admins.second.id)
            .values(created_at=utcnow() - timedelta(hours=1), reauthenticated_at=None)
        )
        session().commit()
    stale = decide(second, p.id, approve="1", confirm="y")
    assert stale.status_code == 302
    assert stale.headers["Location"].startswith("/account/confirm")
    with app.app_context():
        assert session().get(Proposal, p.id).state is ProposalState.PENDING


def test_the_proposer_withdraws_and_another_rejects(app, world, admins, as_admin):
    first = as_admin()
    propose_erasure(first)
    p = only_proposal(app)
    assert decide(first, p.id, reject="1").status_code == 302
    with app.app_context():
        assert session().get(Proposal, p.id).state is ProposalState.WITHDRAWN
    propose_erasure(first)
    with app.app_context():
        p2 = session().scalar(select(Proposal).where(Proposal.state == ProposalState.PENDING))
    assert decide(as_admin(admins.second), p2.id, reject="1", note="Not lawful.").status_code == 302
    with app.app_context():
        done = session().get(Proposal, p2.id)
        assert done.state is ProposalState.REJECTED
        assert done.decision_note == "Not lawful."
        assert session().get(Subject, world.person_a.id).shredded_at is None
    assert decide(as_admin(admins.second), p2.id, approve="1", confirm="y").status_code == 409  # decided


def test_the_proposals_page_lists_and_pages(app, world, admins, as_admin):
    admin = as_admin()
    assert "No proposal yet." in admin.get("/admin/proposals").get_data(as_text=True)
    propose_erasure(admin)
    html = admin.get("/admin/proposals").get_data(as_text=True)
    assert "Erase a subject's file" in html
    assert "waiting for approval" in html
    assert admin.get("/admin/proposals?page=2").status_code == 404
    assert admin.get("/admin/proposals/00000000-0000-0000-0000-000000000000").status_code == 404


@pytest.mark.committing  # `audit verify` opens a snapshot transaction of its own
def test_the_log_verifies_after_an_erasure(app, world, admins, as_admin):
    with app.app_context():
        s = session()
        record_event(s, vault(), s.get(Subject, world.person_a.id), EventKind.SELF_QUERY, channel="web", detail={})
        s.commit()
        integrate(s)
    propose_erasure(as_admin())
    decide(as_admin(admins.second), only_proposal(app).id, approve="1", confirm="y")
    with app.app_context():
        integrate(session())
        assert session().scalar(select(func.count()).where(AccessEvent.subject_id == world.person_a.id)) > 0
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output


def test_a_key_rotation_rewraps_every_data_key_in_the_worker(make_app, sign_in, instance):
    app = make_app()
    from tests import factories as make
    from tests.accounts.helpers import PASSWORD
    from tests.admin.conftest import Admins

    with app.app_context():
        s, v = session(), vault()
        v.register_versions(s)
        admins = Admins(
            *(
                make.user(s, v, role, email, password=PASSWORD, second_factor=True)
                for role, email in (
                    (Role.ADMINISTRATOR, "admin.one@staff.example"),
                    (Role.ADMINISTRATOR, "admin.two@staff.example"),
                    (Role.OFFICER, "officer@staff.example"),
                )
            )
        )
        s.commit()

    def client(who):
        c = sign_in(app.test_client(), who)
        c.set_cookie("lang", "en")
        return c

    first, second = client(admins.first), client(admins.second)
    proposed = post_form(first, ROTATE, {"rotate-reason": "Yearly rotation."}, page="/admin/proposals")
    assert proposed.status_code == 302
    assert not (instance / "keys" / "kek-v2.key").exists()
    p = only_proposal(app)
    assert decide(second, p.id, approve="1", confirm="y").status_code == 302
    assert (instance / "keys" / "kek-v2.key").exists()
    with app.app_context():
        versions = dict(
            session().execute(select(DataKey.kek_version, func.count()).group_by(DataKey.kek_version)).all()
        )
    assert set(versions) == {1}
    worker.rewrap_keys(app)
    with app.app_context():
        s = session()
        assert set(s.scalars(select(DataKey.kek_version).where(DataKey.wrapped.is_not(None)))) == {2}
        officer = s.get(User, admins.officer.id)
        assert user_email(s, vault(), officer) == "officer@staff.example"
