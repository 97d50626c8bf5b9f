"""Firms act through people: the representative invites agents with a scope
and an end date and revokes them; every grant and revocation is an access
event of the firm; an agent sees only the firms it acts for."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pyotp
import pytest
from sqlalchemy import select, update
from werkzeug.exceptions import NotFound

from portal.accounts.authz import OutsideAuthority, accessible, load_subject
from portal.accounts.models import DelegationScope, FirmDelegation, Invitation, Role, User
from portal.accounts.services import find_user
from portal.audit.models import AccessEvent, EventKind
from portal.db import utcnow
from portal.extensions import session, vault
from portal.localtime import today as portal_today

from .helpers import count, db, english_client, invitation_token, login, post_form, token, user_for, where
from .test_two_factor import open_setup, submit_setup

AGENT_EMAIL, AGENT_PASSWORD = "new.agent@test.example", "an agent passphrase 99"
INVALID = "Invitation not valid"


# -- helpers -------------------------------------------------------------------
def invite(client, firm_id, email=AGENT_EMAIL, scopes=("view_report",), until=None):
    until = until or portal_today() + timedelta(days=90)
    return post_form(
        client, f"/firms/{firm_id}/agents", {"email": email, "scopes": list(scopes), "valid_until": until.isoformat()}
    )


def accept(client, tok, name="New Agent", password=AGENT_PASSWORD):
    return post_form(client, f"/invitations/{tok}", {"display_name": name, "password": password, "confirm": password})


def firms_of(app, email_or_id):
    """The firms a user may act for, by id, with their scopes."""
    with app.app_context():
        s = session()
        user = s.get(User, email_or_id) if not isinstance(email_or_id, str) else find_user(s, vault(), email_or_id)
        return {a.subject.id: {x.value for x in a.scopes} for a in accessible(s, user)}


def events(app, subject_id, kind):
    with app.app_context():
        return [
            SimpleNamespace(actor=e.actor_user_id, outcome=e.outcome)
            for e in session().scalars(
                select(AccessEvent).where(AccessEvent.subject_id == subject_id, AccessEvent.kind == kind)
            )
        ]


def delegation_of(app, agent_id, firm_id):
    with app.app_context():
        return session().scalar(
            select(FirmDelegation.id).where(FirmDelegation.agent_id == agent_id, FirmDelegation.firm_id == firm_id)
        )


@pytest.fixture
def rep(app, world, sign_in):
    return sign_in(english_client(app), world.rep_f)


@pytest.fixture
def stranger(app):
    return english_client(app)


# -- invite, accept, act --------------------------------------------------------------
def test_invited_agent_acts_for_that_firm_only(app, world, rep, stranger):
    F, G = world.firm_f.id, world.firm_g.id
    assert rep.get(f"/firms/{F}/agents").status_code == 200
    response = invite(rep, F, scopes=("view_report",))
    assert response.status_code == 302
    assert where(response) == f"/firms/{F}/agents"
    page = rep.get(f"/firms/{F}/agents").get_data(as_text=True)
    assert "Invitation sent." in page
    assert AGENT_EMAIL in page

    tok = invitation_token(app, AGENT_EMAIL)
    page = stranger.get(f"/invitations/{tok}")
    assert page.status_code == 200
    assert f"You will sign in as {AGENT_EMAIL}" in page.get_data(as_text=True)
    response = accept(stranger, tok)
    assert response.status_code == 302
    assert where(response) == "/login"

    agent = user_for(app, AGENT_EMAIL)
    agent_id, role = agent.id, agent.role
    assert role is Role.FIRM_AGENT
    assert firms_of(app, agent_id) == {F: {DelegationScope.VIEW_REPORT.value}}
    with app.app_context():
        agent = session().get(User, agent_id)
        assert load_subject(session(), agent, F).subject.id == F
        with pytest.raises(NotFound):
            load_subject(session(), agent, G)
        with pytest.raises(OutsideAuthority):  # outside the scope granted: told so, not "not found"
            load_subject(session(), agent, F, DelegationScope.FILE_DISPUTES)

    # The agent signs in with the password chosen, sets up a second factor
    # first (it acts for a firm, as its representative does), and has no
    # business on the agents page.
    response = login(stranger, AGENT_EMAIL, AGENT_PASSWORD)
    assert response.status_code == 302
    assert where(response) == "/me"
    assert where(stranger.get("/me")) == "/account/two-step"
    setup = open_setup(stranger)
    assert submit_setup(stranger, setup, pyotp.TOTP(setup.secret).now()).status_code == 200
    assert stranger.get("/me").status_code == 200
    assert stranger.get(f"/firms/{F}/agents").status_code == 403

    page = rep.get(f"/firms/{F}/agents").get_data(as_text=True)
    assert "New Agent" in page
    assert "Active" in page
    assert "An agent accepted your invitation" in rep.get("/messages").get_data(as_text=True)

    sent = events(app, F, EventKind.INVITATION_SENT)
    assert [e.actor for e in sent] == [world.rep_f.id]
    granted = events(app, F, EventKind.DELEGATION_GRANTED)
    assert [e.actor for e in granted] == [agent_id]
    assert events(app, G, EventKind.INVITATION_SENT) == events(app, G, EventKind.DELEGATION_GRANTED) == []


def test_an_existing_agent_accepting_adds_the_firm(app, world, rep, stranger):
    invite(rep, world.firm_f.id, email="agent.g@test.example", scopes=("view_report", "file_disputes"))
    tok = invitation_token(app, "agent.g@test.example")
    assert accept(stranger, tok, name="Agent G").status_code == 302
    assert set(firms_of(app, world.agent_g.id)) == {world.firm_f.id, world.firm_g.id}
    assert count(app, User, User.role == Role.FIRM_AGENT) == 2  # no second account


def test_other_people_cannot_manage_the_firms_agents(app, world, sign_in):
    F = world.firm_f.id
    delegation_id = delegation_of(app, world.agent_f.id, F)
    for who in (world.rep_g, world.agent_f, world.user_a):
        client = sign_in(app.test_client(), who)
        # The firm's own agent is told that only the representative manages agents (403); others find nothing.
        refused = 403 if who.id == world.agent_f.id else 404
        assert client.get(f"/firms/{F}/agents").status_code == refused, who.role
        csrf = token(client, "/account")
        assert (
            client.post(
                f"/firms/{F}/agents",
                data={
                    "email": "x@test.example",
                    "scopes": ["view_report"],
                    "valid_until": (portal_today() + timedelta(days=9)).isoformat(),
                    "csrf_token": csrf,
                },
            ).status_code
            == refused
        )
        assert (
            client.post(f"/firms/{F}/agents/{delegation_id}/revoke", data={"csrf_token": csrf}).status_code == refused
        )
    rep_g = sign_in(app.test_client(), world.rep_g)
    assert rep_g.get(f"/firms/{world.firm_g.id}/agents").status_code == 200  # their own firm
    assert F in firms_of(app, world.agent_f.id)
    assert count(app, Invitation) == 0


def test_revoking_ends_access_at_once_and_is_recorded(app, world, rep, sign_in):
    F = world.firm_f.id
    delegation_id = delegation_of(app, world.agent_f.id, F)
    g_delegation = delegation_of(app, world.agent_g.id, world.firm_g.id)
    assert F in firms_of(app, world.agent_f.id)

    # Firm F's representative cannot revoke firm G's agent through F's pages.
    post_form(rep, f"/firms/{F}/agents/{g_delegation}/revoke", {}, page=f"/firms/{F}/agents")
    assert world.firm_g.id in firms_of(app, world.agent_g.id)

    response = post_form(rep, f"/firms/{F}/agents/{delegation_id}/revoke", {}, page=f"/firms/{F}/agents")
    assert response.status_code == 302
    assert where(response) == f"/firms/{F}/agents"
    assert firms_of(app, world.agent_f.id) == {}
    page = rep.get(f"/firms/{F}/agents").get_data(as_text=True)
    assert "Revoked" in page

    revoked = events(app, F, EventKind.DELEGATION_REVOKED)
    assert [e.actor for e in revoked] == [world.rep_f.id]
    assert events(app, world.firm_g.id, EventKind.DELEGATION_REVOKED) == []
    # Revoking twice records nothing more.
    post_form(rep, f"/firms/{F}/agents/{delegation_id}/revoke", {}, page=f"/firms/{F}/agents")
    assert len(events(app, F, EventKind.DELEGATION_REVOKED)) == 1


def test_an_ended_delegation_gives_no_access(app, world):
    with db(app) as (s, _):
        s.execute(
            update(FirmDelegation)
            .where(FirmDelegation.agent_id == world.agent_f.id)
            .values(valid_until=portal_today() - timedelta(days=1))
        )
    assert firms_of(app, world.agent_f.id) == {}


# -- links that no longer work ------------------------------------------------------------
def _assert_invalid(client, tok):
    for response in (
        client.get(f"/invitations/{tok}"),
        client.post(
            f"/invitations/{tok}",
            data={
                "display_name": "X",
                "password": AGENT_PASSWORD,
                "confirm": AGENT_PASSWORD,
                "csrf_token": token(client, "/register"),
            },
        ),
    ):
        assert response.status_code == 404
        assert INVALID in response.get_data(as_text=True)


def test_expired_invitation_link_is_not_valid(app, world, rep, stranger):
    invite(rep, world.firm_f.id)
    tok = invitation_token(app, AGENT_EMAIL)
    with db(app) as (s, _):
        s.execute(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
    _assert_invalid(stranger, tok)
    assert user_for(app, AGENT_EMAIL) is None


def test_used_invitation_link_is_not_valid(app, world, rep, stranger):
    invite(rep, world.firm_f.id)
    tok = invitation_token(app, AGENT_EMAIL)
    assert accept(stranger, tok).status_code == 302
    late = english_client(app)
    _assert_invalid(late, tok)
    assert count(app, FirmDelegation, FirmDelegation.firm_id == world.firm_f.id) == 2  # world's agent + one


def test_cancelled_invitation_link_is_not_valid(app, world, rep, stranger):
    F = world.firm_f.id
    invite(rep, F)
    tok = invitation_token(app, AGENT_EMAIL)
    with app.app_context():
        invitation_id = session().scalar(select(Invitation.id))
    response = post_form(rep, f"/firms/{F}/invitations/{invitation_id}/cancel", {}, page=f"/firms/{F}/agents")
    assert response.status_code == 302
    assert AGENT_EMAIL not in rep.get(f"/firms/{F}/agents").get_data(as_text=True)
    _assert_invalid(stranger, tok)


def test_made_up_invitation_link_is_not_valid(app, world, stranger):
    _assert_invalid(stranger, "made-up-token")


def test_invitation_to_a_person_account_is_refused_with_a_message(app, world, rep, stranger):
    invite(rep, world.firm_f.id, email="a@test.example")  # world.user_a, a person
    tok = invitation_token(app, "a@test.example")
    response = accept(stranger, tok, name="Mallory")
    assert response.status_code == 200
    assert "This e-mail address belongs to another kind of account." in response.get_data(as_text=True)
    with app.app_context():
        user = session().get(User, world.user_a.id)
        assert user.role is Role.PERSON
        assert accessible(session(), user)[0].subject.id == world.person_a.id
        assert len(accessible(session(), user)) == 1
    assert count(app, FirmDelegation, FirmDelegation.agent_id == world.user_a.id) == 0
    assert events(app, world.firm_f.id, EventKind.DELEGATION_GRANTED) == []


def test_new_agent_password_must_follow_the_rules(app, world, rep, stranger):
    invite(rep, world.firm_f.id)
    tok = invitation_token(app, AGENT_EMAIL)
    response = accept(stranger, tok, password="new.agent@test.example1")
    assert response.status_code == 200
    assert "Do not use your e-mail address" in response.get_data(as_text=True)
    assert user_for(app, AGENT_EMAIL) is None
    assert accept(stranger, tok).status_code == 302  # the link still works


# -- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scopes", "until", "says"),
    [
        ((), portal_today() + timedelta(days=30), "Choose at least one."),
        (("view_report",), portal_today() - timedelta(days=1), "Choose a date after today."),
        (("view_report",), portal_today(), "Choose a date after today."),
        (("view_report",), portal_today() + timedelta(days=4 * 365), "A delegation lasts at most three years."),
    ],
    ids=["no-scope", "past", "today", "four-years"],
)
def test_invitation_form_refuses_bad_input_with_field_errors(app, world, rep, scopes, until, says):
    F = world.firm_f.id
    response = invite(rep, F, scopes=scopes, until=until)
    assert response.status_code == 200
    errors = " ".join(re.findall(r'<p class="error" id="[a-z_]+-error">(.*?)</p>', response.get_data(as_text=True)))
    assert says in errors
    assert count(app, Invitation) == 0
    assert events(app, F, EventKind.INVITATION_SENT) == []


def test_a_date_just_over_three_years_away_is_refused(app, world, rep):
    today = portal_today()
    try:
        three_years = today.replace(year=today.year + 3)
    except ValueError:  # 29 February
        three_years = today.replace(year=today.year + 3, day=28)
    response = invite(rep, world.firm_f.id, until=three_years + timedelta(days=2))
    assert response.status_code == 200, "a delegation of three years and two days was accepted"
    assert "A delegation lasts at most three years." in response.get_data(as_text=True)
    assert invite(rep, world.firm_f.id, until=three_years).status_code == 302


def test_an_unknown_scope_is_refused(app, world, rep):
    response = invite(rep, world.firm_f.id, scopes=("view_report", "sign_contracts"))
    assert response.status_code == 200
    assert count(app, Invitation) == 0
