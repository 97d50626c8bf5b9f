"""Who may see which subject. Every load of subject data goes through
`load_subject`, which answers 404 for what the actor may not see."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from flask import abort
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import DelegationScope, FirmDelegation, Role, User
from portal.localtime import today as local_today
from portal.records.models import Subject


@dataclass(frozen=True)
class SubjectAccess:
    subject: Subject
    scopes: frozenset[DelegationScope]
    delegation: FirmDelegation | None  # set when an agent acts for a firm

    @property
    def is_own(self) -> bool:
        return self.delegation is None


ALL_SCOPES = frozenset(DelegationScope)


def accessible(session: Session, user: User, today: date | None = None) -> list[SubjectAccess]:
    """The subjects a user may act for: their own, and for an agent, the
    firms of their live delegations."""
    today = today or local_today()
    out = []
    if user.subject_id and user.role in (Role.PERSON, Role.FIRM_REPRESENTATIVE):
        subject = session.get(Subject, user.subject_id)
        if subject is not None and subject.shredded_at is None:
            out.append(SubjectAccess(subject, ALL_SCOPES, None))
    if user.role is Role.FIRM_AGENT:
        for d in session.scalars(select(FirmDelegation).where(FirmDelegation.agent_id == user.id,
                                                              FirmDelegation.revoked_at.is_(None))):
            if d.is_live(today):
                subject = session.get(Subject, d.firm_id)
                if subject is not None and subject.shredded_at is None:
                    out.append(SubjectAccess(subject, frozenset(DelegationScope(s) for s in d.scopes), d))
    return out


def load_subject(session: Session, user: User, subject_id: uuid.UUID,
                 scope: DelegationScope = DelegationScope.VIEW_REPORT) -> SubjectAccess:
    for access in accessible(session, user):
        if access.subject.id == subject_id and scope in access.scopes:
            return access
    abort(404)


def represents(user: User, firm_id: uuid.UUID) -> bool:
    return user.role is Role.FIRM_REPRESENTATIVE and user.subject_id == firm_id
