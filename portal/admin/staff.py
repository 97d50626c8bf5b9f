"""Staff accounts: invitations by e-mail, roles and deactivation. Services
flush, never commit; every act is a row of the operators' journal.

An invitation creates the account at once, inactive and without a password
(its e-mail sealed under its own key, so there is nothing else to seal); the
link sets the name and password, and the first sign-in enrols the second
factor, which staff cannot skip. Making anyone an administrator goes
through the two-person rule (`proposals`)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts import sessions
from portal.accounts.models import Role, User
from portal.accounts.services import (
    check_password_policy,
    create_user,
    display_name,
    hash_password,
    normalise_email,
    user_email,
)
from portal.admin.errors import Refused
from portal.admin.models import StaffInvitation
from portal.audit import operator_acts
from portal.crypto import Vault
from portal.db import utcnow
from portal.notifications.services import notify

STAFF_ROLES = (Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR)
INVITATION_TTL = timedelta(days=7)
PER_PAGE = 50


class InvitationInvalid(LookupError):
    """No such link, or one used, withdrawn or expired."""


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def journal(session: Session, actor: User | None, action: str, user: User, channel: str = "web", **detail) -> None:
    operator_acts.record(
        session,
        actor_id=actor.id if actor else None,
        action=action,
        target_kind="user",
        target=str(user.id),
        channel=channel,
        **detail,
    )


def active_administrators(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                User.role == Role.ADMINISTRATOR, User.is_active.is_(True), User.password_hash.is_not(None)
            )
        )
        or 0
    )


def pending_invitation(session: Session, user: User) -> StaffInvitation | None:
    return session.scalar(
        select(StaffInvitation).where(
            StaffInvitation.user_id == user.id,
            StaffInvitation.accepted_at.is_(None),
            StaffInvitation.revoked_at.is_(None),
        )
    )


def invite(
    session: Session,
    vault: Vault,
    actor: User | None,
    *,
    email: str,
    role: Role,
    link: Callable[[str], str],
    channel: str = "web",
) -> tuple[User, StaffInvitation]:
    """Invite `email` as officer or supervisor: the e-mail goes out now.
    An administrator's invitation is held until a second administrator
    approves it (the caller makes the proposal); `send_invitation` sends it
    then. Raises AccountExists for an address already in use."""
    if role not in STAFF_ROLES:
        raise Refused(_("Staff are officers, supervisors or administrators."))
    user = create_user(session, vault, role=role, email=normalise_email(email), display_name="")
    user.is_active = False
    inv = StaffInvitation(user_id=user.id, role=role, invited_by_id=actor.id if actor else user.id)
    session.add(inv)
    session.flush()
    journal(session, actor, "staff_invited", user, channel, role=role.value)
    if role is not Role.ADMINISTRATOR:
        send_invitation(session, vault, inv, link)
    return user, inv


def send_invitation(session: Session, vault: Vault, inv: StaffInvitation, link: Callable[[str], str]) -> str:
    """Issue the invitation's token and e-mail its link; returns the token."""
    token = secrets.token_urlsafe(32)
    inv.token_hash, inv.expires_at = _hash(token), utcnow() + INVITATION_TTL
    user = session.get_one(User, inv.user_id)
    notify(
        session,
        vault,
        key_id=user.data_key_id,
        email=user_email(session, vault, user),
        title=_("You are invited to join the credit subject portal's staff"),
        body=_(
            "You are invited to join the staff of the credit subject portal as %(role)s. Accept within 7 days at: "
            "%(link)s. You will choose a password, and at your first sign-in you will set up two-step sign-in "
            "with an authenticator app.",
            role=role_words()[Role(inv.role)],
            link=link(token),
        ),
    )
    session.flush()
    return token


def role_words() -> dict[Role, str]:
    return {Role.OFFICER: _("officer"), Role.SUPERVISOR: _("supervisor"), Role.ADMINISTRATOR: _("administrator")}


def open_invitation(session: Session, token: str) -> StaffInvitation:
    inv = session.scalar(select(StaffInvitation).where(StaffInvitation.token_hash == _hash(token)))
    if inv is None or inv.accepted_at or inv.revoked_at or inv.expires_at is None or inv.expires_at <= utcnow():
        raise InvitationInvalid
    return inv


def invitation_email(session: Session, vault: Vault, inv: StaffInvitation) -> str:
    return user_email(session, vault, session.get_one(User, inv.user_id))


def accept(session: Session, vault: Vault, inv: StaffInvitation, *, display: str, password: str) -> User:
    """The invitee's name and password; the account opens. Raises
    WeakPassword before anything changes."""
    user = session.get_one(User, inv.user_id, with_for_update=True)
    check_password_policy(password, user_email(session, vault, user))
    vault.cipher(session, user.data_key_id).seal_field(user, "display_name", display.strip())
    user.password_hash, user.password_changed_at = hash_password(password), utcnow()
    user.role, user.is_active = Role(inv.role), True
    inv.accepted_at = utcnow()
    journal(session, user, "invitation_accepted", user, role=Role(inv.role).value)
    return user


