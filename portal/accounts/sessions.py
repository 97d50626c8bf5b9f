"""Signed-in sessions, kept server-side so that a sign-in gets a new id,
idle and absolute timeouts hold, and "sign out everywhere" works."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from flask_login import UserMixin
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from portal.accounts.models import AuthSession, User
from portal.db import utcnow
from portal.notifications.services import unread_count_of

TOUCH_EVERY = timedelta(seconds=60)  # write last_seen_at at most this often


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass
class Principal(UserMixin):
    """The signed-in user as Flask-Login sees them. `get_id()` is the
    session token, so revoking the session row signs the browser out."""

    user: User
    auth: AuthSession
    token: str
    # The unread messages when the request began (the menu shows them),
    # read in the statement that loads the session; None: not read yet.
    unread_messages: int | None = None

    def get_id(self) -> str:
        return self.token

    @property
    def id(self):
        return self.user.id

    @property
    def role(self):
        return self.user.role

    def is_fresh_within(self, window: timedelta) -> bool:
        at = self.auth.reauthenticated_at or self.auth.created_at
        return utcnow() - at <= window


def start(session: Session, user: User) -> Principal:
    token = secrets.token_urlsafe(32)
    auth = AuthSession(token_hash=_hash(token), user_id=user.id, created_at=utcnow(), last_seen_at=utcnow())
    session.add(auth)
    user.last_login_at = utcnow()
    session.flush()
    return Principal(user, auth, token)


def load(session: Session, token: str, idle: timedelta, absolute: timedelta) -> Principal | None:
    # The session, its user and the unread count in one round trip: every
    # signed-in request asks.
    row = session.execute(
        select(AuthSession, User, unread_count_of(User.id))
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.token_hash == _hash(token))
    ).first()
    if row is None:
        return None
    auth, user, unread = row
    if auth.revoked_at is not None:
        return None
    now = utcnow()
    if now - auth.last_seen_at > idle or now - auth.created_at > absolute:
        auth.revoked_at = now
        session.flush()
        return None
    if not user.is_active:
        return None
    if now - auth.last_seen_at > TOUCH_EVERY:
        auth.last_seen_at = now
        session.flush()
    return Principal(user, auth, token, unread)


def revoke(session: Session, auth: AuthSession) -> None:
    auth.revoked_at = utcnow()
    session.flush()


def revoke_all(session: Session, user: User, keep: AuthSession | None = None) -> int:
    stmt = update(AuthSession).where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
    if keep is not None:
        stmt = stmt.where(AuthSession.id != keep.id)
    # An UPDATE's result is a CursorResult, which Session.execute is not typed to return.
    result = cast(
        CursorResult[Any],
        session.execute(stmt.values(revoked_at=utcnow()), execution_options={"synchronize_session": False}),
    )
    return result.rowcount


def mark_reauthenticated(session: Session, auth: AuthSession) -> None:
    auth.reauthenticated_at = utcnow()
    session.flush()


def active_sessions(session: Session, user: User) -> list[AuthSession]:
    return list(
        session.scalars(
            select(AuthSession)
            .where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
            .order_by(AuthSession.created_at.desc())
        )
    )
