"""Disclosures: exactly what an institution received. The report body is
kept as the canonical JSON bytes that were sent, sealed under the subject's
data key, with their SHA-256; it is linked to the INSTITUTION_QUERY event,
so the subject can open it from their access log."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit.models import AccessEvent, Disclosure
from portal.audit.subjects import KeyedSubject
from portal.crypto import Vault
from portal.crypto.errors import DecryptionFailed
from portal.db import new_id, utcnow


def store(session: Session, vault: Vault, subject: KeyedSubject, event: AccessEvent, body: bytes) -> Disclosure:
    """Keep `body`, the exact bytes sent, for the query `event`."""
    if event.subject_id != subject.id or event.institution_id is None:
        raise ValueError("a disclosure belongs to an institution's query about this subject")
    row = Disclosure(
        id=new_id(),
        event_id=event.id,
        subject_id=subject.id,
        institution_id=event.institution_id,
        snapshot_hash=hashlib.sha256(body).digest(),
        created_at=utcnow(),
    )
    # Bytes in, bytes out: sealed as sent, not re-encoded.
    row.snapshot_ct = vault.cipher(session, subject.data_key_id).seal(
        Disclosure.__tablename__, "snapshot", row.id, body
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class DisclosureView:
    id: uuid.UUID
    event_id: uuid.UUID
    created_at: datetime
    hash: str  # hex SHA-256 of `body`
    body: bytes  # the exact bytes sent
    report: Any  # `body` decoded


def open_snapshot(session: Session, vault: Vault, subject: KeyedSubject, row: Disclosure) -> bytes:
    body = vault.cipher(session, subject.data_key_id).open(
        Disclosure.__tablename__, "snapshot", row.id, row.snapshot_ct
    )
    # The ciphertext is authenticated; the hash column is not: check it.
    if not hmac.compare_digest(hashlib.sha256(body).digest(), row.snapshot_hash):
        raise DecryptionFailed(f"disclosure {row.id}: the stored hash does not match the snapshot")
    return body


def disclosure_for_event(
    session: Session, vault: Vault, subject: KeyedSubject, event_id: uuid.UUID
) -> DisclosureView | None:
    """What was disclosed by one of the subject's access events; None when
    the event disclosed nothing (or is not the subject's)."""
    row = session.scalar(select(Disclosure).where(Disclosure.event_id == event_id, Disclosure.subject_id == subject.id))
    if row is None:
        return None
    body = open_snapshot(session, vault, subject, row)
    return DisclosureView(row.id, row.event_id, row.created_at, row.snapshot_hash.hex(), body, json.loads(body))
