"""Writing and reading access events. Callers write the event in the same
transaction as the action it records."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.access.models import AccessEvent, EventKind, Outcome
from portal.crypto import Vault
from portal.db import new_id, utcnow
from portal.records.models import Subject


def record_event(session: Session, vault: Vault, subject: Subject, kind: EventKind, *,
                 channel: str = "web", outcome: Outcome = Outcome.SERVED, actor_user_id: uuid.UUID | None = None,
                 institution_id: uuid.UUID | None = None, purpose: str | None = None,
                 detail: dict[str, Any] | None = None) -> AccessEvent:
    event = AccessEvent(id=new_id(), subject_id=subject.id, occurred_at=utcnow(), kind=kind, outcome=outcome,
                        channel=channel, actor_user_id=actor_user_id, institution_id=institution_id,
                        purpose=purpose)
    vault.cipher(session, subject.data_key_id).seal_field(
        event, "detail", json.dumps(detail or {}, ensure_ascii=False, sort_keys=True))
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class EventView:
    id: uuid.UUID
    occurred_at: datetime
    kind: EventKind
    outcome: Outcome
    channel: str
    purpose: str | None
    institution_id: uuid.UUID | None
    detail: dict[str, Any]


def recent_events(session: Session, vault: Vault, subject: Subject, limit: int = 10) -> list[EventView]:
    cipher = vault.cipher(session, subject.data_key_id)
    rows = session.scalars(select(AccessEvent).where(AccessEvent.subject_id == subject.id)
                           .order_by(AccessEvent.occurred_at.desc()).limit(limit))
    return [EventView(e.id, e.occurred_at, e.kind, e.outcome, e.channel, e.purpose, e.institution_id,
                      json.loads(cipher.open_field(e, "detail"))) for e in rows]