def withdraw_invitation(session: Session, actor: User, user: User) -> None:
    inv = pending_invitation(session, user)
    if inv is None:
        raise Refused(_("This invitation was already accepted or withdrawn."))
    inv.revoked_at = utcnow()
    journal(session, actor, "invitation_withdrawn", user)


def _not_self(actor: User | None, user: User) -> None:
    if actor is not None and actor.id == user.id:
        raise Refused(_("Ask another administrator to change your own account."))


def _keeps_an_administrator(session: Session, user: User) -> None:
    if Role(user.role) is Role.ADMINISTRATOR and user.is_active and active_administrators(session) <= 1:
        raise Refused(_("This is the last active administrator: make another one first."))


def change_role(session: Session, actor: User | None, user: User, role: Role, channel: str = "web") -> None:
    """Between officer and supervisor, or an administrator stepping down.
    Making someone an administrator is a proposal, not this."""
    _not_self(actor, user)
    if Role(user.role) not in STAFF_ROLES or role not in STAFF_ROLES:
        raise Refused(_("Only staff roles can be changed here."))
    if role is Role.ADMINISTRATOR:
        raise Refused(_("Making someone an administrator needs a second administrator's approval: propose it."))
    if role is Role(user.role):
        return
    _keeps_an_administrator(session, user)
    before = Role(user.role)
    user.role = role
    inv = pending_invitation(session, user)
    if inv is not None:
        inv.role = role
    sessions.revoke_all(session, user)  # the new role applies from the next sign-in
    journal(session, actor, "role_changed", user, channel, before=before.value, after=role.value)


def grant_administrator(session: Session, vault: Vault, user: User, link: Callable[[str], str]) -> None:
    """Carried out when a proposal is approved: an invitee's held invitation
    goes out; an existing account becomes an active administrator."""
    inv = pending_invitation(session, user)
    if inv is not None and inv.accepted_at is None:
        inv.role = Role.ADMINISTRATOR
        user.role = Role.ADMINISTRATOR
        send_invitation(session, vault, inv, link)
        return
    user.role, user.is_active = Role.ADMINISTRATOR, True
    sessions.revoke_all(session, user)


def deactivate(session: Session, actor: User | None, user: User, channel: str = "web") -> None:
    _not_self(actor, user)
    if not Role(user.role).is_staff:
        raise Refused(_("Only staff accounts are managed here."))
    if not user.is_active:
        return
    _keeps_an_administrator(session, user)
    user.is_active = False
    sessions.revoke_all(session, user)
    journal(session, actor, "staff_deactivated", user, channel)


def reactivate(session: Session, actor: User | None, user: User, channel: str = "web") -> None:
    """Officers and supervisors only; an administrator comes back through a
    proposal, as any new one does."""
    _not_self(actor, user)
    if Role(user.role) not in (Role.OFFICER, Role.SUPERVISOR):
        raise Refused(_("An administrator's account is reactivated by a proposal approved by a second administrator."))
    if user.password_hash is None:
        raise Refused(_("This person has not accepted the invitation yet."))
    if user.is_active:
        return
    user.is_active, user.failed_logins, user.locked_until = True, 0, None
    journal(session, actor, "staff_reactivated", user, channel)


@dataclass(frozen=True)
class StaffRow:
    user: User
    name: str
    email: str
    role: Role
    active: bool
    invited: bool  # an invitation not yet accepted
    held: bool  # ... held for a second administrator's approval
    second_factor: bool
    last_login_at: datetime | None


@dataclass(frozen=True)
class StaffPage:
    rows: list[StaffRow]
    page: int
    pages: int
    total: int


def staff_page(session: Session, vault: Vault, page: int) -> StaffPage:
    """Staff accounts, newest first. Raises LookupError past the last page."""
    where = User.role.in_([r.value for r in STAFF_ROLES])
    total = session.scalar(select(func.count()).where(where)) or 0
    pages = max(1, -(-total // PER_PAGE))
    if page > pages:
        raise LookupError(page)
    users = session.scalars(
        select(User)
        .where(where)
        .order_by(User.created_at.desc(), User.id)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    invitations = {
        i.user_id: i
        for i in session.scalars(
            select(StaffInvitation).where(
                StaffInvitation.user_id.in_([u.id for u in users]),
                StaffInvitation.accepted_at.is_(None),
                StaffInvitation.revoked_at.is_(None),
            )
        )
    }
    rows = [
        StaffRow(
            user=u,
            name=display_name(session, vault, u),
            email=user_email(session, vault, u),
            role=Role(u.role),
            active=u.is_active,
            invited=u.id in invitations,
            held=u.id in invitations and invitations[u.id].token_hash is None,
            second_factor=u.has_second_factor,
            last_login_at=u.last_login_at,
        )
        for u in users
    ]
    return StaffPage(rows, page, pages, total)


def staff_member(session: Session, user_id: uuid.UUID) -> User | None:
    user = session.get(User, user_id)
    return user if user is not None and Role(user.role) in STAFF_ROLES else None
