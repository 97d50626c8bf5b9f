"""Deterministic demo data: the same seed gives the same people, firms,
institutions, records and logins (dates are relative to `today`). Rows are
built by the same services the portal uses and inserted in bulk, so a
hundred thousand subjects load in minutes."""
from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Callable, Iterable

import pyotp
from sqlalchemy import func, insert, inspect, select
from sqlalchemy.orm import Session

from portal.accounts.models import DelegationScope, FirmDelegation, Role
from portal.accounts.services import create_user
from portal.audit.purposes import Purpose
from portal.crypto import Vault
from portal.crypto.models import DataKey
from portal.institutions.models import ApiScope, Institution, InstitutionKind
from portal.institutions.services import (
    NewInstitution,
    build_institution,
    issue_api_key,
)
from portal.localtime import today as local_today
from portal.records.identifiers import resident_id_check, uscc_check
from portal.records.models import Category, RecordStatus, Subject, SubjectKind
from portal.records.services import (
    RecordInput,
    build_record,
    build_subject,
    view_subject,
)

BATCH = 2000

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = ("伟 芳 娜 秀英 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀兰 霞 平 刚 桂英 建华 文 华 金凤 玉兰 "
         "建国 志强 海燕 晓东 子涵 梓萱 浩然 宇轩 欣怡 雨桐 思远 嘉怡 俊杰 佳琪 一鸣 若曦 天宇 晨阳 明轩 诗涵").split()
# County-level division codes (GB/T 2260) with the city used in firm names.
REGIONS = [
    ("110101", "北京"), ("110105", "北京"), ("110108", "北京"), ("120101", "天津"), ("310101", "上海"),
    ("310115", "上海"), ("320102", "南京"), ("330106", "杭州"), ("350102", "福州"), ("370102", "济南"),
    ("420102", "武汉"), ("440103", "广州"), ("440305", "深圳"), ("500103", "重庆"), ("510104", "成都"),
    ("610113", "西安"),
]
FIRM_WORDS = "恒信 华泰 鼎盛 宏达 瑞丰 嘉禾 博远 中联 正源 天成 汇通 明德 锦程 永安 新元 安和".split()
FIRM_TRADES = "科技 贸易 建设工程 食品 物流 医药 电子 餐饮管理 文化传媒 机械制造".split()

