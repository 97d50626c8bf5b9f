"""Who holds a case: an officer takes it, a supervisor gives it to another
(the rules are `policy.assignment_refusal`). Services flush, never commit."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from portal.accounts.models import Role, User
from portal.accounts.services import display_name
from portal.compliance import policy
from portal.compliance.policy import CASE_ROLES, AssignmentRefused
from portal.crypto import Vault
from portal.disputes.lifecycle import StaleDispute, write_step
from portal.disputes.models import Dispute, DisputeStep, StepKind
from portal.i18n import N_


def assign(
    session: Session,
    vault: Vault,
    dispute: Dispute,
    actor: User,
    officer: User | None = None,
    expected_version: int | None = None,
) -> DisputeStep:
    """`actor` takes the case (no `officer`), or a supervisor assigns it to
    `officer`. Nobody linked to the subject can hold the case; a case held
    by someone else is reassigned only by a supervisor."""
    me = policy.viewer(session, actor)
    target = None if officer is None or officer.id == actor.id else policy.viewer(session, officer)
    policy.require(policy.assignment_refusal(me, dispute, target, expected_version))
    holder = target or me
    previous = dispute.assigned_officer_id
    dispute_id = dispute.id
    with session.begin_nested():  # a change found at flush leaves nothing behind
        dispute.assigned_officer_id = holder.id
        try:
            session.flush()
        except StaleDataError:
            raise StaleDispute(dispute_id) from None
        detail: dict[str, Any] = {"officer_id": str(holder.id)}
        if previous is not None:
            detail["previous_officer_id"] = str(previous)
        return write_step(session, vault, dispute, StepKind.ASSIGNED, actor, None, detail)


def assign_to(
    session: Session,
    vault: Vault,
    dispute: Dispute,
    actor: User,
    officer_id: uuid.UUID,
    expected_version: int | None = None,
) -> DisputeStep:
    """`assign` to the user with this id (a form's choice)."""
    officer = session.get(User, officer_id)
    if officer is None:
        raise AssignmentRefused(N_("A case can be assigned only to an active officer or supervisor."))
    return assign(session, vault, dispute, actor, officer, expected_version=expected_version)


def assignable_officers(session: Session, vault: Vault) -> list[tuple[uuid.UUID, str, Role]]:
    """(id, display name, role) of everyone who may hold a case."""
    users = session.scalars(select(User).where(User.role.in_(CASE_ROLES), User.is_active.is_(True))).all()
    out = [(u.id, display_name(session, vault, u), Role(u.role)) for u in users]
    return sorted(out, key=lambda o: (o[1].casefold(), str(o[0])))


__all__ = ["assign", "assign_to", "assignable_officers"]
