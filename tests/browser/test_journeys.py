"""The journeys of the issue, in headless Chromium against the real server
(CSRF on), with an axe-core scan of every page in both languages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from .people import FIRM_NAME, PASSWORD, PERSON_ID, PERSON_NAME

_axe = Axe()


def accessible(page, label: str) -> None:
    """No serious or critical axe-core violation on the page as shown."""
    results = _axe.run(page)
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{label} ({page.url}): {bad}"


def both_languages(page, label: str) -> None:
    """Scan the page in the current language, switch, scan again, switch back:
    the language link is on every page and keeps the visitor where they are."""
    start = "English" if page.locator("html").get_attribute("lang") == "zh-Hans" else "中文"
    back = "中文" if start == "English" else "English"
    accessible(page, label)
    path = page.url
    page.get_by_role("link", name=start).click()
    assert page.url == path
    accessible(page, f"{label}, {start}")
    page.get_by_role("link", name=back).click()


def last_email(page, to: str) -> str:
    """The newest e-mail to an address, read from the demo outbox page
    (reloaded until it is there: the worker sends activation codes)."""
    for _ in range(50):
        page.goto("/demo/outbox")
        row = page.locator("tbody tr", has=page.locator(f"td:text-is('{to}')")).first
        if row.count():
            return row.locator("td").nth(3).inner_text()
        page.wait_for_timeout(200)
    raise AssertionError(f"no e-mail to {to} in the outbox")


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label(re.compile("电子邮件|E-mail")).fill(email)
    page.get_by_label(re.compile("^(密码|Password)$")).fill(password)
    page.get_by_role("button", name=re.compile("登录|Sign in")).click()


def test_a_person_registers_signs_in_reads_and_downloads_the_report(page, on_file, tmp_path):
    page.goto("/")
    both_languages(page, "home")
    page.get_by_role("link", name="注册").first.click()
    both_languages(page, "register")
    page.get_by_label(re.compile("居民身份证|identity number")).fill(PERSON_ID.lower())
    page.get_by_label(re.compile("姓名|Name as on file")).fill(PERSON_NAME)
    page.get_by_role("button").filter(has_text=re.compile("激活码|activation code")).click()
    both_languages(page, "code sent")

    code = re.search(r"\b(\d{8})\b", last_email(page, "zhang@mail.example")).group(1)
    page.goto("/register/activate")
    both_languages(page, "activate")
    page.get_by_label(re.compile("居民身份证|identity number")).fill(PERSON_ID)
    page.get_by_label(re.compile("激活码|Activation code")).fill(code)
    page.get_by_label(re.compile("^(您的姓名|Your name)$")).fill(PERSON_NAME)
    page.get_by_label(re.compile("电子邮件|E-mail")).fill("zhangsan@example.com")
    page.get_by_label(re.compile("^(密码|Password)$")).fill(PASSWORD)
    page.get_by_label(re.compile("再次输入|Repeat")).fill(PASSWORD)
    accessible(page, "activate, filled in")
    page.get_by_role("button").filter(has_text=re.compile("创建|Create")).click()
    assert page.url.endswith("/login")

    sign_in(page, "zhangsan@example.com")
    assert "/me" in page.url
    expect(page.get_by_text(PERSON_NAME).first).to_be_visible()
    both_languages(page, "dashboard")
    page.get_by_role("link", name=re.compile("信用报告|credit report", re.I)).first.click()
    assert "/report" in page.url
    expect(page.get_by_text("LOAN-1").first).to_be_visible()
    expect(page.get_by_text("CARD-1").first).to_be_visible()
    both_languages(page, "report")

    page.get_by_role("link", name="English").click()
    assert page.get_by_role("heading", level=1).first.inner_text() != ""
    assert page.locator("html").get_attribute("lang") == "en"

    with page.expect_download() as dl:
        page.get_by_role("link", name=re.compile("JSON")).first.click()
    data = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
    assert data["subject"]["identifier"] == PERSON_ID
    with page.expect_download() as dl:
        page.get_by_role("link", name=re.compile("PDF")).first.click()
    assert Path(dl.value.path()).read_bytes()[:5] == b"%PDF-"


def test_a_firm_representative_turns_on_totp_and_invites_an_agent_who_sees_the_report(page, on_file):
    sign_in(page, "rep@firm.example")
    assert "/account/two-step" in page.url, "representatives must set up a second factor first"
    both_languages(page, "two-step set-up")
    secret = page.locator("code.secret").inner_text()
    page.get_by_label(re.compile("6 位|6-digit")).fill(pyotp.TOTP(secret).now())
    page.get_by_role("button").filter(has_text=re.compile("两步验证|two-step", re.I)).click()
    assert page.locator(".codes li").count() == 10
    both_languages(page, "recovery codes")

    page.goto("/account")
    both_languages(page, "account")
    page.get_by_role("link", name=re.compile("经办人|agents", re.I)).click()
    both_languages(page, "agents")
    page.get_by_label(re.compile("电子邮件|e-mail address", re.I)).fill("agent@firm.example")
    page.get_by_role("button").filter(has_text=re.compile("邀请|invitation", re.I)).click()
    expect(page.get_by_text("agent@firm.example").first).to_be_visible()

    link = re.search(r"https?://\S+/invitations/\S+", last_email(page, "agent@firm.example")).group(0)
    page.get_by_role("button", name=re.compile("退出|Sign out")).click()
    page.goto(link)
    both_languages(page, "accept invitation")
    page.get_by_label(re.compile("^(您的姓名|Your name)$")).fill("李经办")
    page.get_by_label(re.compile("^(密码|Password)$")).fill(PASSWORD + " agent")
    page.get_by_label(re.compile("再次输入|Repeat")).fill(PASSWORD + " agent")
    page.get_by_role("button").filter(has_text=re.compile("接受|Accept")).click()

    sign_in(page, "agent@firm.example", PASSWORD + " agent")
    assert "/account/two-step" in page.url, "agents must set up a second factor first, as representatives do"
    secret = page.locator("code.secret").inner_text()
    page.get_by_label(re.compile("6 位|6-digit")).fill(pyotp.TOTP(secret).now())
    page.get_by_role("button").filter(has_text=re.compile("两步验证|two-step", re.I)).click()
    assert page.locator(".codes li").count() == 10
    page.goto("/me")
    expect(page.get_by_text(FIRM_NAME).first).to_be_visible()
    page.get_by_role("link", name=re.compile("信用报告|credit report", re.I)).first.click()
    expect(page.get_by_text("FIRM-LOAN-1").first).to_be_visible()
    assert page.get_by_text("LOAN-1", exact=True).count() == 0  # the person's records are not the firm's


def test_the_accessibility_scan_does_catch_violations(page):
    """The scan above is not a formality: an image without a text
    alternative and an unlabelled input are reported."""
    page.set_content(
        '<html lang="en"><head><title>t</title></head><body><main>'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><input type="text"></main></body></html>'
    )
    with pytest.raises(AssertionError, match="image-alt"):
        accessible(page, "a page with known faults")
