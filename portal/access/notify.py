"""Telling a subject that an institution asked for their file: in-app and
by e-mail, in their own language, to everyone who holds the subject's own
account. The background worker does it (`tell_of_queries`), reading the
access log in order within a second or so of the query, so a query's
request writes no message and sends no e-mail."""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.accounts.services import tell_user
from portal.audit.events import claim_cursor
from portal.audit.models import AccessEvent, EventKind, Outcome
from portal.audit.names import PURPOSE_NAMES
from portal.crypto import Vault
from portal.i18n import DEFAULT, local_name
from portal.institutions.models import Institution
from portal.records.models import Subject


def tell_subject_of_query(
    session: Session, vault: Vault, subject: Subject, institution: Institution, purpose: str, outcome: Outcome
) -> int:
    """Returns how many people were told."""
    holders = session.scalars(
        select(User).where(
            User.subject_id == subject.id,
            User.is_active.is_(True),
            User.role.in_([Role.PERSON, Role.FIRM_REPRESENTATIVE]),
        )
    ).all()
    for user in holders:
        with force_locale(user.locale or DEFAULT):  # the reader's language, not the institution's
            _tell(session, vault, user, institution, purpose, outcome)
    return len(holders)


def _tell(session: Session, vault: Vault, user: User, institution: Institution, purpose: str, outcome: Outcome) -> None:
    what, name = str(PURPOSE_NAMES.get(purpose, purpose)), local_name(institution)
    if outcome is Outcome.SERVED:
        title = _("%(institution)s received your credit report", institution=name)
        body = _(
            "%(institution)s received your credit report for: %(purpose)s. See exactly what they "
            'received under "Who accessed my data". If you did not authorise this, say so there.',
            institution=name,
            purpose=what,
        )
    else:
        title = _("%(institution)s was refused your credit report", institution=name)
        body = _(
            "%(institution)s asked for your credit report for: %(purpose)s, and was refused (no valid "
            "authority, or your file is locked). Nothing was disclosed.",
            institution=name,
            purpose=what,
        )
    tell_user(session, vault, user, title, body)


QUERY_NOTICES = "query_notices"


def tell_of_queries(session: Session, vault: Vault, limit: int = 200) -> int:
    """Tell the subjects of institutions' queries (served or refused) placed
    in the log since the last run, each once, in log order; returns how
    many queries were taken. The worker's job: on PostgreSQL one worker at
    a time holds the cursor, the others pass. Flushes, never commits."""
    cursor = claim_cursor(session, QUERY_NOTICES)
    if cursor is None:
        return 0
    events = session.scalars(
        select(AccessEvent)
        .where(AccessEvent.kind == EventKind.INSTITUTION_QUERY, AccessEvent.log_index > cursor.position)
        .order_by(AccessEvent.log_index)
        .limit(limit)
    ).all()
    for event in events:
        subject = session.get(Subject, event.subject_id)
        institution = session.get(Institution, event.institution_id) if event.institution_id else None
        if subject is not None and subject.shredded_at is None and institution is not None:
            tell_subject_of_query(session, vault, subject, institution, event.purpose or "", event.outcome)
        if event.log_index is not None:  # always, by the query's condition
            cursor.position = event.log_index
    session.flush()
    return len(events)
