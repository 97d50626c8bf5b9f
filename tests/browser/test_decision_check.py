"""Deciding a case in headless Chromium against the real server, the
furnisher on real HTTP (issue 15, problems 1 and 11): the officer sends the
case with its file; the furnisher answers "cannot verify"; the decision
form, below the evidence and the answers, starts the record at
"unverifiable"; keeping the record anyway needs a reason; the check page
shows the decision and the letter as the subject will read it (scanned with
axe in both languages), "Change" brings the choices back, and only "Confirm
and send" decides. The person's letter says the furnisher could not verify
the record and why the officer kept it; their file keeps its name."""

from __future__ import annotations

import re
import urllib.request

import pytest
from playwright.sync_api import expect

from portal.accounts.models import Role
from portal.accounts.services import create_user
from portal.disputes.evidence import Upload
from portal.disputes.services import file_dispute
from portal.extensions import session, vault
from portal.institutions.models import ApiScope
from portal.institutions.services import issue_api_key
from portal.records.models import Category, RecordStatus, SubjectKind
from portal.records.services import RecordInput, create_subject, furnish

from .test_dispute_journey import OFFICER_SECRET, _pdf, api, bank_and_lender, officer_signs_in
from .test_journeys import PASSWORD, PERSON_ID, PERSON_NAME, accessible, sign_in

WHY = "The signed contract and the bank statements of 2023 show this loan as it is recorded."
FILE = "还款记录 2023.pdf"


