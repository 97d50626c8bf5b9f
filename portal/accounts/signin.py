"""Signing in with a password, and failed sign-ins (a wrong password,
second-factor code or confirmation).

A hard lock after a few failures lets anyone who knows an e-mail address
lock its owner out, again and again. So for the public (persons, firms'
representatives and agents) failures are counted per account *and* client
address (an IPv6 address counts as its /64): after THROTTLE_AFTER failures
that address must wait, a minute at first and twice as long after each
further failure (at most an hour),
while the owner, from any other address, signs in as usual. The owner is
told by e-mail when an address starts waiting (at most once an hour).

Staff accounts stay strict: THROTTLE_AFTER failures from anywhere lock the
account for STAFF_LOCK, and the owner is told.

Answers never say which case applies: blocked or wrong, the page is the same."""

from __future__ import annotations

import ipaddress
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from flask_babel import force_locale, gettext
from sqlalchemy import CursorResult, Select, case, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from portal.accounts.models import SignInThrottle, User
from portal.accounts.services import MAX_PASSWORD, find_user, password_matches, user_email
from portal.crypto import Vault
from portal.db import utcnow
from portal.i18n import DEFAULT
from portal.notifications.services import notify

THROTTLE_AFTER = 5
FIRST_WAIT, LONGEST_WAIT = timedelta(minutes=1), timedelta(hours=1)
FORGET_AFTER = timedelta(hours=24)  # failures older than this count for nothing
STAFF_LOCK = timedelta(minutes=15)
TELL_AT_MOST_EVERY = timedelta(hours=1)
ADDRESS_INDEX = "sign-in.address"


def authenticate(session: Session, vault: Vault, email: str, password: str, address: str) -> User | None:
    """The user, or None: for an unknown e-mail, a wrong password or an
    address that must wait alike, so the answer reveals nothing. Failures
    are forgiven only when the whole sign-in succeeds (`forgive`), not
    before a second factor is checked."""
    user = find_user(session, vault, email) if len(password) <= MAX_PASSWORD else None
    if user is None or not user.is_active or blocked(session, vault, user, address):
        password_matches(None, password)
        return None
    if not password_matches(user, password):
        register_failure(session, vault, user, address)
        return None
    session.flush()
    return user


def pending_user(session: Session, vault: Vault, user_id: str, address: str) -> User | None:
    """The user a sign-in awaiting its second factor names (by the id the
    signed cookie holds); None when gone, or when its address must wait."""
    user = session.get(User, uuid.UUID(user_id))
    if user is None or not user.is_active or blocked(session, vault, user, address):
        return None
    return user


