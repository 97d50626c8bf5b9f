"""Every main page at a phone's width (390 CSS pixels), in both languages:
nothing scrolls sideways (wide tables stack or scroll in their own region),
axe-core finds no serious violation, the access log's filters are folded
away, and radio and checkbox labels sit beside their boxes."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest

from portal.access import consents
from portal.accounts.models import Role
from portal.accounts.services import create_user
from portal.audit.events import record_event
from portal.audit.models import EventKind, Outcome
from portal.audit.purposes import Purpose
from portal.compliance import assignment
from portal.disputes.lifecycle import advance
from portal.disputes.models import DisputeReason, DisputeStatus
from portal.disputes.services import file_dispute
from portal.extensions import session, vault
from portal.institutions.models import InstitutionKind
from portal.institutions.services import NewInstitution, create_institution
from portal.localtime import today as portal_today
from portal.records.models import Category, RecordStatus, SubjectKind
from portal.records.services import RecordInput, create_subject, furnish

from ..factories import integrate
from .test_journeys import PASSWORD, PERSON_ID, PERSON_NAME, accessible, sign_in

PHONE = {"width": 390, "height": 844}
SECRETS = {role: pyotp.random_base32() for role in ("officer", "administrator")}
LANGUAGES = ("en", "zh_CN")


@pytest.fixture
def cast(live_app):
    """A person with records from two institutions with long names, who
    granted an authority, was queried and filed a dispute; an officer the
    case is assigned to; an administrator. Staff have their second factor."""
    with live_app.app_context():
        s, v = session(), vault()
        v.register_versions(s)
        bank = create_institution(
            s,
            v,
            NewInstitution(
                "hengtong-bank",
                "恒通农村商业银行股份有限公司福州分行",
                "Hengtong Rural Commercial Bank, Fuzhou Branch",
                InstitutionKind.BANK,
                [Purpose.LOAN_APPROVAL, Purpose.CREDIT_CARD_APPROVAL],
                "周立",
                "ops@bank.example",
            ),
        )
        person = create_subject(s, v, SubjectKind.PERSON, PERSON_ID, PERSON_NAME, contact_email="zhang@mail.example")
        records = [
            furnish(
                s,
                v,
                bank,
                person,
                RecordInput(
                    category,
                    ref,
                    RecordStatus.SETTLED if negative else RecordStatus.ACTIVE,
                    negative,
                    None,
                    {"currency": "CNY", "principal": "1200000.00", "balance": "350000.00", "opened_on": "2020-05-01"},
                ),
            )
            for category, ref, negative in (
                (Category.LOAN, "LOAN-2020-FUZHOU-000123456789", False),
                (Category.CREDIT_CARD, "CARD-6222-0000-1111-2222", True),
            )
        ]
        user = create_user(
            s,
            v,
            role=Role.PERSON,
            email="zhangsan@example.com",
            display_name=PERSON_NAME,
            password=PASSWORD,
            subject_id=person.id,
        )
        staff = {
            role: create_user(
                s,
                v,
                role=Role(role),
                email=f"{role}@portal.example",
                display_name=f"{role} 王",
                password=PASSWORD,
                totp_secret=SECRETS[role],
            )
            for role in SECRETS
        }
        consents.grant(s, v, person, bank, Purpose.LOAN_APPROVAL, portal_today() + timedelta(days=30), user)
        for outcome in (Outcome.SERVED, Outcome.REFUSED):
            record_event(
                s,
                v,
                person,
                EventKind.INSTITUTION_QUERY,
                channel="api",
                outcome=outcome,
                institution_id=bank.id,
                purpose="loan_approval",
                detail={"basis": "consent"},
            )
        dispute = file_dispute(
            s,
            v,
            person,
            user,
            [records[0].record_id],
            DisputeReason.WRONG_AMOUNT,
            "The balance is wrong: the loan was partly repaid last month, by transfer 2024-0611-889900.",
        )
        assignment.assign(s, v, dispute, staff["officer"])
        for to in (DisputeStatus.ACKNOWLEDGED, DisputeStatus.UNDER_REVIEW):
            advance(s, v, dispute, to, staff["officer"])
        s.commit()
        integrate(s)
        return {"person": person.id, "dispute": dispute.id, "record": records[0].record_id}


def phone(browser, live_server, language: str):
    context = browser.new_context(base_url=live_server, viewport=PHONE, locale="zh-CN")
    context.add_cookies([{"name": "lang", "value": language, "url": live_server}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


def staff_sign_in(page, role: str) -> None:
    sign_in(page, f"{role}@portal.example")
    page.get_by_label(re.compile("验证器|authenticator", re.I)).fill(pyotp.TOTP(SECRETS[role]).now())
    page.get_by_role("button", name=re.compile("继续|登录|Continue|Sign in|Verify|验证", re.I)).click()
    assert "/login" not in page.url, page.content()[:500]


def fits(page, label: str) -> None:
    """No horizontal scroll on the page as shown, and no serious axe finding."""
    page.wait_for_load_state("load")
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{label} ({page.url}) is {width} px wide at {inner} px"
    accessible(page, label)


def beside(page, label: str) -> None:
    """Each radio or checkbox of the page has its label on the same line,
    to its right (not on a line below)."""
    options = page.locator(".option")
    assert options.count() > 0, label
    for i in range(options.count()):
        box = options.nth(i).locator("input").bounding_box()
        text = options.nth(i).locator("label").bounding_box()
        assert text["x"] >= box["x"] + box["width"], (label, i, box, text)
        assert text["y"] < box["y"] + box["height"], (label, i, box, text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_main_page_fits_a_phone(browser, live_server, cast, language):
    subject = f"/subjects/{cast['person']}"
    context, page = phone(browser, live_server, language)
    try:
        page.goto("/register")
        fits(page, "register")
        beside(page, "register: whom for")

        sign_in(page, "zhangsan@example.com")
        for path, label in (
            (subject, "dashboard"),
            (f"{subject}/report", "report"),
            (f"{subject}/access", "access log"),
            (f"{subject}/consents", "authorities"),
            (f"{subject}/disputes", "disputes"),
            (f"{subject}/disputes/{cast['dispute']}", "a dispute"),
            ("/account", "account"),
        ):
            page.goto(path)
            fits(page, f"{label}, {language}")
        # The access log's filters are folded away: the lists start on the first screen.
        page.goto(f"{subject}/access")
        assert page.locator("details.filter-panel").get_attribute("open") is None
        top = page.get_by_role("heading", name=re.compile("Queries by others|他人")).bounding_box()["y"]
        assert top < PHONE["height"], f"the first list starts at {top} px"
        page.goto(f"{subject}/disputes/new?record={cast['record']}")
        fits(page, f"file a dispute, {language}")
        beside(page, "file a dispute: records")
    finally:
        context.close()

    context, page = phone(browser, live_server, language)
    try:
        staff_sign_in(page, "officer")
        for path, label in (
            ("/officer/cases", "case queue"),
            (f"/officer/cases/{cast['dispute']}", "a case"),
            ("/compliance/statistics", "statistics"),
        ):
            page.goto(path)
            fits(page, f"{label}, {language}")
    finally:
        context.close()

    context, page = phone(browser, live_server, language)
    try:
        staff_sign_in(page, "administrator")
        page.goto("/admin/")
        fits(page, f"operator console, {language}")
    finally:
        context.close()
