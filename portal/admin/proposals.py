"""The two-person rule. Granting the administrator role, rotating the
key-encryption key and erasing a subject are proposed by one administrator
and carried out only when a different one approves, within 24 hours, in the
approving transaction. Proposals are never edited after their decision;
each step is a row of the operators' journal."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.accounts.services import shred_subject
from portal.admin import staff
from portal.admin.errors import Refused
from portal.admin.models import Proposal, ProposalAction, ProposalState, StaffInvitation
from portal.audit import operator_acts
from portal.crypto import Vault
from portal.db import utcnow
from portal.records.models import Subject

TTL = timedelta(hours=24)
PER_PAGE = 50
MAX_REASON = 2000


def _journal(session: Session, actor: User, action: str, p: Proposal, channel: str, **detail) -> None:
    target = {"user": str(p.target_user_id)} if p.target_user_id else {}
    if p.target_subject_id:
        target = {"subject": str(p.target_subject_id)}
    operator_acts.record(
        session,
        actor_id=actor.id,
        action=action,
        target_kind="proposal",
        target=str(p.id),
        channel=channel,
        proposal=p.action.value,
        **target,
        **detail,
    )


def is_expired(p: Proposal, now: datetime | None = None) -> bool:
    return p.state is ProposalState.PENDING and p.expires_at <= (now or utcnow())


def _open(session: Session, action: ProposalAction, user: User | None, subject: Subject | None) -> Proposal | None:
    return session.scalar(
        select(Proposal).where(
            Proposal.action == action,
            Proposal.state == ProposalState.PENDING,
            Proposal.expires_at > utcnow(),
            Proposal.target_user_id == user.id if user else Proposal.target_user_id.is_(None),
            Proposal.target_subject_id == subject.id if subject else Proposal.target_subject_id.is_(None),
        )
    )


def propose(
    session: Session,
    actor: User,
    action: ProposalAction,
    *,
    reason: str,
    user: User | None = None,
    subject: Subject | None = None,
    channel: str = "web",
) -> Proposal:
    reason = reason.strip()
    if not reason:
        raise Refused(_("Give the reason, for the administrator who approves it."))
    if len(reason) > MAX_REASON:
        raise Refused(_("The reason is too long (at most %(num)d characters).", num=MAX_REASON))
    if action is ProposalAction.GRANT_ADMINISTRATOR:
        if user is None or Role(user.role) not in staff.STAFF_ROLES:
            raise Refused(_("Only a member of staff can become an administrator."))
        if Role(user.role) is Role.ADMINISTRATOR and user.is_active and user.password_hash is not None:
            raise Refused(_("This person is already an administrator."))
        if actor.id == user.id:
            raise Refused(_("Ask another administrator to change your own account."))
    if action is ProposalAction.ERASE_SUBJECT and (subject is None or subject.shredded_at is not None):
        raise Refused(_("This file is already erased."))
    if _open(session, action, user, subject) is not None:
        raise Refused(_("The same proposal is already waiting for approval."))
    now = utcnow()
    p = Proposal(
        action=action,
        state=ProposalState.PENDING,
        target_user_id=user.id if user else None,
        target_subject_id=subject.id if subject else None,
        reason=reason,
        proposed_by_id=actor.id,
        proposed_at=now,
        expires_at=now + TTL,
    )
    session.add(p)
    session.flush()
    _journal(session, actor, "proposal_made", p, channel)
    return p


def load_for_decision(session: Session, proposal_id: uuid.UUID) -> Proposal | None:
    """The proposal, locked: two administrators approving at once carry it
    out once."""
    return session.get(Proposal, proposal_id, with_for_update=True)


def _decidable(p: Proposal) -> None:
    if p.state is not ProposalState.PENDING:
        raise Refused(_("This proposal was already decided."))
    if is_expired(p):
        raise Refused(_("This proposal expired: more than 24 hours passed. Propose it again if it is still needed."))


def approve(
    session: Session, vault: Vault, actor: User, p: Proposal, *, link: Callable[[str], str], channel: str = "web"
) -> None:
    _decidable(p)
    if actor.id == p.proposed_by_id:
        raise Refused(_("A different administrator must approve what you proposed."))
    if p.target_user_id == actor.id:
        raise Refused(_("Ask another administrator to change your own account."))
    _carry_out(session, vault, p, link)
    p.state, p.decided_by_id, p.decided_at = ProposalState.APPROVED, actor.id, utcnow()
    _journal(session, actor, "proposal_approved", p, channel)


def reject(session: Session, actor: User, p: Proposal, note: str, channel: str = "web") -> None:
    """Another administrator turns it down, or its proposer withdraws it."""
    _decidable(p)
    withdrawn = actor.id == p.proposed_by_id
    p.state = ProposalState.WITHDRAWN if withdrawn else ProposalState.REJECTED
    p.decided_by_id, p.decided_at, p.decision_note = actor.id, utcnow(), note.strip()[:MAX_REASON] or None
    _release_held_invitation(session, p)
    _journal(session, actor, "proposal_withdrawn" if withdrawn else "proposal_rejected", p, channel)


def _release_held_invitation(session: Session, p: Proposal) -> None:
    """An invitee who was to be an administrator is not invited after all."""
    if p.action is not ProposalAction.GRANT_ADMINISTRATOR or p.target_user_id is None:
        return
    inv = session.scalar(
        select(StaffInvitation).where(
            StaffInvitation.user_id == p.target_user_id,
            StaffInvitation.token_hash.is_(None),
            StaffInvitation.revoked_at.is_(None),
        )
    )
    if inv is not None:
        inv.revoked_at = utcnow()


def expire(session: Session) -> int:
    """Mark pending proposals past their 24 hours as expired (the worker's
    job; a decision checks the time itself, so nothing waits on this)."""
    due = session.scalars(
        select(Proposal).where(Proposal.state == ProposalState.PENDING, Proposal.expires_at <= utcnow())
    ).all()
    for p in due:
        p.state = ProposalState.EXPIRED
        _release_held_invitation(session, p)
        operator_acts.record(
            session,
            actor_id=None,
            action="proposal_expired",
            target_kind="proposal",
            target=str(p.id),
            channel="worker",
            proposal=p.action.value,
        )
    return len(due)


def _carry_out(session: Session, vault: Vault, p: Proposal, link: Callable[[str], str]) -> None:
    if p.action is ProposalAction.GRANT_ADMINISTRATOR:
        staff.grant_administrator(session, vault, session.get_one(User, p.target_user_id), link)
    elif p.action is ProposalAction.ERASE_SUBJECT:
        subject = session.get_one(Subject, p.target_subject_id, with_for_update=True)
        if subject.shredded_at is None:
            shred_subject(session, vault, subject)
    elif p.action is ProposalAction.ROTATE_KEK:
        # A new key file now; new data keys are wrapped under it from here
        # on, and the worker re-wraps the existing ones in batches.
        vault.register_versions(session)
        vault.keyring.add_version()
        vault.register_versions(session)


@dataclass(frozen=True)
class ProposalRow:
    proposal: Proposal
    state: ProposalState  # pending ones past their 24 hours show as expired
    proposer: str
    decider: str | None
    target: str


@dataclass(frozen=True)
class ProposalPage:
    rows: list[ProposalRow]
    page: int
    pages: int
    total: int


def proposals_page(session: Session, vault: Vault, page: int, names: Callable[[uuid.UUID], str]) -> ProposalPage:
    """Pending first, then the rest newest first. `names(user_id)` names
    staff. Raises LookupError past the last page."""
    total = session.scalar(select(func.count()).select_from(Proposal)) or 0
    pages = max(1, -(-total // PER_PAGE))
    if page > pages:
        raise LookupError(page)
    pending_first = (Proposal.state != ProposalState.PENDING).asc()
    found = session.scalars(
        select(Proposal)
        .order_by(pending_first, Proposal.proposed_at.desc(), Proposal.id)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    now = utcnow()
    rows = [
        ProposalRow(
            proposal=p,
            state=ProposalState.EXPIRED if is_expired(p, now) else p.state,
            proposer=names(p.proposed_by_id),
            decider=names(p.decided_by_id) if p.decided_by_id else None,
            target=names(p.target_user_id)
            if p.target_user_id
            else (str(p.target_subject_id) if p.target_subject_id else ""),
        )
        for p in found
    ]
    return ProposalPage(rows, page, pages, total)


def pending_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).where(Proposal.state == ProposalState.PENDING, Proposal.expires_at > utcnow())
        )
        or 0
    )
