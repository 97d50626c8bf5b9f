"""Correction notices as their recipients read them through the API: an
institution that received a record a decision later changed lists its
notices and acknowledges each once. An institution sees only its own
(`own_notice`); any other notice is None, whether it exists or not.
Services flush, never commit."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from portal.crypto import Vault
from portal.db import utcnow
from portal.disputes.models import CorrectionNotice
from portal.institutions.models import Institution
from portal.records.models import CreditRecord, Subject


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


def list_for_institution(session: Session, vault: Vault, institution: Institution,
                         acknowledged: bool | None = False, limit: int = 50, offset: int = 0) -> NoticePage:
    """The institution's notices, unacknowledged first, then oldest first.
    `acknowledged`: False for those still to acknowledge (the default),
    True for those acknowledged, None for all. A shredded subject's notices
    can no longer be read and are left out."""
    where = [CorrectionNotice.institution_id == institution.id, Subject.shredded_at.is_(None)]
    if acknowledged is True:
        where.append(CorrectionNotice.acknowledged_at.is_not(None))
    elif acknowledged is False:
        where.append(CorrectionNotice.acknowledged_at.is_(None))
    base = (select(CorrectionNotice, Subject.data_key_id)
            .join(CreditRecord, CreditRecord.id == CorrectionNotice.record_id)
            .join(Subject, Subject.id == CreditRecord.subject_id).where(*where))
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    pending_first = case((CorrectionNotice.acknowledged_at.is_(None), 0), else_=1)
    rows = session.execute(base.order_by(pending_first, CorrectionNotice.created_at, CorrectionNotice.id)
                           .limit(limit).offset(offset)).all()
    return NoticePage([_item(vault.cipher(session, key_id).open_field(n, "body"), n) for n, key_id in rows], total)


def _item(body: str | None, notice: CorrectionNotice) -> NoticeItem:
    return NoticeItem(notice.id, notice.dispute_id, notice.record_id, notice.created_at, notice.acknowledged_at,
                      json.loads(body) if body else {})


def own_notice(session: Session, institution: Institution, notice_id: uuid.UUID) -> CorrectionNotice | None:
    """The notice, when it was sent to `institution`; None otherwise."""
    return session.scalar(select(CorrectionNotice).where(CorrectionNotice.id == notice_id,
                                                         CorrectionNotice.institution_id == institution.id))


def acknowledge(session: Session, notice: CorrectionNotice, now: datetime | None = None) -> CorrectionNotice:
    """Mark the notice (`own_notice` found it) acknowledged. Only the first
    acknowledgement counts: acknowledging again changes nothing and gives
    the same time."""
    # One conditional update: of two acknowledgements at once, the first wins.
    session.execute(update(CorrectionNotice).where(CorrectionNotice.id == notice.id,
                                                   CorrectionNotice.acknowledged_at.is_(None))
                    .values(acknowledged_at=now or utcnow()).execution_options(synchronize_session=False))
    return session.scalars(select(CorrectionNotice).where(CorrectionNotice.id == notice.id)
                           .execution_options(populate_existing=True)).one()

__all__ = ["NoticeItem", "NoticePage", "acknowledge", "list_for_institution", "own_notice"]
