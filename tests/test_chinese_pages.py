"""No internal code and no stray English on the pages a Chinese reader
meets: every main page of a subject, an officer, a supervisor and an
administrator, rendered in Chinese, is scanned for snake_case codes
(`credit_card_approval`) and for English words that leaked through
untranslated ("consent", "bytes", "(officer)"). Text inside <code> is
meant as code (setting names, key ids) and is left out."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from portal import worker
from portal.accounts.models import Role
from portal.disputes.evidence import Upload
from portal.extensions import session, vault
from portal.institutions.models import ApiScope
from portal.institutions.services import issue_api_key
from tests import factories as make
from tests.factories import PERSON_A
from tests.files import PDF
from tests.officers import file_case, token

CODE = re.compile(r"\b[a-z]+_[a-z_]+\b")
# English a reader met on Chinese pages before (refusals, bases, units, roles).
ENGLISH = re.compile(
    r"\b(consent|officer|supervisor|administrator|bytes?|may not query|valid until|written_authorisation|"
    r"served on|refused|pending|approved|application/pdf)\b",
    re.IGNORECASE,
)


class Text(HTMLParser):
    """The text a reader sees: no <script>, <style>, <code> or <title> content."""

    SKIP = {"script", "style", "code", "title"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def chinese(app, sign_in, user):
    client = sign_in(app.test_client(), user)
    client.set_cookie("lang", "zh_CN")
    return client


EMAIL = re.compile(r"\S+@\S+")  # addresses are names, not words


def problems(text: str) -> list[str]:
    text = EMAIL.sub("", text)
    return sorted({m.group(0) for m in CODE.finditer(text)} | {m.group(0) for m in ENGLISH.finditer(text)})


@pytest.fixture
def people(app, world):
    """Staff with names as a Chinese registry's staff have (the tests' usual
    names are English words, which would read as leaks)."""
    with app.app_context():
        s, v = session(), vault()
        out = {
            role: make.user(s, v, role, f"{role.value}@staff.example", second_factor=True, display_name=name)
            for role, name in ((Role.OFFICER, "张专员"), (Role.SUPERVISOR, "李主管"), (Role.ADMINISTRATOR, "王管理员"))
        }
        s.commit()
    return out


def test_no_code_or_english_on_chinese_pages(app, world, people, sign_in):
    from datetime import timedelta

    from portal.access import consents
    from portal.accounts.models import User
    from portal.institutions.models import Institution
    from portal.localtime import today as portal_today
    from portal.records.models import Subject

    case = file_case(app, world, "a", files=[Upload("银行流水.pdf", PDF)])
    with app.app_context():
        s, v = session(), vault()
        consents.grant(
            s,
            v,
            s.get(Subject, world.person_a.id),
            s.get(Institution, world.bank.id),
            "loan_approval",
            portal_today() + timedelta(days=30),
            s.get(User, world.user_a.id),
        )
        token_ = issue_api_key(s, s.get(Institution, world.bank.id), [ApiScope.QUERY])
        s.commit()
    api = app.test_client()
    for purpose in ("loan_approval", "credit_card_approval"):  # served on the consent; refused (none)
        api.get(f"/api/v1/reports/{PERSON_A}?purpose={purpose}", headers={"Authorization": f"Bearer {token_}"})
    worker.integrate_log(app)
    a = world.person_a.id
    pages = {
        world.user_a: [
            "/",
            f"/subjects/{a}",
            f"/subjects/{a}/report",
            f"/subjects/{a}/access",
            f"/subjects/{a}/consents",
            f"/subjects/{a}/disputes",
            f"/subjects/{a}/disputes/{case}",
            "/account",
        ],
        people[Role.OFFICER]: ["/officer/cases", f"/officer/cases/{case}", "/compliance/alerts"],
        people[Role.SUPERVISOR]: [
            f"/officer/cases/{case}",  # with the assignment list
            "/compliance/statistics",
            "/compliance/institutions",
            f"/compliance/institutions/{world.bank.id}",
            "/compliance/officers",
        ],
        people[Role.ADMINISTRATOR]: ["/admin/", "/admin/staff", "/admin/proposals", "/admin/institutions"],
    }
    found = {}
    for user, paths in pages.items():
        client = chinese(app, sign_in, user)
        token(client)
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            if bad := problems(visible(response.get_data(as_text=True))):
                found[path] = bad
    assert found == {}
