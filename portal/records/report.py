"""The subject's own view of their file: dashboard, report pages and the
exports, built as view models. Each builder that shows subject data also
writes the access event of that view, in the caller's transaction (services
flush, never commit). Authorisation happened before: builders take the
`SubjectAccess` that `load_subject` returned."""
from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, selectinload

from portal.access.events import EventView, recent_events, record_event
from portal.access.models import AccessEvent, EventKind, Outcome
from portal.accounts.authz import SubjectAccess, represents
from portal.accounts.models import DelegationScope, User
from portal.crypto import Cipher, Vault
from portal.db import utcnow
from portal.disputes.repair import repair_dates
from portal.disputes.decisions import statements_for
from portal.disputes.services import disputed_records, export_disputes
from portal.institutions.models import Institution
from portal.localtime import today as local_today
from portal.records.models import Category, CreditRecord, RecordStatus, RecordVersion, Subject, SubjectKind
from portal.records.services import RecordInput, SubjectView, expiry_date, open_payload, view_subject

PAGE_SIZE = 20
DASHBOARD_EVENTS = 5
PRINTED_EVENTS = 20

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
EVENT_NAMES = {
    EventKind.SELF_QUERY: _l("Viewed on the portal"),
    EventKind.EXPORT: _l("Downloaded from the portal"),
    EventKind.REGISTRATION: _l("Account opened"),
    EventKind.DELEGATION_GRANTED: _l("Agent authorised"),
    EventKind.DELEGATION_REVOKED: _l("Agent's access revoked"),
    EventKind.INVITATION_SENT: _l("Agent invited"),
    EventKind.INVITATION_CANCELLED: _l("Agent invitation cancelled"),
    EventKind.INSTITUTION_QUERY: _l("Report requested by an institution"),
    EventKind.RECORD_FURNISHED: _l("Record furnished or updated"),
    EventKind.CONSENT_GRANTED: _l("Authority granted"),
    EventKind.CONSENT_REVOKED: _l("Authority revoked"),
    EventKind.AUTHORISATION_REGISTERED: _l("Written authorisation registered"),
    EventKind.LOCK_SET: _l("File locked"),
    EventKind.LOCK_RELEASED: _l("File unlocked"),
    EventKind.COMPLAINT_FILED: _l("Complaint filed"),
    EventKind.DISPUTE_FILED: _l("Dispute filed"),
    EventKind.DISPUTE_STEP: _l("Dispute updated"),
    EventKind.CASE_VIEWED: _l("Dispute case opened by an officer"),
    EventKind.IDENTITY_REVEALED: _l("Name and identifier shown to an officer"),
    EventKind.EVIDENCE_SENT: _l("Dispute evidence sent to the furnisher"),
    EventKind.DISPUTE_FORWARDED: _l("Dispute sent to the furnisher for an answer"),
    EventKind.CORRECTION_NOTICE: _l("Correction notice sent to a recipient"),
}
STAFF_ROLES = {"officer": _l("compliance officer"), "supervisor": _l("supervisor"),
               "administrator": _l("administrator")}
CHANNEL_ACTORS = {"web": _l("You, on the portal"), "api": _l("An institution"), "staff": _l("Portal staff")}
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
    "closed_on": ("date", _l("Closed")),
    "written_off_on": ("date", _l("Written off")),
    "minimum_publicity_until": ("date", _l("Published at least until")),
}
LOAN_TYPES = {"mortgage": _l("Mortgage"), "consumer": _l("Consumer loan"), "business": _l("Business loan"),
              "auto": _l("Car loan")}
# Carried by every amount instead of being shown on its own.
CURRENCY_KEY = "currency"


class PageNotFound(LookupError):
    """A report page past the last one."""


def mask_identifier(identifier: str) -> str:
    """Only the region code and the last four characters, as on printed
    reports: enough to recognise, too little to reuse."""
    if len(identifier) <= 10:
        return "*" * len(identifier)
    return identifier[:6] + "*" * (len(identifier) - 10) + identifier[-4:]


