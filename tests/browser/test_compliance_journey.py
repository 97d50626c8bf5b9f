"""The compliance console in headless Chromium against the real server: a
lender queries outside the hours it declared and the monitoring raises an
alert; an officer opens the statistics, downloads their CSV, and triages
the alert to closed; a supervisor suspends the lender, whose next API query
is refused with the supervisor's reason. Every console page is scanned with
axe-core in both languages."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
from playwright.sync_api import expect

from portal.access import consents
from portal.accounts.models import Role
from portal.accounts.services import create_user
from portal.audit.purposes import Purpose
from portal.compliance.monitoring import evaluate_period
from portal.db import utcnow
from portal.disputes.models import DisputeReason
from portal.disputes.services import file_dispute
from portal.extensions import session, vault
from portal.institutions.models import ApiScope, Institution
from portal.institutions.services import issue_api_key
from portal.localtime import today as portal_today
from portal.localtime import zone
from portal.records.models import Category, RecordStatus, SubjectKind
from portal.records.services import RecordInput, create_subject, furnish

from .test_dispute_journey import api, bank_and_lender
from .test_journeys import PASSWORD, PERSON_ID, PERSON_NAME, both_languages, sign_in

OFFICER_SECRET = pyotp.random_base32()
SUPERVISOR_SECRET = pyotp.random_base32()
REASON = "Queries at night against its declared hours; under review."


def _cast(live_app) -> dict:
    with live_app.app_context():
        s, v = session(), vault()
        v.register_versions(s)
        bank, lender = bank_and_lender(s, v)
        # The lender declares two hours that are not now: its query is outside them.
        hour = utcnow().astimezone(zone()).hour
        lender.query_hours_from, lender.query_hours_until = (hour + 2) % 24, (hour + 4) % 24
        person = create_subject(s, v, SubjectKind.PERSON, PERSON_ID, PERSON_NAME, contact_email="zhang@mail.example")
        version = furnish(
            s,
            v,
            bank,
            person,
            RecordInput(
                Category.LOAN,
                "LOAN-1",
                RecordStatus.ACTIVE,
                False,
                None,
                {"currency": "CNY", "principal": "120000.00", "balance": "35000.00", "opened_on": "2020-05-01"},
            ),
        )
        user = create_user(
            s,
            v,
            role=Role.PERSON,
            email="zhangsan@example.com",
            display_name=PERSON_NAME,
            password=PASSWORD,
            subject_id=person.id,
        )
        for role, email, secret in (
            (Role.OFFICER, "officer@portal.example", OFFICER_SECRET),
            (Role.SUPERVISOR, "supervisor@portal.example", SUPERVISOR_SECRET),
        ):
            create_user(s, v, role=role, email=email, display_name=email, password=PASSWORD, totp_secret=secret)
        consents.grant(s, v, person, lender, Purpose.LOAN_APPROVAL, portal_today() + timedelta(days=30), user)
        file_dispute(s, v, person, user, [version.record_id], DisputeReason.WRONG_AMOUNT, "The balance is wrong.")
        token = issue_api_key(s, lender, [ApiScope.QUERY])
        s.commit()
        return {"lender": token, "lender_id": lender.id}


def staff_signs_in(page, email: str, secret: str) -> None:
    sign_in(page, email)
    page.get_by_label(re.compile("验证器|authenticator", re.I)).fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name=re.compile("继续|登录|Continue|Sign in|Verify|验证", re.I)).click()
    assert "/login" not in page.url, page.content()[:500]


def test_an_officer_reads_the_figures_and_closes_an_alert_and_a_supervisor_suspends_a_lender(
    browser, live_app, live_server, tmp_path
):
    base = live_server
    cast = _cast(live_app)
    status, _ = api(base, cast["lender"], f"/api/v1/reports/{PERSON_ID}?purpose=loan_approval")
    assert status == 200
    with live_app.app_context():
        s = session()
        raised = evaluate_period(s, vault(), portal_today(), portal_today())
        s.commit()
        assert [a.rule for a in raised] == ["outside_hours"]

    # -- the officer: statistics, their CSV, and the alert triaged to closed ---------------
    officer = browser.new_context(base_url=base, locale="en-US", accept_downloads=True).new_page()
    officer.set_default_timeout(10_000)
    staff_signs_in(officer, "officer@portal.example", OFFICER_SECRET)
    officer.get_by_role("link", name="Statistics").click()
    expect(officer.get_by_role("heading", level=1)).to_contain_text("Statistics")
    both_languages(officer, "statistics")
    assert PERSON_NAME not in officer.content()
    assert PERSON_ID not in officer.content()
    # A chart is an image from our own origin, with its table beside it.
    chart = officer.locator("img[src*='/compliance/statistics/chart/']").first
    expect(chart).to_be_visible()
    assert officer.locator("table caption").count() > 0
    with officer.expect_download() as download:
        officer.get_by_role("link", name="Download every table as CSV").click()
    saved = tmp_path / "statistics.csv"
    download.value.save_as(saved)
    text = saved.read_bytes().decode("utf-8-sig")
    assert text.splitlines()[0].count(",") >= 3
    assert "wrong_amount" in text or "Wrong amount" in text

    officer.get_by_role("link", name="Alerts").click()
    both_languages(officer, "alert queue")
    row = officer.get_by_role("row").filter(has_text=re.compile("outside", re.I))
    expect(row).to_have_count(1)
    row.get_by_role("link").first.click()
    both_languages(officer, "alert")
    assert PERSON_NAME not in officer.content()
    assert PERSON_ID not in officer.content()
    officer.get_by_role("button", name="Acknowledge").click()
    expect(officer.get_by_text(re.compile("acknowledged", re.I)).first).to_be_visible()
    # Closing needs a reason: refused without one, closed with one.
    officer.locator("summary", has_text="Close the alert").click()
    officer.get_by_role("button", name="Close the alert").click()
    expect(officer.get_by_role("alert").first).to_be_visible()
    officer.get_by_label(re.compile("reason|Why", re.I)).last.fill("Night batch agreed with the lender in writing.")
    officer.get_by_role("button", name="Close the alert").click()
    expect(officer.get_by_text("Night batch agreed with the lender in writing.")).to_be_visible()
    expect(officer.get_by_text(re.compile("closed", re.I)).first).to_be_visible()

    # -- the supervisor suspends the lender's querying -----------------------------------------
    supervisor = browser.new_context(base_url=base, locale="en-US").new_page()
    supervisor.set_default_timeout(10_000)
    staff_signs_in(supervisor, "supervisor@portal.example", SUPERVISOR_SECRET)
    supervisor.get_by_role("link", name="Institutions").click()
    both_languages(supervisor, "institutions")
    supervisor.get_by_role("link", name="Xiaoyu Lending").click()
    both_languages(supervisor, "institution")
    supervisor.get_by_label(re.compile("Why are its queries suspended")).fill(REASON)
    supervisor.get_by_label(re.compile("I understand")).check()
    supervisor.get_by_role("button", name="Suspend its queries").click()
    expect(supervisor.get_by_text(REASON).first).to_be_visible()

    status, problem = api(base, cast["lender"], f"/api/v1/reports/{PERSON_ID}?purpose=loan_approval")
    assert status == 403
    assert problem["type"].endswith("querying-suspended")
    assert problem["detail"] == REASON
    with live_app.app_context():
        assert session().get(Institution, cast["lender_id"]).suspended_at is not None
