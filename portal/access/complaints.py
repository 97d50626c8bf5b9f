""""I did not authorise this": a complaint about one access event. It
reaches the compliance officers at once (in-app) and becomes a dispute
once disputes exist."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.access.events import record_event
from portal.access.models import AccessEvent, Complaint, EventKind
from portal.accounts.models import Role, User
from portal.crypto import Vault
from portal.db import new_id
from portal.notifications.services import notify
from portal.records.models import Subject

MAX_STATEMENT = 2000


def file_complaint(session: Session, vault: Vault, subject: Subject, event: AccessEvent, by_user: User,
                   statement: str) -> Complaint:
    statement = statement.strip()
    if not statement or len(statement) > MAX_STATEMENT:
        raise ValueError(_("Describe what happened in at most %(n)d characters.", n=MAX_STATEMENT))
    complaint = Complaint(id=new_id(), subject_id=subject.id, event_id=event.id, filed_by_user_id=by_user.id,
                          status="open")
    vault.cipher(session, subject.data_key_id).seal_field(complaint, "statement", statement)
    session.add(complaint)
    record_event(session, vault, subject, EventKind.COMPLAINT_FILED, actor_user_id=by_user.id,
                 detail={"complaint": str(complaint.id), "about_event": str(event.id)})
    for officer in session.scalars(select(User).where(User.role == Role.OFFICER, User.is_active.is_(True))):
        notify(session, vault, key_id=officer.data_key_id, user=officer,
               title=_("New complaint: access not authorised"),
               body=_("A subject reports an access they did not authorise (complaint %(id)s).", id=complaint.id))
    return complaint


def complained(session: Session, event: AccessEvent) -> bool:
    return session.scalar(select(Complaint.id).where(Complaint.event_id == event.id)) is not None