# -- view models ----------------------------------------------------------------
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

    @property
    def status_label(self) -> str:
        return str(STATUS_NAMES.get(self.status, self.status.value))

    @property
    def ongoing(self) -> bool:
        """Negative and not ended: it stays until five years after it ends."""
        return self.is_negative and self.ended_on is None


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
    def category_label(self) -> str:
        return str(CATEGORY_NAMES[self.category])


@dataclass(frozen=True)
class Report:
    subject: SubjectHeader
    groups: list[tuple[Category, list[RecordView]]]  # Category order
    page: int
    pages: int
    total: int
    can_dispute: bool = False  # the viewer may file disputes for this subject

    @staticmethod
    def category_label(category: Category) -> str:
        return str(CATEGORY_NAMES[category])


@dataclass(frozen=True)
class EventRow:
    occurred_at: datetime
    kind: EventKind
    outcome: Outcome
    channel: str
    institution: Furnisher | None
    via_agent: bool

    @property
    def kind_label(self) -> str:
        return str(EVENT_NAMES.get(self.kind, self.kind.value))

    @property
    def refused(self) -> bool:
        return self.outcome is Outcome.REFUSED

    def who(self, locale: str) -> str:
        if self.institution is not None:
            return self.institution.label(locale)
        if self.via_agent:
            return str(_l("An agent of the firm"))
        return str(CHANNEL_ACTORS.get(self.channel, self.channel))


@dataclass(frozen=True)
class NegativeItem:
    category: Category
    furnisher: Furnisher
    status: RecordStatus
    ended_on: date | None
    expires_on: date | None

    @property
    def ongoing(self) -> bool:
        return self.ended_on is None

    @property
    def category_label(self) -> str:
        return str(CATEGORY_NAMES[self.category])

    @property
    def status_label(self) -> str:
        return str(STATUS_NAMES.get(self.status, self.status.value))


@dataclass(frozen=True)
class Dashboard:
    subject: SubjectHeader
    counts: list[tuple[str, int]]  # (category label, records) in Category order
    total: int
    negatives: list[NegativeItem]
    events: list[EventRow]
    manages_agents: bool  # the firm's representative
    via_agent: bool


@dataclass(frozen=True)
class Choice:
    subject: SubjectHeader
    via_agent: bool


@dataclass(frozen=True)
class Printable:
    report: Report
    events: list[EventRow]
    generated_at: datetime


# -- builders -------------------------------------------------------------------
def choices(session: Session, vault: Vault, accesses: list[SubjectAccess]) -> list[Choice]:
    return [Choice(SubjectHeader.of(view_subject(session, vault, a.subject)), not a.is_own) for a in accesses]


def dashboard(session: Session, vault: Vault, user: User, access: SubjectAccess) -> Dashboard:
    subject = access.subject
    current = session.execute(
        select(CreditRecord, RecordVersion)
        .join(RecordVersion, (RecordVersion.record_id == CreditRecord.id)
              & (RecordVersion.version == CreditRecord.current_version))
        .where(CreditRecord.subject_id == subject.id)).all()
    furnishers = _furnishers(session, {r.furnisher_id for r, _v in current})
    per_category = {c: 0 for c in Category}
    for record, _version in current:
        per_category[record.category] += 1
    negatives = [NegativeItem(r.category, furnishers.get(r.furnisher_id, UNKNOWN_FURNISHER), v.status,
                              v.ended_on, v.expires_on) for r, v in current if v.is_negative]
    # Soonest to leave first; ongoing ones have no date yet and come last.
    negatives.sort(key=lambda n: (n.expires_on is None, n.expires_on or date.max))
    # Read before this visit is logged, so the list shows what came before it.
    events = _event_rows(session, recent_events(session, vault, subject, limit=DASHBOARD_EVENTS))
    _log_access(session, vault, user, access, EventKind.SELF_QUERY, what="dashboard")
    return Dashboard(SubjectHeader.of(view_subject(session, vault, subject)),
                     [(str(CATEGORY_NAMES[c]), n) for c, n in per_category.items()], len(current), negatives,
                     events, represents(user, subject.id), not access.is_own)


