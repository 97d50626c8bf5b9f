"""A dispute over two furnishers' records, in headless Chromium against the
real server, the furnishers on real HTTP: the person files one case with a
file about each record; the officer sends each furnisher only its file from
the case page; each furnisher lists and fetches its own file and is refused
the other's; the person sees where each file went."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from portal.accounts.models import Role
from portal.accounts.services import create_user
from portal.disputes.disarm import rebuild
from portal.extensions import session, vault
from portal.institutions.models import ApiScope
from portal.institutions.services import issue_api_key
from portal.records.models import Category, RecordStatus, SubjectKind
from portal.records.services import RecordInput, create_subject, furnish
from tests.files import PNG

from .test_dispute_journey import OFFICER_SECRET, _pdf, api, bank_and_lender, officer_signs_in
from .test_journeys import PASSWORD, PERSON_ID, PERSON_NAME, both_languages, sign_in

# A PNG's signature and header: enough for the portal, which judges by content.


@pytest.fixture
def two_furnishers(live_app):
    """A person with a loan from the bank and a card from the lender, both
    furnishers with keys, and an officer with TOTP."""
    with live_app.app_context():
        s, v = session(), vault()
        v.register_versions(s)
        bank, lender = bank_and_lender(s, v)
        person = create_subject(s, v, SubjectKind.PERSON, PERSON_ID, PERSON_NAME)
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
                {"currency": "CNY", "principal": "120000.00", "balance": "35000.00"},
            ),
        )
        furnish(
            s,
            v,
            lender,
            person,
            RecordInput(
                Category.CREDIT_CARD,
                "CARD-9",
                RecordStatus.ACTIVE,
                False,
                None,
                {"currency": "CNY", "balance": "800.00"},
            ),
        )
        create_user(
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
        tokens = {
            "bank": issue_api_key(s, bank, [ApiScope.FURNISH]),
            "lender": issue_api_key(s, lender, [ApiScope.FURNISH]),
        }
        s.commit()
        return {"subject": str(person.id), **tokens}


def fetch(base: str, token: str, href: str) -> tuple[int, bytes]:
    request = urllib.request.Request(base + href, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_each_furnisher_receives_only_the_file_sent_to_it(page, browser, live_server, two_furnishers, tmp_path):
    base, cast = live_server, two_furnishers
    loan_letter, card_scan = tmp_path / "loan-letter.pdf", tmp_path / "card-scan.png"
    loan_letter.write_bytes(_pdf())
    card_scan.write_bytes(PNG)

    # -- the person disputes both records in one case, with a file about each -------------------
    sign_in(page, "zhangsan@example.com")
    page.goto(f"/subjects/{cast['subject']}/disputes/new")
    page.get_by_role("link", name="English").click()
    page.get_by_label(re.compile("Loans")).check()
    page.get_by_label(re.compile("Credit cards")).check()
    assert "the officer sends each only the files about its records" in page.content()
    page.get_by_label("What is wrong?").select_option("wrong_amount")
    page.get_by_label(re.compile("^Statement|What should it be|statement", re.I)).first.fill(
        "The loan was repaid (letter attached); the card balance is 0 (statement attached)."
    )
    page.get_by_label(re.compile("Evidence")).set_input_files([str(loan_letter), str(card_scan)])
    page.get_by_role("button", name="File the dispute").click()
    assert re.search(r"/disputes/[0-9a-f-]{36}$", page.url), page.url
    dispute_url = page.url
    assert "Sent for checking to" not in page.content()

    # -- the officer sends the letter to the bank and the scan to the lender ---------------------
    status, listing = api(base, cast["bank"], "/api/v1/disputes?status=open")
    (case,) = listing["disputes"]
    officer = browser.new_context(base_url=base, locale="en-US").new_page()
    officer_signs_in(officer)
    officer.goto(f"/officer/cases/{case['id']}")
    officer.get_by_role("button", name="Take this case").click()
    expect(officer.get_by_text(re.compile("each receives only the files you send it"))).to_be_visible()
    files = officer.locator("ul.evidence > li")
    assert files.count() == 2
    expect(files.nth(0).get_by_text("no furnisher yet")).to_be_visible()
    pdf_row = files.filter(has_text="PDF,")
    pdf_row.get_by_label("Hengtong Bank").check()
    pdf_row.get_by_role("button", name="Send the file").click()
    expect(officer.get_by_text("The file goes to: Hengtong Bank.")).to_be_visible()
    png_row = officer.locator("ul.evidence > li").filter(has_text="PNG,")
    png_row.get_by_label("Xiaoyu Lending").check()
    png_row.get_by_role("button", name="Send the file").click()
    both_languages(officer, "case page with files sent")
    for step in ("Acknowledge", "Start the review"):
        officer.get_by_role("button", name=step).click()
    # Sending the case would send every other file too: the officer holds back each one about the other's record.
    send = officer.locator("form.send")
    for label, why in (
        ("Hold back loan-letter.pdf from Xiaoyu Lending", "About the bank's loan."),
        ("Hold back card-scan.png from Hengtong Bank", "About the lender's card."),
    ):
        hold = send.locator("div.hold").filter(has_text=label)
        hold.get_by_label(label).check()
        hold.locator("textarea").fill(why)
    send.get_by_role("button", name="Wait for the furnisher").click()
    expect(officer.get_by_text("2 files were held back from a furnisher.")).to_be_visible()

    # -- each furnisher lists and fetches only its own file ----------------------------------------
    hrefs = {}
    for who, media in (("bank", "application/pdf"), ("lender", "image/png")):
        status, listing = api(base, cast[who], "/api/v1/disputes?status=open")
        (case,) = listing["disputes"]
        assert status == 200
        assert [f["media_type"] for f in case["evidence"]] == [media]
        hrefs[who] = case["evidence"][0]["href"]
    assert fetch(base, cast["bank"], hrefs["bank"]) == (
        200,
        rebuild(loan_letter.read_bytes(), "application/pdf", "x").data,
    )
    assert fetch(base, cast["lender"], hrefs["lender"]) == (200, PNG)
    assert fetch(base, cast["bank"], hrefs["lender"])[0] == 404
    assert fetch(base, cast["lender"], hrefs["bank"])[0] == 404

    # -- the person sees where each file went, and each fetch in the access log ------------------
    page.goto(dispute_url)
    expect(page.get_by_text("Sent for checking to: Hengtong Bank")).to_be_visible()
    expect(page.get_by_text("Sent for checking to: Xiaoyu Lending")).to_be_visible()
    expect(page.get_by_text("About the lender's card.")).to_be_visible()  # why the bank did not get the scan
    page.goto(f"/subjects/{cast['subject']}/access")
    log = page.content()
    assert "Hengtong Bank" in log
    assert "Xiaoyu Lending" in log
