"""Correction notices: a decision that changes a record sends one to each
institution that received it in the look-back window (`send_notices`); the
recipients read them through the API, list their notices and acknowledge
each once. An institution sees only its own
(`own_notice`); any other notice is None, whether it exists or not.
Services flush, never commit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from portal.audit.disclosures import open_snapshot
from portal.audit.documents import issue_pdf
from portal.audit.events import record_event
from portal.audit.models import AccessEvent, Disclosure, EventKind, Outcome
from portal.audit.purposes import Purpose
from portal.crypto import Vault
from portal.db import new_id, utcnow
from portal.disputes.models import CorrectionNotice, Dispute, DisputeOutcome
from portal.disputes.services import disputed_records
from portal.disputes.statements import statements_for
from portal.institutions.models import Institution
from portal.records.documents import record_document
from portal.records.models import CreditRecord, Subject
from portal.records.services import current_version
from portal.signing import DocumentSigner

# How far back recipients of a changed record are told (FCRA 1681i(d)):
# six months, two years for employment screening.
LOOK_BACK_DAYS = 183
LOOK_BACK_EMPLOYMENT_DAYS = 730


@dataclass(frozen=True)
class NoticeItem:
    id: uuid.UUID
    dispute_id: uuid.UUID
    record_id: uuid.UUID
    created_at: datetime
    acknowledged_at: datetime | None
    body: dict[str, Any]  # as it was sealed when the decision was taken


@dataclass(frozen=True)
class NoticePage:
    notices: list[NoticeItem]
    total: int


def list_for_institution(
    session: Session,
    vault: Vault,
    institution: Institution,
    acknowledged: bool | None = False,
    limit: int = 50,
    offset: int = 0,
) -> NoticePage:
    """The institution's notices, unacknowledged first, then oldest first.
    `acknowledged`: False for those still to acknowledge (the default),
    True for those acknowledged, None for all. A shredded subject's notices
    can no longer be read and are left out."""
    where = [CorrectionNotice.institution_id == institution.id, Subject.shredded_at.is_(None)]
    if acknowledged is True:
        where.append(CorrectionNotice.acknowledged_at.is_not(None))
    elif acknowledged is False:
        where.append(CorrectionNotice.acknowledged_at.is_(None))
    base = (
        select(CorrectionNotice, Subject.data_key_id)
        .join(CreditRecord, CreditRecord.id == CorrectionNotice.record_id)
        .join(Subject, Subject.id == CreditRecord.subject_id)
        .where(*where)
    )
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    pending_first = case((CorrectionNotice.acknowledged_at.is_(None), 0), else_=1)
    rows = session.execute(
        base.order_by(pending_first, CorrectionNotice.created_at, CorrectionNotice.id).limit(limit).offset(offset)
    ).all()
    return NoticePage([_item(vault.cipher(session, key_id).open_field(n, "body"), n) for n, key_id in rows], total)


def _item(body: str | None, notice: CorrectionNotice) -> NoticeItem:
    return NoticeItem(
        notice.id,
        notice.dispute_id,
        notice.record_id,
        notice.created_at,
        notice.acknowledged_at,
        json.loads(body) if body else {},
    )


def own_notice(session: Session, institution: Institution, notice_id: uuid.UUID) -> CorrectionNotice | None:
    """The notice, when it was sent to `institution`; None otherwise."""
    return session.scalar(
        select(CorrectionNotice)
        .join(CreditRecord, CreditRecord.id == CorrectionNotice.record_id)
        .join(Subject, Subject.id == CreditRecord.subject_id)
        .where(
            CorrectionNotice.id == notice_id,
            CorrectionNotice.institution_id == institution.id,
            Subject.shredded_at.is_(None),  # as the list leaves them out: they can no longer be read
        )
    )


def acknowledge(session: Session, notice: CorrectionNotice, now: datetime | None = None) -> CorrectionNotice:
    """Mark the notice (`own_notice` found it) acknowledged. Only the first
    acknowledgement counts: acknowledging again changes nothing and gives
    the same time."""
    # One conditional update: of two acknowledgements at once, the first wins.
    session.execute(
        update(CorrectionNotice)
        .where(CorrectionNotice.id == notice.id, CorrectionNotice.acknowledged_at.is_(None))
        .values(acknowledged_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return session.scalars(
        select(CorrectionNotice).where(CorrectionNotice.id == notice.id).execution_options(populate_existing=True)
    ).one()


def issue_notice_pdf(
    session: Session,
    vault: Vault,
    signer: DocumentSigner,
    notice: CorrectionNotice,
    key_id: str,
    build: Callable[[dict[str, Any], str], bytes],
) -> bytes:
    """The notice as a signed document for the institution it was sent to
    (`build(body, number)` lays it out); its download is an access event of
    the subject's file by that institution, carrying the file's hash."""
    subject = session.scalars(
        select(Subject)
        .join(CreditRecord, CreditRecord.subject_id == Subject.id)
        .where(CreditRecord.id == notice.record_id)
    ).one()
    body = json.loads(vault.cipher(session, subject.data_key_id).open_field(notice, "body") or "{}")
    return issue_pdf(
        session,
        signer,
        kind="correction notice",
        series=f"notice:{notice.id}",
        replaces=False,
        build=lambda number: build(body, number),
        log=lambda document: record_event(
            session,
            vault,
            subject,
            EventKind.EXPORT,
            channel="api",
            institution_id=notice.institution_id,
            detail={"what": "correction notice", "notice_id": str(notice.id), "key_id": key_id, **document},
        ),
    )


__all__ = ["NoticeItem", "NoticePage", "acknowledge", "issue_notice_pdf", "list_for_institution", "own_notice"]


# -- sending, when a decision changes a record -----------------------------------
def send_notices(
    session: Session,
    vault: Vault,
    subject: Subject,
    dispute: Dispute,
    record: CreditRecord,
    outcome: DisputeOutcome,
    letter: dict[str, Any],
    now: datetime,
) -> list[CorrectionNotice]:
    """One notice per institution that received `record` in the look-back
    window (the latest such disclosure), found in what was actually sent."""
    since = now - timedelta(days=LOOK_BACK_EMPLOYMENT_DAYS)
    rows = session.execute(
        select(Disclosure, AccessEvent)
        .join(AccessEvent, AccessEvent.id == Disclosure.event_id)
        .where(
            Disclosure.subject_id == subject.id, Disclosure.created_at >= since, AccessEvent.outcome == Outcome.SERVED
        )
        .order_by(Disclosure.created_at.desc())
    ).all()
    told: dict[uuid.UUID, CorrectionNotice] = {}
    for disclosure, event in rows:
        window = LOOK_BACK_EMPLOYMENT_DAYS if event.purpose == Purpose.EMPLOYMENT_SCREENING else LOOK_BACK_DAYS
        if disclosure.institution_id in told or disclosure.created_at < now - timedelta(days=window):
            continue
        sent = json.loads(open_snapshot(session, vault, subject, disclosure))
        if not any(r.get("id") == str(record.id) for r in sent.get("records", [])):
            continue
        change = next(c for c in letter["changes"] if c["record_id"] == str(record.id))
        body = {
            "dispute_id": str(dispute.id),
            "record_id": str(record.id),
            "reference": change["reference"],
            "outcome": outcome.value,
            "decided_at": letter["decided_at"],
            "change": change["change"],
            "received_at": disclosure.created_at.isoformat(),
            "received_query_id": str(event.id),
            "record": _current(session, vault, subject, record),
        }
        notice = CorrectionNotice(
            id=new_id(),
            dispute_id=dispute.id,
            institution_id=disclosure.institution_id,
            record_id=record.id,
            received_event_id=event.id,
            created_at=now,
        )
        vault.cipher(session, subject.data_key_id).seal_field(
            notice, "body", json.dumps(body, ensure_ascii=False, sort_keys=True)
        )
        session.add(notice)
        record_event(
            session,
            vault,
            subject,
            EventKind.CORRECTION_NOTICE,
            channel="staff",
            institution_id=disclosure.institution_id,
            detail={
                "dispute_id": str(dispute.id),
                "record_id": str(record.id),
                "notice_id": str(notice.id),
                "outcome": outcome.value,
                "received_query_id": str(event.id),
            },
        )
        told[disclosure.institution_id] = notice
    session.flush()
    return list(told.values())


def _current(session: Session, vault: Vault, subject: Subject, record: CreditRecord) -> dict[str, Any] | None:
    """The record as recipients may now see it; None once it is no longer
    disclosed."""
    if record.deleted_at is not None or record.publicity_ended_at is not None:
        return None
    return record_document(
        vault.cipher(session, subject.data_key_id),
        record,
        current_version(session, record),
        session.get_one(Institution, record.furnisher_id),
        bool(disputed_records(session, [record.id])),
        statements_for(session, vault, subject, [record.id]).get(record.id, []),
    )
