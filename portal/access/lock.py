"""The query lock: while a subject's file is locked, institution queries
are refused (court enforcement excepted, and shown). `legal_basis` reads
`Subject.locked_at` on every query, so setting or releasing it takes effect
with the request that does it. Services flush, never commit."""

from __future__ import annotations

from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.audit.events import record_event
from portal.audit.models import EventKind
from portal.crypto import Vault
from portal.db import utcnow
from portal.records.models import Subject
from portal.records.services import hold_subject


def set_lock(session: Session, vault: Vault, subject: Subject, by_user: User) -> bool:
    """Lock the file; False (and no event) when it already was."""
    hold_subject(session, subject, exclusive=True)  # queries under way finish first
    if subject.locked_at is not None:
        return False
    subject.locked_at = utcnow()
    session.flush()
    record_event(
        session,
        vault,
        subject,
        EventKind.LOCK_SET,
        channel="web",
        actor_user_id=by_user.id,
        detail={"role": by_user.role.value},
    )
    return True


def release_lock(session: Session, vault: Vault, subject: Subject, by_user: User) -> bool:
    """Unlock the file; False (and no event) when it was not locked."""
    if subject.locked_at is None:
        return False
    locked_since = subject.locked_at
    subject.locked_at = None
    session.flush()
    record_event(
        session,
        vault,
        subject,
        EventKind.LOCK_RELEASED,
        channel="web",
        actor_user_id=by_user.id,
        detail={"role": by_user.role.value, "locked_since": locked_since.isoformat()},
    )
    return True
