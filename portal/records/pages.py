"""Credit records as pages show them: labels, typed fields, every version,
and the marks disputes and credit repair left on them (passed in, since
those areas sit above records)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import case, select
from sqlalchemy.orm import Session

from portal.crypto import Cipher, Vault
from portal.i18n import lazy as _l
from portal.institutions.models import Institution
from portal.localtime import today as local_today
from portal.records.models import Category, CreditRecord, RecordStatus, RecordVersion, Subject, SubjectKind
from portal.records.services import RecordInput, SubjectView, expiry_date, is_removed, open_payload

REPORT_PAGE_SIZE = 20  # records per page of the subject's report
# The report counts the days down to a negative record's removal over this
# many days before it (setting RETENTION_NOTICE_DAYS).
RETENTION_NOTICE_DAYS = 90
# The report's order, everywhere records are listed: by category as the
# report groups them, newest first.
REPORT_ORDER = (
    case({c: i for i, c in enumerate(Category)}, value=CreditRecord.category),
    CreditRecord.created_at.desc(),
    CreditRecord.id,
)

CATEGORY_NAMES = {
    Category.LOAN: _l("Loans"),
    Category.CREDIT_CARD: _l("Credit cards"),
    Category.GUARANTEE: _l("Guarantees"),
    Category.TAX_ARREARS: _l("Tax arrears"),
    Category.COURT_JUDGMENT: _l("Court judgments"),
    Category.ADMINISTRATIVE_PENALTY: _l("Administrative penalties"),
    Category.DISHONEST_DEBTOR: _l("Dishonest judgment debtor listings"),
    Category.UTILITY_ARREARS: _l("Utility arrears"),
}
STATUS_NAMES = {
    RecordStatus.ACTIVE: _l("Active, paid as agreed"),
    RecordStatus.OVERDUE: _l("Overdue"),
    RecordStatus.SETTLED: _l("Settled"),
    RecordStatus.CLOSED: _l("Closed in good standing"),
    RecordStatus.WRITTEN_OFF: _l("Written off"),
    RecordStatus.IN_FORCE: _l("In force"),
    RecordStatus.LIFTED: _l("Lifted"),
}
KIND_NAMES = {SubjectKind.PERSON: _l("Person"), SubjectKind.FIRM: _l("Firm")}

# Payload keys the portal knows, in the order they are shown: (kind, label).
# Anything else a furnisher sends is shown as it came, key and value.
KNOWN_FIELDS: dict[str, tuple[str, Any]] = {
    "reference": ("text", _l("Reference")),
    "loan_type": ("text", _l("Loan type")),
    "case_number": ("text", _l("Case number")),
    "decision_number": ("text", _l("Decision number")),
    "penalty": ("text", _l("Penalty")),
    "tax_type": ("text", _l("Tax")),
    "guaranteed_party": ("text", _l("Guaranteed party")),
    "account": ("text", _l("Account")),
    "principal": ("amount", _l("Principal")),
    "credit_limit": ("amount", _l("Credit limit")),
    "guaranteed_amount": ("amount", _l("Amount guaranteed")),
    "amount": ("amount", _l("Amount")),
    "balance": ("amount", _l("Balance")),
    "overdue_amount": ("amount", _l("Amount overdue")),
    "called_amount": ("amount", _l("Amount paid as guarantor")),
    "overdue_months": ("text", _l("Months overdue")),
    "worst_overdue_months": ("text", _l("Most months overdue")),
    "opened_on": ("date", _l("Opened")),
    "signed_on": ("date", _l("Signed")),
    "assessed_on": ("date", _l("Assessed")),
    "decided_on": ("date", _l("Decision date")),
    "since": ("date", _l("In arrears since")),
    "maturity_on": ("date", _l("Matures")),
    "closed_on": ("date", _l("Closed on")),
    "written_off_on": ("date", _l("Written off")),
    "minimum_publicity_until": ("date", _l("Published at least until")),
}
LOAN_TYPES = {
    "mortgage": _l("Mortgage"),
    "consumer": _l("Consumer loan"),
    "business": _l("Business loan"),
    "auto": _l("Car loan"),
}
# Carried by every amount instead of being shown on its own.
CURRENCY_KEY = "currency"


def mask_identifier(identifier: str, head: int = 6, tail: int = 4) -> str:
    """The first `head` and last `tail` characters, the rest as asterisks.
    By default the region code and the last four, as on printed reports:
    enough to recognise, too little to reuse."""
    identifier = identifier or ""
    if len(identifier) <= head + tail:
        return "*" * len(identifier)
    return identifier[:head] + "*" * (len(identifier) - head - tail) + identifier[-tail:]


@dataclass(frozen=True)
class SubjectHeader:
    """A subject as pages show it: the full identifier never reaches them."""

    id: uuid.UUID
    kind: SubjectKind
    name: str
    masked_identifier: str

    @classmethod
    def of(cls, view: SubjectView) -> SubjectHeader:
        return cls(view.id, view.kind, view.name, mask_identifier(view.identifier))

    @property
    def kind_label(self) -> str:
        return str(KIND_NAMES[self.kind])


@dataclass(frozen=True)
class Furnisher:
    code: str
    name: str
    name_en: str

    def label(self, locale: str) -> str:
        return self.name if locale.startswith("zh") else self.name_en


UNKNOWN_FURNISHER = Furnisher("", "—", "—")


@dataclass(frozen=True)
class Field:
    key: str
    label: Any  # a lazy translation, or the raw key of an unknown field
    kind: str  # "amount" (Decimal), "date" (date) or "text" (str)
    value: Any


@dataclass(frozen=True)
class VersionView:
    version: int
    status: RecordStatus
    is_negative: bool
    ended_on: date | None
    expires_on: date | None
    furnished_at: datetime
    currency: str
    fields: list[Field]
    payload: dict[str, Any]
    removed: bool = False  # past its retention: the content was shredded, the bare fact stays

    @property
    def status_label(self) -> str:
        return str(STATUS_NAMES.get(self.status, self.status.value))

    @property
    def ongoing(self) -> bool:
        """Negative and not ended: it stays until five years after it ends."""
        return self.is_negative and self.ended_on is None

    @property
    def removal_in_days(self) -> int | None:
        """Days until negative information leaves the file (0: today, or
        overdue for the daily job), within the notice period; None outside
        it, and for what is not negative, goes on or is removed already."""
        if self.removed or not self.is_negative or self.expires_on is None:
            return None
        days = (self.expires_on - local_today()).days
        return max(days, 0) if days <= notice_days() else None


def notice_days() -> int:
    """RETENTION_NOTICE_DAYS of the app, or the default outside one."""
    return (
        int(current_app.config.get("RETENTION_NOTICE_DAYS", RETENTION_NOTICE_DAYS))
        if has_app_context()
        else RETENTION_NOTICE_DAYS
    )


@dataclass(frozen=True)
class RecordView:
    id: uuid.UUID
    category: Category
    furnisher: Furnisher
    versions: list[VersionView]  # newest first
    disputed: bool = False  # an open dispute covers it: "under dispute" wherever it is shown
    deleted: bool = False  # deleted by a dispute decision: never disclosed again
    unverifiable: bool = False  # a dispute could not verify it: disclosed marked so
    statements: tuple[str, ...] = ()  # the subject's statements beside it, oldest first
    publicity_ended: bool = False  # a firm's credit repair was approved: no longer disclosed
    repair_from: date | None = None  # an administrative penalty: when a firm may ask for credit repair

    @property
    def repair_open(self) -> bool:
        return self.repair_from is not None and not self.publicity_ended and self.repair_from <= local_today()

    @property
    def current(self) -> VersionView:
        return self.versions[0]

    @property
    def removed(self) -> bool:
        """Left the file past its retention: only the bare fact is held."""
        return self.current.removed

    @property
    def category_label(self) -> str:
        return str(CATEGORY_NAMES[self.category])


@dataclass(frozen=True)
class RecordMarks:
    """What disputes and credit repair did to records, by record id."""

    disputed: set[uuid.UUID] = field(default_factory=set)
    statements: dict[uuid.UUID, list[str]] = field(default_factory=dict)
    repair_from: dict[uuid.UUID, date] = field(default_factory=dict)


def record_views(
    session: Session, vault: Vault, subject: Subject, records: Sequence[CreditRecord], marks: RecordMarks
) -> list[RecordView]:
    """Views of `records` (versions loaded) with every version, newest
    first, and the marks left on them."""
    cipher = vault.cipher(session, subject.data_key_id)
    by_id = furnishers(session, {r.furnisher_id for r in records})
    return [
        RecordView(
            r.id,
            r.category,
            by_id.get(r.furnisher_id, UNKNOWN_FURNISHER),
            [_version_view(cipher, v) for v in sorted(r.versions, key=lambda v: -v.version)],
            disputed=r.id in marks.disputed,
            deleted=r.deleted_at is not None,
            unverifiable=r.unverifiable_since is not None,
            statements=tuple(marks.statements.get(r.id, ())),
            publicity_ended=r.publicity_ended_at is not None,
            repair_from=marks.repair_from.get(r.id),
        )
        for r in records
    ]


def _version_view(cipher: Cipher, version: RecordVersion) -> VersionView:
    payload = open_payload(cipher, version)
    return VersionView(
        version.version,
        version.status,
        version.is_negative,
        version.ended_on,
        version.expires_on,
        version.furnished_at,
        str(payload.get(CURRENCY_KEY) or "CNY"),
        _fields(payload),
        payload,
        is_removed(version),
    )


def proposed_view(data: RecordInput, version: int, at: datetime) -> VersionView:
    """A version not furnished yet (a correction awaiting the officer's
    decision), shown as a furnished one would be."""
    payload = json.loads(data.payload())
    return VersionView(
        version,
        data.status,
        data.is_negative,
        data.ended_on,
        expiry_date(data.is_negative, data.ended_on),
        at,
        str(payload.get(CURRENCY_KEY) or "CNY"),
        _fields(payload),
        payload,
    )


def _fields(payload: dict[str, Any]) -> list[Field]:
    known = [_field(key, kind, label, payload[key]) for key, (kind, label) in KNOWN_FIELDS.items() if key in payload]
    unknown = [
        Field(key, key, "text", _text(payload[key]))
        for key in sorted(payload.keys() - KNOWN_FIELDS.keys() - {CURRENCY_KEY})
    ]
    return known + unknown


def _field(key: str, kind: str, label: Any, value: Any) -> Field:
    """A known field, typed; a value that does not parse is shown as text
    rather than failing the page."""
    if kind == "amount" and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            amount = None
        if amount is not None and amount.is_finite():
            return Field(key, label, "amount", amount)
    if kind == "date" and isinstance(value, str):
        try:
            return Field(key, label, "date", date.fromisoformat(value))
        except ValueError:
            pass
    if key == "loan_type" and value in LOAN_TYPES:
        return Field(key, label, "text", str(LOAN_TYPES[value]))
    return Field(key, label, "text", _text(value))


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def institutions(session: Session, ids: set[uuid.UUID | None]) -> list[Institution]:
    ids = {i for i in ids if i is not None}
    return list(session.scalars(select(Institution).where(Institution.id.in_(ids)))) if ids else []


def furnishers(session: Session, ids: set[uuid.UUID | None]) -> dict[uuid.UUID, Furnisher]:
    return {i.id: Furnisher(i.code, i.name, i.name_en) for i in institutions(session, ids)}
