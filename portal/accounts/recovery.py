"""Getting back into an account: "forgot my password" by e-mail.

Asking is queued (`ask_for_link`) and answered by the worker (`send_links`),
so the answer is the same, and takes as long, whether or not the address
has an account. The link is single-use, valid RESET_TTL, built on the
PUBLIC_URL setting (never on the Host header a request sent), and only
the SHA-256 of its random token is kept; a newer link replaces older ones.
An account with two-step sign-in needs its code (or a recovery code) too,
so a stolen mailbox alone does not open it; wrong codes count as failed
sign-ins. A reset ends every session, is an access event of the subject
(for a subject's account) and is e-mailed to the owner.

A lost second factor (authenticator and recovery codes gone): whoever
signed in with the password proves their identity again as at
registration, with a code sent to the contact on file of the account's
credit file (`send_second_factor_code`, `turn_off_second_factor`). Staff
have no file: an administrator checks who asks by other means and turns
it off (`portal users reset-second-factor`)."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from datetime import timedelta
from typing import Any, cast

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from portal.accounts import sessions, two_factor
from portal.accounts.models import CodePurpose, PasswordReset, PasswordResetRequest, User
from portal.accounts.registration import codes_since, issue_code, live_code, take_code, use_code
from portal.accounts.services import (
    EMAIL_INDEX,
    check_password_policy,
    normalise_email,
    set_password,
    tell_user,
    user_email,
)
from portal.accounts.signin import blocked, register_failure
from portal.audit.events import record_event
from portal.audit.models import EventKind
from portal.crypto import Vault
from portal.db import utcnow
from portal.i18n import N_, Refusal
from portal.notifications.services import notify
from portal.records.models import Subject

RESET_TTL = timedelta(minutes=30)
SECOND_FACTOR_CODE_TTL = timedelta(minutes=30)
CODES_A_DAY = 3  # codes to the contact on file a subject's account may ask for in a day


class ResetRefused(Refusal):
    """The link is wrong, used or expired, or the second factor is wrong."""


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def ask_for_link(session: Session, vault: Vault, email: str, locale: str) -> None:
    """Queue a request for a reset link: one keyed hash, one INSERT."""
    bidx = vault.blind_index(EMAIL_INDEX, normalise_email(email))
    session.add(PasswordResetRequest(email_bidx=bidx, locale=locale))
    session.flush()


def send_links(session: Session, vault: Vault, public_url: str, limit: int = 100) -> int:
    """Answer queued requests (the worker's job): a link to each active
    account with a password; nothing for an unknown address. Returns how
    many requests were taken. Flushes, never commits."""
    taken = select(PasswordResetRequest).order_by(PasswordResetRequest.requested_at).limit(limit)
    if session.get_bind().dialect.name != "sqlite":
        taken = taken.with_for_update(skip_locked=True)
    requests = session.scalars(taken).all()
    for asked in requests:
        user = session.scalar(select(User).where(User.email_bidx == asked.email_bidx))
        if user is not None and user.is_active and user.password_hash is not None:
            with force_locale(user.locale or asked.locale):
                _send_link(session, vault, user, public_url)
        session.delete(asked)
    session.flush()
    return len(requests)


def _send_link(session: Session, vault: Vault, user: User, public_url: str) -> None:
    now = utcnow()
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)  # a newer link replaces older ones
    )
    token = secrets.token_urlsafe(32)
    session.add(PasswordReset(user_id=user.id, token_hash=_hash(token), expires_at=now + RESET_TTL))
    link = f"{public_url.rstrip('/')}/password/reset/{token}"
    notify(
        session,
        vault,
        key_id=user.data_key_id,
        email=user_email(session, vault, user),
        title=_("Reset your password"),
        body=_(
            "Someone asked to reset the password of your account. To choose a new one, open this link within "
            "30 minutes; it works once: %(link)s. If you did not ask, ignore this message: your password "
            "stays as it is.",
            link=link,
        ),
    )


def valid_link(session: Session, token: str) -> tuple[PasswordReset, User] | None:
    """The live reset behind a link, and its user; None when the link is
    unknown, used or expired, or the account is closed."""
    reset = session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _hash(token)))
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return None
    user = session.get(User, reset.user_id)
    if user is None or not user.is_active:
        return None
    return reset, user


def reset_password(session: Session, vault: Vault, token: str, password: str, code: str | None, address: str) -> User:
    """Set a new password through a live link (and the second factor, when
    the account has one: a code of the authenticator, a recovery code, or,
    when those are lost, the code sent to the contact on file, which also
    turns the second factor off); ends every session and tells the owner. Raises
    ResetRefused or WeakPassword, having written nothing but a failure's
    count."""
    found = valid_link(session, token)
    if found is None:
        raise ResetRefused(N_("This link is wrong, used or expired. Ask for a new one."))
    reset, user = found
    email = user_email(session, vault, user)
    check_password_policy(password, email)
    if blocked(session, vault, user, address):  # too many wrong codes: the link waits like a sign-in
        raise ResetRefused(N_("Too many wrong codes: wait a few minutes and try again."))
    lost_factor = False  # the code was the one sent to the contact on file
    if user.has_second_factor:
        code = "".join((code or "").split())
        if not (
            code
            and (
                two_factor.verify(session, vault, user, code)
                or two_factor.use_recovery_code(session, vault, user, code)
            )
        ):
            live = (
                take_code(session, vault, user.subject_id, code, CodePurpose.SECOND_FACTOR)
                if code and contact_proves_more(session, vault, user)
                else None
            )
            if live is None or live.role is not user.role or not use_code(session, live):
                register_failure(session, vault, user, address)
                raise ResetRefused(N_("This code is not valid. Codes change every 30 seconds."))
            lost_factor = True
    # Used once, even by two requests at once: only one of them marks it.
    taken = session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], taken).rowcount != 1:
        raise ResetRefused(N_("This link is wrong, used or expired. Ask for a new one."))
    set_password(session, user, password)
    sessions.revoke_all(session, user)
    if lost_factor:
        _second_factor_off(session, vault, user)
    account_event(session, vault, user, EventKind.ACCOUNT_RECOVERED)
    # The owner's saved language, else the page's: whoever holds the link reads it.
    with force_locale(user.locale) if user.locale else contextlib.nullcontext():
        notify(
            session,
            vault,
            key_id=user.data_key_id,
            user=user,
            email=email,
            title=_("Your password was reset"),
            body=_(
                "The password of your account was reset through a link sent to this address, and every device "
                "was signed out. If this was not you, contact us at once."
            )
            + (
                "\n\n"
                + _(
                    "Two-step sign-in was turned off too, with a code sent to the contact on file of your "
                    "credit file. Set it up again from your account page."
                )
                if lost_factor
                else ""
            ),
        )
    session.flush()
    return user


# -- a lost second factor ------------------------------------------------------------
def second_factor_contact(session: Session, vault: Vault, user: User) -> tuple[Subject, str] | None:
    """The credit file of the account and its contact on file, where a code
    can prove who asks; None for staff, or a file without a contact."""
    if user.subject_id is None:
        return None
    subject = session.get_one(Subject, user.subject_id)
    if subject.shredded_at is not None or subject.contact_email_ct is None:
        return None
    contact = vault.cipher(session, subject.data_key_id).open_field(subject, "contact_email")
    return (subject, contact) if contact else None


def contact_proves_more(session: Session, vault: Vault, user: User) -> bool:
    """Whether a code to the contact on file proves more than a reset link
    does: not when the contact is the sign-in address itself (one mailbox
    would then stand for both), nor without a contact."""
    found = second_factor_contact(session, vault, user) if user.has_second_factor else None
    return found is not None and normalise_email(found[1]) != normalise_email(user_email(session, vault, user))


def send_second_factor_code(session: Session, vault: Vault, user: User) -> bool:
    """Send a code that turns off the user's second factor to the contact on
    file (the user has just given the password); False when there is no
    contact to send it to."""
    found = second_factor_contact(session, vault, user)
    if found is None or not user.has_second_factor:
        return False
    subject, contact = found
    if live_code(session, subject.id, CodePurpose.SECOND_FACTOR) is not None:
        return True  # the one sent still works: no new mail, and the owner's is not cancelled
    if codes_since(session, subject.id, CodePurpose.SECOND_FACTOR, utcnow() - timedelta(days=1)) >= CODES_A_DAY:
        raise ResetRefused(N_("Too many codes were asked for today. Try again tomorrow, or ask us for help."))
    code = issue_code(session, vault, subject, user.role, CodePurpose.SECOND_FACTOR, SECOND_FACTOR_CODE_TTL)
    with force_locale(user.locale) if user.locale else contextlib.nullcontext():
        notify(
            session,
            vault,
            key_id=subject.data_key_id,
            email=contact,
            title=_("Your code to turn off two-step sign-in"),
            body=_(
                "Someone who knows the password of the account for this credit file asked to turn off its "
                "two-step sign-in, as the authenticator was lost. The code is %(code)s, valid for 30 minutes. "
                "If this was not you, do not share the code, and change your password at once.",
                code=code,
            ),
        )
    session.flush()
    return True


def _second_factor_off(session: Session, vault: Vault, user: User) -> None:
    """Turn off a lost second factor, proven by a code to the contact on file:
    an access event of the account's file."""
    two_factor.disable(session, vault, user)
    account_event(session, vault, user, EventKind.SECOND_FACTOR_RESET)


def account_event(session: Session, vault: Vault, user: User, kind: EventKind, channel: str = "web") -> None:
    """A recovery of a subject's account is an access event of its file
    (staff have no file); `channel` "staff" when an administrator did it."""
    if user.subject_id is not None:
        record_event(
            session,
            vault,
            session.get_one(Subject, user.subject_id),
            kind,
            channel=channel,
            actor_user_id=user.id,
            detail={"role": user.role.value},
        )


def turn_off_second_factor(session: Session, vault: Vault, user: User, code: str, address: str) -> None:
    """Turn off the user's second factor with the code sent to the contact on
    file: every session ends, it is an access event of the file, and the
    owner is told. Raises ResetRefused, having written only the failure's
    count (wrong codes count as failed sign-ins)."""
    if blocked(session, vault, user, address):
        raise ResetRefused(N_("Too many wrong codes: wait a few minutes and try again."))
    live = take_code(session, vault, user.subject_id, code, CodePurpose.SECOND_FACTOR)
    if live is None or live.role is not user.role or not use_code(session, live):
        register_failure(session, vault, user, address)
        raise ResetRefused(N_("The code is wrong, used up or expired. Check it, or ask for a new one."))
    sessions.revoke_all(session, user)
    _second_factor_off(session, vault, user)
    with force_locale(user.locale) if user.locale else contextlib.nullcontext():
        tell_user(
            session,
            vault,
            user,
            _("Two-step sign-in was turned off"),
            _(
                "Two-step sign-in of your account was turned off with a code sent to the contact on file of "
                "your credit file, and every other device was signed out. Set it up again from your account "
                "page. If this was not you, contact us at once."
            ),
        )
    session.flush()
