"""Staff in the operator console: invitations by e-mail with the second
factor enrolled at the first sign-in, roles, deactivation, conflicts of
interest; every act in the operators' journal, without personal data."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from portal.accounts.models import AuthSession, Role, User
from portal.accounts.services import find_user
from portal.admin import staff
from portal.admin.errors import Refused
from portal.admin.models import Proposal, ProposalAction, ProposalState, StaffInvitation
from portal.audit.models import OperatorAct
from portal.disputes.models import OfficerConflict
from portal.extensions import session, vault
from tests import factories as make
from tests.accounts.helpers import NOT_ON_FILE, PASSWORD, login, outbox, post_form, where
from tests.factories import PERSON_A

LINK = re.compile(r"https?://[^/\s]+/staff-invitations/([A-Za-z0-9_\-]+)")
NEW = "new.officer@staff.example"


def link_to(app, email):
    found = [LINK.search(m.body) for m in outbox(app, email)]
    found = [m.group(1) for m in found if m]
    assert found, f"no invitation e-mail to {email}"
    return found[-1]


def acts(app, action=None):
    with app.app_context():
        q = select(OperatorAct).order_by(OperatorAct.at)
        return [a for a in session().scalars(q) if action is None or a.action == action]


def user(app, email):
    with app.app_context():
        return find_user(session(), vault(), email)


def invite(client, email=NEW, role="officer", reason=""):
    return post_form(client, "/admin/staff", {"email": email, "role": role, "reason": reason})


def test_an_invited_officer_accepts_and_must_enrol_a_second_factor(app, world, admins, as_admin):
    admin = as_admin()
    response = invite(admin)
    assert response.status_code == 302
    invited = user(app, NEW)
    assert invited.role is Role.OFFICER
    assert not invited.is_active
    assert invited.password_hash is None
    assert where(response) == f"/admin/staff/{invited.id}"
    page = admin.get(where(response)).get_data(as_text=True)
    assert NEW in page
    assert "invited, until" in page

    token = link_to(app, NEW)
    newcomer = app.test_client()
    newcomer.set_cookie("lang", "en")
    assert login(newcomer, NEW, "whatever it is").status_code == 200  # no password yet: cannot sign in
    form = newcomer.get(f"/staff-invitations/{token}").get_data(as_text=True)
    assert f"You will sign in as {NEW}" in form
    done = post_form(
        newcomer,
        f"/staff-invitations/{token}",
        {"display_name": "New Officer", "password": PASSWORD, "confirm": PASSWORD},
    )
    assert where(done) == "/login"
    assert user(app, NEW).is_active
    assert newcomer.get(f"/staff-invitations/{token}").status_code == 404  # used once

    signed_in = login(newcomer, NEW)
    assert signed_in.status_code == 302
    # Nothing but enrolment until a second factor is set up.
    assert where(newcomer.get("/cases")) == "/account/two-step"
    assert [a.action for a in acts(app)] == ["staff_invited", "invitation_accepted"]
    for act in acts(app):
        assert NEW not in repr(act.detail)
        assert "New Officer" not in repr(act.detail)


def test_a_weak_password_is_refused_and_the_link_still_works(app, world, admins, as_admin):
    invite(as_admin())
    token = link_to(app, NEW)
    c = app.test_client()
    c.set_cookie("lang", "en")
    refused = post_form(
        c, f"/staff-invitations/{token}", {"display_name": "N", "password": "short", "confirm": "short"}
    )
    assert refused.status_code == 400
    assert "at least" in refused.get_data(as_text=True)
    assert not user(app, NEW).is_active
    assert c.get(f"/staff-invitations/{token}").status_code == 200


def test_invitation_form_errors_keep_what_was_typed(app, world, admins, as_admin):
    admin = as_admin()
    bad = invite(admin, email="not an address")
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert "Enter a valid e-mail address." in html
    assert 'value="not an address"' in html
    taken = invite(admin, email="officer@staff.example")
    assert taken.status_code == 400
    assert "already exists" in taken.get_data(as_text=True)
    no_reason = invite(admin, email="boss@staff.example", role="administrator")
    assert no_reason.status_code == 400
    assert "Give the reason" in no_reason.get_data(as_text=True)
    assert user(app, "boss@staff.example") is None
    assert acts(app) == []


def test_an_administrators_invitation_waits_for_a_second_administrator(app, world, admins, as_admin):
    first = as_admin()
    invite(first, email="boss@staff.example", role="administrator", reason="Second shift needs an operator.")
    assert outbox(app, "boss@staff.example") == []  # held
    with app.app_context():
        p = session().scalar(select(Proposal))
        assert p.action is ProposalAction.GRANT_ADMINISTRATOR
        assert p.state is ProposalState.PENDING
    own = post_form(
        first, f"/admin/proposals/{p.id}", {"approve": "1", "confirm": "y"}, page=f"/admin/proposals/{p.id}"
    )
    assert own.status_code == 409
    assert "different administrator" in own.get_data(as_text=True)

    second = as_admin(admins.second)
    approved = post_form(
        second, f"/admin/proposals/{p.id}", {"approve": "1", "confirm": "y"}, page=f"/admin/proposals/{p.id}"
    )
    assert approved.status_code == 302
    token = link_to(app, "boss@staff.example")
    c = app.test_client()
    post_form(c, f"/staff-invitations/{token}", {"display_name": "Boss", "password": PASSWORD, "confirm": PASSWORD})
    boss = user(app, "boss@staff.example")
    assert boss.role is Role.ADMINISTRATOR
    assert boss.is_active
    assert [a.action for a in acts(app)] == [
        "staff_invited",
        "proposal_made",
        "proposal_approved",
        "invitation_accepted",
    ]


def test_a_rejected_administrator_invitation_is_never_sent(app, world, admins, as_admin):
    invite(as_admin(), email="boss@staff.example", role="administrator", reason="Why not.")
    with app.app_context():
        p = session().scalar(select(Proposal))
    rejected = post_form(as_admin(admins.second), f"/admin/proposals/{p.id}", {"reject": "1", "note": "No."})
    assert rejected.status_code == 302
    assert outbox(app, "boss@staff.example") == []
    with app.app_context():
        inv = session().scalar(select(StaffInvitation))
        assert inv.revoked_at is not None
        assert inv.token_hash is None
        assert session().get(Proposal, p.id).state is ProposalState.REJECTED


def test_roles_change_between_officer_and_supervisor_and_sessions_end(app, world, admins, as_admin, sign_in):
    officer_client = sign_in(app.test_client(), admins.officer)
    admin = as_admin()
    changed = post_form(
        admin,
        f"/admin/staff/{admins.officer.id}/role",
        {"role-role": "supervisor"},
        page=f"/admin/staff/{admins.officer.id}",
    )
    assert changed.status_code == 302
    assert user(app, "officer@staff.example").role is Role.SUPERVISOR
    with app.app_context():
        live = (
            session()
            .scalars(
                select(AuthSession).where(AuthSession.user_id == admins.officer.id, AuthSession.revoked_at.is_(None))
            )
            .all()
        )
    assert live == []
    assert where(officer_client.get("/account")) == "/login"
    (act,) = acts(app, "role_changed")
    assert act.detail == {"before": "officer", "after": "supervisor"}
    assert act.actor_user_id == admins.first.id


def test_the_administrator_role_is_never_granted_by_the_role_form(app, world, admins, as_admin):
    page = f"/admin/staff/{admins.officer.id}"
    refused = post_form(as_admin(), page + "/role", {"role-role": "administrator"}, page=page)
    assert refused.status_code == 400
    assert user(app, "officer@staff.example").role is Role.OFFICER


def test_administrators_do_not_change_their_own_account(app, world, admins, as_admin):
    admin = as_admin()
    own = post_form(
        admin,
        f"/admin/staff/{admins.first.id}/deactivate",
        {"deactivate-confirm": "y"},
        page=f"/admin/staff/{admins.first.id}",
    )
    assert own.status_code == 409
    assert "another administrator" in own.get_data(as_text=True)
    assert user(app, "admin.one@staff.example").is_active


def test_the_last_administrator_stays(app, world, admins):
    with app.app_context():
        s = session()
        second = s.get(User, admins.second.id)
        staff.deactivate(s, s.get(User, admins.first.id), second)
        first = s.get(User, admins.first.id)
        for act in (lambda: staff.deactivate(s, None, first), lambda: staff.change_role(s, None, first, Role.OFFICER)):
            with force_locale("en"), pytest.raises(Refused, match="last active administrator"):
                act()
        s.rollback()


def test_deactivation_needs_confirming_then_signs_out_everywhere(app, world, admins, as_admin, sign_in):
    officer_client = sign_in(app.test_client(), admins.officer)
    admin = as_admin()
    unconfirmed = post_form(
        admin, f"/admin/staff/{admins.officer.id}/deactivate", {}, page=f"/admin/staff/{admins.officer.id}"
    )
    assert unconfirmed.status_code == 400
    assert "This field is required." in unconfirmed.get_data(as_text=True)
    assert user(app, "officer@staff.example").is_active
    done = post_form(
        admin,
        f"/admin/staff/{admins.officer.id}/deactivate",
        {"deactivate-confirm": "y"},
        page=f"/admin/staff/{admins.officer.id}",
    )
    assert done.status_code == 302
    assert not user(app, "officer@staff.example").is_active
    assert where(officer_client.get("/account")) == "/login"
    c = app.test_client()
    assert login(c, "officer@staff.example").status_code == 200  # refused
    again = post_form(
        admin, f"/admin/staff/{admins.officer.id}/reactivate", {}, page=f"/admin/staff/{admins.officer.id}"
    )
    assert again.status_code == 302
    assert user(app, "officer@staff.example").is_active
    assert [a.action for a in acts(app)] == ["staff_deactivated", "staff_reactivated"]


def test_a_withdrawn_invitation_link_is_dead(app, world, admins, as_admin):
    admin = as_admin()
    invite(admin)
    token = link_to(app, NEW)
    invited = user(app, NEW)
    assert (
        post_form(
            admin, f"/admin/staff/{invited.id}/invitation/withdraw", {}, page=f"/admin/staff/{invited.id}"
        ).status_code
        == 302
    )
    assert app.test_client().get(f"/staff-invitations/{token}").status_code == 404
    assert app.test_client().get("/staff-invitations/made-up-token").status_code == 404


def test_conflicts_are_recorded_by_identifier(app, world, admins, as_admin):
    admin = as_admin()
    page = f"/admin/staff/{admins.officer.id}"
    bad = post_form(admin, page + "/conflicts", {"conflict-identifier": "123"}, page=page)
    assert bad.status_code == 400
    unknown = post_form(admin, page + "/conflicts", {"conflict-identifier": NOT_ON_FILE}, page=page)
    assert unknown.status_code == 400
    ok = post_form(admin, page + "/conflicts", {"conflict-identifier": PERSON_A}, page=page)
    assert ok.status_code == 302
    with app.app_context():
        (c,) = session().scalars(select(OfficerConflict)).all()
        assert c.officer_user_id == admins.officer.id
        assert c.subject_id == world.person_a.id
    (act,) = acts(app, "conflict_recorded")
    assert PERSON_A not in repr(act.detail)


def test_the_staff_list_pages(app, world, admins, as_admin):
    admin = as_admin()
    html = admin.get("/admin/staff").get_data(as_text=True)
    for email in ("admin.one@staff.example", "admin.two@staff.example", "officer@staff.example"):
        assert email in html
    assert admin.get("/admin/staff?page=2").status_code == 404
    assert admin.get("/admin/staff?page=x").status_code == 404
    assert admin.get("/admin/staff/00000000-0000-0000-0000-000000000000").status_code == 404


def test_supervisors_read_the_operators_journal(app, world, admins, as_admin, sign_in):
    page = f"/admin/staff/{admins.officer.id}"
    post_form(as_admin(), page + "/deactivate", {"deactivate-confirm": "y"}, page=page)
    with app.app_context():
        supervisor = make.user(session(), vault(), Role.SUPERVISOR, "sup@staff.example", second_factor=True)
        session().commit()
    reader = sign_in(app.test_client(), supervisor)
    reader.set_cookie("lang", "en")
    html = reader.get("/compliance/operators").get_data(as_text=True)
    assert "Account deactivated" in html
    assert "admin.one" in html
    officer = sign_in(app.test_client(), admins.second)
    assert officer.get("/compliance/operators").status_code == 404  # administrators are not supervisors
    assert as_admin().get("/admin/journal").status_code == 200
