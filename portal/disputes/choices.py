"""Records and access events as the subject's dispute pages name them: the
records a dispute may be filed about (each with the report page it is on),
the access event a dispute is about, and an open dispute of that event."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit.models import AccessEvent, EventKind
from portal.audit.names import EVENT_NAMES, PURPOSE_NAMES
from portal.crypto import Vault
from portal.disputes import services
from portal.disputes.models import OPEN_STATUSES, Dispute
from portal.institutions.models import Institution
from portal.records.models import Category, CreditRecord, RecordVersion, Subject
from portal.records.pages import CATEGORY_NAMES, REPORT_ORDER, REPORT_PAGE_SIZE
from portal.records.services import open_payload


@dataclass(frozen=True)
class RecordChoice:
    """A record as the filing page and the dispute page show it."""

    id: uuid.UUID
    category: Category
    furnisher: Institution | None
    reference: str
    disputed: bool
    deleted: bool
    unverifiable: bool
    report_page: int

    @property
    def category_label(self) -> str:
        return str(CATEGORY_NAMES.get(self.category, self.category))

    def label(self, locale: str) -> str:
        furnisher = (
            "—"
            if self.furnisher is None
            else (self.furnisher.name if locale.startswith("zh") else self.furnisher.name_en)
        )
        text = f"{self.category_label} · {furnisher}"
        if self.reference:
            text += " · " + _("reference %(ref)s", ref=self.reference)
        if self.disputed:
            text += " (" + _("under dispute") + ")"
        return text


def record_choices(
    session: Session,
    vault: Vault,
    subject: Subject,
    ids: Sequence[uuid.UUID] | None = None,
    include_deleted: bool = False,
) -> list[RecordChoice]:
    """The subject's records (these `ids` only, when given), in the order
    of the report; each knows the report page it is on."""
    order = session.scalars(
        select(CreditRecord.id).where(CreditRecord.subject_id == subject.id).order_by(*REPORT_ORDER)
    ).all()
    position = {rid: n for n, rid in enumerate(order)}
    query = select(CreditRecord).where(CreditRecord.subject_id == subject.id)
    if ids is not None:
        if not ids:
            return []
        query = query.where(CreditRecord.id.in_(list(ids)))
    records = [r for r in session.scalars(query) if include_deleted or r.deleted_at is None]
    records.sort(key=lambda r: position.get(r.id, 0))
    if not records:
        return []
    versions = {
        (v.record_id, v.version): v
        for v in session.scalars(select(RecordVersion).where(RecordVersion.record_id.in_([r.id for r in records])))
    }
    furnishers = {
        i.id: i
        for i in session.scalars(select(Institution).where(Institution.id.in_({r.furnisher_id for r in records})))
    }
    disputed = services.disputed_records(session, [r.id for r in records])
    cipher = vault.cipher(session, subject.data_key_id)
    out = []
    for r in records:
        version = versions.get((r.id, r.current_version))
        reference = str(open_payload(cipher, version).get("reference") or "") if version else ""
        out.append(
            RecordChoice(
                r.id,
                r.category,
                furnishers.get(r.furnisher_id),
                reference,
                r.id in disputed,
                r.deleted_at is not None,
                r.unverifiable_since is not None,
                position.get(r.id, 0) // REPORT_PAGE_SIZE + 1,
            )
        )
    return out


@dataclass(frozen=True)
class EventSummary:
    id: uuid.UUID
    occurred_at: datetime
    kind: EventKind
    institution: Institution | None
    purpose: str | None

    @property
    def kind_label(self) -> str:
        return str(EVENT_NAMES.get(self.kind, self.kind.value))

    @property
    def purpose_label(self) -> str:
        return str(PURPOSE_NAMES.get(self.purpose, self.purpose)) if self.purpose else ""


def event_summary(session: Session, event: AccessEvent | None) -> EventSummary | None:
    if event is None:
        return None
    institution = session.get(Institution, event.institution_id) if event.institution_id else None
    return EventSummary(event.id, event.occurred_at, EventKind(event.kind), institution, event.purpose)


def open_dispute_of_event(session: Session, subject: Subject, event_id: uuid.UUID) -> uuid.UUID | None:
    """An open dispute of this access event, if there is one."""
    return session.scalar(
        select(Dispute.id)
        .where(Dispute.subject_id == subject.id, Dispute.access_event_id == event_id, Dispute.status.in_(OPEN_STATUSES))
        .order_by(Dispute.filed_at)
        .limit(1)
    )
