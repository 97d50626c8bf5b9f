"""Closing an account, and receipts sent as the recipient's keys go.

A person closes their own login: its e-mail address, name and second factor
(sealed under the login's own data key) are crypto-shredded, the password
hash and recovery codes deleted, every session ended, the portal messages
(sealed under that key too) deleted, and the login no longer names the
credit file, so the person can register again later with an activation code
sent to the contact on file. The registry's records about the person stay,
as the law requires, and so does the access log, where the closure is an
event of its own.

A receipt sent at the moment its recipient's keys are destroyed (a closure,
an erasure) cannot be sealed under them: it gets a data key of its own,
remembered as a `ReceiptKey`. Once e-mailed, or after RECEIPT_DAYS, the daily
job destroys that key and deletes the message (`forget_receipts`), so the
address it went to is not kept either. Services flush, never commit."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import ForeignKey, delete, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.accounts import sessions
from portal.accounts.models import RecoveryCode, Role, User
from portal.accounts.services import user_email
from portal.audit.events import record_event
from portal.audit.models import EventKind
from portal.crypto import Vault
from portal.crypto.models import DataKey
from portal.db import Base, utcnow
from portal.i18n import DEFAULT, N_, Refusal
from portal.notifications.models import Message, MessageAttachment
from portal.notifications.services import notify
from portal.records.models import Subject

CLOSED_INDEX = "user.email.closed"  # a closed login's blind index: unique, and matches no address
RECEIPT_DAYS = 30
BATCH = 200


class ReceiptKey(Base):
    """A message sealed under a data key of its own, kept until it was
    e-mailed (or RECEIPT_DAYS), then forgotten with its key."""

    __tablename__ = "receipt_keys"

    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    data_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("data_keys.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class CannotClose(Refusal):
    pass


def can_close(user: User) -> bool:
    """A person's own login, still open. (A firm's representative and its
    agents act for a firm: their logins are ended by the firm, not here.)"""
    return Role(user.role) is Role.PERSON and user.is_active and user.subject_id is not None


def close_account(session: Session, vault: Vault, user: User) -> None:
    """Close `user`'s login as described above; the closure's access event
    and its receipt (to the sign-in address, in the user's language) are
    written first, while they can be. Raises CannotClose."""
    if not can_close(user) or user.subject_id is None:
        raise CannotClose(N_("Only a person's own account can be closed here."))
    subject = session.get_one(Subject, user.subject_id)
    record_event(
        session,
        vault,
        subject,
        EventKind.ACCOUNT_CLOSED,
        channel="web",
        actor_user_id=user.id,
        detail={"role": Role(user.role).value},
    )
    with force_locale(user.locale or DEFAULT):
        send_receipt(
            session,
            vault,
            user_email(session, vault, user),
            _("Your account is closed"),
            _(
                "Your account on the credit subject portal was closed, as you asked. Your sign-in address, name "
                "and two-step sign-in were destroyed, and you were signed out everywhere.\n\n"
                "Your credit file stays with the registry, as the law requires. You can register again at any "
                "time with an activation code sent to the contact address on file.\n\n"
                "If you did not close your account, contact the registry at once."
            ),
        )
    sessions.revoke_all(session, user)
    forget_messages(session, [user.data_key_id])
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    vault.shred(session, user.data_key_id)
    user.is_active = False
    user.email_bidx = vault.blind_index(CLOSED_INDEX, str(user.id))
    user.password_hash = None
    user.subject_id = None  # the file may be registered again
    user.failed_logins, user.locked_until, user.totp_last_step = 0, None, None
    session.flush()


# -- messages whose keys go ------------------------------------------------------------
def send_receipt(session: Session, vault: Vault, email: str, title: str, body: str) -> Message:
    """E-mail `email` a message sealed under a key of its own (see the
    module's note)."""
    cipher = vault.create_key(session)
    message = notify(session, vault, key_id=cipher.key_id, email=email, title=title, body=body)
    session.add(ReceiptKey(message_id=message.id, data_key_id=cipher.key_id, created_at=utcnow()))
    session.flush()
    return message


def forget_messages(session: Session, key_ids: Iterable[uuid.UUID]) -> int:
    """Delete the messages sealed under these keys, which are being
    destroyed: nobody could read them, and one still queued for e-mail
    could never be sent. Returns how many."""
    session.flush()
    ids = session.scalars(select(Message.id).where(Message.data_key_id.in_(list(key_ids)))).all()
    if ids:
        session.execute(delete(MessageAttachment).where(MessageAttachment.message_id.in_(ids)))
        session.execute(delete(ReceiptKey).where(ReceiptKey.message_id.in_(ids)))
        session.execute(delete(Message).where(Message.id.in_(ids)))
    return len(ids)


def forget_receipts(
    session: Session, vault: Vault, days: float = RECEIPT_DAYS, now: datetime | None = None, limit: int = BATCH
) -> int:
    """Forget up to `limit` receipts that were e-mailed, or are older than
    `days`: their keys destroyed, the messages deleted. Then delete up to
    `limit` other messages whose keys were destroyed meanwhile (an erasure
    in the operator console): they can be neither read nor sent. Returns
    how many messages went."""
    before = (now or utcnow()) - timedelta(days=days)
    due = session.execute(
        select(ReceiptKey, Message)
        .join(Message, Message.id == ReceiptKey.message_id)
        .where(or_(Message.emailed_at.is_not(None), ReceiptKey.created_at < before))
        .order_by(ReceiptKey.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=ReceiptKey)
    ).all()
    for receipt, message in due:
        session.delete(receipt)
        session.flush()  # the receipt's row names the key and the message
        vault.shred(session, receipt.data_key_id)
        session.execute(delete(MessageAttachment).where(MessageAttachment.message_id == message.id))
        session.delete(message)
    session.flush()
    unreadable = session.scalars(
        select(Message.data_key_id)
        .join(DataKey, DataKey.id == Message.data_key_id)
        .where(DataKey.destroyed_at.is_not(None))
        .distinct()
        .limit(limit)
    ).all()
    return len(due) + (forget_messages(session, unreadable) if unreadable else 0)
