"""Agents are told what their authority covers: asking a firm they act for
for something it does not cover is a 403 page saying what it does cover
and whom to ask (a firm they do not act for stays 404). Agents sign in with
a second factor, as representatives do: one without is sent to set it up.
Revoking an agent goes through a page to check it first."""

from __future__ import annotations

import re

import pyotp
from sqlalchemy import select, update

from portal.accounts.models import FirmDelegation, Role, User
from portal.extensions import session
from portal.records.models import CreditRecord

from .helpers import PASSWORD, db, english_client, login, new_user, post_form, where
from .test_two_factor import open_setup, submit_setup

VIEWING_ONLY = "Your authority for this firm covers viewing only"
ASK = "Ask the firm's legal representative"


def only_viewing(app, agent_id) -> None:
    with db(app) as (s, _):
        s.execute(update(FirmDelegation).where(FirmDelegation.agent_id == agent_id).values(scopes=["view_report"]))


def test_what_a_viewing_only_authority_does_not_cover_is_explained(app, world, sign_in):
    only_viewing(app, world.agent_f.id)
    agent = english_client(app)
    sign_in(agent, world.agent_f)
    firm = f"/subjects/{world.firm_f.id}"
    assert agent.get(f"{firm}/report").status_code == 200  # what it covers
    with app.app_context():
        record_id = session().scalar(select(CreditRecord.id).where(CreditRecord.subject_id == world.firm_f.id))
    for url in (f"{firm}/disputes", f"{firm}/disputes/new", f"{firm}/records/{record_id}/repair"):
        response = agent.get(url)
        assert response.status_code == 403, url
        html = response.get_data(as_text=True)
        assert VIEWING_ONLY in html, url
        assert ASK in html, url
        assert f'href="{firm}"' in html  # back to the firm's file
        assert "Page not found" not in html


def test_what_is_the_representatives_alone_is_explained_too(app, world, sign_in):
    agent = english_client(app)
    sign_in(agent, world.agent_f)  # may view and file disputes
    for url in (f"/subjects/{world.firm_f.id}/consents", f"/firms/{world.firm_f.id}/agents"):
        response = agent.get(url)
        assert response.status_code == 403, url
        html = response.get_data(as_text=True)
        assert "viewing the report and who accessed it; filing and following disputes" in html
        assert "Only the firm's legal representative manages" in html


def test_a_firm_the_agent_does_not_act_for_stays_not_found(app, world, sign_in):
    agent = english_client(app)
    sign_in(agent, world.agent_g)
    for url in (
        f"/subjects/{world.firm_f.id}",
        f"/subjects/{world.firm_f.id}/disputes",
        f"/subjects/{world.firm_f.id}/consents",
        f"/firms/{world.firm_f.id}/agents",
    ):
        response = agent.get(url)
        assert response.status_code == 404, url
        assert "authority" not in response.get_data(as_text=True), url


def test_an_agent_without_a_second_factor_sets_one_up_at_the_next_sign_in(app, world):
    assert Role.FIRM_AGENT.needs_second_factor
    agent_id = new_user(app, "old.agent@test.example", role=Role.FIRM_AGENT)  # from before agents needed one
    with db(app) as (s, _):
        delegation = s.scalar(select(FirmDelegation).where(FirmDelegation.agent_id == world.agent_f.id))
        s.add(
            FirmDelegation(
                firm_id=world.firm_f.id,
                agent_id=agent_id,
                granted_by_id=world.rep_f.id,
                scopes=["view_report"],
                valid_until=delegation.valid_until,
            )
        )
    agent = english_client(app)
    assert login(agent, "old.agent@test.example", PASSWORD).status_code == 302
    for url in ("/me", f"/subjects/{world.firm_f.id}/report", "/account"):
        response = agent.get(url)
        assert response.status_code == 302, url
        assert where(response) == "/account/two-step", url
    setup = open_setup(agent)
    assert "Your role requires two-step sign-in" in setup.html
    assert submit_setup(agent, setup, pyotp.TOTP(setup.secret).now()).status_code == 200
    assert agent.get(f"/subjects/{world.firm_f.id}/report").status_code == 200
    account = agent.get("/account").get_data(as_text=True)
    assert "/account/two-step/off" not in account  # it cannot be turned off
    with app.app_context():
        assert session().get(User, agent_id).has_second_factor


def test_revoking_an_agent_is_checked_on_a_page_first(app, world, sign_in):
    rep = english_client(app)
    sign_in(rep, world.rep_f)
    with app.app_context():
        delegation_id = session().scalar(select(FirmDelegation.id).where(FirmDelegation.agent_id == world.agent_f.id))
    agents = rep.get(f"/firms/{world.firm_f.id}/agents").get_data(as_text=True)
    url = f"/firms/{world.firm_f.id}/agents/{delegation_id}/revoke"
    assert f'href="{url}"' in agents  # a link to the check, not a button that revokes at once
    assert not re.search(rf'<form[^>]*action="{re.escape(url)}"', agents)

    check = rep.get(url)
    assert check.status_code == 200
    html = check.get_data(as_text=True)
    assert re.search(r"<h1>Revoke this agent(&#39;|')s access\?</h1>", html)
    assert "agent.f@test.example" in html
    assert "cannot be undone" in html
    with app.app_context():
        assert session().get(FirmDelegation, delegation_id).revoked_at is None  # looking revokes nothing

    done = post_form(rep, url, {})
    assert where(done) == f"/firms/{world.firm_f.id}/agents"
    with app.app_context():
        assert session().get(FirmDelegation, delegation_id).revoked_at is not None
    # Once revoked, the check page has nothing left to revoke.
    again = rep.get(url)
    assert where(again) == f"/firms/{world.firm_f.id}/agents"
    other = english_client(app)
    sign_in(other, world.rep_g)
    assert other.get(url).status_code == 404  # another firm's representative
