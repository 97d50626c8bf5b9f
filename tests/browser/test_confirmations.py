"""Final acts are checked on a page first (GOV.UK's check-answers pattern):
revoking an authority, revoking an agent. A failed sign-in's error summary
names what is wrong without a stray ": ", links to a field, and takes the
focus when it appears, in both languages."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from playwright.sync_api import expect

from portal.access import consents
from portal.accounts.models import FirmDelegation, Role
from portal.accounts.services import create_user
from portal.audit.purposes import Purpose
from portal.extensions import session, vault
from portal.institutions.models import Institution
from portal.localtime import today as portal_today
from portal.records.models import SubjectKind
from portal.records.services import find_subject

from .people import PASSWORD
from .test_journeys import accessible, sign_in

REP_SECRET = pyotp.random_base32()


@pytest.fixture
def granted(live_app, on_file):
    """The person on file has an account and has authorised the bank; the
    firm's representative (with a second factor) has an agent."""
    with live_app.app_context():
        s, v = session(), vault()
        person = find_subject(s, v, SubjectKind.PERSON, "11010519491231002X")
        firm = find_subject(s, v, SubjectKind.FIRM, "91350100M000100Y43")
        bank = s.query(Institution).one()
        bank.allowed_purposes = [Purpose.LOAN_APPROVAL.value]
        user = create_user(
            s,
            v,
            role=Role.PERSON,
            email="zhang@example.com",
            display_name="张三",
            password=PASSWORD,
            subject_id=person.id,
        )
        consents.grant(s, v, person, bank, Purpose.LOAN_APPROVAL, portal_today() + timedelta(days=30), user)
        rep = create_user(
            s,
            v,
            role=Role.FIRM_REPRESENTATIVE,
            email="rep2@firm.example",
            display_name="代表",
            password=PASSWORD,
            subject_id=firm.id,
            totp_secret=REP_SECRET,
        )
        agent = create_user(
            s,
            v,
            role=Role.FIRM_AGENT,
            email="agent@firm.example",
            display_name="Agent Li",
            password=PASSWORD,
            totp_secret=pyotp.random_base32(),
        )
        s.add(
            FirmDelegation(
                firm_id=firm.id,
                agent_id=agent.id,
                granted_by_id=rep.id,
                scopes=["view_report"],
                valid_until=portal_today() + timedelta(days=60),
            )
        )
        s.commit()
        return {"person": person.id, "firm": firm.id}


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_a_failed_sign_in_summary_links_to_a_field_and_takes_the_focus(page, live_server, language):
    page.context.add_cookies([{"name": "lang", "value": language, "url": live_server}])
    sign_in(page, "nobody@example.com", "not the password at all")
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    first = summary.locator("li").first
    assert not first.inner_text().lstrip().startswith(":"), first.inner_text()
    link = first.locator("a")
    assert link.get_attribute("href") == "#email"
    accessible(page, f"failed sign-in, {language}")
    link.click()
    expect(page.locator("#email")).to_be_focused()


def test_revoking_an_authority_is_checked_first(page, live_server, granted):
    page.context.add_cookies([{"name": "lang", "value": "en", "url": live_server}])
    sign_in(page, "zhang@example.com")
    page.goto(f"/subjects/{granted['person']}/consents")
    page.get_by_role("link", name=re.compile("^Revoke")).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Revoke this authority?")
    expect(page.locator(".summary-list")).to_contain_text("Hengtong Bank")
    expect(page.locator(".summary-list")).to_contain_text("Loan approval")
    accessible(page, "check before revoking an authority")
    page.get_by_role("link", name=re.compile("Cancel")).click()  # changing one's mind changes nothing
    expect(page.get_by_text("In force")).to_be_visible()

    page.get_by_role("link", name=re.compile("^Revoke")).click()
    page.get_by_role("button", name="Revoke the authority").click()
    assert page.url.endswith(f"/subjects/{granted['person']}/consents")
    expect(page.get_by_text("Authority revoked.")).to_be_visible()
    expect(page.locator("td", has_text="Revoked")).to_be_visible()
    assert page.get_by_role("link", name=re.compile("^Revoke")).count() == 0


def test_revoking_an_agent_is_checked_first(page, live_server, granted):
    page.context.add_cookies([{"name": "lang", "value": "en", "url": live_server}])
    sign_in(page, "rep2@firm.example")
    page.get_by_label(re.compile("authenticator", re.I)).fill(pyotp.TOTP(REP_SECRET).now())
    page.get_by_role("button", name=re.compile("Continue|Sign in|Verify", re.I)).click()
    page.goto(f"/firms/{granted['firm']}/agents")
    page.get_by_role("link", name=re.compile("^Revoke")).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Revoke this agent's access?")
    expect(page.locator(".summary-list")).to_contain_text("agent@firm.example")
    expect(page.locator(".summary-list")).to_contain_text("view the report")
    accessible(page, "check before revoking an agent")
    page.get_by_role("button", name="Revoke the access").click()
    assert page.url.endswith(f"/firms/{granted['firm']}/agents")
    expect(page.get_by_text("The agent's access was revoked.")).to_be_visible()
    expect(page.get_by_text(re.compile("^Revoked "))).to_be_visible()
