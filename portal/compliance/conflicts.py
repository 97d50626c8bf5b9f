"""Officers' declared links to subjects (a relative, an employer, their own
firm): declared from a case page or by operators (`portal disputes
conflicts`). The subject's cases then do not exist for that officer
(`policy`), and those they held go back to the queue. Services flush, never
commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.compliance import policy
from portal.crypto import Vault
from portal.disputes.lifecycle import touch, write_step
from portal.disputes.models import OPEN_STATUSES, Dispute, OfficerConflict, StepKind
from portal.records.models import Subject


def declare_conflict(session: Session, vault: Vault, officer: User, subject: Subject) -> int:
    """Record that `officer` is linked to `subject`; the open cases of the
    subject they hold go back to the queue, each with a timeline step (and
    a new version, so pages showing the old holder are stale). Returns how
    many."""
    if (
        session.scalar(
            select(OfficerConflict.id).where(
                OfficerConflict.officer_user_id == officer.id, OfficerConflict.subject_id == subject.id
            )
        )
        is None
    ):
        session.add(OfficerConflict(officer_user_id=officer.id, subject_id=subject.id))
    held = session.scalars(
        select(Dispute).where(
            Dispute.subject_id == subject.id,
            Dispute.assigned_officer_id == officer.id,
            Dispute.status.in_(OPEN_STATUSES),
        )
    ).all()
    for dispute in held:
        dispute.assigned_officer_id = None
        touch(session, dispute)
        write_step(
            session,
            vault,
            dispute,
            StepKind.RELEASED,
            None,
            None,
            {"previous_officer_id": str(officer.id), "why": "conflict_declared"},
            touch=False,
        )
    session.flush()
    return len(held)


def withdraw_conflict(session: Session, officer: User, subject: Subject) -> bool:
    """Remove a declaration made in error; False when there was none."""
    row = session.scalar(
        select(OfficerConflict).where(
            OfficerConflict.officer_user_id == officer.id, OfficerConflict.subject_id == subject.id
        )
    )
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def conflicts_of(session: Session, officer: User) -> list[tuple[OfficerConflict, Subject]]:
    """The subjects `officer` declared, oldest declaration first."""
    return [
        (row, subject)
        for row, subject in session.execute(
            select(OfficerConflict, Subject)
            .join(Subject, Subject.id == OfficerConflict.subject_id)
            .where(OfficerConflict.officer_user_id == officer.id)
            .order_by(OfficerConflict.declared_at)
        )
    ]


def recuse(session: Session, vault: Vault, dispute: Dispute, officer: User, expected_version: int | None = None) -> int:
    """An officer declares from a case that they are linked to its subject:
    the subject's cases disappear for them, and those they held go back to
    the queue (the case's version moves, so pages showing the old holder
    are stale). Returns how many cases went back."""
    policy.require(policy.recusal_refusal(officer, dispute, expected_version))
    with session.begin_nested():  # a refusal at flush leaves nothing (see `actions`)
        touch(session, dispute)
        return declare_conflict(session, vault, officer, session.get_one(Subject, dispute.subject_id))


__all__ = ["conflicts_of", "declare_conflict", "recuse", "withdraw_conflict"]
