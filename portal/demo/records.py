"""The demo's credit records: which institutions furnish which categories,
the mix of categories a person or a firm holds, and one plausible record of
each category (dates that make sense together, amounts with cents)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from portal.demo.people import FIRM_TRADES, FIRM_WORDS
from portal.records.models import Category, RecordStatus, SubjectKind
from portal.records.services import RecordInput

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
PERSON_MIX = (
    [Category.LOAN] * 5
    + [Category.CREDIT_CARD] * 6
    + [Category.UTILITY_ARREARS, Category.GUARANTEE, Category.COURT_JUDGMENT, Category.DISHONEST_DEBTOR]
)
FIRM_MIX = (
    [Category.LOAN] * 5
    + [Category.GUARANTEE] * 2
    + [
        Category.TAX_ARREARS,
        Category.ADMINISTRATIVE_PENALTY,
        Category.ADMINISTRATIVE_PENALTY,
        Category.COURT_JUDGMENT,
        Category.UTILITY_ARREARS,
        Category.DISHONEST_DEBTOR,
    ]
)
# The first person and the first firm get one record of each of these, so
# the demo logins show every kind of entry.
SHOWCASE = {
    SubjectKind.PERSON: [
        Category.LOAN,
        Category.CREDIT_CARD,
        Category.CREDIT_CARD,
        Category.GUARANTEE,
        Category.UTILITY_ARREARS,
        Category.COURT_JUDGMENT,
        Category.DISHONEST_DEBTOR,
        Category.LOAN,
    ],
    SubjectKind.FIRM: [
        Category.LOAN,
        Category.GUARANTEE,
        Category.TAX_ARREARS,
        Category.ADMINISTRATIVE_PENALTY,
        Category.COURT_JUDGMENT,
        Category.UTILITY_ARREARS,
        Category.DISHONEST_DEBTOR,
    ],
}


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
        five_years = (
            self.today.replace(year=self.today.year - 5)
            if (self.today.month, self.today.day) != (2, 29)
            else self.today.replace(year=self.today.year - 5, day=28)
        )
        return five_years + timedelta(days=self.rng.randint(5, 60))

    def span(self, lo: int, hi: int, near_expiry: bool) -> tuple[date, date]:
        """(start, end) with start `lo`..`hi` days ago, or ending near expiry."""
        if near_expiry:
            end = self.near_expiry_end()
            return end - timedelta(days=self.rng.randint(30, 900)), end
        start = self.ago(lo, hi)
        return start, start + timedelta(days=self.rng.randint(1, max(1, (self.today - start).days)))


def make_record(
    rng: random.Random, today: date, category: Category, serial: int, near_expiry: bool = False
) -> RecordInput:
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
            details |= {
                "loan_type": rng.choice(["mortgage", "consumer", "business", "auto"]),
                "principal": _money(rng, amount, amount),
                "maturity_on": (opened + timedelta(days=365 * rng.randint(1, 20))).isoformat(),
            }
        else:
            details |= {"credit_limit": _money(rng, amount // 10, amount // 10)}
        if roll < 0.12:  # was overdue, paid later: negative until five years after
            details |= {"balance": "0.00", "worst_overdue_months": rng.randint(1, 6)}
            return RecordInput(category, ref, RecordStatus.SETTLED, True, ended, details)
        if roll < 0.22:
            details |= {
                "balance": _money(rng, amount // 4, amount),
                "overdue_amount": _money(rng, 500, amount // 5),
                "overdue_months": rng.randint(1, 9),
            }
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
        details = {
            "currency": "CNY",
            "guaranteed_amount": _money(rng, 10_000, 3_000_000),
            "guaranteed_party": f"{rng.choice(FIRM_WORDS)}{rng.choice(FIRM_TRADES)}有限公司",
            "signed_on": signed.isoformat(),
        }
        if near_expiry or rng.random() < 0.15:  # the guarantor had to pay
            return RecordInput(
                category,
                ref,
                RecordStatus.SETTLED,
                True,
                called,
                details | {"called_amount": _money(rng, 5_000, 500_000)},
            )
        return RecordInput(category, ref, RecordStatus.ACTIVE, False, None, details)
    if category is c.TAX_ARREARS:
        assessed, paid_on = d.span(100, 1500, near_expiry)
        details = {
            "currency": "CNY",
            "tax_type": rng.choice(
                ["增值税 VAT", "企业所得税 corporate income tax", "个人所得税 individual income tax"]
            ),
            "amount": _money(rng, 2_000, 900_000),
            "assessed_on": assessed.isoformat(),
        }
        paid = near_expiry or rng.random() < 0.5
        return RecordInput(
            category,
            ref,
            RecordStatus.SETTLED if paid else RecordStatus.OVERDUE,
            True,
            paid_on if paid else None,
            details,
        )
    if category in (c.COURT_JUDGMENT, c.DISHONEST_DEBTOR):
        decided, done_on = d.span(100, 1700, near_expiry)
        kind = "执" if category is c.DISHONEST_DEBTOR else "民初"
        details = {
            "case_number": f"({decided.year})明01{kind}{rng.randint(100, 9999)}号",
            "amount": _money(rng, 5_000, 2_000_000),
            "currency": "CNY",
            "decided_on": decided.isoformat(),
        }
        done = near_expiry or rng.random() < 0.4
        return RecordInput(
            category,
            ref,
            RecordStatus.LIFTED if done else RecordStatus.IN_FORCE,
            True,
            done_on if done else None,
            details,
        )
    if category is c.ADMINISTRATIVE_PENALTY:
        minimum = rng.choice([90, 365, 1095])  # days the penalty must stay public
        if near_expiry:
            lifted = d.near_expiry_end()
            decided = lifted - timedelta(days=minimum + rng.randint(0, 300))
        else:
            decided = d.ago(minimum + 30, minimum + 1500)
            lifted = decided + timedelta(days=minimum + rng.randint(0, (today - decided).days - minimum))
        details = {
            "decision_number": f"明市监罚字〔{decided.year}〕{rng.randint(1, 999)}号",
            "penalty": rng.choice(["罚款 fine", "警告 warning", "没收违法所得 confiscation"]),
            "amount": _money(rng, 1_000, 200_000),
            "currency": "CNY",
            "decided_on": decided.isoformat(),
            "minimum_publicity_until": (decided + timedelta(days=minimum)).isoformat(),
        }
        done = near_expiry or rng.random() < 0.3
        return RecordInput(
            category,
            ref,
            RecordStatus.LIFTED if done else RecordStatus.IN_FORCE,
            True,
            lifted if done else None,
            details,
        )
    # utility arrears
    since, paid_on = d.span(60, 1200, near_expiry)
    details = {
        "account": f"UA{rng.randint(10**7, 10**8 - 1)}",
        "amount": _money(rng, 50, 8_000),
        "currency": "CNY",
        "since": since.isoformat(),
    }
    paid = near_expiry or rng.random() < 0.6
    return RecordInput(
        category, ref, RecordStatus.SETTLED if paid else RecordStatus.OVERDUE, True, paid_on if paid else None, details
    )