DEMO_INSTITUTIONS = [
    NewInstitution("hengtong-bank", "恒通银行", "Hengtong Bank", InstitutionKind.BANK,
                   [Purpose.LOAN_APPROVAL, Purpose.CREDIT_CARD_APPROVAL, Purpose.GUARANTEE_REVIEW,
                    Purpose.POST_LOAN_MANAGEMENT], "周立", "credit-ops@hengtong.example"),
    NewInstitution("jinqiao-bank", "金桥商业银行", "Jinqiao Commercial Bank", InstitutionKind.BANK,
                   [Purpose.LOAN_APPROVAL, Purpose.CREDIT_CARD_APPROVAL, Purpose.POST_LOAN_MANAGEMENT],
                   "吴敏", "risk@jinqiao.example"),
    NewInstitution("anxin-finance", "安信消费金融", "Anxin Consumer Finance", InstitutionKind.LENDER,
                   [Purpose.LOAN_APPROVAL, Purpose.POST_LOAN_MANAGEMENT], "郑航", "compliance@anxin.example"),
    NewInstitution("xiaoyu-microcredit", "小雨小额贷款", "Xiaoyu Microcredit", InstitutionKind.LENDER,
                   [Purpose.LOAN_APPROVAL, Purpose.POST_LOAN_MANAGEMENT], "钱宁", "ops@xiaoyu.example"),
    NewInstitution("mingzhou-court", "明州市中级人民法院", "Mingzhou Intermediate People's Court",
                   InstitutionKind.COURT, [Purpose.COURT_ENFORCEMENT], "孙法", "enforcement@court.example"),
    NewInstitution("mingzhou-tax", "明州市税务局", "Mingzhou Tax Bureau", InstitutionKind.TAX_BUREAU,
                   [], "李税", "arrears@tax.example"),
    NewInstitution("mingzhou-samr", "明州市市场监督管理局", "Mingzhou Administration for Market Regulation",
                   InstitutionKind.REGULATOR, [], "赵监", "penalties@samr.example"),
    NewInstitution("mingzhou-water", "明州水务集团", "Mingzhou Water Group", InstitutionKind.UTILITY,
                   [], "陈水", "billing@water.example"),
    NewInstitution("mingzhou-power", "明州供电公司", "Mingzhou Power Supply", InstitutionKind.UTILITY,
                   [], "黄电", "billing@power.example"),
    NewInstitution("yunfan-hr", "云帆人力资源", "Yunfan HR Services", InstitutionKind.EMPLOYER,
                   [Purpose.EMPLOYMENT_SCREENING], "林帆", "screening@yunfan.example"),
]
# Which institutions furnish which categories.
FURNISHERS = {
    Category.LOAN: ["hengtong-bank", "jinqiao-bank", "anxin-finance", "xiaoyu-microcredit"],
    Category.CREDIT_CARD: ["hengtong-bank", "jinqiao-bank"],
    Category.GUARANTEE: ["hengtong-bank", "jinqiao-bank"],
    Category.TAX_ARREARS: ["mingzhou-tax"],
    Category.COURT_JUDGMENT: ["mingzhou-court"],
    Category.ADMINISTRATIVE_PENALTY: ["mingzhou-samr"],
    Category.DISHONEST_DEBTOR: ["mingzhou-court"],
    Category.UTILITY_ARREARS: ["mingzhou-water", "mingzhou-power"],
}
PERSON_MIX = [Category.LOAN] * 5 + [Category.CREDIT_CARD] * 6 + [Category.UTILITY_ARREARS, Category.GUARANTEE,
                                                                  Category.COURT_JUDGMENT, Category.DISHONEST_DEBTOR]
FIRM_MIX = [Category.LOAN] * 5 + [Category.GUARANTEE] * 2 + [
    Category.TAX_ARREARS, Category.ADMINISTRATIVE_PENALTY, Category.ADMINISTRATIVE_PENALTY,
    Category.COURT_JUDGMENT, Category.UTILITY_ARREARS, Category.DISHONEST_DEBTOR]
# The first person and the first firm get one record of each of these, so
# the demo logins show every kind of entry.
SHOWCASE = {
    SubjectKind.PERSON: [Category.LOAN, Category.CREDIT_CARD, Category.CREDIT_CARD, Category.GUARANTEE,
                         Category.UTILITY_ARREARS, Category.COURT_JUDGMENT, Category.DISHONEST_DEBTOR,
                         Category.LOAN],
    SubjectKind.FIRM: [Category.LOAN, Category.GUARANTEE, Category.TAX_ARREARS, Category.ADMINISTRATIVE_PENALTY,
                       Category.COURT_JUDGMENT, Category.UTILITY_ARREARS, Category.DISHONEST_DEBTOR],
}


class DemoRefused(RuntimeError):
    pass


def _rows(objects: Iterable[Any]) -> list[dict[str, Any]]:
    return [{a.key: getattr(o, a.key) for a in inspect(type(o)).column_attrs} for o in objects]


def _bulk(session: Session, objects: list[Any]) -> None:
    if objects:
        session.execute(insert(type(objects[0])), _rows(objects))


