"""The subject's own view of their file: dashboard, report pages and the
exports, built as view models. Each builder that shows subject data also
writes the access event of that view, in the caller's transaction (services
flush, never commit). Authorisation happened before: builders take the
`SubjectAccess` that `load_subject` returned."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from portal.accounts.authz import SubjectAccess, represents
from portal.accounts.models import DelegationScope, User
from portal.audit.documents import issue_pdf
from portal.audit.events import EventView, recent_events, record_event
from portal.audit.models import AccessEvent, EventKind, Outcome
from portal.audit.names import CHANNEL_ACTORS, EVENT_NAMES
from portal.crypto import Vault
from portal.db import utcnow
from portal.disputes.services import export_disputes
from portal.i18n import lazy as _l
from portal.records.models import Category, CreditRecord, RecordStatus, RecordVersion
from portal.records.pages import (
    CATEGORY_NAMES,
    REPORT_ORDER,
    REPORT_PAGE_SIZE,
    STATUS_NAMES,
    UNKNOWN_FURNISHER,
    Furnisher,
    RecordView,
    SubjectHeader,
    furnishers,
    institutions,
    record_views,
)
from portal.records.services import view_subject
from portal.repair.services import record_marks
from portal.signing import DocumentSigner

PAGE_SIZE = REPORT_PAGE_SIZE
DASHBOARD_EVENTS = 5
PRINTED_EVENTS = 20


class PageNotFound(LookupError):
    """A report page past the last one."""


# -- view models ----------------------------------------------------------------
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
        .join(
            RecordVersion,
            (RecordVersion.record_id == CreditRecord.id) & (RecordVersion.version == CreditRecord.current_version),
        )
        .where(CreditRecord.subject_id == subject.id)
    ).all()
    by_id = furnishers(session, {r.furnisher_id for r, _v in current})
    per_category = {c: 0 for c in Category}
    for record, _version in current:
        per_category[record.category] += 1
    negatives = [
        NegativeItem(r.category, by_id.get(r.furnisher_id, UNKNOWN_FURNISHER), v.status, v.ended_on, v.expires_on)
        for r, v in current
        if v.is_negative
    ]
    # Soonest to leave first; ongoing ones have no date yet and come last.
    negatives.sort(key=lambda n: (n.expires_on is None, n.expires_on or date.max))
    # Read before this visit is logged, so the list shows what came before it.
    events = _event_rows(session, recent_events(session, vault, subject, limit=DASHBOARD_EVENTS))
    _log_access(session, vault, user, access, EventKind.SELF_QUERY, what="dashboard")
    return Dashboard(
        SubjectHeader.of(view_subject(session, vault, subject)),
        [(str(CATEGORY_NAMES[c]), n) for c, n in per_category.items()],
        len(current),
        negatives,
        events,
        represents(user, subject.id),
        not access.is_own,
    )


def report_page(session: Session, vault: Vault, user: User, access: SubjectAccess, page: int) -> Report:
    subject = access.subject
    # The page's records and the count of all of them in one statement.
    rows = session.execute(
        _records_query(access).add_columns(func.count().over()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    if not rows and page > 1:  # past the last page
        raise PageNotFound(page)
    total = rows[0][1] if rows else 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    records = _views(session, vault, access, [r for r, _n in rows])
    _log_access(session, vault, user, access, EventKind.SELF_QUERY, what="report", page=page)
    return Report(
        SubjectHeader.of(view_subject(session, vault, subject)),
        _group(records),
        page,
        pages,
        total,
        DelegationScope.FILE_DISPUTES in access.scopes,
    )


def printable_report(session: Session, vault: Vault, access: SubjectAccess) -> Printable:
    """Everything on one report, for the PDF download."""
    records = _record_views(session, vault, access)
    events = _event_rows(session, recent_events(session, vault, access.subject, limit=PRINTED_EVENTS))
    report = Report(SubjectHeader.of(view_subject(session, vault, access.subject)), _group(records), 1, 1, len(records))
    return Printable(report, events, utcnow())


def issue_report_pdf(
    session: Session,
    vault: Vault,
    user: User,
    access: SubjectAccess,
    signer: DocumentSigner,
    build: Callable[[Printable, str], bytes],
) -> bytes:
    """The report as a signed document: numbered, signed, and its download
    the access event that carries the file's hash. `build(printable,
    number)` lays it out."""
    printable = printable_report(session, vault, access)
    return issue_pdf(
        session,
        signer,
        kind="report",
        series=f"report:{access.subject.id}",
        build=lambda number: build(printable, number),
        log=lambda document: _log_access(
            session, vault, user, access, EventKind.EXPORT, what="report", format="pdf", **document
        ),
    )


def export_data(session: Session, vault: Vault, user: User, access: SubjectAccess) -> dict[str, Any]:
    """Everything held about the subject, ready for `json.dumps`: identity
    in full, every version of every record, every access event (this
    export's own included)."""
    subject = view_subject(session, vault, access.subject)
    records = _record_views(session, vault, access)
    _log_access(session, vault, user, access, EventKind.EXPORT, what="report", format="json")
    count = (
        session.scalar(select(func.count()).select_from(AccessEvent).where(AccessEvent.subject_id == access.subject.id))
        or 0
    )
    events = recent_events(session, vault, access.subject, limit=max(count, 1))
    codes = {i.id: i.code for i in institutions(session, {e.institution_id for e in events})}
    return {
        "generated_at": utcnow().isoformat(),
        "subject": {
            "id": str(subject.id),
            "kind": subject.kind.value,
            "identifier": subject.identifier,
            "name": subject.name,
        },
        "records": [_export_record(r) for r in records],
        "access_events": [_export_event(e, codes) for e in events],
        "disputes": export_disputes(session, vault, access.subject),
    }


# -- helpers --------------------------------------------------------------------
def _log_access(
    session: Session, vault: Vault, user: User, access: SubjectAccess, kind: EventKind, **detail: Any
) -> AccessEvent:
    """The access event of a view. An agent's view is the use of their
    delegation, so the delegation is named."""
    detail["role"] = user.role.value
    if access.delegation is not None:
        detail["via_delegation"] = str(access.delegation.id)
    return record_event(session, vault, access.subject, kind, channel="web", actor_user_id=user.id, detail=detail)


def _records_query(access: SubjectAccess) -> Select[CreditRecord]:
    return (
        select(CreditRecord)
        .where(CreditRecord.subject_id == access.subject.id)
        .order_by(*REPORT_ORDER)
        .options(selectinload(CreditRecord.versions))
    )


def _views(session: Session, vault: Vault, access: SubjectAccess, records: list[CreditRecord]) -> list[RecordView]:
    return record_views(session, vault, access.subject, records, record_marks(session, vault, access.subject, records))


def _record_views(session: Session, vault: Vault, access: SubjectAccess) -> list[RecordView]:
    """Every record of the subject (the exports)."""
    return _views(session, vault, access, list(session.scalars(_records_query(access)).all()))


def _group(records: list[RecordView]) -> list[tuple[Category, list[RecordView]]]:
    groups: dict[Category, list[RecordView]] = {}
    for record in records:
        groups.setdefault(record.category, []).append(record)
    return [(c, groups[c]) for c in Category if c in groups]


def _event_rows(session: Session, events: list[EventView]) -> list[EventRow]:
    institutions = furnishers(session, {e.institution_id for e in events})
    return [
        EventRow(
            e.occurred_at,
            e.kind,
            e.outcome,
            e.channel,
            institutions.get(e.institution_id) if e.institution_id else None,
            "via_delegation" in e.detail,
        )
        for e in events
    ]


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _export_record(record: RecordView) -> dict[str, Any]:
    return {
        "id": str(record.id),
        "category": record.category.value,
        "furnisher": {
            "code": record.furnisher.code,
            "name": record.furnisher.name,
            "name_en": record.furnisher.name_en,
        },
        "current_version": record.current.version,
        "under_dispute": record.disputed,
        "deleted": record.deleted,
        "unverifiable": record.unverifiable,
        "publicity_ended": record.publicity_ended,
        "statements": list(record.statements),
        "versions": [
            {
                "version": v.version,
                "status": v.status.value,
                "negative": v.is_negative,
                "ended_on": _iso(v.ended_on),
                "expires_on": _iso(v.expires_on),
                "furnished_at": _iso(v.furnished_at),
                "payload": v.payload,
            }
            for v in record.versions
        ],
    }


def _export_event(event: EventView, codes: dict[uuid.UUID, str]) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "occurred_at": _iso(event.occurred_at),
        "kind": event.kind.value,
        "outcome": event.outcome.value,
        "channel": event.channel,
        "purpose": event.purpose,
        "institution": codes.get(event.institution_id) if event.institution_id else None,
        "detail": event.detail,
    }
