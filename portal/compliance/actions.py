"""The steps the officer holding a case takes: move it along, extend its
deadline, send a file to some of its furnishers, decide it. Who may is
`policy`; what the case's status allows, the lifecycle.

A refused step leaves nothing behind: each runs in a savepoint, since a
decision may refuse after it began writing and a change made meanwhile by
someone else shows only when the case is written. Services flush, never
commit."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.compliance import policy
from portal.compliance.policy import MOVE_ACTS, OFFICER_MOVES, Act
from portal.crypto import Vault
from portal.disputes import decisions, sharing
from portal.disputes.lifecycle import DisputeError, advance, extend
from portal.disputes.models import (
    OUTCOMES,
    Dispute,
    DisputeItem,
    DisputeKind,
    DisputeOutcome,
    DisputeStatus,
    DisputeStep,
    OutcomeLetter,
)
from portal.i18n import N_
from portal.institutions.models import Institution
from portal.records.models import Category, CreditRecord


def _status(to: DisputeStatus | str) -> DisputeStatus | None:
    try:
        return DisputeStatus(to)
    except ValueError:
        return None


def move(
    session: Session,
    vault: Vault,
    dispute: Dispute,
    officer: User,
    to: DisputeStatus | str,
    note: str | None = None,
    expected_version: int | None = None,
) -> DisputeStep:
    status = _status(to)
    policy.require(policy.act_refusal(officer, dispute, MOVE_ACTS.get(status) if status else None))
    if status is None:
        raise DisputeError(N_("%(status)s is not a status of a dispute."), status=repr(to))
    if status not in OFFICER_MOVES:
        raise DisputeError(N_("Use the decision form to resolve a case; only the subject withdraws one."))
    with session.begin_nested():
        return advance(session, vault, dispute, status, officer, note=note, expected_version=expected_version)


def extend_deadline(
    session: Session,
    vault: Vault,
    dispute: Dispute,
    officer: User,
    days: int,
    reason: str,
    expected_version: int | None = None,
) -> DisputeStep:
    policy.require(policy.act_refusal(officer, dispute, Act.EXTEND))
    with session.begin_nested():
        return extend(session, vault, dispute, officer, days, reason, expected_version=expected_version)


def decide(
    session: Session,
    vault: Vault,
    dispute: Dispute,
    officer: User,
    outcome: DisputeOutcome | str,
    reason: str,
    expected_version: int | None = None,
    per_record=None,
    unverifiable_policy: str = decisions.DEFAULT_POLICY,
) -> OutcomeLetter:
    """`unverifiable_policy`: the setting UNVERIFIABLE_POLICY."""
    policy.require(policy.act_refusal(officer, dispute, Act.DECIDE))
    if not (reason or "").strip():
        raise DisputeError(N_("A decision needs a reason."))
    with session.begin_nested():
        return decisions.decide(
            session,
            vault,
            dispute,
            officer,
            outcome,
            reason,
            expected_version=expected_version,
            per_record=per_record,
            unverifiable_policy=unverifiable_policy,
        )


def outcomes(dispute: Dispute) -> tuple[DisputeOutcome, ...]:
    """The outcomes a case of this kind may be decided with."""
    return OUTCOMES[DisputeKind(dispute.kind)]


def case_records(session: Session, dispute: Dispute) -> list[tuple[uuid.UUID, Category, Institution]]:
    """The records a case covers, with their category and furnisher (for
    the decision form: nothing sealed is opened)."""
    return [
        (record_id, category, institution)
        for record_id, category, institution in session.execute(
            select(CreditRecord.id, CreditRecord.category, Institution)
            .join(DisputeItem, DisputeItem.record_id == CreditRecord.id)
            .join(Institution, Institution.id == CreditRecord.furnisher_id)
            .where(DisputeItem.dispute_id == dispute.id)
            .order_by(CreditRecord.created_at, CreditRecord.id)
        )
    ]


def case_furnishers(session: Session, dispute: Dispute) -> list[Institution]:
    """The furnishers of the case's records, by code (who may receive its files)."""
    return sharing.case_furnishers(session, dispute.id)


def share_evidence(
    session: Session,
    dispute: Dispute,
    officer: User,
    evidence_id: uuid.UUID,
    institution_ids,
    expected_version: int | None = None,
) -> list[Institution]:
    """Send a file of a case spanning several furnishers to some of them."""
    policy.require(policy.act_refusal(officer, dispute, Act.SHARE, expected_version))
    with session.begin_nested():
        return sharing.share(session, dispute, officer, evidence_id, institution_ids)


__all__ = ["case_furnishers", "case_records", "decide", "extend_deadline", "move", "outcomes", "share_evidence"]