def _address_index(vault: Vault, address: str) -> bytes:
    """The keyed hash a client address is counted under. One IPv6 host
    usually holds a whole /64 (and can change address within it at will),
    so an IPv6 address counts as its /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return vault.blind_index(ADDRESS_INDEX, address)
    if isinstance(ip, ipaddress.IPv6Address):
        ip4 = ip.ipv4_mapped
        address = str(ip4) if ip4 is not None else str(ipaddress.IPv6Network((ip, 64), strict=False))
    return vault.blind_index(ADDRESS_INDEX, address)


def _of(vault: Vault, user: User, address: str) -> Select[SignInThrottle]:
    return select(SignInThrottle).where(
        SignInThrottle.user_id == user.id, SignInThrottle.address_bidx == _address_index(vault, address)
    )


def _row(session: Session, vault: Vault, user: User, address: str) -> SignInThrottle | None:
    # Counted by UPDATEs (register_failure): read what is stored, not a copy the session holds.
    return session.scalar(_of(vault, user, address).execution_options(populate_existing=True))


def blocked(session: Session, vault: Vault, user: User, address: str) -> bool:
    """Whether sign-ins to `user` from `address` must wait now."""
    now = utcnow()
    if user.role.is_staff:
        return user.locked_until is not None and user.locked_until > now
    row = _row(session, vault, user, address)
    return row is not None and row.blocked_until is not None and row.blocked_until > now


def register_failure(session: Session, vault: Vault, user: User, address: str) -> None:
    """Count a failure of `user` from `address`; the owner is told when it
    starts a wait. Each count is one UPDATE of the stored number, so
    failures sent at once all count (a read, then a write of the read
    number plus one, would let parallel guesses past the limit)."""
    now = utcnow()
    if user.role.is_staff:
        failures = session.execute(
            update(User)
            .where(User.id == user.id)
            .values(failed_logins=User.failed_logins + 1)
            .returning(User.failed_logins)
            .execution_options(synchronize_session=False)
        ).scalar_one()
        set_committed_value(user, "failed_logins", failures)  # what is stored now, not a change to write
        if failures >= THROTTLE_AFTER:
            user.locked_until, user.failed_logins = now + STAFF_LOCK, 0
            _tell_owner(session, vault, user)
        session.flush()
        return
    bidx = _address_index(vault, address)
    if _row(session, vault, user, address) is None:
        try:
            with session.begin_nested():  # two first failures at once: one row
                session.add(SignInThrottle(user_id=user.id, address_bidx=bidx, failures=0))
        except IntegrityError:  # the other one committed it
            pass
    told_lately = _waits_started_since(session, user, now - TELL_AT_MOST_EVERY)
    stale = SignInThrottle.last_failure_at < now - FORGET_AFTER  # old failures count for nothing
    row = SignInThrottle.user_id == user.id, SignInThrottle.address_bidx == bidx
    failures = session.execute(
        update(SignInThrottle)
        .where(*row)
        .values(
            failures=case((stale, 1), else_=SignInThrottle.failures + 1),
            blocked_until=case((stale, None), else_=SignInThrottle.blocked_until),
            last_failure_at=now,
        )
        .returning(SignInThrottle.failures)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    if failures >= THROTTLE_AFTER:
        wait = min(FIRST_WAIT * 2 ** (failures - THROTTLE_AFTER), LONGEST_WAIT)
        session.execute(
            update(SignInThrottle)
            .where(*row)
            .values(blocked_until=now + wait)
            .execution_options(synchronize_session=False)
        )
        if failures == THROTTLE_AFTER and not told_lately:
            _tell_owner(session, vault, user)
    session.flush()


def forgive(session: Session, vault: Vault, user: User, address: str) -> None:
    """A whole sign-in succeeded from `address`: its failures are forgotten."""
    user.failed_logins, user.locked_until = 0, None
    if (row := _row(session, vault, user, address)) is not None:
        session.delete(row)
    session.flush()


def forget_old(session: Session) -> int:
    """Remove the counts of addresses whose last failure is FORGET_AFTER
    old (they count for nothing); returns how many."""
    old = SignInThrottle.last_failure_at < utcnow() - FORGET_AFTER
    # A DELETE's result is a CursorResult, which Session.execute is not typed to return.
    return cast(CursorResult[Any], session.execute(delete(SignInThrottle).where(old))).rowcount


def _waits_started_since(session: Session, user: User, since: datetime) -> bool:
    return (
        session.scalar(
            select(SignInThrottle.id)
            .where(SignInThrottle.user_id == user.id, SignInThrottle.failures >= THROTTLE_AFTER)
            .where(SignInThrottle.last_failure_at >= since)
            .limit(1)
        )
        is not None
    )


def _tell_owner(session: Session, vault: Vault, user: User) -> None:
    with force_locale(user.locale or DEFAULT):  # the owner's language, not the sender's
        title = gettext("Repeated failed sign-ins to your account")
        body = gettext(
            "Someone entered a wrong password or code for your account several times. Further attempts from "
            "their device now have to wait; you can still sign in as usual. If it was not you, nothing is "
            "needed, but choose a long password you use nowhere else. If it was you, wait a minute and try again."
        )
    notify(
        session,
        vault,
        key_id=user.data_key_id,
        user=user,
        email=user_email(session, vault, user),
        title=title,
        body=body,
    )