@dataclass
class _People:
    rng: random.Random
    today: date

    def person(self) -> tuple[str, str]:
        name = self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)
        region = self.rng.choice(REGIONS)[0]
        born = self.today - timedelta(days=self.rng.randint(20 * 365, 70 * 365))
        body = f"{region}{born:%Y%m%d}{self.rng.randint(0, 999):03d}"
        return body + resident_id_check(body), name

    def firm(self) -> tuple[str, str]:
        region, city = self.rng.choice(REGIONS)
        name = f"{city}{self.rng.choice(FIRM_WORDS)}{self.rng.choice(FIRM_TRADES)}有限公司"
        org = "".join(self.rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
        org += _org_code_check(org)
        body = "91" + region + org
        return body + uscc_check(body), name


def _org_code_check(first8: str) -> str:
    """GB 11714 organisation code check character."""
    value = sum(int(c, 36) * w for c, w in zip(first8, [3, 7, 9, 10, 5, 8, 4, 2]))
    check = 11 - value % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def _money(rng: random.Random, low: int, high: int) -> str:
    """An amount with cents, from `low` to `high` yuan."""
    return str(Decimal(rng.randint(low * 100, high * 100)) / 100)


class _Dates:
    """Start and end dates that make sense together: an end follows its
    start and is not in the future; a near-expiry end is about five years
    ago, and its start before that."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng, self.today = rng, today

    def ago(self, lo: int, hi: int) -> date:
        return self.today - timedelta(days=self.rng.randint(lo, hi))

    def near_expiry_end(self) -> date:
        five_years = self.today.replace(year=self.today.year - 5) if (self.today.month, self.today.day) != (2, 29) \
            else self.today.replace(year=self.today.year - 5, day=28)
        return five_years + timedelta(days=self.rng.randint(5, 60))

    def span(self, lo: int, hi: int, near_expiry: bool) -> tuple[date, date]:
        """(start, end) with start `lo`..`hi` days ago, or ending near expiry."""
        if near_expiry:
            end = self.near_expiry_end()
            return end - timedelta(days=self.rng.randint(30, 900)), end
        start = self.ago(lo, hi)
        return start, start + timedelta(days=self.rng.randint(1, max(1, (self.today - start).days)))


def make_record(rng: random.Random, today: date, category: Category, serial: int,
                near_expiry: bool = False) -> RecordInput:
    """One plausible record. `near_expiry` makes a negative one whose five
    years run out within about two months."""
    d = _Dates(rng, today)
    ref = f"{category.value[:3].upper()}-{serial:08d}"
    c = Category
    if category in (c.LOAN, c.CREDIT_CARD):
        amount = rng.choice([5_000, 20_000, 50_000, 200_000, 800_000, 2_000_000])
        roll = 0.0 if near_expiry else rng.random()
        opened, ended = d.span(200, 3600, near_expiry)
        details: dict[str, Any] = {"currency": "CNY", "opened_on": opened.isoformat()}
        if category is c.LOAN:
            details |= {"loan_type": rng.choice(["mortgage", "consumer", "business", "auto"]),
                        "principal": _money(rng, amount, amount),
                        "maturity_on": (opened + timedelta(days=365 * rng.randint(1, 20))).isoformat()}
        else:
            details |= {"credit_limit": _money(rng, amount // 10, amount // 10)}
        if roll < 0.12:  # was overdue, paid later: negative until five years after
            details |= {"balance": "0.00", "worst_overdue_months": rng.randint(1, 6)}
            return RecordInput(category, ref, RecordStatus.SETTLED, True, ended, details)
        if roll < 0.22:
            details |= {"balance": _money(rng, amount // 4, amount), "overdue_amount": _money(rng, 500, amount // 5),
                        "overdue_months": rng.randint(1, 9)}
            return RecordInput(category, ref, RecordStatus.OVERDUE, True, None, details)
        if roll < 0.25:
            details |= {"balance": _money(rng, amount // 2, amount), "written_off_on": ended.isoformat()}
            return RecordInput(category, ref, RecordStatus.WRITTEN_OFF, True, None, details)
        if roll < 0.45:
            details |= {"balance": "0.00", "closed_on": ended.isoformat()}
            return RecordInput(category, ref, RecordStatus.CLOSED, False, None, details)
        details |= {"balance": _money(rng, amount // 10, amount), "overdue_amount": "0.00"}
        return RecordInput(category, ref, RecordStatus.ACTIVE, False, None, details)
    if category is c.GUARANTEE:
        signed, called = d.span(100, 2500, near_expiry)
        details = {"currency": "CNY", "guaranteed_amount": _money(rng, 10_000, 3_000_000),
                   "guaranteed_party": f"{rng.choice(FIRM_WORDS)}{rng.choice(FIRM_TRADES)}有限公司",
                   "signed_on": signed.isoformat()}
        if near_expiry or rng.random() < 0.15:  # the guarantor had to pay
            return RecordInput(category, ref, RecordStatus.SETTLED, True, called,
                               details | {"called_amount": _money(rng, 5_000, 500_000)})
        return RecordInput(category, ref, RecordStatus.ACTIVE, False, None, details)
    if category is c.TAX_ARREARS:
        assessed, paid_on = d.span(100, 1500, near_expiry)
        details = {"currency": "CNY", "tax_type": rng.choice(["增值税 VAT", "企业所得税 corporate income tax",
                                                             "个人所得税 individual income tax"]),
                   "amount": _money(rng, 2_000, 900_000), "assessed_on": assessed.isoformat()}
        paid = near_expiry or rng.random() < 0.5
        return RecordInput(category, ref, RecordStatus.SETTLED if paid else RecordStatus.OVERDUE, True,
                           paid_on if paid else None, details)
    if category in (c.COURT_JUDGMENT, c.DISHONEST_DEBTOR):
        decided, done_on = d.span(100, 1700, near_expiry)
        kind = "执" if category is c.DISHONEST_DEBTOR else "民初"
        details = {"case_number": f"({decided.year})明01{kind}{rng.randint(100, 9999)}号",
                   "amount": _money(rng, 5_000, 2_000_000), "currency": "CNY", "decided_on": decided.isoformat()}
        done = near_expiry or rng.random() < 0.4
        return RecordInput(category, ref, RecordStatus.LIFTED if done else RecordStatus.IN_FORCE, True,
                           done_on if done else None, details)
    if category is c.ADMINISTRATIVE_PENALTY:
        minimum = rng.choice([90, 365, 1095])  # days the penalty must stay public
        if near_expiry:
            lifted = d.near_expiry_end()
            decided = lifted - timedelta(days=minimum + rng.randint(0, 300))
        else:
            decided = d.ago(minimum + 30, minimum + 1500)
            lifted = decided + timedelta(days=minimum + rng.randint(0, (today - decided).days - minimum))
        details = {"decision_number": f"明市监罚字〔{decided.year}〕{rng.randint(1, 999)}号",
                   "penalty": rng.choice(["罚款 fine", "警告 warning", "没收违法所得 confiscation"]),
                   "amount": _money(rng, 1_000, 200_000), "currency": "CNY", "decided_on": decided.isoformat(),
                   "minimum_publicity_until": (decided + timedelta(days=minimum)).isoformat()}
        done = near_expiry or rng.random() < 0.3
        return RecordInput(category, ref, RecordStatus.LIFTED if done else RecordStatus.IN_FORCE, True,
                           lifted if done else None, details)
    # utility arrears
    since, paid_on = d.span(60, 1200, near_expiry)
    details = {"account": f"UA{rng.randint(10**7, 10**8 - 1)}", "amount": _money(rng, 50, 8_000),
               "currency": "CNY", "since": since.isoformat()}
    paid = near_expiry or rng.random() < 0.6
    return RecordInput(category, ref, RecordStatus.SETTLED if paid else RecordStatus.OVERDUE, True,
                       paid_on if paid else None, details)


def load_demo(session: Session, vault: Vault, *, subjects: int = 60, seed: int = 2014,
              today: date | None = None, progress: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Load the demo into an empty database and return the credentials
    (written by the caller to instance/demo-credentials.json)."""
    existing = session.scalar(select(func.count()).select_from(Subject))
    keys = session.scalar(select(func.count()).select_from(DataKey))
    if existing or keys:
        what = f"{existing} subjects" if existing else f"{keys} encrypted records (users or institutions)"
        raise DemoRefused(f"the database already holds {what}: demo data loads only into an "
                          "empty database (point PORTAL_DATABASE_URL at a new one)")
    rng, today = random.Random(seed), today or local_today()
    people = _People(rng, today)

    institutions: dict[str, Institution] = {}
    keys, insts = [], []
    for data in DEMO_INSTITUTIONS:
        key, inst, _ = build_institution(vault, data)
        keys.append(key)
        insts.append(inst)
        institutions[data.code] = inst
    _bulk(session, keys)
    _bulk(session, insts)

    firms = max(1, subjects // 5)
    showcase: dict[SubjectKind | str, tuple[Subject, str, str]] = {}
    seen: set[str] = set()
    serial = 0
    for start in range(0, subjects, BATCH):
        keys, subs, records, versions = [], [], [], []
        for i in range(start, min(start + BATCH, subjects)):
            kind = SubjectKind.FIRM if i < firms else SubjectKind.PERSON
            while True:  # identifiers are unique
                identifier, name = people.firm() if kind is SubjectKind.FIRM else people.person()
                if identifier not in seen:
                    seen.add(identifier)
                    break
            key, subject, cipher = build_subject(vault, kind, identifier, name,
                                                 contact_email=f"subject{i + 1}@mail.example")
            keys.append(key)
            subs.append(subject)
            if kind is SubjectKind.PERSON and kind in showcase and "register" not in showcase:
                # A person with no account yet, to try registering with.
                showcase["register"] = (subject, identifier, name)
            if kind not in showcase:
                showcase[kind] = (subject, identifier, name)
                categories, near = SHOWCASE[kind], {4}
            else:
                mix = FIRM_MIX if kind is SubjectKind.FIRM else PERSON_MIX
                categories = [rng.choice(mix) for _ in range(rng.randint(1, 5))]
                near = {0} if rng.random() < 0.05 else set()
            for n, category in enumerate(categories):
                serial += 1
                data = make_record(rng, today, category, serial, near_expiry=n in near)
                furnisher = institutions[rng.choice(FURNISHERS[category])]
                record, version = build_record(vault, cipher, subject.id, furnisher.id, data)
                records.append(record)
                versions.append(version)
        for rows in (keys, subs, records, versions):
            _bulk(session, rows)
        progress(f"  subjects {min(start + BATCH, subjects)}/{subjects}, records {serial}")

    _, reg_id, reg_name = showcase["register"]
    creds = {"seed": seed, "subjects": subjects, "logins": [], "institutions": [],
             "registration_example": {"kind": "person", "identifier": reg_id, "name": reg_name,
                                      "contact_on_file": f"subject{firms + 2}@mail.example"}}
    _demo_logins(session, vault, rng, today, showcase, creds)
    for data in DEMO_INSTITUTIONS:
        inst = institutions[data.code]
        scopes = ([ApiScope.FURNISH] if data.code in {c for f in FURNISHERS.values() for c in f} else []) + (
            [ApiScope.QUERY] if data.allowed_purposes else [])
        tokens = [{"scopes": [s.value for s in scopes], "token": issue_api_key(session, inst, scopes)}] if scopes else []
        creds["institutions"].append({"code": data.code, "name": data.name, "name_en": data.name_en,
                                      "kind": data.kind.value, "api_keys": tokens})
    _demo_consents(session, vault, today, showcase, institutions)
    _demo_queries(session, vault, today, showcase, institutions)
    _demo_disputes(session, vault, rng, today, showcase)
    session.flush()
    return creds


def _demo_consents(session: Session, vault: Vault, today: date,
                   showcase: dict[SubjectKind | str, tuple[Subject, str, str]],
                   institutions: dict[str, Institution]) -> None:
    """Authorities the demo logins can see: a bank's live loan-approval
    grant and an employer's expired one for the person; a live grant and a
    registered written authorisation for the firm."""
    import hashlib

    from portal.access import consents
    from portal.accounts.models import User

    def owner(subject: Subject) -> User:
        return session.scalar(select(User).where(User.subject_id == subject.id))

    person, firm = showcase[SubjectKind.PERSON][0], showcase[SubjectKind.FIRM][0]
    bank, employer = institutions["hengtong-bank"], institutions["yunfan-hr"]
    consents.grant(session, vault, person, bank, Purpose.LOAN_APPROVAL, today + timedelta(days=90), owner(person),
                   today=today)
    # Granted four months ago for a month: expired now (and shown as such).
    consents.grant(session, vault, person, employer, Purpose.EMPLOYMENT_SCREENING, today - timedelta(days=90),
                   owner(person), today=today - timedelta(days=120))
    consents.grant(session, vault, firm, institutions["jinqiao-bank"], Purpose.LOAN_APPROVAL,
                   today + timedelta(days=180), owner(firm), today=today)
    consents.register_written(session, vault, bank, firm, Purpose.GUARANTEE_REVIEW, today + timedelta(days=60),
                              hashlib.sha256(b"demo: signed guarantee review authorisation").digest(),
                              "Guarantee review for a working-capital loan, signed by the legal representative",
                              today=today)


def _demo_queries(session: Session, vault: Vault, today: date,
                  showcase: dict[SubjectKind | str, tuple[Subject, str, str]],
                  institutions: dict[str, Institution]) -> None:
    """Institution queries through the API's own service, so "who accessed
    my data" has something to show: one served under the bank's grant, one
    refused because the employer's grant expired, one refused for want of
    any authority, and one served for the firm."""
    from portal.api.services import query_report
    from portal.institutions.models import ApiKey

    person, firm = showcase[SubjectKind.PERSON][0], showcase[SubjectKind.FIRM][0]
    for code, subject, purpose in (("hengtong-bank", person, Purpose.LOAN_APPROVAL),
                                   ("yunfan-hr", person, Purpose.EMPLOYMENT_SCREENING),
                                   ("xiaoyu-microcredit", person, Purpose.LOAN_APPROVAL),
                                   ("jinqiao-bank", firm, Purpose.LOAN_APPROVAL)):
        inst = institutions[code]
        key = session.scalar(select(ApiKey).where(ApiKey.institution_id == inst.id))
        query_report(session, vault, inst, key, subject, purpose, None, today)




def _demo_disputes(session: Session, vault: Vault, rng: random.Random, today: date,
                   showcase: dict[SubjectKind | str, tuple[Subject, str, str]]) -> None:
    """Cases for the officers' queue: the showcase person's dispute waiting
    for the furnisher (answer it with the furnisher's demo key), three new
    ones filed 25, 12 and 2 days ago (the first overdue), and one decided
    "verified as accurate", with its letter."""
    from portal.accounts.models import User
    from portal.disputes import decisions
    from portal.disputes.evidence import Upload
    from portal.disputes.lifecycle import advance
    from portal.disputes.models import DisputeReason, DisputeStatus
    from portal.disputes.services import file_dispute
    from portal.records.models import CreditRecord

    S = DisputeStatus
    officer = session.scalar(select(User).where(User.role == Role.OFFICER).order_by(User.created_at))
    person = showcase[SubjectKind.PERSON][0]
    scan = Upload("statement.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "application/pdf")

    def records_of(subject: Subject) -> list[CreditRecord]:
        return list(session.scalars(select(CreditRecord).where(CreditRecord.subject_id == subject.id)
                                    .order_by(CreditRecord.created_at, CreditRecord.id)))

    def file(subject: Subject, reason: DisputeReason, statement: str, days_ago: int, files=()):
        by = session.scalar(select(User).where(User.subject_id == subject.id))
        if by is None:  # a subject who registered (without a password: not a demo login)
            who = view_subject(session, vault, subject)
            by = create_user(session, vault, role=Role.PERSON, subject_id=subject.id, display_name=who.name,
                             email=vault.cipher(session, subject.data_key_id).open_field(subject, "contact_email"))
        filed = today - timedelta(days=days_ago)
        dispute = file_dispute(session, vault, subject, by, [records_of(subject)[0].id], reason, statement,
                               files, today=filed)
        # As if filed `days_ago`: the filing and its files.
        dispute.filed_at = dispute.filed_at - timedelta(days=days_ago)
        for row in (*dispute.steps, *dispute.evidence):
            if hasattr(row, "at"):
                row.at = dispute.filed_at
            else:
                row.created_at = dispute.filed_at
        return dispute

    def walk(dispute, *steps):
        dispute.assigned_officer_id = officer.id
        for to in steps:
            advance(session, vault, dispute, to, officer, "已请数据提供机构核查" if to is S.WAITING_FOR_FURNISHER else None)

    mine = file(person, DisputeReason.WRONG_AMOUNT, "余额有误：该笔贷款已于上月部分提前还款。", 3, [scan])
    walk(mine, S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_FURNISHER)
    others = list(session.scalars(select(Subject).where(Subject.kind == SubjectKind.PERSON,
                                                        Subject.id != person.id,
                                                        Subject.id.in_(select(CreditRecord.subject_id)))
                                  .order_by(Subject.created_at, Subject.id).limit(4)))
    for subject, days, reason in zip(others, (25, 12, 2), (DisputeReason.NOT_MINE, DisputeReason.PAID_OR_SETTLED,
                                                           DisputeReason.OUTDATED)):
        file(subject, reason, rng.choice(["这笔记录不是我的。", "该欠款已结清，请更新。", "该记录已超过保存期限。"]), days)
    if len(others) == 4:
        decided = file(others[3], DisputeReason.WRONG_DATES, "结清日期有误。", 15)
        walk(decided, S.ACKNOWLEDGED, S.UNDER_REVIEW)
        decisions.decide(session, vault, decided, officer, "verified_accurate",
                         "数据提供机构提交了还款流水，记录日期与流水一致。")


def _demo_logins(session: Session, vault: Vault, rng: random.Random, today: date,
                 showcase: dict[SubjectKind, tuple[Subject, str, str]], creds: dict[str, Any]) -> None:
    person, person_id, person_name = showcase[SubjectKind.PERSON]
    firm, firm_id, firm_name = showcase[SubjectKind.FIRM]
    logins = [
        (Role.PERSON, "person@demo.example", person_name, person, person_id),
        (Role.FIRM_REPRESENTATIVE, "firm.rep@demo.example", "法定代表人 " + firm_name, firm, firm_id),
        (Role.FIRM_AGENT, "firm.agent@demo.example", "经办人 " + rng.choice(SURNAMES) + rng.choice(GIVEN), None, firm_id),
        (Role.OFFICER, "officer@demo.example", "合规专员 " + rng.choice(SURNAMES) + rng.choice(GIVEN), None, None),
        (Role.OFFICER, "officer2@demo.example", "合规专员 " + rng.choice(SURNAMES) + rng.choice(GIVEN), None, None),
        (Role.SUPERVISOR, "supervisor@demo.example", "主管 " + rng.choice(SURNAMES) + rng.choice(GIVEN), None, None),
        (Role.ADMINISTRATOR, "admin@demo.example", "系统管理员", None, None),
    ]
    users = {}
    for role, email, display, subject, identifier in logins:
        # Secrets come from the system's generator, not the seed: the same
        # seed must not give the same passwords on every installation.
        password = secrets.token_urlsafe(12)
        totp = pyotp.random_base32() if role.needs_second_factor else None
        users[role] = create_user(session, vault, role=role, email=email, display_name=display, password=password,
                                  totp_secret=totp, subject_id=subject.id if subject else None)
        creds["logins"].append({"role": role.value, "login": email, "password": password, "totp_secret": totp,
                                "subject_identifier": identifier})
    session.add(FirmDelegation(firm_id=firm.id, agent_id=users[Role.FIRM_AGENT].id,
                               granted_by_id=users[Role.FIRM_REPRESENTATIVE].id,
                               scopes=[DelegationScope.VIEW_REPORT.value, DelegationScope.FILE_DISPUTES.value],
                               valid_until=today + timedelta(days=365)))