def report_page(session: Session, vault: Vault, user: User, access: SubjectAccess, page: int) -> Report:
    subject = access.subject
    total = session.scalar(select(func.count()).select_from(CreditRecord)
                           .where(CreditRecord.subject_id == subject.id)) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:
        raise PageNotFound(page)
    records = _record_views(session, vault, access, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    _log_access(session, vault, user, access, EventKind.SELF_QUERY, what="report", page=page)
    return Report(SubjectHeader.of(view_subject(session, vault, subject)), _group(records), page, pages, total,
                  DelegationScope.FILE_DISPUTES in access.scopes)


def printable_report(session: Session, vault: Vault, user: User, access: SubjectAccess) -> Printable:
    """Everything on one report, for the PDF download."""
    records = _record_views(session, vault, access)
    events = _event_rows(session, recent_events(session, vault, access.subject, limit=PRINTED_EVENTS))
    _log_access(session, vault, user, access, EventKind.EXPORT, what="report", format="pdf")
    report = Report(SubjectHeader.of(view_subject(session, vault, access.subject)), _group(records), 1, 1,
                    len(records))
    return Printable(report, events, utcnow())


def export_data(session: Session, vault: Vault, user: User, access: SubjectAccess) -> dict[str, Any]:
    """Everything held about the subject, ready for `json.dumps`: identity
    in full, every version of every record, every access event (this
    export's own included)."""
    subject = view_subject(session, vault, access.subject)
    records = _record_views(session, vault, access)
    _log_access(session, vault, user, access, EventKind.EXPORT, what="report", format="json")
    count = session.scalar(select(func.count()).select_from(AccessEvent)
                           .where(AccessEvent.subject_id == access.subject.id)) or 0
    events = recent_events(session, vault, access.subject, limit=max(count, 1))
    codes = {i.id: i.code for i in _institutions(session, {e.institution_id for e in events})}
    return {
        "generated_at": utcnow().isoformat(),
        "subject": {"id": str(subject.id), "kind": subject.kind.value, "identifier": subject.identifier,
                    "name": subject.name},
        "records": [_export_record(r) for r in records],
        "access_events": [_export_event(e, codes) for e in events],
        "disputes": export_disputes(session, vault, access.subject),
    }


# -- helpers --------------------------------------------------------------------
def _log_access(session: Session, vault: Vault, user: User, access: SubjectAccess, kind: EventKind,
                 **detail: Any) -> None:
    """The access event of a view. An agent's view is the use of their
    delegation, so the delegation is named."""
    detail["role"] = user.role.value
    if access.delegation is not None:
        detail["via_delegation"] = str(access.delegation.id)
    record_event(session, vault, access.subject, kind, channel="web", actor_user_id=user.id, detail=detail)


_CATEGORY_ORDER = case({c: i for i, c in enumerate(Category)}, value=CreditRecord.category)


def _record_views(session: Session, vault: Vault, access: SubjectAccess, offset: int = 0,
                  limit: int | None = None) -> list[RecordView]:
    query = (select(CreditRecord).where(CreditRecord.subject_id == access.subject.id)
             .order_by(_CATEGORY_ORDER, CreditRecord.created_at.desc(), CreditRecord.id)
             .offset(offset).limit(limit).options(selectinload(CreditRecord.versions)))
    return record_views(session, vault, access.subject, session.scalars(query).all())


def record_views(session: Session, vault: Vault, subject: Subject,
                 records: Sequence[CreditRecord]) -> list[RecordView]:
    """Views of `records` (versions loaded) with every version, newest
    first, and what disputes did to them."""
    cipher = vault.cipher(session, subject.data_key_id)
    furnishers = _furnishers(session, {r.furnisher_id for r in records})
    disputed = disputed_records(session, [r.id for r in records])
    statements = statements_for(session, vault, subject, [r.id for r in records])
    repairs = repair_dates(session, vault, subject, records)
    return [RecordView(r.id, r.category, furnishers.get(r.furnisher_id, UNKNOWN_FURNISHER),
                       [_version_view(cipher, v) for v in sorted(r.versions, key=lambda v: -v.version)],
                       disputed=r.id in disputed, deleted=r.deleted_at is not None,
                       unverifiable=r.unverifiable_since is not None, statements=tuple(statements.get(r.id, ())),
                       publicity_ended=r.publicity_ended_at is not None, repair_from=repairs.get(r.id))
            for r in records]


def _group(records: list[RecordView]) -> list[tuple[Category, list[RecordView]]]:
    groups: dict[Category, list[RecordView]] = {}
    for record in records:
        groups.setdefault(record.category, []).append(record)
    return [(c, groups[c]) for c in Category if c in groups]


def _version_view(cipher: Cipher, version: RecordVersion) -> VersionView:
    payload = open_payload(cipher, version)
    return VersionView(version.version, version.status, version.is_negative, version.ended_on,
                       version.expires_on, version.furnished_at, str(payload.get(CURRENCY_KEY) or "CNY"),
                       _fields(payload), payload)


def proposed_view(data: RecordInput, version: int, at: datetime) -> VersionView:
    """A version not furnished yet (a correction awaiting the officer's
    decision), shown as a furnished one would be."""
    payload = json.loads(data.payload())
    return VersionView(version, data.status, data.is_negative, data.ended_on,
                       expiry_date(data.is_negative, data.ended_on), at, str(payload.get(CURRENCY_KEY) or "CNY"),
                       _fields(payload), payload)


def _fields(payload: dict[str, Any]) -> list[Field]:
    known = [_field(key, kind, label, payload[key]) for key, (kind, label) in KNOWN_FIELDS.items()
             if key in payload]
    unknown = [Field(key, key, "text", _text(payload[key]))
               for key in sorted(payload.keys() - KNOWN_FIELDS.keys() - {CURRENCY_KEY})]
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


def _institutions(session: Session, ids: set[uuid.UUID | None]) -> list[Institution]:
    ids = {i for i in ids if i is not None}
    return list(session.scalars(select(Institution).where(Institution.id.in_(ids)))) if ids else []


def _furnishers(session: Session, ids: set[uuid.UUID | None]) -> dict[uuid.UUID, Furnisher]:
    return {i.id: Furnisher(i.code, i.name, i.name_en) for i in _institutions(session, ids)}


def _event_rows(session: Session, events: list[EventView]) -> list[EventRow]:
    institutions = _furnishers(session, {e.institution_id for e in events})
    return [EventRow(e.occurred_at, e.kind, e.outcome, e.channel,
                     institutions.get(e.institution_id) if e.institution_id else None,
                     "via_delegation" in e.detail) for e in events]


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _export_record(record: RecordView) -> dict[str, Any]:
    return {
        "id": str(record.id),
        "category": record.category.value,
        "furnisher": {"code": record.furnisher.code, "name": record.furnisher.name,
                      "name_en": record.furnisher.name_en},
        "current_version": record.current.version,
        "under_dispute": record.disputed, "deleted": record.deleted, "unverifiable": record.unverifiable,
        "publicity_ended": record.publicity_ended, "statements": list(record.statements),
        "versions": [{"version": v.version, "status": v.status.value, "negative": v.is_negative,
                      "ended_on": _iso(v.ended_on), "expires_on": _iso(v.expires_on),
                      "furnished_at": _iso(v.furnished_at), "payload": v.payload} for v in record.versions],
    }


def _export_event(event: EventView, codes: dict[uuid.UUID, str]) -> dict[str, Any]:
    return {"id": str(event.id), "occurred_at": _iso(event.occurred_at), "kind": event.kind.value,
            "outcome": event.outcome.value, "channel": event.channel, "purpose": event.purpose,
            "institution": codes.get(event.institution_id) if event.institution_id else None,
            "detail": event.detail}
