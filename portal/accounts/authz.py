"""Who may see what on the subject's side: the one policy for people, firm
representatives and their agents. Every route loads through these
functions, which check the signed-in user against the object and raise
NotFound (a 404 page) for what they may not see, whether it exists or not.
An agent asking for what its delegation does not cover, at a firm it does
act for, gets OutsideAuthority instead: a 403 page saying what its
authority covers and who can extend it.

- `load_subject`: a subject the user acts for, holding `scope` (an agent
  holds only the scopes of a live delegation).
- `load_own`: the subject's own account, never an agent (consents, lock).
- `load_represented_firm`: the firm a representative acts for (its agents).
- `load_of`: an object of that subject (a dispute, an access event, a record).
- `load_part`: a part of an object already loaded (a dispute's evidence).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import Forbidden, NotFound

from portal.accounts.models import DelegationScope, FirmDelegation, Role, User
from portal.localtime import today as local_today
from portal.records.models import Subject

T = TypeVar("T")


@dataclass(frozen=True)
class SubjectAccess:
    subject: Subject
    scopes: frozenset[DelegationScope]
    delegation: FirmDelegation | None  # set when an agent acts for a firm

    @property
    def is_own(self) -> bool:
        return self.delegation is None


ALL_SCOPES = frozenset(DelegationScope)


class OutsideAuthority(Forbidden):
    """An agent acts for this firm, but not for this: `needed` is the scope
    it lacks, or None for what only the firm's representative does (its
    authorities, its lock, its agents). The error page shows `scopes`, what
    the delegation does cover."""

    def __init__(self, access: SubjectAccess, needed: DelegationScope | None) -> None:
        super().__init__()
        self.subject_id = access.subject.id
        self.scopes = [s.value for s in DelegationScope if s in access.scopes]
        self.needed = needed.value if needed is not None else None


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
        for d in session.scalars(
            select(FirmDelegation).where(FirmDelegation.agent_id == user.id, FirmDelegation.revoked_at.is_(None))
        ):
            if d.is_live(today):
                subject = session.get(Subject, d.firm_id)
                if subject is not None and subject.shredded_at is None:
                    out.append(SubjectAccess(subject, frozenset(DelegationScope(s) for s in d.scopes), d))
    return out


def load_subject(
    session: Session, user: User, subject_id: uuid.UUID, scope: DelegationScope = DelegationScope.VIEW_REPORT
) -> SubjectAccess:
    for access in accessible(session, user):
        if access.subject.id == subject_id:
            if scope not in access.scopes:
                raise OutsideAuthority(access, scope)
            return access
    raise NotFound()


def load_own(session: Session, user: User, subject_id: uuid.UUID) -> SubjectAccess:
    """The subject, for its own account (or its representative), not for
    agents: consents and the lock are the subject's alone."""
    access = load_subject(session, user, subject_id)
    if not access.is_own:
        raise OutsideAuthority(access, None)
    return access


def represents(user: User, firm_id: uuid.UUID) -> bool:
    return user.role is Role.FIRM_REPRESENTATIVE and user.subject_id == firm_id


def load_represented_firm(session: Session, user: User, firm_id: uuid.UUID) -> Subject:
    """The firm the user is the representative of (who alone manages its
    agents). An agent of that firm is told so (OutsideAuthority)."""
    if not represents(user, firm_id):
        load_own(session, user, firm_id)  # raises: NotFound, or OutsideAuthority for the firm's agents
        raise NotFound()
    return load_subject(session, user, firm_id).subject


def load_of(session: Session, access: SubjectAccess, model: type[T], object_id: uuid.UUID) -> T:
    """The `model` row `object_id` when it belongs to the subject of
    `access` (its `subject_id`); another subject's is not found either."""
    return load_part(session, model, object_id, subject_id=access.subject.id)


def load_part(session: Session, model: type[T], object_id: uuid.UUID, **owner: Any) -> T:
    """The `model` row `object_id` when its columns hold `owner`, say
    `dispute_id=dispute.id`: an id of another dispute's file in the URL is
    404, even when both disputes are the same subject's."""
    row = session.get(model, object_id)
    if row is None or any(getattr(row, column) != value for column, value in owner.items()):
        raise NotFound()
    return row


def found(value: T | None) -> T:
    """`value`, or NotFound when there is none."""
    if value is None:
        raise NotFound()
    return value