@pytest.fixture
def filed(live_app):
    """A person's dispute of the bank's loan, with a file; the bank's key; an officer with TOTP."""
    with live_app.app_context():
        s, v = session(), vault()
        v.register_versions(s)
        bank, _lender = bank_and_lender(s, v)
        person = create_subject(s, v, SubjectKind.PERSON, PERSON_ID, PERSON_NAME)
        record = furnish(
            s,
            v,
            bank,
            person,
            RecordInput(
                Category.LOAN,
                "LOAN-7",
                RecordStatus.ACTIVE,
                False,
                None,
                {"currency": "CNY", "principal": "90000.00", "balance": "12000.00"},
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
        dispute = file_dispute(
            s, v, person, user, [record.record_id], "not_mine", "这笔贷款不是我的。", files=[Upload(FILE, _pdf())]
        )
        token = issue_api_key(s, bank, [ApiScope.FURNISH])
        s.commit()
        return {"subject": str(person.id), "dispute": str(dispute.id), "record": str(record.record_id), "bank": token}


def test_the_officer_checks_the_decision_before_it_is_final(page, browser, live_server, filed):
    base = live_server
    officer = browser.new_context(base_url=base, locale="en-US").new_page()
    officer_signs_in(officer)
    case_url = f"/officer/cases/{filed['dispute']}"
    officer.goto(case_url)
    officer.get_by_role("button", name="Take this case").click()
    for step in ("Acknowledge", "Start the review"):
        officer.get_by_role("button", name=step).click()
    # Sending the case sends its file, under the name it was uploaded with.
    send = officer.locator("form.send")
    expect(send.get_by_text(f"Hold back {FILE}")).to_be_visible()
    send.get_by_role("button", name="Wait for the furnisher").click()
    expect(officer.get_by_text("1 file went with it.")).to_be_visible()

    status, listing = api(base, filed["bank"], "/api/v1/disputes?status=open")
    assert status == 200
    ((case,),) = [listing["disputes"]]
    (file,) = case["evidence"]
    request = urllib.request.Request(base + file["href"], headers={"Authorization": f"Bearer {filed['bank']}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert (
            "filename*=UTF-8''" in response.headers["Content-Disposition"]
            or "2023.pdf" in (response.headers["Content-Disposition"])
        )
    status, answered = api(
        base,
        filed["bank"],
        f"/api/v1/disputes/{filed['dispute']}/responses",
        {"record_id": filed["record"], "answer": "cannot_verify", "reviewed": "Our archive of 2019 contracts"},
    )
    assert status == 201, answered

    # -- the form comes after what the officer must read first, and starts from the answer ---------
    officer.goto(case_url)
    expect(officer.get_by_role("link", name="Decide the case")).to_be_visible()
    decide = officer.locator("form.decide")
    choice = decide.get_by_label(re.compile("^Decision for"))
    expect(choice).to_have_value("unverifiable")
    expect(decide.get_by_text("Cannot verify")).to_be_visible()
    choice.select_option("verified_accurate")
    decide.get_by_label(re.compile("^Reason for the decision")).fill("The loan is the subject's.")
    decide.get_by_role("button", name="Check the decision").click()
    expect(officer.get_by_text(re.compile("departs from the furnisher's answer: say why")).first).to_be_visible()
    assert "Check your decision" not in officer.content()

    officer.locator("form.decide").get_by_label(re.compile("^If your decision departs")).fill(WHY)
    officer.locator("form.decide").get_by_role("button", name="Check the decision").click()
    expect(officer.get_by_role("heading", name=re.compile("Check your decision"))).to_be_visible()
    expect(officer.get_by_text("Kept as it is (not confirmed by the furnisher)").first).to_be_visible()
    expect(officer.get_by_text(re.compile("the furnisher reviewed it and could not verify it")).first).to_be_visible()
    expect(officer.get_by_text(re.compile("nevertheless kept the record as it is")).first).to_be_visible()
    assert "confirmed it as accurate" not in officer.content()
    accessible(officer, "check your decision")

    # "Change": the form again, as it was filled.
    officer.get_by_role("button", name="Change").click()
    choice = officer.locator("form.decide").get_by_label(re.compile("^Decision for"))
    expect(choice).to_have_value("verified_accurate")
    expect(officer.locator("form.decide").get_by_label(re.compile("^If your decision departs"))).to_have_value(WHY)
    assert officer.locator("section#decide").is_visible()

    # The check page in Chinese too (the language is switched on the case page itself).
    officer.goto(case_url)
    officer.get_by_role("link", name="中文").click()
    decide = officer.locator("form.decide")
    decide.locator("select").select_option("verified_accurate")
    decide.locator("textarea").first.fill(WHY)
    decide.locator("textarea").last.fill("贷款属于本人。")
    decide.get_by_role("button").click()
    expect(officer.locator("form.decision-check")).to_be_visible()
    assert officer.locator("html").get_attribute("lang") == "zh-Hans"
    accessible(officer, "check your decision, Chinese")
    officer.goto(case_url)
    officer.get_by_role("link", name="English").click()

    # Only "Confirm and send" decides.
    decide = officer.locator("form.decide")
    decide.get_by_label(re.compile("^Decision for")).select_option("verified_accurate")
    decide.get_by_label(re.compile("^If your decision departs")).fill(WHY)
    decide.get_by_label(re.compile("^Reason for the decision")).fill("The loan is the subject's.")
    decide.get_by_role("button", name="Check the decision").click()
    officer.get_by_role("button", name="Confirm and send").click()
    expect(officer.get_by_text("The case is decided; the subject has been told.")).to_be_visible()

    # -- the person reads a letter that says what happened -------------------------------------------
    sign_in(page, "zhangsan@example.com")
    page.goto(f"/subjects/{filed['subject']}/disputes/{filed['dispute']}")
    page.get_by_role("link", name="English").click()
    letter = page.locator("section.letter")
    expect(letter.get_by_text("Kept as it is (not confirmed by the furnisher)").first).to_be_visible()
    expect(letter.get_by_text(re.compile("the furnisher reviewed it and could not verify it")).first).to_be_visible()
    expect(letter.get_by_text(re.compile(re.escape(WHY))).first).to_be_visible()
    assert "confirmed it as accurate" not in letter.inner_text()
    expect(page.get_by_role("link", name=FILE)).to_be_visible()
    expect(page.get_by_text("Sent for checking to: Hengtong Bank")).to_be_visible()
