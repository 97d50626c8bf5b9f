"""Firms act through people: the legal representative invites agents by
e-mail with a scope and an end date, and revokes them. Every grant, use
and revocation is an access event of the firm."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import DelegationScope, FirmDelegation, Invitation, Role, User
from portal.accounts.services import (
    AccountExists,
    check_password_policy,
    create_user,
    display_name,
    find_user,
    normalise_email,
    user_email,
)
from portal.audit.events import record_event
from portal.audit.models import EventKind
from portal.crypto import Vault
from portal.db import new_id, utcnow
from portal.i18n import day
from portal.localtime import today as local_today
from portal.notifications.services import notify
from portal.records.models import Subject
from portal.records.services import view_subject

INVITATION_TTL = timedelta(days=7)


class InvitationInvalid(ValueError):
    pass


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def invite(
    session: Session,
    vault: Vault,
    rep: User,
    firm: Subject,
    *,
    email: str,
    scopes: list[str],
    valid_until: date,
    link: Callable[[str], str],
) -> Invitation:
    """`link(token)` makes the absolute URL the invitation e-mail carries."""
    email = normalise_email(email)
    scopes = sorted({DelegationScope(s).value for s in scopes})
    token = secrets.token_urlsafe(32)
    inv = Invitation(
        id=new_id(),
        firm_id=firm.id,
        invited_by_id=rep.id,
        scopes=scopes,
        valid_until=valid_until,
        token_hash=_hash(token),
        expires_at=utcnow() + INVITATION_TTL,
    )
    vault.cipher(session, firm.data_key_id).seal_field(inv, "email", email)
    session.add(inv)
    firm_name = view_subject(session, vault, firm).name
    notify(
        session,
        vault,
        key_id=firm.data_key_id,
        email=email,
        title=_("You are invited to act for %(firm)s", firm=firm_name),
        body=_(
            "%(rep)s invites you to act for %(firm)s on the credit subject portal until %(until)s. "
            "Accept within 7 days at: %(link)s",
            rep=display_name(session, vault, rep),
            firm=firm_name,
            until=day(valid_until),
            link=link(token),
        ),
    )
    record_event(
        session,
        vault,
        firm,
        EventKind.INVITATION_SENT,
        actor_user_id=rep.id,
        detail={"scopes": scopes, "valid_until": valid_until.isoformat()},
    )
    return inv


def open_invitation(session: Session, token: str) -> Invitation:
    inv = session.scalar(select(Invitation).where(Invitation.token_hash == _hash(token)))
    if inv is None or inv.accepted_at or inv.revoked_at or inv.expires_at <= utcnow():
        raise InvitationInvalid
    return inv


def invitation_email(session: Session, vault: Vault, inv: Invitation) -> str:
    firm = session.get_one(Subject, inv.firm_id)
    return vault.cipher(session, firm.data_key_id).open_text(inv, "email")


def accept(session: Session, vault: Vault, inv: Invitation, *, display: str, password: str) -> User:
    """Open an agent account for the invited address (the link proves it is
    theirs), or add the firm to that agent's existing account."""
    email = invitation_email(session, vault, inv)
    firm = session.get_one(Subject, inv.firm_id)
    agent = find_user(session, vault, email)
    if agent is None:
        check_password_policy(password, email)
        agent = create_user(session, vault, role=Role.FIRM_AGENT, email=email, display_name=display, password=password)
    elif agent.role is not Role.FIRM_AGENT:
        raise AccountExists(
            _(
                "This e-mail address belongs to another kind of account. "
                "Ask the representative to invite another address."
            )
        )
    delegation = FirmDelegation(
        firm_id=firm.id,
        agent_id=agent.id,
        granted_by_id=inv.invited_by_id,
        scopes=inv.scopes,
        valid_until=inv.valid_until,
    )
    session.add(delegation)
    session.flush()
    inv.accepted_at, inv.delegation_id = utcnow(), delegation.id
    record_event(
        session,
        vault,
        firm,
        EventKind.DELEGATION_GRANTED,
        actor_user_id=agent.id,
        detail={"scopes": inv.scopes, "valid_until": inv.valid_until.isoformat(), "granted_by": str(inv.invited_by_id)},
    )
    rep = session.get_one(User, inv.invited_by_id)
    notify(
        session,
        vault,
        key_id=rep.data_key_id,
        user=rep,
        title=_("An agent accepted your invitation"),
        body=_("%(agent)s can now act for the firm until %(until)s.", agent=display, until=day(inv.valid_until)),
    )
    return agent


def revoke(session: Session, vault: Vault, rep: User, firm: Subject, delegation_id: uuid.UUID) -> bool:
    d = session.get(FirmDelegation, delegation_id)
    if d is None or d.firm_id != firm.id or d.revoked_at is not None:
        return False
    d.revoked_at = utcnow()
    record_event(
        session,
        vault,
        firm,
        EventKind.DELEGATION_REVOKED,
        actor_user_id=rep.id,
        detail={"delegation": str(d.id), "agent": str(d.agent_id)},
    )
    session.flush()
    return True


def cancel_invitation(session: Session, vault: Vault, rep: User, firm: Subject, invitation_id: uuid.UUID) -> bool:
    inv = session.get(Invitation, invitation_id)
    if inv is None or inv.firm_id != firm.id or inv.accepted_at or inv.revoked_at:
        return False
    inv.revoked_at = utcnow()
    record_event(
        session, vault, firm, EventKind.INVITATION_CANCELLED, actor_user_id=rep.id, detail={"invitation": str(inv.id)}
    )
    return True


@dataclass(frozen=True)
class AgentView:
    id: uuid.UUID
    name: str
    email: str
    scopes: list[str]
    valid_until: date
    granted_at: datetime
    revoked_at: datetime | None
    live: bool


@dataclass(frozen=True)
class InvitationView:
    id: uuid.UUID
    email: str
    scopes: list[str]
    valid_until: date
    expires_at: datetime


def _agent_view(session: Session, vault: Vault, d: FirmDelegation, today: date) -> AgentView:
    agent = session.get_one(User, d.agent_id)
    return AgentView(
        d.id,
        display_name(session, vault, agent),
        user_email(session, vault, agent),
        d.scopes,
        d.valid_until,
        d.created_at,
        d.revoked_at,
        d.is_live(today),
    )


def agent_of(session: Session, vault: Vault, firm: Subject, delegation_id: uuid.UUID) -> AgentView | None:
    """One delegation of the firm, as the representative checks it before revoking; None if not the firm's."""
    d = session.get(FirmDelegation, delegation_id)
    return None if d is None or d.firm_id != firm.id else _agent_view(session, vault, d, local_today())


def firm_agents(session: Session, vault: Vault, firm: Subject) -> tuple[list[AgentView], list[InvitationView]]:
    today = local_today()
    agents = [
        _agent_view(session, vault, d, today)
        for d in session.scalars(
            select(FirmDelegation).where(FirmDelegation.firm_id == firm.id).order_by(FirmDelegation.created_at.desc())
        )
    ]
    pending = [
        InvitationView(i.id, invitation_email(session, vault, i), i.scopes, i.valid_until, i.expires_at)
        for i in session.scalars(
            select(Invitation)
            .where(
                Invitation.firm_id == firm.id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > utcnow(),
            )
            .order_by(Invitation.created_at.desc())
        )
    ]
    return agents, pending
