"""The whole dispute journey in headless Chromium against the real server,
with the furnisher and a recipient on real HTTP: a person files a dispute
with a PDF; the officer takes the case and asks the furnisher; the
furnisher answers "corrected" through the API; the officer decides
"corrected"; the person sees the new version, the outcome letter (and its
PDF) and who was told; the recipient acknowledges the notice. New pages are
scanned with axe-core in both languages."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect

from portal.access import consents
from portal.accounts.models import Role
from portal.accounts.services import create_user
from portal.audit.purposes import Purpose
from portal.disputes.disarm import rebuild
from portal.extensions import session, vault
from portal.institutions.models import ApiScope, InstitutionKind
from portal.institutions.services import NewInstitution, create_institution, issue_api_key
from portal.localtime import today as portal_today
from portal.records.models import Category, RecordStatus, SubjectKind
from portal.records.services import RecordInput, create_subject, furnish

from .test_journeys import PASSWORD, PERSON_ID, PERSON_NAME, both_languages, sign_in

OFFICER_SECRET = pyotp.random_base32()
# A real (tiny) PDF: fpdf2 writes it.
STATEMENT = "余额应为 0：贷款已于 2024 年 6 月 30 日结清。"


def _pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Payoff letter: balance 0.00 on 2024-06-30")
    return bytes(pdf.output())


def bank_and_lender(s, v):
    """The two institutions of the browser journeys."""
    bank = create_institution(
        s,
        v,
        NewInstitution(
            "hengtong-bank", "恒通银行", "Hengtong Bank", InstitutionKind.BANK, [], "周立", "ops@bank.example"
        ),
    )
    lender = create_institution(
        s,
        v,
        NewInstitution(
            "xiaoyu-lender",
            "小雨贷款",
            "Xiaoyu Lending",
            InstitutionKind.LENDER,
            ["loan_approval"],
            "陈明",
            "ops@lender.example",
        ),
    )
    return bank, lender


@pytest.fixture
def cast(live_app):
    """A person with an account and a loan from the bank; the bank's furnish
    key; a lender that received the report last month; an officer with TOTP."""
    with live_app.app_context():
        s, v = session(), vault()
        v.register_versions(s)
        bank, lender = bank_and_lender(s, v)
        person = create_subject(s, v, SubjectKind.PERSON, PERSON_ID, PERSON_NAME, contact_email="zhang@mail.example")
        furnish(
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
        create_user(
            s,
            v,
            role=Role.OFFICER,
            email="officer@portal.example",
            display_name="合规专员 王",
            password=PASSWORD,
            totp_secret=OFFICER_SECRET,
        )
        consents.grant(s, v, person, lender, Purpose.LOAN_APPROVAL, portal_today() + timedelta(days=30), user)
        tokens = {
            "bank": issue_api_key(s, bank, [ApiScope.FURNISH]),
            "lender": issue_api_key(s, lender, [ApiScope.QUERY]),
        }
        s.commit()
    return tokens


def api(base: str, token: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        base + path,
        method="POST" if body is not None else "GET",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def officer_signs_in(page) -> None:
    sign_in(page, "officer@portal.example")
    page.get_by_label(re.compile("验证器|authenticator", re.I)).fill(pyotp.TOTP(OFFICER_SECRET).now())
    page.get_by_role("button", name=re.compile("继续|登录|Continue|Sign in|Verify|验证", re.I)).click()
    assert "/login" not in page.url, page.content()[:500]


def test_a_disputed_record_is_corrected_and_everyone_who_received_it_is_told(
    page, browser, live_server, cast, tmp_path
):
    base = live_server
    # The lender receives the report (the disputed balance among it).
    status, sent = api(base, cast["lender"], f"/api/v1/reports/{PERSON_ID}?purpose=loan_approval")
    assert status == 200
    assert sent["report"]["records"][0]["details"]["balance"] == "35000.00"

    # -- the person files a dispute with a PDF ---------------------------------------------
    sign_in(page, "zhangsan@example.com")
    page.get_by_role("link", name=re.compile("信用报告|credit report", re.I)).first.click()
    page.get_by_role("link", name=re.compile("对此记录提出异议|Dispute this record")).first.click()
    both_languages(page, "file a dispute")
    page.get_by_role("link", name="English").click()
    page.get_by_label("What is wrong?").select_option("wrong_amount")
    page.get_by_label(re.compile("^Statement|What should it be|statement", re.I)).first.fill(STATEMENT)
    evidence = tmp_path / "payoff-letter.pdf"
    evidence.write_bytes(_pdf())
    page.get_by_label(re.compile("Evidence")).set_input_files(str(evidence))
    page.get_by_role("button", name="File the dispute").click()
    assert re.search(r"/disputes/[0-9a-f-]{36}$", page.url), page.url
    dispute_url = page.url
    expect(page.get_by_role("link", name="payoff-letter.pdf")).to_be_visible()  # under the name it was sent with
    expect(page.get_by_text(STATEMENT).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"\d+ days? left")).first).to_be_visible()
    both_languages(page, "dispute page")

    # The bank knows of it at once; what the subject wrote and sent waits for the officer.
    status, listing = api(base, cast["bank"], "/api/v1/disputes?status=open")
    assert status == 200
    assert len(listing["disputes"]) == 1
    (case,) = listing["disputes"]
    assert case["reason"] == "wrong_amount"
    assert (case["statement"], case["evidence"]) == (None, [])

    # -- the officer takes the case and asks the furnisher ------------------------------------
    officer = browser.new_context(base_url=base, locale="en-US").new_page()
    officer_signs_in(officer)
    officer.get_by_role("link", name="Cases").click()
    both_languages(officer, "case queue")
    officer.locator(f"a[href$='{case['id']}']").first.click()
    assert PERSON_NAME not in officer.content()
    assert PERSON_ID not in officer.content()
    both_languages(officer, "case page")
    officer.get_by_role("button", name="Take this case").click()
    for step in ("Acknowledge", "Start the review", "Wait for the furnisher"):
        officer.get_by_role("button", name=step).click()
        assert officer.get_by_role("alert").count() == 0 or "changed by someone else" not in officer.content()

    # -- the furnisher reads the case and answers through the API: corrected, with the new version
    status, listing = api(base, cast["bank"], "/api/v1/disputes?status=open")
    (case,) = listing["disputes"]
    assert case["forwarded"]
    assert case["statement"] == STATEMENT
    (pdf,) = case["evidence"]
    with urllib.request.urlopen(
        urllib.request.Request(base + pdf["href"], headers={"Authorization": f"Bearer {cast['bank']}"}), timeout=10
    ) as response:
        assert response.read() == rebuild(evidence.read_bytes(), "application/pdf", "x").data  # as stored
    item = case["items"][0]
    status, answered = api(
        base,
        cast["bank"],
        f"/api/v1/disputes/{case['id']}/responses",
        {
            "record_id": item["record_id"],
            "answer": "corrected",
            "reviewed": "Repayment ledger and the payoff letter of 2024-06-30",
            "correction": {
                "category": "loan",
                "reference": "LOAN-1",
                "status": "settled",
                "negative": False,
                "ended_on": "2024-06-30",
                "details": {"currency": "CNY", "principal": "120000.00", "balance": "0.00", "opened_on": "2020-05-01"},
            },
        },
    )
    assert status == 201, answered
    assert answered["corrected_version"] is None, "the correction waits for the officer's decision"

    # -- the officer reviews the proposed correction and decides "corrected" ---------------------
    officer.reload()
    expect(officer.get_by_text("Repayment ledger and the payoff letter").first).to_be_visible()
    proposed = officer.locator("div.version.proposed")
    assert "Correction proposed by" in proposed.inner_text()
    assert "CN¥0.00" in proposed.inner_text()
    # The record's decision starts from the furnisher's answer; the officer checks it before it is final.
    expect(officer.locator("form.decide").get_by_label(re.compile("^Decision for"))).to_have_value("corrected")
    officer.locator("form.decide").get_by_label(re.compile("^Reason for the decision")).fill(
        "The bank confirmed the loan was repaid and corrected the balance."
    )
    officer.locator("form.decide").get_by_role("button", name="Check the decision").click()
    expect(officer.get_by_text(re.compile("the furnisher reviewed it and sent a correction")).first).to_be_visible()
    officer.get_by_role("button", name="Confirm and send").click()
    expect(officer.get_by_text(re.compile("Corrected")).first).to_be_visible()

    # -- the person sees the letter, who was told, and the new version --------------------------
    page.goto(dispute_url)
    letter = page.locator("section.letter")
    expect(letter.get_by_text(re.compile("Corrected")).first).to_be_visible()
    expect(letter.get_by_text("The bank confirmed the loan was repaid").first).to_be_visible()
    expect(letter.get_by_text(re.compile("version 2 replaces version 1")).first).to_be_visible()
    told = page.locator("#recipients ~ table").first
    assert "Xiaoyu Lending" in told.inner_text()
    assert "Not yet" in told.inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the letter (PDF)").click()
    assert Path(download.value.path()).read_bytes()[:5] == b"%PDF-"
    both_languages(page, "dispute decided")
    page.goto(dispute_url.split("/disputes/")[0] + "/report")
    record = page.locator("article.record").first.inner_text()
    assert "CN¥0.00" in record
    assert "Settled" in record
    assert "Version history (2)" in record
    assert "CN¥35,000.00" not in record.split("Version history")[0], "the current version is the corrected one"

    # -- the lender reads the notice and acknowledges; the person sees it --------------------
    status, feed = api(base, cast["lender"], "/api/v1/notices")
    assert status == 200
    assert len(feed["notices"]) == 1
    (notice,) = feed["notices"]
    assert notice["body"]["outcome"] == "corrected"
    assert notice["body"]["record"]["details"]["balance"] == "0.00"
    status, acked = api(base, cast["lender"], f"/api/v1/notices/{notice['id']}/ack", {})
    assert status == 200
    assert acked["acknowledged_at"]
    page.goto(dispute_url)
    assert "Not yet" not in page.locator("#recipients ~ table").first.inner_text()

    # What the lender receives now is the corrected version, no longer under dispute.
    status, again = api(base, cast["lender"], f"/api/v1/reports/{PERSON_ID}?purpose=loan_approval")
    (loan,) = again["report"]["records"]
    assert (loan["version"], loan["details"]["balance"], loan["disputed"]) == (2, "0.00", False)
