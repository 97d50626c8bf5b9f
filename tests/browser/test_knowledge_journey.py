"""A person with no e-mail on file registers by answering questions about
their records (issue 15, problem 4), in Chromium against the real server:
the questions page waits for the worker and shows itself when they are
ready; axe finds nothing serious on the pages, at desktop and phone width,
in both languages."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from portal.extensions import session, vault
from portal.institutions.models import InstitutionKind
from portal.records.models import Category, RecordStatus
from tests import factories as make

from .test_journeys import both_languages

PERSON, NAME = "110105198001010016", "李四"
PASSWORD = "a long and quiet river 42"
BANKS = ["Bank One", "Bank Two", "Bank Three", "Bank Four", "Bank Five", "Lender Six"]
OTHERS = ["City Court", "Tax Bureau", "Water Works", "Power Grid", "Market Regulator"]
TRUTH = {
    "which of these institutions has reported a loan": {"Bank One", "Bank Two"},
    "oldest loan or credit card account": {"2015"},
    "which of these institutions has reported a record": {"Bank One", "Bank Two", "Water Works"},
    "newest record": {"2021"},
    "oldest record": {"2015"},
    "how many records": {"3 records"},
}


def put_on_file(app) -> None:
    """PERSON, with no contact: a loan from Bank One opened in 2015, a card
    from Bank Two opened in 2019, water arrears since 2021."""
    with app.app_context():
        s, v = session(), vault()
        v.register_versions(s)
        kinds = [InstitutionKind.BANK] * 5 + [InstitutionKind.LENDER] + [InstitutionKind.COURT]
        kinds += [InstitutionKind.TAX_BUREAU, InstitutionKind.UTILITY, InstitutionKind.UTILITY]
        kinds += [InstitutionKind.REGULATOR]
        inst = {
            name: make.institution(s, v, name.lower().replace(" ", "-"), kind, name=f"{name}（中）", name_en=name)
            for name, kind in zip(BANKS + OTHERS, kinds, strict=True)
        }
        person = make.person(s, v, PERSON, NAME)
        make.record(s, v, inst["Bank One"], person, "L-1", details={"opened_on": "2015-03-01"})
        make.record(
            s, v, inst["Bank Two"], person, "C-1", category=Category.CREDIT_CARD, details={"opened_on": "2019-06-01"}
        )
        make.record(
            s,
            v,
            inst["Water Works"],
            person,
            "W-1",
            category=Category.UTILITY_ARREARS,
            negative=True,
            status=RecordStatus.OVERDUE,
            details={"since": "2021-02-01"},
        )
        s.commit()


def fits_the_phone(page) -> None:
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.url
    page.set_viewport_size({"width": width, "height": 900})


def test_a_person_with_no_contact_registers_by_answering_questions(page, live_app):
    put_on_file(live_app)
    page.goto("/register")
    page.get_by_role("link", name="English").click()
    page.get_by_role("link", name="answer questions instead").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Register by answering questions")
    both_languages(page, "questions: asking")
    fits_the_phone(page)

    page.get_by_label("Identity number or credit code").fill(PERSON)
    page.get_by_label("Name as on file (person or firm)").fill(NAME)
    page.get_by_role("button", name="Show me the questions").click()
    # The worker prepares them; the page refreshes itself until they are there.
    expect(page.get_by_role("heading", level=1)).to_have_text("Questions about your credit file", timeout=15_000)
    both_languages(page, "questions: answering")
    fits_the_phone(page)

    groups = page.locator("fieldset")
    expect(groups).to_have_count(4)
    for i in range(4):
        group = groups.nth(i)
        question = group.locator("legend").inner_text().lower()
        truth = next(labels for words, labels in TRUTH.items() if words in question)
        labels = group.locator("label")
        expect(labels).to_have_count(5)
        right = [labels.nth(k).inner_text().strip() for k in range(5) if labels.nth(k).inner_text().strip() in truth]
        assert len(right) == 1, (question, right)
        group.get_by_label(right[0], exact=True).check()
    page.get_by_role("button", name="Check my answers").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Create your account")
    both_languages(page, "questions: account")
    page.get_by_label("Your name").fill("Li Si")
    page.get_by_label("E-mail address (your sign-in)").fill("li.si@mail.example")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()

    expect(page.get_by_text("Your account is ready. Please sign in.")).to_be_visible()
    page.get_by_label("E-mail address").fill("li.si@mail.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/me$|/subjects/"))
