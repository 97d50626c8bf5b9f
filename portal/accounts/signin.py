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

import hashlib
import hmac
import ipaddress
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from flask_babel import force_locale, gettext
from sqlalchemy import ColumnElement, CursorResult, case, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from portal.accounts.models import SignInThrottle, User
from portal.accounts.services import EMAIL_INDEX, MAX_PASSWORD, normalise_email, password_matches, tell_user
from portal.crypto import Vault
from portal.db import utcnow
from portal.i18n import DEFAULT

THROTTLE_AFTER = 5
FIRST_WAIT, LONGEST_WAIT = timedelta(minutes=1), timedelta(hours=1)
FORGET_AFTER = timedelta(hours=24)  # failures older than this count for nothing
STAFF_LOCK = timedelta(minutes=15)
TELL_AT_MOST_EVERY = timedelta(hours=1)
ADDRESS_INDEX = "sign-in.address"


def authenticate(session: Session, vault: Vault, email: str, password: str, address: str) -> User | None:
    """The user, or None: for an unknown e-mail, a wrong password or an
    address that must wait alike, so the answer reveals nothing. A wrong
    password and an unknown e-mail run the same statements (the failure is
    counted under the e-mail's keyed hash either way), so the time of the
    answer does not tell whether the address has an account. Failures are
    forgiven only when the whole sign-in succeeds (`forgive`), not before a
    second factor is checked."""
    if len(password) > MAX_PASSWORD:
        password_matches(None, password)
        return None
    email_bidx = vault.blind_index(EMAIL_INDEX, normalise_email(email))
    user = session.scalar(select(User).where(User.email_bidx == email_bidx))
    if user is not None and not user.is_active:
        user = None  # a closed account answers as no account
    if _waits(session, vault, email_bidx, address) or (user is not None and _staff_locked(user)):
        password_matches(None, password)
        return None
    if user is None:
        password_matches(None, password)
        _count_failure(session, vault, email_bidx, address, owner=None)
        return None
    if not password_matches(user, password):
        register_failure(session, vault, user, address)
        return None
    session.flush()
    return user


def password_stamp(user: User) -> str:
    """A short digest of the user's password hash: a sign-in awaiting its
    second factor carries it, so a password changed since ends it."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:32]


def pending_user(session: Session, vault: Vault, user_id: str, stamp: str, address: str) -> User | None:
    """The user a sign-in awaiting its second factor names (by the id the
    signed cookie holds); None when gone, when the password changed since
    it was given, or when its address must wait."""
    user = session.get(User, uuid.UUID(user_id))
    if user is None or not user.is_active or not hmac.compare_digest(stamp, password_stamp(user)):
        return None
    if blocked(session, vault, user, address):
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


def _of(vault: Vault, email_bidx: bytes, address: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return SignInThrottle.email_bidx == email_bidx, SignInThrottle.address_bidx == _address_index(vault, address)


def _waits(session: Session, vault: Vault, email_bidx: bytes, address: str) -> bool:
    until = session.scalar(select(SignInThrottle.blocked_until).where(*_of(vault, email_bidx, address)))
    return until is not None and until > utcnow()


def _staff_locked(user: User) -> bool:
    return user.role.is_staff and user.locked_until is not None and user.locked_until > utcnow()


def blocked(session: Session, vault: Vault, user: User, address: str) -> bool:
    """Whether sign-ins to `user` from `address` must wait now."""
    return _staff_locked(user) or _waits(session, vault, user.email_bidx, address)


def register_failure(session: Session, vault: Vault, user: User, address: str) -> None:
    """Count a failure of `user` from `address`; the owner is told when it
    starts a wait. Staff accounts also lock, from everywhere, after
    THROTTLE_AFTER failures. Each count is one UPDATE of the stored number,
    so failures sent at once all count (a read, then a write of the read
    number plus one, would let parallel guesses past the limit)."""
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
            user.locked_until, user.failed_logins = utcnow() + STAFF_LOCK, 0
            _tell_owner(session, vault, user)
    _count_failure(session, vault, user.email_bidx, address, owner=None if user.role.is_staff else user)


def _count_failure(session: Session, vault: Vault, email_bidx: bytes, address: str, owner: User | None) -> None:
    """Count a failure under (e-mail, address), whether or not the e-mail
    has an account (the same statements); `owner` is told when a wait
    starts."""
    now = utcnow()
    row = _of(vault, email_bidx, address)
    if session.scalar(select(SignInThrottle.id).where(*row)) is None:
        try:
            with session.begin_nested():  # two first failures at once: one row
                session.add(
                    SignInThrottle(email_bidx=email_bidx, address_bidx=_address_index(vault, address), failures=0)
                )
        except IntegrityError:  # the other one committed it
            pass
    told_lately = _waits_started_since(session, email_bidx, now - TELL_AT_MOST_EVERY)
    stale = SignInThrottle.last_failure_at < now - FORGET_AFTER  # old failures count for nothing
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
        if failures == THROTTLE_AFTER and not told_lately and owner is not None:
            _tell_owner(session, vault, owner)
    session.flush()


def forgive(session: Session, vault: Vault, user: User, address: str) -> None:
    """A whole sign-in succeeded from `address`: its failures are forgotten."""
    user.failed_logins, user.locked_until = 0, None
    session.execute(
        delete(SignInThrottle).where(*_of(vault, user.email_bidx, address)).execution_options(synchronize_session=False)
    )
    session.flush()


def forget_old(session: Session) -> int:
    """Remove the counts of addresses whose last failure is FORGET_AFTER
    old (they count for nothing); returns how many."""
    old = SignInThrottle.last_failure_at < utcnow() - FORGET_AFTER
    # A DELETE's result is a CursorResult, which Session.execute is not typed to return.
    return cast(CursorResult[Any], session.execute(delete(SignInThrottle).where(old))).rowcount


def _waits_started_since(session: Session, email_bidx: bytes, since: datetime) -> bool:
    return (
        session.scalar(
            select(SignInThrottle.id)
            .where(SignInThrottle.email_bidx == email_bidx, SignInThrottle.failures >= THROTTLE_AFTER)
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
    tell_user(session, vault, user, title, body)
