"""The disputes an institution sees through the API: a page of those that
cover its records, soonest deadline first, each with only its own items,
and the subject's words and files only once an officer forwarded the case."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from portal.crypto import Cipher, Vault
from portal.disputes import evidence as ev
from portal.disputes import sharing
from portal.disputes.lifecycle import days_left
from portal.disputes.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    Answer,
    Dispute,
    DisputeItem,
    DisputeOutcome,
    DisputeReason,
    DisputeStatus,
    Evidence,
    FurnisherResponse,
)
from portal.disputes.responses import own_disputes
from portal.disputes.services import statement
from portal.disputes.sharing import forwarded
from portal.institutions.models import Institution
from portal.localtime import today as local_today
from portal.records.models import CreditRecord, RecordVersion, Subject
from portal.records.services import open_payload


class Listing(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    ALL = "all"


@dataclass(frozen=True)
class ItemView:
    record_id: uuid.UUID
    reference: str
    version: int
    answer: Answer | None
    decision: DisputeOutcome | None = None  # once the case is resolved


@dataclass(frozen=True)
class EvidenceView:
    id: uuid.UUID
    media_type: str
    size: int
    sha256: str  # hex
    removed: list[str]  # what the disarm took out before it was kept (English)
    name: str = ""  # as uploaded (with the extension of what is stored), or the stored name


@dataclass(frozen=True)
class DisputeView:
    id: uuid.UUID
    reason: DisputeReason
    status: DisputeStatus
    filed_at: datetime
    due_on: date
    days_left: int | None  # None once closed
    forwarded: bool
    statement: str | None  # only while forwarded and open
    items: list[ItemView]
    evidence: list[EvidenceView]


@dataclass(frozen=True)
class Page:
    disputes: list[DisputeView]
    total: int


def disputes_for(
    session: Session,
    vault: Vault,
    institution: Institution,
    which: Listing = Listing.OPEN,
    limit: int = 50,
    offset: int = 0,
    today: date | None = None,
) -> Page:
    """A page of the disputes of the institution's records, soonest deadline
    first, each with only the items that are the institution's own."""
    today = today or local_today()
    where = [Dispute.id.in_(own_disputes(institution)), Subject.shredded_at.is_(None)]
    if which is Listing.OPEN:
        where.append(Dispute.status.in_(OPEN_STATUSES))
    elif which is Listing.CLOSED:
        where.append(Dispute.status.in_(CLOSED_STATUSES))
    base = select(Dispute, Subject).join(Subject, Subject.id == Dispute.subject_id).where(*where)
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = session.execute(
        base.order_by(Dispute.due_on, Dispute.filed_at, Dispute.id).limit(limit).offset(offset)
    ).all()
    ids = [d.id for d, _ in rows]
    if not ids:
        return Page([], total)

    items: dict[uuid.UUID, list[tuple[DisputeItem, CreditRecord, RecordVersion]]] = {}
    for item, record, version in session.execute(
        select(DisputeItem, CreditRecord, RecordVersion)
        .join(CreditRecord, CreditRecord.id == DisputeItem.record_id)
        .join(
            RecordVersion,
            (RecordVersion.record_id == CreditRecord.id) & (RecordVersion.version == CreditRecord.current_version),
        )
        .where(DisputeItem.dispute_id.in_(ids), CreditRecord.furnisher_id == institution.id)
        .order_by(CreditRecord.created_at, CreditRecord.id)
    ):
        items.setdefault(item.dispute_id, []).append((item, record, version))
    item_ids = [i.id for found in items.values() for i, _, _ in found]
    answers = {
        item_id: given
        for item_id, given in session.execute(
            select(FurnisherResponse.item_id, FurnisherResponse.answer).where(FurnisherResponse.item_id.in_(item_ids))
        )
    }
    files: dict[uuid.UUID, list[Evidence]] = {}
    # Without the sealed content (deferred): only its name is opened below.
    for file in session.scalars(
        select(Evidence)
        .options(defer(Evidence.content_ct))
        .where(Evidence.dispute_id.in_(ids), sharing.given_to(institution.id))
        .order_by(Evidence.created_at, Evidence.id)
    ):
        files.setdefault(file.dispute_id, []).append(file)

    sent = forwarded(session, ids)
    out = []
    for dispute, subject in rows:
        cipher = vault.cipher(session, subject.data_key_id)
        status = DisputeStatus(dispute.status)
        # The subject's words and files go to the furnisher only once an
        # officer sent the case, and only while it is open.
        shown = dispute.id in sent and status.is_open
        out.append(
            DisputeView(
                dispute.id,
                DisputeReason(dispute.reason),
                status,
                dispute.filed_at,
                dispute.due_on,
                days_left(dispute, today) if status.is_open else None,
                dispute.id in sent,
                statement(session, vault, dispute) if shown else None,
                [
                    ItemView(
                        record.id,
                        _reference(cipher, version),
                        version.version,
                        None if item.id not in answers else Answer(answers[item.id]),
                        item.decided(dispute) if status is DisputeStatus.RESOLVED else None,
                    )
                    for item, record, version in items.get(dispute.id, [])
                ],
                [
                    EvidenceView(
                        f.id,
                        f.media_type,
                        f.size,
                        bytes(f.sha256).hex(),
                        list(f.removed or []),
                        ev.download_name(cipher, f),
                    )
                    for f in files.get(dispute.id, [])
                ]
                if shown
                else [],
            )
        )
    return Page(out, total)


def _reference(cipher: Cipher, version: RecordVersion) -> str:
    return str(open_payload(cipher, version).get("reference", ""))
